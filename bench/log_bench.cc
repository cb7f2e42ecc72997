// log_bench: Cairn's event log against raw RocksDB doing the equivalent work, in the same run, on
// the same disk, with 200-byte events. Prints the machine, then ONE line per workload with both
// rates and their ratio. Benchmarks never assert a time: the targets are printed, not checked.
//
//   durable_append_64w  64 threads, 1 event per call, fsync before ack
//                       Cairn: Log::Append, SyncMode::kAlways | RocksDB: Put, sync=true
//   durable_async_64    64 appends in flight from ONE thread through Log::AppendAsync (each
//                       callback sends the next), SyncMode::kAlways | RocksDB: as above, 64
//                       threads of sync Puts. Both lines report appends per fsync and the
//                       process's CPU time per append.
//   batch_append_100x1  1 thread, 100 events per call, no fsync
//                       Cairn: Log::Append, SyncMode::kNone   | RocksDB: WriteBatch of 100 Puts
//   scan_partition      sequential read of every event from SST files (both DBs reopened)
//                       Cairn: Log::ScanPartition, 1 partition | RocksDB: iterator, upper bound
//
// Usage: log_bench [--dir D] [--events N] [--rounds R] [--quick] [--verbose]
//                  [--payload json|random] [--only W].
// See bench/README.md.
#include <sys/resource.h>
#include <unistd.h>

#include <rocksdb/db.h>
#include <rocksdb/options.h>
#include <rocksdb/statistics.h>
#include <rocksdb/version.h>
#include <rocksdb/write_batch.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <condition_variable>
#include <chrono>
#include <cinttypes>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <functional>
#include <latch>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include "cairn/db.h"
#include "cairn/log.h"
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
constexpr size_t kDurableWriters = 64;
constexpr size_t kStreamsPerWriter = 4;   // durable workload: each writer owns these streams
constexpr size_t kBatchEvents = 100;
constexpr size_t kBatchStreams = 64;      // batch and scan loads rotate over these streams
constexpr uint64_t kBulkMultiplier = 10;  // batch and scan workloads move 10x --events
constexpr uint32_t kDurablePartitions = 8;
constexpr uint32_t kBatchPartitions = 8;
constexpr std::string_view kEventType = "BENCH_EVENT";

struct Flags {
  std::string dir = "/tmp";
  uint64_t events = 100'000;  // durable workload; the others use kBulkMultiplier times this
  int rounds = 3;
  bool quick = false;
  bool verbose = false;
  bool json_payload = true;  // --payload json|random
  int64_t group_wait_us = -1;  // --group-wait-us: LogOptions::max_group_wait_us; -1 keeps the default
  std::string only;     // run just the workload whose name starts with this (for profiling)
  std::string command;  // argv joined, echoed in the header
};

constexpr const char* kUsage =
    "usage: log_bench [--dir D] [--events N] [--rounds R] [--quick] [--verbose]\n"
    "  --dir D      parent of the temporary data dirs (default /tmp); use the disk you care about\n"
    "  --events N   durable_append_64w writes N events per side per round; batch_append_100x1\n"
    "               and scan_partition use 10*N (default 100000: ~1-2 min on 2 cores)\n"
    "  --rounds R   rounds per workload, sides alternating; the median is printed (default 3)\n"
    "  --quick      smoke run of a few seconds: N=5000, 1 round (unless given explicitly)\n"
    "  --verbose    also print every round and Cairn's group-commit counters\n"
    "  --payload P  json: order-like JSON with random ids (compresses, like real events);\n"
    "               random: random alphanumerics (incompressible) (default json)\n"
    "  --only W     run only the workloads whose name starts with W (durable, batch, scan)\n"
    "  --group-wait-us N  Cairn's LogOptions::max_group_wait_us (0: no gathering; default: the\n"
    "               library default), to show what gathering a group does\n";

Result<uint64_t> ParsePositive(std::string_view flag, const char* text) {
  char* end = nullptr;
  unsigned long long v = std::strtoull(text, &end, 10);
  if (end == text || *end != '\0' || v == 0) {
    return Status::InvalidArgument(std::string(flag) + " wants a positive integer, got '" + text +
                                   "'", std::string(flag));
  }
  return static_cast<uint64_t>(v);
}

