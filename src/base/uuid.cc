// See uuid.h.
#include "base/uuid.h"

#include <algorithm>
#include <atomic>
#include <random>

#include "base/clock.h"

namespace cairn {

namespace {
constexpr const char* kHex = "0123456789abcdef";
}  // namespace

std::string UuidText(uint64_t hi, uint64_t lo) {
  char out[36];
  WriteUuidText(hi, lo, out);
  return std::string(out, sizeof(out));
}

void WriteUuidText(uint64_t hi, uint64_t lo, char (&out)[36]) {
  size_t n = 0;
  for (int i = 15; i >= 0; --i) {
    const uint64_t word = i >= 8 ? hi : lo;
    const unsigned byte = (word >> ((i % 8) * 8)) & 0xff;
    out[n++] = kHex[byte >> 4];
    out[n++] = kHex[byte & 0xf];
    if (n == 8 || n == 13 || n == 18 || n == 23) out[n++] = '-';
  }
}

std::optional<std::pair<uint64_t, uint64_t>> ParseUuidText(std::string_view text) {
  if (text.size() != 36) return std::nullopt;
  uint64_t words[2] = {0, 0};
  size_t nibbles = 0;
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (i == 8 || i == 13 || i == 18 || i == 23) {
      if (c != '-') return std::nullopt;
      continue;
    }
    unsigned v = 0;
    if (c >= '0' && c <= '9') v = c - '0';
    else if (c >= 'a' && c <= 'f') v = c - 'a' + 10;
    else return std::nullopt;
    uint64_t& word = words[nibbles / 16];
    word = (word << 4) | v;
    ++nibbles;
  }
  return std::pair{words[0], words[1]};
}

uint64_t RandomBits() {
  thread_local std::mt19937_64 rng{std::random_device{}() ^
                                   (uint64_t(std::random_device{}()) << 32)};
  return rng();
}

std::string NewUuid() {
  // UUID version 7 (RFC 9562): 48 bits of Unix milliseconds, a 12-bit counter within the
  // millisecond (method 1 of RFC 9562 §6.2; when 4096 ids in one millisecond use it up, the
  // timestamp runs ahead by one), then 62 random bits. Ids made by this process therefore sort
  // in the order they were made. Keys built from them (order ids, the command ids that event
  // ids derive from) then reach RocksDB's memtables in key order, which its skiplist makes
  // cheap; random order within a millisecond (or random v4 ids) made each insert a
  // cache-missing search of the memtable.
  static std::atomic<uint64_t> last_tick{0};  // milliseconds << 12 | counter
  const uint64_t now_tick = static_cast<uint64_t>(NowMicros() / 1000) << 12;
  uint64_t tick = last_tick.load(std::memory_order_relaxed);
  uint64_t next = 0;
  do {
    next = std::max(now_tick, tick + 1);
  } while (!last_tick.compare_exchange_weak(tick, next, std::memory_order_relaxed));
  const uint64_t hi = ((next >> 12) << 16) | 0x7000 | (next & 0x0fff);  // version 7
  const uint64_t lo = (RandomBits() & 0x3fffffffffffffffULL) | 0x8000000000000000ULL;  // variant 10
  return UuidText(hi, lo);
}

}  // namespace cairn
