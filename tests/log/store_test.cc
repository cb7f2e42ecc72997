// Unit tests of the Store contracts the log and the engine rely on (include/cairn/store.h): one
// process per data dir, sync modes, and IndexedBatch.
#include <doctest/doctest.h>
#include <rocksdb/slice_transform.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <string>
#include <string_view>

#include "cairn/log.h"
#include "cairn/status.h"
#include "cairn/store.h"
#include "cairn/types.h"
#include "log/envelope.h"
#include "log/rocks.h"
#include "log_test_util.h"

namespace cairn {
namespace {

using namespace testing;

TEST_CASE("a second Store::Open on an open data dir is busy and names the directory") {
  TempDir dir;
  auto first = Store::Open(dir.path(), FastStoreOptions());
  REQUIRE_MESSAGE(first.ok(), first.status().ToString());
  auto second = Store::Open(dir.path(), FastStoreOptions());
  REQUIRE_FALSE(second.ok());
  CHECK_FAILS_WITH(second, ErrorCode::kBusy);
  CHECK_MESSAGE(Contains(second.status().message(), dir.path()), second.status().message());
}

TEST_CASE("Store::Open creates a missing data dir with its parents, and refuses a file") {
  TempDir dir;
  const std::string nested = dir.path() + "/var/lib/cairn";
  {
    auto store = Store::Open(nested, FastStoreOptions());
    REQUIRE_MESSAGE(store.ok(), store.status().ToString());
  }
  CHECK(std::filesystem::is_directory(nested));
  auto reopened = Store::Open(nested, FastStoreOptions());
  CHECK_MESSAGE(reopened.ok(), reopened.status().ToString());

  const std::string file = dir.path() + "/a-file";
  { std::ofstream(file) << "not a dir"; }
  auto refused = Store::Open(file + "/data", FastStoreOptions());
  REQUIRE_FALSE(refused.ok());
  CHECK_MESSAGE(Contains(refused.status().message(), file), refused.status().message());
}

TEST_CASE("the log's two families insert by partition and by stream, and read in key order") {
  const rocksdb::ColumnFamilyOptions plain;
  const auto hints = [&](std::string_view family) {
    return FamilyOptionsFor(family, plain, FamilyKind::kOrdered)
        .memtable_insert_with_hint_prefix_extractor;
  };
  // A log key's hint is its partition; a stream index key's, its stream.
  const auto log = hints(kLogFamily);
  REQUIRE(log != nullptr);
  const std::string key = envelope::LogKey(TopicId(3), PartitionId(7), Offset(42));
  CHECK(log->InDomain(key));
  CHECK(ToView(log->Transform(key)) == key.substr(0, 8));
  CHECK(ToView(log->Transform(envelope::LogKey(TopicId(3), PartitionId(7), Offset(43)))) ==
        key.substr(0, 8));
  CHECK_FALSE(log->InDomain("short"));
  const auto streams = hints(kStreamIndexFamily);
  REQUIRE(streams != nullptr);
  const std::string index_key = envelope::StreamIndexKey("order-1", StreamVersion(9));
  CHECK(ToView(streams->Transform(index_key)) == envelope::StreamKeyPrefix("order-1"));
  CHECK_FALSE(streams->InDomain("12345678"));
  // Every other family is left as the store configures it.
  CHECK(hints("ids") == nullptr);
  CHECK(hints("proj.orders.1.views") == nullptr);

  // Keys written out of order within a stream and across streams, in one batch and in several,
  // come back in key order, before and after a reopen (memtable, then SST files).
  TempDir dir;
  std::map<std::string, std::string> want;
  {
    auto store = Store::Open(dir.path(), FastStoreOptions());
    REQUIRE(store.ok());
    Family* index =
        (*store)->OpenFamily(std::string(kStreamIndexFamily), FamilyKind::kOrdered).value();
    WriteBatch batch;
    for (uint64_t round = 0; round < 3; ++round) {
      for (const uint64_t version : {5, 1, 3, 2, 4}) {
        for (const char* stream : {"b", "a", "c"}) {
          const std::string k =
              envelope::StreamIndexKey(stream, StreamVersion(round * 10 + version));
          want[k] = stream;
          batch.Put(index, k, stream);
        }
      }
      if (round == 1) {
        REQUIRE((*store)->Write(batch, false).ok());
        batch = WriteBatch();
      }
    }
    REQUIRE((*store)->Write(batch, false).ok());
    const auto read = [&](Store& s) {
      std::map<std::string, std::string> got;
      std::string last;
      REQUIRE(s.Scan(s.FindFamily(std::string(kStreamIndexFamily)), "", "",
                     [&](std::string_view k, std::string_view v) {
                       CHECK(std::string(k) > last);
                       last = std::string(k);
                       got[last] = std::string(v);
                       return true;
                     }).ok());
      return got;
    };
    CHECK(read(**store) == want);
    store->reset();
    auto reopened = Store::Open(dir.path(), FastStoreOptions());
    REQUIRE(reopened.ok());
    CHECK(read(**reopened) == want);
  }
}

TEST_CASE("BatchConcatenation::Put writes the bytes WriteBatch::Put writes") {
  TempDir dir;
  auto store = Store::Open(dir.path(), FastStoreOptions());
  REQUIRE(store.ok());
  Family* family = (*store)->OpenFamily("ordered", FamilyKind::kOrdered).value();
  const std::string long_part(300, 'v');  // a length that takes two varint bytes
  rocksdb::WriteBatch expected;
  expected.Put(HandleOf(family), "key", long_part + "tail");
  expected.Put(HandleOf(family), "", "");
  BatchConcatenation joined;
  joined.Put(HandleOf(family), {"k", "ey"}, {long_part, "tail"});
  joined.Put(HandleOf(family), {""}, {});
  const rocksdb::WriteBatch got = joined.Finish();
  CHECK(got.Count() == 2);
  CHECK(got.Data() == expected.Data());
}

TEST_CASE("ParseSyncMode accepts always, batch and none and refuses anything else") {
  auto always = ParseSyncMode("always");
  REQUIRE(always.ok());
  CHECK(*always == SyncMode::kAlways);
  auto batch = ParseSyncMode("batch");
  REQUIRE(batch.ok());
  CHECK(*batch == SyncMode::kBatch);
  auto none = ParseSyncMode("none");
  REQUIRE(none.ok());
  CHECK(*none == SyncMode::kNone);
  CHECK_FAILS_WITH(ParseSyncMode("sometimes"), ErrorCode::kInvalidArgument);
  CHECK_FAILS_WITH(ParseSyncMode(""), ErrorCode::kInvalidArgument);
  for (SyncMode mode : {SyncMode::kAlways, SyncMode::kBatch, SyncMode::kNone}) {
    auto parsed = ParseSyncMode(SyncModeName(mode));
    REQUIRE(parsed.ok());
    CHECK(*parsed == mode);
  }
}

TEST_CASE("an IndexedBatch reads its own writes and commits or ingests the same effect as the operations in order") {
  // Ingest: table files ingested over what the memtables hold (the "setup" writes below).
  // Unread: the batch coalesces the writes of a key only when it sorts them for the commit.
  bool ingest = false, read = true;
  SUBCASE("read, then committed") {}
  SUBCASE("read, then ingested") { ingest = true; }
  SUBCASE("committed unread") { read = false; }
  SUBCASE("ingested unread") { ingest = true, read = false; }
  TestLog t;
  auto views = t.store->OpenFamily("views", FamilyKind::kOrdered);
  auto counters = t.store->OpenFamily("counters", FamilyKind::kCounters);
  REQUIRE(views.ok());
  REQUIRE(counters.ok());
  {  // stored before the batch
    WriteBatch setup;
    setup.Put(*views, "kept", "old");
    setup.Put(*views, "deleted", "old");
    setup.AddCounter(*counters, "stored", 40);
    REQUIRE(t.store->Write(setup, false).ok());
  }
  auto counter = [&](const IndexedBatch& b, std::string_view key) {
    auto v = b.Get(*counters, key);
    REQUIRE(v.ok());
    return v->has_value() ? DecodeCounter(**v) : int64_t{-999};
  };

  IndexedBatch batch(t.store.get());
  batch.Put(*views, "new", "v1");
  batch.Put(*views, "new", "v2");  // the last Put wins
  batch.Put(*views, "shrunk", "a longer value");
  batch.Put(*views, "shrunk", "short");  // written in the old value's place
  batch.Put(*views, "grown", "short");
  batch.Put(*views, "grown", "a longer value");
  batch.Put(*views, "grown", "mid value");
  batch.Put(*views, "back", "first");
  batch.Delete(*views, "back");
  batch.Put(*views, "back", "again");
  batch.Delete(*views, "deleted");
  batch.AddCounter(*counters, "stored", 1);
  batch.AddCounter(*counters, "stored", 1);  // adds to the stored 40
  batch.AddCounter(*counters, "fresh", 5);
  batch.Put(*counters, "reset", EncodeCounter(100));
  batch.AddCounter(*counters, "reset", -1);  // a counter Put then added to
  batch.Delete(*counters, "gone");
  batch.AddCounter(*counters, "gone", 7);  // after a Delete, counts from 0

  if (read) {
    CHECK(*batch.Get(*views, "new") == std::optional<std::string>("v2"));
    CHECK(*batch.Get(*views, "shrunk") == std::optional<std::string>("short"));
    CHECK(*batch.Get(*views, "grown") == std::optional<std::string>("mid value"));
    CHECK(*batch.Get(*views, "back") == std::optional<std::string>("again"));
    CHECK(*batch.Get(*views, "kept") == std::optional<std::string>("old"));  // from the database
    CHECK(!batch.Get(*views, "deleted")->has_value());
    CHECK(counter(batch, "stored") == 42);
    CHECK(counter(batch, "fresh") == 5);
    CHECK(counter(batch, "reset") == 99);
    CHECK(counter(batch, "gone") == 7);
    CHECK(batch.Count() == 9);  // one write per key
  }

  const int64_t expected_stored = 42;

  // Nothing reached the database before the commit.
  CHECK(!t.store->Get(*views, "new")->has_value());
  const uint64_t ingested_before = t.store->IngestedFiles();
  REQUIRE((ingest ? batch.Ingest() : batch.Commit(false)).ok());
  CHECK(batch.Count() == 0);
  CHECK(t.store->IngestedFiles() - ingested_before == (ingest ? 2 : 0));  // one per family
  CHECK(*t.store->Get(*views, "new") == std::optional<std::string>("v2"));
  CHECK(*t.store->Get(*views, "shrunk") == std::optional<std::string>("short"));
  CHECK(*t.store->Get(*views, "grown") == std::optional<std::string>("mid value"));
  CHECK(*t.store->Get(*views, "back") == std::optional<std::string>("again"));
  CHECK(!t.store->Get(*views, "deleted")->has_value());
  CHECK(*t.store->Get(*views, "kept") == std::optional<std::string>("old"));
  auto stored = [&](std::string_view key) { return DecodeCounter(**t.store->Get(*counters, key)); };
  CHECK(stored("stored") == expected_stored);
  CHECK(stored("fresh") == 5);
  CHECK(stored("reset") == 99);
  CHECK(stored("gone") == 7);

  // A later batch reads through what was ingested, and everything outlives a reopen, which
  // leaves no table file of an ingest behind.
  IndexedBatch later(t.store.get());
  later.AddCounter(*counters, "stored", 1);
  CHECK(counter(later, "stored") == expected_stored + 1);
  REQUIRE((ingest ? later.Ingest() : later.Commit(false)).ok());
  t.Reopen();
  views = t.store->OpenFamily("views", FamilyKind::kOrdered);
  counters = t.store->OpenFamily("counters", FamilyKind::kCounters);
  CHECK(*t.store->Get(*views, "new") == std::optional<std::string>("v2"));
  CHECK(!t.store->Get(*views, "deleted")->has_value());
  CHECK(stored("stored") == expected_stored + 1);
  CHECK(stored("gone") == 7);
  CHECK(!std::filesystem::exists(t.dir.path() + "/ingest"));
}

// The kOrdered family `name` of t's store, created if missing.
Family* OrderedFamily(TestLog& t, const std::string& name) {
  auto family = t.store->OpenFamily(name, FamilyKind::kOrdered);
  REQUIRE_MESSAGE(family.ok(), family.status().ToString());
  return *family;
}

TEST_CASE("an IndexedBatch of many keys in two families reads and commits what a map model says") {
  // 60,000 keys grow the hash table many times; short keys that differ by one byte, in two
  // families, repeat (family, key) pairs and make hash tags collide now and then.
  TestLog t;
  Family* a = OrderedFamily(t, "a");
  Family* b = OrderedFamily(t, "b");
  std::map<std::pair<Family*, std::string>, std::optional<std::string>> model;
  IndexedBatch batch(t.store.get());
  uint64_t x = 88172645463325252ull;  // xorshift: the same sequence every run
  const auto next = [&x] {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    return x;
  };
  for (int i = 0; i < 200'000; ++i) {
    Family* family = next() % 2 ? a : b;
    const std::string key = "k" + std::to_string(next() % 60'000);
    if (next() % 5 == 0) {
      batch.Delete(family, key);
      model[{family, key}] = std::nullopt;
    } else {
      const std::string value = std::to_string(i);
      batch.Put(family, key, value);
      model[{family, key}] = value;
    }
  }
  // Read back, or committed without a read: the batch then coalesces the writes of a key only
  // when it sorts them for the commit or the ingest.
  bool read = false, ingest = false;
  SUBCASE("read, then committed") { read = true; }
  SUBCASE("committed unread") {}
  SUBCASE("ingested unread") { ingest = true; }
  CHECK(batch.Count() >= model.size());  // every write appended until a read
  if (read) {
    for (int i = 0; i < 70'000; i += 7) {  // also keys never written
      for (Family* family : {a, b}) {
        const std::string key = "k" + std::to_string(i);
        auto it = model.find({family, key});
        const std::optional<std::string> want = it == model.end() ? std::nullopt : it->second;
        REQUIRE(*batch.Get(family, key) == want);
      }
    }
    CHECK(batch.Count() == model.size());
  }
  REQUIRE((ingest ? batch.Ingest() : batch.Commit(false)).ok());
  size_t present = 0;
  for (const auto& [family_key, value] : model) {
    REQUIRE(*t.store->Get(family_key.first, family_key.second) == value);
    present += value.has_value();
  }
  size_t scanned = 0;
  for (Family* family : {a, b}) {
    REQUIRE(t.store->Scan(family, "", "", [&](std::string_view, std::string_view) {
      ++scanned;
      return true;
    }).ok());
  }
  CHECK(scanned == present);
}

TEST_CASE("PrepareIngest writes table files that Ingest takes, or that go with the batch") {
  TestLog t;
  auto views = t.store->OpenFamily("views", FamilyKind::kOrdered);
  REQUIRE(views.ok());
  const std::string ingest_dir = t.dir.path() + "/ingest";
  const auto files_waiting = [&] {
    if (!std::filesystem::exists(ingest_dir)) return std::ptrdiff_t{0};
    return std::distance(std::filesystem::directory_iterator(ingest_dir),
                         std::filesystem::directory_iterator());
  };
  {  // prepared, then dropped with the batch: nothing written, no file left
    IndexedBatch batch(t.store.get());
    batch.Put(*views, "dropped", "x");
    REQUIRE(batch.PrepareIngest().ok());
    CHECK(files_waiting() == 1);
    CHECK(!t.store->Get(*views, "dropped")->has_value());
  }
  CHECK(files_waiting() == 0);
  const uint64_t ingested_before = t.store->IngestedFiles();
  {  // prepared, then written to again (a new key, and a key rewritten): Ingest writes anew
    IndexedBatch batch(t.store.get());
    batch.Put(*views, "a", "first");
    REQUIRE(batch.PrepareIngest().ok());
    batch.Put(*views, "a", "second");
    batch.Put(*views, "b", "late");
    REQUIRE(batch.Ingest().ok());
    CHECK(batch.Count() == 0);
  }
  CHECK(*t.store->Get(*views, "a") == std::optional<std::string>("second"));
  CHECK(*t.store->Get(*views, "b") == std::optional<std::string>("late"));
  {  // prepared, then ingested as prepared
    IndexedBatch batch(t.store.get());
    batch.Put(*views, "c", "ready");
    REQUIRE(batch.PrepareIngest(IndexedBatch::Files::kScratch).ok());
    REQUIRE(batch.Ingest(IndexedBatch::Files::kScratch).ok());
  }
  CHECK(*t.store->Get(*views, "c") == std::optional<std::string>("ready"));
  CHECK(t.store->IngestedFiles() - ingested_before == 2);
  CHECK(files_waiting() == 0);
  {  // prepared, then committed as a write instead: the files go, a later Ingest finds none
    IndexedBatch batch(t.store.get());
    batch.Put(*views, "d", "written");
    REQUIRE(batch.PrepareIngest().ok());
    REQUIRE(batch.Commit(false).ok());
    CHECK(files_waiting() == 0);
    WriteBatch newer;
    newer.Put(*views, "d", "newer");
    REQUIRE(t.store->Write(newer, false).ok());
    REQUIRE(batch.Ingest().ok());  // empty: ingests nothing, overwrites nothing
  }
  CHECK(*t.store->Get(*views, "d") == std::optional<std::string>("newer"));
  CHECK(t.store->IngestedFiles() - ingested_before == 2);
}

TEST_CASE("PrepareIngest on three threads cuts a family of many writes into files of adjacent ranges") {
  size_t threads = 3;
  uint64_t files = 4;  // three of "big", one of "small"
  SUBCASE("three threads") {}
  SUBCASE("no thread asked for: one") { threads = 0, files = 2; }
  TestLog t;
  Family* big = OrderedFamily(t, "big");
  Family* small = OrderedFamily(t, "small");
  IndexedBatch batch(t.store.get());
  constexpr int kKeys = 100'000;  // three parts of at least 32,768 writes
  for (int i = kKeys - 1; i >= 0; --i) {
    char key[16];
    std::snprintf(key, sizeof key, "k%06d", i);
    if (i % 10 == 3) {
      batch.Delete(big, key);
    } else {
      batch.Put(big, key, std::to_string(i));
    }
  }
  batch.Put(small, "only", "one");
  const uint64_t ingested_before = t.store->IngestedFiles();
  REQUIRE(batch.PrepareIngest(IndexedBatch::Files::kLasting, threads).ok());
  REQUIRE(batch.Ingest(IndexedBatch::Files::kLasting, threads).ok());
  CHECK(t.store->IngestedFiles() - ingested_before == files);
  int seen = 0;
  int expected = 0;
  REQUIRE(t.store->Scan(big, "", "", [&](std::string_view key, std::string_view value) {
    while (expected % 10 == 3) ++expected;
    char want[16];
    std::snprintf(want, sizeof want, "k%06d", expected);
    CHECK(key == want);
    CHECK(value == std::to_string(expected));
    ++expected;
    ++seen;
    return true;
  }).ok());
  CHECK(seen == kKeys - kKeys / 10);
  CHECK(*t.store->Get(small, "only") == std::optional<std::string>("one"));
  const std::string ingest_dir = t.dir.path() + "/ingest";  // the files were moved in
  CHECK((!std::filesystem::exists(ingest_dir) || std::filesystem::is_empty(ingest_dir)));
}

TEST_CASE("a StoreIterator walks a family in key order as of its snapshot") {
  TestLog t;
  Family* family = OrderedFamily(t, "walk");
  Family* other = OrderedFamily(t, "other");
  const std::string zero_key("c\0x", 3);  // after "c", bytewise
  WriteBatch before;
  for (const std::string& key : {std::string("b"), std::string("a"), zero_key, std::string("c")}) {
    before.Put(family, key, key.substr(0, 1));
  }
  before.Put(other, "a", "elsewhere");
  REQUIRE(t.store->Write(before, false).ok());
  const auto snapshot = t.store->TakeSnapshot();
  WriteBatch after;
  after.Put(family, "d", "later");
  after.Delete(family, "a");
  REQUIRE(t.store->Write(after, false).ok());

  const auto walk = [&](const Snapshot* at) {
    std::vector<std::string> keys;
    for (auto it = t.store->NewIterator(family, at); it->Valid(); it->Next()) {
      keys.push_back(std::string(it->key()) + "=" + std::string(it->value()));
    }
    return keys;
  };
  CHECK(walk(snapshot.get()) == std::vector<std::string>{"a=a", "b=b", "c=c", zero_key + "=c"});
  CHECK(walk(nullptr) == std::vector<std::string>{"b=b", "c=c", zero_key + "=c", "d=later"});
  auto none = t.store->NewIterator(OrderedFamily(t, "empty"));
  CHECK(!none->Valid());
  CHECK(none->status().ok());
}

TEST_CASE("the event ids' family filters its memtable lookups with a bloom filter, new dir or not") {
  const rocksdb::ColumnFamilyOptions plain;
  const auto ids = FamilyOptionsFor(kEventIdFamily, plain, FamilyKind::kOrdered);
  CHECK(ids.memtable_whole_key_filtering);
  CHECK(ids.memtable_prefix_bloom_size_ratio > 0);
  for (std::string_view other : {kLogFamily, kStreamIndexFamily, std::string_view("rm.x.1.a")}) {
    CHECK(FamilyOptionsFor(other, plain, FamilyKind::kOrdered).memtable_prefix_bloom_size_ratio ==
          0);
  }
  // As the log opened it.
  TestLog t;
  auto opened = t.store->OpenFamily(std::string(kEventIdFamily), FamilyKind::kPointLookup);
  REQUIRE(opened.ok());
  CHECK(t.store->db()->GetOptions(HandleOf(*opened)).memtable_whole_key_filtering);
}

TEST_CASE("a kScratch family is compacted late, the others as RocksDB does by default") {
  TestLog t;
  auto scratch = t.store->OpenFamilies({"rm.x.2.a", "rm.x.2.b"}, FamilyKind::kScratch);
  auto lasting = t.store->OpenFamily("rm.x.3.a", FamilyKind::kOrdered);
  REQUIRE(scratch.ok());
  REQUIRE(lasting.ok());
  for (Family* family : *scratch) {
    CHECK(t.store->db()->GetOptions(HandleOf(family)).level0_file_num_compaction_trigger == 16);
  }
  CHECK(t.store->db()->GetOptions(HandleOf(*lasting)).level0_file_num_compaction_trigger == 4);
}

TEST_CASE("CompactAll leaves no compaction pending, and every key as it was") {
  TestLog t;
  Family* family = OrderedFamily(t, "rm.x.1.a");
  // As if the compactions could not keep up: eight overlapping files in level 0.
  REQUIRE(t.store->db()->SetOptions(HandleOf(family), {{"disable_auto_compactions", "true"}}).ok());
  constexpr int kBatches = 9, kKeys = 1000;
  for (int b = 0; b < kBatches; ++b) {
    IndexedBatch batch(t.store.get());
    for (int i = b % 2; i < kKeys; i += 2) {  // the whole key range each time
      batch.Put(family, "k" + std::to_string(100'000 + i), "v" + std::to_string(b));
    }
    REQUIRE(batch.Ingest(IndexedBatch::Files::kLasting).ok());
  }
  // The first batch went to the bottom level (nothing there overlapped it), each later one,
  // which overlaps it, to level 0.
  std::string level0;
  REQUIRE(t.store->db()->GetProperty(HandleOf(family), "rocksdb.num-files-at-level0", &level0));
  REQUIRE(level0 == std::to_string(kBatches - 1));
  CHECK(t.store->PendingCompactionBytes() > 0);

  StoreOptions read_only = t.store_options;
  read_only.read_only = true;
  auto reader = Store::Open(t.dir.path(), read_only);
  REQUIRE(reader.ok());
  CHECK((*reader)->CompactAll().code() == ErrorCode::kInvalidArgument);
  reader->reset();

  REQUIRE(t.store->CompactAll().ok());
  CHECK(t.store->PendingCompactionBytes() == 0);
  REQUIRE(t.store->db()->GetProperty(HandleOf(family), "rocksdb.num-files-at-level0", &level0));
  CHECK(level0 == "0");
  int seen = 0;
  REQUIRE(t.store->Scan(family, "", "", [&](std::string_view key, std::string_view value) {
    const int i = std::stoi(std::string(key.substr(1))) - 100'000;
    CHECK(value == (i % 2 == 0 ? "v8" : "v7"));  // the last batch that wrote it
    ++seen;
    return true;
  }).ok());
  CHECK(seen == kKeys);
}

TEST_CASE("OpenFamilies creates the missing families at once and DropFamilies drops them") {
  TestLog t;
  auto existing = t.store->OpenFamily("rm.x.1.a", FamilyKind::kOrdered);
  REQUIRE(existing.ok());
  const std::vector<std::string> names = {"rm.x.1.a", "rm.x.1.b", "rm.x.1.c"};
  auto opened = t.store->OpenFamilies(names, FamilyKind::kOrdered);
  REQUIRE_MESSAGE(opened.ok(), opened.status().ToString());
  REQUIRE(opened->size() == 3);
  CHECK((*opened)[0] == *existing);  // the same handle, not a second family
  for (size_t i = 0; i < names.size(); ++i) CHECK(t.store->FindFamily(names[i]) == (*opened)[i]);
  WriteBatch batch;
  batch.Put((*opened)[2], "key", "value");
  REQUIRE(t.store->Write(batch, false).ok());

  CHECK_FAILS_WITH(t.store->DropFamilies({"rm.x.1.b", "rm.x.1.nope"}), ErrorCode::kNotFound);
  CHECK(t.store->FindFamily("rm.x.1.b") != nullptr);  // nothing dropped
  t.Reopen();
  CHECK(t.store->FamilyNames("rm.x.") == names);
  CHECK(*t.store->Get(t.store->FindFamily("rm.x.1.c"), "key") ==
        std::optional<std::string>("value"));
  REQUIRE(t.store->DropFamilies(names).ok());
  CHECK(t.store->FamilyNames("rm.x.").empty());
  t.Reopen();
  CHECK(t.store->FamilyNames("rm.x.").empty());
}

}  // namespace
}  // namespace cairn
