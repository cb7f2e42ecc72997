// See wire.h.
#include "kafka/wire.h"

#include "base/bytes.h"

namespace cairn::kafka {

std::string_view WireReader::Take(size_t n) {
  if (!ok_ || in_.size() < n) {
    Fail();
    return {};
  }
  std::string_view out = in_.substr(0, n);
  in_.remove_prefix(n);
  return out;
}

int8_t WireReader::Int8() {
  std::string_view b = Take(1);
  return b.empty() ? 0 : int8_t(b[0]);
}

int16_t WireReader::Int16() {
  std::string_view b = Take(2);
  if (b.empty()) return 0;
  return int16_t((uint16_t(uint8_t(b[0])) << 8) | uint8_t(b[1]));
}

int32_t WireReader::Int32() {
  std::string_view b = Take(4);
  return b.empty() ? 0 : int32_t(bytes::GetBigEndian32(b));
}

int64_t WireReader::Int64() {
  std::string_view b = Take(8);
  return b.empty() ? 0 : int64_t(bytes::GetBigEndian64(b));
}

uint64_t WireReader::UnsignedVarint() {
  if (!ok_) return 0;
  std::optional<uint64_t> v = bytes::GetVarint64(&in_);
  if (!v) Fail();
  return v.value_or(0);
}

int64_t WireReader::Varint() { return bytes::ZigZagDecode(UnsignedVarint()); }

std::string WireReader::String() {
  const int16_t n = Int16();
  if (n < 0) {
    Fail();
    return {};
  }
  return std::string(Take(size_t(n)));
}

std::optional<std::string> WireReader::NullableString() {
  const int16_t n = Int16();
  if (!ok_ || n < 0) return std::nullopt;
  return std::string(Take(size_t(n)));
}

std::string WireReader::CompactString() {
  const uint64_t n = UnsignedVarint();
  if (n == 0) return {};  // null reads as empty: only client software names use this
  return std::string(Take(n - 1));
}

std::optional<std::string_view> WireReader::NullableBytes() {
  const int32_t n = Int32();
  if (!ok_ || n < 0) return std::nullopt;
  return Take(size_t(n));
}

std::string_view WireReader::Bytes() {
  const int32_t n = Int32();
  if (n < 0) {
    Fail();
    return {};
  }
  return Take(size_t(n));
}

std::optional<int32_t> WireReader::ArrayLength(size_t min_element_bytes) {
  const int32_t n = Int32();
  if (!ok_ || n < 0) return std::nullopt;
  if (size_t(n) * min_element_bytes > in_.size()) {
    Fail();
    return std::nullopt;
  }
  return n;
}

std::optional<int32_t> WireReader::CompactArrayLength(size_t min_element_bytes) {
  const uint64_t n = UnsignedVarint();
  if (!ok_ || n == 0) return std::nullopt;
  if ((n - 1) * min_element_bytes > in_.size()) {
    Fail();
    return std::nullopt;
  }
  return int32_t(n - 1);
}

void WireReader::SkipTaggedFields() {
  const uint64_t count = UnsignedVarint();
  for (uint64_t i = 0; ok_ && i < count; ++i) {
    UnsignedVarint();  // tag
    Take(UnsignedVarint());
  }
}

void WireWriter::Int16(int16_t v) {
  out_.push_back(char(uint16_t(v) >> 8));
  out_.push_back(char(v & 0xff));
}

void WireWriter::Int32(int32_t v) { bytes::PutBigEndian32(&out_, uint32_t(v)); }
void WireWriter::Int64(int64_t v) { bytes::PutBigEndian64(&out_, uint64_t(v)); }
void WireWriter::UnsignedVarint(uint64_t v) { bytes::PutVarint64(&out_, v); }
void WireWriter::Varint(int64_t v) { bytes::PutZigZagVarint64(&out_, v); }

void WireWriter::String(std::string_view s) {
  Int16(int16_t(s.size()));
  out_.append(s);
}

void WireWriter::NullableString(const std::optional<std::string>& s) {
  if (!s) {
    Int16(-1);
    return;
  }
  String(*s);
}

void WireWriter::CompactString(std::string_view s) {
  UnsignedVarint(s.size() + 1);
  out_.append(s);
}

void WireWriter::Bytes(std::string_view b) {
  Int32(int32_t(b.size()));
  out_.append(b);
}

void WireWriter::PatchInt32(size_t at, int32_t v) {
  for (int i = 0; i < 4; ++i) out_[at + size_t(i)] = char(uint32_t(v) >> (24 - 8 * i));
}

void WireWriter::PatchInt16(size_t at, int16_t v) {
  out_[at] = char(uint16_t(v) >> 8);
  out_[at + 1] = char(uint16_t(v) & 0xff);
}

}  // namespace cairn::kafka
