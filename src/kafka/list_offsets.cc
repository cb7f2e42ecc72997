// ListOffsets v1-3: a partition's earliest (timestamp -2) or latest (-1, the high-water mark)
// offset, or the first offset whose event time is at or after a timestamp (ms). Cairn keeps
// every event, so the earliest offset is always 0.
#include "kafka/handlers.h"

namespace cairn::kafka {
namespace {

constexpr int64_t kLatest = -1;
constexpr int64_t kEarliest = -2;

struct OffsetAnswer {
  int32_t partition = 0;
  KafkaError error = KafkaError::kNone;
  int64_t timestamp = -1;
  int64_t offset = -1;
};

// The first event at or after `timestamp_ms` (the high-water mark when none is): a scan, since
// event times need not grow with offsets.
OffsetAnswer FindByTime(const Log& log, const std::string& topic, int32_t partition, int64_t timestamp_ms) {
  OffsetAnswer a{partition};
  const Offset end = log.HighWaterMark(topic, PartitionId(uint32_t(partition)));
  a.offset = int64_t(end.value());
  Status s = log.ScanPartition(topic, PartitionId(uint32_t(partition)), Offset(0), end,
                               [&](const EventView& e) {
                                 if (e.timestamp_us() / 1000 < timestamp_ms) return true;
                                 a.offset = int64_t(e.offset().value());
                                 a.timestamp = e.timestamp_us() / 1000;
                                 return false;
                               });
  if (!s.ok()) a.error = ErrorFor(s);
  return a;
}

OffsetAnswer Answer(const Log& log, const std::string& topic, uint32_t partitions, int32_t partition,
                    int64_t timestamp) {
  if (partition < 0 || uint32_t(partition) >= partitions) {
    return {partition, KafkaError::kUnknownTopicOrPartition};
  }
  if (timestamp == kEarliest) return {partition, KafkaError::kNone, -1, 0};
  if (timestamp == kLatest) {
    return {partition, KafkaError::kNone, -1,
            int64_t(log.HighWaterMark(topic, PartitionId(uint32_t(partition))).value())};
  }
  return FindByTime(log, topic, partition, timestamp);
}

}  // namespace

bool HandleListOffsets(Broker& broker, const Request& req, const Reply& reply) {
  WireReader r(req.body);
  r.Int32();                                // replica_id
  if (req.api_version >= 2) r.Int8();       // isolation_level: Cairn has no transactions
  const std::optional<int32_t> topics = r.ArrayLength(2);
  ResponseWriter w;
  if (req.api_version >= 2) w.Int32(0);  // throttle_time_ms
  w.ArrayLength(size_t(topics.value_or(0)));
  for (int32_t t = 0; r.ok() && t < topics.value_or(0); ++t) {
    const std::string name = r.String();
    Result<TopicInfo> topic = broker.log().GetTopic(name);
    const uint32_t partitions = topic.ok() ? topic->partitions : 0;
    const std::optional<int32_t> n = r.ArrayLength(12);
    w.String(name);
    w.ArrayLength(size_t(n.value_or(0)));
    for (int32_t p = 0; r.ok() && p < n.value_or(0); ++p) {
      const int32_t partition = r.Int32();
      const int64_t timestamp = r.Int64();
      const OffsetAnswer a = Answer(broker.log(), name, partitions, partition, timestamp);
      w.Int32(a.partition);
      w.Int16(int16_t(a.error));
      w.Int64(a.timestamp);
      w.Int64(a.offset);
    }
  }
  if (!r.ok()) return false;
  broker.Complete(reply, w.Take());
  return true;
}

}  // namespace cairn::kafka
