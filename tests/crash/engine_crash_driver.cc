// Crash-test driver for the CQRS engine (src/cqrs). engine_crash_test.py runs it in two modes:
//
//   engine_crash_driver run DIR THREADS SEED
//     Opens DIR through Db::Open (SyncMode::kAlways) with three test projections (see
//     Projections()) in place of the order domain's, their threads running, and works until it
//     is SIGKILLed:
//     - THREADS writers append 1-3 events at a time, with an exact expected version, to their
//       own streams in two topics ("orders", "payments"). After Append returns ok a writer
//       prints one line per event, all lines of one append in a single write(2):
//         ack <event_id> <stream> <version> <topic> <partition> <offset> <seq>
//     - one thread keeps starting blue/green rebuilds (all projections, one, or two disjoint
//       jobs at once) and waits for them; for each job that reports done it prints
//         rebuilt <job> <projection> <generation>
//       (the switch is durable before the job says done, so that generation must survive).
//       One time in four it runs Engine::Check with the live threads running instead (half of
//       those with a rebuild running beside it), and prints `checked <keys compared>` when it is
//       consistent.
//     - once everything is open and started it prints `ready <last seq>`.
//     - the main thread watches the projections' states: the handlers refuse an event applied
//       twice or skipped (stream versions must follow each other), so a `failed` projection is
//       an exactly-once violation in the live run.
//
//   engine_crash_driver verify DIR ACKFILE [rebuild]
//     Reopens everything with start_threads = false and checks (see Verifier): every acked
//     event is in the log at its acked position; each projection's checkpoint is at most the
//     log's head and its generation at least the last acked rebuild's; Engine::Check is
//     consistent at the checkpoints the crash left; after Engine::CatchUp every projection is
//     at generation >= 1, not failed, with lag 0 and its checkpoint at the last event of its
//     topics; Engine::Check is consistent again; and every read model equals what a direct
//     count over Log::ScanInSeqOrder says. With `rebuild` it then rebuilds all projections
//     offline and checks them all again. Prints each problem and exits 1 if any, 0 when all is
//     well.
//
// Exit codes: 0 ok, 1 verification problems, 2 usage, 3 an API call failed unexpectedly,
// 4 the engine broke a contract while running.
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cinttypes>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <map>
#include <memory>
#include <random>
#include <set>
#include <sstream>
#include <string>
#include <string_view>
#include <thread>
#include <unordered_map>
#include <vector>

#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

#include "cairn/db.h"
#include "cairn/engine.h"
#include "cairn/log.h"
#include "cairn/projection.h"
#include "cairn/status.h"
#include "cairn/store.h"
#include "cairn/types.h"

