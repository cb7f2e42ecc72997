// See bytes.h.
#include "base/bytes.h"

namespace cairn::bytes {

// Each writer fills a local buffer and appends it once: a push_back per byte checks the
// capacity per byte (keys are built per event, and this showed in the append profile).
void PutBigEndian32(std::string* out, uint32_t v) {
  char buf[4];
  StoreBigEndian32(buf, v);
  out->append(buf, sizeof(buf));
}

void PutBigEndian64(std::string* out, uint64_t v) {
  char buf[8];
  StoreBigEndian64(buf, v);
  out->append(buf, sizeof(buf));
}

uint32_t GetBigEndian32(std::string_view in) {
  uint32_t v = 0;
  for (int i = 0; i < 4; ++i) v = (v << 8) | static_cast<unsigned char>(in[i]);
  return v;
}

uint64_t GetBigEndian64(std::string_view in) {
  uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v = (v << 8) | static_cast<unsigned char>(in[i]);
  return v;
}

void PutVarint64(std::string* out, uint64_t v) {
  char buf[10];
  size_t n = 0;
  while (v >= 0x80) {
    buf[n++] = static_cast<char>((v & 0x7f) | 0x80);
    v >>= 7;
  }
  buf[n++] = static_cast<char>(v);
  out->append(buf, n);
}

std::optional<uint64_t> GetMultiByteVarint64(std::string_view* in) {
  uint64_t v = 0;
  for (size_t i = 0; i < in->size() && i < 10; ++i) {
    const auto byte = static_cast<unsigned char>((*in)[i]);
    // The tenth byte may carry only the top bit of a 64-bit value.
    if (i == 9 && byte > 1) return std::nullopt;
    v |= static_cast<uint64_t>(byte & 0x7f) << (7 * i);
    if ((byte & 0x80) == 0) {
      in->remove_prefix(i + 1);
      return v;
    }
  }
  return std::nullopt;
}

}  // namespace cairn::bytes
