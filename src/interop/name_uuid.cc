// See name_uuid.h.
#include "interop/name_uuid.h"

#include <array>
#include <cstdint>
#include <optional>
#include <utility>

#include "base/bytes.h"
#include "base/uuid.h"

namespace cairn::interop {
namespace {

// SHA-1 (FIPS 180-4), only for name-based UUIDs: not a security use.
std::array<uint8_t, 20> Sha1(std::string_view message) {
  uint32_t h[5] = {0x67452301, 0xEFCDAB89, 0x98BADCFE, 0x10325476, 0xC3D2E1F0};
  std::string data(message);
  const uint64_t bit_length = uint64_t(message.size()) * 8;
  data.push_back(char(0x80));
  while (data.size() % 64 != 56) data.push_back('\0');
  bytes::PutBigEndian64(&data, bit_length);
  auto rotl = [](uint32_t x, int n) { return (x << n) | (x >> (32 - n)); };
  for (size_t chunk = 0; chunk < data.size(); chunk += 64) {
    uint32_t w[80];
    for (int i = 0; i < 16; ++i) w[i] = bytes::GetBigEndian32(std::string_view(data).substr(chunk + i * 4, 4));
    for (int i = 16; i < 80; ++i) w[i] = rotl(w[i - 3] ^ w[i - 8] ^ w[i - 14] ^ w[i - 16], 1);
    uint32_t a = h[0], b = h[1], c = h[2], d = h[3], e = h[4];
    for (int i = 0; i < 80; ++i) {
      uint32_t f, k;
      if (i < 20) f = (b & c) | (~b & d), k = 0x5A827999;
      else if (i < 40) f = b ^ c ^ d, k = 0x6ED9EBA1;
      else if (i < 60) f = (b & c) | (b & d) | (c & d), k = 0x8F1BBCDC;
      else f = b ^ c ^ d, k = 0xCA62C1D6;
      const uint32_t t = rotl(a, 5) + f + e + k + w[i];
      e = d, d = c, c = rotl(b, 30), b = a, a = t;
    }
    h[0] += a, h[1] += b, h[2] += c, h[3] += d, h[4] += e;
  }
  std::array<uint8_t, 20> digest;
  for (int i = 0; i < 20; ++i) digest[i] = uint8_t(h[i / 4] >> (24 - (i % 4) * 8));
  return digest;
}

}  // namespace

std::string Uuid5(std::string_view namespace_id, std::string_view name) {
  const std::optional<std::pair<uint64_t, uint64_t>> space = ParseUuidText(namespace_id);
  std::string message;
  bytes::PutBigEndian64(&message, space ? space->first : 0);
  bytes::PutBigEndian64(&message, space ? space->second : 0);
  message += name;
  const std::array<uint8_t, 20> hash = Sha1(message);
  const std::string_view bytes(reinterpret_cast<const char*>(hash.data()), 16);
  uint64_t hi = bytes::GetBigEndian64(bytes.substr(0, 8));
  uint64_t lo = bytes::GetBigEndian64(bytes.substr(8, 8));
  hi = (hi & ~uint64_t{0xF000}) | 0x5000;                           // version 5
  lo = (lo & ~(uint64_t{0xC} << 60)) | (uint64_t{0x8} << 60);       // RFC 4122 variant
  return UuidText(hi, lo);
}

}  // namespace cairn::interop
