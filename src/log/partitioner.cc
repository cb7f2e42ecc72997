// Kafka's default partitioner, so a key lands in the same partition number as it would in Kafka
// (org.apache.kafka.common.utils.Utils.murmur2, seed 0x9747b28c).
#include <cstring>

#include "cairn/log.h"

namespace cairn {

int32_t Murmur2(std::string_view key) {
  const uint32_t seed = 0x9747b28c;
  const uint32_t m = 0x5bd1e995;
  const int r = 24;
  const size_t length = key.size();
  const auto* data = reinterpret_cast<const unsigned char*>(key.data());
  uint32_t h = seed ^ static_cast<uint32_t>(length);

  const size_t blocks = length / 4;
  for (size_t i = 0; i < blocks; ++i) {
    const size_t i4 = i * 4;
    uint32_t k = uint32_t(data[i4]) | (uint32_t(data[i4 + 1]) << 8) |
                 (uint32_t(data[i4 + 2]) << 16) | (uint32_t(data[i4 + 3]) << 24);
    k *= m;
    k ^= k >> r;
    k *= m;
    h *= m;
    h ^= k;
  }
  const size_t tail = length & ~size_t{3};
  switch (length % 4) {
    case 3: h ^= uint32_t(data[tail + 2]) << 16; [[fallthrough]];
    case 2: h ^= uint32_t(data[tail + 1]) << 8; [[fallthrough]];
    case 1:
      h ^= uint32_t(data[tail]);
      h *= m;
  }
  h ^= h >> 13;
  h *= m;
  h ^= h >> 15;
  return static_cast<int32_t>(h);
}

PartitionId PartitionForKey(std::string_view key, uint32_t partitions) {
  const uint32_t positive = static_cast<uint32_t>(Murmur2(key)) & 0x7fffffffu;
  return PartitionId(positive % partitions);
}

std::string_view StreamKey(std::string_view stream) {
  const size_t dash = stream.find('-');
  return dash == std::string_view::npos ? stream : stream.substr(dash + 1);
}

}  // namespace cairn
