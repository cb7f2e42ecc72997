// The data dir: one RocksDB database and its column families ("families"). Everything Cairn keeps
// lives here: the log (src/log), the write model of aggregates, projection checkpoints and read
// models. This is the only public type that knows RocksDB exists; the rest of Cairn talks to it
// through Family handles, WriteBatch, Get and Scan.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "cairn/status.h"

namespace rocksdb {
class DB;
class WriteBatch;
class Snapshot;
}  // namespace rocksdb

namespace cairn {

// How the store flushes its write-ahead log when a batch is written.
enum class SyncMode {
  kAlways,  // fsync before a write is acknowledged: survives power loss
  kBatch,   // fsync at most every StoreOptions::batch_sync_interval_ms: loses at most that much
  kNone,    // WAL written to the OS, not fsynced: survives a process crash, not power loss
};
// Parses "always", "batch" or "none".
Result<SyncMode> ParseSyncMode(std::string_view text);
std::string_view SyncModeName(SyncMode mode);

struct StoreOptions {
  // Create the data dir if it does not exist. Default: true.
  bool create_if_missing = true;
  // Durability of writes made through Store::Write with durable = true. Default: kAlways.
  SyncMode sync = SyncMode::kAlways;
  // With SyncMode::kBatch, the longest an acknowledged write stays un-fsynced. Default: 5 ms.
  uint32_t batch_sync_interval_ms = 5;
  // Block cache shared by every family. Default: 256 MiB.
  size_t block_cache_bytes = 256u << 20;
  // Memtable size per family. Default: 64 MiB.
  size_t write_buffer_bytes = 64u << 20;
  // Open read-only (no lock taken; used by tools reading a backup). Default: false.
  bool read_only = false;
};

class Store;

// An open column family. Handles stay valid until the family is dropped or the store closes.
struct Family;

// What a family is tuned for.
enum class FamilyKind {
  kOrdered,   // range scans in key order (the log, indexes)
  kPointLookup,  // mostly Get by key: adds a bloom filter
  kCounters,  // values are 8-byte little-endian signed integers combined by Merge (add)
  // Written in bulk, read once and dropped (the consistency check's replay): RocksDB compacts
  // it late (work that the drop throws away), see FamilyOptionsFor.
  kScratch,
};

// A set of writes applied atomically by Store::Write (or by the log, together with an append).
class WriteBatch {
 public:
  WriteBatch();
  ~WriteBatch();
  WriteBatch(WriteBatch&&) noexcept;
  WriteBatch& operator=(WriteBatch&&) noexcept;

  void Put(Family* family, std::string_view key, std::string_view value);
  void Delete(Family* family, std::string_view key);
  // Adds `delta` to the counter at `key` (family must be FamilyKind::kCounters).
  void AddCounter(Family* family, std::string_view key, int64_t delta);
  // Deletes every key in [begin, end).
  void DeleteRange(Family* family, std::string_view begin, std::string_view end);
  // Appends every operation of `other` after this batch's.
  void Append(const WriteBatch& other);

  size_t Count() const;
  size_t ByteSize() const;
  bool empty() const { return Count() == 0; }
  void Clear();

 private:
  friend class Store;
  friend rocksdb::WriteBatch* RocksBatchOf(WriteBatch& batch);
  struct Rep;
  std::unique_ptr<Rep> rep_;
};

// A batch whose reads see its own writes on top of the database: a projection batch, where the
// second event sees what the first wrote. Writes to the same key are coalesced (the last Put or
// Delete plus the counter deltas after it), so the commit writes each key once, with the same
// effect as applying every operation in order. One owner at a time.
class IndexedBatch {
 public:
  explicit IndexedBatch(Store* store);
  ~IndexedBatch();
  IndexedBatch(const IndexedBatch&) = delete;
  IndexedBatch& operator=(const IndexedBatch&) = delete;

