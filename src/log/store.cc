// The data dir as one RocksDB database with column families (include/cairn/store.h). The only
// place that turns rocksdb::Status into cairn::Status, and the one place that decides when the
// write-ahead log is fsynced (Store::Write, and the batch-mode syncer thread).
#include "cairn/store.h"

#include <rocksdb/convenience.h>
#include <rocksdb/db.h>
#include <rocksdb/filter_policy.h>
#include <rocksdb/merge_operator.h>
#include <rocksdb/slice_transform.h>
#include <rocksdb/sst_file_writer.h>
#include <rocksdb/table.h>
#include <rocksdb/utilities/checkpoint.h>
#include <rocksdb/utilities/write_batch_with_index.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cstdarg>
#include <cstdio>
#include <atomic>
#include <condition_variable>
#include <cstring>
#include <filesystem>
#include <functional>
#include <map>
#include <optional>
#include <vector>
#include <mutex>
#include <shared_mutex>
#include <thread>

#include "base/bytes.h"
#include "base/parallel.h"
#include "log/rocks.h"

namespace cairn {

struct Family {
  std::string name;
  rocksdb::ColumnFamilyHandle* handle = nullptr;
};

Status FromRocks(const rocksdb::Status& s, std::string_view context) {
  if (s.ok()) return Status::Ok();
  std::string msg = std::string(context) + ": " + s.ToString();
  if (s.IsCorruption()) return Status::Corruption(std::move(msg));
  if (s.IsNotFound()) return Status::NotFound(std::move(msg));
  if (s.IsInvalidArgument()) return Status::InvalidArgument(std::move(msg));
  return Status::IOError(std::move(msg));
}

rocksdb::ColumnFamilyHandle* HandleOf(Family* family) { return family->handle; }

namespace {

// Adds 8-byte little-endian signed integers: the counters of read models (FamilyKind::kCounters).
class CounterAddOperator : public rocksdb::AssociativeMergeOperator {
 public:
  bool Merge(const rocksdb::Slice&, const rocksdb::Slice* existing, const rocksdb::Slice& value,
             std::string* new_value, rocksdb::Logger*) const override {
    int64_t sum = DecodeCounter(std::string_view(value.data(), value.size()));
    if (existing) sum += DecodeCounter(std::string_view(existing->data(), existing->size()));
    new_value->assign(EncodeCounter(sum));
    return true;
  }
  const char* Name() const override { return "cairn.CounterAdd"; }
};

}  // namespace

std::string EncodeCounter(int64_t value) {
  std::string out(8, '\0');
  const auto u = static_cast<uint64_t>(value);
  for (int i = 0; i < 8; ++i) out[i] = static_cast<char>((u >> (8 * i)) & 0xff);
  return out;
}

int64_t DecodeCounter(std::string_view value) {
  if (value.size() != 8) return 0;
  uint64_t u = 0;
  for (int i = 0; i < 8; ++i) u |= uint64_t(static_cast<unsigned char>(value[i])) << (8 * i);
  return static_cast<int64_t>(u);
}

Result<SyncMode> ParseSyncMode(std::string_view text) {
  if (text == "always") return SyncMode::kAlways;
  if (text == "batch") return SyncMode::kBatch;
  if (text == "none") return SyncMode::kNone;
  return Status::InvalidArgument("sync must be one of always, batch, none (got '" +
                                     std::string(text) + "')",
                                 "sync");
}

std::string_view SyncModeName(SyncMode mode) {
  switch (mode) {
    case SyncMode::kAlways: return "always";
    case SyncMode::kBatch: return "batch";
    case SyncMode::kNone: return "none";
  }
  return "?";
}

// ---- WriteBatch -------------------------------------------------------------------------------

struct WriteBatch::Rep {
  rocksdb::WriteBatch batch;
};

WriteBatch::WriteBatch() : rep_(std::make_unique<Rep>()) {}
WriteBatch::~WriteBatch() = default;
WriteBatch::WriteBatch(WriteBatch&&) noexcept = default;
WriteBatch& WriteBatch::operator=(WriteBatch&&) noexcept = default;

void WriteBatch::Put(Family* family, std::string_view key, std::string_view value) {
  rep_->batch.Put(family->handle, rocksdb::Slice(key.data(), key.size()),
                  rocksdb::Slice(value.data(), value.size()));
}

void WriteBatch::Delete(Family* family, std::string_view key) {
  rep_->batch.Delete(family->handle, rocksdb::Slice(key.data(), key.size()));
}

void WriteBatch::AddCounter(Family* family, std::string_view key, int64_t delta) {
  const std::string v = EncodeCounter(delta);
  rep_->batch.Merge(family->handle, rocksdb::Slice(key.data(), key.size()), v);
}

void WriteBatch::DeleteRange(Family* family, std::string_view begin, std::string_view end) {
  rep_->batch.DeleteRange(family->handle, rocksdb::Slice(begin.data(), begin.size()),
                          rocksdb::Slice(end.data(), end.size()));
}

void WriteBatch::Append(const WriteBatch& other) { AppendRocksBatch(&rep_->batch, other.rep_->batch); }

size_t WriteBatch::Count() const { return rep_->batch.Count(); }
size_t WriteBatch::ByteSize() const { return rep_->batch.GetDataSize(); }
void WriteBatch::Clear() { rep_->batch.Clear(); }

rocksdb::WriteBatch* RocksBatchOf(WriteBatch& batch) { return &batch.rep_->batch; }

// A WriteBatch's representation is RocksDB's WAL record format: a 12-byte header (8-byte
// sequence, 4-byte little-endian count) followed by the records. RocksDB keeps
// WriteBatchInternal::Append private, so we concatenate records and add the counts the same way.
void AppendRocksBatch(rocksdb::WriteBatch* dst, const rocksdb::WriteBatch& src) {
  constexpr size_t kHeader = BatchConcatenation::kHeader;
  if (src.Count() == 0) return;
  std::string rep = dst->Data();
  const uint32_t count = dst->Count() + src.Count();
  rep.append(src.Data(), kHeader, std::string::npos);
  for (int i = 0; i < 4; ++i) rep[8 + i] = static_cast<char>((count >> (8 * i)) & 0xff);
  *dst = rocksdb::WriteBatch(std::move(rep));
}

void BatchConcatenation::Append(const rocksdb::WriteBatch& part) {
  if (part.Count() == 0) return;
  rep_.append(part.Data(), kHeader, std::string::npos);
  count_ += part.Count();
}

void BatchConcatenation::Put(rocksdb::ColumnFamilyHandle* family,
                             std::initializer_list<std::string_view> key,
                             std::initializer_list<std::string_view> value) {
  // A record of RocksDB's batch (and WAL) format, which every RocksDB reads: a type byte
  // (kTypeColumnFamilyValue), the family's id, then key and value, each a varint32 length and
  // its bytes. (RocksDB's varint32 is the same LEB128 as bytes::PutVarint64.)
  constexpr char kTypeColumnFamilyValue = 0x5;
  const auto put_parts = [&](std::initializer_list<std::string_view> parts) {
    size_t size = 0;
    for (std::string_view part : parts) size += part.size();
    bytes::PutVarint64(&rep_, size);
    for (std::string_view part : parts) rep_.append(part);
  };
  rep_.push_back(kTypeColumnFamilyValue);
  bytes::PutVarint64(&rep_, family->GetID());
  put_parts(key);
  put_parts(value);
  ++count_;
}

rocksdb::WriteBatch BatchConcatenation::Finish() {
  for (int i = 0; i < 4; ++i) rep_[8 + i] = static_cast<char>((count_ >> (8 * i)) & 0xff);
  rocksdb::WriteBatch batch(std::move(rep_));
  rep_.assign(kHeader, '\0');
  count_ = 0;
  return batch;
}

// ---- IndexedBatch -----------------------------------------------------------------------------
//
// Not RocksDB's WriteBatchWithIndex: a projection batch is thousands of small writes that often
// hit the same keys (a counter per type, a view per order), and WBWI indexes every write in a
// skiplist and makes a read of a counter merge every operand written so far. Here the batch
// keeps one coalesced entry per key (the last Put or Delete, with the counter deltas added
// since), so a read is one lookup and the commit writes each key once. The effect on the
// database is the same as writing every operation in order.
//
// Layout, for speed (a rebuild makes ~10 writes per event, and a node-based hash map with a
// heap key per write spent a third of a rebuild in malloc, free and cache misses): the keys
// back to back in one arena string and the values in another (a value rewritten in its old
// place when it fits, else appended), the entries in a vector, and an open-addressing table of
// entry numbers (linear probing, at most half full).

namespace {

struct PendingWrite {
  enum class Kind : uint8_t { kPut, kDelete, kAdd };
  Family* family = nullptr;
  size_t key_offset = 0;  // into Rep::keys
  uint32_t key_size = 0;
  Kind kind = Kind::kAdd;
  uint32_t value_size = 0;  // kPut: the value, at value_offset in Rep::values
  size_t value_offset = 0;
  uint64_t hash = 0;
  int64_t delta = 0;  // kAdd: the sum of the counter deltas (applied to the stored value)
};

}  // namespace

struct IndexedBatch::Rep {
  // A slot of the hash table: 1 + an index into `writes` (0 when free) and the high half of
  // that write's hash, so a probe reads a write (a cache miss, in a batch of 100,000s) only
  // when the hashes agree.
  struct Slot {
    uint32_t write = 0;
    uint32_t tag = 0;
  };
  std::string keys;
  std::string values;
  std::vector<PendingWrite> writes;  // in the order of their first write
  // Whether `slots` (size 2^k) indexes `writes`, which then hold one entry per key. A batch
  // starts without: each operation appends a write, unhashed (the search index's terms,
  // written once and never read back, pay no hashing). The first read, or a commit that finds
  // a key written twice, hashes the batch (Index), and operations coalesce from then on.
  bool hashed = false;
  std::vector<Slot> slots;

