// rebuild_bench: the order read side at log speed. Generates N seed-shaped orders as a kcat
// export, then measures what a user runs on it, each beside a raw sequential RocksDB scan of the
// same data dir's log measured in the same run. Prints the machine, then ONE line per workload:
// its rate, the scan's rate, their ratio, the target, the wall time and the peak RSS.
// Benchmarks never assert a time: the targets are printed, not checked.
//
//   raw_scan          a fresh read-only rocksdb::DB on the imported dir iterating the `log` family
//                     (sums value sizes): the baseline of every line (median of --scan-rounds)
//   import_kcat       `cairn import --file all.kcat` into an empty dir, end to end (read, plan,
//                     append, projections caught up), as a child process
//   catch_up_live     Engine::CatchUp of the three projections over the second half of the
//                     export (its events from the median time on), imported in process into a
//                     dir whose projections hold the first half: the live apply path on
//                     non-empty read models
//   rebuild_all       `cairn rebuild` (the three order projections in one job)
//   rebuild_<name>    `cairn rebuild --projection <name>`, for orders, order_stats, order_search
//   check             `cairn check` (replay and compare every read model; must say consistent)
//   ceiling_decode    what any rebuild of the order topics costs before its read models: three
//                     projections over the three topics (as rebuild_all rebuilds three), given
//                     every event decoded by the order projections' own decoder, writing nothing
//   ceiling_<K>_keys  the same three writing K keys per event between them (--ceiling-keys,
//                     default 9: the three order read models hold 1.3M keys for 142,703 events;
//                     fewer shows what a read-model design with fewer keys could reach), each
//                     key a 44-byte one spread over the key space as order ids are, with a
//                     40-byte value (about the read models' average sizes), of bytes that do not
//                     compress; every key is new (the read models also rewrite some). The cost
//                     of the key count alone, with no domain logic: against rebuild_all it splits
//                     that time into engine, keys and domain.
//
// The imported dir is compacted once (see "Settled dirs" below). The raw scan reads it; each
// rebuild, the check and the ceilings run on a fresh copy of it, and the rebuilds' and the
// check's lines say what they left to compact. (Ratios from before 2026-12-06 05:10 UTC scanned
// the dir as the import left it, and each command ran on what the one before left.)
//
// The commands are timed from spawn to exit (opening and closing the data dir included); the
// catch-up and the ceilings in a forked child, from opening the dir to closing it (the copy not
// timed). Each with its CPU time (user + system, steadier than wall time on a shared machine)
// and its peak RSS (the kernel's ru_maxrss). Generating the export, the raw scan, the settling
// and the catch-up run in forked children, so this process stays small and no child's peak RSS
// includes its memory. A rate is the events the workload goes through (the log, or the topics
// the projection reads) over that time.
//
// The orders follow the seed's producer (tests/data/seed-kafka-export.kcat.jsonl): ORDER_CREATED
// with 1-3 of the seed's five products and a Korean address, then by fate: cancelled (5%),
// left created (20%), approved then cancelled (5%), approved (10%), approved and paid (20%), or
// approved, paid and shipped (40%): 2.85 events per order, each 5-30 minutes after the last,
// order creations spread over 30 days. kcat prints topic after topic, partition after partition.
//
// Usage: rebuild_bench [--dir D] [--orders N] [--cairn PATH] [--scan-rounds R] [--keep]
//                      [--only W] [--ceiling-keys K]
#include <fcntl.h>
#include <spawn.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <rocksdb/db.h>
#include <rocksdb/version.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <cinttypes>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <sstream>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "cairn/db.h"
#include "cairn/engine.h"
#include "cairn/log.h"
#include "cairn/orders.h"
#include "cairn/store.h"
#include "base/iso_time.h"
#include "base/json_writer.h"
#include "base/uuid.h"
#include "bench_util.h"
#include "interop/import.h"

extern char** environ;

