// Crash-test driver for the event log (src/log). log_crash_test.py runs it in two modes:
//
//   log_crash_driver write DIR THREADS
//     Opens DIR through Db::Open (SyncMode::kAlways, no domains) and appends forever from THREADS
//     threads until it is SIGKILLed. Thread t owns the streams "crash-t<t>s<k>", k < 50, and
//     appends 1 or 3 events at a time with an exact expected version and the stream's new
//     "aggregate state" in the same append. Half of the streams (LogNamesEvents) send their events
//     without ids, so the log names them by position; the others send explicit ids. After Append returns ok it prints one
//     line per event, all lines of one append in a single write(2):
//       ack <event_id> <stream> <version> <topic> <partition> <offset> <seq>
//     It also re-sends some acknowledged appends (after each restart too) and requires the log to
//     answer them as idempotent duplicates with the original positions.
//
//   log_crash_driver write-async DIR STREAMS
//     The same appends through Log::AppendAsync from one thread: STREAMS streams
//     "crash-a<k>", each with one append in flight, the next sent from the previous one's
//     callback, which prints its ack lines. So up to STREAMS appends are in flight at once and
//     an ack means the callback ran.
//
//   log_crash_driver verify DIR ACKFILE
//     Reopens the store and checks every invariant a crash must not break (see Verifier), then
//     appends a few events and checks the reopened log continues gaplessly. Prints each problem
//     and exits 1 if any; exit 0 when all is well.
//
// Exit codes: 0 ok, 1 verification problems, 2 usage, 3 an API call failed unexpectedly,
// 4 the log broke a contract while writing.
#include <unistd.h>

#include <algorithm>
#include <cerrno>
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
#include <unordered_set>
#include <vector>

#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

#include "cairn/db.h"
#include "cairn/log.h"
#include "cairn/status.h"
#include "cairn/store.h"
#include "cairn/types.h"