Result<Flags> ParseFlags(int argc, char** argv) {
  Flags flags;
  bool events_given = false;
  bool rounds_given = false;
  for (int i = 0; i < argc; ++i) {
    if (i > 0) flags.command += ' ';
    flags.command += argv[i];
  }
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    std::string value;
    bool has_inline_value = false;
    if (auto eq = arg.find('='); arg.starts_with("--") && eq != std::string::npos) {
      value = arg.substr(eq + 1);
      arg.resize(eq);
      has_inline_value = true;
    }
    auto take_value = [&]() -> Result<std::string> {
      if (has_inline_value) return value;
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
    } else if (arg == "--dir" || arg == "--events" || arg == "--rounds" || arg == "--only" ||
               arg == "--payload" || arg == "--group-wait-us") {
      CAIRN_ASSIGN_OR_RETURN(const std::string v, take_value());
      if (arg == "--dir") {
        flags.dir = v;
      } else if (arg == "--payload") {
        if (v != "json" && v != "random") {
          return Status::InvalidArgument("--payload is json or random, got '" + v + "'", arg);
        }
        flags.json_payload = v == "json";
      } else if (arg == "--only") {
        flags.only = v;
      } else {
        uint64_t n = 0;  // --group-wait-us 0 is meaningful (no gathering): "0" is itself
        if (arg != "--group-wait-us" || v != "0") {
          CAIRN_ASSIGN_OR_RETURN(n, ParsePositive(arg, v.c_str()));
        }
        if (arg == "--events") {
          flags.events = n;
          events_given = true;
        } else if (arg == "--group-wait-us") {
          flags.group_wait_us = static_cast<int64_t>(n);
        } else {
          flags.rounds = static_cast<int>(std::min<uint64_t>(n, 100));
          rounds_given = true;
        }
      }
    } else {
      return Status::InvalidArgument("unknown argument '" + arg + "'", arg);
    }
  }
  if (flags.quick && !events_given) flags.events = 5'000;
  if (flags.quick && !rounds_given) flags.rounds = 1;
  return flags;
}

// ---------------------------------------------------------------------------------------------
// The header (machine description from bench_util.h).

void PrintHeader(const Flags& flags, const std::string& root) {
  std::printf("# log_bench   %s\n", UtcNow().c_str());
  std::printf("# command     %s\n", flags.command.c_str());
  std::printf("# machine     %ld cpus, %s, %s\n", sysconf(_SC_NPROCESSORS_ONLN), CpuModel().c_str(),
              Kernel().c_str());
  std::string fs = FilesystemName(root);
  std::printf("# disk        %s (%s)\n", root.c_str(), fs.c_str());
  std::printf("# load        %s (1/5/15-min load average at start; others' work skews figures)\n",
              LoadAverage().c_str());
  if (fs == "tmpfs") std::printf("# warning     tmpfs: fsync is free, durable figures are not real\n");
#ifdef NDEBUG
  const char* asserts = "off";
#else
  const char* asserts = "on";
#endif
  std::printf("# build       rocksdb %d.%d.%d, asserts %s\n", ROCKSDB_MAJOR, ROCKSDB_MINOR,
              ROCKSDB_PATCH, asserts);
  std::printf("# work        %zu-byte %s events; durable %" PRIu64 ", batch %" PRIu64
              ", scan %" PRIu64 " events per side per round; %d round(s), median shown\n",
              kEventBytes, flags.json_payload ? "json" : "random", flags.events,
              flags.events * kBulkMultiplier, flags.events * kBulkMultiplier, flags.rounds);
  std::fflush(stdout);
}

// ---------------------------------------------------------------------------------------------
// Shared helpers.

// 200-byte payloads, the same pool for Cairn and RocksDB. json: an order-like JSON document
// whose ids are random (compresses about as real events do); random: random alphanumerics, which
// Snappy cannot shrink, so RocksDB stores the baseline's blocks uncompressed.
class Payloads {
 public:
  explicit Payloads(bool json) {
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
      if (json) p = OrderJson(p);
    }
  }
  const std::string& For(uint64_t n) const { return pool_[n % kPoolSize]; }

 private:
  // {"orderId":"<24 random>","customerId":"<12 random>","items":[...],...} padded to 200 bytes.
  static std::string OrderJson(const std::string& random) {
    std::string j = "{\"orderId\":\"" + random.substr(0, 24) + "\",\"customerId\":\"" +
                    random.substr(24, 12) +
                    "\",\"items\":[{\"sku\":\"SKU-1001\",\"quantity\":2,\"price\":\"19.99\"},"
                    "{\"sku\":\"SKU-2002\",\"quantity\":1,\"price\":\"5.00\"}],"
                    "\"currency\":\"EUR\",\"status\":\"CREATED\"";
    j.resize(kEventBytes - 1, ' ');
    j += '}';
    return j;
  }

  static constexpr size_t kPoolSize = 1024;
  std::vector<std::string> pool_;
};

