// Blue/green rebuilds: a new generation built from the log, switched to durably while the old
// one keeps serving and then dropped; byte-identical results, progress, conflicts, failures,
// appends during the rebuild, and a close in the middle of one.
#include <doctest/doctest.h>

#include <any>
#include <cstdio>
#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "engine_test_util.h"

namespace cairn {
namespace {

using namespace std::chrono_literals;
using namespace testing;

// Rebuilds `names` (every projection when empty) and waits for the job to end.
RebuildProgress RebuildAndWait(Harness& h, std::vector<std::string> names) {
  auto job = h.engine->StartRebuild(std::move(names));
  REQUIRE(job.ok());
  auto done = h.engine->WaitForRebuild(*job);
  REQUIRE(done.ok());
  return *done;
}

// Starts a rebuild of "counts" whose first batch waits at the hooks' gate, and returns its job
// once the rebuild has reached the gate (the caller opens it: hooks.gate_closed = false).
uint64_t StartRebuildAtGate(Harness& h, Hooks& hooks) {
  hooks.gate_closed.store(true);
  auto job = h.engine->StartRebuild({"counts"});
  REQUIRE(job.ok());
  REQUIRE(WaitUntil([&] { return hooks.gate_reached.load(); }, 10s));
  return *job;
}

// Decodes an event to its type, counting the calls per seq.
class CountingDecoder : public EventDecoder {
 public:
  std::any Decode(const EventView& event) const override {
    std::lock_guard lock(mu_);
    ++calls_[event.seq().value()];
    return std::string(event.type());
  }
  std::map<uint64_t, int> Calls() const {
    std::lock_guard lock(mu_);
    return calls_;
  }