namespace cairn {
namespace {

constexpr char kTopic[] = "crash";
constexpr uint32_t kPartitions = 4;
constexpr uint32_t kStreamsPerThread = 50;
constexpr char kEventType[] = "CRASH_APPENDED";
constexpr char kStreamPrefix[] = "crash-";
// The stream the verifier appends to after checking.
constexpr char kVerifyStream[] = "crash-verify";
// The aggregate state of a stream (its version, decimal) and an event counter, both written in
// the append's state_writes: they must always agree with the stream's head.
constexpr char kStateFamily[] = "write.crash";
constexpr char kCountFamily[] = "write.crash_counts";

// Writes all of `text` to fd 1, in one write(2) unless the kernel takes less.
void WriteOut(const std::string& text) {
  size_t done = 0;
  while (done < text.size()) {
    ssize_t n = ::write(STDOUT_FILENO, text.data() + done, text.size() - done);
    if (n < 0) {
      if (errno == EINTR) continue;
      std::perror("log_crash_driver: write stdout");
      _exit(3);
    }
    done += static_cast<size_t>(n);
  }
}

[[noreturn]] void Die(int code, const std::string& message) {
  std::string line = "log_crash_driver: " + message + "\n";
  (void)!::write(STDERR_FILENO, line.data(), line.size());
  _exit(code);
}

std::string StreamName(uint32_t thread, uint32_t k) {
  return std::string(kStreamPrefix) + "t" + std::to_string(thread) + "s" + std::to_string(k);
}

uint64_t Fnv1a64(std::string_view s) {
  uint64_t h = 1469598103934665603ull;
  for (unsigned char c : s) {
    h ^= c;
    h *= 1099511628211ull;
  }
  return h;
}

// The id of the event at `version` of `stream`: UUID-shaped, deterministic, so a writer can
// re-send an append after a restart and the verifier can tell which id belongs where.
std::string EventIdFor(std::string_view stream, uint64_t version) {
  uint64_t h = Fnv1a64(stream);
  char buf[48];
  std::snprintf(buf, sizeof buf, "%08x-%04x-4%03x-8%03x-%012" PRIx64,
                static_cast<unsigned>(h >> 32), static_cast<unsigned>((h >> 16) & 0xffff),
                static_cast<unsigned>((h >> 4) & 0xfff), static_cast<unsigned>(h & 0xf),
                static_cast<uint64_t>(version & 0xffffffffffffull));
  return buf;
}

// Whether the events of `stream` are sent without ids (the log names them: a version 8 UUID that
// holds the position, with no ids-family entry) rather than with EventIdFor's ids.
bool LogNamesEvents(std::string_view stream) { return Fnv1a64(stream) % 2 == 1; }

// What the driver encodes in each event's data: the append it belongs to.
struct Payload {
  uint32_t size = 0;     // events in the append (1 or 3)
  uint32_t index = 0;    // this event's index in the append
  uint64_t version = 0;  // the stream version the writer meant it to get
};

std::string EncodePayload(const Payload& p, size_t padding) {
  return "{\"n\":" + std::to_string(p.size) + ",\"i\":" + std::to_string(p.index) +
         ",\"v\":" + std::to_string(p.version) + ",\"pad\":\"" + std::string(padding, 'x') + "\"}";
}

bool DecodePayload(std::string_view data, Payload* p) {
  std::string s(data);
  unsigned n = 0, i = 0;
  unsigned long long v = 0;
  if (std::sscanf(s.c_str(), "{\"n\":%u,\"i\":%u,\"v\":%llu,", &n, &i, &v) != 3) return false;
  p->size = n;
  p->index = i;
  p->version = v;
  return true;
}

// The events of the append that gives `stream` versions first .. first+size-1.
std::vector<NewEvent> MakeEvents(const std::string& stream, uint64_t first, uint32_t size,
                                 size_t padding) {
  std::vector<NewEvent> events;
  for (uint32_t i = 0; i < size; ++i) {
    NewEvent e;
    if (!LogNamesEvents(stream)) e.id = EventIdFor(stream, first + i);
    e.type = kEventType;
    e.data = EncodePayload(Payload{size, i, first + i}, padding);
    e.metadata.command_id = EventIdFor(stream, first);
    e.metadata.correlation_id = stream;
    events.push_back(std::move(e));
  }
  return events;
}

std::string AckLines(const AppendRequest& req, const AppendResult& res) {
  std::string out;
  uint64_t first = res.version.value() + 1 - res.positions.size();
  for (size_t i = 0; i < res.positions.size(); ++i) {
    const Position& p = res.positions[i];
    out += "ack " + req.events[i].id + " " + req.stream + " " + std::to_string(first + i) + " " +
           p.topic + " " + std::to_string(p.partition.value()) + " " +
           std::to_string(p.offset.value()) + " " + std::to_string(p.seq.value()) + "\n";
  }
  return out;
}

struct Families {
  Family* state = nullptr;
  Family* count = nullptr;
};

Families OpenFamilies(Store* store) {
  auto state = store->OpenFamily(kStateFamily, FamilyKind::kPointLookup);
  if (!state.ok()) Die(3, "open family " + std::string(kStateFamily) + ": " + state.status().ToString());
  auto count = store->OpenFamily(kCountFamily, FamilyKind::kCounters);
  if (!count.ok()) Die(3, "open family " + std::string(kCountFamily) + ": " + count.status().ToString());
  return Families{*state, *count};
}

// Builds the append that takes `stream` from `head` to head+size, with its state writes.
AppendRequest MakeAppend(const Families& fam, const std::string& stream, uint64_t head,
                         uint32_t size, size_t padding) {
  AppendRequest req;
  req.topic = kTopic;
  req.stream = stream;
  req.expected = ExpectedVersion::Exact(head);
  req.events = MakeEvents(stream, head + 1, size, padding);
  req.state_writes.Put(fam.state, stream, std::to_string(head + size));
  req.state_writes.AddCounter(fam.count, stream, size);
  return req;
}

// Re-sends the append that gave `stream` versions first..first+size-1, with the ids its events
// are stored under (expected: any, and state writes that would corrupt the aggregate state if
// applied). The log must answer it as a duplicate with `original` positions and write nothing.
void CheckIdempotentRetry(Log* log, const Families& fam, const std::string& stream, uint64_t first,
                          uint32_t size, const std::vector<Position>& original,
                          const std::vector<std::string>& ids, size_t padding) {
  AppendRequest req;
  req.topic = kTopic;
  req.stream = stream;
  req.expected = ExpectedVersion::Any();
  req.events = MakeEvents(stream, first, size, padding);
  for (size_t i = 0; i < req.events.size() && i < ids.size(); ++i) req.events[i].id = ids[i];
  req.state_writes.Put(fam.state, stream, "retry-must-not-be-written");
  req.state_writes.AddCounter(fam.count, stream, 1000000);
  auto res = log->Append(std::move(req));
  std::string what = "retry of " + stream + " v" + std::to_string(first) + "+" +
                     std::to_string(size);
  if (!res.ok()) Die(4, what + " failed: " + res.status().ToString());
  if (!res->duplicate) Die(4, what + " was not answered as a duplicate (it was written again)");
  if (res->version.value() != first + size - 1) {
    Die(4, what + " reported version " + std::to_string(res->version.value()));
  }
  if (res->positions != original) Die(4, what + " reported other positions than the original");
}

// One writer thread: appends to its own streams forever.
void WriteForever(Log* log, Families fam, uint32_t thread) {
  std::mt19937_64 rng(std::random_device{}() ^ (uint64_t{thread} << 32));
  std::vector<std::string> streams;
  std::vector<uint64_t> heads;
  for (uint32_t k = 0; k < kStreamsPerThread; ++k) {
    streams.push_back(StreamName(thread, k));
    auto head = log->StreamHead(streams.back());
    if (!head.ok()) Die(3, "StreamHead " + streams.back() + ": " + head.status().ToString());
    heads.push_back(head->value());
  }

  // After a restart: re-send the last append of a few streams; it must still be a duplicate.
  for (int tries = 0; tries < 3; ++tries) {
    uint32_t k = static_cast<uint32_t>(rng() % kStreamsPerThread);
    if (heads[k] == 0) continue;
    auto last = log->ReadStream(streams[k], StreamVersion(heads[k]), 1);
    if (!last.ok() || last->size() != 1) Die(3, "ReadStream " + streams[k] + " at its head failed");
    Payload p;
    if (!DecodePayload((*last)[0].data, &p)) Die(4, "undecodable event in " + streams[k]);
    if (p.index + 1 != p.size) {
      Die(4, streams[k] + " ends with a half-present append (event " + std::to_string(p.index) +
                 " of " + std::to_string(p.size) + ")");
    }
    uint64_t first = heads[k] + 1 - p.size;
    auto group = log->ReadStream(streams[k], StreamVersion(first), p.size);
    if (!group.ok() || group->size() != p.size) Die(3, "ReadStream " + streams[k] + " failed");
    std::vector<Position> original;
    std::vector<std::string> ids;
    for (const Event& e : *group) {
      original.push_back(e.position());
      ids.push_back(e.id);
    }
    CheckIdempotentRetry(log, fam, streams[k], first, p.size, original, ids, 0);
  }

  for (uint64_t n = 0;; ++n) {
    uint32_t k = static_cast<uint32_t>(n % kStreamsPerThread);
    uint32_t size = (rng() % 2 == 0) ? 1 : 3;
    size_t padding = rng() % 200;
    AppendRequest req = MakeAppend(fam, streams[k], heads[k], size, padding);
    AppendRequest copy_for_ack;  // the ids and stream, for the ack lines
    copy_for_ack.stream = req.stream;
    copy_for_ack.events = req.events;
    auto res = log->Append(std::move(req));
    if (!res.ok()) Die(3, "append to " + streams[k] + ": " + res.status().ToString());
    if (res->duplicate) Die(4, "a new append to " + streams[k] + " was reported as a duplicate");
    if (res->version.value() != heads[k] + size || res->positions.size() != size) {
      Die(4, "append to " + streams[k] + " at v" + std::to_string(heads[k]) + " returned version " +
                 std::to_string(res->version.value()) + " with " +
                 std::to_string(res->positions.size()) + " positions");
    }
    std::vector<std::string> ids;
    for (size_t i = 0; i < size; ++i) {
      if (copy_for_ack.events[i].id.empty()) {  // named by the log: read the name back
        const Position& at = res->positions[i];
        auto stored = log->ReadAt(at.topic, at.partition, at.offset);
        if (!stored.ok()) Die(3, "ReadAt " + at.ToString() + ": " + stored.status().ToString());
        copy_for_ack.events[i].id = stored->id;
      }
      ids.push_back(copy_for_ack.events[i].id);
    }
    WriteOut(AckLines(copy_for_ack, *res));
    uint64_t first = heads[k] + 1;
    heads[k] += size;
    if (rng() % 10 == 0) {
      CheckIdempotentRetry(log, fam, streams[k], first, size, res->positions, ids, padding);
    }
  }
}

// One thread's worth of async appends: each stream has one append in flight; its callback
// checks the result, prints the ack lines and sends the stream's next append.
class AsyncWriter {
 public:
  AsyncWriter(Log* log, Families fam, uint32_t streams) : log_(log), fam_(fam) {
    for (uint32_t k = 0; k < streams; ++k) {
      Chain c;
      c.stream = std::string(kStreamPrefix) + "a" + std::to_string(k);
      auto head = log->StreamHead(c.stream);
      if (!head.ok()) Die(3, "StreamHead " + c.stream + ": " + head.status().ToString());
      c.head = head->value();
      c.rng.seed(std::random_device{}() ^ k);
      chains_.push_back(std::move(c));
    }
  }
  void Start() {
    for (size_t k = 0; k < chains_.size(); ++k) Send(k);
  }

