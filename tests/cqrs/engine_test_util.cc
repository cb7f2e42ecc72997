// Shared fixtures of the CQRS engine's unit tests (see engine_test_util.h).
#include "engine_test_util.h"

#include <cstdio>
#include <set>

namespace cairn {

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

namespace testing {
namespace {

using namespace std::chrono_literals;

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

}  // namespace

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

void Hooks::Record(Seq seq) {
  total_calls.fetch_add(1);
  std::lock_guard lock(mu);
  ++calls[seq.value()];
}

std::map<uint64_t, int> Hooks::Calls() {
  std::lock_guard lock(mu);
  return calls;
}

void Hooks::ResetCalls() {
  std::lock_guard lock(mu);
  calls.clear();
  total_calls.store(0);
}

void Hooks::WaitAtGate() {
  if (!gate_closed.load()) return;
  gate_reached.store(true);
  while (gate_closed.load()) std::this_thread::sleep_for(1ms);
}

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

ProjectionSpec WideSpec() {
  return ProjectionSpec{"wide", {}, {"keys"}, [](const EventView& e, ProjectionWriter& out) {
                          for (int i = 0; i < 12; ++i) {
                            char key[32];
                            std::snprintf(key, sizeof key, "%08llu-%02d",
                                          static_cast<unsigned long long>(e.seq().value()), i);
                            out.Put("keys", key, std::string(e.type()));
                          }
                          return Status::Ok();
                        }};
}

std::vector<ProjectionSpec> AllSpecs(std::shared_ptr<Hooks> counts_hooks,
                                     std::shared_ptr<Hooks> latest_hooks) {
  if (!latest_hooks) latest_hooks = std::make_shared<Hooks>();
  return {CountsSpec(std::move(counts_hooks)), LatestSpec(std::move(latest_hooks)), PaymentsSpec()};
}

Tables Replay(const Log& log, const ProjectionSpec& spec, Seq until) {
  Tables tables;
  for (const std::string& t : spec.tables) tables[t];
  std::string failure;
  Status scan = log.ScanInSeqOrder(spec.topics, Seq(0), SIZE_MAX, [&](const EventView& e) {
    if (e.seq() > until) return false;
    if (!spec.Gives(e.type())) return true;  // not given to the handler (ProjectionSpec::types)
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

EngineOptions NoThreads(size_t batch_events) {
  EngineOptions o;
  o.batch_events = batch_events;
  o.start_threads = false;
  return o;
}

EngineOptions WithThreads(size_t batch_events) {
  EngineOptions o;
  o.batch_events = batch_events;
  o.start_threads = true;
  return o;
}

void Harness::OpenLog() {
  auto opened_store = Store::Open(path, FastStoreOptions());
  REQUIRE_MESSAGE(opened_store.ok(), opened_store.status().ToString());
  store = std::move(opened_store).value();
  auto opened_log = Log::Open(store.get(), LogOptions{});
  REQUIRE_MESSAGE(opened_log.ok(), opened_log.status().ToString());
  log = std::move(opened_log).value();
  REQUIRE(log->CreateTopic("orders", kOrderPartitions).ok());
  REQUIRE(log->CreateTopic("payments", kPaymentPartitions).ok());
}

void Harness::OpenEngine(std::vector<ProjectionSpec> specs, const EngineOptions& options) {
  auto opened = Engine::Open(log.get(), std::move(specs), options);
  REQUIRE_MESSAGE(opened.ok(), opened.status().ToString());
  engine = std::move(opened).value();
}

void Harness::Close() {
  engine.reset();
  log.reset();
  store.reset();
}

void Harness::Reopen(std::vector<ProjectionSpec> specs, const EngineOptions& options) {
  Close();
  OpenLog();
  OpenEngine(std::move(specs), options);
}

std::shared_ptr<const ReadModel> Harness::Read(const std::string& name) const {
  auto model = engine->Read(name);
  REQUIRE_MESSAGE(model.ok(), model.status().ToString());
  return *model;
}

Tables Harness::DumpOf(const ProjectionSpec& spec) const {
  return Dump(*Read(spec.name), spec.tables);
}

ProjectionStatus Harness::StatusOf(const std::string& name) const {
  auto s = engine->GetStatus(name);
  REQUIRE_MESSAGE(s.ok(), s.status().ToString());
  return *s;
}

void Harness::MustCatchUp() const {
  Status s = engine->CatchUp();
  REQUIRE_MESSAGE(s.ok(), s.ToString());
}

Result<AppendResult> TryAppend(Log& log, const std::string& topic, const std::string& stream,
                               const std::string& type, const std::string& data,
                               int64_t timestamp_us) {
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
                    const std::string& type, const std::string& data,
                    int64_t timestamp_us) {
  auto r = TryAppend(log, topic, stream, type, data, timestamp_us);
  REQUIRE_MESSAGE(r.ok(), r.status().ToString());
  return r->positions.at(0);
}

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

Appender::Appender(Log* log, uint64_t first, uint64_t limit) : log_(log), next_(first) {
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

void Appender::Stop() {
  stop_.store(true);
  if (thread_.joinable()) thread_.join();
}

void RequireWait(const Engine& engine, const std::string& name, Seq seq) {
  Status s = engine.WaitForSeq(name, seq, 10s);
  REQUIRE_MESSAGE(s.ok(), name << ": " << s.ToString());
}

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

}  // namespace testing
}  // namespace cairn