  std::string_view KeyOf(const PendingWrite& w) const {
    return std::string_view(keys).substr(w.key_offset, w.key_size);
  }
  std::string_view ValueOf(const PendingWrite& w) const {
    return std::string_view(values).substr(w.value_offset, w.value_size);
  }
  // Makes `w` a Put of `value`: in the place of its previous value when that was a Put at least
  // as long (a key rewritten per event keeps one copy, not one per write), else appended.
  void SetValue(PendingWrite& w, std::string_view value) {
    if (w.kind == PendingWrite::Kind::kPut && value.size() <= w.value_size) {
      std::memmove(values.data() + w.value_offset, value.data(), value.size());
    } else {
      w.kind = PendingWrite::Kind::kPut;
      w.value_offset = values.size();
      values.append(value);
    }
    w.value_size = static_cast<uint32_t>(value.size());
    w.delta = 0;
  }
  static uint64_t Hash(const Family* family, std::string_view key) {
    return std::hash<std::string_view>()(key) ^
           (reinterpret_cast<uintptr_t>(family) * 0x9E3779B97F4A7C15ull);
  }
  static uint32_t TagOf(uint64_t hash) { return static_cast<uint32_t>(hash >> 32); }
  // The slot holding (family, key), or the free slot where it belongs. REQUIRES: slots not empty.
  size_t Probe(const Family* family, std::string_view key, uint64_t hash) const {
    const size_t mask = slots.size() - 1;
    const uint32_t tag = TagOf(hash);
    for (size_t i = hash & mask;; i = (i + 1) & mask) {
      const Slot& slot = slots[i];
      if (slot.write == 0) return i;
      if (slot.tag != tag) continue;
      const PendingWrite& w = writes[slot.write - 1];
      if (w.hash == hash && w.family == family && KeyOf(w) == key) return i;
    }
  }
  // The entry of (family, key), nullptr when the batch has not written it.
  const PendingWrite* Find(const Family* family, std::string_view key) {
    Index();
    const uint32_t write = slots[Probe(family, key, Hash(family, key))].write;
    return write == 0 ? nullptr : &writes[write - 1];
  }
  // The write an operation on (family, key) goes to: the key's one entry once hashed (a new
  // one adds 0 to the counter), else a new write. Valid until the next call.
  PendingWrite& Target(Family* family, std::string_view key) {
    ++operations;
    return hashed ? Entry(family, key) : NewWrite(family, key, 0);
  }
  PendingWrite& Entry(Family* family, std::string_view key) {
    if ((writes.size() + 1) * 2 > slots.size()) Grow();
    const uint64_t hash = Hash(family, key);
    const size_t i = Probe(family, key, hash);
    if (slots[i].write != 0) return writes[slots[i].write - 1];
    slots[i] = Slot{static_cast<uint32_t>(writes.size() + 1), TagOf(hash)};
    return NewWrite(family, key, hash);
  }
  PendingWrite& NewWrite(Family* family, std::string_view key, uint64_t hash) {
    PendingWrite& w = writes.emplace_back();
    w.family = family;
    w.key_offset = keys.size();
    w.key_size = static_cast<uint32_t>(key.size());
    w.hash = hash;
    keys.append(key);
    return w;
  }
  void Grow() {
    slots.assign(std::max<size_t>(1024, slots.size() * 2), Slot{});
    const size_t mask = slots.size() - 1;
    for (size_t n = 0; n < writes.size(); ++n) {
      size_t i = writes[n].hash & mask;
      while (slots[i].write != 0) i = (i + 1) & mask;
      slots[i] = Slot{static_cast<uint32_t>(n + 1), TagOf(writes[n].hash)};
    }
  }
  // The operations, on the write Target returned.
  void Put(PendingWrite& w, std::string_view value) { SetValue(w, value); }
  static void Delete(PendingWrite& w) {
    w.kind = PendingWrite::Kind::kDelete;
    w.value_size = 0;
    w.delta = 0;
  }
  void AddCounter(PendingWrite& w, int64_t delta) {
    switch (w.kind) {
      case PendingWrite::Kind::kAdd: w.delta += delta; break;
      // The merge operator's rules: a value that is not 8 bytes counts as 0, nothing as 0.
      case PendingWrite::Kind::kPut:
        SetValue(w, EncodeCounter(DecodeCounter(ValueOf(w)) + delta));
        break;
      case PendingWrite::Kind::kDelete: SetValue(w, EncodeCounter(delta)); break;
    }
  }
  // Makes the batch hashed: the writes so far replayed in order into one entry per key.
  void Index() {
    if (hashed) return;
    hashed = true;
    std::vector<PendingWrite> appended = std::exchange(writes, {});
    const std::string appended_keys = std::exchange(keys, {});
    const std::string appended_values = std::exchange(values, {});
    size_t size = 1024;
    while (size < 2 * (appended.size() + 1)) size *= 2;
    slots.assign(size, Slot{});
    writes.reserve(appended.size());
    for (const PendingWrite& a : appended) {
      PendingWrite& w =
          Entry(a.family, std::string_view(appended_keys).substr(a.key_offset, a.key_size));
      switch (a.kind) {  // each appended write is one operation
        case PendingWrite::Kind::kPut:
          Put(w, std::string_view(appended_values).substr(a.value_offset, a.value_size));
          break;
        case PendingWrite::Kind::kDelete: Delete(w); break;
        case PendingWrite::Kind::kAdd: AddCounter(w, a.delta); break;
      }
    }
  }
  // Indexes into `writes`, by family and then by key (bytewise, as RocksDB orders them), each
  // key once: a batch that is not hashed and wrote a key twice is hashed first.
  std::vector<uint32_t> InKeyOrder();
  // The writes by family and key; `repeated`, if not null, tells whether a key is there twice.
  std::vector<uint32_t> SortedWrites(bool* repeated) const;
  // Asks the CPU to load what a loop over `ordered` (InKeyOrder) reads some writes after the
  // n-th: in key order, the writes, keys and values of a large batch are read in random places,
  // each a cache miss that prefetching overlaps with the work on the writes before it. Inlined
  // by force: GCC 12 takes a function of prefetches alone for pure and drops its calls.
  [[gnu::always_inline]] void PrefetchAhead(const std::vector<uint32_t>& ordered, size_t n) const {
    constexpr size_t kWriteAhead = 16, kBytesAhead = 8;  // a write is loaded before its bytes
    if (n + kWriteAhead < ordered.size()) __builtin_prefetch(&writes[ordered[n + kWriteAhead]]);
    if (n + kBytesAhead < ordered.size()) {
      const PendingWrite& w = writes[ordered[n + kBytesAhead]];
      __builtin_prefetch(keys.data() + w.key_offset);
      if (w.kind == PendingWrite::Kind::kPut) __builtin_prefetch(values.data() + w.value_offset);
    }
  }
  void Clear() {
    keys.clear();
    values.clear();
    writes.clear();
    hashed = false;
    RemovePrepared();
  }

