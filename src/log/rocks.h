// Internal bridge between Cairn's Store types and RocksDB, for src/log only. Nothing outside
// src/log includes RocksDB headers.
#pragma once

#include <rocksdb/db.h>
#include <rocksdb/options.h>
#include <rocksdb/write_batch.h>

#include <initializer_list>
#include <string>
#include <string_view>

#include "cairn/store.h"

namespace cairn {

// Converts a RocksDB status; `context` says what was being done ("write", "opening DIR").
Status FromRocks(const rocksdb::Status& s, std::string_view context);
rocksdb::ColumnFamilyHandle* HandleOf(Family* family);
rocksdb::WriteBatch* RocksBatchOf(WriteBatch& batch);
const rocksdb::Snapshot* RocksSnapshotOf(const Snapshot* snapshot);
// Appends every record of `src` to `dst` (RocksDB keeps its own Append private). Copies `dst`:
// to join many batches use BatchConcatenation.
void AppendRocksBatch(rocksdb::WriteBatch* dst, const rocksdb::WriteBatch& src);

// Builds one WriteBatch from puts and whole WriteBatches, in time linear in their total size:
// the group-commit writer's batch of many appends (their puts), each with its own extra writes
// (a batch).
class BatchConcatenation {
 public:
  void Append(const rocksdb::WriteBatch& part);
  // Appends a put of `key` = `value` (each in parts, joined) to `family`: what
  // WriteBatch::Put would write, without a batch to copy from.
  void Put(rocksdb::ColumnFamilyHandle* family, std::initializer_list<std::string_view> key,
           std::initializer_list<std::string_view> value);
  uint32_t Count() const { return count_; }
  // The joined batch; leaves this empty.
  rocksdb::WriteBatch Finish();

  static constexpr size_t kHeader = 12;  // RocksDB's batch header: 8-byte seq, 4-byte count

 private:
  std::string rep_ = std::string(kHeader, '\0');
  uint32_t count_ = 0;
};

// Three of the log's families (log/topics.cc), which the store tunes by name, for an existing
// dir as for a new one (FamilyOptionsFor):
//   kLogFamily          the events, at 16-byte keys: topic, partition (4 bytes each), offset
//   kStreamIndexFamily  one key per append: the stream's name, a '\0', and the big-endian
//                       version of the append's first event
//   kEventIdFamily      an event id -> its log key, for the ids that are not positional
inline constexpr std::string_view kLogFamily = "log";
inline constexpr std::string_view kStreamIndexFamily = "streams";
inline constexpr std::string_view kEventIdFamily = "ids";
// The options of the family `name` of `kind`: `store_options`, with memtable insert hints for
// the log's first two families and a memtable bloom filter for the ids (see store.cc), and late
// compactions for kScratch. (A family of an existing dir is opened as kOrdered: a scratch family
// is not kept across opens.)
rocksdb::ColumnFamilyOptions FamilyOptionsFor(std::string_view name,
                                              const rocksdb::ColumnFamilyOptions& store_options,
                                              FamilyKind kind);

inline std::string_view ToView(const rocksdb::Slice& s) { return {s.data(), s.size()}; }
inline rocksdb::Slice ToSlice(std::string_view s) { return {s.data(), s.size()}; }

}  // namespace cairn
