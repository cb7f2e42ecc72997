// Unit tests of the CQRS engine (src/cqrs) through its public API only (include/cairn/engine.h,
// projection.h, on a real Store and Log): exactly-once apply across restarts and crashes, the
// atomic batch + checkpoint, handler failures and restarts, waits, lag, blue/green rebuilds, the
// consistency check and repair, and spec validation.
//
// The test projections are small and deterministic:
//   counts   (every topic)  by_type: a counter per event type; seen: one key per event id;
//                           dupes: a counter per event id the handler found already seen (it
//                           stays empty unless an event is applied twice in effect).
//   latest   ("orders")     versions: events seen per stream (read-modify-write through Get);
//                           latest: the last event of each stream.
//   payments ("payments")   total: a counter of payment events.
// A "fresh replay" runs the same handler over Log::ScanInSeqOrder into in-memory maps, with no
// engine involved, and is what every read model is compared with.
//
// Every test runs on its own temporary data dir with SyncMode::kNone.
#include <doctest/doctest.h>

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdlib.h>  // getenv
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <ostream>
#include <random>
#include <set>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include "cairn/engine.h"
#include "cairn/log.h"
#include "cairn/projection.h"
#include "cairn/status.h"
#include "cairn/store.h"
#include "cairn/types.h"
#include "temp_dir.h"

extern char** environ;

namespace cairn {

// Printers so that failed CHECKs show values, not "{?}".
std::ostream& operator<<(std::ostream& os, const Position& p) {
  return os << p.ToString() << "#" << p.seq.value();
}
std::ostream& operator<<(std::ostream& os, ErrorCode code) { return os << ErrorCodeName(code); }
std::ostream& operator<<(std::ostream& os, ProjectionState state) {
  return os << ProjectionStateName(state);
}
std::ostream& operator<<(std::ostream& os, RebuildProgress::State state) {
  return os << RebuildStateName(state);
}
std::ostream& operator<<(std::ostream& os, Seq seq) { return os << "seq " << seq.value(); }
std::ostream& operator<<(std::ostream& os, Offset offset) {
  return os << "offset " << offset.value();
}

namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;
using Tables = std::map<std::string, std::map<std::string, std::string>>;

// ---------------------------------------------------------------------------------------------
// Fixtures and helpers

using testing::TempDir;

constexpr uint32_t kOrderPartitions = 4;
constexpr uint32_t kPaymentPartitions = 2;

std::string EncodeCounter(int64_t v) {
  std::string out(8, '\0');
  for (int i = 0; i < 8; ++i) out[i] = static_cast<char>((static_cast<uint64_t>(v) >> (8 * i)) & 0xff);
  return out;
}

bool Contains(std::string_view haystack, std::string_view needle) {
  return haystack.find(needle) != std::string_view::npos;
}

std::string Printable(std::string_view bytes) {
  std::string out;
  for (char c : bytes) {
    const auto u = static_cast<unsigned char>(c);
    if (u >= 0x20 && u < 0x7f) {
      out.push_back(c);
    } else {
      static const char* kHex = "0123456789abcdef";
      out += "\\x";
      out.push_back(kHex[u >> 4]);
      out.push_back(kHex[u & 15]);
    }
  }
  return out;
}

std::string PrintableOpt(const std::optional<std::string>& v) {
  return v ? "'" + Printable(std::string_view(*v)) + "'" : std::string("(none)");
}

// "" when equal, else the first differences, for CHECK_MESSAGE.
std::string DiffTables(const Tables& want, const Tables& got) {
  std::string out;
  int shown = 0;
  std::set<std::string> tables;
  for (const auto& [t, rows] : want) tables.insert(t);
  for (const auto& [t, rows] : got) tables.insert(t);
  for (const std::string& t : tables) {
    static const std::map<std::string, std::string> kEmpty;
    auto wi = want.find(t);
    auto gi = got.find(t);
    const auto& w = wi == want.end() ? kEmpty : wi->second;
    const auto& g = gi == got.end() ? kEmpty : gi->second;
    std::set<std::string> keys;
    for (const auto& [k, v] : w) keys.insert(k);
    for (const auto& [k, v] : g) keys.insert(k);
    for (const std::string& k : keys) {
      auto a = w.find(k);
      auto b = g.find(k);
      std::optional<std::string> av = a == w.end() ? std::nullopt : std::optional(a->second);
      std::optional<std::string> bv = b == g.end() ? std::nullopt : std::optional(b->second);
      if (av != bv) {
        if (shown++ < 8) {
          out += t + "/" + Printable(k) + ": want " + PrintableOpt(av) + ", got " + PrintableOpt(bv) + "\n";
        }
      }
    }
  }
  if (shown > 8) out += "... " + std::to_string(shown - 8) + " more\n";
  return out;
}

size_t KeyCount(const Tables& t) {
  size_t n = 0;
  for (const auto& [name, rows] : t) n += rows.size();
  return n;
}

// What the tests control and observe in a handler.
struct Hooks {
  std::mutex mu;
  std::map<uint64_t, int> calls;  // GUARDED_BY(mu): seq -> invocations
  std::atomic<uint64_t> total_calls{0};
  // Events of type "POISON" fail while this is set.
  std::atomic<bool> fail_poison{false};
  // Events of type "STRAY" also write to an undeclared table while this is set.
  std::atomic<bool> write_undeclared{false};
  // While closed, the handler blocks (after noting it got there).
  std::atomic<bool> gate_closed{false};
  std::atomic<bool> gate_reached{false};

