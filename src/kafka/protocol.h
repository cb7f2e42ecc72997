// The Kafka protocol surface Cairn speaks: API keys, the version ranges it advertises in
// ApiVersions (and implements, every one), and the error codes its responses use. The request
// dispatcher (handlers.cc) and every handler read these.
#pragma once

#include <cstdint>
#include <optional>
#include <span>

namespace cairn::kafka {

enum class ApiKey : int16_t {
  kProduce = 0,
  kFetch = 1,
  kListOffsets = 2,
  kMetadata = 3,
  kOffsetCommit = 8,
  kOffsetFetch = 9,
  kFindCoordinator = 10,
  kJoinGroup = 11,
  kHeartbeat = 12,
  kLeaveGroup = 13,
  kSyncGroup = 14,
  kApiVersions = 18,
  kInitProducerId = 22,
};

struct ApiRange {
  ApiKey key;
  int16_t min_version;
  int16_t max_version;
};

// What ApiVersions advertises, in key order. Only APIs whose handlers exist are listed: a
// client enables features from these ranges (librdkafka from the minimums, kafkajs from the
// maximums), so an advertised version must work.
std::span<const ApiRange> AdvertisedApis();
// The advertised range of `key`, or nothing when Cairn does not speak it.
std::optional<ApiRange> FindApi(int16_t key);

// The error codes Cairn answers with (Kafka's numbering, org.apache.kafka.common.protocol.Errors).
enum class KafkaError : int16_t {
  kUnknownServerError = -1,
  kNone = 0,
  kOffsetOutOfRange = 1,
  kCorruptMessage = 2,
  kUnknownTopicOrPartition = 3,
  kNotLeaderOrFollower = 6,
  kRequestTimedOut = 7,
  kMessageTooLarge = 10,
  kCoordinatorNotAvailable = 15,
  kNotCoordinator = 16,
  kInvalidTopic = 17,
  kInvalidRequiredAcks = 21,
  kIllegalGeneration = 22,
  kInconsistentGroupProtocol = 23,
  kInvalidGroupId = 24,
  kUnknownMemberId = 25,
  kInvalidSessionTimeout = 26,
  kRebalanceInProgress = 27,
  kTopicAuthorizationFailed = 29,
  kUnsupportedVersion = 35,
  kInvalidRequest = 42,
  kPolicyViolation = 44,
  kOutOfOrderSequence = 45,
  kDuplicateSequence = 46,
  kInvalidProducerEpoch = 47,
  kKafkaStorageError = 56,
  kUnknownProducerId = 59,
  kUnsupportedCompressionType = 76,
  kMemberIdRequired = 79,
  kInvalidRecord = 87,
};

// Cairn's one broker: node id, also the controller and every partition's leader.
inline constexpr int32_t kNodeId = 1;

}  // namespace cairn::kafka
