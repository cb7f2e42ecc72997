// Internal bridge between Cairn's Store types and RocksDB, for src/log only. Nothing outside
// src/log includes RocksDB headers.
#pragma once

#include <rocksdb/db.h>
#include <rocksdb/write_batch.h>

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

// Joins WriteBatches into one in time linear in their total size: the group-commit writer's
// batch of many appends, each with its own extra writes.
class BatchConcatenation {
 public:
  void Append(const rocksdb::WriteBatch& part);
  uint32_t Count() const { return count_; }
  // The joined batch; leaves this empty.
  rocksdb::WriteBatch Finish();

  static constexpr size_t kHeader = 12;  // RocksDB's batch header: 8-byte seq, 4-byte count

 private:
  std::string rep_ = std::string(kHeader, '\0');
  uint32_t count_ = 0;
};

// Rewrites `batch` with its records ordered by family and key, those of one key in their order,
// so its effect is the same; RocksDB then inserts each family's keys into the memtable in order,
// each next to the one before (its skiplist reuses the previous search), instead of searching
// from the top for each. A batch whose families each come in key order already is left as it
// is. Returns false, and leaves the batch as it was, when the batch holds a record other than a
// put, a delete or a merge.
bool SortInKeyOrder(rocksdb::WriteBatch* batch);

inline std::string_view ToView(const rocksdb::Slice& s) { return {s.data(), s.size()}; }
inline rocksdb::Slice ToSlice(std::string_view s) { return {s.data(), s.size()}; }

}  // namespace cairn
