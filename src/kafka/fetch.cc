// Fetch v4-11: each partition's events from fetch_offset become one uncompressed record batch.
// Without min_bytes of data the request is parked (Broker::Park) until an append arrives or
// max_wait_ms (capped by KafkaOptions::max_fetch_wait) passes, then answered with what there
// is; an empty record set is 0 bytes. No fetch sessions (session_id 0), no transactions
// (last_stable_offset = high-water mark), preferred_read_replica -1.
#include <algorithm>
#include <chrono>
#include <memory>

#include "kafka/handlers.h"
#include "kafka/mapping.h"
#include "kafka/record_batch.h"

namespace cairn::kafka {
namespace {

struct PartitionFetch {
  int32_t partition = 0;
  int64_t offset = 0;
  int32_t max_bytes = 0;
};

struct TopicFetch {
  std::string name;
  std::vector<PartitionFetch> partitions;
};

struct FetchRequest {
  int16_t version = 0;
  int32_t max_wait_ms = 0;
  int32_t min_bytes = 0;
  int32_t max_bytes = 0;
  std::vector<TopicFetch> topics;
};

bool ParseFetch(const Request& req, FetchRequest* f) {
  WireReader r(req.body);
  f->version = req.api_version;
  r.Int32();  // replica_id
  f->max_wait_ms = r.Int32();
  f->min_bytes = r.Int32();
  f->max_bytes = r.Int32();
  r.Int8();  // isolation_level
  if (f->version >= 7) {
    r.Int32();  // session_id
    r.Int32();  // session_epoch
  }
  const int32_t topics = r.ArrayLength(6).value_or(0);
  for (int32_t t = 0; r.ok() && t < topics; ++t) {
    TopicFetch& topic = f->topics.emplace_back();
    topic.name = r.String();
    const int32_t n = r.ArrayLength(16).value_or(0);
    for (int32_t p = 0; r.ok() && p < n; ++p) {
      PartitionFetch& part = topic.partitions.emplace_back();
      part.partition = r.Int32();
      if (f->version >= 9) r.Int32();  // current_leader_epoch
      part.offset = r.Int64();
      if (f->version >= 5) r.Int64();  // log_start_offset (a follower's)
      part.max_bytes = r.Int32();
    }
  }
  if (f->version >= 7) {  // forgotten_topics_data: only for sessions, which Cairn does not keep
    const int32_t forgotten = r.ArrayLength(6).value_or(0);
    for (int32_t t = 0; r.ok() && t < forgotten; ++t) {
      r.String();
      const int32_t n = r.ArrayLength(4).value_or(0);
      for (int32_t p = 0; r.ok() && p < n; ++p) r.Int32();
    }
  }
  if (f->version >= 11) r.String();  // rack_id
  return r.ok();
}

// Appends the partition's events from `from` to `out` as one batch, about `max_bytes` at most
// (at least one event when there is one, as Kafka does, so a large event cannot stall a
// consumer). Appends nothing when there is no event.
Status AppendBatch(const Log& log, const std::string& topic, PartitionId partition, Offset from,
                   size_t max_bytes, std::string* out) {
  const size_t start = out->size();
  RecordBatchWriter batch(out, int64_t(from.value()));
  Status s = log.ScanPartition(topic, partition, from, Offset(UINT64_MAX), [&](const EventView& e) {
    AddEventRecord(e, batch);
    return out->size() - start < max_bytes;
  });
  if (batch.records() == 0) {
    out->resize(start);
  } else {
    batch.Finish();
  }
  return s;
}

// What the response may grow to, so it is allocated once rather than regrown per partition:
// the partitions' limits within the request's, capped so a greedy request costs no more than
// 64 MiB up front (a response past that regrows).
size_t ReserveBytes(const FetchRequest& f, size_t budget) {
  size_t records = 0;
  for (const TopicFetch& t : f.topics) {
    for (const PartitionFetch& p : t.partitions) records += size_t(std::max(p.max_bytes, 1));
  }
  return std::min({records, budget, size_t(64) << 20}) + 4096;
}

// Record bytes in one response at most, whatever the client allows (Kafka brokers may answer
// less than a fetch's max bytes; clients fetch again): the client starts on a response while
// the next is built, rather than both sides taking turns on large ones.
constexpr size_t kMaxResponseBytes = 1 << 20;

// Builds the whole response; *data_bytes counts the record bytes in it.
std::string BuildResponse(const Log& log, const FetchRequest& f, size_t* data_bytes) {
  ResponseWriter w;
  w.Int32(0);  // throttle_time_ms
  if (f.version >= 7) {
    w.Int16(0);  // error_code
    w.Int32(0);  // session_id
  }
  size_t budget = std::min(f.max_bytes > 0 ? size_t(f.max_bytes) : SIZE_MAX, kMaxResponseBytes);
  w.str().reserve(ReserveBytes(f, budget));
  w.ArrayLength(f.topics.size());
  for (const TopicFetch& t : f.topics) {
    Result<TopicInfo> info = log.GetTopic(t.name);
    w.String(t.name);
    w.ArrayLength(t.partitions.size());
    for (const PartitionFetch& p : t.partitions) {
      const bool known = info.ok() && p.partition >= 0 && uint32_t(p.partition) < info->partitions;
      const PartitionId id(uint32_t(std::max(p.partition, 0)));
      const int64_t hwm = known ? int64_t(log.HighWaterMark(t.name, id).value()) : -1;
      KafkaError error = known ? KafkaError::kNone : KafkaError::kUnknownTopicOrPartition;
      if (known && (p.offset < 0 || p.offset > hwm)) error = KafkaError::kOffsetOutOfRange;
      w.Int32(p.partition);
      const size_t error_at = w.size();
      w.Int16(int16_t(error));
      w.Int64(hwm);
      w.Int64(hwm);  // last_stable_offset
      if (f.version >= 5) w.Int64(known ? 0 : -1);  // log_start_offset
      w.ArrayLength(0);                             // aborted_transactions
      if (f.version >= 11) w.Int32(-1);             // preferred_read_replica
      const size_t length_at = w.size();
      w.Int32(0);  // the records' length, patched below
      if (error == KafkaError::kNone && p.offset < hwm && budget > 0) {
        Status s = AppendBatch(log, t.name, id, Offset(uint64_t(p.offset)),
                               std::min(budget, size_t(std::max(p.max_bytes, 1))), &w.str());
        if (!s.ok()) {
          w.str().resize(length_at + 4);
          w.PatchInt16(error_at, int16_t(ErrorFor(s)));
        }
      }
      const size_t records = w.size() - length_at - 4;
      w.PatchInt32(length_at, int32_t(records));
      budget -= std::min(budget, records);
      *data_bytes += records;
    }
  }
  return w.Take();
}

}  // namespace

bool HandleFetch(Broker& broker, const Request& req, const Reply& reply) {
  auto f = std::make_shared<FetchRequest>();
  if (!ParseFetch(req, f.get())) return false;
  size_t data_bytes = 0;
  std::string body = BuildResponse(broker.log(), *f, &data_bytes);
  const auto wait = std::min(std::chrono::milliseconds(std::max(f->max_wait_ms, 0)),
                             broker.options().max_fetch_wait);
  if (data_bytes >= size_t(std::max(f->min_bytes, 1)) || wait.count() == 0) {
    broker.Complete(reply, std::move(body));
    return true;
  }
  broker.Park(reply, std::chrono::steady_clock::now() + wait, [&broker, f, reply](bool expired) {
    size_t bytes = 0;
    std::string again = BuildResponse(broker.log(), *f, &bytes);
    if (!expired && bytes < size_t(std::max(f->min_bytes, 1))) return false;
    broker.Complete(reply, std::move(again));
    return true;
  });
  return true;
}

}  // namespace cairn::kafka