  void Put(Family* family, std::string_view key, std::string_view value);
  void Delete(Family* family, std::string_view key);
  void AddCounter(Family* family, std::string_view key, int64_t delta);
  // The value as this batch would leave it (its own writes applied over the database). Const
  // to its callers, yet the first read indexes the batch: no other call may run meanwhile.
  Result<std::optional<std::string>> Get(Family* family, std::string_view key) const;
  // Writes held: the distinct keys written, except that before the batch's first read a key
  // written n times may count n times (writes are coalesced from the first read on, and at
  // the latest by the commit).
  size_t Count() const;
  // How Ingest writes its table files.
  enum class Files {
    kLasting,  // with the family's compression: a read model's tables
    // Uncompressed: a scratch generation that is read once and dropped (the consistency
    // check's replay). Cheaper to write and to read back. (Filters stay: a projection's
    // handler looks up keys the generation does not have yet.)
    kScratch,
  };
  // Applies the batch atomically (see Store::Write for `durable`), then empties it.
  Status Commit(bool durable);
  // Applies the batch as sorted table files, one per family (or several of adjacent key
  // ranges: see PrepareIngest), that RocksDB takes in atomically (IngestExternalFiles: no WAL,
  // no memtable), then empties it. Durable once it returns (the files and RocksDB's manifest
  // are fsynced). Each call adds files that compactions merge later, so it pays for large
  // batches into families that nothing else writes meanwhile: a rebuild's or a check's new
  // generation.
  // Ingests the files PrepareIngest wrote if the batch took no write since (and `style` is
  // theirs), else writes them first (on `threads`). Empties the batch, also when it fails.
  Status Ingest(Files style = Files::kLasting, size_t threads = 1);
  // The costly part of Ingest without the ingest: sorts the batch and writes its table files
  // (RocksDB does not see them), so that a caller may do it on several threads before it knows
  // whether it will ingest. Up to `threads` files are written at once: a family of many writes
  // gets one file per thread, each a part of its key range. Files not ingested are removed
  // when the batch is emptied (Commit, Ingest) or destroyed, and after a crash at the next
  // open. Writing to the batch afterwards makes Ingest write them again.
  Status PrepareIngest(Files style = Files::kLasting, size_t threads = 1);

 private:
  struct Rep;
  Store* store_;
  std::unique_ptr<Rep> rep_;
};

// A point-in-time view for consistent multi-key reads. Release by destroying it.
class Snapshot {
 public:
  ~Snapshot();
  Snapshot(const Snapshot&) = delete;
  Snapshot& operator=(const Snapshot&) = delete;

 private:
  friend class Store;
  friend const rocksdb::Snapshot* RocksSnapshotOf(const Snapshot* snapshot);
  Snapshot() = default;
  struct Rep;
  std::unique_ptr<Rep> rep_;
};

// A forward cursor over one family's keys in order, as of a snapshot (or of its creation). The
// views are valid until the next Next(). Iterating stops early on an error: check status().
class StoreIterator {
 public:
  ~StoreIterator();
  StoreIterator(const StoreIterator&) = delete;
  StoreIterator& operator=(const StoreIterator&) = delete;

  bool Valid() const;
  std::string_view key() const;
  std::string_view value() const;
  void Next();
  Status status() const;

 private:
  friend class Store;
  StoreIterator() = default;
  struct Rep;
  std::unique_ptr<Rep> rep_;
};

// Decodes the value of a kCounters family.
int64_t DecodeCounter(std::string_view value);
// The 8-byte little-endian form of a counter value, as AddCounter and the merge operator use.
std::string EncodeCounter(int64_t value);

class Store {
 public:
  // Opens (or creates) the database in `dir`, opening every family it already has.
  // Errors: kBusy when another process holds the dir; kIOError / kCorruption from the disk.
  static Result<std::unique_ptr<Store>> Open(const std::string& dir, const StoreOptions& options);
  // Syncs the WAL and flushes the families that took counter additions, so that the closed dir
  // opens read-only with any RocksDB options, also without Cairn's merge operator (store.cc
  // says why). REQUIRES: no Family handle is used any more.
  ~Store();
  Store(const Store&) = delete;
  Store& operator=(const Store&) = delete;

  const std::string& dir() const { return dir_; }
  const StoreOptions& options() const { return options_; }