namespace cairn {
namespace {

constexpr char kOrders[] = "orders";
constexpr uint32_t kOrderPartitions = 4;
constexpr char kPayments[] = "payments";
constexpr uint32_t kPaymentPartitions = 3;
constexpr uint32_t kOrderStreamsPerThread = 24;
constexpr uint32_t kPaymentStreamsPerThread = 12;
const char* const kOrderTypes[] = {"ORDER_CREATED", "ORDER_APPROVED", "ORDER_CANCELLED"};
const char* const kPaymentTypes[] = {"PAYMENT_COMPLETED", "PAYMENT_REFUNDED"};

// The projections and their tables.
constexpr char kTypeCounts[] = "type_counts";  // every topic
constexpr char kByType[] = "by_type";          //   type -> counter
constexpr char kByTopicType[] = "by_topic_type";  // "topic/type" -> counter
constexpr char kLatest[] = "latest";           // every topic
constexpr char kStreams[] = "streams";         //   stream -> LatestValue of its last event
constexpr char kOrderTotals[] = "order_totals";  // topic "orders" only
constexpr char kEvents[] = "events";           //   stream -> counter of its events
constexpr char kAmounts[] = "amounts";         //   stream -> decimal sum of the amounts
const char* const kProjectionNames[] = {kTypeCounts, kLatest, kOrderTotals};

void WriteOut(const std::string& text) {
  size_t done = 0;
  while (done < text.size()) {
    ssize_t n = ::write(STDOUT_FILENO, text.data() + done, text.size() - done);
    if (n < 0) {
      if (errno == EINTR) continue;
      std::perror("engine_crash_driver: write stdout");
      _exit(3);
    }
    done += static_cast<size_t>(n);
  }
}

[[noreturn]] void Die(int code, const std::string& message) {
  std::string line = "engine_crash_driver: " + message + "\n";
  (void)!::write(STDERR_FILENO, line.data(), line.size());
  _exit(code);
}

uint64_t Fnv1a64(std::string_view s) {
  uint64_t h = 1469598103934665603ull;
  for (unsigned char c : s) {
    h ^= c;
    h *= 1099511628211ull;
  }
  return h;
}

// UUID-shaped and deterministic, so the verifier knows which id belongs to which version.
std::string EventIdFor(std::string_view stream, uint64_t version) {
  uint64_t h = Fnv1a64(stream);
  char buf[48];
  std::snprintf(buf, sizeof buf, "%08x-%04x-4%03x-8%03x-%012" PRIx64,
                static_cast<unsigned>(h >> 32), static_cast<unsigned>((h >> 16) & 0xffff),
                static_cast<unsigned>((h >> 4) & 0xfff), static_cast<unsigned>(h & 0xf),
                static_cast<uint64_t>(version & 0xffffffffffffull));
  return buf;
}

// The amount carried by the event at `version` of `stream` (1..1000).
int64_t AmountFor(std::string_view stream, uint64_t version) {
  return static_cast<int64_t>(Fnv1a64(std::string(stream) + "#" + std::to_string(version)) % 1000) +
         1;
}

std::string EncodeData(int64_t amount, size_t padding) {
  return "{\"amount\":" + std::to_string(amount) + ",\"pad\":\"" + std::string(padding, 'x') +
         "\"}";
}

// The amount in an event's data; -1 when it does not parse.
int64_t ParseAmount(std::string_view data) {
  constexpr std::string_view kPrefix = "{\"amount\":";
  if (data.substr(0, kPrefix.size()) != kPrefix) return -1;
  int64_t v = 0;
  size_t i = kPrefix.size();
  if (i >= data.size() || data[i] < '0' || data[i] > '9') return -1;
  for (; i < data.size() && data[i] >= '0' && data[i] <= '9'; ++i) v = v * 10 + (data[i] - '0');
  return v;
}

// What "latest" stores for a stream: its last event, JSON-ish. Shared by the handler and the
// verifier so they agree byte for byte.
std::string LatestValue(uint64_t version, uint64_t seq, std::string_view type, int64_t timestamp_us,
                        int64_t amount) {
  return "{\"v\":" + std::to_string(version) + ",\"seq\":" + std::to_string(seq) + ",\"type\":\"" +
         std::string(type) + "\",\"ts\":" + std::to_string(timestamp_us) +
         ",\"amount\":" + std::to_string(amount) + "}";
}

// The version in a LatestValue; 0 when it does not parse.
uint64_t LatestVersion(std::string_view value) {
  constexpr std::string_view kPrefix = "{\"v\":";
  if (value.substr(0, kPrefix.size()) != kPrefix) return 0;
  uint64_t v = 0;
  for (size_t i = kPrefix.size(); i < value.size() && value[i] >= '0' && value[i] <= '9'; ++i) {
    v = v * 10 + static_cast<uint64_t>(value[i] - '0');
  }
  return v;
}

std::string Describe(const EventView& e) {
  return std::string(e.stream()) + " v" + std::to_string(e.version().value()) + " (seq " +
         std::to_string(e.seq().value()) + ")";
}

// ---------------------------------------------------------------------------------------------
// The projections. Each handler is deterministic and refuses an event that does not follow the
// previous one of its stream, so a double or skipped apply fails the projection.

Status CountTypes(const EventView& e, ProjectionWriter& out) {
  out.AddCounter(kByType, e.type(), 1);
  out.AddCounter(kByTopicType, std::string(e.topic()) + "/" + std::string(e.type()), 1);
  return Status::Ok();
}

Status KeepLatest(const EventView& e, ProjectionWriter& out) {
  CAIRN_ASSIGN_OR_RETURN(const std::optional<std::string> prev, out.Get(kStreams, e.stream()));
  const uint64_t prev_version = prev ? LatestVersion(*prev) : 0;
  if (prev_version + 1 != e.version().value()) {
    return Status::Internal("latest: " + Describe(e) + " follows stored version " +
                            std::to_string(prev_version) + " (applied twice or skipped one)");
  }
  out.Put(kStreams, e.stream(),
          LatestValue(e.version().value(), e.seq().value(), e.type(), e.timestamp_us(),
                      ParseAmount(e.data())));
  return Status::Ok();
}

Status SumOrders(const EventView& e, ProjectionWriter& out) {
  if (e.topic() != kOrders) {
    return Status::Internal("order_totals: sees " + Describe(e) + " of topic " +
                            std::string(e.topic()) + ", which it does not read");
  }
  CAIRN_ASSIGN_OR_RETURN(const int64_t count, out.GetCounter(kEvents, e.stream()));
  if (static_cast<uint64_t>(count) + 1 != e.version().value()) {
    return Status::Internal("order_totals: " + Describe(e) + " after " + std::to_string(count) +
                            " counted events (applied twice or skipped one)");
  }
  out.AddCounter(kEvents, e.stream(), 1);
  CAIRN_ASSIGN_OR_RETURN(const std::optional<std::string> sum, out.Get(kAmounts, e.stream()));
  const int64_t before = sum ? std::strtoll(sum->c_str(), nullptr, 10) : 0;
  const int64_t amount = ParseAmount(e.data());
  if (amount < 0) return Status::Internal("order_totals: " + Describe(e) + " has no amount");
  out.Put(kAmounts, e.stream(), std::to_string(before + amount));
  return Status::Ok();
}

std::vector<ProjectionSpec> Projections() {
  std::vector<ProjectionSpec> specs;
  specs.push_back(ProjectionSpec{kTypeCounts, {}, {kByType, kByTopicType}, CountTypes});
  specs.push_back(ProjectionSpec{kLatest, {kOrders, kPayments}, {kStreams}, KeepLatest});
  specs.push_back(ProjectionSpec{kOrderTotals, {kOrders}, {kEvents, kAmounts}, SumOrders});
  return specs;
}

// The test's projections as a domain of their own, which Db::Open runs instead of the orders'.
DomainSpec CrashDomain() {
  DomainSpec spec;
  spec.name = "crash";
  spec.projections = Projections();
  return spec;
}

// Opens DIR through the front door with the test's projections, then creates the two topics
// (which the engine's cursors pick up whenever they appear; a no-op once they exist). Errors say
// which step failed.
Result<std::unique_ptr<Db>> OpenAll(const std::string& dir, bool start_threads) {
  DbOptions options;
  options.store.sync = SyncMode::kAlways;
  options.engine.start_threads = start_threads;
  options.engine.batch_events = 200;  // several batches per round, so kills land between them
  options.domains = {CrashDomain()};
  Result<std::unique_ptr<Db>> db = Db::Open(dir, options);
  if (!db.ok()) return Status(db.status().code(), "open " + dir + ": " + db.status().ToString());
  for (const auto& [topic, partitions] : {std::pair{kOrders, kOrderPartitions},
                                          std::pair{kPayments, kPaymentPartitions}}) {
    if (auto t = (*db)->log().CreateTopic(topic, partitions); !t.ok()) {
      return Status(t.status().code(),
                    "create topic " + std::string(topic) + ": " + t.status().ToString());
    }
  }
  return db;
}

// ---------------------------------------------------------------------------------------------
// run

struct StreamSlot {
  std::string name;
  const char* topic;
  uint64_t head = 0;
};

void WriteForever(Log* log, uint32_t thread, uint64_t seed) {
  std::mt19937_64 rng(seed ^ (uint64_t{thread + 1} * 0x9E3779B97F4A7C15ull));
  std::vector<StreamSlot> slots;
  for (uint32_t k = 0; k < kOrderStreamsPerThread; ++k) {
    slots.push_back({"order-t" + std::to_string(thread) + "s" + std::to_string(k), kOrders, 0});
  }
  for (uint32_t k = 0; k < kPaymentStreamsPerThread; ++k) {
    slots.push_back({"payment-t" + std::to_string(thread) + "s" + std::to_string(k), kPayments, 0});
  }
  for (StreamSlot& s : slots) {
    auto head = log->StreamHead(s.name);
    if (!head.ok()) Die(3, "StreamHead " + s.name + ": " + head.status().ToString());
    s.head = head->value();
  }
  for (;;) {
    StreamSlot& s = slots[rng() % slots.size()];
    const uint32_t size = 1 + static_cast<uint32_t>(rng() % 3);
    AppendRequest req;
    req.topic = s.topic;
    req.stream = s.name;
    req.expected = ExpectedVersion::Exact(s.head);
    std::vector<std::string> ids;
    for (uint32_t i = 0; i < size; ++i) {
      const uint64_t version = s.head + 1 + i;
      NewEvent e;
      e.id = EventIdFor(s.name, version);
      e.type = s.topic == kOrders ? kOrderTypes[rng() % 3] : kPaymentTypes[rng() % 2];
      e.data = EncodeData(AmountFor(s.name, version), rng() % 150);
      e.metadata.correlation_id = s.name;
      ids.push_back(e.id);
      req.events.push_back(std::move(e));
    }
    auto res = log->Append(std::move(req));
    if (!res.ok()) Die(3, "append to " + s.name + ": " + res.status().ToString());
    if (res->duplicate || res->version.value() != s.head + size ||
        res->positions.size() != size) {
      Die(4, "append to " + s.name + " at v" + std::to_string(s.head) + " returned version " +
                 std::to_string(res->version.value()) + (res->duplicate ? " (duplicate)" : ""));
    }
    std::string lines;
    for (uint32_t i = 0; i < size; ++i) {
      const Position& p = res->positions[i];
      lines += "ack " + ids[i] + " " + s.name + " " + std::to_string(s.head + 1 + i) + " " +
               p.topic + " " + std::to_string(p.partition.value()) + " " +
               std::to_string(p.offset.value()) + " " + std::to_string(p.seq.value()) + "\n";
    }
    WriteOut(lines);
    s.head += size;
  }
}

std::string DescribeDifferences(const CheckReport& report) {
  std::string out = std::to_string(report.differences_total) + " difference(s) over " +
                    std::to_string(report.keys_compared) + " keys";
  for (const Difference& d : report.differences) {
    out += "\n  " + d.projection + "." + d.table + " [" + d.key + "]: expected " +
           (d.expected ? "'" + *d.expected + "'" : "(absent)") + ", live " +
           (d.actual ? "'" + *d.actual + "'" : "(absent)");
  }
  return out;
}

// Starts a rebuild of `names` (all when empty); 0 when one of them is already rebuilding.
uint64_t Start(Engine* engine, const std::vector<std::string>& names) {
  auto job = engine->StartRebuild(names);
  if (job.ok()) return *job;
  if (job.status().code() == ErrorCode::kConflict) return 0;
  Die(3, "StartRebuild: " + job.status().ToString());
}

void AwaitAndAck(Engine* engine, uint64_t job) {
  if (job == 0) return;
  auto done = engine->WaitForRebuild(job);
  if (!done.ok()) Die(3, "WaitForRebuild: " + done.status().ToString());
  if (done->state != RebuildProgress::State::kDone) {
    Die(4, "rebuild job " + std::to_string(job) + " ended " +
               std::string(RebuildStateName(done->state)) + ": " + done->error);
  }
  std::string lines;
  for (const std::string& name : done->projections) {
    auto status = engine->GetStatus(name);
    if (!status.ok()) Die(3, "GetStatus " + name + ": " + status.status().ToString());
    lines += "rebuilt " + std::to_string(job) + " " + name + " " +
             std::to_string(status->generation) + "\n";
  }
  WriteOut(lines);
}

void RebuildForever(Engine* engine, uint64_t seed) {
  std::mt19937_64 rng(seed ^ 0xC0FFEEull);
  const std::vector<std::string> all(std::begin(kProjectionNames), std::end(kProjectionNames));
  for (;;) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5 + rng() % 60));
    if (rng() % 4 == 0) {
      // Half the time a rebuild of one projection runs (and may switch) during the check.
      const uint64_t job = rng() % 2 ? Start(engine, {all[rng() % all.size()]}) : 0;
      auto report = engine->Check(CheckOptions{});
      if (!report.ok()) Die(3, "Check while running: " + report.status().ToString());
      if (!report->consistent) {
        Die(4, "Check while running is inconsistent: " + DescribeDifferences(*report));
      }
      WriteOut("checked " + std::to_string(report->keys_compared) + "\n");
      AwaitAndAck(engine, job);
      continue;
    }
    const int plan = static_cast<int>(rng() % 4);
    if (plan == 0) {
      AwaitAndAck(engine, Start(engine, {}));
    } else {
      const std::string& first = all[rng() % all.size()];
      const uint64_t a = Start(engine, {first});
      uint64_t b = 0;
      if (plan == 1) {  // a second job on another projection, at the same time
        const std::string& second = all[rng() % all.size()];
        if (second != first) b = Start(engine, {second});
      }
      AwaitAndAck(engine, a);
      AwaitAndAck(engine, b);
    }
  }
}