  void Record(Seq seq) {
    total_calls.fetch_add(1);
    std::lock_guard lock(mu);
    ++calls[seq.value()];
  }
  std::map<uint64_t, int> Calls() {
    std::lock_guard lock(mu);
    return calls;
  }
  void ResetCalls() {
    std::lock_guard lock(mu);
    calls.clear();
    total_calls.store(0);
  }
  void WaitAtGate() {
    if (!gate_closed.load()) return;
    gate_reached.store(true);
    while (gate_closed.load()) std::this_thread::sleep_for(1ms);
  }
};

std::string PositionText(const EventView& e) {
  return std::string(e.topic()) + "/" + std::to_string(e.partition().value()) + "/" +
         std::to_string(e.offset().value());
}

ProjectionSpec CountsSpec(std::shared_ptr<Hooks> h) {
  ProjectionSpec spec;
  spec.name = "counts";
  spec.tables = {"by_type", "seen", "dupes"};
  spec.handler = [h](const EventView& e, ProjectionWriter& out) -> Status {
    h->Record(e.seq());
    h->WaitAtGate();
    if (h->fail_poison.load() && e.type() == "POISON") {
      return Status::InvalidArgument("poisoned event at " + PositionText(e));
    }
    out.AddCounter("by_type", e.type(), 1);
    if (h->write_undeclared.load() && e.type() == "STRAY") {
      out.Put("no_such_table", e.id(), "x");
    }
    Result<std::optional<std::string>> seen = out.Get("seen", e.id());
    if (!seen.ok()) return seen.status();
    if (seen->has_value()) out.AddCounter("dupes", e.id(), 1);
    out.Put("seen", e.id(), PositionText(e));
    return Status::Ok();
  };
  return spec;
}

ProjectionSpec LatestSpec(std::shared_ptr<Hooks> h) {
  ProjectionSpec spec;
  spec.name = "latest";
  spec.topics = {"orders"};
  spec.tables = {"latest", "versions"};
  spec.handler = [h](const EventView& e, ProjectionWriter& out) -> Status {
    h->Record(e.seq());
    Result<std::optional<std::string>> prev = out.Get("versions", e.stream());
    if (!prev.ok()) return prev.status();
    const uint64_t seen = prev->has_value() ? std::stoull(**prev) : 0;
    out.Put("versions", e.stream(), std::to_string(seen + 1));
    out.Put("latest", e.stream(),
            std::string(e.type()) + " v" + std::to_string(e.version().value()) + " " +
                std::string(e.data()) + " @" + std::to_string(e.timestamp_us()));
    return Status::Ok();
  };
  return spec;
}

ProjectionSpec PaymentsSpec() {
  ProjectionSpec spec;
  spec.name = "payments";
  spec.topics = {"payments"};
  spec.tables = {"total"};
  spec.handler = [](const EventView&, ProjectionWriter& out) -> Status {
    out.AddCounter("total", "events", 1);
    return Status::Ok();
  };
  return spec;
}

// The three projections; `counts` first.
std::vector<ProjectionSpec> AllSpecs(std::shared_ptr<Hooks> counts_hooks,
                                     std::shared_ptr<Hooks> latest_hooks = nullptr) {
  if (!latest_hooks) latest_hooks = std::make_shared<Hooks>();
  return {CountsSpec(std::move(counts_hooks)), LatestSpec(std::move(latest_hooks)), PaymentsSpec()};
}

// ProjectionWriter over in-memory maps: the fresh replay.
class MapWriter : public ProjectionWriter {
 public:
  MapWriter(Tables* tables, const std::vector<std::string>& declared)
      : tables_(tables), declared_(declared.begin(), declared.end()) {}
  void Put(std::string_view table, std::string_view key, std::string_view value) override {
    if (Declared(table)) (*tables_)[std::string(table)][std::string(key)] = std::string(value);
  }
  void Delete(std::string_view table, std::string_view key) override {
    if (Declared(table)) (*tables_)[std::string(table)].erase(std::string(key));
  }
  void AddCounter(std::string_view table, std::string_view key, int64_t delta) override {
    if (!Declared(table)) return;
    std::string& slot = (*tables_)[std::string(table)][std::string(key)];
    const int64_t now = slot.empty() ? 0 : DecodeCounter(slot);
    slot = EncodeCounter(now + delta);
  }
  Result<std::optional<std::string>> Get(std::string_view table, std::string_view key) override {
    if (!Declared(table)) return Status::NotFound("undeclared");
    const auto& rows = (*tables_)[std::string(table)];
    auto it = rows.find(std::string(key));
    if (it == rows.end()) return std::optional<std::string>();
    return std::optional<std::string>(it->second);
  }
  Result<int64_t> GetCounter(std::string_view table, std::string_view key) override {
    Result<std::optional<std::string>> v = Get(table, key);
    if (!v.ok()) return v.status();
    return v->has_value() ? DecodeCounter(**v) : int64_t{0};
  }
  bool undeclared_write = false;