 private:
  struct Chain {
    std::string stream;
    uint64_t head = 0;
    std::mt19937_64 rng;
  };

  void Send(size_t k) {
    Chain& c = chains_[k];
    const uint32_t size = (c.rng() % 2 == 0) ? 1 : 3;
    AppendRequest req = MakeAppend(fam_, c.stream, c.head, size, c.rng() % 200);
    // The ids and stream, for the ack lines (a callback must be copyable: no state writes).
    auto for_ack = std::make_shared<AppendRequest>();
    for_ack->stream = req.stream;
    for_ack->events = req.events;
    Status s = log_->AppendAsync(std::move(req), [this, k, for_ack](Result<AppendResult> res) {
      Done(k, std::move(*for_ack), std::move(res));
    });
    if (!s.ok()) Die(3, "AppendAsync to " + c.stream + ": " + s.ToString());
  }

  // On the log's callback thread, one at a time.
  void Done(size_t k, AppendRequest for_ack, Result<AppendResult> res) {
    Chain& c = chains_[k];
    const size_t size = for_ack.events.size();
    if (!res.ok()) Die(3, "async append to " + c.stream + ": " + res.status().ToString());
    if (res->duplicate || res->version.value() != c.head + size || res->positions.size() != size) {
      Die(4, "async append to " + c.stream + " at v" + std::to_string(c.head) +
                 " returned version " + std::to_string(res->version.value()));
    }
    for (size_t i = 0; i < size; ++i) {
      if (!for_ack.events[i].id.empty()) continue;  // named by the log: read the name back
      const Position& at = res->positions[i];
      auto stored = log_->ReadAt(at.topic, at.partition, at.offset);
      if (!stored.ok()) Die(3, "ReadAt " + at.ToString() + ": " + stored.status().ToString());
      for_ack.events[i].id = stored->id;
    }
    WriteOut(AckLines(for_ack, *res));
    c.head += size;
    Send(k);
  }

