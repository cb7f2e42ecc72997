// Unit tests of the byte coding every layer shares (src/base/bytes.h): fixed-width big-endian
// integers, LEB128 varints and Kafka's zigzag varints.
#include <doctest/doctest.h>

#include <cstdint>
#include <limits>
#include <optional>
#include <string>
#include <string_view>

#include "base/bytes.h"

namespace cairn::bytes {
namespace {

std::string Varint(uint64_t v) {
  std::string out;
  PutVarint64(&out, v);
  return out;
}

TEST_CASE("big-endian integers round-trip and put the most significant byte first") {
  for (uint32_t v : {uint32_t{0}, uint32_t{1}, uint32_t{0x01020304}, uint32_t{0x80000000},
                     std::numeric_limits<uint32_t>::max()}) {
    CAPTURE(v);
    std::string out;
    PutBigEndian32(&out, v);
    REQUIRE(out.size() == 4);
    CHECK(GetBigEndian32(out) == v);
  }
  for (uint64_t v : {uint64_t{0}, uint64_t{1}, uint64_t{0x0102030405060708},
                     uint64_t{1} << 63, std::numeric_limits<uint64_t>::max()}) {
    CAPTURE(v);
    std::string out;
    PutBigEndian64(&out, v);
    REQUIRE(out.size() == 8);
    CHECK(GetBigEndian64(out) == v);
  }
  std::string bytes;
  PutBigEndian32(&bytes, 0x01020304);
  CHECK(bytes == std::string("\x01\x02\x03\x04", 4));
  bytes.clear();
  PutBigEndian64(&bytes, 0x0102030405060708);
  CHECK(bytes == std::string("\x01\x02\x03\x04\x05\x06\x07\x08", 8));
}

TEST_CASE("big-endian keys sort in numeric order") {
  const uint64_t values[] = {0, 1, 255, 256, 65'535, 65'536, uint64_t{1} << 40,
                             std::numeric_limits<uint64_t>::max()};
  for (size_t i = 1; i < std::size(values); ++i) {
    std::string lower, higher;
    PutBigEndian64(&lower, values[i - 1]);
    PutBigEndian64(&higher, values[i]);
    CHECK(lower < higher);
  }
}

TEST_CASE("big-endian reads take only the first 4 or 8 bytes") {
  CHECK(GetBigEndian32(std::string_view("\x00\x00\x01\x00zz", 6)) == 256);
  CHECK(GetBigEndian64(std::string_view("\x00\x00\x00\x00\x00\x00\x00\x02rest", 12)) == 2);
}

TEST_CASE("varints at the byte-length edges round-trip with the shortest encoding") {
  struct Case {
    uint64_t value;
    std::string encoded;
  };
  const Case cases[] = {
      {0, std::string("\x00", 1)},
      {1, "\x01"},
      {127, "\x7f"},
      {128, "\x80\x01"},
      {300, "\xac\x02"},
      {16'383, "\xff\x7f"},
      {16'384, "\x80\x80\x01"},
      {uint64_t{1} << 63, "\x80\x80\x80\x80\x80\x80\x80\x80\x80\x01"},
      {std::numeric_limits<uint64_t>::max(), "\xff\xff\xff\xff\xff\xff\xff\xff\xff\x01"},
  };
  for (const Case& c : cases) {
    CAPTURE(c.value);
    CHECK(Varint(c.value) == c.encoded);
    std::string_view in = c.encoded;
    CHECK(GetVarint64(&in) == std::optional<uint64_t>(c.value));
    CHECK(in.empty());
  }
}

TEST_CASE("a varint read consumes only its own bytes") {
  std::string two = Varint(128) + Varint(5);
  std::string_view in = two;
  CHECK(GetVarint64(&in) == std::optional<uint64_t>(128));
  CHECK(in.size() == 1);
  CHECK(GetVarint64(&in) == std::optional<uint64_t>(5));
  CHECK(in.empty());
}

TEST_CASE("a truncated varint reads as nothing and leaves the input unchanged") {
  std::string_view empty;
  CHECK_FALSE(GetVarint64(&empty).has_value());
  for (uint64_t v : {uint64_t{128}, uint64_t{16'384}, uint64_t{1} << 63,
                     std::numeric_limits<uint64_t>::max()}) {
    const std::string full = Varint(v);
    for (size_t length = 1; length < full.size(); ++length) {
      CAPTURE(v);
      CAPTURE(length);
      std::string_view in(full.data(), length);
      CHECK_FALSE(GetVarint64(&in).has_value());
      CHECK(in.size() == length);
    }
  }
}

TEST_CASE("a varint longer than 10 bytes or over 64 bits reads as nothing") {
  // 11 bytes: ten with the continuation bit, then a final 0 (an overlong encoding of 0).
  const std::string overlong = std::string(10, '\x80') + std::string(1, '\0');
  std::string_view in = overlong;
  CHECK_FALSE(GetVarint64(&in).has_value());
  CHECK(in.size() == 11);
  // 10 bytes whose last one carries more than the top bit of a 64-bit value.
  const std::string too_big = std::string(9, '\xff') + "\x02";
  in = too_big;
  CHECK_FALSE(GetVarint64(&in).has_value());
  CHECK(in.size() == 10);
}

TEST_CASE("zigzag maps small magnitudes to small numbers and round-trips the extremes") {
  constexpr int64_t kMin = std::numeric_limits<int64_t>::min();
  constexpr int64_t kMax = std::numeric_limits<int64_t>::max();
  CHECK(ZigZagEncode(0) == 0);
  CHECK(ZigZagEncode(-1) == 1);
  CHECK(ZigZagEncode(1) == 2);
  CHECK(ZigZagEncode(-2) == 3);
  CHECK(ZigZagEncode(kMax) == std::numeric_limits<uint64_t>::max() - 1);
  CHECK(ZigZagEncode(kMin) == std::numeric_limits<uint64_t>::max());
  for (int64_t v : {int64_t{0}, int64_t{-1}, int64_t{1}, kMin, kMax}) {
    CAPTURE(v);
    CHECK(ZigZagDecode(ZigZagEncode(v)) == v);
    std::string out;
    PutZigZagVarint64(&out, v);
    std::string_view in = out;
    CHECK(GetZigZagVarint64(&in) == std::optional<int64_t>(v));
    CHECK(in.empty());
  }
  std::string one_byte;
  PutZigZagVarint64(&one_byte, -1);
  CHECK(one_byte == "\x01");
  std::string_view truncated("\x80", 1);
  CHECK_FALSE(GetZigZagVarint64(&truncated).has_value());
}

}  // namespace
}  // namespace cairn::bytes