 private:
  mutable std::mutex mu_;
  mutable std::map<uint64_t, int> calls_;
};

// A projection that records, per event, what the decoder made of it ("-" when nothing), and
// counts the events it applied (a counter: applying one twice shows). It fails at a POISON
// event.
ProjectionSpec DecodedTypes(std::string name, std::vector<std::string> topics,
                            std::shared_ptr<const EventDecoder> decoder) {
  ProjectionSpec spec;
  spec.name = std::move(name);
  spec.topics = std::move(topics);
  spec.tables = {"types", "applied"};
  spec.batch_handler = [](const std::vector<const EventView*>& events,
                          ProjectionWriter& out) -> std::optional<BatchFailure> {
    for (size_t i = 0; i < events.size(); ++i) {
      const EventView& e = *events[i];
      if (e.type() == "POISON") return BatchFailure{i, Status::InvalidArgument("poison")};
      const std::any* decoded = out.Decoded(e);
      out.Put("types", std::to_string(e.seq().value()),
              decoded ? std::any_cast<const std::string&>(*decoded) : std::string("-"));
      out.AddCounter("applied", "events", 1);
    }
    return std::nullopt;
  };
  spec.decoder = std::move(decoder);
  return spec;
}

// Events of `topics` (all when empty) with seq in [first, last].
int64_t EventsIn(Log& log, const std::vector<std::string>& topics, uint64_t first,
                 uint64_t last) {
  int64_t n = 0;
  CHECK(log.ScanInSeqOrder(topics, Seq(0), SIZE_MAX, [&](const EventView& e) {
    n += e.seq().value() >= first && e.seq().value() <= last;
    return true;
  }).ok());
  return n;
}

TEST_CASE("projections sharing an EventDecoder: a rebuild decodes each event once for all") {
  TempDir dir;
  Harness h(dir.path());
  auto decoder = std::make_shared<CountingDecoder>();
  std::vector<ProjectionSpec> specs = {DecodedTypes("all_types", {}, decoder),
                                       DecodedTypes("order_types", {"orders"}, decoder),
                                       DecodedTypes("undecoded", {}, nullptr)};
  EngineOptions options = NoThreads();
  options.apply_threads = 2;
  options.rebuild_batch_events = 16;  // several batches
  h.OpenEngine(specs, options);
  Populate(*h.log, 0, 60);
  REQUIRE(RebuildAndWait(h, {"all_types", "order_types", "undecoded"}).state ==
          RebuildProgress::State::kDone);

  // Every event decoded exactly once, though two projections read the order events.
  const std::map<uint64_t, int> calls = decoder->Calls();
  CHECK(calls.size() == 60);
  for (const auto& [seq, n] : calls) CHECK_MESSAGE(n == 1, "seq " << seq);
  // Each handler saw every event of its topics decoded; one without a decoder saw none.
  const auto types_of = [&](const std::string& name) {
    std::map<std::string, std::string> types;
    CHECK(h.Read(name)->Scan("types", "", "", [&](std::string_view k, std::string_view v) {
      types.emplace(k, v);
      return true;
    }).ok());
    return types;
  };
  const auto all = types_of("all_types");
  const auto orders = types_of("order_types");
  const auto undecoded = types_of("undecoded");
  CHECK(all.size() == 60);
  CHECK(undecoded.size() == 60);
  CHECK(orders.size() == 40);  // every third event is a payment
  CHECK(h.log->ScanInSeqOrder({}, Seq(0), SIZE_MAX, [&](const EventView& e) {
    const std::string seq = std::to_string(e.seq().value());
    CHECK(all.at(seq) == e.type());
    CHECK(undecoded.at(seq) == "-");
    if (e.topic() == "orders") CHECK(orders.at(seq) == e.type());
    return true;
  }).ok());
}

TEST_CASE("CatchUp takes its projections through the log together: each event decoded once") {
  TempDir dir;
  Harness h(dir.path());
  auto decoder = std::make_shared<CountingDecoder>();
  std::vector<ProjectionSpec> specs = {DecodedTypes("all_types", {}, decoder),
                                       DecodedTypes("order_types", {"orders"}, decoder)};
  EngineOptions options = NoThreads();
  options.apply_threads = 2;
  options.rebuild_batch_events = 700;  // batches of several decoding blocks, on two threads
  h.OpenEngine(specs, options);
  Populate(*h.log, 0, 1000);
  h.MustCatchUp();
  std::map<uint64_t, int> calls = decoder->Calls();
  CHECK(calls.size() == 1000);
  for (const auto& [seq, n] : calls) CHECK_MESSAGE(n == 1, "seq " << seq);

  // Reopened with a third projection, new: it starts from the first event while the others are
  // at the head. Each is given exactly the events after its own checkpoint.
  specs.push_back(DecodedTypes("late_types", {}, decoder));
  h.Reopen(specs, options);
  Populate(*h.log, 1000, 500);
  h.MustCatchUp();
  calls = decoder->Calls();
  CHECK(calls.size() == 1500);
  for (const auto& [seq, n] : calls) CHECK_MESSAGE(n == (seq <= 1000 ? 2 : 1), "seq " << seq);

  const auto applied = [&](const std::string& name) {
    return h.Read(name)->GetCounter("applied", "events").value();
  };
  CHECK(applied("all_types") == 1500);
  CHECK(applied("late_types") == 1500);
  CHECK(applied("order_types") == EventsIn(*h.log, {"orders"}, 1, 1500));
  CHECK(h.StatusOf("all_types").checkpoint == Seq(1500));
  CHECK(h.StatusOf("late_types").checkpoint == Seq(1500));
  for (const std::string name : {"all_types", "order_types", "late_types"}) {
    CHECK(h.StatusOf(name).state == ProjectionState::kRunning);
    std::string undecoded;
    CHECK(h.Read(name)->Scan("types", "", "", [&](std::string_view key, std::string_view v) {
      if (v == "-") undecoded = key;
      return true;
    }).ok());
    CHECK_MESSAGE(undecoded.empty(), name << " seq " << undecoded);
  }
}

TEST_CASE("CatchUp together: a projection that fails stops at its event, the others go on") {
  TempDir dir;
  Harness h(dir.path());
  auto decoder = std::make_shared<CountingDecoder>();
  // order_types fails at the POISON order event; payment_types never sees it.
  std::vector<ProjectionSpec> specs = {DecodedTypes("order_types", {"orders"}, decoder),
                                       DecodedTypes("payment_types", {"payments"}, decoder)};
  EngineOptions options = NoThreads();
  options.apply_threads = 2;
  options.rebuild_batch_events = 100;
  h.OpenEngine(specs, options);
  Populate(*h.log, 0, 250);
  const Seq poison = MustAppend(*h.log, "orders", "order-x", "POISON").seq;
  Populate(*h.log, 250, 250);
  CHECK(!h.engine->CatchUp().ok());

  const ProjectionStatus failed = h.StatusOf("order_types");
  CHECK(failed.state == ProjectionState::kFailed);
  // Every order event before the poison applied once, none after.
  CHECK(h.Read("order_types")->GetCounter("applied", "events").value() ==
        EventsIn(*h.log, {"orders"}, 1, poison.value() - 1));
  CHECK(failed.checkpoint.value() < poison.value());
  const ProjectionStatus healthy = h.StatusOf("payment_types");
  CHECK(healthy.state == ProjectionState::kRunning);
  CHECK(h.Read("payment_types")->GetCounter("applied", "events").value() ==
        EventsIn(*h.log, {"payments"}, 1, UINT64_MAX));
}

TEST_CASE("a projection given one event type: only those decoded and handled, all advance it") {
  TempDir dir;
  Harness h(dir.path());
  auto decoder = std::make_shared<CountingDecoder>();
  ProjectionSpec created = DecodedTypes("created_types", {"orders"}, decoder);
  created.types = {"ORDER_CREATED"};
  ProjectionSpec payments = DecodedTypes("payment_types", {"payments"}, nullptr);
  EngineOptions options = NoThreads();
  options.apply_threads = 2;
  options.rebuild_batch_events = 16;
  h.OpenEngine({created, payments}, options);
  Populate(*h.log, 0, 100);
  // The last order event is not an ORDER_CREATED.
  MustAppend(*h.log, "orders", "order-1", "ORDER_APPROVED");
  h.MustCatchUp();

  std::set<uint64_t> created_seqs;
  uint64_t last_order = 0;
  CHECK(h.log->ScanInSeqOrder({"orders"}, Seq(0), SIZE_MAX, [&](const EventView& e) {
    if (e.type() == "ORDER_CREATED") created_seqs.insert(e.seq().value());
    last_order = e.seq().value();
    return true;
  }).ok());
  REQUIRE(!created_seqs.empty());
  const auto check_created = [&](const char* when) {
    INFO(when);
    std::set<uint64_t> seen;
    CHECK(h.Read("created_types")->Scan("types", "", "", [&](std::string_view k, std::string_view v) {
      CHECK(v == "ORDER_CREATED");
      seen.insert(std::stoull(std::string(k)));
      return true;
    }).ok());
    CHECK(seen == created_seqs);
    CHECK(h.Read("created_types")->GetCounter("applied", "events").value() ==
          int64_t(created_seqs.size()));
    const ProjectionStatus status = h.StatusOf("created_types");
    CHECK(status.checkpoint == Seq(last_order));
    CHECK(status.state == ProjectionState::kRunning);
  };
  check_created("after the catch-up");
  std::map<uint64_t, int> calls = decoder->Calls();
  CHECK(calls.size() == created_seqs.size());
  for (const auto& [seq, n] : calls) CHECK(created_seqs.count(seq) == 1);

  REQUIRE(RebuildAndWait(h, {"created_types"}).state == RebuildProgress::State::kDone);
  check_created("after a rebuild");
  CHECK(decoder->Calls().size() == created_seqs.size());
}

TEST_CASE("a rebuild of a failed projection, once its handler succeeds, leaves it running") {
  TempDir dir;
  Harness h(dir.path());
  auto hooks = std::make_shared<Hooks>();
  hooks->fail_poison.store(true);
  auto specs = AllSpecs(std::make_shared<Hooks>());  // for replays
  h.OpenEngine(AllSpecs(hooks), NoThreads());
  Populate(*h.log, 0, 10);
  MustAppend(*h.log, "orders", "order-x", "POISON");
  Populate(*h.log, 10, 10);
  CHECK(!h.engine->CatchUp().ok());
  REQUIRE(h.StatusOf("counts").state == ProjectionState::kFailed);

  hooks->fail_poison.store(false);
  auto job = h.engine->StartRebuild({"counts"});
  REQUIRE(job.ok());
  auto done = h.engine->WaitForRebuild(*job);
  REQUIRE(done.ok());
  CHECK(done->state == RebuildProgress::State::kDone);
  const ProjectionStatus s = h.StatusOf("counts");
  CHECK(s.state != ProjectionState::kFailed);
  CHECK(s.error.empty());
  CHECK(!s.failed_at.has_value());
  CHECK(s.generation == 2);
  CHECK(s.checkpoint == h.log->LastSeq());
  const std::string diff = DiffTables(Replay(*h.log, specs[0]), h.DumpOf(specs[0]));
  CHECK_MESSAGE(diff.empty(), diff);
  Populate(*h.log, 20, 5);
  CHECK(h.engine->CatchUp().ok());
  CHECK(h.StatusOf("counts").lag_events == 0);
}

TEST_CASE("a rebuild builds a new generation, switches to it and drops the old one") {
  TempDir dir;
  Harness h(dir.path());
  auto hooks = std::make_shared<Hooks>();
  auto specs = AllSpecs(std::make_shared<Hooks>());  // for replays
  h.OpenEngine(AllSpecs(hooks), NoThreads(/*batch_events=*/4));
  Populate(*h.log, 0, 90);
  h.MustCatchUp();
  const Tables before = h.DumpOf(specs[1]);
  std::shared_ptr<const ReadModel> old = h.Read("latest");
  REQUIRE(old->generation() == 1);

  auto job = h.engine->StartRebuild({"latest"});
  REQUIRE(job.ok());
  auto done = h.engine->WaitForRebuild(*job);
  REQUIRE(done.ok());
  CHECK(done->id == *job);
  CHECK(done->state == RebuildProgress::State::kDone);
  CHECK(done->error.empty());
  CHECK(done->projections == std::vector<std::string>{"latest"});
  CHECK(done->events_done == 60);  // the 60 order events: the only topic it reads
  CHECK(done->events_total == 60);  // progress counts the events of the topics it reads
  auto again = h.engine->GetRebuild(*job);
  REQUIRE(again.ok());
  CHECK(again->state == RebuildProgress::State::kDone);
  CHECK(again->events_done == done->events_done);

  const ProjectionStatus s = h.StatusOf("latest");
  CHECK(s.generation == 2);
  CHECK(s.state == ProjectionState::kRunning);
  CHECK(s.checkpoint == Seq(89));  // the last order event
  CHECK(s.lag_events == 0);
  CHECK(h.Read("latest")->generation() == 2);
  CHECK(DiffTables(before, h.DumpOf(specs[1])).empty());
  // The other projections were not touched.
  CHECK(h.StatusOf("counts").generation == 1);

  // Blue/green: a handle taken before the switch still reads the old generation.
  CHECK(old->generation() == 1);
  CHECK(DiffTables(before, Dump(*old, specs[1].tables)).empty());
  old.reset();
  CHECK(FamiliesOf(*h.store, "latest") == FamiliesOfGeneration(specs[1], 2));

  // The switch is durable: a reopened engine serves generation 2 and has nothing to apply.
  h.Reopen(AllSpecs(hooks), NoThreads());
  CHECK(h.StatusOf("latest").generation == 2);
  CHECK(FamiliesOf(*h.store, "latest") == FamiliesOfGeneration(specs[1], 2));
  CHECK(DiffTables(before, h.DumpOf(specs[1])).empty());
  CHECK(h.StatusOf("latest").checkpoint == Seq(89));
}

TEST_CASE("rebuilding twice gives byte-identical tables, equal to the incrementally built ones") {
  TempDir dir;
  Harness h(dir.path());
  auto specs = AllSpecs(std::make_shared<Hooks>());
  h.OpenEngine(AllSpecs(std::make_shared<Hooks>()), NoThreads(/*batch_events=*/3));
  Populate(*h.log, 0, 250);
  h.MustCatchUp();
  std::map<std::string, Tables> live;
  for (const ProjectionSpec& spec : specs) live[spec.name] = h.DumpOf(spec);

  std::map<std::string, Tables> first;
  for (int round = 1; round <= 2; ++round) {
    CAPTURE(round);
    auto job = h.engine->StartRebuild({});  // all projections, one pass
    REQUIRE(job.ok());
    auto done = h.engine->WaitForRebuild(*job);
    REQUIRE(done.ok());
    CHECK(done->state == RebuildProgress::State::kDone);
    CHECK(Sorted(done->projections) == std::vector<std::string>{"counts", "latest", "payments"});
    // One pass over the log: each event read once, however many projections read it.
    CHECK(done->events_done == 250);
    CHECK(done->events_total == 250);
    for (const ProjectionSpec& spec : specs) {
      CAPTURE(spec.name);
      CHECK(h.StatusOf(spec.name).generation == uint32_t(1 + round));
      const Tables now = h.DumpOf(spec);
      CHECK(KeyCount(now) > 0);
      CHECK(DiffTables(live[spec.name], now).empty());
      if (round == 1) first[spec.name] = now;
      else CHECK(DiffTables(first[spec.name], now).empty());
      CHECK(FamiliesOf(*h.store, spec.name) == FamiliesOfGeneration(spec, 1 + round));
    }
  }
  CheckEqualsFreshReplay(h, specs);
}

TEST_CASE("a rebuild applying projections on two threads writes the same tables as on one") {
  TempDir dir;
  Harness h(dir.path());
  auto specs = AllSpecs(std::make_shared<Hooks>());
  std::map<size_t, std::map<std::string, Tables>> built;  // apply_threads -> tables
  for (const size_t threads : {size_t{1}, size_t{2}}) {
    CAPTURE(threads);
    EngineOptions options = NoThreads(/*batch_events=*/7);
    options.apply_threads = threads;
    if (threads == 1) {
      h.OpenEngine(AllSpecs(std::make_shared<Hooks>()), options);
      Populate(*h.log, 0, 5000);  // several rebuild batches
      h.MustCatchUp();
    } else {
      h.Reopen(AllSpecs(std::make_shared<Hooks>()), options);
    }
    const RebuildProgress done = RebuildAndWait(h, {});
    REQUIRE(done.state == RebuildProgress::State::kDone);
    CHECK(done.events_done == 5000);
    for (const ProjectionSpec& spec : specs) built[threads][spec.name] = h.DumpOf(spec);
  }
  for (const ProjectionSpec& spec : specs) {
    CAPTURE(spec.name);
    CHECK(KeyCount(built[2][spec.name]) > 0);
    CHECK(DiffTables(built[1][spec.name], built[2][spec.name]).empty());
  }
  CheckEqualsFreshReplay(h, specs);
}

TEST_CASE("a rebuild on two threads whose handler fails names the failing event and switches none") {
  TempDir dir;
  Harness h(dir.path());
  auto hooks = std::make_shared<Hooks>();
  auto specs = AllSpecs(std::make_shared<Hooks>());  // for replays
  EngineOptions options = NoThreads();
  options.apply_threads = 2;
  h.OpenEngine(AllSpecs(hooks), options);
  Populate(*h.log, 0, 3000);
  const Position poison = MustAppend(*h.log, "orders", "order-x", "POISON");
  Populate(*h.log, 3000, 10);
  h.MustCatchUp();  // applied while the poison was harmless
  std::map<std::string, Tables> before;
  for (const ProjectionSpec& spec : specs) before[spec.name] = h.DumpOf(spec);

  hooks->fail_poison.store(true);
  const RebuildProgress done = RebuildAndWait(h, {});
  CHECK(done.state == RebuildProgress::State::kFailed);
  CHECK(Contains(done.error, "counts"));
  CHECK(Contains(done.error, poison.ToString()));
  for (const ProjectionSpec& spec : specs) {
    CAPTURE(spec.name);
    CHECK(h.StatusOf(spec.name).generation == 1);
    CHECK(DiffTables(before[spec.name], h.DumpOf(spec)).empty());
  }
  hooks->fail_poison.store(false);
  CheckEqualsFreshReplay(h, specs);
}

TEST_CASE("a rebuild on two threads that fails removes the table files the other sinks prepared") {
  // "wide" writes 12 keys per event, so its share of the failing batch is large enough to be
  // ingested: on two threads it writes its table files before the failure of "counts" is
  // known. They are removed, nothing is ingested and the live tables stay as they were.
  const ProjectionSpec wide = WideSpec();
  TempDir dir;
  Harness h(dir.path());
  auto hooks = std::make_shared<Hooks>();
  EngineOptions options = NoThreads();
  options.apply_threads = 2;
  options.rebuild_batch_events = 20000;
  h.OpenEngine({CountsSpec(hooks), wide}, options);
  Populate(*h.log, 0, 1000);
  const Position poison = MustAppend(*h.log, "orders", "order-x", "POISON");
  Populate(*h.log, 1000, 10);
  h.MustCatchUp();
  const Tables before = h.DumpOf(wide);

  hooks->fail_poison.store(true);
  const uint64_t ingested_before = h.store->IngestedFiles();
  const RebuildProgress done = RebuildAndWait(h, {});
  CHECK(done.state == RebuildProgress::State::kFailed);
  CHECK(Contains(done.error, poison.ToString()));
  CHECK(h.store->IngestedFiles() == ingested_before);
  const std::string ingest_dir = dir.path() + "/ingest";
  CHECK((!std::filesystem::exists(ingest_dir) || std::filesystem::is_empty(ingest_dir)));
  CHECK(h.StatusOf("wide").generation == 1);
  CHECK(DiffTables(before, h.DumpOf(wide)).empty());
}

TEST_CASE("a rebuild in progress shows its progress, refuses a second rebuild and keeps serving") {
  TempDir dir;
  Harness h(dir.path());
  auto hooks = std::make_shared<Hooks>();
  auto specs = AllSpecs(std::make_shared<Hooks>());  // for replays
  h.OpenEngine(AllSpecs(hooks), NoThreads());
  Populate(*h.log, 0, 60);
  h.MustCatchUp();
  const Tables before = h.DumpOf(specs[0]);

  const uint64_t job = StartRebuildAtGate(h, *hooks);

  auto progress = h.engine->GetRebuild(job);
  REQUIRE(progress.ok());
  CHECK(progress->state == RebuildProgress::State::kRunning);
  CHECK(progress->projections == std::vector<std::string>{"counts"});
  CHECK(progress->events_total == 60);
  CHECK(h.StatusOf("counts").state == ProjectionState::kRebuilding);
  CHECK(h.StatusOf("counts").generation == 1);

  CHECK(h.engine->StartRebuild({"counts"}).status().code() == ErrorCode::kConflict);
  CHECK(h.engine->StartRebuild({}).status().code() == ErrorCode::kConflict);
  CHECK(h.engine->StartRebuild({"latest", "counts"}).status().code() == ErrorCode::kConflict);
  // A refused request leaves the others free to rebuild.
  CHECK(h.StatusOf("latest").state != ProjectionState::kRebuilding);
  auto other = h.engine->StartRebuild({"latest"});
  REQUIRE(other.ok());
  CHECK(*other != job);
  auto other_done = h.engine->WaitForRebuild(*other);
  REQUIRE(other_done.ok());
  CHECK(other_done->state == RebuildProgress::State::kDone);

  // The live generation keeps serving meanwhile.
  CHECK(DiffTables(before, h.DumpOf(specs[0])).empty());
  CHECK(h.Read("counts")->generation() == 1);

  hooks->gate_closed.store(false);
  auto done = h.engine->WaitForRebuild(job);
  REQUIRE(done.ok());
  CHECK(done->state == RebuildProgress::State::kDone);
  CHECK(h.StatusOf("counts").state == ProjectionState::kRunning);
  CHECK(h.StatusOf("counts").generation == 2);
  CHECK(DiffTables(before, h.DumpOf(specs[0])).empty());
  // Once done it may be rebuilt again.
  auto third = h.engine->StartRebuild({"counts"});
  REQUIRE(third.ok());
  CHECK(h.engine->WaitForRebuild(*third)->state == RebuildProgress::State::kDone);
}

TEST_CASE("a finished rebuild counts in events_done the events appended while it ran") {
  TempDir dir;
  Harness h(dir.path());
  auto hooks = std::make_shared<Hooks>();
  auto specs = AllSpecs(std::make_shared<Hooks>());  // for replays
  h.OpenEngine(AllSpecs(hooks), NoThreads());
  Populate(*h.log, 0, 60);
  h.MustCatchUp();

  const uint64_t job = StartRebuildAtGate(h, *hooks);
  Populate(*h.log, 60, 9);  // appended while the rebuild's first batch is held
  hooks->gate_closed.store(false);
  auto done = h.engine->WaitForRebuild(job);
  REQUIRE(done.ok());
  CHECK(done->state == RebuildProgress::State::kDone);

  // The new generation has all 69 events (counts reads every topic)...
  CHECK(h.StatusOf("counts").checkpoint == Seq(69));
  const std::string diff = DiffTables(Replay(*h.log, specs[0]), h.DumpOf(specs[0]));
  CHECK_MESSAGE(diff.empty(), diff);
  // ...and its progress says so: done equals total at the end.
  CHECK(done->events_total == 69);
  CHECK(done->events_done == 69);
}

TEST_CASE("a rebuild whose handler fails ends failed and leaves the live generation serving") {
  TempDir dir;
  Harness h(dir.path());
  auto hooks = std::make_shared<Hooks>();
  auto specs = AllSpecs(std::make_shared<Hooks>());  // for replays
  h.OpenEngine(AllSpecs(hooks), NoThreads());
  Populate(*h.log, 0, 10);
  const Position poison = MustAppend(*h.log, "orders", "order-x", "POISON");
  Populate(*h.log, 10, 10);
  h.MustCatchUp();  // applied while the poison was harmless
  const Tables before = h.DumpOf(specs[0]);

  hooks->fail_poison.store(true);
  auto job = h.engine->StartRebuild({"counts"});
  REQUIRE(job.ok());
  auto done = h.engine->WaitForRebuild(*job);
  REQUIRE(done.ok());
  CHECK(done->state == RebuildProgress::State::kFailed);
  CHECK(Contains(done->error, "counts"));
  CHECK(Contains(done->error, poison.ToString()));

  const ProjectionStatus s = h.StatusOf("counts");
  CHECK(s.generation == 1);
  CHECK(s.state == ProjectionState::kRunning);
  // The half-built generation goes away (at the latest shortly after the job reports failed).
  const std::vector<std::string> at_failure = FamiliesOf(*h.store, "counts");
  MESSAGE("families when WaitForRebuild returned: " << JoinNames(at_failure));
  CHECK_MESSAGE(WaitUntil([&] { return FamiliesOf(*h.store, "counts") == FamiliesOfGeneration(specs[0], 1); }, 5s),
                JoinNames(FamiliesOf(*h.store, "counts")));
  CHECK(DiffTables(before, h.DumpOf(specs[0])).empty());
  hooks->fail_poison.store(false);
  Populate(*h.log, 20, 5);
  h.MustCatchUp();
  CheckEqualsFreshReplay(h, specs);
}

TEST_CASE("a rebuild while appends continue ends equal to a fresh replay") {
  TempDir dir;
  Harness h(dir.path());
  auto hooks = std::make_shared<Hooks>();
  auto specs = AllSpecs(std::make_shared<Hooks>());  // for replays
  h.OpenEngine(AllSpecs(hooks), WithThreads(/*batch_events=*/50));
  Populate(*h.log, 0, 1500);
  uint64_t appended_during = 0;
  RebuildProgress done;
  {
    Appender appender(h.log.get(), 1500);
    REQUIRE(WaitUntil([&] { return appender.appended() >= 50; }, 10s));
    auto job = h.engine->StartRebuild({"counts", "latest"});
    REQUIRE(job.ok());
    auto finished = h.engine->WaitForRebuild(*job);
    REQUIRE(finished.ok());
    done = *finished;
    appended_during = appender.appended();
    // A little more after the switch, into the new generation.
    const uint64_t at_switch = appender.appended();
    REQUIRE(WaitUntil([&] { return appender.appended() >= at_switch + 50; }, 10s));
    appender.Stop();
    CHECK(appender.failures() == 0);
  }
  MESSAGE("appended while rebuilding: " << appended_during);
  CHECK(done.state == RebuildProgress::State::kDone);
  const Seq last = h.log->LastSeq();
  for (const ProjectionSpec& spec : specs) RequireWait(*h.engine, spec.name, last);
  CHECK(h.StatusOf("counts").generation == 2);
  CHECK(h.StatusOf("latest").generation == 2);
  CHECK(h.StatusOf("payments").generation == 1);
  CheckEqualsFreshReplay(h, specs);
  CHECK(h.DumpOf(specs[0]).at("dupes").empty());
  CHECK(FamiliesOf(*h.store, "counts") == FamiliesOfGeneration(specs[0], 2));
  CHECK(FamiliesOf(*h.store, "latest") == FamiliesOfGeneration(specs[1], 2));
}

TEST_CASE("closing the engine during a rebuild keeps the old generation and leaves no new one") {
  TempDir dir;
  Harness h(dir.path());
  auto hooks = std::make_shared<Hooks>();
  auto specs = AllSpecs(std::make_shared<Hooks>());  // for replays
  h.OpenEngine(AllSpecs(hooks), NoThreads());
  Populate(*h.log, 0, 40);
  h.MustCatchUp();
  const Tables before = h.DumpOf(specs[0]);
  const uint64_t job = StartRebuildAtGate(h, *hooks);
  std::thread release([&] {
    std::this_thread::sleep_for(50ms);
    hooks->gate_closed.store(false);
  });
  h.engine->Stop();  // waits for the rebuild thread, which ends at its next batch
  release.join();
  auto progress = h.engine->GetRebuild(job);
  REQUIRE(progress.ok());
  // Either it finished its one batch and switched before seeing the stop, or it failed.
  const bool switched = h.StatusOf("counts").generation == 2;
  CHECK(progress->state == (switched ? RebuildProgress::State::kDone : RebuildProgress::State::kFailed));
  h.Reopen(AllSpecs(hooks), NoThreads());
  const uint32_t generation = h.StatusOf("counts").generation;
  CHECK(FamiliesOf(*h.store, "counts") == FamiliesOfGeneration(specs[0], generation));
  CHECK(DiffTables(before, h.DumpOf(specs[0])).empty());
}

TEST_CASE("a rebuild in batches large enough to be ingested as table files equals the live tables") {
  // 12,000 events in rebuild batches of 5,000: "counts" writes a key per event, so the first
  // two batches are ingested (over each other: the counters and streams overlap) and the last
  // one, smaller, is written. On one thread all projections share a batch; on two each has its
  // own.
  size_t threads = 1;
  SUBCASE("on one thread") { threads = 1; }
  SUBCASE("on two threads") { threads = 2; }
  TempDir dir;
  Harness h(dir.path());
  auto specs = AllSpecs(std::make_shared<Hooks>());
  EngineOptions options = NoThreads();
  options.apply_threads = threads;
  options.rebuild_batch_events = 5000;
  h.OpenEngine(AllSpecs(std::make_shared<Hooks>()), options);
  Populate(*h.log, 0, 12000);
  h.MustCatchUp();
  std::map<std::string, Tables> live;
  for (const ProjectionSpec& spec : specs) live[spec.name] = h.DumpOf(spec);

  const uint64_t ingested_before = h.store->IngestedFiles();
  auto job = h.engine->StartRebuild({});
  REQUIRE(job.ok());
  auto done = h.engine->WaitForRebuild(*job);
  REQUIRE(done.ok());
  CHECK(done->state == RebuildProgress::State::kDone);
  CHECK(h.store->IngestedFiles() - ingested_before >= 2);
  for (const ProjectionSpec& spec : specs) {
    CAPTURE(spec.name);
    CHECK(h.StatusOf(spec.name).generation == 2);
    CHECK(DiffTables(live[spec.name], h.DumpOf(spec)).empty());
  }
  // It stays so across a restart (the switch made the ingested files live), and the check,
  // whose replay is ingested too, agrees.
  h.Reopen(AllSpecs(std::make_shared<Hooks>()), options);
  for (const ProjectionSpec& spec : specs) {
    CAPTURE(spec.name);
    CHECK(DiffTables(live[spec.name], h.DumpOf(spec)).empty());
  }
  auto report = h.engine->Check(CheckOptions{});
  REQUIRE(report.ok());
  CHECK(report->consistent);
  CheckEqualsFreshReplay(h, specs);
}

}  // namespace
}  // namespace cairn
