// The request handlers, one per API (each in its own file), and the dispatcher the broker calls
// for every request whose key and version Cairn advertises. A handler parses req.body, then
// completes `reply` at once or later (Produce, Fetch); it returns false when the body does not
// parse, and the broker closes that connection.
#pragma once

#include <cstdint>
#include <string>

#include "kafka/broker.h"
#include "kafka/protocol.h"
#include "kafka/wire.h"

namespace cairn::kafka {

bool Dispatch(Broker& broker, const Request& req, const Reply& reply);

// Whether a request of this version uses the flexible header (v2, with tagged fields).
bool IsFlexible(int16_t api_key, int16_t api_version);
// The answer (a ResponseWriter's) to a key or version Cairn does not speak: UNSUPPORTED_VERSION. For ApiVersions it
// is a full v0 response listing what Cairn does speak, as Kafka sends, so the client can retry.
std::string UnsupportedVersionBody(int16_t api_key);

bool HandleApiVersions(Broker& broker, const Request& req, const Reply& reply);
bool HandleMetadata(Broker& broker, const Request& req, const Reply& reply);
bool HandleProduce(Broker& broker, const Request& req, const Reply& reply);
bool HandleFetch(Broker& broker, const Request& req, const Reply& reply);
bool HandleListOffsets(Broker& broker, const Request& req, const Reply& reply);
bool HandleInitProducerId(Broker& broker, const Request& req, const Reply& reply);
bool HandleFindCoordinator(Broker& broker, const Request& req, const Reply& reply);
bool HandleJoinGroup(Broker& broker, const Request& req, const Reply& reply);
bool HandleSyncGroup(Broker& broker, const Request& req, const Reply& reply);
bool HandleHeartbeat(Broker& broker, const Request& req, const Reply& reply);
bool HandleLeaveGroup(Broker& broker, const Request& req, const Reply& reply);
bool HandleOffsetCommit(Broker& broker, const Request& req, const Reply& reply);
bool HandleOffsetFetch(Broker& broker, const Request& req, const Reply& reply);

// The Kafka error for a Cairn Status from the log (kConflict -> INVALID_RECORD, kTooLarge ->
// MESSAGE_TOO_LARGE, kBusy -> REQUEST_TIMED_OUT, kShuttingDown -> NOT_LEADER_OR_FOLLOWER, ...);
// the retriable ones make clients retry.
KafkaError ErrorFor(const Status& status);

}  // namespace cairn::kafka
