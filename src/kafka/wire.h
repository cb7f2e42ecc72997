// Kafka's primitive wire types (big-endian integers, int16-length strings, int32-length bytes,
// arrays, zigzag varints and the compact/tagged forms of flexible versions), read from and
// written to request and response bodies. Every handler in src/kafka uses these.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace cairn::kafka {

// Reads fields from the front of a buffer. A read past the end (or a negative length where
// none is allowed) makes the reader fail: every later read returns a zero value and ok() stays
// false, so a handler reads all its fields and checks ok() once.
class WireReader {
 public:
  explicit WireReader(std::string_view in) : in_(in) {}
  bool ok() const { return ok_; }
  size_t remaining() const { return in_.size(); }
  std::string_view rest() const { return in_; }

  int8_t Int8();
  int16_t Int16();
  int32_t Int32();
  int64_t Int64();
  bool Bool() { return Int8() != 0; }
  uint64_t UnsignedVarint();
  int64_t Varint();  // zigzag
  std::string String();
  std::optional<std::string> NullableString();
  std::string CompactString();
  // int32 length, -1 is null.
  std::optional<std::string_view> NullableBytes();
  std::string_view Bytes();
  // An array's element count: int32, -1 (null) reads as nullopt. Fails when the count could
  // not fit in what is left, so a lying count cannot make a handler allocate.
  std::optional<int32_t> ArrayLength(size_t min_element_bytes = 1);
  // Unsigned varint N+1, 0 is null.
  std::optional<int32_t> CompactArrayLength(size_t min_element_bytes = 1);
  // Skips a tagged-field section of a flexible version.
  void SkipTaggedFields();
  std::string_view Take(size_t n);
  void Fail() { ok_ = false; in_ = {}; }

 private:
  std::string_view in_;
  bool ok_ = true;
};

// Appends fields to a response body.
class WireWriter {
 public:
  void Int8(int8_t v) { out_.push_back(char(v)); }
  void Int16(int16_t v);
  void Int32(int32_t v);
  void Int64(int64_t v);
  void Bool(bool v) { Int8(v ? 1 : 0); }
  void UnsignedVarint(uint64_t v);
  void Varint(int64_t v);  // zigzag
  void String(std::string_view s);
  void NullableString(const std::optional<std::string>& s);
  void CompactString(std::string_view s);
  void Bytes(std::string_view b);
  void NullBytes() { Int32(-1); }
  void ArrayLength(size_t n) { Int32(int32_t(n)); }
  void CompactArrayLength(size_t n) { UnsignedVarint(n + 1); }
  void EmptyTaggedFields() { UnsignedVarint(0); }
  void Raw(std::string_view bytes) { out_.append(bytes); }
  // Overwrites 4 bytes at `at` with a big-endian int32 (a length or CRC written after the body).
  void PatchInt32(size_t at, int32_t v);
  void PatchInt16(size_t at, int16_t v);
  size_t size() const { return out_.size(); }
  std::string& str() { return out_; }
  std::string Take() { return std::move(out_); }

 private:
  std::string out_;
};

// A response body that starts with 8 reserved bytes, where the broker writes the frame's size
// and correlation id when it sends it, so the body goes out without being copied.
class ResponseWriter : public WireWriter {
 public:
  static constexpr size_t kHeaderBytes = 8;
  ResponseWriter() { Raw(std::string_view("\0\0\0\0\0\0\0\0", kHeaderBytes)); }
};

}  // namespace cairn::kafka