  // Writes taken so far (every Put, Delete and AddCounter).
  uint64_t operations = 0;
  // Table files written by PrepareIngest and not ingested yet (one per family), and
  // `operations` then.
  std::vector<rocksdb::IngestExternalFileArg> prepared;
  uint64_t prepared_at = 0;
  IndexedBatch::Files prepared_as = IndexedBatch::Files::kLasting;
  // Removes the prepared files that are still here (an ingest moves its files away).
  void RemovePrepared() {
    for (const rocksdb::IngestExternalFileArg& arg : prepared) {
      for (const std::string& file : arg.external_files) {
        std::error_code ignored;
        std::filesystem::remove(file, ignored);
      }
    }
    prepared.clear();
  }
  ~Rep() { RemovePrepared(); }
};

IndexedBatch::IndexedBatch(Store* store) : store_(store), rep_(std::make_unique<Rep>()) {}
IndexedBatch::~IndexedBatch() = default;

void IndexedBatch::Put(Family* family, std::string_view key, std::string_view value) {
  rep_->Put(rep_->Target(family, key), value);
}

void IndexedBatch::Delete(Family* family, std::string_view key) {
  Rep::Delete(rep_->Target(family, key));
}

void IndexedBatch::AddCounter(Family* family, std::string_view key, int64_t delta) {
  rep_->AddCounter(rep_->Target(family, key), delta);
}

Result<std::optional<std::string>> IndexedBatch::Get(Family* family, std::string_view key) const {
  const PendingWrite* w = rep_->Find(family, key);
  if (w && w->kind == PendingWrite::Kind::kPut) {
    return std::optional<std::string>(std::string(rep_->ValueOf(*w)));
  }
  if (w && w->kind == PendingWrite::Kind::kDelete) return std::optional<std::string>();
  Result<std::optional<std::string>> stored = store_->Get(family, key);
  if (!stored.ok() || !w) return stored;
  const int64_t base = stored->has_value() ? DecodeCounter(**stored) : 0;
  return std::optional<std::string>(EncodeCounter(base + w->delta));
}

size_t IndexedBatch::Count() const { return rep_->writes.size(); }

std::vector<uint32_t> IndexedBatch::Rep::InKeyOrder() {
  bool repeated = false;
  std::vector<uint32_t> ordered = SortedWrites(hashed ? nullptr : &repeated);
  if (!repeated) return ordered;
  Index();
  return SortedWrites(nullptr);
}

std::vector<uint32_t> IndexedBatch::Rep::SortedWrites(bool* repeated) const {
  // Sorted by the keys' first 16 bytes, held next to the index, and only on a tie by the whole
  // keys: most comparisons then touch neither `writes` nor `keys` (a batch of a rebuild holds
  // hundreds of thousands of keys, and comparing through the indexes was a third of its time;
  // 8 bytes left the search index's keys, which start with common terms, mostly tied).
  struct Sortable {
    const Family* family;
    uint64_t high, low;  // the key's first 16 bytes, big-endian, zero-padded
    uint32_t index;
  };
  const auto big_endian = [](const unsigned char* bytes) {
    uint64_t v = 0;
    for (int i = 0; i < 8; ++i) v = v << 8 | bytes[i];
    return v;
  };
  std::vector<Sortable> sortable(writes.size());
  for (uint32_t i = 0; i < sortable.size(); ++i) {
    const std::string_view key = KeyOf(writes[i]);
    unsigned char bytes[16] = {};
    std::memcpy(bytes, key.data(), std::min<size_t>(key.size(), 16));
    sortable[i] = {writes[i].family, big_endian(bytes), big_endian(bytes + 8), i};
  }
  std::sort(sortable.begin(), sortable.end(), [this](const Sortable& x, const Sortable& y) {
    if (x.family != y.family) return std::less<const Family*>()(x.family, y.family);
    if (x.high != y.high) return x.high < y.high;
    if (x.low != y.low) return x.low < y.low;
    return KeyOf(writes[x.index]) < KeyOf(writes[y.index]);
  });
  std::vector<uint32_t> ordered(sortable.size());
  for (size_t i = 0; i < ordered.size(); ++i) ordered[i] = sortable[i].index;
  if (repeated) {
    *repeated = false;
    for (size_t i = 1; i < sortable.size() && !*repeated; ++i) {
      const Sortable& x = sortable[i - 1];
      const Sortable& y = sortable[i];
      *repeated = x.family == y.family && x.high == y.high && x.low == y.low &&
                  KeyOf(writes[x.index]) == KeyOf(writes[y.index]);
    }
  }
  return ordered;
}

Status IndexedBatch::Commit(bool durable) {
  // In key order per family: consecutive memtable inserts then land next to each other, which
  // RocksDB's skiplist makes cheap (it reuses the previous insert's search path); hash order
  // made each insert a full search.
  rocksdb::WriteBatch batch;
  Rep& rep = *rep_;
  const std::vector<uint32_t> ordered = rep.InKeyOrder();
  for (size_t n = 0; n < ordered.size(); ++n) {
    rep.PrefetchAhead(ordered, n);
    const PendingWrite& w = rep.writes[ordered[n]];
    const std::string_view k = rep.KeyOf(w);
    const rocksdb::Slice key(k.data(), k.size());
    switch (w.kind) {
      case PendingWrite::Kind::kPut:
        batch.Put(w.family->handle, key, ToSlice(rep.ValueOf(w)));
        break;
      case PendingWrite::Kind::kDelete: batch.Delete(w.family->handle, key); break;
      case PendingWrite::Kind::kAdd:
        batch.Merge(w.family->handle, key, EncodeCounter(w.delta));
        break;
    }
  }
  rep_->Clear();
  if (batch.Count() == 0) return Status::Ok();
  return store_->WriteRocksBatch(&batch, durable);
}

namespace {

// Where IndexedBatch::Ingest writes its table files before RocksDB takes them; Store::Open
// empties it (what a crash left there was never ingested).
std::string IngestDir(const Store& store) { return store.dir() + "/ingest"; }

using TableFill = std::function<rocksdb::Status(rocksdb::SstFileWriter&)>;

// A family's writes are cut into several table files (for several threads) only in parts of at
// least this many: each file costs an open, an fsync and a place in the LSM tree.
constexpr size_t kMinIngestPartWrites = 32768;

// The options of `family` for table files written as `files` says.
rocksdb::Options TableFileOptions(Store* store, Family* family, IndexedBatch::Files files) {
  rocksdb::Options options = store->db()->GetOptions(family->handle);
  if (files == IndexedBatch::Files::kScratch) {
    options.compression = rocksdb::kNoCompression;
    options.bottommost_compression = rocksdb::kNoCompression;
  }
  return options;
}

// Writes one sorted table file for `family` with `fill` (keys in order, each once) and returns
// its path. Nothing is left behind on failure.
Result<std::string> WriteTableFile(Store* store, Family* family, IndexedBatch::Files files,
                                   const TableFill& fill) {
  static std::atomic<uint64_t> next_file{0};
  std::error_code error;
  std::filesystem::create_directories(IngestDir(*store), error);
  if (error) return Status::IOError("creating " + IngestDir(*store) + ": " + error.message());
  const std::string path = IngestDir(*store) + "/" + std::to_string(next_file++) + ".sst";
  rocksdb::SstFileWriter writer(rocksdb::EnvOptions(), TableFileOptions(store, family, files),
                                family->handle);
  rocksdb::Status s = writer.Open(path);
  if (s.ok()) s = fill(writer);
  if (s.ok()) s = writer.Finish();  // also fsyncs the file
  if (!s.ok()) {
    std::filesystem::remove(path, error);
    return FromRocks(s, "writing " + path);
  }
  return path;
}

}  // namespace

Status IndexedBatch::PrepareIngest(Files style, size_t threads) {
  Rep& rep = *rep_;
  rep.RemovePrepared();
  threads = std::max<size_t>(threads, 1);
  const std::vector<uint32_t> ordered = rep.InKeyOrder();
  // The files to write: `ordered` holds each family's writes next to each other, by key; a
  // family of many writes is cut into up to `threads` files of adjacent key ranges, which
  // IngestExternalFiles takes together as they do not overlap.
  struct Part {
    Family* family;
    size_t begin, end;  // in `ordered`
  };
  std::vector<Part> parts;
  for (size_t begin = 0; begin < ordered.size();) {
    Family* family = rep.writes[ordered[begin]].family;
    size_t end = begin;
    while (end < ordered.size() && rep.writes[ordered[end]].family == family) ++end;
    const size_t cuts = std::clamp<size_t>((end - begin) / kMinIngestPartWrites, 1, threads);
    for (size_t c = 0; c < cuts; ++c) {
      parts.push_back({family, begin + (end - begin) * c / cuts,
                       begin + (end - begin) * (c + 1) / cuts});
    }
    begin = end;
  }
  std::vector<Result<std::string>> files(parts.size(), Status::Internal("not written"));
  ForEachInParallel(parts.size(), threads, [&](size_t i) {
    const Part& part = parts[i];
    files[i] = WriteTableFile(store_, part.family, style, [&](rocksdb::SstFileWriter& out) {
      rocksdb::Status s;
      for (size_t n = part.begin; n < part.end && s.ok(); ++n) {
        rep.PrefetchAhead(ordered, n);
        const PendingWrite& w = rep.writes[ordered[n]];
        const std::string_view k = rep.KeyOf(w);
        const rocksdb::Slice key(k.data(), k.size());
        switch (w.kind) {
          case PendingWrite::Kind::kPut: s = out.Put(key, ToSlice(rep.ValueOf(w))); break;
          case PendingWrite::Kind::kDelete: s = out.Delete(key); break;
          case PendingWrite::Kind::kAdd: s = out.Merge(key, EncodeCounter(w.delta)); break;
        }
      }
      return s;
    });
  });
  // One ingest arg per family, holding its files; on a failure, the files written are removed
  // with the others prepared.
  Status failed = Status::Ok();
  for (size_t i = 0; i < parts.size(); ++i) {
    if (!files[i].ok()) {
      if (failed.ok()) failed = files[i].status();
      continue;
    }
    rocksdb::ColumnFamilyHandle* handle = parts[i].family->handle;
    if (rep.prepared.empty() || rep.prepared.back().column_family != handle) {
      rocksdb::IngestExternalFileArg& arg = rep.prepared.emplace_back();
      arg.column_family = handle;
      arg.options.move_files = true;                       // hard-linked in, not copied
      arg.options.verify_checksums_before_ingest = false;  // written just now by this process
    }
    rep.prepared.back().external_files.push_back(std::move(files[i]).value());
  }
  if (!failed.ok()) {
    rep.RemovePrepared();
    return failed;
  }
  rep.prepared_at = rep.operations;
  rep.prepared_as = style;
  return Status::Ok();
}

Status IndexedBatch::Ingest(Files style, size_t threads) {
  Rep& rep = *rep_;
  Status status = Status::Ok();
  if (rep.prepared.empty() || rep.prepared_at != rep.operations || rep.prepared_as != style) {
    status = PrepareIngest(style, threads);
  }
  // Writes made before the ingest (a small batch written unsynced, say) are made durable first:
  // an ingest is durable when it returns, and must not outlive what came before it in a crash.
  if (status.ok() && !rep.prepared.empty()) status = store_->SyncWal();
  if (status.ok() && !rep.prepared.empty()) {
    status = FromRocks(store_->db()->IngestExternalFiles(rep.prepared), "ingesting a batch");
    size_t files = 0;
    for (const rocksdb::IngestExternalFileArg& arg : rep.prepared) {
      files += arg.external_files.size();
    }
    if (status.ok()) store_->CountIngestedFiles(files);
  }
  // A moved file is RocksDB's now and gone from here; Clear removes anything left.
  rep.Clear();
  return status;
}

// ---- Snapshot ---------------------------------------------------------------------------------

struct Snapshot::Rep {
  rocksdb::DB* db = nullptr;
  const rocksdb::Snapshot* snapshot = nullptr;
};

Snapshot::~Snapshot() {
  if (rep_ && rep_->snapshot) rep_->db->ReleaseSnapshot(rep_->snapshot);
}

const rocksdb::Snapshot* RocksSnapshotOf(const Snapshot* snapshot) {
  return snapshot ? snapshot->rep_->snapshot : nullptr;
}

// ---- Store ------------------------------------------------------------------------------------

struct Store::Rep {
  std::unique_ptr<rocksdb::DB> db;
  rocksdb::ColumnFamilyOptions cf_options;
  mutable std::shared_mutex families_mu;
  std::map<std::string, std::unique_ptr<Family>, std::less<>> families;  // GUARDED_BY(families_mu)

