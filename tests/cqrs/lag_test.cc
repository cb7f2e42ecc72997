// Lag (Engine::Statuses): per-partition checkpoint, high-water mark, lag in events and the age
// of the last applied event, and their sum per projection.
#include <doctest/doctest.h>

#include <chrono>
#include <map>
#include <memory>
#include <string>
#include <utility>

#include "engine_test_util.h"

namespace cairn {
namespace {

using namespace std::chrono_literals;
using namespace testing;

TEST_CASE("Statuses report per-partition checkpoint, high-water mark and lag, and their sum") {
  TempDir dir;
  Harness h(dir.path());
  h.OpenEngine(AllSpecs(std::make_shared<Hooks>()), NoThreads());
  const int64_t a_minute_ago =
      std::chrono::duration_cast<std::chrono::microseconds>(
          std::chrono::system_clock::now().time_since_epoch())
          .count() -
      60'000'000;

  // Count what lands where, from the append positions.
  std::map<std::pair<std::string, uint32_t>, uint64_t> appended;
  auto append = [&](const std::string& topic, const std::string& stream) {
    const Position p = MustAppend(*h.log, topic, stream, "E", "{}", a_minute_ago);
    ++appended[{p.topic, p.partition.value()}];
  };
  for (int i = 0; i < 30; ++i) append("orders", "order-" + std::to_string(i % 9));
  for (int i = 0; i < 7; ++i) append("payments", "pay-" + std::to_string(i % 3));

  auto by_partition = [](const ProjectionStatus& s) {
    std::map<std::pair<std::string, uint32_t>, PartitionLag> out;
    for (const PartitionLag& p : s.partitions) out[{p.topic, p.partition.value()}] = p;
    return out;
  };

  SUBCASE("before anything is applied, the lag is every event") {
    const ProjectionStatus counts = h.StatusOf("counts");
    CHECK(counts.checkpoint == Seq(0));
    CHECK(counts.lag_events == 37);
    auto parts = by_partition(counts);
    CHECK(parts.size() == kOrderPartitions + kPaymentPartitions);
    for (const auto& [key, lag] : parts) {
      CAPTURE(key.first);
      CAPTURE(key.second);
      const uint64_t n = appended.count(key) ? appended[key] : 0;
      CHECK(lag.checkpoint == Offset(0));
      CHECK(lag.high_water_mark == Offset(n));
      CHECK(lag.lag_events == n);
      CHECK(!lag.last_applied_age.has_value());
    }
    const ProjectionStatus latest = h.StatusOf("latest");
    CHECK(latest.lag_events == 30);
    CHECK(by_partition(latest).size() == kOrderPartitions);
    for (const PartitionLag& p : latest.partitions) CHECK(p.topic == "orders");
    CHECK(h.StatusOf("payments").lag_events == 7);
  }

  SUBCASE("after CatchUp the lag is 0 and the age of the last applied event is known") {
    h.MustCatchUp();
    for (const ProjectionStatus& s : h.engine->Statuses()) {
      CAPTURE(s.name);
      CHECK(s.lag_events == 0);
      CHECK(s.state == ProjectionState::kRunning);
      for (const PartitionLag& p : s.partitions) {
        CAPTURE(p.topic);
        CAPTURE(p.partition.value());
        const uint64_t n = appended[{p.topic, p.partition.value()}];
        CHECK(p.checkpoint == Offset(n));
        CHECK(p.high_water_mark == Offset(n));
        CHECK(p.lag_events == 0);
        if (n > 0) {
          REQUIRE(p.last_applied_age.has_value());
          CHECK(*p.last_applied_age >= 60s);
          CHECK(*p.last_applied_age < 120s);
        } else {
          CHECK(!p.last_applied_age.has_value());
        }
      }
    }
    CHECK(h.StatusOf("counts").checkpoint == Seq(37));
    // payments applied seq 31..37, latest the orders up to seq 30.
    CHECK(h.StatusOf("payments").checkpoint == Seq(37));
    CHECK(h.StatusOf("latest").checkpoint == Seq(30));

    // Three more orders into one partition: lag 3 there, 0 elsewhere.
    const Position p = MustAppend(*h.log, "orders", "order-1", "E");
    MustAppend(*h.log, "orders", "order-1", "E");
    MustAppend(*h.log, "orders", "order-1", "E");
    const ProjectionStatus latest = h.StatusOf("latest");
    CHECK(latest.lag_events == 3);
    for (const PartitionLag& part : latest.partitions) {
      CHECK(part.lag_events == (part.partition == p.partition ? 3u : 0u));
    }
    CHECK(h.StatusOf("payments").lag_events == 0);
    CHECK(h.StatusOf("counts").lag_events == 3);
  }
}

}  // namespace
}  // namespace cairn
