// See compression.h. Each codec streams into a std::string that grows in steps and stops at
// max_bytes, so a small batch that claims a huge output cannot allocate it.
#include "kafka/compression.h"

#include <lz4frame.h>
#include <snappy-c.h>
#include <zlib.h>
#include <zstd.h>

#include <cstring>
#include <memory>

#include "base/bytes.h"

namespace cairn::kafka {
namespace {

constexpr size_t kStep = 64 * 1024;

std::optional<std::string> Gunzip(std::string_view in, size_t max_bytes) {
  z_stream zs{};
  if (inflateInit2(&zs, 15 + 32) != Z_OK) return std::nullopt;  // +32: gzip or zlib header
  std::string out;
  zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
  zs.avail_in = uInt(in.size());
  int rc = Z_OK;
  while (rc == Z_OK && out.size() < max_bytes) {
    const size_t used = out.size();
    out.resize(used + kStep);
    zs.next_out = reinterpret_cast<Bytef*>(out.data() + used);
    zs.avail_out = uInt(kStep);
    rc = inflate(&zs, Z_NO_FLUSH);
    out.resize(used + kStep - zs.avail_out);
    if (rc == Z_BUF_ERROR && zs.avail_in == 0) break;  // truncated input
  }
  inflateEnd(&zs);
  if (rc != Z_STREAM_END || out.size() > max_bytes) return std::nullopt;
  return out;
}

bool UnsnappyBlock(std::string_view in, size_t max_bytes, std::string* out) {
  size_t n = 0;
  if (snappy_uncompressed_length(in.data(), in.size(), &n) != SNAPPY_OK) return false;
  if (out->size() + n > max_bytes) return false;
  const size_t used = out->size();
  out->resize(used + n);
  return snappy_uncompress(in.data(), in.size(), out->data() + used, &n) == SNAPPY_OK;
}

// Raw snappy (librdkafka) or xerial's framing (Java): a 16-byte header, then blocks each
// prefixed by a big-endian int32 length.
std::optional<std::string> Unsnappy(std::string_view in, size_t max_bytes) {
  static constexpr std::string_view kXerialMagic("\x82SNAPPY\0", 8);
  std::string out;
  if (in.substr(0, 8) != kXerialMagic) {
    if (!UnsnappyBlock(in, max_bytes, &out)) return std::nullopt;
    return out;
  }
  if (in.size() < 16) return std::nullopt;
  in.remove_prefix(16);
  while (!in.empty()) {
    if (in.size() < 4) return std::nullopt;
    const uint32_t n = bytes::GetBigEndian32(in);
    in.remove_prefix(4);
    if (n > in.size() || !UnsnappyBlock(in.substr(0, n), max_bytes, &out)) return std::nullopt;
    in.remove_prefix(n);
  }
  return out;
}

std::optional<std::string> Unlz4(std::string_view in, size_t max_bytes) {
  LZ4F_dctx* raw = nullptr;
  if (LZ4F_isError(LZ4F_createDecompressionContext(&raw, LZ4F_VERSION))) return std::nullopt;
  std::unique_ptr<LZ4F_dctx, decltype(&LZ4F_freeDecompressionContext)> dctx(
      raw, &LZ4F_freeDecompressionContext);
  std::string out;
  size_t hint = 1;
  while (!in.empty() && hint != 0 && out.size() < max_bytes) {
    const size_t used = out.size();
    out.resize(used + kStep);
    size_t dst = kStep, src = in.size();
    hint = LZ4F_decompress(dctx.get(), out.data() + used, &dst, in.data(), &src, nullptr);
    if (LZ4F_isError(hint)) return std::nullopt;
    out.resize(used + dst);
    in.remove_prefix(src);
  }
  if (hint != 0 || out.size() > max_bytes) return std::nullopt;
  return out;
}

std::optional<std::string> Unzstd(std::string_view in, size_t max_bytes) {
  std::unique_ptr<ZSTD_DCtx, decltype(&ZSTD_freeDCtx)> dctx(ZSTD_createDCtx(), &ZSTD_freeDCtx);
  if (!dctx) return std::nullopt;
  std::string out;
  ZSTD_inBuffer input{in.data(), in.size(), 0};
  size_t rc = 1;
  while (rc != 0 && out.size() < max_bytes) {
    const size_t used = out.size();
    out.resize(used + kStep);
    ZSTD_outBuffer output{out.data() + used, kStep, 0};
    rc = ZSTD_decompressStream(dctx.get(), &output, &input);
    if (ZSTD_isError(rc)) return std::nullopt;
    out.resize(used + output.pos);
    if (input.pos == input.size && output.pos < kStep && rc != 0) return std::nullopt;  // truncated
  }
  if (rc != 0 || out.size() > max_bytes) return std::nullopt;
  return out;
}

}  // namespace

std::optional<std::string> Decompress(Codec codec, std::string_view in, size_t max_bytes) {
  switch (codec) {
    case Codec::kGzip: return Gunzip(in, max_bytes);
    case Codec::kSnappy: return Unsnappy(in, max_bytes);
    case Codec::kLz4: return Unlz4(in, max_bytes);
    case Codec::kZstd: return Unzstd(in, max_bytes);
    case Codec::kNone: break;
  }
  return std::nullopt;
}

}  // namespace cairn::kafka