  // SyncMode::kBatch: a thread fsyncs the WAL every batch_sync_interval_ms while writes came in.
  std::atomic<bool> wal_dirty{false};
  std::mutex syncer_mu;
  std::condition_variable syncer_cv;
  bool stopping = false;  // GUARDED_BY(syncer_mu)
  std::thread syncer;

  std::atomic<uint64_t> ingested_files{0};  // see Store::IngestedFiles

  // Set by the first failed write or sync, cleared by ResumeWrites (see Store::Write).
  std::atomic<bool> writes_stopped{false};
  mutable std::mutex stop_mu;
  Status stop_error;  // GUARDED_BY(stop_mu)

  // The answer to a write while writes are stopped.
  Status StoppedStatus() const {
    std::lock_guard lock(stop_mu);
    return Status::IOError("the store takes no writes since one failed (" +
                           stop_error.ToString() + ")");
  }
  // Converts a failed write's or sync's RocksDB status and stops writes (the first one names
  // the stop).
  Status StopWrites(const rocksdb::Status& failed, std::string_view what) {
    Status error = FromRocks(failed, what);
    std::lock_guard lock(stop_mu);
    if (!writes_stopped.load(std::memory_order_relaxed)) {
      stop_error = error;
      writes_stopped.store(true, std::memory_order_release);
      spdlog::error("the store stops writing until the disk takes writes again: {}",
                    error.ToString());
    }
    return error;
  }
  // Flushes the memtables of the families that hold writes (see the definition).
  void FlushWrittenFamilies();
};

namespace {

rocksdb::ColumnFamilyOptions MakeFamilyOptions(const StoreOptions& o,
                                               std::shared_ptr<rocksdb::Cache> cache) {
  rocksdb::ColumnFamilyOptions cf;
  cf.write_buffer_size = o.write_buffer_bytes;
  cf.level_compaction_dynamic_level_bytes = true;
  cf.merge_operator = std::make_shared<CounterAddOperator>();
  // LZ4 decompresses several times faster than the default Snappy, and scans of the log are
  // dominated by decompression.
  const auto supported = rocksdb::GetSupportedCompressions();
  if (std::find(supported.begin(), supported.end(), rocksdb::kLZ4Compression) != supported.end()) {
    cf.compression = rocksdb::kLZ4Compression;
  }
  rocksdb::BlockBasedTableOptions table;
  table.block_cache = std::move(cache);
  table.block_size = 16 * 1024;
  table.filter_policy.reset(rocksdb::NewBloomFilterPolicy(10));
  table.cache_index_and_filter_blocks = true;
  table.pin_l0_filter_and_index_blocks_in_cache = true;
  cf.table_factory.reset(rocksdb::NewBlockBasedTableFactory(table));
  return cf;
}

// The log's keys by partition: a log key's first 8 bytes (topic and partition).
class PartitionOfLogKey : public rocksdb::SliceTransform {
 public:
  const char* Name() const override { return "cairn.PartitionOfLogKey"; }
  rocksdb::Slice Transform(const rocksdb::Slice& key) const override {
    return rocksdb::Slice(key.data(), 8);
  }
  bool InDomain(const rocksdb::Slice& key) const override { return key.size() == 16; }
};

// The stream index's keys by stream: everything before a key's 8-byte version.
class StreamOfIndexKey : public rocksdb::SliceTransform {
 public:
  const char* Name() const override { return "cairn.StreamOfIndexKey"; }
  rocksdb::Slice Transform(const rocksdb::Slice& key) const override {
    return rocksdb::Slice(key.data(), key.size() - 8);
  }
  bool InDomain(const rocksdb::Slice& key) const override { return key.size() > 8; }
};

}  // namespace

// The log writes its keys in increasing order per partition (the log) and per stream (the
// stream index), but a group interleaves partitions and scatters its streams over the whole
// memtable, and a plain memtable insert searches the skip list from the top each time it does
// not follow the previous insert: ~30 comparisons that each miss the CPU cache, for the 64
// stream keys of a 64-append group ~40% of the group's time (log_bench durable_async_64). With
// RocksDB's insert hints a memtable keeps, per partition and per stream, where its last key
// went, and inserts the next one beside it in a couple of comparisons. A hint costs ~250 bytes of
// the memtable (which flushes that much sooner) per stream written while it is active.
rocksdb::ColumnFamilyOptions FamilyOptionsFor(std::string_view name,
                                              const rocksdb::ColumnFamilyOptions& store_options,
                                              FamilyKind kind) {
  rocksdb::ColumnFamilyOptions cf = store_options;
  if (kind == FamilyKind::kScratch) {
    // Compacted only once 16 files pile up in level 0 (4 by default): each ingested batch that
    // overlaps the ones before lands there, and reads merge them all, so the pile is bounded,
    // but a check of a few batches compacts nothing.
    cf.level0_file_num_compaction_trigger = 16;
    cf.level0_slowdown_writes_trigger = 48;
    cf.level0_stop_writes_trigger = 64;
  }
  if (name == kLogFamily) {
    cf.memtable_insert_with_hint_prefix_extractor = std::make_shared<PartitionOfLogKey>();
  } else if (name == kStreamIndexFamily) {
    cf.memtable_insert_with_hint_prefix_extractor = std::make_shared<StreamOfIndexKey>();
  } else if (name == kEventIdFamily) {
    // Every append with the caller's ids looks each up first (idempotency), and a new id is
    // found nowhere: a bloom filter over the memtable's keys (~1.3 MB for a 64 MB memtable)
    // answers most of those lookups without walking the skip list.
    cf.memtable_prefix_bloom_size_ratio = 0.02;
    cf.memtable_whole_key_filtering = true;
  }
  return cf;
}

namespace {

// RocksDB's own log lines go to Cairn's log (spdlog) instead of a LOG file in the data dir: on
// a full disk that file fails too, and Debian's RocksDB (built with assertions) aborts the
// process at the next line written to a file that once failed.
class RocksLogToSpdlog : public rocksdb::Logger {
 public:
  using rocksdb::Logger::Logger;
  void Logv(const char* format, va_list ap) override {
    Logv(rocksdb::InfoLogLevel::INFO_LEVEL, format, ap);
  }
  void Logv(const rocksdb::InfoLogLevel level, const char* format, va_list ap) override {
    if (level < GetInfoLogLevel()) return;
    char line[1024];
    std::vsnprintf(line, sizeof(line), format, ap);
    // One step down: what RocksDB calls an error (a missing dir on create, a failed write) is
    // Cairn's to judge, and Cairn logs every failure it is handed as a Status.
    spdlog::log(level >= rocksdb::InfoLogLevel::ERROR_LEVEL  ? spdlog::level::warn
                : level == rocksdb::InfoLogLevel::WARN_LEVEL ? spdlog::level::info
                                                             : spdlog::level::debug,
                "rocksdb: {}", line);
  }
};

bool IsLockError(const rocksdb::Status& s) {
  const std::string text = s.ToString();
  return text.find("lock") != std::string::npos || text.find("Resource temporarily") != std::string::npos;
}

}  // namespace

Store::Store(std::string dir, StoreOptions options)
    : dir_(std::move(dir)), options_(options), rep_(std::make_unique<Rep>()) {}

Result<std::unique_ptr<Store>> Store::Open(const std::string& dir, const StoreOptions& options) {
  std::unique_ptr<Store> store(new Store(dir, options));
  Rep& rep = *store->rep_;
  rep.cf_options = MakeFamilyOptions(options, rocksdb::NewLRUCache(options.block_cache_bytes));

  rocksdb::DBOptions db_options;
  db_options.create_if_missing = options.create_if_missing;
  db_options.create_missing_column_families = true;
  db_options.max_background_jobs = 2;
  db_options.bytes_per_sync = 1 << 20;
  db_options.keep_log_file_num = 5;
  db_options.info_log_level = rocksdb::InfoLogLevel::WARN_LEVEL;
  db_options.info_log = std::make_shared<RocksLogToSpdlog>(rocksdb::InfoLogLevel::WARN_LEVEL);

  if (options.create_if_missing && !options.read_only) {
    // RocksDB creates only the last component (and first logs an error about the missing dir):
    // `--data ./var/cairn` on a fresh machine should work like `mkdir -p`.
    std::error_code error;
    std::filesystem::create_directories(dir, error);
    if (error) return Status::IOError("creating data dir " + dir + ": " + error.message());
  }
  std::vector<std::string> names;
  rocksdb::Status s = rocksdb::DB::ListColumnFamilies(db_options, dir, &names);
  if (!s.ok() || names.empty()) names = {rocksdb::kDefaultColumnFamilyName};
  std::vector<rocksdb::ColumnFamilyDescriptor> descriptors;
  for (const auto& name : names) {
    descriptors.emplace_back(name, FamilyOptionsFor(name, rep.cf_options, FamilyKind::kOrdered));
  }

  std::vector<rocksdb::ColumnFamilyHandle*> handles;
  rocksdb::DB* raw = nullptr;
  if (options.read_only) {
    s = rocksdb::DB::OpenForReadOnly(db_options, dir, descriptors, &handles, &raw);
  } else {
    s = rocksdb::DB::Open(db_options, dir, descriptors, &handles, &raw);
  }
  if (!s.ok()) {
    if (IsLockError(s)) {
      return Status::Busy("data dir " + dir +
                          " is in use by another process (a running `cairn serve`? use --url to "
                          "talk to it)");
    }
    if (!options.create_if_missing && s.IsInvalidArgument()) {
      return Status::NotFound("no Cairn data dir at " + dir);
    }
    return FromRocks(s, "opening " + dir);
  }
  rep.db.reset(raw);
  if (!options.read_only) {
    std::error_code ignored;
    std::filesystem::remove_all(IngestDir(*store), ignored);
  }
  for (size_t i = 0; i < handles.size(); ++i) {
    auto family = std::make_unique<Family>();
    family->name = names[i];
    family->handle = handles[i];
    rep.families.emplace(names[i], std::move(family));
  }
  if (options.sync == SyncMode::kBatch && !options.read_only) {
    rep.syncer = std::thread([r = store->rep_.get(), interval = options.batch_sync_interval_ms] {
      std::unique_lock lock(r->syncer_mu);
      while (!r->stopping) {
        r->syncer_cv.wait_for(lock, std::chrono::milliseconds(interval));
        if (r->wal_dirty.exchange(false) && !r->writes_stopped.load(std::memory_order_acquire)) {
          lock.unlock();
          rocksdb::Status st = r->db->SyncWAL();
          if (!st.ok()) (void)r->StopWrites(st, "batch-mode WAL sync");
          lock.lock();
        }
      }
    });
  }
  return store;
}

Store::~Store() {
  if (rep_->syncer.joinable()) {
    {
      std::lock_guard lock(rep_->syncer_mu);
      rep_->stopping = true;
    }
    rep_->syncer_cv.notify_all();
    rep_->syncer.join();
  }
  if (!rep_->db) return;
  if (rep_->writes_stopped.load()) {
    spdlog::warn("closing a store whose writes stopped after a failure: the WAL is not synced "
                 "again; the next open recovers from what the disk holds");
  } else if (!options_.read_only) {
    rocksdb::Status s = rep_->db->SyncWAL();
    if (!s.ok()) spdlog::warn("final WAL sync failed: {}", s.ToString());
    rep_->FlushWrittenFamilies();
  }
  for (auto& [name, family] : rep_->families) {
    rep_->db->DestroyColumnFamilyHandle(family->handle).PermitUncheckedError();
  }
  rep_->families.clear();
  // Waits only for the flush or compaction already running: Close tells the others to stop.
  rep_->db->Close().PermitUncheckedError();
}

// Why the store flushes every family that holds unflushed writes on close:
// - Speed of the next open. With the WAL on, RocksDB keeps the memtables' writes only in the WAL
//   when it closes, and the next open replays the whole WAL into memtables and flushes them: an
//   import or a rebuild of 500k events left ~0.5 GB of WAL that every later `cairn` command
//   re-inserted key by key before doing anything (a third of an offline rebuild's time).
//   Flushing at close writes the same SST files once, without the replay.
// - Tools that are not Cairn. A data dir is also opened by ldb, sst_dump, scripts, a read-only
//   or secondary RocksDB instance, mostly with RocksDB's default options, which have no merge
//   operator. A replay that meets a Merge record (a counter addition) for a family whose
//   memtable was not flushed fails ("Merge requires merge_operator"), which RocksDB's
//   point-in-time recovery treats as the end of the good WAL: everything after it is silently
//   dropped, and if any family was flushed after that point the open fails with "SST file is
//   ahead of WALs in CF ...". With every family flushed, a replay has nothing left to apply.
// The dropped generations of rebuilds are gone from `families` and are not flushed. A process
// that dies without closing leaves its WAL behind until the next open, which replays and
// flushes what it recovers.
void Store::Rep::FlushWrittenFamilies() {
  std::vector<rocksdb::ColumnFamilyHandle*> handles;
  {
    std::shared_lock lock(families_mu);
    for (const auto& [name, family] : families) {
      uint64_t active = 0, immutable = 0;
      db->GetIntProperty(family->handle, rocksdb::DB::Properties::kNumEntriesActiveMemTable,
                         &active);
      db->GetIntProperty(family->handle, rocksdb::DB::Properties::kNumEntriesImmMemTables,
                         &immutable);
      if (active + immutable > 0) handles.push_back(family->handle);
    }
  }
  if (handles.empty()) return;
  rocksdb::FlushOptions options;
  options.allow_write_stall = true;
  rocksdb::Status s = db->Flush(options, handles);
  if (!s.ok()) {
    spdlog::warn("flushing the memtables on close failed ({}): the next open replays the WAL, "
                 "and tools without Cairn's merge operator may not open the data dir read-only "
                 "until Cairn opens it again",
                 s.ToString());
  }
}

Result<Family*> Store::OpenFamily(const std::string& name, FamilyKind kind) {
  {  // the common case, an existing family, under the shared lock
    std::shared_lock lock(rep_->families_mu);
    auto it = rep_->families.find(name);
    if (it != rep_->families.end()) return it->second.get();
  }
  CAIRN_ASSIGN_OR_RETURN(const std::vector<Family*> families, OpenFamilies({name}, kind));
  return families.front();
}

Result<std::vector<Family*>> Store::OpenFamilies(const std::vector<std::string>& names,
                                                 FamilyKind kind) {
  std::unique_lock lock(rep_->families_mu);
  std::vector<rocksdb::ColumnFamilyDescriptor> missing;
  for (const std::string& name : names) {
    const bool listed = std::any_of(missing.begin(), missing.end(),
                                    [&](const auto& d) { return d.name == name; });
    if (!rep_->families.contains(name) && !listed) {
      missing.emplace_back(name, FamilyOptionsFor(name, rep_->cf_options, kind));
    }
  }
  if (!missing.empty() && options_.read_only) {
    return Status::NotFound("family " + missing.front().name + " does not exist");
  }
  if (!missing.empty()) {
    std::vector<rocksdb::ColumnFamilyHandle*> handles;
    const rocksdb::Status s = rep_->db->CreateColumnFamilies(missing, &handles);
    // On a failure `handles` holds the families created before it: kept, as OpenFamily would.
    for (rocksdb::ColumnFamilyHandle* handle : handles) {
      auto family = std::make_unique<Family>();
      family->name = handle->GetName();
      family->handle = handle;
      rep_->families.emplace(family->name, std::move(family));
    }
    if (!s.ok()) {
      // RocksDB creates them in order and stops at a failure; one after the last creation is
      // its OPTIONS file's.
      return FromRocks(s, handles.size() < missing.size()
                              ? "creating family " + missing[handles.size()].name
                              : std::string("writing the OPTIONS file after creating families"));
    }
  }
  std::vector<Family*> families;
  for (const std::string& name : names) families.push_back(rep_->families.at(name).get());
  return families;
}

Family* Store::FindFamily(const std::string& name) const {
  std::shared_lock lock(rep_->families_mu);
  auto it = rep_->families.find(name);
  return it == rep_->families.end() ? nullptr : it->second.get();
}

std::vector<std::string> Store::FamilyNames(std::string_view prefix) const {
  std::shared_lock lock(rep_->families_mu);
  std::vector<std::string> out;
  for (const auto& [name, family] : rep_->families) {
    if (name.compare(0, prefix.size(), prefix) == 0) out.push_back(name);
  }
  return out;
}

Status Store::DropFamily(const std::string& name) { return DropFamilies({name}); }

Status Store::DropFamilies(const std::vector<std::string>& names) {
  std::unique_lock lock(rep_->families_mu);
  std::vector<rocksdb::ColumnFamilyHandle*> handles;
  for (const std::string& name : names) {
    auto it = rep_->families.find(name);
    if (it == rep_->families.end()) return Status::NotFound("family " + name + " does not exist");
    if (std::find(handles.begin(), handles.end(), it->second->handle) == handles.end()) {
      handles.push_back(it->second->handle);
    }
  }
  Status status = Status::Ok();
  if (const rocksdb::Status s = rep_->db->DropColumnFamilies(handles); !s.ok()) {
    // RocksDB drops them one by one and stops at a failure (or fails writing its OPTIONS file
    // after dropping them all): each is dropped again on its own, one already dropped counting
    // as done, so that every family that is gone leaves the registry.
    std::string names_dropped;
    for (const std::string& name : names) {
      names_dropped += (names_dropped.empty() ? "" : ", ") + name;
    }
    status = FromRocks(s, "dropping family " + names_dropped);
    std::vector<rocksdb::ColumnFamilyHandle*> dropped;
    for (rocksdb::ColumnFamilyHandle* handle : handles) {
      const rocksdb::Status again = rep_->db->DropColumnFamily(handle);
      if (again.ok() || (again.IsInvalidArgument() &&
                         again.ToString().find("already dropped") != std::string::npos)) {
        dropped.push_back(handle);
      }
    }
    handles = std::move(dropped);
  }
  for (rocksdb::ColumnFamilyHandle* handle : handles) {
    const std::string name = handle->GetName();
    rep_->db->DestroyColumnFamilyHandle(handle).PermitUncheckedError();
    rep_->families.erase(name);
  }
  return status;
}

// Durability is decided here and only here: kAlways fsyncs the WAL before returning, kBatch
// leaves the fsync to the syncer thread (at most batch_sync_interval_ms later), kNone never
// fsyncs (the OS writes the WAL out; a process crash loses nothing, power loss may).
Status Store::Write(WriteBatch& batch, bool durable) {
  return WriteRocksBatch(&batch.rep_->batch, durable);
}

Status Store::WriteRocksBatch(rocksdb::WriteBatch* batch, bool durable) {
  if (rep_->writes_stopped.load(std::memory_order_acquire)) return rep_->StoppedStatus();
  rocksdb::WriteOptions wo;
  wo.sync = durable && options_.sync == SyncMode::kAlways;
  rocksdb::Status s = rep_->db->Write(wo, batch);
  if (!s.ok()) return rep_->StopWrites(s, "write");
  if (durable && options_.sync == SyncMode::kBatch) rep_->wal_dirty.store(true);
  return Status::Ok();
}

Status Store::SyncWal() {
  if (rep_->writes_stopped.load(std::memory_order_acquire)) return rep_->StoppedStatus();
  rocksdb::Status s = rep_->db->SyncWAL();
  return s.ok() ? Status::Ok() : rep_->StopWrites(s, "WAL sync");
}

Status Store::ResumeWrites() {
  std::lock_guard lock(rep_->stop_mu);
  if (!rep_->writes_stopped.load(std::memory_order_relaxed)) return Status::Ok();
  CAIRN_RETURN_IF_ERROR(FromRocks(rep_->db->Resume(), "resuming writes"));
  rep_->writes_stopped.store(false, std::memory_order_release);
  spdlog::warn("the store writes again (it had stopped after: {})", rep_->stop_error.ToString());
  return Status::Ok();
}

Result<std::optional<std::string>> Store::Get(Family* family, std::string_view key,
                                              const Snapshot* snapshot) const {
  rocksdb::ReadOptions ro;
  ro.snapshot = RocksSnapshotOf(snapshot);
  std::string value;
  rocksdb::Status s =
      rep_->db->Get(ro, family->handle, rocksdb::Slice(key.data(), key.size()), &value);
  if (s.IsNotFound()) return std::optional<std::string>();
  if (!s.ok()) return FromRocks(s, "read from " + family->name);
  return std::optional<std::string>(std::move(value));
}

Status Store::Scan(Family* family, std::string_view lower, std::string_view upper,
                   const Visitor& visit, bool reverse, const Snapshot* snapshot) const {
  rocksdb::ReadOptions ro;
  ro.snapshot = RocksSnapshotOf(snapshot);
  rocksdb::Slice lower_slice(lower.data(), lower.size());
  rocksdb::Slice upper_slice(upper.data(), upper.size());
  ro.iterate_lower_bound = &lower_slice;
  if (!upper.empty()) ro.iterate_upper_bound = &upper_slice;
  std::unique_ptr<rocksdb::Iterator> it(rep_->db->NewIterator(ro, family->handle));
  if (reverse) {
    for (it->SeekToLast(); it->Valid(); it->Prev()) {
      if (!visit(ToView(it->key()), ToView(it->value()))) break;
    }
  } else {
    for (it->Seek(lower_slice); it->Valid(); it->Next()) {
      if (!visit(ToView(it->key()), ToView(it->value()))) break;
    }
  }
  return FromRocks(it->status(), "scan of " + family->name);
}

struct StoreIterator::Rep {
  std::string lower, upper;  // the bounds' bytes, which the ReadOptions point to
  rocksdb::Slice lower_slice, upper_slice;
  std::unique_ptr<rocksdb::Iterator> it;
  std::string family;
};

StoreIterator::~StoreIterator() = default;
bool StoreIterator::Valid() const { return rep_->it->Valid(); }
std::string_view StoreIterator::key() const { return ToView(rep_->it->key()); }
std::string_view StoreIterator::value() const { return ToView(rep_->it->value()); }
void StoreIterator::Next() { rep_->it->Next(); }
Status StoreIterator::status() const {
  return FromRocks(rep_->it->status(), "scan of " + rep_->family);
}

std::unique_ptr<StoreIterator> Store::NewIterator(Family* family, const Snapshot* snapshot,
                                                  std::string_view lower,
                                                  std::string_view upper) const {
  std::unique_ptr<StoreIterator> iterator(new StoreIterator());
  iterator->rep_ = std::make_unique<StoreIterator::Rep>();
  StoreIterator::Rep& rep = *iterator->rep_;
  rep.lower = lower;
  rep.upper = upper;
  rep.lower_slice = rocksdb::Slice(rep.lower);
  rep.upper_slice = rocksdb::Slice(rep.upper);
  rocksdb::ReadOptions ro;
  ro.snapshot = RocksSnapshotOf(snapshot);
  ro.fill_cache = false;
  ro.iterate_lower_bound = &rep.lower_slice;
  if (!upper.empty()) ro.iterate_upper_bound = &rep.upper_slice;
  rep.it.reset(rep_->db->NewIterator(ro, family->handle));
  rep.family = family->name;
  rep.it->Seek(rep.lower_slice);
  return iterator;
}

std::unique_ptr<Snapshot> Store::TakeSnapshot() const {
  std::unique_ptr<Snapshot> snap(new Snapshot());
  snap->rep_ = std::make_unique<Snapshot::Rep>();
  snap->rep_->db = rep_->db.get();
  snap->rep_->snapshot = rep_->db->GetSnapshot();
  return snap;
}

Status Store::Checkpoint(const std::string& target_dir) {
  rocksdb::Checkpoint* raw = nullptr;
  CAIRN_RETURN_IF_ERROR(FromRocks(rocksdb::Checkpoint::Create(rep_->db.get(), &raw), "checkpoint"));
  std::unique_ptr<rocksdb::Checkpoint> checkpoint(raw);
  return FromRocks(checkpoint->CreateCheckpoint(target_dir), "checkpoint into " + target_dir);
}

uint64_t Store::IngestedFiles() const { return rep_->ingested_files.load(); }
void Store::CountIngestedFiles(uint64_t files) { rep_->ingested_files += files; }

uint64_t Store::EstimateKeys(Family* family) const {
  uint64_t n = 0;
  rep_->db->GetIntProperty(family->handle, "rocksdb.estimate-num-keys", &n);
  return n;
}

uint64_t Store::PendingCompactionBytes() const {
  std::shared_lock lock(rep_->families_mu);
  uint64_t total = 0;
  for (const auto& [name, family] : rep_->families) {
    uint64_t n = 0;
    rep_->db->GetIntProperty(family->handle, "rocksdb.estimate-pending-compaction-bytes", &n);
    total += n;
  }
  return total;
}

Status Store::CompactAll() {
  if (options_.read_only) return Status::InvalidArgument("a read-only store cannot compact");
  std::shared_lock lock(rep_->families_mu);  // keeps the handles valid
  for (const auto& [name, family] : rep_->families) {
    CAIRN_RETURN_IF_ERROR(FromRocks(
        rep_->db->CompactRange(rocksdb::CompactRangeOptions(), family->handle, nullptr, nullptr),
        "compacting " + name));
  }
  return Status::Ok();
}

rocksdb::DB* Store::db() const { return rep_->db.get(); }

}  // namespace cairn
