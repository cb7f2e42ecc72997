// See handlers.h: the dispatcher, ApiVersions, and the status-to-error table.
#include "kafka/handlers.h"

namespace cairn::kafka {
namespace {

void PutApiRanges(WireWriter& w, bool compact) {
  const auto apis = AdvertisedApis();
  if (compact) {
    w.CompactArrayLength(apis.size());
  } else {
    w.ArrayLength(apis.size());
  }
  for (const ApiRange& api : apis) {
    w.Int16(int16_t(api.key));
    w.Int16(api.min_version);
    w.Int16(api.max_version);
    if (compact) w.EmptyTaggedFields();
  }
}

}  // namespace

bool IsFlexible(int16_t api_key, int16_t api_version) {
  return api_key == int16_t(ApiKey::kApiVersions) && api_version >= 3;
}

std::string UnsupportedVersionBody(int16_t api_key) {
  ResponseWriter w;
  w.Int16(int16_t(KafkaError::kUnsupportedVersion));
  if (api_key == int16_t(ApiKey::kApiVersions)) PutApiRanges(w, false);
  return w.Take();
}

bool HandleApiVersions(Broker& broker, const Request& req, const Reply& reply) {
  ResponseWriter w;
  w.Int16(int16_t(KafkaError::kNone));
  const bool flexible = req.api_version >= 3;
  PutApiRanges(w, flexible);
  if (req.api_version >= 1) w.Int32(0);  // throttle_time_ms
  if (flexible) w.EmptyTaggedFields();
  broker.Complete(reply, w.Take());
  return true;  // the v3 body (client software name and version) is informational
}

bool Dispatch(Broker& broker, const Request& req, const Reply& reply) {
  switch (ApiKey(req.api_key)) {
    case ApiKey::kApiVersions: return HandleApiVersions(broker, req, reply);
    case ApiKey::kMetadata: return HandleMetadata(broker, req, reply);
    case ApiKey::kProduce: return HandleProduce(broker, req, reply);
    case ApiKey::kFetch: return HandleFetch(broker, req, reply);
    case ApiKey::kListOffsets: return HandleListOffsets(broker, req, reply);
    case ApiKey::kInitProducerId: return HandleInitProducerId(broker, req, reply);
    case ApiKey::kFindCoordinator: return HandleFindCoordinator(broker, req, reply);
    case ApiKey::kJoinGroup: return HandleJoinGroup(broker, req, reply);
    case ApiKey::kSyncGroup: return HandleSyncGroup(broker, req, reply);
    case ApiKey::kHeartbeat: return HandleHeartbeat(broker, req, reply);
    case ApiKey::kLeaveGroup: return HandleLeaveGroup(broker, req, reply);
    case ApiKey::kOffsetCommit: return HandleOffsetCommit(broker, req, reply);
    case ApiKey::kOffsetFetch: return HandleOffsetFetch(broker, req, reply);
    default: break;
  }
  broker.Complete(reply, UnsupportedVersionBody(req.api_key));
  return true;
}

KafkaError ErrorFor(const Status& status) {
  switch (status.code()) {
    case ErrorCode::kOk: return KafkaError::kNone;
    case ErrorCode::kInvalidArgument:
    case ErrorCode::kConflict:
    case ErrorCode::kRuleViolation: return KafkaError::kInvalidRecord;
    case ErrorCode::kTooLarge: return KafkaError::kMessageTooLarge;
    case ErrorCode::kNotFound: return KafkaError::kUnknownTopicOrPartition;
    case ErrorCode::kUnauthenticated:
    case ErrorCode::kPermissionDenied: return KafkaError::kTopicAuthorizationFailed;
    case ErrorCode::kBusy:
    case ErrorCode::kTimeout: return KafkaError::kRequestTimedOut;
    case ErrorCode::kShuttingDown:
    case ErrorCode::kNotWriter: return KafkaError::kNotLeaderOrFollower;
    default: return KafkaError::kKafkaStorageError;
  }
}

}  // namespace cairn::kafka
