// See readiness.h.
#include "http/readiness.h"

namespace cairn::http {

Readiness::Readiness(ReadinessOptions options, Clock clock)
    : options_(options),
      clock_(clock ? std::move(clock) : Clock([] { return std::chrono::steady_clock::now(); })) {}

ReadinessVerdict Readiness::Observe(const std::vector<ProjectionStatus>& statuses,
                                    const std::optional<std::string>& log_unwritable) {
  ReadinessVerdict verdict;
  if (log_unwritable) verdict.reasons.push_back("the log is read-only: " + *log_unwritable);
  const auto now = clock_();
  std::lock_guard lock(mu_);
  for (const ProjectionStatus& s : statuses) {
    if (std::optional<std::string> reason = Judge(s, now)) verdict.reasons.push_back(*reason);
  }
  verdict.ready = verdict.reasons.empty();
  return verdict;
}

std::optional<std::string> Readiness::Judge(const ProjectionStatus& s,
                                            std::chrono::steady_clock::time_point now) {
  const std::string name = "projection " + s.name;
  if (s.state == ProjectionState::kFailed) {
    standstills_.erase(s.name);
    return name + " failed" +
           (s.failed_at ? " at " + s.failed_at->ToString() : std::string()) +
           " (GET /api/admin/projections has the error)";
  }
  // A standstill starts at the first observation with events waiting at an unchanged
  // checkpoint, and ends when the checkpoint moves or nothing waits.
  auto it = standstills_.find(s.name);
  if (it == standstills_.end() || it->second.lag_events == 0 || s.lag_events == 0 ||
      it->second.checkpoint != s.checkpoint) {
    it = standstills_.insert_or_assign(s.name, Standstill{s.checkpoint, now, s.lag_events}).first;
  }
  it->second.lag_events = s.lag_events;
  if (s.lag_events > 0 && now - it->second.since >= options_.stall_after) {
    const auto tenths =
        std::chrono::duration_cast<std::chrono::milliseconds>(now - it->second.since).count() / 100;
    return name + " is stalled: " + std::to_string(s.lag_events) + " events waiting, checkpoint " +
           std::to_string(s.checkpoint.value()) + " unchanged for " + std::to_string(tenths / 10) +
           "." + std::to_string(tenths % 10) + " s";
  }
  if (options_.max_lag_events > 0 && s.lag_events > options_.max_lag_events) {
    return name + " is " + std::to_string(s.lag_events) + " events behind the log (the bound is " +
           std::to_string(options_.max_lag_events) + ")";
  }
  return std::nullopt;
}

}  // namespace cairn::http