int RunLive(const std::string& dir, uint32_t threads, uint64_t seed) {
  Result<std::unique_ptr<Db>> db = OpenAll(dir, /*start_threads=*/true);
  if (!db.ok()) Die(3, db.status().message());
  Log& log = (*db)->log();
  Engine& engine = (*db)->engine();
  std::vector<std::thread> workers;
  for (uint32_t t = 0; t < threads; ++t) workers.emplace_back(WriteForever, &log, t, seed);
  workers.emplace_back(RebuildForever, &engine, seed);
  // Tells the test the open (and the recovery in it) is over, so it can time the kill from here.
  WriteOut("ready " + std::to_string(log.LastSeq().value()) + "\n");
  // A failed projection means a handler saw an event out of turn: exactly-once broke.
  for (;;) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    for (const ProjectionStatus& s : engine.Statuses()) {
      if (s.state == ProjectionState::kFailed) {
        Die(4, "projection " + s.name + " failed" +
                   (s.failed_at ? " at " + s.failed_at->ToString() : "") + ": " + s.error);
      }
    }
  }
}

// ---------------------------------------------------------------------------------------------
// verify

struct Ack {
  std::string id;
  std::string stream;
  uint64_t version = 0;
  std::string topic;
  uint32_t partition = 0;
  uint64_t offset = 0;
  uint64_t seq = 0;
};