  // The family called `name`, created with `kind` if it does not exist yet (an existing
  // family keeps what it was created with while the store is open). Thread-safe.
  Result<Family*> OpenFamily(const std::string& name, FamilyKind kind);
  // OpenFamily for each name, in that order, creating the missing ones together: RocksDB
  // rewrites (and re-reads) its OPTIONS file once per create or drop call, which costs more
  // than a small rebuild when it is done per table. If creating fails, the families created
  // before the failure exist.
  Result<std::vector<Family*>> OpenFamilies(const std::vector<std::string>& names,
                                            FamilyKind kind);
  // The family called `name` if it exists, else nullptr. Thread-safe.
  Family* FindFamily(const std::string& name) const;
  // Names of existing families that start with `prefix`, sorted.
  std::vector<std::string> FamilyNames(std::string_view prefix = {}) const;
  // Drops the family and its data. REQUIRES: nobody uses the handle any more.
  Status DropFamily(const std::string& name);
  // DropFamily for each name, in one RocksDB call (see OpenFamilies). Names that do not exist
  // are kNotFound and nothing is dropped. If dropping fails, the families that were dropped are
  // gone (from RocksDB and from FamilyNames) and the others stay.
  Status DropFamilies(const std::vector<std::string>& names);

  // Applies `batch` atomically. With durable = true it obeys options().sync; with false the WAL is
  // written but never fsynced by this call (checkpoints of rebuilds that can be redone).
  // After a failed write or WAL sync (a full disk, an I/O error) the store stops writing: every
  // write and sync fails with kIOError naming the first failure, without reaching RocksDB, until
  // ResumeWrites succeeds (RocksDB's WAL writer must not be used again after an error).
  Status Write(WriteBatch& batch, bool durable);
  // The one fsync point outside Write: makes everything written so far durable.
  Status SyncWal();
  // Ends a stop after a failed write once the disk takes writes again: RocksDB's DB::Resume,
  // which drops what the failed write left in memory (it is never replayed) and starts a new WAL.
  // Ok when the store writes (also when it had not stopped), else why it cannot yet.
  Status ResumeWrites();

  // Point read. nullopt when absent.
  Result<std::optional<std::string>> Get(Family* family, std::string_view key,
                                         const Snapshot* snapshot = nullptr) const;

  // Visits keys in [lower, upper) in order (reverse = descending), stopping when `visit`
  // returns false. An empty `upper` means "to the end of the family". The views are valid only
  // during the call.
  using Visitor = std::function<bool(std::string_view key, std::string_view value)>;
  Status Scan(Family* family, std::string_view lower, std::string_view upper, const Visitor& visit,
              bool reverse = false, const Snapshot* snapshot = nullptr) const;

  // An iterator over the keys of `family` in [lower, upper) (an empty upper: to the end), from
  // the first, for a scan that walks two families side by side (Scan's visitor cannot). It does
  // not fill the block cache: for one pass over a whole table.
  std::unique_ptr<StoreIterator> NewIterator(Family* family, const Snapshot* snapshot = nullptr,
                                             std::string_view lower = {},
                                             std::string_view upper = {}) const;

  std::unique_ptr<Snapshot> TakeSnapshot() const;

  // Writes a consistent copy of the whole store into `target_dir` (which must not exist), using
  // hard links where the filesystem allows. Safe while writes go on.
  Status Checkpoint(const std::string& target_dir);

  // Table files IndexedBatch::Ingest has handed to RocksDB since the store opened.
  uint64_t IngestedFiles() const;

  // Approximate number of keys in a family (RocksDB's estimate).
  uint64_t EstimateKeys(Family* family) const;
  // RocksDB's estimate, summed over every family, of the bytes its compactions must rewrite to
  // bring each level under its target size. 0 while level 0 holds fewer files than start a
  // compaction (those are compacted later all the same); memtables are not counted.
  uint64_t PendingCompactionBytes() const;
  // Compacts every family down to its bottom level and returns when done (minutes on a large
  // dir, with free space to rewrite the largest family): with no writes meanwhile, nothing is
  // left pending (benchmarks start each workload from such a dir). Families cannot be opened
  // or dropped until it returns. REQUIRES: not read-only.
  Status CompactAll();

  // For src/log only (see src/log/rocks.h): the database, and Write for a RocksDB batch.
  rocksdb::DB* db() const;
  Status WriteRocksBatch(rocksdb::WriteBatch* batch, bool durable);

 private:
  friend class IndexedBatch;  // counts its ingested files
  struct Rep;
  Store(std::string dir, StoreOptions options);
  void CountIngestedFiles(uint64_t files);
  std::string dir_;
  StoreOptions options_;
  std::unique_ptr<Rep> rep_;
};

}  // namespace cairn
