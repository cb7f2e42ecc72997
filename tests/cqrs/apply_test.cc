// Applying events: CatchUp and the projection threads apply every event of a projection's
// topics exactly once in seq order, a handler sees the earlier writes of its own batch, and
// counters stay exact under concurrent appends.
#include <doctest/doctest.h>

#include <atomic>
#include <cstdio>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "engine_test_util.h"

namespace cairn {
namespace {

using namespace std::chrono_literals;
using namespace testing;

TEST_CASE("CatchUp applies every event of a projection's topics once, in seq order") {
  TempDir dir;
  Harness h(dir.path());
  auto counts_hooks = std::make_shared<Hooks>();
  auto latest_hooks = std::make_shared<Hooks>();
  auto specs = AllSpecs(std::make_shared<Hooks>());  // for replays
  h.OpenEngine(AllSpecs(counts_hooks, latest_hooks), NoThreads(/*batch_events=*/7));
  Populate(*h.log, 0, 100);
  h.MustCatchUp();

  const Seq last = h.log->LastSeq();
  REQUIRE(last == Seq(100));
  auto counts_calls = counts_hooks->Calls();
  CHECK(counts_calls.size() == 100);
  CHECK(counts_hooks->total_calls.load() == 100);
  // latest reads only "orders": exactly the order events, each once.
  std::set<uint64_t> order_seqs;
  CHECK(h.log->ScanInSeqOrder({"orders"}, Seq(0), SIZE_MAX, [&](const EventView& e) {
    order_seqs.insert(e.seq().value());
    return true;
  }).ok());
  auto latest_calls = latest_hooks->Calls();
  CHECK(latest_calls.size() == order_seqs.size());
  for (const auto& [seq, n] : latest_calls) {
    CHECK(order_seqs.count(seq) == 1);
    CHECK(n == 1);
  }

  CheckEqualsFreshReplay(h, specs);
  // Counters say what was appended: 100 events, 33 of them payments.
  const Tables counts = h.DumpOf(specs[0]);
  CHECK(CounterIn(counts, "by_type", "PAYMENT_COMPLETED") == 33);
  CHECK(CounterIn(counts, "by_type", "ORDER_CREATED") + CounterIn(counts, "by_type", "ORDER_APPROVED") +
            CounterIn(counts, "by_type", "ORDER_SHIPPED") ==
        67);
  CHECK(counts.at("dupes").empty());
  CHECK(counts.at("seen").size() == 100);
  CHECK(h.Read("payments")->GetCounter("total", "events").value() == 33);

  // A second CatchUp has nothing to do.
  h.MustCatchUp();
  CHECK(counts_hooks->total_calls.load() == 100);
}

TEST_CASE("ProjectionWriter::Get and GetCounter see the writes of earlier events in the same batch") {
  TempDir dir;
  Harness h(dir.path());
  ProjectionSpec running;
  running.name = "running";
  running.topics = {"orders"};
  running.tables = {"state", "trace"};
  running.handler = [](const EventView& e, ProjectionWriter& out) -> Status {
    // n: a counter; "last": a Put that the next event reads and deletes-and-rewrites.
    Result<int64_t> n = out.GetCounter("state", "n");
    if (!n.ok()) return n.status();
    Result<std::optional<std::string>> last = out.Get("state", "last");
    if (!last.ok()) return last.status();
    char seq[21];
    std::snprintf(seq, sizeof seq, "%020llu", static_cast<unsigned long long>(e.seq().value()));
    out.Put("trace", seq, std::to_string(*n) + "|" + last->value_or("(none)"));
    out.AddCounter("state", "n", 1);
    out.Delete("state", "last");
    Result<std::optional<std::string>> gone = out.Get("state", "last");
    if (!gone.ok()) return gone.status();
    if (gone->has_value()) return Status::Internal("a Delete was not visible to Get");
    out.Put("state", "last", std::string(e.data()));
    return Status::Ok();
  };
  auto latest_hooks = std::make_shared<Hooks>();
  h.OpenEngine({running, LatestSpec(latest_hooks)}, NoThreads(/*batch_events=*/1000));
  for (int i = 0; i < 20; ++i) {
    MustAppend(*h.log, "orders", "order-" + std::to_string(i % 3), "ORDER_CREATED",
               "{\"i\":" + std::to_string(i) + "}");
  }
  h.MustCatchUp();  // all 20 in one batch

  auto model = h.Read("running");
  std::vector<std::string> trace;
  REQUIRE(model->Scan("trace", "", "", [&](std::string_view, std::string_view v) {
    trace.emplace_back(v);
    return true;
  }).ok());
  REQUIRE(trace.size() == 20);
  CHECK(trace[0] == "0|(none)");
  for (int i = 1; i < 20; ++i) {
    CHECK(trace[i] == std::to_string(i) + "|{\"i\":" + std::to_string(i - 1) + "}");
  }
  CHECK(model->GetCounter("state", "n").value() == 20);

  // latest's per-stream read-modify-write counted every event of its stream.
  auto latest = h.Read("latest");
  for (int s = 0; s < 3; ++s) {
    const std::string stream = "order-" + std::to_string(s);
    auto head = h.log->StreamHead(stream);
    REQUIRE(head.ok());
    CHECK(latest->Get("versions", stream).value() == std::optional<std::string>(std::to_string(head->value())));
  }
}

TEST_CASE("counters stay exact under concurrent appends with the projection threads running") {
  TempDir dir;
  Harness h(dir.path());
  auto hooks = std::make_shared<Hooks>();
  auto specs = AllSpecs(std::make_shared<Hooks>());  // for replays
  h.OpenEngine(AllSpecs(hooks), WithThreads(/*batch_events=*/16));
  constexpr int kWriters = 4;
  constexpr int kPerWriter = 150;
  std::atomic<int> failures{0};
  std::vector<std::thread> writers;
  for (int w = 0; w < kWriters; ++w) {
    writers.emplace_back([&, w] {
      for (int i = 0; i < kPerWriter; ++i) {
        const std::string type = "T" + std::to_string((w + i) % 5);
        const std::string topic = i % 4 == 3 ? "payments" : "orders";
        if (!TryAppend(*h.log, topic, "w" + std::to_string(w) + "-" + std::to_string(i % 10), type).ok()) {
          failures.fetch_add(1);
        }
      }
    });
  }
  for (auto& t : writers) t.join();
  REQUIRE(failures.load() == 0);
  const Seq last = h.log->LastSeq();
  REQUIRE(last == Seq(kWriters * kPerWriter));
  for (const ProjectionSpec& spec : specs) RequireWait(*h.engine, spec.name, last);

  auto counts = h.Read("counts");
  int64_t sum = 0;
  for (int t = 0; t < 5; ++t) {
    // Each writer sends (w + i) % 5 == t for exactly 30 of its 150 events.
    CHECK(counts->GetCounter("by_type", "T" + std::to_string(t)).value() == kWriters * 30);
    sum += counts->GetCounter("by_type", "T" + std::to_string(t)).value();
  }
  CHECK(sum == kWriters * kPerWriter);
  CHECK(h.Read("payments")->GetCounter("total", "events").value() == kWriters * (kPerWriter / 4));
  for (const auto& [seq, n] : hooks->Calls()) CHECK(n == 1);
  CheckEqualsFreshReplay(h, specs);
}

TEST_CASE("CatchUp beside the projection threads and concurrent appends applies each event once") {
  TempDir dir;
  Harness h(dir.path());
  auto hooks = std::make_shared<Hooks>();
  auto specs = AllSpecs(std::make_shared<Hooks>());  // for replays
  EngineOptions options = WithThreads(/*batch_events=*/16);
  options.rebuild_batch_events = 64;  // the catch-ups' batches
  h.OpenEngine(AllSpecs(hooks), options);
  std::atomic<bool> appending{true};
  std::thread catch_ups([&] {
    while (appending.load()) CHECK(h.engine->CatchUp().ok());
  });
  Populate(*h.log, 0, 1500);
  appending.store(false);
  catch_ups.join();
  h.MustCatchUp();
  const Seq last = h.log->LastSeq();
  for (const ProjectionSpec& spec : specs) RequireWait(*h.engine, spec.name, last);
  for (const auto& [seq, n] : hooks->Calls()) CHECK_MESSAGE(n == 1, "seq " << seq);
  CheckEqualsFreshReplay(h, specs);
}

}  // namespace
}  // namespace cairn