void EncodeBigEndian(uint64_t v, char out[8]) {
  for (int i = 7; i >= 0; --i) {
    out[i] = static_cast<char>(v & 0xff);
    v >>= 8;
  }
}

std::string BigEndianKey(uint64_t v) {
  char buf[8];
  EncodeBigEndian(v, buf);
  return std::string(buf, sizeof(buf));
}

Status FromRocks(const rocksdb::Status& s, std::string_view what) {
  return Status::IOError(std::string(what) + ": " + s.ToString());
}

// The share of `total` that worker `index` of `workers` does.
uint64_t ShareOf(uint64_t total, size_t workers, size_t index) {
  return total / workers + (index < total % workers ? 1 : 0);
}

// Flushes dirty pages left by earlier runs so their writeback does not land in the next timing.
void SettleDisk() { ::sync(); }

struct Timing {
  uint64_t events = 0;
  double seconds = 0;
  std::string detail;  // shown with --verbose
  double rate() const { return seconds > 0 ? static_cast<double>(events) / seconds : 0; }
};

double Seconds(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

// CPU time (user + system) this process has used so far, every thread, in µs.
double CpuMicros() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  const auto us = [](const timeval& t) { return double(t.tv_sec) * 1e6 + double(t.tv_usec); };
  return us(usage.ru_utime) + us(usage.ru_stime);
}

// "N appends/fsync, M µs CPU/append" for a durable workload.
std::string DurableDetail(uint64_t events, uint64_t fsyncs, double cpu_micros) {
  char buf[120];
  std::snprintf(buf, sizeof buf, "%.1f appends/fsync, %.1f us CPU/append",
                fsyncs ? static_cast<double>(events) / static_cast<double>(fsyncs) : 0.0,
                events ? cpu_micros / static_cast<double>(events) : 0.0);
  return buf;
}

// Runs body(t) for t in [0, threads) on threads released together; returns the time from the
// release until the last one finished, or the first error.
Result<double> RunConcurrently(size_t threads, const std::function<Status(size_t)>& body) {
  std::latch ready(static_cast<std::ptrdiff_t>(threads));
  std::latch go(1);
  std::mutex mu;
  Status first_error;  // GUARDED_BY(mu)
  std::vector<std::thread> pool;
  pool.reserve(threads);
  for (size_t t = 0; t < threads; ++t) {
    pool.emplace_back([&, t] {
      ready.count_down();
      go.wait();
      Status s = body(t);
      if (!s.ok()) {
        std::lock_guard lock(mu);
        if (first_error.ok()) first_error = std::move(s);
      }
    });
  }
  ready.wait();
  auto start = Clock::now();
  go.count_down();
  for (auto& th : pool) th.join();
  double seconds = Seconds(start);
  if (!first_error.ok()) return first_error;
  return seconds;
}

// ---------------------------------------------------------------------------------------------
// Opening each side.

Result<std::unique_ptr<rocksdb::DB>> OpenRaw(const std::string& dir,
                                             std::shared_ptr<rocksdb::Statistics> stats = nullptr) {
  rocksdb::Options options;  // defaults, as a user would start
  options.create_if_missing = true;
  options.statistics = std::move(stats);  // only to count the baseline's WAL syncs
  rocksdb::DB* db = nullptr;
  rocksdb::Status s = rocksdb::DB::Open(options, dir, &db);
  if (!s.ok()) return FromRocks(s, "open rocksdb " + dir);
  return std::unique_ptr<rocksdb::DB>(db);
}

LogOptions g_log_options;  // --group-wait-us changes it before any workload runs

// Opens `dir` through the front door with no domain: the log alone is measured, with no
// projections, no order topics and no threads beside its own.
Result<std::unique_ptr<Db>> OpenCairn(const std::string& dir, SyncMode sync) {
  DbOptions options;
  options.store.sync = sync;
  options.log = g_log_options;
  options.engine.start_threads = false;
  options.domains.clear();
  options.create_owned_topics = false;
  return Db::Open(dir, std::move(options));
}

