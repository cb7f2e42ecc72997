// Byte coding shared by every layer: fixed-width big-endian integers (keys whose byte order is
// numeric order) and variable-length integers (LEB128 and Kafka's zigzag varints).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace cairn::bytes {

// Write `v` big-endian into out[0..3] (resp. out[0..7]).
inline void StoreBigEndian32(char* out, uint32_t v) {
  for (int i = 0; i < 4; ++i) out[i] = static_cast<char>(v >> (8 * (3 - i)));
}
inline void StoreBigEndian64(char* out, uint64_t v) {
  for (int i = 0; i < 8; ++i) out[i] = static_cast<char>(v >> (8 * (7 - i)));
}
void PutBigEndian32(std::string* out, uint32_t v);
void PutBigEndian64(std::string* out, uint64_t v);
// REQUIRES: in.size() >= 4 (resp. 8); reads the first 4 (8) bytes.
uint32_t GetBigEndian32(std::string_view in);
uint64_t GetBigEndian64(std::string_view in);

// Unsigned LEB128: 7 bits a byte, low bits first, high bit set on every byte but the last.
void PutVarint64(std::string* out, uint64_t v);
// GetVarint64's general case (two bytes or more, or none): out of line.
std::optional<uint64_t> GetMultiByteVarint64(std::string_view* in);
// Reads one varint from the front of `*in` and advances past it. Nothing (and `*in` unchanged)
// when the input ends inside it or it is longer than 10 bytes. Inline for the one-byte case,
// the common one: decoding an envelope reads several (a scan's hottest function otherwise).
inline std::optional<uint64_t> GetVarint64(std::string_view* in) {
  if (!in->empty() && static_cast<unsigned char>(in->front()) < 0x80) {
    const uint64_t v = static_cast<unsigned char>(in->front());
    in->remove_prefix(1);
    return v;
  }
  return GetMultiByteVarint64(in);
}

// Zigzag: signed values of small magnitude get short varints (0, -1, 1, -2 ... -> 0, 1, 2, 3 ...),
// as in Kafka's record format and protobuf's sint64.
inline uint64_t ZigZagEncode(int64_t v) {
  return (static_cast<uint64_t>(v) << 1) ^ static_cast<uint64_t>(v >> 63);
}
inline int64_t ZigZagDecode(uint64_t v) {
  return static_cast<int64_t>(v >> 1) ^ -static_cast<int64_t>(v & 1);
}
inline void PutZigZagVarint64(std::string* out, int64_t v) { PutVarint64(out, ZigZagEncode(v)); }
inline std::optional<int64_t> GetZigZagVarint64(std::string_view* in) {
  std::optional<uint64_t> v = GetVarint64(in);
  if (!v) return std::nullopt;
  return ZigZagDecode(*v);
}

}  // namespace cairn::bytes