struct Seen {
  std::string id;
  std::string topic;
  uint32_t partition = 0;
  uint64_t offset = 0;
  uint64_t seq = 0;
  std::string stream;
  uint64_t version = 0;
  std::string type;
  int64_t timestamp_us = 0;
  int64_t amount = -1;
};

// What the read models must hold, counted directly from the log.
struct Expected {
  std::map<std::string, int64_t> by_type;
  std::map<std::string, int64_t> by_topic_type;
  std::map<std::string, std::string> latest;  // stream -> LatestValue
  std::map<std::string, int64_t> order_events;
  std::map<std::string, int64_t> order_amounts;
  std::map<std::string, uint64_t> last_seq_of_topic;
};

class Verifier {
 public:
  explicit Verifier(Db* db) : db_(db) {}
  int problems() const { return problems_; }

  void Problem(const std::string& message) {
    ++problems_;
    if (problems_ <= 200) {
      std::printf("PROBLEM: %s\n", message.c_str());
    } else if (problems_ == 201) {
      std::printf("PROBLEM: (further problems not printed)\n");
    }
  }

  // Reads ack and rebuilt lines, ignoring a last line without '\n' (cut by the kill).
  void LoadAcks(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) {
      Problem("cannot read ack file " + path);
      return;
    }
    std::string all((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    size_t start = 0;
    for (size_t end; (end = all.find('\n', start)) != std::string::npos; start = end + 1) {
      std::string line = all.substr(start, end - start);
      if (line.empty()) continue;
      std::istringstream ls(line);
      std::string word;
      ls >> word;
      if (word == "ack") {
        Ack a;
        if (!(ls >> a.id >> a.stream >> a.version >> a.topic >> a.partition >> a.offset >> a.seq)) {
          Problem("malformed ack line: " + line);
          continue;
        }
        acks_.push_back(std::move(a));
      } else if (word == "rebuilt") {
        uint64_t job = 0;
        std::string name;
        uint32_t generation = 0;
        if (!(ls >> job >> name >> generation)) {
          Problem("malformed rebuilt line: " + line);
          continue;
        }
        ++rebuilds_acked_;
        uint32_t& g = acked_generation_[name];
        g = std::max(g, generation);
      } else if (word != "ready" && word != "checked") {
        Problem("unknown line in the ack file: " + line);
      }
    }
  }

  // Reads the whole log in seq order and counts what the read models must hold.
  void ScanLog() {
    uint64_t expect = 1;
    Status s = db_->log().ScanInSeqOrder({}, Seq(0), SIZE_MAX, [&](const EventView& v) {
      Seen e{std::string(v.id()), std::string(v.topic()), v.partition().value(),
             v.offset().value(), v.seq().value(), std::string(v.stream()), v.version().value(),
             std::string(v.type()), v.timestamp_us(), ParseAmount(v.data())};
      if (e.seq != expect) {
        Problem("seq order: expected seq " + std::to_string(expect) + ", got " +
                std::to_string(e.seq));
      }
      expect = e.seq + 1;
      by_seq_.push_back(std::move(e));
      return true;
    });
    if (!s.ok()) Problem("ScanInSeqOrder failed: " + s.ToString());
    const uint64_t last = db_->log().LastSeq().value();
    if (by_seq_.size() != last) {
      Problem("the seq scan saw " + std::to_string(by_seq_.size()) + " events, LastSeq() is " +
              std::to_string(last));
    }
    std::map<std::string, uint64_t> heads;
    for (const Seen& e : by_seq_) {
      if (e.amount != AmountFor(e.stream, e.version) || e.id != EventIdFor(e.stream, e.version)) {
        Problem(e.stream + " v" + std::to_string(e.version) + " (seq " + std::to_string(e.seq) +
                "): id or data is not what the writer wrote for it");
      }
      uint64_t& head = heads[e.stream];
      if (e.version != head + 1) {
        Problem(e.stream + ": version " + std::to_string(e.version) + " follows " +
                std::to_string(head) + " in seq order");
      }
      head = e.version;
      ++want_.by_type[e.type];
      ++want_.by_topic_type[e.topic + "/" + e.type];
      want_.latest[e.stream] = LatestValue(e.version, e.seq, e.type, e.timestamp_us, e.amount);
      want_.last_seq_of_topic[e.topic] = e.seq;
      if (e.topic == kOrders) {
        ++want_.order_events[e.stream];
        want_.order_amounts[e.stream] += e.amount;
      }
    }
  }

  void CheckAcks() {
    std::unordered_map<std::string, const Ack*> by_id;
    for (const Ack& a : acks_) {
      std::string what = "acknowledged event " + a.id + " (" + a.stream + " v" +
                         std::to_string(a.version) + ", " + a.topic + "/" +
                         std::to_string(a.partition) + "/" + std::to_string(a.offset) + " seq " +
                         std::to_string(a.seq) + ")";
      auto [it, inserted] = by_id.emplace(a.id, &a);
      if (!inserted && it->second->seq != a.seq) {
        Problem(what + " was also acknowledged at seq " + std::to_string(it->second->seq));
      }
      if (a.seq == 0 || a.seq > by_seq_.size()) {
        Problem(what + " is missing: the log ends at seq " + std::to_string(by_seq_.size()));
        continue;
      }
      const Seen& e = by_seq_[a.seq - 1];
      if (e.id != a.id || e.stream != a.stream || e.version != a.version || e.topic != a.topic ||
          e.partition != a.partition || e.offset != a.offset) {
        Problem(what + " is not there: the log has " + e.id + " (" + e.stream + " v" +
                std::to_string(e.version) + ", " + e.topic + "/" + std::to_string(e.partition) +
                "/" + std::to_string(e.offset) + ") at that seq");
      }
    }
  }

  // `when`: "after the crash" (before CatchUp) or "after catch-up".
  void CheckStatuses(const std::string& when, bool caught_up) {
    const uint64_t last = db_->log().LastSeq().value();
    for (const ProjectionStatus& s : db_->engine().Statuses()) {
      const std::string at = s.name + " " + when;
      generations_[s.name] = s.generation;
      if (s.generation < 1) Problem(at + ": generation " + std::to_string(s.generation));
      if (auto it = acked_generation_.find(s.name);
          it != acked_generation_.end() && s.generation < it->second) {
        Problem(at + ": generation " + std::to_string(s.generation) +
                ", but a rebuild to generation " + std::to_string(it->second) +
                " was reported done before the crash");
      }
      if (s.state == ProjectionState::kFailed) {
        Problem(at + ": failed" + (s.failed_at ? " at " + s.failed_at->ToString() : "") + ": " +
                s.error);
      }
      if (s.checkpoint.value() > last) {
        Problem(at + ": checkpoint seq " + std::to_string(s.checkpoint.value()) +
                " is beyond the log's last seq " + std::to_string(last));
      }
      if (!caught_up) continue;
      if (s.lag_events != 0) {
        Problem(at + ": lag " + std::to_string(s.lag_events) + " events");
      }
      for (const PartitionLag& p : s.partitions) {
        if (p.lag_events != 0 || p.checkpoint != p.high_water_mark) {
          Problem(at + ": partition " + p.topic + "/" + std::to_string(p.partition.value()) +
                  " at offset " + std::to_string(p.checkpoint.value()) + " of " +
                  std::to_string(p.high_water_mark.value()) + ", lag " +
                  std::to_string(p.lag_events));
        }
      }
      uint64_t want_seq = 0;
      for (const char* topic : TopicsOf(s.name)) {
        if (auto it = want_.last_seq_of_topic.find(topic); it != want_.last_seq_of_topic.end()) {
          want_seq = std::max(want_seq, it->second);
        }
      }
      if (s.checkpoint.value() != want_seq) {
        Problem(at + ": checkpoint seq " + std::to_string(s.checkpoint.value()) +
                ", the last event of its topics is seq " + std::to_string(want_seq));
      }
    }
  }

  void CheckConsistent(const std::string& when) {
    auto report = db_->engine().Check(CheckOptions{});
    if (!report.ok()) {
      Problem("Check " + when + " failed: " + report.status().ToString());
      return;
    }
    keys_compared_ = report->keys_compared;
    if (!report->consistent) {
      Problem("Check " + when + " is inconsistent: " + DescribeDifferences(*report));
    }
  }

  // Every read model against the direct count from the log.
  void CheckReadModels(const std::string& when) {
    CompareCounters(kTypeCounts, kByType, want_.by_type, when);
    CompareCounters(kTypeCounts, kByTopicType, want_.by_topic_type, when);
    CompareCounters(kOrderTotals, kEvents, want_.order_events, when);
    std::map<std::string, std::string> amounts;
    for (const auto& [stream, sum] : want_.order_amounts) amounts[stream] = std::to_string(sum);
    CompareValues(kOrderTotals, kAmounts, amounts, when);
    CompareValues(kLatest, kStreams, want_.latest, when);
  }

  // Exactly the active generation's tables exist: leftovers of interrupted rebuilds and checks
  // were dropped.
  void CheckFamilies(const std::string& when) {
    std::set<std::string> want;
    for (const ProjectionSpec& spec : Projections()) {
      for (const std::string& table : spec.tables) {
        want.insert("rm." + spec.name + "." + std::to_string(generations_[spec.name]) + "." +
                    table);
      }
    }
    for (const std::string& name : db_->store().FamilyNames("rm.")) {
      if (!want.erase(name)) Problem(when + ": unexpected read-model family " + name);
    }
    for (const std::string& name : want) Problem(when + ": missing read-model family " + name);
  }

  void RebuildAll() {
    std::map<std::string, uint32_t> before = generations_;
    auto job = db_->engine().StartRebuild({});
    if (!job.ok()) {
      Problem("StartRebuild in verify: " + job.status().ToString());
      return;
    }
    auto done = db_->engine().WaitForRebuild(*job);
    if (!done.ok() || done->state != RebuildProgress::State::kDone) {
      Problem("rebuild in verify: " + (done.ok() ? done->error : done.status().ToString()));
      return;
    }
    if (done->events_done != by_seq_.size()) {
      Problem("rebuild in verify applied " + std::to_string(done->events_done) +
              " events, the log holds " + std::to_string(by_seq_.size()));
    }
    CheckStatuses("after the verify rebuild", /*caught_up=*/true);
    for (const auto& [name, g] : before) {
      if (generations_[name] <= g) {
        Problem(name + ": generation " + std::to_string(generations_[name]) +
                " after the verify rebuild, was " + std::to_string(g));
      }
    }
  }

  void PrintSummary() const {
    size_t orders = 0;
    for (const Seen& e : by_seq_) orders += e.topic == kOrders;
    std::string gens;
    for (const auto& [name, g] : generations_) gens += " " + name + "=" + std::to_string(g);
    std::printf("verify: %zu events (%zu orders, %zu payments), %zu acks, %" PRIu64
                " rebuilds acked, generations%s, last check compared %" PRIu64
                " keys, %d problem(s)\n",
                by_seq_.size(), orders, by_seq_.size() - orders, acks_.size(), rebuilds_acked_,
                gens.c_str(), keys_compared_, problems_);
  }

 private:
  static std::vector<const char*> TopicsOf(const std::string& projection) {
    if (projection == kOrderTotals) return {kOrders};
    return {kOrders, kPayments};
  }

  std::shared_ptr<const ReadModel> ReadOf(const std::string& projection) {
    auto model = db_->engine().Read(projection);
    if (!model.ok()) {
      Problem("Read(" + projection + "): " + model.status().ToString());
      return nullptr;
    }
    return *model;
  }

  void CompareCounters(const std::string& projection, const std::string& table,
                       const std::map<std::string, int64_t>& want, const std::string& when) {
    std::map<std::string, std::string> encoded;
    for (const auto& [key, n] : want) encoded[key] = std::to_string(n);
    Compare(projection, table, encoded, when, /*counters=*/true);
  }
  void CompareValues(const std::string& projection, const std::string& table,
                     const std::map<std::string, std::string>& want, const std::string& when) {
    Compare(projection, table, want, when, /*counters=*/false);
  }

  // The table must hold exactly `want` (counters shown in decimal).
  void Compare(const std::string& projection, const std::string& table,
               const std::map<std::string, std::string>& want, const std::string& when,
               bool counters) {
    auto model = ReadOf(projection);
    if (!model) return;
    const std::string where = projection + "." + table + " " + when;
    std::map<std::string, std::string> got;
    Status s = model->Scan(table, "", "", [&](std::string_view k, std::string_view v) {
      got.emplace(std::string(k), counters ? std::to_string(DecodeCounter(v)) : std::string(v));
      return true;
    });
    if (!s.ok()) {
      Problem(where + ": scan failed: " + s.ToString());
      return;
    }
    int reported = 0;
    auto report = [&](const std::string& message) {
      if (++reported <= 10) Problem(where + ": " + message);
    };
    for (const auto& [key, value] : want) {
      auto it = got.find(key);
      if (it == got.end()) {
        report("[" + key + "] missing, the log says '" + value + "'");
      } else if (it->second != value) {
        report("[" + key + "] is '" + it->second + "', the log says '" + value + "'");
      }
    }
    for (const auto& [key, value] : got) {
      if (!want.count(key)) report("[" + key + "] = '" + value + "' should not exist");
    }
    if (counters) {  // GetCounter must agree with the scan
      for (const auto& [key, value] : want) {
        auto n = model->GetCounter(table, key);
        if (!n.ok() || std::to_string(*n) != value) {
          report("GetCounter[" + key + "] is " +
                 (n.ok() ? std::to_string(*n) : n.status().ToString()) + ", want " + value);
        }
      }
    }
    if (reported > 10) Problem(where + ": " + std::to_string(reported - 10) + " more differences");
  }

  Db* db_;
  int problems_ = 0;
  std::vector<Ack> acks_;
  uint64_t rebuilds_acked_ = 0;
  std::map<std::string, uint32_t> acked_generation_;
  std::map<std::string, uint32_t> generations_;
  std::vector<Seen> by_seq_;  // index seq - 1
  Expected want_;
  uint64_t keys_compared_ = 0;
};

// Wall time of each verify step, printed with the summary (fsyncs of family creation dominate).
class StepTimer {
 public:
  void Done(const char* step) {
    const auto now = std::chrono::steady_clock::now();
    char buf[64];
    std::snprintf(buf, sizeof buf, "%s%s %.2f", text_.empty() ? "" : ", ", step,
                  std::chrono::duration<double>(now - last_).count());
    text_ += buf;
    last_ = now;
  }
  const std::string& text() const { return text_; }