std::string StatsDetail(const Log& log) {
  Log::Stats st = log.GetStats();
  char buf[200];
  std::snprintf(buf, sizeof(buf),
                "appends %" PRIu64 ", groups %" PRIu64 ", fsyncs %" PRIu64
                ", %.1f appends/group",
                st.appends, st.groups, st.fsyncs,
                st.groups ? static_cast<double>(st.appends) / static_cast<double>(st.groups) : 0.0);
  return buf;
}

// One append of `count` events (payloads from `first`) to `stream`.
AppendRequest MakeAppend(std::string_view topic, const std::string& stream, uint64_t first,
                         size_t count, const Payloads& payloads) {
  AppendRequest req;
  req.topic = std::string(topic);
  req.stream = stream;
  req.expected = ExpectedVersion::Any();
  req.events.reserve(count);
  for (size_t i = 0; i < count; ++i) {
    NewEvent ev;
    ev.type = std::string(kEventType);
    ev.data = payloads.For(first + i);
    req.events.push_back(std::move(ev));
  }
  return req;
}

Status CheckAppend(const Result<AppendResult>& r) {
  if (!r.ok()) return Status(r.status().code(), "cairn append: " + r.status().message());
  return Status::Ok();
}

// ---------------------------------------------------------------------------------------------
// Workload 1: durable single-event appends from 64 writers.

Result<Timing> RawDurable(const std::string& dir, uint64_t events, const Payloads& payloads) {
  // RocksDB group-commits concurrent sync writes itself: count its WAL syncs to show how many
  // Puts each one carried (the bound on what Cairn's group commit can add on top).
  std::shared_ptr<rocksdb::Statistics> stats = rocksdb::CreateDBStatistics();
  CAIRN_ASSIGN_OR_RETURN(std::unique_ptr<rocksdb::DB> db, OpenRaw(dir, stats));
  rocksdb::DB* raw = db.get();
  SettleDisk();
  const double cpu_start = CpuMicros();
  auto seconds = RunConcurrently(kDurableWriters, [&](size_t t) -> Status {
    rocksdb::WriteOptions wo;
    wo.sync = true;
    uint64_t n = ShareOf(events, kDurableWriters, t);
    char key[8];
    for (uint64_t i = 0; i < n; ++i) {
      EncodeBigEndian((static_cast<uint64_t>(t) << 40) | i, key);
      rocksdb::Status s = raw->Put(wo, rocksdb::Slice(key, sizeof(key)), payloads.For(i));
      if (!s.ok()) return FromRocks(s, "rocksdb put");
    }
    return Status::Ok();
  });
  if (!seconds.ok()) return seconds.status();
  const double cpu = CpuMicros() - cpu_start;
  const uint64_t syncs = stats->getTickerCount(rocksdb::WAL_FILE_SYNCED);
  return Timing{events, *seconds, DurableDetail(events, syncs, cpu)};
}

Result<Timing> CairnDurable(const std::string& dir, uint64_t events, const Payloads& payloads) {
  CAIRN_ASSIGN_OR_RETURN(std::unique_ptr<Db> cairn, OpenCairn(dir, SyncMode::kAlways));
  const std::string topic = "durable";
  CAIRN_RETURN_IF_ERROR(cairn->log().CreateTopic(topic, kDurablePartitions).status());
  // Stream ids "dur-w<writer>s<k>": the partition key is "w<writer>s<k>", spread over partitions.
  std::vector<std::vector<std::string>> streams(kDurableWriters);
  for (size_t t = 0; t < kDurableWriters; ++t) {
    for (size_t k = 0; k < kStreamsPerWriter; ++k) {
      streams[t].push_back("dur-w" + std::to_string(t) + "s" + std::to_string(k));
    }
  }
  Log* log = &cairn->log();
  SettleDisk();
  const double cpu_start = CpuMicros();
  auto seconds = RunConcurrently(kDurableWriters, [&](size_t t) -> Status {
    uint64_t n = ShareOf(events, kDurableWriters, t);
    for (uint64_t i = 0; i < n; ++i) {
      auto r = log->Append(MakeAppend(topic, streams[t][i % kStreamsPerWriter], i, 1, payloads));
      CAIRN_RETURN_IF_ERROR(CheckAppend(r));
    }
    return Status::Ok();
  });
  if (!seconds.ok()) return seconds.status();
  const double cpu = CpuMicros() - cpu_start;
  Timing timing{events, *seconds,
                DurableDetail(events, log->GetStats().fsyncs, cpu) + ", " + StatsDetail(*log)};
  cairn.reset();
  return timing;
}