 private:
  bool Declared(std::string_view table) {
    if (declared_.count(std::string(table))) return true;
    undeclared_write = true;
    return false;
  }
  Tables* tables_;
  std::set<std::string> declared_;
};

// Runs `spec`'s handler over the log's events of its topics with seq <= until, in seq order.
Tables Replay(const Log& log, const ProjectionSpec& spec, Seq until = Seq(UINT64_MAX)) {
  Tables tables;
  for (const std::string& t : spec.tables) tables[t];
  std::string failure;
  Status scan = log.ScanInSeqOrder(spec.topics, Seq(0), SIZE_MAX, [&](const EventView& e) {
    if (e.seq() > until) return false;
    MapWriter writer(&tables, spec.tables);
    Status s = spec.handler(e, writer);
    if (!s.ok() && failure.empty()) failure = s.ToString();
    return true;
  });
  CHECK_MESSAGE(scan.ok(), scan.ToString());
  CHECK_MESSAGE(failure.empty(), "replay handler failed: " << failure);
  return tables;
}

// Every key of every table of a read model.
Tables Dump(const ReadModel& model, const std::vector<std::string>& table_names) {
  Tables tables;
  for (const std::string& t : table_names) {
    auto& rows = tables[t];
    Status s = model.Scan(t, "", "", [&](std::string_view k, std::string_view v) {
      rows.emplace(std::string(k), std::string(v));
      return true;
    });
    CHECK_MESSAGE(s.ok(), s.ToString());
  }
  return tables;
}

StoreOptions FastStoreOptions() {
  StoreOptions options;
  options.sync = SyncMode::kNone;
  options.block_cache_bytes = 8u << 20;
  options.write_buffer_bytes = 4u << 20;
  return options;
}

EngineOptions NoThreads(size_t batch_events = 1000) {
  EngineOptions o;
  o.batch_events = batch_events;
  o.start_threads = false;
  return o;
}

EngineOptions WithThreads(size_t batch_events = 1000) {
  EngineOptions o;
  o.batch_events = batch_events;
  o.start_threads = true;
  return o;
}

// A Store, Log and Engine on `path`. Destroyed engine first, then log, then store.
struct Harness {
  explicit Harness(std::string dir) : path(std::move(dir)) { OpenLog(); }
  ~Harness() { Close(); }

  void OpenLog() {
    auto opened_store = Store::Open(path, FastStoreOptions());
    REQUIRE_MESSAGE(opened_store.ok(), opened_store.status().ToString());
    store = std::move(opened_store).value();
    auto opened_log = Log::Open(store.get(), LogOptions{});
    REQUIRE_MESSAGE(opened_log.ok(), opened_log.status().ToString());
    log = std::move(opened_log).value();
    REQUIRE(log->CreateTopic("orders", kOrderPartitions).ok());
    REQUIRE(log->CreateTopic("payments", kPaymentPartitions).ok());
  }
  void OpenEngine(std::vector<ProjectionSpec> specs, const EngineOptions& options) {
    auto opened = Engine::Open(log.get(), std::move(specs), options);
    REQUIRE_MESSAGE(opened.ok(), opened.status().ToString());
    engine = std::move(opened).value();
  }
  // Everything closed in order; the data dir stays.
  void Close() {
    engine.reset();
    log.reset();
    store.reset();
  }
  void Reopen(std::vector<ProjectionSpec> specs, const EngineOptions& options) {
    Close();
    OpenLog();
    OpenEngine(std::move(specs), options);
  }

  std::shared_ptr<const ReadModel> Read(const std::string& name) const {
    auto model = engine->Read(name);
    REQUIRE_MESSAGE(model.ok(), model.status().ToString());
    return *model;
  }
  Tables DumpOf(const ProjectionSpec& spec) const { return Dump(*Read(spec.name), spec.tables); }
  ProjectionStatus StatusOf(const std::string& name) const {
    auto s = engine->GetStatus(name);
    REQUIRE_MESSAGE(s.ok(), s.status().ToString());
    return *s;
  }
  void MustCatchUp() const {
    Status s = engine->CatchUp();
    REQUIRE_MESSAGE(s.ok(), s.ToString());
  }

