// The log's format marker (see format.h).
#include "log/format.h"

#include <string>
#include <string_view>

#include "base/bytes.h"

namespace cairn {
namespace {

// The on-disk format of the log's families, stored under kFormatKey in RocksDB's default family
// (which no Cairn code reads otherwise, so builds from before the marker still open the dir).
// 1: data dirs from before the marker existed; 2: generated event ids hold their position and
// have no `ids` entry; 3: new envelopes are format 3 (envelope.h: no topic, partition or
// offset in the value, ids as 16 bytes); 4: a stream's head is read from its last run in the
// stream index, and the `heads` family is no longer written (an older build would read stale
// heads there, so it must refuse the dir). Envelopes are never rewritten: a dir raised from 2
// to 3 keeps its older envelopes, which every read decodes by their first byte. A build refuses a
// data dir of a newer format, and raises an older one to its own when it opens it writable
// (upgrades are one-way: a format 2 build refuses the raised dir with "upgrade cairn").
constexpr uint32_t kLogFormat = 4;
constexpr std::string_view kFormatKey = "cairn.log.format";

}  // namespace

Status CheckAndRecordFormat(Store* store) {
  Family* meta = store->FindFamily("default");
  if (meta == nullptr) return Status::Internal("the store has no default family");
  CAIRN_ASSIGN_OR_RETURN(std::optional<std::string> stored, store->Get(meta, kFormatKey));
  uint32_t format = 1;
  if (stored.has_value()) {
    if (stored->size() != 4) return Status::Corruption("malformed log format marker");
    format = bytes::GetBigEndian32(*stored);
  }
  if (format > kLogFormat) {
    return Status::InvalidArgument("data dir " + store->dir() +
                                   " was written by a newer Cairn (log format " +
                                   std::to_string(format) + "; this build reads formats up to " +
                                   std::to_string(kLogFormat) + "): upgrade cairn");
  }
  if (format == kLogFormat || store->options().read_only) return Status::Ok();
  std::string value;
  bytes::PutBigEndian32(&value, kLogFormat);
  WriteBatch batch;
  batch.Put(meta, kFormatKey, value);
  return store->Write(batch, /*durable=*/true);
}

}  // namespace cairn
