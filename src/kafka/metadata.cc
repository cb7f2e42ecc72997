// Metadata v1-4: one broker (Cairn, node kNodeId, also the controller), every partition led by
// it. Unknown topics are created with the log's default partition count when the request allows
// it (v4's allow_auto_topic_creation; always before v4, as a broker with auto-create on).
#include <spdlog/spdlog.h>

#include "kafka/handlers.h"

namespace cairn::kafka {
namespace {

struct TopicAnswer {
  KafkaError error = KafkaError::kNone;
  std::string name;
  uint32_t partitions = 0;
};

TopicAnswer Lookup(Log& log, const std::string& name, bool auto_create) {
  Result<TopicInfo> topic = log.GetTopic(name);
  if (topic.ok()) return {KafkaError::kNone, name, topic->partitions};
  if (!ValidateTopicName(name).ok()) return {KafkaError::kInvalidTopic, name, 0};
  if (!auto_create) return {KafkaError::kUnknownTopicOrPartition, name, 0};
  Result<TopicInfo> created = log.CreateTopic(name, log.options().default_partitions);
  if (!created.ok()) {
    spdlog::warn("kafka: could not create topic {}: {}", name, created.status().ToString());
    return {ErrorFor(created.status()), name, 0};
  }
  spdlog::info("kafka: created topic {} with {} partitions", name, created->partitions);
  return {KafkaError::kNone, name, created->partitions};
}

void PutTopic(WireWriter& w, const TopicAnswer& t) {
  w.Int16(int16_t(t.error));
  w.String(t.name);
  w.Bool(false);  // is_internal
  w.ArrayLength(t.partitions);
  for (uint32_t p = 0; p < t.partitions; ++p) {
    w.Int16(0);
    w.Int32(int32_t(p));
    w.Int32(kNodeId);  // leader
    w.ArrayLength(1);  // replicas
    w.Int32(kNodeId);
    w.ArrayLength(1);  // isr
    w.Int32(kNodeId);
  }
}

}  // namespace

bool HandleMetadata(Broker& broker, const Request& req, const Reply& reply) {
  WireReader r(req.body);
  std::optional<std::vector<std::string>> wanted;  // nullopt: every topic
  if (std::optional<int32_t> n = r.ArrayLength(2)) {
    wanted.emplace();
    for (int32_t i = 0; i < *n; ++i) wanted->push_back(r.String());
  }
  const bool auto_create = req.api_version >= 4 ? r.Bool() : true;
  if (!r.ok()) return false;

  std::vector<TopicAnswer> topics;
  if (wanted) {
    for (const std::string& name : *wanted) topics.push_back(Lookup(broker.log(), name, auto_create));
  } else {
    for (const TopicInfo& t : broker.log().Topics()) topics.push_back({KafkaError::kNone, t.name, t.partitions});
  }
  ResponseWriter w;
  if (req.api_version >= 3) w.Int32(0);  // throttle_time_ms
  w.ArrayLength(1);
  w.Int32(kNodeId);
  w.String(req.local_host);
  w.Int32(broker.port());
  w.NullableString(std::nullopt);                      // rack
  if (req.api_version >= 2) w.NullableString("cairn");  // cluster_id
  w.Int32(kNodeId);                                     // controller_id
  w.ArrayLength(topics.size());
  for (const TopicAnswer& t : topics) PutTopic(w, t);
  broker.Complete(reply, w.Take());
  return true;
}

}  // namespace cairn::kafka
