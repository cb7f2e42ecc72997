// See crc32c.h. The SSE 4.2 crc32 instruction when the CPU has it (8 bytes a step), else a
// table a byte at a time; both compute the same reflected CRC with polynomial 0x82F63B78.
#include "kafka/crc32c.h"

#include <array>
#include <cstring>

#if defined(__x86_64__)
#include <nmmintrin.h>
#endif

namespace cairn::kafka {
namespace {

constexpr std::array<uint32_t, 256> MakeTable() {
  std::array<uint32_t, 256> table{};
  for (uint32_t i = 0; i < 256; ++i) {
    uint32_t c = i;
    for (int k = 0; k < 8; ++k) c = (c & 1) ? (c >> 1) ^ 0x82F63B78u : c >> 1;
    table[i] = c;
  }
  return table;
}
constexpr std::array<uint32_t, 256> kTable = MakeTable();

uint32_t Crc32cTable(uint32_t crc, const unsigned char* p, size_t n) {
  for (size_t i = 0; i < n; ++i) crc = kTable[(crc ^ p[i]) & 0xff] ^ (crc >> 8);
  return crc;
}

#if defined(__x86_64__)
__attribute__((target("sse4.2"))) uint32_t Crc32cHardware(uint32_t crc, const unsigned char* p,
                                                          size_t n) {
  uint64_t c = crc;
  for (; n >= 8; n -= 8, p += 8) {
    uint64_t word;
    std::memcpy(&word, p, 8);
    c = _mm_crc32_u64(c, word);
  }
  uint32_t c32 = uint32_t(c);
  for (; n > 0; --n, ++p) c32 = _mm_crc32_u8(c32, *p);
  return c32;
}

bool HasHardware() {
  static const bool kHardware = __builtin_cpu_supports("sse4.2");
  return kHardware;
}
#else
bool HasHardware() { return false; }
#endif

const unsigned char* Bytes(std::string_view data) {
  return reinterpret_cast<const unsigned char*>(data.data());
}

}  // namespace

uint32_t Crc32c(std::string_view data) {
#if defined(__x86_64__)
  if (HasHardware()) return ~Crc32cHardware(~0u, Bytes(data), data.size());
#endif
  return ~Crc32cTable(~0u, Bytes(data), data.size());
}

uint32_t Crc32cTableForTest(std::string_view data) { return ~Crc32cTable(~0u, Bytes(data), data.size()); }

std::optional<uint32_t> Crc32cHardwareForTest(std::string_view data) {
#if defined(__x86_64__)
  if (HasHardware()) return ~Crc32cHardware(~0u, Bytes(data), data.size());
#endif
  return std::nullopt;
}

}  // namespace cairn::kafka