// 64 appends in flight from one thread: the first 64 are sent here, then each callback (on the
// log's callback thread) sends the next one of its slot until `events` were sent.
Result<Timing> CairnDurableAsync(const std::string& dir, uint64_t events,
                                 const Payloads& payloads) {
  CAIRN_ASSIGN_OR_RETURN(std::unique_ptr<Db> cairn, OpenCairn(dir, SyncMode::kAlways));
  const std::string topic = "durable";
  CAIRN_RETURN_IF_ERROR(cairn->log().CreateTopic(topic, kDurablePartitions).status());
  std::vector<std::string> streams;
  for (size_t k = 0; k < kDurableWriters * kStreamsPerWriter; ++k) {
    streams.push_back("dur-a" + std::to_string(k));
  }
  Log* log = &cairn->log();
  std::atomic<uint64_t> sent{0};
  std::mutex mu;
  std::condition_variable finished;
  uint64_t done = 0;    // GUARDED_BY(mu)
  Status first_error;   // GUARDED_BY(mu)
  const auto finish = [&](Status s) {
    std::lock_guard lock(mu);
    if (!s.ok() && first_error.ok()) first_error = std::move(s);
    if (++done == events) finished.notify_one();
  };
  std::function<void()> send = [&] {
    const uint64_t i = sent.fetch_add(1);
    if (i >= events) return;
    Status s = log->AppendAsync(MakeAppend(topic, streams[i % streams.size()], i, 1, payloads),
                                [&](Result<AppendResult> r) {
                                  finish(CheckAppend(r));
                                  send();
                                });
    if (!s.ok()) finish(s);
  };
  SettleDisk();
  const double cpu_start = CpuMicros();
  const auto start = Clock::now();
  for (size_t slot = 0; slot < kDurableWriters; ++slot) send();
  {
    std::unique_lock lock(mu);
    finished.wait(lock, [&] { return done == events; });
  }
  const double seconds = Seconds(start);
  const double cpu = CpuMicros() - cpu_start;
  CAIRN_RETURN_IF_ERROR(first_error);
  Timing timing{events, seconds,
                DurableDetail(events, log->GetStats().fsyncs, cpu) + ", " + StatsDetail(*log)};
  cairn.reset();
  return timing;
}

// ---------------------------------------------------------------------------------------------
// Workload 2: batched appends, 100 events per call, one writer, no fsync. Also the loader of
// workload 3.

Status RawLoadBatches(rocksdb::DB* db, uint64_t events, const Payloads& payloads) {
  rocksdb::WriteOptions wo;
  wo.sync = false;
  char key[8];
  for (uint64_t first = 0; first < events; first += kBatchEvents) {
    uint64_t count = std::min<uint64_t>(kBatchEvents, events - first);
    rocksdb::WriteBatch batch;
    for (uint64_t i = first; i < first + count; ++i) {
      EncodeBigEndian(i, key);
      batch.Put(rocksdb::Slice(key, sizeof(key)), payloads.For(i));
    }
    rocksdb::Status s = db->Write(wo, &batch);
    if (!s.ok()) return FromRocks(s, "rocksdb write");
  }
  return Status::Ok();
}

Status CairnLoadBatches(Log* log, const std::string& topic, uint64_t events,
                        const std::vector<std::string>& streams, const Payloads& payloads) {
  uint64_t call = 0;
  for (uint64_t first = 0; first < events; first += kBatchEvents, ++call) {
    size_t count = static_cast<size_t>(std::min<uint64_t>(kBatchEvents, events - first));
    auto r = log->Append(MakeAppend(topic, streams[call % streams.size()], first, count, payloads));
    CAIRN_RETURN_IF_ERROR(CheckAppend(r));
  }
  return Status::Ok();
}

std::vector<std::string> BatchStreams(std::string_view prefix) {
  std::vector<std::string> streams;
  for (size_t k = 0; k < kBatchStreams; ++k) {
    streams.push_back(std::string(prefix) + "-s" + std::to_string(k));
  }
  return streams;
}

