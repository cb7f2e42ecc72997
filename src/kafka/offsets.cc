// OffsetCommit v2-7 and OffsetFetch v1-5: a group's committed offsets, persisted durably in the
// `kafka` family (on the broker's store thread) before the commit is answered (groups.h); -1
// when a partition has none. As Kafka (and librdkafka's mock broker) do, a commit to a partition
// that does not exist is refused with UNKNOWN_TOPIC_OR_PARTITION and not stored.
#include <spdlog/spdlog.h>

#include "kafka/groups.h"
#include "kafka/handlers.h"

namespace cairn::kafka {

bool HandleOffsetCommit(Broker& broker, const Request& req, const Reply& reply) {
  WireReader r(req.body);
  const std::string group = r.String();
  const int32_t generation = r.Int32();
  const std::string member = r.String();
  if (req.api_version >= 7) r.NullableString();                        // group_instance_id
  if (req.api_version >= 2 && req.api_version <= 4) r.Int64();         // retention_time_ms
  struct Topic {
    std::string name;
    std::vector<int32_t> partitions;
    std::vector<bool> exists;  // per partition: only those that do are committed
  };
  std::vector<Topic> topics;
  std::vector<std::tuple<std::string, int32_t, CommittedOffset>> offsets;
  const int32_t nt = r.ArrayLength(6).value_or(0);
  for (int32_t t = 0; r.ok() && t < nt; ++t) {
    Topic& topic = topics.emplace_back();
    topic.name = r.String();
    const Result<TopicInfo> info = broker.log().GetTopic(topic.name);
    const uint32_t partitions = info.ok() ? info->partitions : 0;
    const int32_t np = r.ArrayLength(14).value_or(0);
    for (int32_t p = 0; r.ok() && p < np; ++p) {
      const int32_t partition = r.Int32();
      CommittedOffset committed;
      committed.offset = r.Int64();
      if (req.api_version >= 6) r.Int32();  // committed_leader_epoch
      committed.metadata = r.NullableString().value_or("");
      topic.partitions.push_back(partition);
      topic.exists.push_back(partition >= 0 && uint32_t(partition) < partitions);
      if (topic.exists.back()) offsets.emplace_back(topic.name, partition, std::move(committed));
    }
  }
  if (!r.ok()) return false;
  auto answer = [&broker, reply, version = req.api_version, topics = std::move(topics)](KafkaError error) {
    ResponseWriter w;
    if (version >= 3) w.Int32(0);  // throttle_time_ms
    w.ArrayLength(topics.size());
    for (const Topic& topic : topics) {
      w.String(topic.name);
      w.ArrayLength(topic.partitions.size());
      for (size_t p = 0; p < topic.partitions.size(); ++p) {
        w.Int32(topic.partitions[p]);
        w.Int16(int16_t(topic.exists[p] ? error : KafkaError::kUnknownTopicOrPartition));
      }
    }
    broker.Complete(reply, w.Take());
  };
  const KafkaError error = broker.groups().CheckCommit(group, generation, member);
  if (error != KafkaError::kNone || offsets.empty()) {
    answer(error);
    return true;
  }
  broker.WriteDurably(broker.groups().CommitWrites(group, offsets), [answer, group](Status s) {
    if (!s.ok()) spdlog::error("kafka: could not persist offsets of group {}: {}", group, s.ToString());
    answer(s.ok() ? KafkaError::kNone : ErrorFor(s));
  });
  return true;
}

bool HandleOffsetFetch(Broker& broker, const Request& req, const Reply& reply) {
  WireReader r(req.body);
  const std::string group = r.String();
  std::vector<std::pair<std::string, std::vector<int32_t>>> wanted;
  const std::optional<int32_t> nt = r.ArrayLength(6);
  for (int32_t t = 0; r.ok() && t < nt.value_or(0); ++t) {
    auto& [name, partitions] = wanted.emplace_back();
    name = r.String();
    const int32_t np = r.ArrayLength(4).value_or(0);
    for (int32_t p = 0; r.ok() && p < np; ++p) partitions.push_back(r.Int32());
  }
  if (!r.ok()) return false;
  if (!nt) {  // null (v2+): every partition the group has committed
    for (const auto& o : broker.groups().AllCommitted()) {
      if (o.group != group) continue;
      if (wanted.empty() || wanted.back().first != o.topic) wanted.push_back({o.topic, {}});
      wanted.back().second.push_back(o.partition);
    }
  }
  KafkaError top_error = KafkaError::kNone;
  ResponseWriter w;
  if (req.api_version >= 3) w.Int32(0);  // throttle_time_ms
  w.ArrayLength(wanted.size());
  for (const auto& [name, partitions] : wanted) {
    w.String(name);
    w.ArrayLength(partitions.size());
    for (int32_t p : partitions) {
      Result<CommittedOffset> committed = broker.groups().Committed(group, name, p);
      const KafkaError error = committed.ok() ? KafkaError::kNone : ErrorFor(committed.status());
      if (error != KafkaError::kNone) top_error = error;
      w.Int32(p);
      w.Int64(committed.ok() ? committed->offset : -1);
      if (req.api_version >= 5) w.Int32(-1);  // committed_leader_epoch
      w.NullableString(committed.ok() ? std::optional(committed->metadata) : std::optional<std::string>(""));
      w.Int16(int16_t(error));
    }
  }
  if (req.api_version >= 2) w.Int16(int16_t(top_error));
  broker.Complete(reply, w.Take());
  return true;
}

}  // namespace cairn::kafka
