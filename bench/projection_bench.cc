// projection_bench: how fast the CQRS engine (include/cairn/engine.h) turns the log into read
// models, against the raw sequential read of the same log in the same run, with 200-byte events.
// Prints the machine, then ONE line per workload with the figure, its baseline and their ratio.
// Benchmarks never assert a time: the targets are printed, not checked.
//
//   raw_seq_read      Log::ScanInSeqOrder over every event of the topic (the order projections
//                     apply in; the baseline of the next two lines)
//   projection_apply  Engine::CatchUp of a fresh projection over the whole backlog, on the
//                     calling thread: the live apply path (batches of EngineOptions::batch_events
//                     with the checkpoint in the same WriteBatch)      | baseline: raw_seq_read
//   rebuild           Engine::StartRebuild + WaitForRebuild of that projection: a new generation
//                     from seq 0, then the switch                       | baseline: raw_seq_read
//   lag_apply_20k     projection threads running while paced writers append 20k events/s (one
//                     event per Append) for 10 s: (wall clock in the handler) - (the event's
//                     timestamp, set at Append) for EVERY event: p50 / p99 / max
//   lag_visible_20k   the same run, every 20th append: Append called -> Engine::WaitForSeq says
//                     the projection has committed it (what read-your-writes waits for)
//
// The projection is cheap but real: per event one AddCounter (by type) and one Put (by stream,
// the stream's version and the event's seq). The raw read only sums the data sizes.
//
// Usage: projection_bench [--dir D] [--events N] [--rounds R] [--quick] [--verbose]
//                         [--lag-rate R] [--lag-seconds S] [--lag-writers W] [--sync MODE]
#include <unistd.h>

#include <rocksdb/version.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cinttypes>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <deque>
#include <filesystem>
#include <fstream>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include "cairn/db.h"
#include "cairn/engine.h"
#include "cairn/log.h"
#include "cairn/projection.h"
#include "cairn/status.h"
#include "cairn/store.h"
#include "cairn/types.h"
#include "bench_util.h"