 private:
  std::chrono::steady_clock::time_point last_ = std::chrono::steady_clock::now();
  std::string text_;
};

int RunVerify(const std::string& dir, const std::string& ack_file, bool rebuild) {
  StepTimer steps;
  Result<std::unique_ptr<Db>> db = OpenAll(dir, /*start_threads=*/false);
  if (!db.ok()) {
    std::printf("PROBLEM: cannot reopen: %s\n", db.status().message().c_str());
    return 1;
  }
  steps.Done("open");
  Verifier v(db->get());
  v.LoadAcks(ack_file);
  v.ScanLog();
  v.CheckAcks();
  v.CheckStatuses("after the crash", /*caught_up=*/false);
  v.CheckFamilies("after reopening");
  steps.Done("log+acks");
  // The read models as the crash left them must equal a replay up to their checkpoints.
  v.CheckConsistent("at the crash checkpoints");
  steps.Done("check");
  if (Status s = (*db)->engine().CatchUp(); !s.ok()) v.Problem("CatchUp: " + s.ToString());
  steps.Done("catch-up");
  v.CheckStatuses("after catch-up", /*caught_up=*/true);
  v.CheckConsistent("after catch-up");
  steps.Done("check");
  v.CheckReadModels("after catch-up");
  v.CheckFamilies("after catch-up and check");
  steps.Done("compare");
  if (rebuild && v.problems() == 0) {
    v.RebuildAll();
    steps.Done("rebuild");
    v.CheckConsistent("after the verify rebuild");
    v.CheckReadModels("after the verify rebuild");
    v.CheckFamilies("after the verify rebuild");
    steps.Done("check+compare");
  }
  v.PrintSummary();
  db->reset();
  steps.Done("close");
  std::printf("verify steps (s): %s\n", steps.text().c_str());
  std::fflush(stdout);
  return v.problems() == 0 ? 0 : 1;
}

int Usage() {
  std::fprintf(stderr,
               "usage: engine_crash_driver run DIR THREADS SEED\n"
               "       engine_crash_driver verify DIR ACKFILE [rebuild]\n");
  return 2;
}

}  // namespace
}  // namespace cairn

int main(int argc, char** argv) {
  // stdout carries only ack lines (run) or the verdict (verify): Cairn's logging goes to stderr.
  spdlog::set_default_logger(spdlog::stderr_logger_mt("engine_crash_driver"));
  if (argc < 2) return cairn::Usage();
  std::string mode = argv[1];
  if (mode == "run" && argc == 5) {
    long threads = std::strtol(argv[3], nullptr, 10);
    if (threads < 1 || threads > 64) return cairn::Usage();
    return cairn::RunLive(argv[2], static_cast<uint32_t>(threads),
                          std::strtoull(argv[4], nullptr, 10));
  }
  if (mode == "verify" && (argc == 4 || (argc == 5 && std::string(argv[4]) == "rebuild"))) {
    return cairn::RunVerify(argv[2], argv[3], argc == 5);
  }
  return cairn::Usage();
}