  std::string path;
  std::unique_ptr<Store> store;
  std::unique_ptr<Log> log;
  std::unique_ptr<Engine> engine;
};

Result<AppendResult> TryAppend(Log& log, const std::string& topic, const std::string& stream,
                               const std::string& type, const std::string& data = "{}",
                               int64_t timestamp_us = 0) {
  AppendRequest req;
  req.topic = topic;
  req.stream = stream;
  NewEvent e;
  e.type = type;
  e.data = data;
  e.timestamp_us = timestamp_us;
  req.events.push_back(std::move(e));
  return log.Append(std::move(req));
}

Position MustAppend(Log& log, const std::string& topic, const std::string& stream,
                    const std::string& type, const std::string& data = "{}",
                    int64_t timestamp_us = 0) {
  auto r = TryAppend(log, topic, stream, type, data, timestamp_us);
  REQUIRE_MESSAGE(r.ok(), r.status().ToString());
  return r->positions.at(0);
}

// The i-th event of the standard workload: mostly orders, every third a payment.
bool AppendNth(Log& log, uint64_t i) {
  static const char* kOrderTypes[] = {"ORDER_CREATED", "ORDER_APPROVED", "ORDER_SHIPPED"};
  const std::string data = "{\"i\":" + std::to_string(i) + "}";
  if (i % 3 == 2) {
    return TryAppend(log, "payments", "pay-" + std::to_string(i % 7), "PAYMENT_COMPLETED", data).ok();
  }
  return TryAppend(log, "orders", "order-" + std::to_string(i % 13), kOrderTypes[i % 3 == 0 ? 0 : (i / 3) % 3], data)
      .ok();
}

void Populate(Log& log, uint64_t from, uint64_t count) {
  for (uint64_t i = from; i < from + count; ++i) REQUIRE(AppendNth(log, i));
}

// Appends the standard workload from another thread until stopped.
class Appender {
 public:
  // Appends until Stop(), or until `limit` events were appended.
  Appender(Log* log, uint64_t first, uint64_t limit = UINT64_MAX) : log_(log), next_(first) {
    thread_ = std::thread([this, limit] {
      while (!stop_.load() && appended_.load() < limit) {
        if (AppendNth(*log_, next_)) {
          ++next_;
          appended_.fetch_add(1);
        } else {
          failures_.fetch_add(1);
        }
      }
    });
  }
  ~Appender() { Stop(); }
  void Stop() {
    stop_.store(true);
    if (thread_.joinable()) thread_.join();
  }
  uint64_t appended() const { return appended_.load(); }
  uint64_t failures() const { return failures_.load(); }
  uint64_t next() const { return next_; }  // REQUIRES: stopped