namespace cairn {
namespace {

using bench::CpuModel;
using bench::FilesystemName;
using bench::Kernel;
using bench::LoadAverage;
using bench::Median;
using bench::UtcNow;

using Clock = std::chrono::steady_clock;

constexpr size_t kEventBytes = 200;
constexpr size_t kLoadBatch = 100;        // events per Append while loading the backlog
constexpr size_t kStreams = 1000;         // the backlog rotates over these streams
constexpr uint32_t kPartitions = 8;
constexpr std::string_view kTopic = "bench";
constexpr std::string_view kLagTopic = "lag";
constexpr size_t kLagStreamsPerWriter = 64;
constexpr uint64_t kVisibleSampleEvery = 20;  // lag_visible samples every 20th append
const char* const kTypes[] = {"ITEM_ADDED", "ITEM_REMOVED", "PRICE_CHANGED", "STOCK_COUNTED"};

struct Flags {
  std::string dir = "/tmp";
  uint64_t events = 1'000'000;
  int rounds = 3;
  bool quick = false;
  bool verbose = false;
  uint64_t lag_rate = 20'000;  // appends per second
  uint64_t lag_seconds = 10;
  uint64_t lag_writers = 4;
  SyncMode sync = SyncMode::kNone;
  std::string command;
};

constexpr const char* kUsage =
    "usage: projection_bench [--dir D] [--events N] [--rounds R] [--quick] [--verbose]\n"
    "                        [--lag-rate R] [--lag-seconds S] [--lag-writers W] [--sync M]\n"
    "  --dir D          parent of the temporary data dir (default /tmp)\n"
    "  --events N       backlog of N 200-byte events read, applied and rebuilt (default 1000000)\n"
    "  --rounds R       rounds of read/apply/rebuild; the median is printed (default 3)\n"
    "  --quick          smoke run of a few seconds: N=20000, 1 round, 2 s of lag load\n"
    "  --verbose        also print every round\n"
    "  --lag-rate R     appends per second during the lag run (default 20000)\n"
    "  --lag-seconds S  length of the lag run (default 10)\n"
    "  --lag-writers W  threads sharing the paced appends (default 4)\n"
    "  --sync M         store sync mode of the load and the lag run: none (default), batch or\n"
    "                   always\n";

Result<uint64_t> ParsePositive(std::string_view flag, const std::string& text) {
  char* end = nullptr;
  unsigned long long v = std::strtoull(text.c_str(), &end, 10);
  if (end == text.c_str() || *end != '\0' || v == 0) {
    return Status::InvalidArgument(std::string(flag) + " wants a positive integer, got '" + text +
                                       "'",
                                   std::string(flag));
  }
  return static_cast<uint64_t>(v);
}

Result<Flags> ParseFlags(int argc, char** argv) {
  Flags flags;
  bool events_given = false, rounds_given = false, seconds_given = false;
  for (int i = 0; i < argc; ++i) flags.command += (i ? " " : "") + std::string(argv[i]);
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    std::string value;
    bool inline_value = false;
    if (auto eq = arg.find('='); arg.starts_with("--") && eq != std::string::npos) {
      value = arg.substr(eq + 1);
      arg.resize(eq);
      inline_value = true;
    }
    auto take = [&]() -> Result<std::string> {
      if (inline_value) return value;
      if (i + 1 >= argc) return Status::InvalidArgument(arg + " needs a value", arg);
      return std::string(argv[++i]);
    };
    if (arg == "--quick") {
      flags.quick = true;
    } else if (arg == "--verbose" || arg == "-v") {
      flags.verbose = true;
    } else if (arg == "--help" || arg == "-h") {
      std::fputs(kUsage, stdout);
      std::exit(0);
    } else if (arg == "--dir") {
      CAIRN_ASSIGN_OR_RETURN(flags.dir, take());
    } else if (arg == "--sync") {
      CAIRN_ASSIGN_OR_RETURN(const std::string v, take());
      CAIRN_ASSIGN_OR_RETURN(flags.sync, ParseSyncMode(v));
    } else if (arg == "--events" || arg == "--rounds" || arg == "--lag-rate" ||
               arg == "--lag-seconds" || arg == "--lag-writers") {
      CAIRN_ASSIGN_OR_RETURN(const std::string v, take());
      CAIRN_ASSIGN_OR_RETURN(const uint64_t n, ParsePositive(arg, v));
      if (arg == "--events") {
        flags.events = n;
        events_given = true;
      } else if (arg == "--rounds") {
        flags.rounds = static_cast<int>(std::min<uint64_t>(n, 100));
        rounds_given = true;
      } else if (arg == "--lag-rate") {
        flags.lag_rate = n;
      } else if (arg == "--lag-seconds") {
        flags.lag_seconds = n;
        seconds_given = true;
      } else {
        flags.lag_writers = std::min<uint64_t>(n, 256);
      }
    } else {
      return Status::InvalidArgument("unknown argument '" + arg + "'", arg);
    }
  }
  if (flags.quick && !events_given) flags.events = 20'000;
  if (flags.quick && !rounds_given) flags.rounds = 1;
  if (flags.quick && !seconds_given) flags.lag_seconds = 2;
  return flags;
}

// ---------------------------------------------------------------------------------------------
// The header (machine description from bench_util.h).

void PrintHeader(const Flags& flags, const std::string& root) {
  std::printf("# projection_bench   %s\n", UtcNow().c_str());
  std::printf("# command     %s\n", flags.command.c_str());
  std::printf("# machine     %ld cpus, %s, %s\n", sysconf(_SC_NPROCESSORS_ONLN), CpuModel().c_str(),
              Kernel().c_str());
  std::printf("# disk        %s (%s)\n", root.c_str(), FilesystemName(root).c_str());
  std::printf("# loadavg     %s (1/5/15-min at start; others' work on the machine skews figures)\n",
              LoadAverage().c_str());
#ifdef NDEBUG
  const char* asserts = "off";
#else
  const char* asserts = "on";
#endif
  std::printf("# build       rocksdb %d.%d.%d, asserts %s\n", ROCKSDB_MAJOR, ROCKSDB_MINOR,
              ROCKSDB_PATCH, asserts);
  std::printf("# work        %" PRIu64 " %zu-byte events, 1 topic of %u partitions, %zu streams, "
              "sync %s; %d round(s), median shown; lag: %" PRIu64 " appends/s for %" PRIu64
              " s from %" PRIu64 " writers\n",
              flags.events, kEventBytes, kPartitions, kStreams,
              std::string(SyncModeName(flags.sync)).c_str(), flags.rounds, flags.lag_rate,
              flags.lag_seconds, flags.lag_writers);
  std::fflush(stdout);
}

// ---------------------------------------------------------------------------------------------
// Shared helpers.

// 200-byte payloads of random alphanumerics (so compression does not flatter the reads).
class Payloads {
 public:
  Payloads() {
    static constexpr char kAlphabet[] =
        "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
    uint64_t x = 0x9E3779B97F4A7C15ull;
    pool_.resize(kPoolSize);
    for (auto& p : pool_) {
      p.resize(kEventBytes);
      for (auto& c : p) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        c = kAlphabet[x % (sizeof(kAlphabet) - 1)];
      }
    }
  }
  const std::string& For(uint64_t n) const { return pool_[n % kPoolSize]; }