Result<Timing> RawBatch(const std::string& dir, uint64_t events, const Payloads& payloads) {
  CAIRN_ASSIGN_OR_RETURN(std::unique_ptr<rocksdb::DB> db, OpenRaw(dir));
  SettleDisk();
  auto start = Clock::now();
  CAIRN_RETURN_IF_ERROR(RawLoadBatches(db.get(), events, payloads));
  return Timing{events, Seconds(start), {}};
}

Result<Timing> CairnBatch(const std::string& dir, uint64_t events, const Payloads& payloads) {
  CAIRN_ASSIGN_OR_RETURN(std::unique_ptr<Db> cairn, OpenCairn(dir, SyncMode::kNone));
  const std::string topic = "batch";
  CAIRN_RETURN_IF_ERROR(cairn->log().CreateTopic(topic, kBatchPartitions).status());
  auto streams = BatchStreams("batch");
  SettleDisk();
  auto start = Clock::now();
  CAIRN_RETURN_IF_ERROR(CairnLoadBatches(&cairn->log(), topic, events, streams, payloads));
  Timing timing{events, Seconds(start), StatsDetail(cairn->log())};
  cairn.reset();
  return timing;
}

// ---------------------------------------------------------------------------------------------
// Workload 3: sequential read of one partition. Both sides are loaded once, then every round
// reopens its database (cold block cache, data in SST files, OS page cache warm for both) and
// scans everything.

constexpr std::string_view kScanTopic = "scan";

Status PrepareRawScan(const std::string& dir, uint64_t events, const Payloads& payloads) {
  CAIRN_ASSIGN_OR_RETURN(std::unique_ptr<rocksdb::DB> db, OpenRaw(dir));
  CAIRN_RETURN_IF_ERROR(RawLoadBatches(db.get(), events, payloads));
  rocksdb::Status s = db->Flush(rocksdb::FlushOptions());
  if (!s.ok()) return FromRocks(s, "rocksdb flush");
  s = db->Close();
  if (!s.ok()) return FromRocks(s, "rocksdb close");
  return Status::Ok();
}

Status PrepareCairnScan(const std::string& dir, uint64_t events, const Payloads& payloads) {
  CAIRN_ASSIGN_OR_RETURN(std::unique_ptr<Db> cairn, OpenCairn(dir, SyncMode::kNone));
  const std::string topic(kScanTopic);
  CAIRN_RETURN_IF_ERROR(cairn->log().CreateTopic(topic, 1).status());
  CAIRN_RETURN_IF_ERROR(
      CairnLoadBatches(&cairn->log(), topic, events, BatchStreams("scan"), payloads));
  cairn.reset();  // reopening replays the WAL into SST files (RocksDB flushes on recovery)
  return Status::Ok();
}

// Bytes in the memtables of every column family: ~0 when a scan reads SST files only.
uint64_t MemtableBytes(rocksdb::DB* db) {
  uint64_t bytes = 0;
  if (!db->GetAggregatedIntProperty(rocksdb::DB::Properties::kCurSizeAllMemTables, &bytes)) {
    return 0;
  }
  return bytes;
}

Status CheckScanned(std::string_view side, uint64_t seen, uint64_t bytes, uint64_t events) {
  if (seen != events || bytes != events * kEventBytes) {
    return Status::Internal(std::string(side) + " scan saw " + std::to_string(seen) +
                            " events / " + std::to_string(bytes) + " bytes, expected " +
                            std::to_string(events));
  }
  return Status::Ok();
}

// One timed iterator pass over a freshly opened raw database (cold block cache).
Result<Timing> RawScanOnce(const std::string& dir, uint64_t events, bool fill_cache) {
  CAIRN_ASSIGN_OR_RETURN(std::unique_ptr<rocksdb::DB> db, OpenRaw(dir));
  std::string detail = "memtable bytes after reopen " + std::to_string(MemtableBytes(db.get()));
  const std::string lower = BigEndianKey(0);
  const std::string upper = BigEndianKey(events);
  rocksdb::Slice upper_slice(upper);
  rocksdb::ReadOptions ro;
  ro.iterate_upper_bound = &upper_slice;
  ro.fill_cache = fill_cache;
  uint64_t seen = 0;
  uint64_t bytes = 0;
  auto start = Clock::now();
  {
    std::unique_ptr<rocksdb::Iterator> it(db->NewIterator(ro));
    for (it->Seek(lower); it->Valid(); it->Next()) {
      bytes += it->value().size();
      ++seen;
    }
    if (!it->status().ok()) return FromRocks(it->status(), "rocksdb scan");
  }
  double seconds = Seconds(start);
  CAIRN_RETURN_IF_ERROR(CheckScanned("rocksdb", seen, bytes, events));
  return Timing{events, seconds, detail};
}

