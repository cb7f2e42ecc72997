// A data dir that Cairn has closed opens read-only: with Store::Open(read_only) and with plain
// RocksDB and its default options, as operators' tools (ldb, sst_dump, scripts) and secondary
// instances open it. Default options have no merge operator, so they cannot replay a WAL
// record that adds to a counter; the store must leave none that a recovery would replay.
#include <doctest/doctest.h>

#include <rocksdb/db.h>

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "engine_test_util.h"

namespace cairn {
namespace {

using namespace testing;

// Events with a 2 KB payload: 3000 of them overflow the 4 MB memtable of the log, which RocksDB
// then flushes while the WAL still holds counter additions (Merge records) of the projections.
void AppendLargeOrders(Log& log, int from, int count) {
  const std::string pad(2000, 'x');
  for (int i = from; i < from + count; ++i) {
    MustAppend(log, i % 4 == 3 ? "payments" : "orders", "order-" + std::to_string(i % 13),
               "ORDER_CREATED", "{\"i\":" + std::to_string(i) + ",\"pad\":\"" + pad + "\"}");
  }
}

// Opens `dir` the way a generic RocksDB tool does: default options, every family listed.
struct PlainRocksDb {
  explicit PlainRocksDb(const std::string& dir) {
    rocksdb::DBOptions options;
    std::vector<std::string> names;
    status = rocksdb::DB::ListColumnFamilies(options, dir, &names);
    if (!status.ok()) return;
    std::vector<rocksdb::ColumnFamilyDescriptor> families;
    for (const std::string& name : names) {
      families.emplace_back(name, rocksdb::ColumnFamilyOptions());
    }
    rocksdb::DB* raw = nullptr;
    status = rocksdb::DB::OpenForReadOnly(options, dir, families, &handles, &raw);
    db.reset(raw);
    for (size_t i = 0; i < handles.size(); ++i) by_name[names[i]] = handles[i];
  }
  ~PlainRocksDb() {
    for (rocksdb::ColumnFamilyHandle* h : handles) db->DestroyColumnFamilyHandle(h);
  }
  std::optional<std::string> Get(const std::string& family, const std::string& key) {
    std::string value;
    REQUIRE(by_name.count(family) == 1);
    rocksdb::Status s = db->Get(rocksdb::ReadOptions(), by_name[family], key, &value);
    if (s.IsNotFound()) return std::nullopt;
    REQUIRE_MESSAGE(s.ok(), s.ToString());
    return value;
  }

  rocksdb::Status status;
  std::unique_ptr<rocksdb::DB> db;
  std::vector<rocksdb::ColumnFamilyHandle*> handles;
  std::map<std::string, rocksdb::ColumnFamilyHandle*> by_name;
};

TEST_CASE("a data dir closed after a rebuild opens read-only with RocksDB's default options") {
  TempDir dir;
  auto specs = AllSpecs(std::make_shared<Hooks>());
  std::optional<std::string> latest_order_1;
  int64_t created = 0;
  {
    Harness h(dir.path());
    h.OpenEngine(AllSpecs(std::make_shared<Hooks>()), NoThreads());
    AppendLargeOrders(*h.log, 0, 3000);
    h.MustCatchUp();
    auto job = h.engine->StartRebuild({});
    REQUIRE(job.ok());
    auto done = h.engine->WaitForRebuild(*job);
    REQUIRE(done.ok());
    REQUIRE(done->state == RebuildProgress::State::kDone);
    REQUIRE(h.StatusOf("latest").generation == 2);
    latest_order_1 = h.Read("latest")->Get("latest", "order-1").value();
    REQUIRE(latest_order_1.has_value());
    created = h.Read("counts")->GetCounter("by_type", "ORDER_CREATED").value();
    CHECK(created == 3000);
    // The server goes on taking events after the rebuild; the projections are not run again.
    AppendLargeOrders(*h.log, 3000, 3000);
  }

  SUBCASE("with RocksDB's default options") {
    PlainRocksDb plain(dir.path());
    REQUIRE_MESSAGE(plain.status.ok(), plain.status.ToString());
    const std::optional<std::string> got = plain.Get("rm.latest.2.latest", "order-1");
    CHECK_MESSAGE(got == latest_order_1, "got " << PrintableOpt(got).substr(0, 60) << ", want "
                                                << PrintableOpt(latest_order_1).substr(0, 60));
  }
  SUBCASE("with Store::Open read_only") {
    StoreOptions options = FastStoreOptions();
    options.read_only = true;
    auto store = Store::Open(dir.path(), options);
    REQUIRE_MESSAGE(store.ok(), store.status().ToString());
    Family* latest = (*store)->FindFamily("rm.latest.2.latest");
    Family* by_type = (*store)->FindFamily("rm.counts.2.by_type");
    REQUIRE(latest != nullptr);
    REQUIRE(by_type != nullptr);
    CHECK((*store)->Get(latest, "order-1").value() == latest_order_1);
    auto counter = (*store)->Get(by_type, "ORDER_CREATED");
    REQUIRE(counter.ok());
    REQUIRE(counter->has_value());
    CHECK(DecodeCounter(**counter) == created);
  }
}

}  // namespace
}  // namespace cairn
