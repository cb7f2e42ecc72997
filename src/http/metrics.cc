// See metrics.h. Format: https://prometheus.io/docs/instrumenting/exposition_formats/
#include "http/metrics.h"

#include <fmt/format.h>

namespace cairn::http {

void Metrics::RecordRequest(const std::string& route, const std::string& method, int status,
                            std::chrono::microseconds latency) {
  const double seconds = double(latency.count()) / 1e6;
  std::lock_guard lock(mu_);
  Histogram& h = requests_[Key(route, method, status)];
  ++h.count;
  h.sum_seconds += seconds;
  for (size_t i = 0; i < kBucketsSeconds.size(); ++i) {
    if (seconds <= kBucketsSeconds[i]) {
      ++h.buckets[i];
      break;
    }
  }
}

namespace {

void Header(std::string& out, std::string_view name, std::string_view type, std::string_view help) {
  out += fmt::format("# HELP {} {}\n# TYPE {} {}\n", name, help, name, type);
}

// A metric without labels: its header and its one sample.
void Single(std::string& out, std::string_view name, std::string_view type, std::string_view help,
            uint64_t value) {
  Header(out, name, type, help);
  out += fmt::format("{} {}\n", name, value);
}

void RenderLog(std::string& out, const Log& log) {
  const Log::Stats stats = log.GetStats();
  Single(out, "cairn_log_appends_total", "counter",
         "Appends committed (not counting idempotent repeats).", stats.appends);
  Single(out, "cairn_log_events_total", "counter", "Events written to the log.", stats.events);
  Single(out, "cairn_log_duplicate_appends_total", "counter",
         "Appends answered as idempotent repeats.", stats.duplicates);
  Single(out, "cairn_log_conflicts_total", "counter",
         "Appends refused for their expected version.", stats.conflicts);
  Single(out, "cairn_log_group_commits_total", "counter",
         "WriteBatches written by the group-commit writer; appends_total / group_commits_total is "
         "the mean group size.",
         stats.groups);
  Single(out, "cairn_log_fsyncs_total", "counter", "WAL fsyncs made for appends.", stats.fsyncs);
  Single(out, "cairn_log_last_seq", "gauge", "Global sequence number of the last committed event.",
         log.LastSeq().value());
}

void RenderProjections(std::string& out, const Engine& engine) {
  const std::vector<ProjectionStatus> projections = engine.Statuses();
  Header(out, "cairn_projection_lag_events", "gauge", "Events of a partition not yet applied.");
  for (const auto& p : projections) {
    for (const auto& part : p.partitions) {
      out += fmt::format("cairn_projection_lag_events{{projection=\"{}\",topic=\"{}\",partition=\"{}\"}} {}\n",
                         p.name, part.topic, part.partition.value(), part.lag_events);
    }
  }
  Header(out, "cairn_projection_last_applied_age_seconds", "gauge",
         "Age of the last applied event of a partition.");
  for (const auto& p : projections) {
    for (const auto& part : p.partitions) {
      if (!part.last_applied_age) continue;
      out += fmt::format(
          "cairn_projection_last_applied_age_seconds{{projection=\"{}\",topic=\"{}\",partition=\"{}\"}} {:.6f}\n",
          p.name, part.topic, part.partition.value(), double(part.last_applied_age->count()) / 1e6);
    }
  }
  Header(out, "cairn_projection_checkpoint_seq", "gauge", "Last seq a projection applied.");
  for (const auto& p : projections) {
    out += fmt::format("cairn_projection_checkpoint_seq{{projection=\"{}\",state=\"{}\",generation=\"{}\"}} {}\n",
                       p.name, ProjectionStateName(p.state), p.generation, p.checkpoint.value());
  }
}

}  // namespace

void RenderConsumerGroups(std::string& out, const Log& log,
                          const std::vector<Services::ConsumerGroupOffset>& groups) {
  if (groups.empty()) return;
  Header(out, "cairn_consumer_group_lag_events", "gauge",
         "Events of a partition after a consumer group's committed offset (Kafka listener).");
  for (const auto& g : groups) {
    const int64_t end = int64_t(log.HighWaterMark(g.topic, PartitionId(g.partition)).value());
    out += fmt::format("cairn_consumer_group_lag_events{{group=\"{}\",topic=\"{}\",partition=\"{}\"}} {}\n",
                       g.group, g.topic, g.partition, std::max<int64_t>(0, end - std::max<int64_t>(g.committed, 0)));
  }
}

std::string Metrics::Render(const Log& log, const Engine& engine,
                            const std::vector<Services::ConsumerGroupOffset>& groups) const {
  std::string out;
  RenderLog(out, log);
  RenderProjections(out, engine);
  RenderConsumerGroups(out, log, groups);
  Header(out, "cairn_stream_subscribers", "gauge", "Open GET /api/stream connections.");
  out += fmt::format("cairn_stream_subscribers {}\n", stream_subscribers_.load());
  RenderRequests(out);
  return out;
}

void Metrics::RenderRequests(std::string& out) const {
  Header(out, "cairn_http_requests_total", "counter", "HTTP requests by route, method and status.");
  std::lock_guard lock(mu_);
  for (const auto& [key, h] : requests_) {
    const auto& [route, method, status] = key;
    out += fmt::format("cairn_http_requests_total{{route=\"{}\",method=\"{}\",status=\"{}\"}} {}\n",
                       route, method, status, h.count);
  }
  Header(out, "cairn_http_request_duration_seconds", "histogram", "HTTP request latency.");
  for (const auto& [key, h] : requests_) {
    const auto& [route, method, status] = key;
    const std::string labels = fmt::format("route=\"{}\",method=\"{}\",status=\"{}\"", route, method, status);
    uint64_t cumulative = 0;
    for (size_t i = 0; i < kBucketsSeconds.size(); ++i) {
      cumulative += h.buckets[i];
      out += fmt::format("cairn_http_request_duration_seconds_bucket{{{},le=\"{}\"}} {}\n", labels,
                         kBucketsSeconds[i], cumulative);
    }
    out += fmt::format("cairn_http_request_duration_seconds_bucket{{{},le=\"+Inf\"}} {}\n", labels, h.count);
    out += fmt::format("cairn_http_request_duration_seconds_sum{{{}}} {:.6f}\n", labels, h.sum_seconds);
    out += fmt::format("cairn_http_request_duration_seconds_count{{{}}} {}\n", labels, h.count);
  }
}

}  // namespace cairn::http