// The baseline is RocksDB's default iterator. Cairn's log scans bypass the block cache
// (ReadOptions::fill_cache = false), so the detail also shows the baseline doing the same.
Result<Timing> RawScan(const std::string& dir, uint64_t events) {
  Result<Timing> timing = RawScanOnce(dir, events, /*fill_cache=*/true);
  if (!timing.ok()) return timing;
  CAIRN_ASSIGN_OR_RETURN(const Timing bypass, RawScanOnce(dir, events, /*fill_cache=*/false));
  char rate[80];
  std::snprintf(rate, sizeof rate, "; with fill_cache=false like Cairn %.0f ev/s", bypass.rate());
  timing->detail += rate;
  return timing;
}

Result<Timing> CairnScan(const std::string& dir, uint64_t events) {
  CAIRN_ASSIGN_OR_RETURN(std::unique_ptr<Db> cairn, OpenCairn(dir, SyncMode::kNone));
  // Read-only look at the store's RocksDB (Store::db() is meant for src/log): it confirms the
  // scan reads SST files like the baseline's, not a memtable rebuilt from the WAL.
  uint64_t memtable = MemtableBytes(cairn->store().db());
  std::string detail = "memtable bytes after reopen " + std::to_string(memtable);
  if (memtable > (1u << 20)) detail += " (NOT all in SST files: the comparison flatters Cairn)";
  uint64_t seen = 0;
  uint64_t bytes = 0;
  auto start = Clock::now();
  Status s = cairn->log().ScanPartition(kScanTopic, PartitionId(0), Offset(0), Offset(events),
                                         [&](const EventView& ev) {
                                           bytes += ev.data().size();
                                           ++seen;
                                           return true;
                                         });
  double seconds = Seconds(start);
  if (!s.ok()) return Status(s.code(), "cairn scan: " + s.message());
  CAIRN_RETURN_IF_ERROR(CheckScanned("cairn", seen, bytes, events));
  cairn.reset();
  return Timing{events, seconds, detail};
}

// ---------------------------------------------------------------------------------------------
// Rounds and the report line.

using SideRun = std::function<Result<Timing>(int round)>;

struct WorkloadSpec {
  std::string name;
  double target;  // cairn / rocksdb, printed only
  SideRun cairn;
  SideRun rocksdb;
  // Print each side's detail of its last round under the result line (durable workloads:
  // appends per fsync and CPU per append), not only with --verbose.
  bool show_detail = false;
};

// Runs the two sides back to back `rounds` times, swapping which goes first each round, and
// prints the workload's line with the median rates.
Status RunWorkload(const Flags& flags, const WorkloadSpec& w) {
  if (!w.name.starts_with(flags.only)) return Status::Ok();
  std::vector<double> cairn_rates;
  std::vector<double> raw_rates;
  std::string cairn_detail, raw_detail;
  for (int round = 0; round < flags.rounds; ++round) {
    bool raw_first = round % 2 == 0;
    for (int side = 0; side < 2; ++side) {
      bool is_raw = (side == 0) == raw_first;
      auto t = is_raw ? w.rocksdb(round) : w.cairn(round);
      if (!t.ok()) return t.status();
      (is_raw ? raw_rates : cairn_rates).push_back(t->rate());
      (is_raw ? raw_detail : cairn_detail) = t->detail;
      if (flags.verbose) {
        std::printf("#   %-20s round %d  %-7s %10.0f ev/s  %7.3f s  %s\n", w.name.c_str(),
                    round + 1, is_raw ? "rocksdb" : "cairn", t->rate(), t->seconds,
                    t->detail.c_str());
        std::fflush(stdout);
      }
    }
  }
  double cairn = Median(cairn_rates);
  double raw = Median(raw_rates);
  std::printf("%-20s cairn %9.0f ev/s   rocksdb %9.0f ev/s   ratio %5.2fx   (target >= %gx)\n",
              w.name.c_str(), cairn, raw, raw > 0 ? cairn / raw : 0.0, w.target);
  if (w.show_detail) {
    std::printf("#   %s: cairn %s | rocksdb %s\n", w.name.c_str(), cairn_detail.c_str(),
                raw_detail.c_str());
  }
  std::fflush(stdout);
  return Status::Ok();
}

