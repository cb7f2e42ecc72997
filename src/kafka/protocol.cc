// See protocol.h. The ranges lie within what librdkafka 2.0.2 and kafkajs 2.2.4 send (verified
// against both), and none of them is a flexible version but ApiVersions v3.
#include "kafka/protocol.h"

#include <array>

namespace cairn::kafka {
namespace {

constexpr std::array<ApiRange, 13> kApis = {{
    {ApiKey::kProduce, 3, 7},
    {ApiKey::kFetch, 4, 11},
    {ApiKey::kListOffsets, 1, 3},
    {ApiKey::kMetadata, 1, 4},
    {ApiKey::kOffsetCommit, 2, 7},
    {ApiKey::kOffsetFetch, 1, 5},
    {ApiKey::kFindCoordinator, 0, 2},
    {ApiKey::kJoinGroup, 0, 5},
    {ApiKey::kHeartbeat, 0, 3},
    {ApiKey::kLeaveGroup, 0, 1},
    {ApiKey::kSyncGroup, 0, 3},
    {ApiKey::kApiVersions, 0, 3},
    {ApiKey::kInitProducerId, 0, 1},
}};

}  // namespace

std::span<const ApiRange> AdvertisedApis() { return kApis; }

std::optional<ApiRange> FindApi(int16_t key) {
  for (const ApiRange& r : kApis) {
    if (int16_t(r.key) == key) return r;
  }
  return std::nullopt;
}

}  // namespace cairn::kafka
