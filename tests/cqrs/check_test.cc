// The consistency check: a replay compared key by key with the live read models, consistent
// under concurrent appends, precise about drift, bounded in what it reports, and repair.
#include <doctest/doctest.h>

#include <cstdio>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "engine_test_util.h"

namespace cairn {
namespace {

using namespace std::chrono_literals;
using namespace testing;

TEST_CASE("the check of a healthy engine is consistent and compares every key") {
  TempDir dir;
  Harness h(dir.path());
  auto specs = AllSpecs(std::make_shared<Hooks>());
  h.OpenEngine(AllSpecs(std::make_shared<Hooks>()), NoThreads(/*batch_events=*/9));
  Populate(*h.log, 0, 120);
  h.MustCatchUp();
  auto report = h.engine->Check(CheckOptions{});
  REQUIRE_MESSAGE(report.ok(), report.status().ToString());
  CHECK(report->consistent);
  CHECK(report->differences_total == 0);
  CHECK(report->differences.empty());
  CHECK(report->drifted.empty());
  CHECK(report->repaired.empty());
  uint64_t keys = 0;
  for (const ProjectionSpec& spec : specs) keys += KeyCount(h.DumpOf(spec));
  CHECK(report->keys_compared == keys);
  // The check leaves no scratch families behind and does not change the live generations.
  for (const ProjectionSpec& spec : specs) {
    CHECK(FamiliesOf(*h.store, spec.name) == FamiliesOfGeneration(spec, 1));
    CHECK(h.StatusOf(spec.name).generation == 1);
  }
}

TEST_CASE("the check is consistent while the projection threads apply concurrent appends") {
  TempDir dir;
  Harness h(dir.path());
  h.OpenEngine(AllSpecs(std::make_shared<Hooks>()), WithThreads(/*batch_events=*/5));
  Populate(*h.log, 0, 200);
  for (const char* name : {"counts", "latest", "payments"}) RequireWait(*h.engine, name, Seq(200));
  Appender appender(h.log.get(), 200, /*limit=*/2000);
  for (int i = 0; i < 2; ++i) {
    CAPTURE(i);
    INFO("counts checkpoint before the check: " << h.StatusOf("counts").checkpoint.value());
    auto report = h.engine->Check(CheckOptions{});
    REQUIRE_MESSAGE(report.ok(), report.status().ToString());
    CHECK(report->consistent);
    CHECK(report->keys_compared > 0);
    for (const Difference& d : report->differences) {
      MESSAGE(d.projection << "/" << d.table << "/" << Printable(d.key) << ": expected "
                           << PrintableOpt(d.expected) << ", actual " << PrintableOpt(d.actual));
    }
  }
  appender.Stop();
}

TEST_CASE("a corrupted read model is found by the check, precisely, and fixed by repair") {
  TempDir dir;
  Harness h(dir.path());
  auto hooks = std::make_shared<Hooks>();
  auto specs = AllSpecs(std::make_shared<Hooks>());  // for replays
  h.OpenEngine(AllSpecs(hooks), NoThreads());
  Populate(*h.log, 0, 60);
  h.MustCatchUp();
  const Tables good_counts = h.DumpOf(specs[0]);
  const Tables good_latest = h.DumpOf(specs[1]);
  const std::string created = good_counts.at("by_type").at("ORDER_CREATED");
  const std::string order3 = good_latest.at("latest").at("order-3");

  // Corrupt the live tables behind the engine's back: a wrong value, a missing key, a stray key.
  const uint32_t gen = h.StatusOf("counts").generation;
  auto by_type = h.store->OpenFamily("rm.counts." + std::to_string(gen) + ".by_type", FamilyKind::kOrdered);
  auto latest = h.store->OpenFamily("rm.latest." + std::to_string(h.StatusOf("latest").generation) + ".latest",
                                    FamilyKind::kOrdered);
  REQUIRE(by_type.ok());
  REQUIRE(latest.ok());
  WriteBatch corrupt;
  corrupt.Put(*by_type, "ORDER_CREATED", EncodeCounter(999));
  corrupt.Delete(*latest, "order-3");
  corrupt.Put(*latest, "order-zz-stray", "stray");
  REQUIRE(h.store->Write(corrupt, false).ok());

  auto report = h.engine->Check(CheckOptions{});
  REQUIRE_MESSAGE(report.ok(), report.status().ToString());
  CHECK(!report->consistent);
  CHECK(report->differences_total == 3);
  REQUIRE(report->differences.size() == 3);
  // In the projections' order, then the tables', then the keys', though the tables are compared
  // on two threads (EngineOptions::apply_threads).
  std::vector<std::string> in_order;
  for (const Difference& d : report->differences) {
    in_order.push_back(d.projection + "/" + d.table + "/" + d.key);
  }
  CHECK(in_order == std::vector<std::string>{"counts/by_type/ORDER_CREATED",
                                             "latest/latest/order-3",
                                             "latest/latest/order-zz-stray"});
  CHECK(report->drifted == std::vector<std::string>{"counts", "latest"});
  CHECK(report->repaired.empty());
  std::map<std::string, Difference> found;
  for (const Difference& d : report->differences) found[d.projection + "/" + d.table + "/" + d.key] = d;
  REQUIRE(found.count("counts/by_type/ORDER_CREATED") == 1);
  CHECK(found["counts/by_type/ORDER_CREATED"].expected == std::optional<std::string>(created));
  CHECK(found["counts/by_type/ORDER_CREATED"].actual == std::optional<std::string>(EncodeCounter(999)));
  REQUIRE(found.count("latest/latest/order-3") == 1);
  CHECK(found["latest/latest/order-3"].expected == std::optional<std::string>(order3));
  CHECK(!found["latest/latest/order-3"].actual.has_value());
  REQUIRE(found.count("latest/latest/order-zz-stray") == 1);
  CHECK(!found["latest/latest/order-zz-stray"].expected.has_value());
  CHECK(found["latest/latest/order-zz-stray"].actual == std::optional<std::string>("stray"));
  // A check alone repairs nothing.
  CHECK(h.Read("counts")->GetCounter("by_type", "ORDER_CREATED").value() == 999);

  CheckOptions repair;
  repair.repair = true;
  auto repaired = h.engine->Check(repair);
  REQUIRE_MESSAGE(repaired.ok(), repaired.status().ToString());
  CHECK(!repaired->consistent);
  CHECK(Sorted(repaired->drifted) == std::vector<std::string>{"counts", "latest"});
  CHECK(Sorted(repaired->repaired) == std::vector<std::string>{"counts", "latest"});
  CHECK(h.StatusOf("counts").generation > gen);
  CHECK(h.StatusOf("payments").generation == 1);  // not drifted, not rebuilt
  CHECK(DiffTables(good_counts, h.DumpOf(specs[0])).empty());
  CHECK(DiffTables(good_latest, h.DumpOf(specs[1])).empty());

  auto after = h.engine->Check(CheckOptions{});
  REQUIRE(after.ok());
  CHECK(after->consistent);
  CHECK(after->drifted.empty());
  CHECK(after->keys_compared > 0);
}

TEST_CASE("the check reports at most max_reported differences but counts them all") {
  TempDir dir;
  Harness h(dir.path());
  h.OpenEngine(AllSpecs(std::make_shared<Hooks>()), NoThreads());
  Populate(*h.log, 0, 30);
  h.MustCatchUp();
  auto seen = h.store->OpenFamily("rm.counts.1.seen", FamilyKind::kOrdered);
  REQUIRE(seen.ok());
  WriteBatch corrupt;
  for (int i = 0; i < 5; ++i) corrupt.Put(*seen, "stray-" + std::to_string(i), "x");
  REQUIRE(h.store->Write(corrupt, false).ok());

  CheckOptions options;
  options.max_reported = 2;
  options.projections = {"counts"};
  auto report = h.engine->Check(options);
  REQUIRE(report.ok());
  CHECK(!report->consistent);
  CHECK(report->differences_total == 5);
  CHECK(report->differences.size() == 2);
  CHECK(report->drifted == std::vector<std::string>{"counts"});

  // A check of only the healthy projections is consistent.
  options.projections = {"latest", "payments"};
  auto healthy = h.engine->Check(options);
  REQUIRE(healthy.ok());
  CHECK(healthy->consistent);
}

TEST_CASE("the check walks a large replay, ingested uncompressed, beside the live table") {
  // "wide" writes 12 keys per event: 5,000 events give 60,000 keys in one batch, which the
  // replay ingests as a scratch table file, and which the check compares in ranges of the
  // first key byte on two threads. Differences at the first key, in the middle (a key missing
  // beside a stray one), at the last key, and stray keys in the first and the last range are
  // all found, in key order.
  const ProjectionSpec wide = WideSpec();
  TempDir dir;
  Harness h(dir.path());
  EngineOptions options = NoThreads();
  options.apply_threads = 2;
  h.OpenEngine({wide}, options);
  Populate(*h.log, 0, 5000);
  h.MustCatchUp();
  auto keys = h.store->OpenFamily("rm.wide.1.keys", FamilyKind::kOrdered);
  REQUIRE(keys.ok());
  const uint64_t ingested_before = h.store->IngestedFiles();
  auto healthy = h.engine->Check(CheckOptions{});
  REQUIRE(healthy.ok());
  CHECK(healthy->consistent);
  CHECK(healthy->keys_compared == 60000);
  CHECK(h.store->IngestedFiles() > ingested_before);

  WriteBatch corrupt;
  corrupt.Put(*keys, "00000001-00", "changed");
  corrupt.Delete(*keys, "00001667-08");
  corrupt.Put(*keys, "00001667-07x", "stray");
  corrupt.Delete(*keys, "00005000-11");
  corrupt.Put(*keys, std::string("\x01 first range"), "stray");
  corrupt.Put(*keys, std::string("\xf5 last range"), "stray");
  REQUIRE(h.store->Write(corrupt, false).ok());
  auto report = h.engine->Check(CheckOptions{});
  REQUIRE(report.ok());
  CHECK(!report->consistent);
  CHECK(report->keys_compared == 60000 + 3 - 2);
  std::vector<std::string> found;
  for (const Difference& d : report->differences) {
    found.push_back(d.key + ": " + d.expected.value_or("-") + " / " + d.actual.value_or("-"));
  }
  CHECK(found == std::vector<std::string>{"\x01 first range: - / stray",
                                          "00000001-00: ORDER_CREATED / changed",
                                          "00001667-07x: - / stray",
                                          "00001667-08: ORDER_CREATED / -",
                                          "00005000-11: ORDER_APPROVED / -",
                                          "\xf5 last range: - / stray"});
}

}  // namespace
}  // namespace cairn