Status RunAll(const Flags& flags, const std::string& root) {
  if (flags.group_wait_us >= 0) {
    g_log_options.max_group_wait_us = static_cast<uint32_t>(flags.group_wait_us);
  }
  namespace fs = std::filesystem;
  const Payloads payloads(flags.json_payload);
  const uint64_t durable_events = flags.events;
  const uint64_t bulk_events = flags.events * kBulkMultiplier;

  // Write workloads get a fresh directory per side per round, deleted afterwards.
  auto fresh = [&](const std::string& name, int round) {
    std::string dir = root + "/" + name + "-r" + std::to_string(round);
    fs::remove_all(dir);
    return dir;
  };
  auto once = [&](const std::string& name, int round,
                  const std::function<Result<Timing>(const std::string&)>& run) -> Result<Timing> {
    std::string dir = fresh(name, round);
    auto t = run(dir);
    fs::remove_all(dir);
    return t;
  };

  CAIRN_RETURN_IF_ERROR(RunWorkload(flags, {
      "durable_append_64w", 1.0,
      [&](int r) { return once("durable-cairn", r, [&](const std::string& d) {
        return CairnDurable(d, durable_events, payloads); }); },
      [&](int r) { return once("durable-rocksdb", r, [&](const std::string& d) {
        return RawDurable(d, durable_events, payloads); }); },
      true,
  }));

  CAIRN_RETURN_IF_ERROR(RunWorkload(flags, {
      "durable_async_64", 3.0,
      [&](int r) { return once("async-cairn", r, [&](const std::string& d) {
        return CairnDurableAsync(d, durable_events, payloads); }); },
      [&](int r) { return once("async-rocksdb", r, [&](const std::string& d) {
        return RawDurable(d, durable_events, payloads); }); },
      true,
  }));

  CAIRN_RETURN_IF_ERROR(RunWorkload(flags, {
      "batch_append_100x1", 0.6,
      [&](int r) { return once("batch-cairn", r, [&](const std::string& d) {
        return CairnBatch(d, bulk_events, payloads); }); },
      [&](int r) { return once("batch-rocksdb", r, [&](const std::string& d) {
        return RawBatch(d, bulk_events, payloads); }); },
  }));

  if (!std::string_view("scan_partition").starts_with(flags.only)) return Status::Ok();
  const std::string scan_cairn = root + "/scan-cairn";
  const std::string scan_raw = root + "/scan-rocksdb";
  CAIRN_RETURN_IF_ERROR(PrepareRawScan(scan_raw, bulk_events, payloads));
  CAIRN_RETURN_IF_ERROR(PrepareCairnScan(scan_cairn, bulk_events, payloads));
  SettleDisk();
  Status scanned = RunWorkload(flags, {
      "scan_partition", 1.0,
      [&](int) { return CairnScan(scan_cairn, bulk_events); },
      [&](int) { return RawScan(scan_raw, bulk_events); },
  });
  fs::remove_all(scan_cairn);
  fs::remove_all(scan_raw);
  return scanned;
}

}  // namespace
}  // namespace cairn

int main(int argc, char** argv) {
  auto flags = cairn::ParseFlags(argc, argv);
  if (!flags.ok()) {
    std::fprintf(stderr, "log_bench: %s\n%s", flags.status().ToString().c_str(), cairn::kUsage);
    return 64;
  }
  // Cairn logs opens and topic creations at info; keep stdout to the header and result lines.
  spdlog::set_level(spdlog::level::warn);
  auto root = cairn::bench::MakeRoot(flags->dir, "cairn-log-bench");
  if (!root.ok()) {
    std::fprintf(stderr, "log_bench: %s\n", root.status().ToString().c_str());
    return 1;
  }
  cairn::PrintHeader(*flags, *root);
  cairn::Status s = cairn::RunAll(*flags, *root);
  std::error_code ec;
  std::filesystem::remove_all(*root, ec);
  if (!s.ok()) {
    std::fprintf(stderr, "log_bench: %s\n", s.ToString().c_str());
    return 1;
  }
  return 0;
}
