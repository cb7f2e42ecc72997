// FindCoordinator v0-2, JoinGroup v0-5, SyncGroup v0-3, Heartbeat v0-3 and LeaveGroup v0-1:
// the wire side of groups.h. Cairn coordinates every group itself; static membership
// (group_instance_id) is read and ignored.
#include "kafka/groups.h"
#include "kafka/handlers.h"

namespace cairn::kafka {

bool HandleFindCoordinator(Broker& broker, const Request& req, const Reply& reply) {
  WireReader r(req.body);
  r.String();                          // key: a group id (or a transactional id)
  if (req.api_version >= 1) r.Int8();  // key_type
  if (!r.ok()) return false;
  ResponseWriter w;
  if (req.api_version >= 1) w.Int32(0);  // throttle_time_ms
  w.Int16(0);
  if (req.api_version >= 1) w.NullableString(std::nullopt);  // error_message
  w.Int32(kNodeId);
  w.String(req.local_host);
  w.Int32(broker.port());
  broker.Complete(reply, w.Take());
  return true;
}

bool HandleJoinGroup(Broker& broker, const Request& req, const Reply& reply) {
  WireReader r(req.body);
  JoinRequest join;
  join.group = r.String();
  join.session_timeout_ms = r.Int32();
  if (req.api_version >= 1) join.rebalance_timeout_ms = r.Int32();
  join.member_id = r.String();
  if (req.api_version >= 5) r.NullableString();  // group_instance_id
  join.protocol_type = r.String();
  const int32_t n = r.ArrayLength(6).value_or(0);
  for (int32_t i = 0; r.ok() && i < n; ++i) {
    std::string name = r.String();
    join.protocols.emplace_back(std::move(name), std::string(r.Bytes()));
  }
  if (!r.ok()) return false;
  join.client_id = req.client_id.value_or("");
  const int16_t version = req.api_version;
  broker.groups().Join(std::move(join), [&broker, reply, version](const JoinResult& result) {
    ResponseWriter w;
    if (version >= 2) w.Int32(0);  // throttle_time_ms
    w.Int16(int16_t(result.error));
    w.Int32(result.generation);
    w.String(result.protocol);
    w.String(result.leader);
    w.String(result.member_id);
    w.ArrayLength(result.members.size());
    for (const auto& [id, metadata] : result.members) {
      w.String(id);
      if (version >= 5) w.NullableString(std::nullopt);
      w.Bytes(metadata);
    }
    broker.Complete(reply, w.Take());
  });
  return true;
}

bool HandleSyncGroup(Broker& broker, const Request& req, const Reply& reply) {
  WireReader r(req.body);
  const std::string group = r.String();
  const int32_t generation = r.Int32();
  const std::string member = r.String();
  if (req.api_version >= 3) r.NullableString();  // group_instance_id
  std::vector<std::pair<std::string, std::string>> assignments;
  const int32_t n = r.ArrayLength(6).value_or(0);
  for (int32_t i = 0; r.ok() && i < n; ++i) {
    std::string id = r.String();
    assignments.emplace_back(std::move(id), std::string(r.Bytes()));
  }
  if (!r.ok()) return false;
  const int16_t version = req.api_version;
  broker.groups().Sync(group, generation, member, std::move(assignments),
                       [&broker, reply, version](const SyncResult& result) {
                         ResponseWriter w;
                         if (version >= 1) w.Int32(0);  // throttle_time_ms
                         w.Int16(int16_t(result.error));
                         w.Bytes(result.assignment);  // empty, never null
                         broker.Complete(reply, w.Take());
                       });
  return true;
}

namespace {

void CompleteWithError(Broker& broker, const Reply& reply, int16_t version, KafkaError error) {
  ResponseWriter w;
  if (version >= 1) w.Int32(0);  // throttle_time_ms
  w.Int16(int16_t(error));
  broker.Complete(reply, w.Take());
}

}  // namespace

bool HandleHeartbeat(Broker& broker, const Request& req, const Reply& reply) {
  WireReader r(req.body);
  const std::string group = r.String();
  const int32_t generation = r.Int32();
  const std::string member = r.String();
  if (req.api_version >= 3) r.NullableString();  // group_instance_id
  if (!r.ok()) return false;
  CompleteWithError(broker, reply, req.api_version, broker.groups().Heartbeat(group, generation, member));
  return true;
}

bool HandleLeaveGroup(Broker& broker, const Request& req, const Reply& reply) {
  WireReader r(req.body);
  const std::string group = r.String();
  const std::string member = r.String();
  if (!r.ok()) return false;
  CompleteWithError(broker, reply, req.api_version, broker.groups().Leave(group, member));
  return true;
}

}  // namespace cairn::kafka
