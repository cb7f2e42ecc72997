// Handler failures: a failing handler stops its projection exactly at the bad event (keeping
// the batch's earlier events), leaves the others running, and Restart resumes it from its
// checkpoint once the handler succeeds.
#include <doctest/doctest.h>

#include <memory>
#include <string>
#include <thread>

#include "engine_test_util.h"

namespace cairn {
namespace {

using namespace std::chrono_literals;
using namespace testing;

TEST_CASE("a failing handler stops its projection at the bad event, keeping the batch's earlier events") {
  TempDir dir;
  Harness h(dir.path());
  auto hooks = std::make_shared<Hooks>();
  hooks->fail_poison.store(true);
  h.OpenEngine({CountsSpec(hooks)}, NoThreads(/*batch_events=*/100));
  Populate(*h.log, 0, 6);
  const Position poison = MustAppend(*h.log, "orders", "order-x", "POISON");
  Populate(*h.log, 6, 5);

  Status caught = h.engine->CatchUp();  // one batch: 6 good events, then the poison
  CHECK(!caught.ok());
  const ProjectionStatus s = h.StatusOf("counts");
  CHECK(s.state == ProjectionState::kFailed);
  CHECK(Contains(s.error, "poisoned event at " + poison.ToString()));
  REQUIRE(s.failed_at.has_value());
  CHECK(*s.failed_at == poison);
  CHECK(s.checkpoint == Seq(poison.seq.value() - 1));

  // The six events before it are applied; nothing of the poison or after.
  auto counts = h.Read("counts");
  int64_t total = 0;
  REQUIRE(counts->Scan("by_type", "", "", [&](std::string_view, std::string_view v) {
    total += DecodeCounter(v);
    return true;
  }).ok());
  CHECK(total == 6);
  CHECK(counts->GetCounter("by_type", "POISON").value() == 0);

  // Lag reflects the stop: 6 events after the checkpoint (poison + 5).
  CHECK(s.lag_events == 6);

  // WaitForSeq reports the failure at once rather than timing out.
  const auto started = Clock::now();
  Status wait = h.engine->WaitForSeq("counts", h.log->LastSeq(), 5s);
  CHECK(!wait.ok());
  CHECK(wait.code() != ErrorCode::kTimeout);
  CHECK(Clock::now() - started < 2s);
  CHECK(Contains(wait.message(), "poisoned"));
  // A seq it did apply is still reached.
  CHECK(h.engine->WaitForSeq("counts", Seq(poison.seq.value() - 1), 10ms).ok());
}

TEST_CASE("a failing handler leaves the other projections running") {
  TempDir dir;
  Harness h(dir.path());
  auto hooks = std::make_shared<Hooks>();
  hooks->fail_poison.store(true);
  auto specs = AllSpecs(std::make_shared<Hooks>());  // for replays
  h.OpenEngine(AllSpecs(hooks), WithThreads(/*batch_events=*/4));
  Populate(*h.log, 0, 20);
  const Position poison = MustAppend(*h.log, "orders", "order-x", "POISON");
  Populate(*h.log, 20, 20);

  Status wait = h.engine->WaitForSeq("counts", h.log->LastSeq(), 10s);
  CHECK(!wait.ok());
  CHECK(wait.code() != ErrorCode::kTimeout);
  RequireWait(*h.engine, "latest", h.log->LastSeq());
  RequireWait(*h.engine, "payments", h.log->LastSeq());

  // They keep running after the failure too.
  Populate(*h.log, 40, 20);
  RequireWait(*h.engine, "latest", h.log->LastSeq());
  RequireWait(*h.engine, "payments", h.log->LastSeq());
  CHECK(h.StatusOf("latest").lag_events == 0);
  CHECK(h.StatusOf("latest").state != ProjectionState::kFailed);

  const ProjectionStatus failed = h.StatusOf("counts");
  CHECK(failed.state == ProjectionState::kFailed);
  REQUIRE(failed.failed_at.has_value());
  CHECK(*failed.failed_at == poison);
  CHECK(failed.checkpoint == Seq(poison.seq.value() - 1));
  // The thread stays stopped: nothing more is applied.
  std::this_thread::sleep_for(50ms);
  CHECK(h.StatusOf("counts").checkpoint == Seq(poison.seq.value() - 1));

  // Fixed, restarted: it resumes from its checkpoint and applies the poison exactly once.
  hooks->fail_poison.store(false);
  REQUIRE(h.engine->Restart("counts").ok());
  RequireWait(*h.engine, "counts", h.log->LastSeq());
  const ProjectionStatus resumed = h.StatusOf("counts");
  CHECK(resumed.state != ProjectionState::kFailed);
  CHECK(resumed.error.empty());
  CHECK(!resumed.failed_at.has_value());
  CHECK(resumed.checkpoint == h.log->LastSeq());
  CHECK(h.Read("counts")->GetCounter("by_type", "POISON").value() == 1);
  CheckEqualsFreshReplay(h, specs);
}

TEST_CASE("CatchUp still applies every event to the healthy projections when another one fails") {
  TempDir dir;
  Harness h(dir.path());
  auto hooks = std::make_shared<Hooks>();
  hooks->fail_poison.store(true);
  h.OpenEngine(AllSpecs(hooks), NoThreads());  // counts (which fails) comes first
  Populate(*h.log, 0, 10);
  MustAppend(*h.log, "orders", "order-x", "POISON");
  Populate(*h.log, 10, 10);

  CHECK(!h.engine->CatchUp().ok());
  CHECK(h.StatusOf("counts").state == ProjectionState::kFailed);
  CHECK(h.StatusOf("latest").lag_events == 0);
  CHECK(h.StatusOf("payments").lag_events == 0);
  CHECK(h.engine->WaitForSeq("latest", h.log->LastSeq(), 10ms).ok());
  CHECK(h.engine->WaitForSeq("payments", h.log->LastSeq(), 10ms).ok());

  // And on the next CatchUp too, while counts stays failed.
  Populate(*h.log, 20, 5);
  CHECK(!h.engine->CatchUp().ok());
  CHECK(h.StatusOf("latest").lag_events == 0);
  CHECK(h.StatusOf("payments").lag_events == 0);
}

TEST_CASE("Restart of a failed projection resumes from its checkpoint once the handler succeeds") {
  TempDir dir;
  Harness h(dir.path());
  auto hooks = std::make_shared<Hooks>();
  hooks->fail_poison.store(true);
  auto specs = AllSpecs(std::make_shared<Hooks>());  // for replays
  h.OpenEngine({CountsSpec(hooks)}, NoThreads(/*batch_events=*/3));
  Populate(*h.log, 0, 8);
  const Position poison = MustAppend(*h.log, "orders", "order-x", "POISON");
  Populate(*h.log, 8, 8);
  CHECK(!h.engine->CatchUp().ok());
  CHECK(h.StatusOf("counts").checkpoint == Seq(poison.seq.value() - 1));

  // Restarting while it still fails fails again at the same event.
  REQUIRE(h.engine->Restart("counts").ok());
  CHECK(!h.engine->CatchUp().ok());
  REQUIRE(h.StatusOf("counts").failed_at.has_value());
  CHECK(*h.StatusOf("counts").failed_at == poison);

  hooks->fail_poison.store(false);
  hooks->ResetCalls();
  REQUIRE(h.engine->Restart("counts").ok());
  CHECK(h.StatusOf("counts").state != ProjectionState::kFailed);
  h.MustCatchUp();
  // Only the poison and what follows were applied, once each.
  auto calls = hooks->Calls();
  CHECK(calls.size() == h.log->LastSeq().value() - poison.seq.value() + 1);
  CHECK(calls.begin()->first == poison.seq.value());
  for (const auto& [seq, n] : calls) CHECK(n == 1);
  CHECK(h.StatusOf("counts").checkpoint == h.log->LastSeq());
  const std::string diff = DiffTables(Replay(*h.log, specs[0]), h.DumpOf(specs[0]));
  CHECK_MESSAGE(diff.empty(), diff);
}

TEST_CASE("a write to an undeclared table fails the projection and keeps none of that event's writes") {
  TempDir dir;
  Harness h(dir.path());
  auto hooks = std::make_shared<Hooks>();
  hooks->write_undeclared.store(true);
  h.OpenEngine({CountsSpec(hooks)}, NoThreads());
  Populate(*h.log, 0, 5);
  const Position stray = MustAppend(*h.log, "orders", "order-s", "STRAY");
  Populate(*h.log, 5, 3);

  CHECK(!h.engine->CatchUp().ok());
  const ProjectionStatus s = h.StatusOf("counts");
  CHECK(s.state == ProjectionState::kFailed);
  CHECK(Contains(s.error, "no_such_table"));
  REQUIRE(s.failed_at.has_value());
  CHECK(*s.failed_at == stray);
  CHECK(s.checkpoint == Seq(5));
  auto counts = h.Read("counts");
  // The counter the handler added before the bad write is rolled back with the event.
  CHECK(counts->GetCounter("by_type", "STRAY").value() == 0);
  int64_t seen = 0;
  REQUIRE(counts->Scan("seen", "", "", [&](auto, auto) {
    ++seen;
    return true;
  }).ok());
  CHECK(seen == 5);
  // Reading an undeclared table through the ReadModel is an error, not a crash.
  CHECK(!counts->Get("no_such_table", "k").ok());
}

}  // namespace
}  // namespace cairn