 private:
  Log* log_;
  uint64_t next_;
  std::atomic<bool> stop_{false};
  std::atomic<uint64_t> appended_{0};
  std::atomic<uint64_t> failures_{0};
  std::thread thread_;
};

template <typename Pred>
bool WaitUntil(Pred pred, std::chrono::milliseconds timeout) {
  const auto deadline = Clock::now() + timeout;
  while (!pred()) {
    if (Clock::now() > deadline) return false;
    std::this_thread::sleep_for(1ms);
  }
  return true;
}

void RequireWait(const Engine& engine, const std::string& name, Seq seq) {
  Status s = engine.WaitForSeq(name, seq, 10s);
  REQUIRE_MESSAGE(s.ok(), name << ": " << s.ToString());
}

// Checks that every table of every projection equals a fresh replay of the whole log.
void CheckEqualsFreshReplay(const Harness& h, const std::vector<ProjectionSpec>& specs) {
  for (const ProjectionSpec& spec : specs) {
    const std::string diff = DiffTables(Replay(*h.log, spec), h.DumpOf(spec));
    CHECK_MESSAGE(diff.empty(), spec.name << " differs from a fresh replay:\n" << diff);
  }
}

std::vector<std::string> Sorted(std::vector<std::string> v) {
  std::sort(v.begin(), v.end());
  return v;
}

// Family names of a projection's generations.
std::vector<std::string> FamiliesOf(const Store& store, const std::string& projection) {
  return store.FamilyNames("rm." + projection + ".");
}

std::vector<std::string> FamiliesOfGeneration(const ProjectionSpec& spec, uint32_t generation) {
  std::vector<std::string> out;
  for (const std::string& t : spec.tables) {
    out.push_back("rm." + spec.name + "." + std::to_string(generation) + "." + t);
  }
  return Sorted(out);
}

std::string JoinNames(const std::vector<std::string>& names) {
  std::string out;
  for (const std::string& n : names) out += (out.empty() ? "" : ", ") + n;
  return "[" + out + "]";
}

int64_t CounterIn(const Tables& t, const std::string& table, const std::string& key) {
  auto ti = t.find(table);
  if (ti == t.end()) return 0;
  auto ki = ti->second.find(key);
  return ki == ti->second.end() ? 0 : DecodeCounter(ki->second);
}

// ---------------------------------------------------------------------------------------------
// Opening

TEST_CASE("Engine::Open rejects bad projection specs as invalid arguments") {
  TempDir dir;
  Harness h(dir.path());
  auto hooks = std::make_shared<Hooks>();
  auto open = [&](std::vector<ProjectionSpec> specs) {
    return Engine::Open(h.log.get(), std::move(specs), NoThreads()).status();
  };
  auto with_name = [&](std::string name) {
    ProjectionSpec s = PaymentsSpec();
    s.name = std::move(name);
    return s;
  };

  for (const char* bad : {"", "Upper", "with-dash", "with space", "dot.ted", "slash/"}) {
    CAPTURE(bad);
    CHECK(open({with_name(bad)}).code() == ErrorCode::kInvalidArgument);
  }
  CHECK(open({PaymentsSpec(), PaymentsSpec()}).code() == ErrorCode::kInvalidArgument);

  ProjectionSpec no_tables = PaymentsSpec();
  no_tables.tables.clear();
  CHECK(open({no_tables}).code() == ErrorCode::kInvalidArgument);

  ProjectionSpec bad_table = PaymentsSpec();
  bad_table.tables = {"ok", "Not-OK"};
  CHECK(open({bad_table}).code() == ErrorCode::kInvalidArgument);

  ProjectionSpec no_handler = PaymentsSpec();
  no_handler.handler = nullptr;
  CHECK(open({no_handler}).code() == ErrorCode::kInvalidArgument);

  // And a good set opens.
  CHECK(open(AllSpecs(hooks)).ok());
}

TEST_CASE("a new projection starts at generation 1 with checkpoint 0 and its tables as families") {
  TempDir dir;
  Harness h(dir.path());
  auto specs = AllSpecs(std::make_shared<Hooks>());
  h.OpenEngine(specs, NoThreads());
  for (const ProjectionSpec& spec : specs) {
    CAPTURE(spec.name);
    const ProjectionStatus s = h.StatusOf(spec.name);
    CHECK(s.name == spec.name);
    CHECK(s.generation == 1);
    CHECK(s.checkpoint == Seq(0));
    CHECK(s.error.empty());
    CHECK(!s.failed_at.has_value());
    CHECK(h.Read(spec.name)->generation() == 1);
    CHECK(FamiliesOf(*h.store, spec.name) == FamiliesOfGeneration(spec, 1));
  }
  CHECK(h.engine->Statuses().size() == 3);
}

TEST_CASE("unknown projection names and job ids are not found") {
  TempDir dir;
  Harness h(dir.path());
  h.OpenEngine(AllSpecs(std::make_shared<Hooks>()), NoThreads());
  CHECK(h.engine->GetStatus("nope").status().code() == ErrorCode::kNotFound);
  CHECK(h.engine->Read("nope").status().code() == ErrorCode::kNotFound);
  CHECK(h.engine->WaitForSeq("nope", Seq(0), 10ms).code() == ErrorCode::kNotFound);
  CHECK(h.engine->Restart("nope").code() == ErrorCode::kNotFound);
  CHECK(h.engine->StartRebuild({"nope"}).status().code() == ErrorCode::kNotFound);
  CHECK(h.engine->StartRebuild({"counts", "nope"}).status().code() == ErrorCode::kNotFound);
  CHECK(h.engine->GetRebuild(12345).status().code() == ErrorCode::kNotFound);
  CHECK(h.engine->WaitForRebuild(12345).status().code() == ErrorCode::kNotFound);
  CheckOptions check;
  check.projections = {"nope"};
  CHECK(h.engine->Check(check).status().code() == ErrorCode::kNotFound);
  // A refused StartRebuild leaves nothing rebuilding.
  CHECK(h.StatusOf("counts").state != ProjectionState::kRebuilding);
}

TEST_CASE("a family of a non-active generation left at open is dropped, the active one kept") {
  TempDir dir;
  Harness h(dir.path());
  auto hooks = std::make_shared<Hooks>();
  auto specs = AllSpecs(std::make_shared<Hooks>());  // for replays
  h.OpenEngine(AllSpecs(hooks), NoThreads());
  Populate(*h.log, 0, 30);
  h.MustCatchUp();
  const Tables before = h.DumpOf(specs[0]);
  h.Close();

  // What an interrupted rebuild (or check) of generation 5 would leave behind, with data.
  h.OpenLog();
  for (const char* name : {"rm.counts.5.by_type", "rm.counts.5.seen", "rm.latest.7.latest"}) {
    auto family = h.store->OpenFamily(name, FamilyKind::kOrdered);
    REQUIRE(family.ok());
    WriteBatch batch;
    batch.Put(*family, "junk", "junk");
    REQUIRE(h.store->Write(batch, false).ok());
  }
  // A family of another projection is none of this one's business.
  REQUIRE(h.store->OpenFamily("rm.counts_other.5.t", FamilyKind::kOrdered).ok());
  h.OpenEngine(AllSpecs(hooks), NoThreads());

  CHECK(FamiliesOf(*h.store, "counts") == FamiliesOfGeneration(specs[0], 1));
  CHECK(FamiliesOf(*h.store, "latest") == FamiliesOfGeneration(specs[1], 1));
  CHECK(h.store->FindFamily("rm.counts_other.5.t") != nullptr);
  CHECK(h.StatusOf("counts").generation == 1);
  CHECK(DiffTables(before, h.DumpOf(specs[0])).empty());

  // The next generation does not reuse the dropped number's data.
  auto job = h.engine->StartRebuild({"counts"});
  REQUIRE(job.ok());
  auto done = h.engine->WaitForRebuild(*job);
  REQUIRE(done.ok());
  CHECK(done->state == RebuildProgress::State::kDone);
  CHECK(h.StatusOf("counts").generation > 1);
  CHECK(DiffTables(before, h.DumpOf(specs[0])).empty());
}

// ---------------------------------------------------------------------------------------------
// Applying: exactly once, atomic batches, restarts and crashes

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

TEST_CASE("restart resumes from the checkpoint without re-applying any event") {
  TempDir dir;
  Harness h(dir.path());
  auto hooks = std::make_shared<Hooks>();
  auto specs = AllSpecs(std::make_shared<Hooks>());  // for replays
  h.OpenEngine(AllSpecs(hooks), NoThreads(/*batch_events=*/5));
  Populate(*h.log, 0, 23);
  h.MustCatchUp();
  CHECK(h.StatusOf("counts").checkpoint == Seq(23));

  // More events, then everything is closed without applying them.
  Populate(*h.log, 23, 17);
  h.Reopen(AllSpecs(hooks), NoThreads(/*batch_events=*/5));
  CHECK(h.StatusOf("counts").checkpoint == Seq(23));
  CHECK(h.StatusOf("counts").lag_events == 17);
  h.MustCatchUp();

  auto calls = hooks->Calls();
  CHECK(calls.size() == 40);
  for (const auto& [seq, n] : calls) {
    CAPTURE(seq);
    CHECK(n == 1);
  }
  CHECK(hooks->total_calls.load() == 40);
  CHECK(h.StatusOf("counts").checkpoint == Seq(40));
  CheckEqualsFreshReplay(h, specs);

  // Reopening a caught-up engine applies nothing.
  h.Reopen(AllSpecs(hooks), NoThreads());
  h.MustCatchUp();
  CHECK(hooks->total_calls.load() == 40);
}

TEST_CASE("closing an engine while its threads apply, then reopening, applies each event exactly once") {
  TempDir dir;
  Harness h(dir.path());
  auto hooks = std::make_shared<Hooks>();
  auto specs = AllSpecs(std::make_shared<Hooks>());  // for replays
  h.OpenEngine(AllSpecs(hooks), WithThreads(/*batch_events=*/3));
  Populate(*h.log, 0, 600);
  // Close while the threads are (most likely) still catching up.
  h.Close();
  const uint64_t first_session = hooks->total_calls.load();
  INFO("events applied before the close: " << first_session);

  h.OpenLog();
  h.OpenEngine(AllSpecs(hooks), WithThreads(/*batch_events=*/3));
  Populate(*h.log, 600, 50);
  for (const ProjectionSpec& spec : specs) RequireWait(*h.engine, spec.name, h.log->LastSeq());

  auto calls = hooks->Calls();
  CHECK(calls.size() == 650);
  int twice = 0;
  for (const auto& [seq, n] : calls) twice += n != 1;
  CHECK_MESSAGE(twice == 0, twice << " events were applied more than once");
  CheckEqualsFreshReplay(h, specs);
}

TEST_CASE("a crash-consistent copy taken between batches resumes exactly where its checkpoint says") {
  // Store::Checkpoint copies the data dir at one point in time while the projection threads
  // commit small batches: exactly what a crash at that point would leave on disk.
  TempDir dir;
  const std::string live_dir = dir.path() + "/live";
  Harness h(live_dir);
  auto hooks = std::make_shared<Hooks>();
  auto specs = AllSpecs(std::make_shared<Hooks>());  // for replays
  h.OpenEngine(AllSpecs(hooks), WithThreads(/*batch_events=*/5));
  std::vector<std::string> copies;
  for (int i = 0; i < 4; ++i) {
    // The threads apply 5 events a batch while these arrive: the copy most likely catches
    // them mid-way.
    Populate(*h.log, 150u * i, 150);
    const std::string copy = dir.path() + "/copy" + std::to_string(i);
    Status s = h.store->Checkpoint(copy);
    REQUIRE_MESSAGE(s.ok(), s.ToString());
    copies.push_back(copy);
  }
  h.Close();

  int copies_behind = 0;
  for (const std::string& copy : copies) {
    CAPTURE(copy);
    auto copy_hooks = std::make_shared<Hooks>();
    auto copy_specs = AllSpecs(std::make_shared<Hooks>());  // for replays
    Harness c(copy);
    c.OpenEngine(AllSpecs(copy_hooks), NoThreads(/*batch_events=*/5));
    std::map<std::string, Seq> checkpoint;
    for (const ProjectionSpec& spec : copy_specs) {
      checkpoint[spec.name] = c.StatusOf(spec.name).checkpoint;
      // The read model holds exactly the events up to its checkpoint: writes and checkpoint
      // were committed together.
      const std::string diff =
          DiffTables(Replay(*c.log, spec, checkpoint[spec.name]), c.DumpOf(spec));
      CHECK_MESSAGE(diff.empty(), spec.name << " at its checkpoint " << checkpoint[spec.name].value()
                                            << " differs from a replay to it:\n" << diff);
    }
    if (checkpoint["counts"] < c.log->LastSeq()) ++copies_behind;
    c.MustCatchUp();
    // Exactly the events after the checkpoint were applied, each once.
    auto calls = copy_hooks->Calls();
    CHECK(calls.size() == c.log->LastSeq().value() - checkpoint["counts"].value());
    for (const auto& [seq, n] : calls) {
      CHECK(seq > checkpoint["counts"].value());
      CHECK(n == 1);
    }
    CheckEqualsFreshReplay(c, copy_specs);
    CHECK(c.DumpOf(copy_specs[0]).at("dupes").empty());
  }
  MESSAGE(copies_behind << " of " << copies.size() << " copies were taken while counts lagged");
}

// The child half of the crash test below: runs only when started by it (it is skipped in a
// normal run). It appends and applies with small batches until it is killed.
TEST_CASE("crash child appends and applies until killed" * doctest::skip()) {
  const char* data_dir = std::getenv("CAIRN_CQRS_CRASH_DATA");
  const char* marker = std::getenv("CAIRN_CQRS_CRASH_MARKER");
  if (data_dir == nullptr || marker == nullptr) return;
  Harness h(data_dir);
  h.OpenEngine(AllSpecs(std::make_shared<Hooks>()), WithThreads(/*batch_events=*/7));
  uint64_t i = h.log->LastSeq().value();
  Populate(*h.log, i, 200);
  i += 200;
  for (const char* name : {"counts", "latest", "payments"}) RequireWait(*h.engine, name, h.log->LastSeq());
  std::ofstream(marker) << "ready\n";
  const auto deadline = Clock::now() + 30s;  // the parent kills us long before
  while (Clock::now() < deadline) {
    if (AppendNth(*h.log, i)) ++i;
  }
  std::_Exit(3);
}

TEST_CASE("after SIGKILL mid-run the read models match their checkpoints and catch up exactly once") {
  TempDir dir;
  const std::string data = dir.path() + "/data";
  const std::string marker = dir.path() + "/ready";
  const std::string child_log = dir.path() + "/child.log";
  std::mt19937 rng(std::random_device{}());

  for (int round = 0; round < 2; ++round) {
    CAPTURE(round);
    std::filesystem::remove(marker);
    // Start this binary again, running only the child test case.
    std::vector<std::string> env_strings;
    for (char** e = environ; *e; ++e) env_strings.emplace_back(*e);
    env_strings.push_back("CAIRN_CQRS_CRASH_DATA=" + data);
    env_strings.push_back("CAIRN_CQRS_CRASH_MARKER=" + marker);
    std::vector<char*> envp;
    for (std::string& s : env_strings) envp.push_back(s.data());
    envp.push_back(nullptr);
    std::string exe = std::filesystem::read_symlink("/proc/self/exe").string();
    std::string a1 = "--dt-no-skip=true";
    std::string a2 = "--dt-test-case=crash child appends and applies until killed";
    std::string a3 = "--dt-no-version=true";
    std::vector<char*> argv = {exe.data(), a1.data(), a2.data(), a3.data(), nullptr};
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, 1, child_log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    posix_spawn_file_actions_adddup2(&actions, 1, 2);
    pid_t pid = 0;
    const int spawned = posix_spawn(&pid, exe.c_str(), &actions, nullptr, argv.data(), envp.data());
    posix_spawn_file_actions_destroy(&actions);
    REQUIRE(spawned == 0);

    const bool ready = WaitUntil(
        [&] {
          int st = 0;
          if (waitpid(pid, &st, WNOHANG) == pid) {
            pid = 0;
            return true;
          }
          return std::filesystem::exists(marker);
        },
        20s);
    if (pid == 0 || !ready) {
      if (pid != 0) {
        kill(pid, SIGKILL);
        waitpid(pid, nullptr, 0);
      }
      std::ifstream in(child_log);
      std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
      FAIL("the crash child did not get ready; its output:\n" << text);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(std::uniform_int_distribution<int>(5, 120)(rng)));
    REQUIRE(kill(pid, SIGKILL) == 0);
    int st = 0;
    REQUIRE(waitpid(pid, &st, 0) == pid);
    REQUIRE(WIFSIGNALED(st));

    auto hooks = std::make_shared<Hooks>();
    auto specs = AllSpecs(std::make_shared<Hooks>());  // for replays
    Harness h(data);
    h.OpenEngine(AllSpecs(hooks), NoThreads(/*batch_events=*/7));
    INFO("log at seq " << h.log->LastSeq().value());
    for (const ProjectionSpec& spec : specs) {
      const Seq at = h.StatusOf(spec.name).checkpoint;
      CAPTURE(spec.name);
      CHECK(at > Seq(0));
      const std::string diff = DiffTables(Replay(*h.log, spec, at), h.DumpOf(spec));
      CHECK_MESSAGE(diff.empty(), "differs from a replay to its checkpoint " << at.value() << ":\n" << diff);
    }
    const Seq counts_at = h.StatusOf("counts").checkpoint;
    h.MustCatchUp();
    CHECK(hooks->Calls().size() == h.log->LastSeq().value() - counts_at.value());
    CheckEqualsFreshReplay(h, specs);
    CHECK(h.DumpOf(specs[0]).at("dupes").empty());
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

// ---------------------------------------------------------------------------------------------
// Waiting

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

// ---------------------------------------------------------------------------------------------
// Failures and restarts

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

// ---------------------------------------------------------------------------------------------
// Status and lag

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

TEST_CASE("Stop is idempotent and leaves the projections stopped") {
  TempDir dir;
  Harness h(dir.path());
  h.OpenEngine(AllSpecs(std::make_shared<Hooks>()), WithThreads());
  Populate(*h.log, 0, 10);
  RequireWait(*h.engine, "counts", h.log->LastSeq());
  h.engine->Stop();
  h.engine->Stop();
  for (const ProjectionStatus& s : h.engine->Statuses()) CHECK(s.state == ProjectionState::kStopped);
  CHECK(h.engine->WaitForSeq("counts", Seq(10), 10ms).ok());
  CHECK(h.engine->StartRebuild({}).status().code() == ErrorCode::kShuttingDown);
}

// ---------------------------------------------------------------------------------------------
// Rebuild

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

TEST_CASE("a rebuild in progress shows its progress, refuses a second rebuild and keeps serving") {
  TempDir dir;
  Harness h(dir.path());
  auto hooks = std::make_shared<Hooks>();
  auto specs = AllSpecs(std::make_shared<Hooks>());  // for replays
  h.OpenEngine(AllSpecs(hooks), NoThreads());
  Populate(*h.log, 0, 60);
  h.MustCatchUp();
  const Tables before = h.DumpOf(specs[0]);

  hooks->gate_closed.store(true);
  auto job = h.engine->StartRebuild({"counts"});
  REQUIRE(job.ok());
  REQUIRE(WaitUntil([&] { return hooks->gate_reached.load(); }, 10s));

  auto progress = h.engine->GetRebuild(*job);
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
  CHECK(*other != *job);
  auto other_done = h.engine->WaitForRebuild(*other);
  REQUIRE(other_done.ok());
  CHECK(other_done->state == RebuildProgress::State::kDone);

  // The live generation keeps serving meanwhile.
  CHECK(DiffTables(before, h.DumpOf(specs[0])).empty());
  CHECK(h.Read("counts")->generation() == 1);

  hooks->gate_closed.store(false);
  auto done = h.engine->WaitForRebuild(*job);
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

  hooks->gate_closed.store(true);
  auto job = h.engine->StartRebuild({"counts"});
  REQUIRE(job.ok());
  REQUIRE(WaitUntil([&] { return hooks->gate_reached.load(); }, 10s));
  Populate(*h.log, 60, 9);  // appended while the rebuild's first batch is held
  hooks->gate_closed.store(false);
  auto done = h.engine->WaitForRebuild(*job);
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
  hooks->gate_closed.store(true);
  auto job = h.engine->StartRebuild({"counts"});
  REQUIRE(job.ok());
  REQUIRE(WaitUntil([&] { return hooks->gate_reached.load(); }, 10s));
  std::thread release([&] {
    std::this_thread::sleep_for(50ms);
    hooks->gate_closed.store(false);
  });
  h.engine->Stop();  // waits for the rebuild thread, which ends at its next batch
  release.join();
  auto progress = h.engine->GetRebuild(*job);
  REQUIRE(progress.ok());
  // Either it finished its one batch and switched before seeing the stop, or it failed.
  const bool switched = h.StatusOf("counts").generation == 2;
  CHECK(progress->state == (switched ? RebuildProgress::State::kDone : RebuildProgress::State::kFailed));
  h.Reopen(AllSpecs(hooks), NoThreads());
  const uint32_t generation = h.StatusOf("counts").generation;
  CHECK(FamiliesOf(*h.store, "counts") == FamiliesOfGeneration(specs[0], generation));
  CHECK(DiffTables(before, h.DumpOf(specs[0])).empty());
}

// ---------------------------------------------------------------------------------------------
// Consistency check and repair

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
  CHECK(Sorted(report->drifted) == std::vector<std::string>{"counts", "latest"});
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

}  // namespace
}  // namespace cairn