namespace cairn {
namespace {

using Clock = std::chrono::steady_clock;

constexpr uint32_t kPartitions = 8;
constexpr int kUsers = 1000;
constexpr int64_t kSpreadDays = 30;

struct Flags {
  std::string dir = "/tmp";
  uint64_t orders = 200'000;
  std::string cairn;
  int scan_rounds = 3;
  bool keep = false;
  std::string only;  // run only workloads whose name starts with this (raw_scan always runs)
  int ceiling_keys = 9;  // the keys per event of the ceiling_<K>_keys workload
  std::string command;
};

[[noreturn]] void Die(const std::string& what) {
  std::fprintf(stderr, "rebuild_bench: %s\n", what.c_str());
  std::exit(1);
}
template <typename T>
T Must(Result<T> r, const char* what) {
  if (!r.ok()) Die(std::string(what) + ": " + r.status().ToString());
  return std::move(r).value();
}
void Must(const Status& s, const char* what) {
  if (!s.ok()) Die(std::string(what) + ": " + s.ToString());
}

double Seconds(Clock::duration d) { return std::chrono::duration<double>(d).count(); }

// ---- The seed-shaped kcat export ------------------------------------------------------------

struct Product {
  const char* id;
  const char* name;
  int64_t price;
};
constexpr Product kProducts[] = {{"p-100", "무선 키보드", 39000},
                                 {"p-200", "Mechanical Mouse", 25000},
                                 {"p-300", "USB-C Hub", 18000},
                                 {"p-400", "27in Monitor", 329000},
                                 {"p-500", "노트북 거치대", 21000}};
const char* const kCities[] = {"Seoul", "Busan", "Incheon"};

struct KafkaLine {
  int64_t ts_us;
  std::string payload;
  std::string type;
  std::string order_id;
  uint64_t version;
};

// Lines per topic, then per partition, each partition in time order.
using Export = std::map<std::string, std::map<uint32_t, std::vector<KafkaLine>>>;

std::string CreatedData(std::mt19937_64& rng, const std::string& id, int64_t* total) {
  json::JsonWriter w;
  w.BeginObject().Key("orderId").String(id);
  w.Key("userId").String("user-" + std::to_string(rng() % kUsers));
  w.Key("items").BeginArray();
  *total = 0;
  for (uint64_t i = 0, n = 1 + rng() % 3; i < n; ++i) {
    const Product& p = kProducts[rng() % std::size(kProducts)];
    const int64_t quantity = 1 + static_cast<int64_t>(rng() % 3);
    *total += p.price * quantity;
    w.BeginObject().Key("productId").String(p.id).Key("name").String(p.name);
    w.Key("price").Int(p.price).Key("quantity").Int(quantity).EndObject();
  }
  w.EndArray().Key("totalAmount").Int(*total);
  char zip[8];
  std::snprintf(zip, sizeof zip, "%05d", static_cast<int>(rng() % 100000));
  w.Key("shippingAddress").BeginObject()
      .Key("street").String(std::to_string(1 + rng() % 999) + " Teheran-ro")
      .Key("city").String(kCities[rng() % std::size(kCities)])
      .Key("zipCode").String(zip)
      .Key("country").String("KR")
      .Key("express").Bool(rng() % 10 < 3)
      .EndObject();
  return w.EndObject().Take();
}

// The events of one order after ORDER_CREATED: (topic, type, data) by its fate.
struct Step {
  const char* topic;
  const char* type;
  std::string data;
};
std::vector<Step> LaterSteps(std::mt19937_64& rng, const std::string& id, int64_t total,
                             uint64_t n) {
  const std::string plain = "{\"orderId\":\"" + id + "\"";
  const uint64_t fate = rng() % 100;
  std::vector<Step> steps;
  if (fate < 5) return {{"order-events", "ORDER_CANCELLED", plain + ",\"reason\":\"customer request\"}"}};
  if (fate < 25) return steps;
  steps.push_back({"order-events", "ORDER_APPROVED", plain + "}"});
  if (fate < 30) {
    steps.push_back({"order-events", "ORDER_CANCELLED", plain + ",\"reason\":\"out of stock\"}"});
    return steps;
  }
  if (fate < 40) return steps;
  steps.push_back({"payment-events", "PAYMENT_COMPLETED",
                   plain + ",\"method\":\"" + (rng() % 2 ? "card" : "transfer") +
                       "\",\"amount\":" + std::to_string(total) + "}"});
  if (fate < 60) return steps;
  steps.push_back({"shipping-events", "ORDER_SHIPPED",
                   plain + ",\"trackingNumber\":\"TRK-" + std::to_string(n) + "\"}"});
  return steps;
}

std::string SeedPayload(const std::string& type, const std::string& id, uint64_t version,
                        int64_t at_us, const std::string& data) {
  // The seed writes whole seconds: "2026-11-01T14:33:00Z".
  std::string time = json::FormatIsoTime(at_us - at_us % json::kMicrosPerSecond);
  time = time.substr(0, 19) + "Z";
  return "{\"type\": \"" + type + "\", \"aggregateId\": \"" + id + "\", \"version\": " +
         std::to_string(version) + ", \"timestamp\": \"" + time + "\", \"data\": " + data + "}";
}

// Orders [first, last) of the deterministic sequence, into `out`; returns the events added.
uint64_t AddOrders(uint64_t first, uint64_t last, uint64_t total_orders, Export* out) {
  const int64_t start = (json::DayOf(int64_t{1'793'000'000} * json::kMicrosPerSecond)) *
                        json::kMicrosPerDay;
  uint64_t events = 0;
  for (uint64_t n = first; n < last; ++n) {
    std::mt19937_64 rng(n * 2654435761u + 12345);
    const std::string id = UuidText(rng(), rng());
    int64_t at = start + static_cast<int64_t>(n * (kSpreadDays * json::kMicrosPerDay) / total_orders);
    int64_t total = 0;
    std::vector<Step> steps = {{"order-events", "ORDER_CREATED", CreatedData(rng, id, &total)}};
    for (Step& s : LaterSteps(rng, id, total, n)) steps.push_back(std::move(s));
    const uint32_t partition = PartitionForKey(id, kPartitions).value();
    for (size_t v = 0; v < steps.size(); ++v) {
      at += static_cast<int64_t>(300 + rng() % 1500) * json::kMicrosPerSecond;
      std::string data = steps[v].data;
      if (std::string_view(steps[v].type) == "ORDER_SHIPPED") {
        data.pop_back();
        data += ",\"shippedAt\":\"" + json::FormatIsoTime(at) + "\"}";
      }
      (*out)[steps[v].topic][partition].push_back(
          KafkaLine{at, SeedPayload(steps[v].type, id, v + 1, at, data), steps[v].type, id, v + 1});
      ++events;
    }
  }
  return events;
}

// Writes the lines of `data` whose time is in [from_us, to_us) as kcat prints them, each line
// at its offset in the whole partition: the two halves of one export, imported one after the
// other, are the whole export (an import names an event by topic, partition and offset).
void WriteKcat(const Export& data, const std::string& path, int64_t from_us, int64_t to_us) {
  std::ofstream out(path, std::ios::binary);
  for (const auto& [topic, partitions] : data) {
    for (const auto& [partition, lines] : partitions) {
      std::vector<const KafkaLine*> sorted;
      for (const KafkaLine& l : lines) sorted.push_back(&l);
      std::stable_sort(sorted.begin(), sorted.end(),
                       [](const KafkaLine* a, const KafkaLine* b) { return a->ts_us < b->ts_us; });
      for (size_t offset = 0; offset < sorted.size(); ++offset) {
        const KafkaLine& l = *sorted[offset];
        if (l.ts_us < from_us || l.ts_us >= to_us) continue;
        json::JsonWriter w;
        w.BeginObject().Key("topic").String(topic).Key("partition").Uint(partition);
        w.Key("offset").Uint(offset).Key("tstype").String("create");
        w.Key("ts").Int(l.ts_us / 1000).Key("broker").Int(1);
        w.Key("headers").BeginArray().String("eventType").String(l.type).String("aggregateId");
        w.String(l.order_id).String("version").String(std::to_string(l.version)).EndArray();
        w.Key("key").String(l.order_id).Key("payload").String(l.payload).EndObject();
        out << w.Take() << '\n';
      }
    }
  }
  if (!out) Die("cannot write " + path);
}

struct Generated {
  uint64_t events = 0;
  std::map<std::string, uint64_t> per_topic;
  // The events at or after the export's median time (the "second half" file).
  uint64_t later_events = 0;
};

// The export of `orders` orders as all.kcat, and split at its median event time into
// first.kcat and second.kcat (live catch-up: orders straddling the split continue in the
// second file, as a live producer's would).
Generated Generate(uint64_t orders, const std::string& all, const std::string& first,
                   const std::string& second) {
  Export data;
  Generated g;
  g.events = AddOrders(0, orders, orders, &data);
  std::vector<int64_t> times;
  for (const auto& [topic, partitions] : data) {
    for (const auto& [p, lines] : partitions) {
      g.per_topic[topic] += lines.size();
      for (const KafkaLine& l : lines) times.push_back(l.ts_us);
    }
  }
  std::nth_element(times.begin(), times.begin() + times.size() / 2, times.end());
  const int64_t split = times[times.size() / 2];
  g.later_events = static_cast<uint64_t>(
      std::count_if(times.begin(), times.end(), [&](int64_t t) { return t >= split; }));
  WriteKcat(data, all, INT64_MIN, INT64_MAX);
  WriteKcat(data, first, INT64_MIN, split);
  WriteKcat(data, second, split, INT64_MAX);
  return g;
}

// ---- Measuring -------------------------------------------------------------------------------

struct Run {
  double seconds = 0;
  // User + system CPU time: steadier than wall time on a loaded machine.
  double cpu_seconds = 0;
  long peak_rss_kb = 0;
  int exit_code = 0;
};

double CpuSeconds(const rusage& u) {
  const auto secs = [](const timeval& t) { return double(t.tv_sec) + double(t.tv_usec) / 1e6; };
  return secs(u.ru_utime) + secs(u.ru_stime);
}

// Runs `work` in a forked child and returns the text it returned. Everything that grows this
// process (generating the export, RocksDB) runs so: a spawned child's peak RSS includes this
// process's own until the child execs, and the figures are the cairn commands'.
std::string InChild(const std::function<std::string()>& work) {
  int fds[2];
  if (pipe(fds) != 0) Die("pipe");
  std::fflush(stdout);
  const pid_t pid = fork();
  if (pid < 0) Die("fork");
  if (pid == 0) {
    close(fds[0]);
    const std::string out = work();
    for (size_t done = 0; done < out.size();) {
      const ssize_t n = write(fds[1], out.data() + done, out.size() - done);
      if (n <= 0) _exit(1);
      done += static_cast<size_t>(n);
    }
    std::fflush(stdout);
    _exit(0);
  }
  close(fds[1]);
  std::string out;
  char buf[4096];
  for (ssize_t n; (n = read(fds[0], buf, sizeof buf)) > 0;) out.append(buf, static_cast<size_t>(n));
  close(fds[0]);
  int status = 0;
  if (waitpid(pid, &status, 0) < 0 || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    Die("a forked step failed");
  }
  return out;
}

// Generate() in a forked child (see InChild).
Generated GenerateInChild(uint64_t orders, const std::string& all, const std::string& first,
                          const std::string& second) {
  std::istringstream out(InChild([&] {
    const Generated g = Generate(orders, all, first, second);
    std::string text = std::to_string(g.events) + " " + std::to_string(g.later_events);
    for (const auto& [topic, n] : g.per_topic) text += " " + topic + " " + std::to_string(n);
    return text;
  }));
  Generated g;
  out >> g.events >> g.later_events;
  std::string topic;
  for (uint64_t n = 0; out >> topic >> n;) g.per_topic[topic] = n;
  return g;
}

// Runs the cairn binary with `args`, its output into `log`; times it and takes its peak RSS.
Run RunCairn(const Flags& f, std::vector<std::string> args, const std::string& log) {
  args.insert(args.begin(), f.cairn);
  std::vector<char*> argv;
  for (std::string& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 1, log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
  posix_spawn_file_actions_adddup2(&actions, 1, 2);
  const auto start = Clock::now();
  pid_t pid = 0;
  if (posix_spawn(&pid, f.cairn.c_str(), &actions, nullptr, argv.data(), environ) != 0) {
    Die("cannot run " + f.cairn);
  }
  posix_spawn_file_actions_destroy(&actions);
  int status = 0;
  rusage usage{};
  if (wait4(pid, &status, 0, &usage) < 0) Die("wait4");
  Run run;
  run.seconds = Seconds(Clock::now() - start);
  run.cpu_seconds = CpuSeconds(usage);
  run.peak_rss_kb = usage.ru_maxrss;
  run.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  return run;
}

// Events per second of a sequential scan of the dir's `log` family by a fresh read-only
// rocksdb::DB with default options (cold block cache, OS page cache warm).
double RawScan(const std::string& dir, uint64_t* entries) {
  rocksdb::DBOptions options;
  std::vector<std::string> names;
  if (!rocksdb::DB::ListColumnFamilies(options, dir, &names).ok()) Die("list families of " + dir);
  std::vector<rocksdb::ColumnFamilyDescriptor> families;
  size_t log_index = names.size();
  for (size_t i = 0; i < names.size(); ++i) {
    families.emplace_back(names[i], rocksdb::ColumnFamilyOptions());
    if (names[i] == "log") log_index = i;
  }
  if (log_index == names.size()) Die(dir + " has no log family");
  std::vector<rocksdb::ColumnFamilyHandle*> handles;
  rocksdb::DB* raw = nullptr;
  rocksdb::Status s = rocksdb::DB::OpenForReadOnly(options, dir, families, &handles, &raw);
  if (!s.ok()) Die("raw open of " + dir + ": " + s.ToString());
  const auto start = Clock::now();
  uint64_t n = 0, bytes = 0;
  {
    std::unique_ptr<rocksdb::Iterator> it(raw->NewIterator(rocksdb::ReadOptions(), handles[log_index]));
    for (it->SeekToFirst(); it->Valid(); it->Next()) {
      ++n;
      bytes += it->value().size();
    }
    if (!it->status().ok()) Die("raw scan: " + it->status().ToString());
  }
  const double seconds = Seconds(Clock::now() - start);
  for (auto* h : handles) raw->DestroyColumnFamilyHandle(h).PermitUncheckedError();
  delete raw;
  *entries = n;
  return bytes > 0 ? static_cast<double>(n) / seconds : 0;
}

// One workload's line.
void PrintLine(const char* name, uint64_t events, const Run& run, double scan_rate,
               const std::string& target, const std::string& note = "") {
  const double rate = static_cast<double>(events) / run.seconds;
  const std::string rss = std::to_string(run.peak_rss_kb / 1024) + " MB";
  std::printf("%-20s cairn %9.0f ev/s   scan %9.0f ev/s   ratio %7.4fx   (target %s)   "
              "%7.2f s (cpu %.2f s)   peak RSS %s%s\n",
              name, rate, scan_rate, rate / scan_rate, target.c_str(), run.seconds,
              run.cpu_seconds, rss.c_str(), note.c_str());
  std::fflush(stdout);
}

// Times `work` in this process: wall time, this process's CPU time over it, and its peak RSS
// (REQUIRES: a forked child, whose peak is its own).
Run TimeInProcess(const std::function<void()>& work) {
  rusage before{}, after{};
  getrusage(RUSAGE_SELF, &before);
  const auto start = Clock::now();
  work();
  Run run;
  run.seconds = Seconds(Clock::now() - start);
  getrusage(RUSAGE_SELF, &after);
  run.cpu_seconds = CpuSeconds(after) - CpuSeconds(before);
  run.peak_rss_kb = after.ru_maxrss;
  return run;
}

// The second half of the orders appended (in process, as `cairn import` does) to a dir whose
// projections hold the first half, then Engine::CatchUp timed.
Run CatchUpLive(const std::string& dir, const std::string& first, const std::string& second) {
  DbOptions options;
  options.store.sync = SyncMode::kNone;
  options.engine.start_threads = false;
  options.create_owned_topics = false;
  std::unique_ptr<Db> db = Must(Db::Open(dir, options), "open catch-up dir");
  for (const std::string& file : {first, second}) {
    FILE* in = std::fopen(file.c_str(), "rb");
    if (!in) Die("cannot read " + file);
    interop::ImportReadOptions read_options;
    interop::ImportInput input = Must(interop::ReadImportInput(in, read_options, {}), "read");
    std::fclose(in);
    interop::ImportTarget target;
    target.log = &db->log();
    target.new_checker = [&db](std::string_view stream) { return db->NewStreamChecker(stream); };
    const interop::ImportPlan plan = Must(interop::PlanImport(std::move(input), target), "plan");
    Must(interop::ApplyImport(*db, plan, {}), "import");
    if (file == first) {
      Must(db->engine().CatchUp(), "catch up the first half");
      continue;
    }
    return TimeInProcess([&] { Must(db->engine().CatchUp(), "catch up the second half"); });
  }
  return Run{};
}

// ---- Settled dirs ------------------------------------------------------------------------------
//
// A command leaves compactions behind (its ingested files, its memtables flushed at close), and
// the next command on the same dir pays for them beside its own work: run one after another on
// one dir, the workloads' figures moved by 20% with the order they ran in. So the imported dir
// is compacted once, and each command workload runs on a fresh copy of it; what it left to
// compact is reported beside its time (a change that only defers work shows there).

// Opens `dir` as a Store in a forked child and returns what `work` makes of it.
std::string WithStore(const std::string& dir, bool read_only,
                      const std::function<std::string(Store&)>& work) {
  return InChild([&] {
    StoreOptions options;
    options.create_if_missing = false;
    options.read_only = read_only;
    std::unique_ptr<Store> store = Must(Store::Open(dir, options), "open the store");
    return work(*store);
  });
}

// Compacts every family of `dir` down to its bottom level; returns the seconds it took.
double Settle(const std::string& dir) {
  return std::stod(WithStore(dir, /*read_only=*/false, [](Store& store) {
    const auto start = Clock::now();
    Must(store.CompactAll(), "compact the dir");
    return std::to_string(Seconds(Clock::now() - start));
  }));
}

// Store::PendingCompactionBytes of `dir`, in MB, as the next open would find it (every family
// reopened with an ordinary family's options).
double PendingCompactionMb(const std::string& dir) {
  return std::stod(WithStore(dir, /*read_only=*/true, [](Store& store) {
    return std::to_string(static_cast<double>(store.PendingCompactionBytes()) / 1e6);
  }));
}

// Makes `to` a fresh copy of the dir `from`, written to disk before anything is timed on it
// (else the kernel writes the copy back during the timed run).
void FreshCopy(const std::string& from, const std::string& to) {
  std::error_code error;
  std::filesystem::remove_all(to, error);
  if (!error) std::filesystem::copy(from, to, std::filesystem::copy_options::recursive, error);
  if (error) Die("copying " + from + " to " + to + ": " + error.message());
  ::sync();
}

void RemoveCopy(const std::string& dir) {
  std::error_code error;
  std::filesystem::remove_all(dir, error);
  if (error) Die("removing " + dir + ": " + error.message());
}

// Runs the cairn binary with `args` on a fresh copy of the settled dir `settled` (at `work`,
// which `args` name), then sets *left_mb to what it left to compact (nullopt if it failed), and
// removes the copy.
Run RunOnCopy(const Flags& f, const std::string& settled, const std::string& work,
              const std::vector<std::string>& args, const std::string& log,
              std::optional<double>* left_mb) {
  FreshCopy(settled, work);
  const Run run = RunCairn(f, args, log);
  *left_mb = run.exit_code == 0 ? std::optional(PendingCompactionMb(work)) : std::nullopt;
  RemoveCopy(work);
  return run;
}

std::string LeftNote(std::optional<double> left_mb) {
  if (!left_mb) return "   left n/a to compact";
  char note[64];
  std::snprintf(note, sizeof note, "   left %.0f MB to compact", *left_mb);
  return note;
}

// ---- The ceiling: the engine and the key count without the domain ---------------------------

// The sizes of the keys the ceiling's projections write (see the file's comment).
constexpr size_t kCeilingKeyBytes = 44;
constexpr size_t kCeilingValueBytes = 40;
constexpr int kCeilingProjections = 3;

// splitmix64: a well-mixed 64-bit value of `x`, for key and value bytes that spread over the
// key space and do not compress.
uint64_t Mix(uint64_t x) {
  x += 0x9E3779B97F4A7C15ull;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
  return x ^ (x >> 31);
}

// Fills `out` with bytes of Mix(seed), Mix(seed + 1), ...
void FillMixed(uint64_t seed, std::string& out) {
  for (size_t i = 0; i < out.size(); ++i) {
    if (i % 8 == 0) seed = Mix(seed);
    out[i] = static_cast<char>(seed >> (8 * (i % 8)));
  }
}

// Projection `index` of the ceiling, "bench_ceiling_<index>", over the order topics: given
// every event decoded by the order projections' shared decoder, it writes `keys` new keys per
// event into its one table.
ProjectionSpec CeilingProjection(int index, int keys) {
  ProjectionSpec spec = OrderDomain().projections.front();  // the three topics, the decoder
  spec.name = "bench_ceiling_" + std::to_string(index);
  spec.tables = {"keys"};
  spec.types.clear();
  spec.handler = nullptr;
  spec.batch_handler = [index, keys](const std::vector<const EventView*>& events,
                                     ProjectionWriter& out) -> std::optional<BatchFailure> {
    std::string key(kCeilingKeyBytes, '\0'), value(kCeilingValueBytes, '\0');
    for (const EventView* e : events) {
      if (out.Decoded(*e) == nullptr) return BatchFailure{0, Status::Internal("not decoded")};
      for (int i = 0; i < keys; ++i) {
        const uint64_t n = (e->seq().value() * kCeilingProjections + index) * 64 + i;
        FillMixed(n, key);
        FillMixed(~n, value);
        out.Put("keys", key, value);
      }
    }
    return std::nullopt;
  };
  return spec;
}

// Rebuilds the ceiling's projections, writing `keys` keys per event between them, on a fresh
// copy of `from` at `dir`: timed from opening the copy to closing it, as `cairn rebuild` opens
// and closes its dir. REQUIRES: a forked child (InChild).
Run TimeCeilingRebuild(const std::string& from, const std::string& dir, int keys) {
  FreshCopy(from, dir);
  DbOptions options;  // as the cli's OfflineDbOptions (src/cli/offline.cc)
  options.engine.start_threads = false;
  options.create_owned_topics = false;
  DomainSpec domain{"bench", {}, {}, nullptr};
  std::vector<std::string> names;
  for (int i = 0; i < kCeilingProjections; ++i) {
    const int share = keys / kCeilingProjections + (i < keys % kCeilingProjections ? 1 : 0);
    domain.projections.push_back(CeilingProjection(i, share));
    names.push_back(domain.projections.back().name);
  }
  options.domains = {std::move(domain)};
  const Run run = TimeInProcess([&] {
    std::unique_ptr<Db> db = Must(Db::Open(dir, options), "open the ceiling's copy");
    const uint64_t job = Must(db->engine().StartRebuild(names), "start the ceiling's rebuild");
    const RebuildProgress done = Must(db->engine().WaitForRebuild(job), "ceiling rebuild");
    if (done.state != RebuildProgress::State::kDone) Die("ceiling rebuild: " + done.error);
  });
  RemoveCopy(dir);
  return run;
}

// ---- Header and flags ------------------------------------------------------------------------

void PrintHeader(const Flags& f) {
  std::printf("# rebuild_bench %s\n# command     %s\n", bench::UtcNow().c_str(), f.command.c_str());
  std::printf("# machine     %ld cpus, %s, %s\n", sysconf(_SC_NPROCESSORS_ONLN),
              bench::CpuModel().c_str(), bench::Kernel().c_str());
  std::printf("# disk        %s (%s)\n", f.dir.c_str(), bench::FilesystemName(f.dir).c_str());
  std::printf("# load        %s (1/5/15-min load average at start; others' work skews figures)\n",
              bench::LoadAverage().c_str());
#ifdef NDEBUG
  const char* asserts = "off";
#else
  const char* asserts = "on";
#endif
  std::printf("# build       rocksdb %d.%d.%d, asserts %s; cairn binary %s\n", ROCKSDB_MAJOR,
              ROCKSDB_MINOR, ROCKSDB_PATCH, asserts, f.cairn.c_str());
  std::fflush(stdout);
}

bool Wanted(const Flags& f, std::string_view workload) {
  return f.only.empty() || workload.starts_with(f.only);
}

Flags ParseFlags(int argc, char** argv) {
  Flags f;
  for (int i = 0; i < argc; ++i) f.command += (i ? " " : "") + std::string(argv[i]);
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    const auto next = [&]() -> std::string {
      if (i + 1 >= argc) Die(arg + " needs a value");
      return argv[++i];
    };
    if (arg == "--dir") f.dir = next();
    else if (arg == "--orders") f.orders = std::stoull(next());
    else if (arg == "--cairn") f.cairn = next();
    else if (arg == "--scan-rounds") f.scan_rounds = std::max(1, std::stoi(next()));
    else if (arg == "--keep") f.keep = true;
    else if (arg == "--only") f.only = next();
    else if (arg == "--ceiling-keys") f.ceiling_keys = std::max(1, std::stoi(next()));
    else {
      std::fprintf(stderr, "usage: rebuild_bench [--dir D] [--orders N] [--cairn PATH] "
                           "[--scan-rounds R] [--keep] [--only W] [--ceiling-keys K]\n");
      std::exit(2);
    }
  }
  if (f.cairn.empty()) {
    // Beside the build's bench/ folder: <build>/bench/rebuild_bench -> <build>/cairn.
    f.cairn = (std::filesystem::read_symlink("/proc/self/exe").parent_path().parent_path() / "cairn")
                  .string();
  }
  f.orders = std::max<uint64_t>(f.orders, 2);
  return f;
}

}  // namespace
}  // namespace cairn

int main(int argc, char** argv) {
  using namespace cairn;
  spdlog::set_level(spdlog::level::warn);
  const Flags f = ParseFlags(argc, argv);
  PrintHeader(f);
  const std::string root = Must(bench::MakeRoot(f.dir, "cairn-rebuild-bench"), "temp dir");
  const std::string all = root + "/all.kcat", first = root + "/first.kcat",
                    second = root + "/second.kcat", log = root + "/cairn.log";
  const Generated g = GenerateInChild(f.orders, all, first, second);
  std::printf("# work        %" PRIu64 " orders, %" PRIu64 " events (order-events %" PRIu64
              ", payment-events %" PRIu64 ", shipping-events %" PRIu64 "); files in %s\n",
              f.orders, g.events, g.per_topic.at("order-events"),
              g.per_topic.at("payment-events"), g.per_topic.at("shipping-events"), root.c_str());
  std::fflush(stdout);

  const std::string data = root + "/data";
  const Run import = RunCairn(f, {"import", "--data", data, "--file", all, "-q"}, log);
  if (import.exit_code != 0) Die("cairn import failed; see " + log);
  const double import_left_mb = PendingCompactionMb(data);
  std::printf("# settled     the imported dir compacted in %.2f s; the raw scan reads it, the "
              "rebuilds, the check and the ceilings a fresh copy each\n", Settle(data));
  std::fflush(stdout);
  std::vector<double> scans;
  uint64_t scanned = 0;
  for (int i = 0; i < f.scan_rounds; ++i) {
    std::istringstream out(InChild([&] {
      uint64_t n = 0;
      const double rate = RawScan(data, &n);
      return std::to_string(rate) + " " + std::to_string(n);
    }));
    double rate = 0;
    out >> rate >> scanned;
    scans.push_back(rate);
  }
  const double scan = bench::Median(scans);
  std::printf("raw_scan             %9.0f ev/s   (%" PRIu64 " log entries, median of %d)\n", scan,
              scanned, f.scan_rounds);
  PrintLine("import_kcat", g.events, import, scan, ">= 100000 ev/s", LeftNote(import_left_mb));

  if (Wanted(f, "catch_up_live")) {
    InChild([&] {
      const Run run = CatchUpLive(root + "/live", first, second);
      PrintLine("catch_up_live", g.later_events, run, scan, ">= 0.1x", "   (Engine::CatchUp)");
      return std::string();
    });
  }
  const std::vector<std::pair<std::string, uint64_t>> rebuilds = {
      {"", g.events},
      {"orders", g.events},
      {"order_stats", g.events},
      {"order_search", g.per_topic.at("order-events")}};
  const std::string work = root + "/work";
  for (const auto& [projection, events] : rebuilds) {
    const std::string name = "rebuild_" + (projection.empty() ? "all" : projection);
    if (!Wanted(f, name)) continue;
    std::vector<std::string> args = {"rebuild", "--data", work, "-q"};
    if (!projection.empty()) args.insert(args.end(), {"--projection", projection});
    std::optional<double> left_mb;
    const Run r = RunOnCopy(f, data, work, args, log, &left_mb);
    if (r.exit_code != 0) Die(name + " failed; see " + log);
    PrintLine(name.c_str(), events, r, scan, ">= 0.1x", LeftNote(left_mb));
  }
  if (Wanted(f, "check")) {
    std::optional<double> left_mb;
    const Run r = RunOnCopy(f, data, work, {"check", "--data", work, "-q"}, log, &left_mb);
    PrintLine("check", g.events, r, scan, ">= rebuild_all",
              (r.exit_code == 0 ? "   consistent" : "   NOT CONSISTENT (exit " +
                                                          std::to_string(r.exit_code) + ")") +
                  LeftNote(left_mb));
    if (r.exit_code != 0) Die("cairn check did not find the read models consistent; see " + log);
  }
  for (const int keys : {0, f.ceiling_keys}) {
    const std::string name =
        keys == 0 ? "ceiling_decode" : "ceiling_" + std::to_string(keys) + "_keys";
    if (!Wanted(f, name)) continue;
    InChild([&] {
      const Run run = TimeCeilingRebuild(data, root + "/ceiling", keys);
      PrintLine(name.c_str(), g.events, run, scan, ">= 0.1x",
                keys == 0 ? "   (decode only, no writes)"
                          : "   (" + std::to_string(keys) + " keys of " +
                                std::to_string(kCeilingKeyBytes) + " + " +
                                std::to_string(kCeilingValueBytes) + " B per event)");
      return std::string();
    });
  }
  if (!f.keep) std::filesystem::remove_all(root);
  return 0;
}