 private:
  static constexpr size_t kPoolSize = 1024;
  std::vector<std::string> pool_;
};

double Seconds(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

int64_t WallMicros() {
  return std::chrono::duration_cast<std::chrono::microseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// Latency samples in microseconds.
struct Histogram {
  std::vector<int64_t> samples;
  // The q-quantile (0..1), nearest rank. REQUIRES: sorted.
  double Quantile(double q) const {
    if (samples.empty()) return 0;
    size_t rank = static_cast<size_t>(q * static_cast<double>(samples.size()));
    return static_cast<double>(samples[std::min(rank, samples.size() - 1)]);
  }
  void Sort() { std::sort(samples.begin(), samples.end()); }
};

// The benchmark's projection: one counter per type, one Put per event keyed by stream.
Status ApplyCheap(const EventView& e, ProjectionWriter& out) {
  out.AddCounter("by_type", e.type(), 1);
  char value[48];
  int n = std::snprintf(value, sizeof value, "%" PRIu64 " %" PRIu64, e.version().value(),
                        e.seq().value());
  out.Put("by_stream", e.stream(), std::string_view(value, static_cast<size_t>(n)));
  return Status::Ok();
}

ProjectionSpec CheapSpec(std::string name, std::string_view topic, ProjectionHandler handler) {
  return ProjectionSpec{std::move(name), {std::string(topic)}, {"by_type", "by_stream"},
                        std::move(handler)};
}

// Opens `dir` through the front door with `projections` as the benchmark's one domain (none: the
// log alone), without the order domain, its topics or its service's work.
Result<std::unique_ptr<Db>> OpenCairn(const std::string& dir, SyncMode sync,
                                      std::vector<ProjectionSpec> projections = {},
                                      bool start_threads = false) {
  DbOptions options;
  options.store.sync = sync;
  options.engine.start_threads = start_threads;
  options.domains.clear();
  if (!projections.empty()) {
    DomainSpec bench;
    bench.name = "bench";
    bench.projections = std::move(projections);
    options.domains.push_back(std::move(bench));
  }
  return Db::Open(dir, std::move(options));
}

// Writes the backlog: `events` events in appends of kLoadBatch, rotating over kStreams streams
// and the event types.
Result<double> LoadBacklog(Log* log, uint64_t events, const Payloads& payloads) {
  CAIRN_RETURN_IF_ERROR(log->CreateTopic(std::string(kTopic), kPartitions).status());
  auto start = Clock::now();
  uint64_t call = 0;
  for (uint64_t first = 0; first < events; first += kLoadBatch, ++call) {
    AppendRequest req;
    req.topic = std::string(kTopic);
    req.stream = "item-" + std::to_string(call % kStreams);
    const uint64_t count = std::min<uint64_t>(kLoadBatch, events - first);
    for (uint64_t i = first; i < first + count; ++i) {
      NewEvent e;
      e.type = kTypes[i % 4];
      e.data = payloads.For(i);
      req.events.push_back(std::move(e));
    }
    CAIRN_RETURN_IF_ERROR(log->Append(std::move(req)).status());
  }
  return Seconds(start);
}

// ---------------------------------------------------------------------------------------------
// Workloads 1-3: read, apply, rebuild. Each reopens the store (cold block cache, the log in SST
// files, the OS page cache warm for all three) and times only its own work.

Result<double> RawRead(const std::string& dir, uint64_t events) {
  CAIRN_ASSIGN_OR_RETURN(std::unique_ptr<Db> db, OpenCairn(dir, SyncMode::kNone));
  uint64_t seen = 0, bytes = 0;
  auto start = Clock::now();
  Status s = db->log().ScanInSeqOrder({std::string(kTopic)}, Seq(0), SIZE_MAX,
                                   [&](const EventView& e) {
                                     bytes += e.data().size();
                                     ++seen;
                                     return true;
                                   });
  const double seconds = Seconds(start);
  CAIRN_RETURN_IF_ERROR(s);
  if (seen != events || bytes != events * kEventBytes) {
    return Status::Internal("raw read saw " + std::to_string(seen) + " events");
  }
  return static_cast<double>(events) / seconds;
}

// Sum of the projection's type counters: must be the backlog.
Status CheckApplied(const Engine& engine, const std::string& name, uint64_t events) {
  CAIRN_ASSIGN_OR_RETURN(const std::shared_ptr<const ReadModel> model, engine.Read(name));
  int64_t total = 0;
  for (const char* type : kTypes) {
    CAIRN_ASSIGN_OR_RETURN(const int64_t n, model->GetCounter("by_type", type));
    total += n;
  }
  if (static_cast<uint64_t>(total) != events) {
    return Status::Internal(name + " counted " + std::to_string(total) + " events, want " +
                            std::to_string(events));
  }
  return Status::Ok();
}

Result<double> Apply(const std::string& dir, const std::string& name, uint64_t events) {
  CAIRN_ASSIGN_OR_RETURN(std::unique_ptr<Db> db, OpenCairn(dir, SyncMode::kNone,
                                                           {CheapSpec(name, kTopic, ApplyCheap)}));
  auto start = Clock::now();
  CAIRN_RETURN_IF_ERROR(db->engine().CatchUp());
  const double seconds = Seconds(start);
  CAIRN_RETURN_IF_ERROR(CheckApplied(db->engine(), name, events));
  return static_cast<double>(events) / seconds;
}

struct RebuildFigures {
  double rate = 0;           // events / (start .. done), switch included
  double reported_rate = 0;  // RebuildProgress::events_per_second
};

Result<RebuildFigures> Rebuild(const std::string& dir, const std::string& name, uint64_t events) {
  CAIRN_ASSIGN_OR_RETURN(std::unique_ptr<Db> db, OpenCairn(dir, SyncMode::kNone,
                                                           {CheapSpec(name, kTopic, ApplyCheap)}));
  Engine& engine = db->engine();
  auto start = Clock::now();
  CAIRN_ASSIGN_OR_RETURN(const uint64_t job, engine.StartRebuild({name}));
  CAIRN_ASSIGN_OR_RETURN(const RebuildProgress done, engine.WaitForRebuild(job));
  const double seconds = Seconds(start);
  if (done.state != RebuildProgress::State::kDone) {
    return Status::Internal("rebuild failed: " + done.error);
  }
  if (done.events_done != events) {
    return Status::Internal("rebuild applied " + std::to_string(done.events_done) + " events");
  }
  CAIRN_RETURN_IF_ERROR(CheckApplied(engine, name, events));
  return RebuildFigures{static_cast<double>(events) / seconds, done.events_per_second};
}

// ---------------------------------------------------------------------------------------------
// Workload 4: lag under a paced append load, projection threads running.

struct LagFigures {
  Histogram apply;    // handler wall clock - event timestamp, every event
  Histogram visible;  // Append called -> WaitForSeq ok, sampled
  uint64_t appended = 0;
  double seconds = 0;        // of the paced load
  double max_behind_ms = 0;  // worst lateness of a writer against its schedule
  uint64_t visible_timeouts = 0;
};

// Hands (seq, time Append was called) of sampled appends to the observer thread.
class VisibleObserver {
 public:
  VisibleObserver(Engine* engine, std::string projection, Histogram* out)
      : engine_(engine), projection_(std::move(projection)), out_(out) {
    thread_ = std::thread([this] { Run(); });
  }
  ~VisibleObserver() { Finish(); }

  void Add(Seq seq, Clock::time_point called) {
    std::lock_guard lock(mu_);
    queue_.emplace_back(seq, called);
    cv_.notify_one();
  }
  // Drains the queue and joins the thread.
  void Finish() {
    {
      std::lock_guard lock(mu_);
      done_ = true;
      cv_.notify_one();
    }
    if (thread_.joinable()) thread_.join();
  }
  uint64_t timeouts() const { return timeouts_; }

 private:
  void Run() {
    for (;;) {
      std::pair<Seq, Clock::time_point> item;
      {
        std::unique_lock lock(mu_);
        cv_.wait(lock, [&] { return done_ || !queue_.empty(); });
        if (queue_.empty()) return;
        item = queue_.front();
        queue_.pop_front();
      }
      Status s = engine_->WaitForSeq(projection_, item.first, std::chrono::seconds(10));
      const auto now = Clock::now();
      if (!s.ok()) {
        ++timeouts_;
        continue;
      }
      out_->samples.push_back(
          std::chrono::duration_cast<std::chrono::microseconds>(now - item.second).count());
    }
  }

  Engine* engine_;
  std::string projection_;
  Histogram* out_;  // written by the observer thread only, read after Finish()
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::pair<Seq, Clock::time_point>> queue_;  // GUARDED_BY(mu_)
  bool done_ = false;                                    // GUARDED_BY(mu_)
  uint64_t timeouts_ = 0;  // observer thread only
  std::thread thread_;
};

// The paced load of the lag run: flags.lag_writers threads append `total` single-event appends
// at flags.lag_rate in all, each writer at its own offset in the schedule so the load is even,
// not in bursts. Every kVisibleSampleEvery-th append goes to `observer`. Fills in
// figures->seconds and ->max_behind_ms; returns the first failed append.
Status RunPacedWriters(Log& log, const Flags& flags, const Payloads& payloads, uint64_t total,
                       VisibleObserver& observer, LagFigures* figures) {
  std::mutex mu;
  Status first_error;  // GUARDED_BY(mu)
  std::vector<double> behind_ms(flags.lag_writers, 0);
  std::vector<std::thread> writers;
  const auto start = Clock::now() + std::chrono::milliseconds(50);
  const double interval_us = 1e6 * static_cast<double>(flags.lag_writers) /
                             static_cast<double>(flags.lag_rate);
  auto write = [&](uint64_t w) {
    const uint64_t mine = total / flags.lag_writers + (w < total % flags.lag_writers ? 1 : 0);
    const double offset_us = interval_us * static_cast<double>(w) /
                             static_cast<double>(flags.lag_writers);
    for (uint64_t i = 0; i < mine; ++i) {
      const auto due = start + std::chrono::microseconds(static_cast<int64_t>(
                                   offset_us + interval_us * static_cast<double>(i)));
      const auto now = Clock::now();
      if (now < due) {
        std::this_thread::sleep_until(due);
      } else {
        behind_ms[w] = std::max(behind_ms[w],
                                std::chrono::duration<double, std::milli>(now - due).count());
      }
      AppendRequest req;
      req.topic = std::string(kLagTopic);
      req.stream = "lag-w" + std::to_string(w) + "-" + std::to_string(i % kLagStreamsPerWriter);
      NewEvent e;
      e.type = kTypes[i % 4];
      e.data = payloads.For(i);
      req.events.push_back(std::move(e));
      const auto called = Clock::now();
      auto r = log.Append(std::move(req));
      if (!r.ok()) {
        std::lock_guard lock(mu);
        if (first_error.ok()) first_error = r.status();
        return;
      }
      if (i % kVisibleSampleEvery == 0) observer.Add(r->positions[0].seq, called);
    }
  };
  for (uint64_t w = 0; w < flags.lag_writers; ++w) writers.emplace_back(write, w);
  for (auto& t : writers) t.join();
  figures->seconds = Seconds(start);
  for (double b : behind_ms) figures->max_behind_ms = std::max(figures->max_behind_ms, b);
  return first_error;
}

Result<LagFigures> Lag(const std::string& dir, const Flags& flags, const Payloads& payloads) {
  LagFigures figures;
  std::mutex apply_mu;  // the handler runs on the projection's thread; taken for form's sake
  const std::string name = "lag";
  ProjectionHandler handler = [&](const EventView& e, ProjectionWriter& out) {
    // A benchmark's handler may read the wall clock (a real one must not: rebuilds would differ).
    const int64_t lag = WallMicros() - e.timestamp_us();
    {
      std::lock_guard lock(apply_mu);
      figures.apply.samples.push_back(lag);
    }
    return ApplyCheap(e, out);
  };
  // The projection's thread starts before its topic exists; its cursor picks the topic up.
  CAIRN_ASSIGN_OR_RETURN(std::unique_ptr<Db> db,
                         OpenCairn(dir, flags.sync, {CheapSpec(name, kLagTopic, handler)},
                                   /*start_threads=*/true));
  CAIRN_RETURN_IF_ERROR(db->log().CreateTopic(std::string(kLagTopic), kPartitions).status());
  const uint64_t total = flags.lag_rate * flags.lag_seconds;
  figures.apply.samples.reserve(total + 1024);
  figures.visible.samples.reserve(total / kVisibleSampleEvery + 1024);
  VisibleObserver observer(&db->engine(), name, &figures.visible);

  Status written = RunPacedWriters(db->log(), flags, payloads, total, observer, &figures);
  observer.Finish();
  CAIRN_RETURN_IF_ERROR(written);
  figures.appended = total;
  figures.visible_timeouts = observer.timeouts();
  CAIRN_RETURN_IF_ERROR(
      db->engine().WaitForSeq(name, db->log().LastSeq(), std::chrono::seconds(30)));
  db.reset();  // the handler's samples are complete once the thread stopped
  if (figures.apply.samples.size() != total) {
    return Status::Internal("the lag projection applied " +
                            std::to_string(figures.apply.samples.size()) + " events, " +
                            std::to_string(total) + " appended");
  }
  figures.apply.Sort();
  figures.visible.Sort();
  return figures;
}

// ---------------------------------------------------------------------------------------------

void PrintRate(const char* name, double rate, double baseline, const char* target) {
  std::printf("%-20s cairn %9.0f ev/s   raw read %9.0f ev/s   ratio %5.2fx   (target %s)\n", name,
              rate, baseline, baseline > 0 ? rate / baseline : 0.0, target);
  std::fflush(stdout);
}

void PrintLag(const char* name, const Histogram& h, const char* what) {
  std::printf("%-20s p50 %7.2f ms   p99 %7.2f ms   max %7.2f ms   %zu samples, %s   "
              "(target p99 < 100 ms)\n",
              name, h.Quantile(0.50) / 1000, h.Quantile(0.99) / 1000,
              h.samples.empty() ? 0.0 : static_cast<double>(h.samples.back()) / 1000,
              h.samples.size(), what);
  std::fflush(stdout);
}

// Writes the backlog and closes the dir: reopening moves the log from the WAL into SST files,
// which the workloads then read.
Status WriteBacklog(const std::string& dir, const Flags& flags, const Payloads& payloads) {
  CAIRN_ASSIGN_OR_RETURN(std::unique_ptr<Db> db, OpenCairn(dir, flags.sync));
  CAIRN_ASSIGN_OR_RETURN(const double seconds, LoadBacklog(&db->log(), flags.events, payloads));
  std::printf("# backlog     %" PRIu64 " events written in %.2f s (%.0f ev/s, appends of %zu), "
              "untimed below\n",
              flags.events, seconds, static_cast<double>(flags.events) / seconds, kLoadBatch);
  std::fflush(stdout);
  return Status::Ok();
}

// Workloads 1-3, flags.rounds times each; prints their median lines.
Status BenchReadApplyRebuild(const std::string& dir, const Flags& flags) {
  std::vector<double> raw, apply, rebuild, rebuild_reported;
  for (int round = 0; round < flags.rounds; ++round) {
    const std::string name = "apply_r" + std::to_string(round);
    CAIRN_ASSIGN_OR_RETURN(const double r, RawRead(dir, flags.events));
    CAIRN_ASSIGN_OR_RETURN(const double a, Apply(dir, name, flags.events));
    CAIRN_ASSIGN_OR_RETURN(const RebuildFigures b, Rebuild(dir, name, flags.events));
    raw.push_back(r);
    apply.push_back(a);
    rebuild.push_back(b.rate);
    rebuild_reported.push_back(b.reported_rate);
    if (flags.verbose) {
      std::printf("#   round %d: raw read %.0f ev/s, apply %.0f ev/s, rebuild %.0f ev/s "
                  "(job reports %.0f ev/s)\n",
                  round + 1, r, a, b.rate, b.reported_rate);
      std::fflush(stdout);
    }
  }
  const double raw_rate = Median(raw);
  std::printf("%-20s log   %9.0f ev/s   (Log::ScanInSeqOrder, the baseline below)\n",
              "raw_seq_read", raw_rate);
  PrintRate("projection_apply", Median(apply), raw_rate, ">= 0.5x");
  char rebuild_target[96];
  std::snprintf(rebuild_target, sizeof rebuild_target,
                ">= 1000000 ev/s where raw read allows; job reports %.0f ev/s",
                Median(rebuild_reported));
  PrintRate("rebuild", Median(rebuild), raw_rate, rebuild_target);
  return Status::Ok();
}

// Workload 4; prints its two lines.
Status BenchLag(const std::string& dir, const Flags& flags, const Payloads& payloads) {
  CAIRN_ASSIGN_OR_RETURN(const LagFigures lag, Lag(dir, flags, payloads));
  char what[160];
  std::snprintf(what, sizeof what,
                "%" PRIu64 " appends in %.2f s = %.0f/s, writers at most %.1f ms late",
                lag.appended, lag.seconds, static_cast<double>(lag.appended) / lag.seconds,
                lag.max_behind_ms);
  PrintLag("lag_apply_20k", lag.apply, what);
  std::snprintf(what, sizeof what, "every %" PRIu64 "th append, Append -> WaitForSeq ok%s",
                kVisibleSampleEvery,
                lag.visible_timeouts ? (", " + std::to_string(lag.visible_timeouts) +
                                        " timeouts").c_str()
                                     : "");
  PrintLag("lag_visible_20k", lag.visible, what);
  return Status::Ok();
}

Status RunAll(const Flags& flags, const std::string& root) {
  const Payloads payloads;
  const std::string dir = root + "/data";
  CAIRN_RETURN_IF_ERROR(WriteBacklog(dir, flags, payloads));
  ::sync();
  CAIRN_RETURN_IF_ERROR(BenchReadApplyRebuild(dir, flags));
  return BenchLag(dir, flags, payloads);
}

}  // namespace
}  // namespace cairn

int main(int argc, char** argv) {
  auto flags = cairn::ParseFlags(argc, argv);
  if (!flags.ok()) {
    std::fprintf(stderr, "projection_bench: %s\n%s", flags.status().ToString().c_str(),
                 cairn::kUsage);
    return 64;
  }
  // Cairn logs opens, rebuilds and switches at info; keep stdout to the header and result lines.
  spdlog::set_level(spdlog::level::warn);
  auto root = cairn::bench::MakeRoot(flags->dir, "cairn-projection-bench");
  if (!root.ok()) {
    std::fprintf(stderr, "projection_bench: %s\n", root.status().ToString().c_str());
    return 1;
  }
  cairn::PrintHeader(*flags, *root);
  cairn::Status s = cairn::RunAll(*flags, *root);
  std::error_code ec;
  std::filesystem::remove_all(*root, ec);
  if (!s.ok()) {
    std::fprintf(stderr, "projection_bench: %s\n", s.ToString().c_str());
    return 1;
  }
  return 0;
}