  Log* log_;
  Families fam_;
  std::vector<Chain> chains_;
};

// Opens DIR through the front door with no domain: the log alone is under test, so no
// projections and no order topics (the order service's families are opened, and unused).
Result<std::unique_ptr<Db>> OpenLog(const std::string& dir) {
  DbOptions options;
  options.store.sync = SyncMode::kAlways;
  options.engine.start_threads = false;
  options.domains = {};
  options.create_owned_topics = false;
  return Db::Open(dir, options);
}

int RunWrite(const std::string& dir, uint32_t threads) {
  auto db = OpenLog(dir);
  if (!db.ok()) Die(3, "open " + dir + ": " + db.status().ToString());
  Families fam = OpenFamilies(&(*db)->store());
  Log* log = &(*db)->log();
  auto topic = log->CreateTopic(kTopic, kPartitions);
  if (!topic.ok()) Die(3, "create topic: " + topic.status().ToString());

  std::vector<std::thread> workers;
  for (uint32_t t = 0; t < threads; ++t) {
    workers.emplace_back(WriteForever, log, fam, t);
  }
  for (auto& w : workers) w.join();  // never: the test SIGKILLs us
  return 0;
}

int RunWriteAsync(const std::string& dir, uint32_t streams) {
  auto db = OpenLog(dir);
  if (!db.ok()) Die(3, "open " + dir + ": " + db.status().ToString());
  Log* log = &(*db)->log();
  auto topic = log->CreateTopic(kTopic, kPartitions);
  if (!topic.ok()) Die(3, "create topic: " + topic.status().ToString());
  AsyncWriter writer(log, OpenFamilies(&(*db)->store()), streams);
  writer.Start();
  for (;;) pause();  // the callbacks keep appending until the test SIGKILLs us
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

// One stored event as the seq-order scan saw it.
struct Seen {
  std::string id;
  std::string topic;
  uint32_t partition = 0;
  uint64_t offset = 0;
  uint64_t seq = 0;
  std::string stream;
  uint64_t version = 0;
  std::string type;
  Payload payload;
  bool payload_ok = false;
};

class Verifier {
 public:
  Verifier(Store* store, Log* log, Families fam) : store_(store), log_(log), fam_(fam) {}

  int problems() const { return problems_; }

  void Problem(const std::string& message) {
    ++problems_;
    if (problems_ <= 200) {
      std::printf("PROBLEM: %s\n", message.c_str());
    } else if (problems_ == 201) {
      std::printf("PROBLEM: (further problems not printed)\n");
    }
  }
  void Note(const std::string& message) {
    if (++notes_ <= 20) std::printf("note: %s\n", message.c_str());
  }

  // Reads the ack file, ignoring a last line without '\n' (cut by the kill).
  bool LoadAcks(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) {
      Problem("cannot read ack file " + path);
      return false;
    }
    std::string all((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    size_t start = 0;
    while (true) {
      size_t end = all.find('\n', start);
      if (end == std::string::npos) break;  // partial or no last line
      std::string line = all.substr(start, end - start);
      start = end + 1;
      if (line.empty()) continue;
      std::istringstream ls(line);
      std::string word;
      Ack a;
      if (!(ls >> word >> a.id >> a.stream >> a.version >> a.topic >> a.partition >> a.offset >>
            a.seq) ||
          word != "ack") {
        Problem("malformed ack line: " + line);
        continue;
      }
      auto [it, inserted] = ack_by_id_.emplace(a.id, a);
      if (!inserted && (it->second.seq != a.seq || it->second.offset != a.offset ||
                        it->second.partition != a.partition || it->second.version != a.version)) {
        Problem("event " + a.id + " was acknowledged twice with different positions");
      }
      acks_.push_back(std::move(a));
    }
    return true;
  }

  void CheckPartitions() {
    for (const TopicInfo& t : log_->Topics()) {
      if (t.partition_info.size() != t.partitions) {
        Problem("topic " + t.name + " lists " + std::to_string(t.partition_info.size()) +
                " partitions, has " + std::to_string(t.partitions));
      }
      if (t.name == kTopic && t.partitions != kPartitions) {
        Problem("topic crash has " + std::to_string(t.partitions) + " partitions, want 4");
      }
      for (const PartitionInfo& pi : t.partition_info) CheckPartition(t, pi);
    }
  }

  void CheckSeqOrder() {
    uint64_t expect = 1;
    Status s = log_->ScanInSeqOrder({}, Seq(0), SIZE_MAX, [&](const EventView& v) {
      Seen e;
      e.id = std::string(v.id());
      e.topic = std::string(v.topic());
      e.partition = v.partition().value();
      e.offset = v.offset().value();
      e.seq = v.seq().value();
      e.stream = std::string(v.stream());
      e.version = v.version().value();
      e.type = std::string(v.type());
      e.payload_ok = DecodePayload(v.data(), &e.payload);
      if (e.seq != expect) {
        Problem("seq order: expected seq " + std::to_string(expect) + ", got " +
                std::to_string(e.seq) + " (event " + e.id + ")");
      }
      expect = e.seq + 1;
      by_seq_.push_back(std::move(e));
      return true;
    });
    if (!s.ok()) Problem("ScanInSeqOrder failed: " + s.ToString());
    uint64_t last = log_->LastSeq().value();
    uint64_t scanned_last = by_seq_.empty() ? 0 : by_seq_.back().seq;
    if (scanned_last != last) {
      Problem("LastSeq() is " + std::to_string(last) + " but the seq scan ends at " +
              std::to_string(scanned_last));
    }
    if (by_seq_.size() != last) {
      Problem("the seq scan saw " + std::to_string(by_seq_.size()) + " events, LastSeq() is " +
              std::to_string(last));
    }
    if (by_seq_.size() != partition_events_) {
      Problem("the seq scan saw " + std::to_string(by_seq_.size()) +
              " events, the partitions hold " + std::to_string(partition_events_));
    }
    for (const Seen& e : by_seq_) {
      auto it = partition_slot_by_seq_.find(e.seq);
      std::string where = e.topic + "/" + std::to_string(e.partition) + "/" +
                          std::to_string(e.offset);
      if (it == partition_slot_by_seq_.end()) {
        Problem("seq " + std::to_string(e.seq) + " (" + where +
                ") is in the seq order but in no partition scan");
      } else if (it->second != where) {
        Problem("seq " + std::to_string(e.seq) + " is " + where + " in the seq order but " +
                it->second + " in the partition scan");
      }
    }
  }

  void CheckEventsAndStreams() {
    std::map<std::string, std::vector<const Seen*>> streams;
    for (const Seen& e : by_seq_) {
      streams[e.stream].push_back(&e);
      if (!seen_ids_.insert(e.id).second) Problem("event id " + e.id + " is stored twice");
      auto r = log_->ReadEvent(e.id);
      if (!r.ok()) {
        Problem("ReadEvent(" + e.id + ") of seq " + std::to_string(e.seq) + ": " +
                r.status().ToString());
      } else if (r->seq.value() != e.seq || r->stream != e.stream) {
        Problem("ReadEvent(" + e.id + ") returns seq " + std::to_string(r->seq.value()) +
                ", the log has it at seq " + std::to_string(e.seq));
      }
    }
    for (const auto& [name, events] : streams) CheckStream(name, events);
    CheckStateFamily(kStateFamily, fam_.state, streams, false);
    CheckStateFamily(kCountFamily, fam_.count, streams, true);
  }

  void CheckAcks() {
    std::unordered_map<uint64_t, const Seen*> seen_by_seq;
    for (const Seen& e : by_seq_) seen_by_seq[e.seq] = &e;
    for (const Ack& a : acks_) {
      std::string what = "acknowledged event " + a.id + " (" + a.stream + " v" +
                         std::to_string(a.version) + ", " + a.topic + "/" +
                         std::to_string(a.partition) + "/" + std::to_string(a.offset) + " seq " +
                         std::to_string(a.seq) + ")";
      auto r = log_->ReadEvent(a.id);
      if (!r.ok()) {
        Problem(what + " is missing: ReadEvent: " + r.status().ToString());
        continue;
      }
      const Event& e = *r;
      if (e.stream != a.stream || e.version.value() != a.version || e.topic != a.topic ||
          e.partition.value() != a.partition || e.offset.value() != a.offset ||
          e.seq.value() != a.seq) {
        Problem(what + " is stored as " + e.stream + " v" + std::to_string(e.version.value()) +
                ", " + e.position().ToString() + " seq " + std::to_string(e.seq.value()));
      }
      auto at = log_->ReadAt(a.topic, PartitionId(a.partition), Offset(a.offset));
      if (!at.ok() || at->id != a.id) {
        Problem(what + ": ReadAt its position " +
                (at.ok() ? "returns event " + at->id : at.status().ToString()));
      }
      auto it = seen_by_seq.find(a.seq);
      if (it == seen_by_seq.end() || it->second->id != a.id) {
        Problem(what + " is not at its seq in the seq-order scan");
      }
    }
  }

  // Appends to kVerifyStream and checks the reopened log continues where it left off.
  void CheckContinues() {
    auto topic = log_->CreateTopic(kTopic, kPartitions);
    if (!topic.ok()) {
      Problem("CreateTopic(crash, 4) after reopen: " + topic.status().ToString());
      return;
    }
    std::string stream = kVerifyStream;
    PartitionId partition = PartitionForKey(StreamKey(stream), kPartitions);
    for (uint32_t size : {3u, 1u, 3u}) {
      auto head = log_->StreamHead(stream);
      if (!head.ok()) {
        Problem("StreamHead(" + stream + "): " + head.status().ToString());
        return;
      }
      uint64_t last_seq = log_->LastSeq().value();
      uint64_t hwm = log_->HighWaterMark(kTopic, partition).value();
      AppendRequest req = MakeAppend(fam_, stream, head->value(), size, 10);
      std::vector<std::string> ids;
      for (const NewEvent& e : req.events) ids.push_back(e.id);
      auto res = log_->Append(std::move(req));
      std::string what = "append of " + std::to_string(size) + " to " + stream + " after reopen";
      if (!res.ok()) {
        Problem(what + " failed: " + res.status().ToString());
        return;
      }
      if (res->duplicate || res->version.value() != head->value() + size ||
          res->positions.size() != size) {
        Problem(what + " returned version " + std::to_string(res->version.value()) +
                (res->duplicate ? " (duplicate)" : ""));
        return;
      }
      for (uint32_t i = 0; i < size; ++i) {
        const Position& p = res->positions[i];
        if (p.topic != kTopic || p.partition != partition || p.offset.value() != hwm + i ||
            p.seq.value() != last_seq + 1 + i) {
          Problem(what + ": event " + std::to_string(i) + " got " + p.ToString() + " seq " +
                  std::to_string(p.seq.value()) + ", expected offset " +
                  std::to_string(hwm + i) + " seq " + std::to_string(last_seq + 1 + i));
        }
        auto r = log_->ReadEvent(ids[i]);
        if (!r.ok() || r->position() != p) Problem(what + ": ReadEvent of event " + ids[i]);
      }
      if (log_->LastSeq().value() != last_seq + size) Problem(what + ": LastSeq did not advance");
      if (log_->HighWaterMark(kTopic, partition).value() != hwm + size) {
        Problem(what + ": high-water mark did not advance");
      }
      uint64_t visited = 0;
      Status s = log_->ScanInSeqOrder({}, Seq(last_seq), SIZE_MAX, [&](const EventView& v) {
        if (visited >= size || v.id() != ids[visited]) {
          Problem(what + ": ScanInSeqOrder after " + std::to_string(last_seq) +
                  " visits an unexpected event " + std::string(v.id()));
          return false;
        }
        ++visited;
        return true;
      });
      if (!s.ok() || visited != size) Problem(what + ": ScanInSeqOrder does not see it");
      if (!log_->WaitForSeq(Seq(last_seq + size), std::chrono::milliseconds(100))) {
        Problem(what + ": WaitForSeq does not see it");
      }
      appended_ += size;
    }
  }

  void PrintSummary() const {
    std::set<std::string> streams;
    for (const Seen& e : by_seq_) streams.insert(e.stream);
    std::printf("verify: %zu acks, %zu events, %zu streams, last seq %zu, +%zu appended after "
                "reopen: %s (%d problems)\n",
                acks_.size(), by_seq_.size(), streams.size(),
                static_cast<size_t>(by_seq_.empty() ? 0 : by_seq_.back().seq),
                static_cast<size_t>(appended_), problems_ == 0 ? "ok" : "FAILED", problems_);
  }

 private:
  void CheckPartition(const TopicInfo& t, const PartitionInfo& pi) {
    std::string name = t.name + "/" + std::to_string(pi.partition.value());
    uint64_t hwm = pi.high_water_mark.value();
    if (log_->HighWaterMark(t.name, pi.partition) != pi.high_water_mark) {
      Problem(name + ": HighWaterMark() disagrees with Topics()");
    }
    uint64_t expect = 0;
    uint64_t last_seq = 0;
    std::vector<uint64_t> seqs;
    Status s = log_->ScanPartition(t.name, pi.partition, Offset(0), Offset(hwm),
                                   [&](const EventView& v) {
      std::string at = name + "/" + std::to_string(v.offset().value());
      if (v.offset().value() != expect) {
        Problem(name + ": expected offset " + std::to_string(expect) + ", scan returned " +
                std::to_string(v.offset().value()));
      }
      expect = v.offset().value() + 1;
      if (v.topic() != t.name || v.partition() != pi.partition) {
        Problem(at + ": the event says it is in " + std::string(v.topic()) + "/" +
                std::to_string(v.partition().value()));
      }
      if (v.seq().value() <= last_seq) {
        Problem(at + ": seq " + std::to_string(v.seq().value()) +
                " is not above the previous offset's " + std::to_string(last_seq));
      }
      last_seq = v.seq().value();
      if (PartitionForKey(StreamKey(v.stream()), t.partitions) != pi.partition) {
        Problem(at + ": stream " + std::string(v.stream()) + " belongs in another partition");
      }
      if (!partition_slot_by_seq_.emplace(v.seq().value(), at).second) {
        Problem(at + ": seq " + std::to_string(v.seq().value()) + " is also at " +
                partition_slot_by_seq_[v.seq().value()]);
      }
      seqs.push_back(v.seq().value());
      return true;
    });
    if (!s.ok()) Problem(name + ": ScanPartition failed: " + s.ToString());
    if (expect != hwm) {
      Problem(name + ": high-water mark " + std::to_string(hwm) + " but the scan ends at offset " +
              std::to_string(expect));
    }
    partition_events_ += seqs.size();
    if (log_->ReadAt(t.name, pi.partition, Offset(hwm)).ok()) {
      Problem(name + ": ReadAt(high-water mark " + std::to_string(hwm) + ") finds an event");
    }

    // ReadPartition in pages must return the same events.
    uint64_t from = 0;
    size_t index = 0;
    while (from < hwm) {
      auto page = log_->ReadPartition(t.name, pi.partition, Offset(from), 500, 64u << 10);
      if (!page.ok()) {
        Problem(name + ": ReadPartition from " + std::to_string(from) + ": " +
                page.status().ToString());
        return;
      }
      if (page->empty()) {
        Problem(name + ": ReadPartition from " + std::to_string(from) +
                " returns nothing below the high-water mark " + std::to_string(hwm));
        return;
      }
      for (const Event& e : *page) {
        if (e.offset.value() != from || index >= seqs.size() || e.seq.value() != seqs[index]) {
          Problem(name + ": ReadPartition returns offset " + std::to_string(e.offset.value()) +
                  " seq " + std::to_string(e.seq.value()) + " where the scan had offset " +
                  std::to_string(from));
          return;
        }
        ++from;
        ++index;
      }
    }
  }

  void CheckStream(const std::string& name, const std::vector<const Seen*>& events) {
    // Streams of the synchronous writers ("crash-t..."), the async one ("crash-a...") or ours.
    if (name != kVerifyStream && name.rfind(std::string(kStreamPrefix) + "t", 0) != 0 &&
        name.rfind(std::string(kStreamPrefix) + "a", 0) != 0) {
      Problem("unexpected stream " + name);
    }
    // Versions 1..n gapless, in seq order; each event is the one the writer meant for it.
    for (size_t i = 0; i < events.size(); ++i) {
      const Seen& e = *events[i];
      uint64_t want = i + 1;
      std::string at = name + " v" + std::to_string(e.version) + " (seq " +
                       std::to_string(e.seq) + ")";
      if (e.version != want) {
        Problem(name + ": version " + std::to_string(want) + " expected at seq " +
                std::to_string(e.seq) + ", found " + std::to_string(e.version));
      }
      if (LogNamesEvents(name) ? (e.id.size() != 36 || e.id[14] != '8')
                               : e.id != EventIdFor(name, e.version)) {
        Problem(at + ": event id " + e.id + " is not the one written for it");
      }
      if (e.type != kEventType || !e.payload_ok || e.payload.version != e.version) {
        Problem(at + ": type/data do not match what was written");
      }
    }
    // Appends are whole: each group of `size` events is present entirely.
    size_t i = 0;
    while (i < events.size()) {
      const Seen& head = *events[i];
      if (!head.payload_ok || head.payload.index != 0) {
        Problem(name + " v" + std::to_string(head.version) +
                ": an append starts with event index " + std::to_string(head.payload.index) +
                " (the start of the append is missing)");
        ++i;
        continue;
      }
      uint32_t size = head.payload.size;
      for (uint32_t j = 1; j < size; ++j) {
        if (i + j >= events.size()) {
          Problem(name + " v" + std::to_string(head.version) + ": append of " +
                  std::to_string(size) + " events is half-present: only " + std::to_string(j) +
                  " stored");
          break;
        }
        const Seen& e = *events[i + j];
        if (e.payload.size != size || e.payload.index != j) {
          Problem(name + " v" + std::to_string(e.version) + ": append of " +
                  std::to_string(size) + " starting at v" + std::to_string(head.version) +
                  " is interrupted");
          break;
        }
        if (e.seq != head.seq + j || e.offset != head.offset + j) {
          Note(name + " v" + std::to_string(e.version) + ": events of one append do not have "
               "consecutive seq/offset (allowed by the contract, but unusual)");
        }
      }
      i += std::max<uint32_t>(size, 1);
    }
    uint64_t head_version = events.size();
    auto head = log_->StreamHead(name);
    if (!head.ok() || head->value() != head_version) {
      Problem(name + ": StreamHead is " +
              (head.ok() ? std::to_string(head->value()) : head.status().ToString()) +
              ", the log holds " + std::to_string(head_version) + " events");
    }
    auto read = log_->ReadStream(name, StreamVersion(1), events.size() + 10);
    if (!read.ok() || read->size() != events.size()) {
      Problem(name + ": ReadStream returns " +
              (read.ok() ? std::to_string(read->size()) + " events" : read.status().ToString()) +
              ", the log holds " + std::to_string(events.size()));
    } else {
      for (size_t k = 0; k < events.size(); ++k) {
        const Event& r = (*read)[k];
        if (r.id != events[k]->id || r.version.value() != k + 1 ||
            r.seq.value() != events[k]->seq) {
          Problem(name + ": ReadStream event " + std::to_string(k) + " is " + r.id + " v" +
                  std::to_string(r.version.value()) + ", the log has " + events[k]->id);
          break;
        }
        if (r.metadata.correlation_id != name ||
            r.metadata.command_id !=
                EventIdFor(name, r.version.value() - events[k]->payload.index)) {
          Problem(name + " v" + std::to_string(k + 1) + ": metadata does not round-trip");
        }
      }
    }
  }

  // Every stream's aggregate state (written in the same append) must match its head, and no
  // state may exist for a stream without events.
  void CheckStateFamily(const std::string& family_name, Family* family,
                        const std::map<std::string, std::vector<const Seen*>>& streams,
                        bool counter) {
    for (const auto& [name, events] : streams) {
      auto v = store_->Get(family, name);
      std::string want = std::to_string(events.size());
      std::string got;
      if (!v.ok()) {
        got = v.status().ToString();
      } else if (!v->has_value()) {
        got = "(absent)";
      } else {
        got = counter ? std::to_string(DecodeCounter(**v)) : **v;
      }
      if (got != want) {
        Problem(name + ": state in " + family_name + " is " + got + ", the stream is at v" + want +
                " (state and events not written atomically, or a duplicate applied its state)");
      }
    }
    Status s = store_->Scan(family, "", "", [&](std::string_view key, std::string_view) {
      if (streams.find(std::string(key)) == streams.end()) {
        Problem(std::string(key) + ": has state in " + family_name + " but no events");
      }
      return true;
    });
    if (!s.ok()) Problem("scan of " + family_name + ": " + s.ToString());
  }

  Store* store_;
  Log* log_;
  Families fam_;
  int problems_ = 0;
  int notes_ = 0;
  std::vector<Ack> acks_;
  std::unordered_map<std::string, Ack> ack_by_id_;
  std::vector<Seen> by_seq_;
  std::unordered_map<uint64_t, std::string> partition_slot_by_seq_;  // seq -> "topic/p/offset"
  std::unordered_set<std::string> seen_ids_;
  uint64_t partition_events_ = 0;
  uint64_t appended_ = 0;
};

int RunVerify(const std::string& dir, const std::string& ack_file) {
  // create_if_missing stays true: a first round killed before RocksDB created the dir acked
  // nothing, and a missing store with acks fails the ack checks anyway.
  auto db = OpenLog(dir);
  if (!db.ok()) {
    std::printf("PROBLEM: cannot reopen the store and the log: %s\n", db.status().ToString().c_str());
    return 1;
  }
  Families fam = OpenFamilies(&(*db)->store());
  Verifier v(&(*db)->store(), &(*db)->log(), fam);
  v.LoadAcks(ack_file);
  v.CheckPartitions();
  v.CheckSeqOrder();
  v.CheckEventsAndStreams();
  v.CheckAcks();
  if (v.problems() == 0) v.CheckContinues();  // don't write on top of a broken log
  v.PrintSummary();
  std::fflush(stdout);
  db->reset();
  return v.problems() == 0 ? 0 : 1;
}

int Usage() {
  std::fprintf(stderr,
               "usage: log_crash_driver write DIR THREADS\n"
               "       log_crash_driver write-async DIR STREAMS\n"
               "       log_crash_driver verify DIR ACKFILE\n");
  return 2;
}

}  // namespace
}  // namespace cairn

int main(int argc, char** argv) {
  if (argc != 4) return cairn::Usage();
  // stdout carries only ack lines: the log's own messages go to stderr.
  spdlog::set_default_logger(spdlog::stderr_logger_mt("log_crash_driver"));
  std::string mode = argv[1];
  if (mode == "write") {
    long threads = std::strtol(argv[3], nullptr, 10);
    if (threads < 1 || threads > 64) return cairn::Usage();
    return cairn::RunWrite(argv[2], static_cast<uint32_t>(threads));
  }
  if (mode == "write-async") {
    long streams = std::strtol(argv[3], nullptr, 10);
    if (streams < 1 || streams > 1024) return cairn::Usage();
    return cairn::RunWriteAsync(argv[2], static_cast<uint32_t>(streams));
  }
  if (mode == "verify") return cairn::RunVerify(argv[2], argv[3]);
  return cairn::Usage();
}
