// Waiting for projections (Engine::WaitForSeq): ok once applied, a timeout while not, seqs of
// topics a projection does not read, and waking up without idle delay.
#include <doctest/doctest.h>

#include <atomic>
#include <chrono>
#include <memory>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "engine_test_util.h"

namespace cairn {
namespace {

using namespace std::chrono_literals;
using namespace testing;

TEST_CASE("WaitForSeq is ok once applied and times out while the projection has not applied") {
  TempDir dir;
  Harness h(dir.path());
  h.OpenEngine(AllSpecs(std::make_shared<Hooks>()), NoThreads());
  Populate(*h.log, 0, 10);
  // Nothing runs the projections: the wait runs out.
  const auto started = Clock::now();
  Status s = h.engine->WaitForSeq("counts", Seq(10), 150ms);
  CHECK(s.code() == ErrorCode::kTimeout);
  CHECK(Clock::now() - started >= 140ms);
  CHECK(h.engine->WaitForSeq("counts", Seq(0), 10ms).ok());

  h.MustCatchUp();
  CHECK(h.engine->WaitForSeq("counts", Seq(10), 10ms).ok());
  CHECK(h.engine->WaitForSeq("counts", Seq(5), 10ms).ok());
  CHECK(h.engine->WaitForSeq("counts", Seq(11), 50ms).code() == ErrorCode::kTimeout);
}

TEST_CASE("WaitForSeq for the seq of a topic a projection does not read is ok once it has scanned past it") {
  TempDir dir;
  Harness h(dir.path());
  SUBCASE("with the projection threads running") {
    h.OpenEngine(AllSpecs(std::make_shared<Hooks>()), WithThreads());
    MustAppend(*h.log, "payments", "pay-1", "PAYMENT_COMPLETED");
    const Position order = MustAppend(*h.log, "orders", "order-1", "ORDER_CREATED");
    // "payments" reads no order event, yet an order's seq is reached.
    CHECK(h.engine->WaitForSeq("payments", order.seq, 10s).ok());
    CHECK(h.engine->WaitForSeq("latest", order.seq, 10s).ok());
    // Only orders after the last payment.
    for (int i = 0; i < 5; ++i) MustAppend(*h.log, "orders", "order-2", "ORDER_CREATED");
    CHECK(h.engine->WaitForSeq("payments", h.log->LastSeq(), 10s).ok());
    CHECK(h.StatusOf("payments").checkpoint == Seq(1));
  }
  SUBCASE("with CatchUp") {
    h.OpenEngine(AllSpecs(std::make_shared<Hooks>()), NoThreads());
    const Position order = MustAppend(*h.log, "orders", "order-1", "ORDER_CREATED");
    CHECK(h.engine->WaitForSeq("payments", order.seq, 20ms).code() == ErrorCode::kTimeout);
    h.MustCatchUp();
    CHECK(h.engine->WaitForSeq("payments", order.seq, 20ms).ok());
    CHECK(h.StatusOf("payments").checkpoint == Seq(0));
  }
}

TEST_CASE("WaitForSeq wakes up as soon as the projection thread applies the event") {
  TempDir dir;
  Harness h(dir.path());
  h.OpenEngine(AllSpecs(std::make_shared<Hooks>()), WithThreads());
  std::atomic<bool> ok{false};
  std::thread waiter([&] { ok.store(h.engine->WaitForSeq("latest", Seq(1), 10s).ok()); });
  std::this_thread::sleep_for(20ms);
  MustAppend(*h.log, "orders", "order-1", "ORDER_CREATED");
  waiter.join();
  CHECK(ok.load());
  CHECK(h.Read("latest")->Get("versions", "order-1").value() == std::optional<std::string>("1"));
}

TEST_CASE("an append made while the projection thread commits a batch is applied without idle delay") {
  // Two appends back to back: the second often lands while the thread is applying the first.
  // Either way the thread must notice it at once, not at its next idle time-out.
  TempDir dir;
  Harness h(dir.path());
  h.OpenEngine({LatestSpec(std::make_shared<Hooks>())}, WithThreads());
  std::vector<double> slow_ms;
  std::mt19937 rng(7);
  for (int i = 0; i < 150; ++i) {
    MustAppend(*h.log, "orders", "order-1", "ORDER_CREATED");
    // Sweep the second append across the time the thread takes to apply the first.
    std::this_thread::sleep_for(std::chrono::microseconds(std::uniform_int_distribution<int>(0, 400)(rng)));
    const Position second = MustAppend(*h.log, "orders", "order-2", "ORDER_CREATED");
    const auto started = Clock::now();
    RequireWait(*h.engine, "latest", second.seq);
    const double ms = std::chrono::duration<double, std::milli>(Clock::now() - started).count();
    if (ms > 150) slow_ms.push_back(ms);
  }
  std::string text;
  for (double ms : slow_ms) text += std::to_string(static_cast<int>(ms)) + "ms ";
  CHECK_MESSAGE(slow_ms.empty(), slow_ms.size() << " of 150 waits took over 150 ms: " << text);
}

}  // namespace
}  // namespace cairn
