// Shared fixtures of the CQRS engine's unit tests (tests/cqrs/*_test.cc), which test src/cqrs
// through its public API only (include/cairn/engine.h, projection.h) on a real Store and Log.
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
// Every test runs on its own temporary data dir (TempDir) with SyncMode::kNone.
#pragma once

#include <doctest/doctest.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <ostream>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "cairn/engine.h"
#include "cairn/log.h"
#include "cairn/projection.h"
#include "cairn/status.h"
#include "cairn/store.h"
#include "cairn/types.h"
#include "temp_dir.h"

namespace cairn {

// Printers so that failed CHECKs show values, not "{?}".
std::ostream& operator<<(std::ostream& os, const Position& p);
std::ostream& operator<<(std::ostream& os, ErrorCode code);
std::ostream& operator<<(std::ostream& os, ProjectionState state);
std::ostream& operator<<(std::ostream& os, RebuildProgress::State state);
std::ostream& operator<<(std::ostream& os, Seq seq);
std::ostream& operator<<(std::ostream& os, Offset offset);

namespace testing {

using Clock = std::chrono::steady_clock;
// Table name -> key -> value: a read model in memory.
using Tables = std::map<std::string, std::map<std::string, std::string>>;

inline constexpr uint32_t kOrderPartitions = 4;
inline constexpr uint32_t kPaymentPartitions = 2;

bool Contains(std::string_view haystack, std::string_view needle);
// Bytes with the unprintable ones as \xNN; an optional as 'text' or (none).
std::string Printable(std::string_view bytes);
std::string PrintableOpt(const std::optional<std::string>& v);
// "" when equal, else the first differences, for CHECK_MESSAGE.
std::string DiffTables(const Tables& want, const Tables& got);
size_t KeyCount(const Tables& t);
// The value of a counter in `t` (0 when absent).
int64_t CounterIn(const Tables& t, const std::string& table, const std::string& key);

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

  void Record(Seq seq);
  std::map<uint64_t, int> Calls();
  void ResetCalls();
  void WaitAtGate();
};

// "topic/partition/offset" of an event.
std::string PositionText(const EventView& e);

ProjectionSpec CountsSpec(std::shared_ptr<Hooks> h);
ProjectionSpec LatestSpec(std::shared_ptr<Hooks> h);
ProjectionSpec PaymentsSpec();
// "wide": 12 keys per event into table "keys" ("<seq, 8 digits>-<i, 2 digits>" -> the type),
// for batches large enough to be ingested.
ProjectionSpec WideSpec();
// The three projections; `counts` first.
std::vector<ProjectionSpec> AllSpecs(std::shared_ptr<Hooks> counts_hooks,
                                     std::shared_ptr<Hooks> latest_hooks = nullptr);

// Runs `spec`'s handler over the log's events of its topics with seq <= until, in seq order.
Tables Replay(const Log& log, const ProjectionSpec& spec, Seq until = Seq(UINT64_MAX));
// Every key of every table of a read model.
Tables Dump(const ReadModel& model, const std::vector<std::string>& table_names);

StoreOptions FastStoreOptions();
EngineOptions NoThreads(size_t batch_events = 1000);
EngineOptions WithThreads(size_t batch_events = 1000);

// A Store, Log and Engine on `path`. Destroyed engine first, then log, then store.
struct Harness {
  explicit Harness(std::string dir) : path(std::move(dir)) { OpenLog(); }
  ~Harness() { Close(); }

  // Opens the store and the log, with the topics "orders" and "payments".
  void OpenLog();
  void OpenEngine(std::vector<ProjectionSpec> specs, const EngineOptions& options);
  // Everything closed in order; the data dir stays.
  void Close();
  void Reopen(std::vector<ProjectionSpec> specs, const EngineOptions& options);

  std::shared_ptr<const ReadModel> Read(const std::string& name) const;
  Tables DumpOf(const ProjectionSpec& spec) const;
  ProjectionStatus StatusOf(const std::string& name) const;
  void MustCatchUp() const;

  std::string path;
  std::unique_ptr<Store> store;
  std::unique_ptr<Log> log;
  std::unique_ptr<Engine> engine;
};

Result<AppendResult> TryAppend(Log& log, const std::string& topic, const std::string& stream,
                               const std::string& type, const std::string& data = "{}",
                               int64_t timestamp_us = 0);
Position MustAppend(Log& log, const std::string& topic, const std::string& stream,
                    const std::string& type, const std::string& data = "{}",
                    int64_t timestamp_us = 0);
// The i-th event of the standard workload: mostly orders, every third a payment.
bool AppendNth(Log& log, uint64_t i);
void Populate(Log& log, uint64_t from, uint64_t count);

// Appends the standard workload from another thread until stopped.
class Appender {
 public:
  // Appends until Stop(), or until `limit` events were appended.
  Appender(Log* log, uint64_t first, uint64_t limit = UINT64_MAX);
  ~Appender() { Stop(); }
  void Stop();
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
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  return true;
}

void RequireWait(const Engine& engine, const std::string& name, Seq seq);
// Checks that every table of every projection equals a fresh replay of the whole log.
void CheckEqualsFreshReplay(const Harness& h, const std::vector<ProjectionSpec>& specs);

std::vector<std::string> Sorted(std::vector<std::string> v);
// Family names of a projection's generations, and of one generation.
std::vector<std::string> FamiliesOf(const Store& store, const std::string& projection);
std::vector<std::string> FamiliesOfGeneration(const ProjectionSpec& spec, uint32_t generation);
// "[a, b]".
std::string JoinNames(const std::vector<std::string>& names);

}  // namespace testing
}  // namespace cairn
