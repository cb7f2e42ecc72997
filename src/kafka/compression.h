// The record batch codecs (attributes & 7): gzip (zlib), snappy (raw or xerial-framed, as Java
// clients write it), lz4 (frame format) and zstd, all Debian libraries. Decoding only: Cairn
// answers Fetch with uncompressed batches. Called by record_batch.cc.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace cairn::kafka {

enum class Codec { kNone = 0, kGzip = 1, kSnappy = 2, kLz4 = 3, kZstd = 4 };

// The records of a compressed batch, or nothing when `in` is not valid for `codec` or would
// grow past `max_bytes` (a decompression bomb). REQUIRES: codec != kNone.
std::optional<std::string> Decompress(Codec codec, std::string_view in, size_t max_bytes);

}  // namespace cairn::kafka
