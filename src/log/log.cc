// The partitioned log (include/cairn/log.h): topics, group-commit appends, reads and waits.
//
// Group commit follows leveldb's DBImpl::Write: every appending thread queues a PendingAppend;
// the thread at the front of the queue becomes the leader, takes a group of queued appends,
// checks each against the stream heads, builds ONE WriteBatch and writes it with ONE fsync, then
// completes the group and hands leadership to the next in line. Only the leader touches the
// writer state (stream heads cache, next seq); leadership passes under queue_mu, which orders it.
#include <linux/futex.h>
#include <rocksdb/db.h>
#include <spdlog/spdlog.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <deque>
#include <map>
#include <mutex>
#include <queue>
#include <shared_mutex>
#include <thread>
#include <unordered_map>
#include <unordered_set>

#include "cairn/log.h"
#include "base/bytes.h"
#include "base/clock.h"
#include "base/uuid.h"
#include "log/envelope.h"
#include "log/rocks.h"

namespace cairn {

namespace env = envelope;

namespace {

constexpr size_t kMaxTypeBytes = 128;
constexpr size_t kMaxStreamBytes = 256;
constexpr size_t kMaxTopicBytes = 249;

// The on-disk format of the log's families, stored under kFormatKey in RocksDB's default family
// (which no Cairn code reads otherwise, so builds from before the marker still open the dir).
// 1: data dirs from before the marker existed; 2: generated event ids hold their position and
// have no `ids` entry. A build refuses a data dir of a newer format, and raises an older one to
// its own when it opens it writable (upgrades are one-way).
constexpr uint32_t kLogFormat = 2;
constexpr std::string_view kFormatKey = "cairn.log.format";

// Checks the data dir's log format and, unless the store is read-only, records this build's.
Status CheckAndRecordFormat(Store* store) {
  Family* meta = store->FindFamily("default");
  if (meta == nullptr) return Status::Internal("the store has no default family");
  Result<std::optional<std::string>> stored = store->Get(meta, kFormatKey);
  if (!stored.ok()) return stored.status();
  uint32_t format = 1;
  if (stored->has_value()) {
    if ((*stored)->size() != 4) return Status::Corruption("malformed log format marker");
    format = bytes::GetBigEndian32(**stored);
  }
  if (format > kLogFormat) {
    return Status::InvalidArgument("data dir " + store->dir() +
                                   " was written by a newer Cairn (log format " +
                                   std::to_string(format) + "; this build reads formats up to " +
                                   std::to_string(kLogFormat) + "): upgrade cairn");
  }
  if (format == kLogFormat || store->options().read_only) return Status::Ok();
  std::string value;
  bytes::PutBigEndian32(&value, kLogFormat);
  WriteBatch batch;
  batch.Put(meta, kFormatKey, value);
  return store->Write(batch, /*durable=*/true);
}

// Sleeps while `word` holds `expected`; returns on a wake-up, a change or a signal (callers
// re-check). A bare futex rather than std::atomic::wait: libstdc++ spins and sched_yield()s
// before sleeping, and with dozens of appenders on two CPUs that spinning took ~5 % of all CPU.
void FutexWait(std::atomic<uint32_t>& word, uint32_t expected) {
  static_assert(sizeof(std::atomic<uint32_t>) == sizeof(uint32_t));
  syscall(SYS_futex, reinterpret_cast<uint32_t*>(&word), FUTEX_WAIT_PRIVATE, expected, nullptr,
          nullptr, 0);
}

void FutexWakeAll(std::atomic<uint32_t>& word) {
  syscall(SYS_futex, reinterpret_cast<uint32_t*>(&word), FUTEX_WAKE_PRIVATE, INT32_MAX, nullptr,
          nullptr, 0);
}

bool AllBytesIn(std::string_view s, char lo, char hi) {
  return std::all_of(s.begin(), s.end(), [&](char c) { return c >= lo && c <= hi; });
}

}  // namespace

Status ValidateTopicName(std::string_view topic) {
  if (topic.empty() || topic.size() > kMaxTopicBytes) {
    return Status::InvalidArgument("topic name must be 1-249 characters", "topic");
  }
  for (char c : topic) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '.' || c == '_' || c == '-';
    if (!ok) {
      return Status::InvalidArgument(
          "topic name may contain only letters, digits, '.', '_' and '-': '" + std::string(topic) +
              "'",
          "topic");
    }
  }
  return Status::Ok();
}

Status ValidateStreamId(std::string_view stream) {
  if (stream.empty() || stream.size() > kMaxStreamBytes) {
    return Status::InvalidArgument("stream id must be 1-256 characters", "stream");
  }
  if (!AllBytesIn(stream, '!', '~') || stream.find('/') != std::string_view::npos) {
    return Status::InvalidArgument(
        "stream id may contain only printable ASCII without spaces or '/'", "stream");
  }
  return Status::Ok();
}

Status ValidateEventType(std::string_view type) {
  if (type.empty() || type.size() > kMaxTypeBytes) {
    return Status::InvalidArgument("event type must be 1-128 characters", "type");
  }
  if (!AllBytesIn(type, ' ', '~')) {
    return Status::InvalidArgument("event type may contain only printable ASCII", "type");
  }
  return Status::Ok();
}

Status ValidateNewEvent(const NewEvent& e, const LogOptions& options) {
  if (Status s = ValidateEventType(e.type); !s.ok()) {
    return Status::InvalidArgument(s.message(), "type");
  }
  if (e.data.size() > options.max_event_bytes) {
    return Status::TooLarge("event data is " + std::to_string(e.data.size()) +
                                " bytes, over the limit of " +
                                std::to_string(options.max_event_bytes),
                            "data");
  }
  if (e.id.size() > kMaxEventIdBytes || !AllBytesIn(e.id, '!', '~')) {
    return Status::InvalidArgument("event id must be at most 128 printable ASCII characters", "id");
  }
  const auto& m = e.metadata;
  for (const std::string* v : {&m.command_id, &m.correlation_id, &m.causation_id, &m.user_id}) {
    if (v->size() > kMaxMetadataFieldBytes) {
      return Status::TooLarge("metadata fields are limited to 1024 bytes", "metadata");
    }
  }
  return Status::Ok();
}

// A topic and the published high-water mark of each partition. Never destroyed while the Log
// lives, so pointers to it stay valid.
struct TopicState {
  std::string name;
  TopicId id;
  uint32_t partitions = 0;
  // Next offset of each partition. Written by the group leader after a commit (release), read
  // by anyone (acquire): every offset below it is committed and readable.
  std::unique_ptr<std::atomic<uint64_t>[]> high_water;
};

// One caller's append waiting in the group-commit queue. Lives on the caller's stack.
struct PendingAppend {
  AppendRequest* request = nullptr;
  TopicState* topic = nullptr;
  PartitionId partition;
  std::vector<std::string> envelopes;  // encoded by the caller, patched by the leader
  size_t bytes = 0;
  bool has_caller_ids = false;  // only ids a caller chose can already be stored
  Result<AppendResult> result = Status::Internal("append not processed");
  // Set (under queue_mu) when this append reaches the front of the queue: its thread leads.
  std::atomic<bool> lead{false};
  // Set by the leader after filling `result`: its last touch of this object.
  std::atomic<bool> done{false};
  // While this append's thread gathers a group, arrivals wake it here (under queue_mu).
  std::condition_variable gather_cv;
};

struct Log::Rep {
  Store* store = nullptr;
  rocksdb::DB* db = nullptr;
  Family* log_cf = nullptr;
  Family* streams_cf = nullptr;
  Family* heads_cf = nullptr;  // stream id -> its last version (8 bytes): one Get, no scan
  Family* ids_cf = nullptr;
  Family* topics_cf = nullptr;

  mutable std::shared_mutex topics_mu;
  std::map<std::string, std::unique_ptr<TopicState>, std::less<>> topics;  // GUARDED_BY(topics_mu)
  std::vector<TopicState*> topics_by_id;                                   // GUARDED_BY(topics_mu)
  std::mutex create_topic_mu;  // serialises topic creation

  std::mutex queue_mu;
  std::deque<PendingAppend*> queue;  // GUARDED_BY(queue_mu)
  // Every queued appender waits on this one word (FutexWait) for `done` or `lead`; a leader
  // bumps it once per group, so its whole group wakes with one call instead of one per member
  // (a condition variable per appender, woken one by one, measured 10-20 % slower).
  std::atomic<uint32_t> wake_epoch{0};
  bool closed = false;               // GUARDED_BY(queue_mu)
  // Group-commit gathering (LogOptions::max_group_wait_us), all GUARDED_BY(queue_mu):
  size_t concurrent_appenders = 1;  // appenders in and behind the last group
  size_t gather_until = 0;          // while a leader gathers: the queue length it waits for
  double write_micros_avg = 0;      // moving average of one group's durable write

  // Writer state: touched only by the current group leader.
  uint64_t next_seq = 1;
  std::unordered_map<std::string, uint64_t> stream_heads;  // cache of streams' last versions
  size_t max_cached_heads = 0;                             // LogOptions::max_cached_stream_heads
  std::function<Status()> write_fault;                     // test hook, set before use

  // Published after each commit (release); readers acquire.
  std::atomic<uint64_t> committed_seq{0};
  mutable std::mutex wait_mu;
  mutable std::condition_variable wait_cv;
  std::atomic<bool> wait_closed{false};

  std::atomic<uint64_t> stat_appends{0}, stat_events{0}, stat_duplicates{0}, stat_conflicts{0},
      stat_groups{0}, stat_fsyncs{0};

  TopicState* FindTopic(std::string_view name) const {
    std::shared_lock lock(topics_mu);
    auto it = topics.find(name);
    return it == topics.end() ? nullptr : it->second.get();
  }
  TopicState* TopicById(TopicId id) const {
    std::shared_lock lock(topics_mu);
    return id.value() < topics_by_id.size() ? topics_by_id[id.value()] : nullptr;
  }
  std::vector<TopicState*> AllTopics() const {
    std::shared_lock lock(topics_mu);
    std::vector<TopicState*> out;
    for (const auto& [name, t] : topics) out.push_back(t.get());
    return out;
  }
  Result<std::optional<std::string>> GetEnvelope(std::string_view log_key) const {
    return store->Get(log_cf, log_key);
  }
  // The envelope of the stored event with this id, or nothing. A generated id holds the event's
  // position; any other id (and a generated one that did not fit) is in the ids family.
  Result<std::optional<std::string>> FindEnvelopeById(std::string_view id) const {
    if (std::optional<std::string> key = env::PositionalEventIdKey(id)) {
      Result<std::optional<std::string>> stored = GetEnvelope(*key);
      if (!stored.ok()) return stored.status();
      // Any version 8 UUID decodes to some position: only the event stored there with this
      // very id is a match.
      if (stored->has_value() && EventView(**stored).id() == id) return stored;
    }
    Result<std::optional<std::string>> key = store->Get(ids_cf, id);
    if (!key.ok() || !key->has_value()) return key;
    Result<std::optional<std::string>> stored = GetEnvelope(**key);
    if (!stored.ok()) return stored.status();
    if (!stored->has_value()) {
      return Status::Corruption("event id " + std::string(id) + " points at a missing event");
    }
    return stored;
  }
  // The stream's last committed version, 0 when it has no events.
  Result<uint64_t> ReadHead(std::string_view stream) const {
    Result<std::optional<std::string>> stored = store->Get(heads_cf, stream);
    if (!stored.ok()) return stored.status();
    if (!stored->has_value()) return uint64_t{0};
    if ((*stored)->size() != 8) return Status::Corruption("bad head of stream " + std::string(stream));
    return bytes::GetBigEndian64(**stored);
  }
  void NotifyWaiters() {
    std::lock_guard lock(wait_mu);
    wait_cv.notify_all();
  }

  // Called by a new leader under queue_mu. Closed-loop clients (each waiting for its append
  // before sending the next) otherwise split into two cohorts: the group in flight and the
  // appenders queued behind it, so every fsync carries only half of them. Waiting a fraction of
  // an fsync for the last group's appenders to return lets one fsync carry them all.
  void GatherGroup(std::unique_lock<std::mutex>& lock, const LogOptions& options, SyncMode sync) {
    if (options.max_group_wait_us == 0 || sync != SyncMode::kAlways) return;
    const size_t want = std::min(concurrent_appenders, options.max_group_appends);
    if (want <= 1 || queue.size() >= want) return;
    const double wait_us = std::min<double>(options.max_group_wait_us, write_micros_avg / 4);
    if (wait_us < 1) return;
    const auto deadline =
        std::chrono::steady_clock::now() + std::chrono::microseconds(static_cast<int64_t>(wait_us));
    gather_until = want;
    queue.front()->gather_cv.wait_until(lock, deadline,
                                        [&] { return queue.size() >= want || closed; });
    gather_until = 0;
  }
};

// ---- The group-commit writer ------------------------------------------------------------------

// What the leader changes while building one group, so a failed write can be undone.
struct GroupUndo {
  uint64_t next_seq = 0;
  std::vector<std::pair<std::string, std::optional<uint64_t>>> stream_heads;
};

class Log::Writer {
 public:
  explicit Writer(Log::Rep* rep) : rep_(rep) {}

  // Checks and writes `group` as one WriteBatch; fills every member's result.
  void CommitGroup(const std::vector<PendingAppend*>& group) {
    // The cache of stream heads is bounded: every earlier group is committed, so the `heads`
    // family holds what the cache would, and it refills from there.
    if (rep_->stream_heads.size() > rep_->max_cached_heads) rep_->stream_heads.clear();
    BatchConcatenation joined;
    GroupUndo undo;
    undo.next_seq = rep_->next_seq;
    next_offsets_.clear();
    group_ids_.clear();
    std::vector<PendingAppend*> written;
    for (PendingAppend* p : group) {
      if (Stage(p, &joined, &undo)) written.push_back(p);
    }
    if (joined.Count() == 0) return;  // all duplicates or conflicts: nothing to write
    rocksdb::WriteBatch batch = joined.Finish();

    Status s = rep_->write_fault ? rep_->write_fault() : Status::Ok();
    if (s.ok()) s = rep_->store->WriteRocksBatch(&batch, /*durable=*/true);
    if (!s.ok()) {
      spdlog::error("log write of a group of {} appends failed: {}", group.size(), s.ToString());
      Undo(undo);
      for (PendingAppend* p : written) p->result = s;
      return;
    }
    Publish(written);
  }

 private:
  // Checks one append and adds its writes to `joined`. Returns whether it wrote anything.
  bool Stage(PendingAppend* p, BatchConcatenation* joined, GroupUndo* undo) {
    AppendRequest& req = *p->request;
    // Ids the log generates are fresh: only a caller's ids can be stored already.
    if (p->has_caller_ids && SettledByStoredIds(p)) return false;
    Result<uint64_t> head = StreamHead(req.stream);
    if (!head.ok()) {
      p->result = head.status();
      return false;
    }
    if (!req.expected.Accepts(StreamVersion(*head))) {
      rep_->stat_conflicts.fetch_add(1, std::memory_order_relaxed);
      p->result = Status::Conflict("stream " + req.stream + " is at version " +
                                   std::to_string(*head) + ", expected " +
                                   req.expected.ToString());
      return false;
    }

    AppendResult result;
    rocksdb::WriteBatch* batch = &append_batch_;
    batch->Clear();
    uint64_t& next_offset = NextOffset(p->topic, p->partition);
    uint64_t version = *head;
    // One stream-index entry for the whole append: its events are consecutive in the stream and
    // in the partition.
    batch->Put(HandleOf(rep_->streams_cf), env::StreamIndexKey(req.stream, StreamVersion(version + 1)),
               env::StreamRun(p->topic->id, p->partition, Offset(next_offset),
                              static_cast<uint32_t>(req.events.size())));
    result.positions.reserve(req.events.size());
    for (size_t i = 0; i < req.events.size(); ++i) {
      ++version;
      const Offset offset(next_offset++);
      const Seq seq(rep_->next_seq++);
      std::string& envelope = p->envelopes[i];
      env::Patch(&envelope, p->partition, offset, seq, StreamVersion(version));
      std::string& id = req.events[i].id;
      const bool caller_id = !id.empty();
      bool indexed = true;  // a caller's id, or one that cannot hold the position
      if (!caller_id) {     // the log names the event: by its position when that fits
        std::optional<std::string> positional =
            env::PositionalEventId(p->topic->id, p->partition, offset);
        indexed = !positional.has_value();
        id = positional ? std::move(*positional) : NewUuid();
        env::PatchId(&envelope, id);
      }
      const std::string log_key = env::LogKey(p->topic->id, p->partition, offset);
      batch->Put(HandleOf(rep_->log_cf), log_key, envelope);
      if (indexed) batch->Put(HandleOf(rep_->ids_cf), id, log_key);
      result.positions.push_back(Position{p->topic->name, p->partition, offset, seq});
      // Only a caller's id can be named again by a later append of this group.
      if (caller_id) {
        group_ids_.emplace(id, GroupEvent{result.positions.back(), StreamVersion(version)});
      }
    }
    result.version = StreamVersion(version);
    std::string head_value;
    bytes::PutBigEndian64(&head_value, version);
    batch->Put(HandleOf(rep_->heads_cf), req.stream, head_value);
    undo->stream_heads.emplace_back(req.stream, CachedHead(req.stream));
    rep_->stream_heads[req.stream] = version;
    joined->Append(*batch);
    joined->Append(*RocksBatchOf(req.state_writes));
    p->result = std::move(result);
    return true;
  }

  // If every event id of the append is already stored (or staged earlier in this group), sets
  // the original result; if only some are, a conflict; on a read error, that error. Returns
  // whether it set the result (if not, none of the ids is stored).
  bool SettledByStoredIds(PendingAppend* p) {
    const AppendRequest& req = *p->request;
    AppendResult original;
    original.duplicate = true;
    size_t found = 0;
    for (const NewEvent& e : req.events) {
      if (e.id.empty()) continue;  // the log names it: it cannot be stored yet
      if (auto it = group_ids_.find(e.id); it != group_ids_.end()) {
        original.positions.push_back(it->second.position);
        original.version = it->second.version;
        ++found;
        continue;
      }
      Result<std::optional<std::string>> stored = rep_->FindEnvelopeById(e.id);
      if (!stored.ok()) {
        p->result = stored.status();
        return true;
      }
      if (!stored->has_value()) continue;
      EventView view(**stored);
      original.positions.push_back(
          Position{std::string(view.topic()), view.partition(), view.offset(), view.seq()});
      original.version = view.version();
      ++found;
    }
    if (found == 0) return false;
    if (found < req.events.size()) {
      rep_->stat_conflicts.fetch_add(1, std::memory_order_relaxed);
      p->result = Status::Conflict(
          "some events of this append are already stored (by id) and others are not, or have "
          "no id; retry with the original events or with new ids");
      return true;
    }
    rep_->stat_duplicates.fetch_add(1, std::memory_order_relaxed);
    p->result = std::move(original);
    return true;
  }

  std::optional<uint64_t> CachedHead(const std::string& stream) const {
    auto it = rep_->stream_heads.find(stream);
    if (it == rep_->stream_heads.end()) return std::nullopt;
    return it->second;
  }

  // The stream's last committed (or staged) version, from the cache or the heads family.
  Result<uint64_t> StreamHead(const std::string& stream) {
    if (auto cached = CachedHead(stream)) return *cached;
    Result<uint64_t> head = rep_->ReadHead(stream);
    if (head.ok()) rep_->stream_heads.emplace(stream, *head);
    return head;
  }

  uint64_t& NextOffset(TopicState* topic, PartitionId partition) {
    const uint64_t key = (uint64_t(topic->id.value()) << 32) | partition.value();
    auto [it, inserted] = next_offsets_.try_emplace(key, 0);
    if (inserted) {
      it->second = topic->high_water[partition.value()].load(std::memory_order_relaxed);
    }
    return it->second;
  }

  void Undo(const GroupUndo& undo) {
    rep_->next_seq = undo.next_seq;
    // Restore in reverse so a stream appended twice in the group gets its oldest value back.
    for (auto it = undo.stream_heads.rbegin(); it != undo.stream_heads.rend(); ++it) {
      if (it->second.has_value()) {
        rep_->stream_heads[it->first] = *it->second;
      } else {
        rep_->stream_heads.erase(it->first);
      }
    }
  }

  // Makes a committed group visible: high-water marks first, then the global seq, so a reader
  // that sees seq s also sees every partition's offsets up to it.
  void Publish(const std::vector<PendingAppend*>& written) {
    uint64_t events = 0;
    for (PendingAppend* p : written) {
      const auto& positions = p->result->positions;
      p->topic->high_water[p->partition.value()].store(positions.back().offset.value() + 1,
                                                        std::memory_order_release);
      events += positions.size();
    }
    rep_->committed_seq.store(rep_->next_seq - 1, std::memory_order_release);
    rep_->stat_appends.fetch_add(written.size(), std::memory_order_relaxed);
    rep_->stat_events.fetch_add(events, std::memory_order_relaxed);
    rep_->stat_groups.fetch_add(1, std::memory_order_relaxed);
    if (rep_->store->options().sync == SyncMode::kAlways) {
      rep_->stat_fsyncs.fetch_add(1, std::memory_order_relaxed);
    }
    rep_->NotifyWaiters();
  }

  struct GroupEvent {
    Position position;
    StreamVersion version;
  };
  Log::Rep* rep_;
  rocksdb::WriteBatch append_batch_;  // one append's log writes, reused
  std::unordered_map<uint64_t, uint64_t> next_offsets_;  // (topic id, partition) -> next offset
  std::unordered_map<std::string, GroupEvent> group_ids_;  // event ids staged in this group
};

// ---- Open, topics -----------------------------------------------------------------------------

Log::Log(Store* store, const LogOptions& options)
    : store_(store), options_(options), rep_(std::make_unique<Rep>()) {}

Log::~Log() { Close(); }

Result<std::unique_ptr<Log>> Log::Open(Store* store, const LogOptions& options) {
  if (options.default_partitions == 0 || options.default_partitions > kMaxPartitions) {
    return Status::InvalidArgument("default partitions must be 1-4096", "partitions");
  }
  std::unique_ptr<Log> log(new Log(store, options));
  Rep& rep = *log->rep_;
  rep.store = store;
  rep.db = store->db();
  rep.max_cached_heads = options.max_cached_stream_heads;
  struct {
    const char* name;
    FamilyKind kind;
    Family** slot;
  } families[] = {{"log", FamilyKind::kOrdered, &rep.log_cf},
                  {"streams", FamilyKind::kOrdered, &rep.streams_cf},
                  {"heads", FamilyKind::kPointLookup, &rep.heads_cf},
                  {"ids", FamilyKind::kPointLookup, &rep.ids_cf},
                  {"topics", FamilyKind::kOrdered, &rep.topics_cf}};
  for (auto& f : families) {
    Result<Family*> family = store->OpenFamily(f.name, f.kind);
    if (!family.ok()) return family.status();
    *f.slot = *family;
  }

  CAIRN_RETURN_IF_ERROR(CheckAndRecordFormat(store));

  // Topics, then each partition's high-water mark and the global seq from the last event of
  // each partition.
  std::vector<std::pair<std::string, std::string>> stored;
  CAIRN_RETURN_IF_ERROR(store->Scan(rep.topics_cf, "", "", [&](auto key, auto value) {
    stored.emplace_back(std::string(key), std::string(value));
    return true;
  }));
  uint64_t last_seq = 0;
  for (auto& [name, value] : stored) {
    if (value.size() != 8) return Status::Corruption("bad metadata of topic " + name);
    auto topic = std::make_unique<TopicState>();
    topic->name = name;
    topic->id = TopicId(bytes::GetBigEndian32(value));
    topic->partitions = bytes::GetBigEndian32(std::string_view(value).substr(4));
    topic->high_water = std::make_unique<std::atomic<uint64_t>[]>(topic->partitions);
    for (uint32_t p = 0; p < topic->partitions; ++p) {
      uint64_t hwm = 0;
      const PartitionId pid(p);
      CAIRN_RETURN_IF_ERROR(store->Scan(
          rep.log_cf, env::LogKey(topic->id, pid, Offset(0)),
          env::LogKeyPartitionEnd(topic->id, pid),
          [&](std::string_view key, std::string_view envelope) {
            hwm = env::LogKeyOffset(key).value() + 1;
            last_seq = std::max(last_seq, EventView(envelope).seq().value());
            return false;
          },
          /*reverse=*/true));
      topic->high_water[p].store(hwm);
    }
    if (rep.topics_by_id.size() <= topic->id.value()) rep.topics_by_id.resize(topic->id.value() + 1);
    rep.topics_by_id[topic->id.value()] = topic.get();
    rep.topics.emplace(name, std::move(topic));
  }
  rep.next_seq = last_seq + 1;
  rep.committed_seq.store(last_seq);
  spdlog::info("log open: {} topics, last seq {}", rep.topics.size(), last_seq);
  return log;
}

namespace {
TopicInfo Describe(const TopicState& t) {
  TopicInfo info{t.name, t.id, t.partitions, {}};
  for (uint32_t p = 0; p < t.partitions; ++p) {
    info.partition_info.push_back(
        PartitionInfo{PartitionId(p), Offset(t.high_water[p].load(std::memory_order_acquire))});
  }
  return info;
}
}  // namespace

Result<TopicInfo> Log::CreateTopic(const std::string& name, uint32_t partitions) {
  CAIRN_RETURN_IF_ERROR(ValidateTopicName(name));
  if (partitions == 0 || partitions > kMaxPartitions) {
    return Status::InvalidArgument("partitions must be 1-4096", "partitions");
  }
  std::lock_guard create_lock(rep_->create_topic_mu);
  if (TopicState* existing = rep_->FindTopic(name)) {
    if (existing->partitions != partitions) {
      return Status::Conflict("topic " + name + " exists with " +
                              std::to_string(existing->partitions) + " partitions");
    }
    return Describe(*existing);
  }
  auto topic = std::make_unique<TopicState>();
  topic->name = name;
  {
    std::shared_lock lock(rep_->topics_mu);
    topic->id = TopicId(static_cast<uint32_t>(rep_->topics_by_id.size()));
  }
  topic->partitions = partitions;
  topic->high_water = std::make_unique<std::atomic<uint64_t>[]>(partitions);
  std::string value;
  bytes::PutBigEndian32(&value, topic->id.value());
  bytes::PutBigEndian32(&value, partitions);
  WriteBatch batch;
  batch.Put(rep_->topics_cf, name, value);
  CAIRN_RETURN_IF_ERROR(store_->Write(batch, /*durable=*/true));
  TopicInfo info = Describe(*topic);
  {
    std::unique_lock lock(rep_->topics_mu);
    rep_->topics_by_id.push_back(topic.get());
    rep_->topics.emplace(name, std::move(topic));
  }
  spdlog::info("created topic {} with {} partitions", name, partitions);
  return info;
}

std::vector<TopicInfo> Log::Topics() const {
  std::vector<TopicInfo> out;
  for (TopicState* t : rep_->AllTopics()) out.push_back(Describe(*t));
  return out;
}

Result<TopicInfo> Log::GetTopic(std::string_view name) const {
  TopicState* t = rep_->FindTopic(name);
  if (!t) return Status::NotFound("topic " + std::string(name) + " does not exist");
  return Describe(*t);
}

// ---- Append -----------------------------------------------------------------------------------

namespace {

Status ValidateEvent(const NewEvent& e, size_t index, const LogOptions& options) {
  Status s = ValidateNewEvent(e, options);
  if (s.ok()) return s;
  return Status(s.code(), s.message(), "events[" + std::to_string(index) + "]." + s.field());
}

}  // namespace

Result<AppendResult> Log::Append(AppendRequest req) {
  CAIRN_RETURN_IF_ERROR(ValidateTopicName(req.topic));
  CAIRN_RETURN_IF_ERROR(ValidateStreamId(req.stream));
  if (req.events.empty()) return Status::InvalidArgument("an append needs at least one event", "events");
  if (req.events.size() > options_.max_events_per_append) {
    return Status::TooLarge("an append may carry at most " +
                                std::to_string(options_.max_events_per_append) + " events",
                            "events");
  }
  std::unordered_set<std::string_view> ids;
  for (size_t i = 0; i < req.events.size(); ++i) {
    CAIRN_RETURN_IF_ERROR(ValidateEvent(req.events[i], i, options_));
    if (!req.events[i].id.empty() && !ids.insert(req.events[i].id).second) {
      return Status::InvalidArgument("event id " + req.events[i].id + " appears twice",
                                     "events[" + std::to_string(i) + "].id");
    }
  }

  TopicState* topic = rep_->FindTopic(req.topic);
  if (!topic) {
    if (!options_.auto_create_topics) {
      return Status::NotFound("topic " + req.topic + " does not exist");
    }
    Result<TopicInfo> created = CreateTopic(req.topic, options_.default_partitions);
    if (!created.ok()) return created.status();
    topic = rep_->FindTopic(req.topic);
  }

  // Encode in the caller's thread so the leader only patches positions in place.
  PendingAppend pending;
  pending.request = &req;
  pending.topic = topic;
  pending.partition = PartitionForKey(StreamKey(req.stream), topic->partitions);
  pending.envelopes.reserve(req.events.size());
  const int64_t now = NowMicros();
  for (NewEvent& e : req.events) {
    pending.has_caller_ids |= !e.id.empty();  // the writer names the others
    if (e.timestamp_us == 0) e.timestamp_us = now;
    pending.envelopes.push_back(env::Encode(e, req.topic, req.stream));
    pending.bytes += pending.envelopes.back().size();
  }
  pending.bytes += req.state_writes.ByteSize();

  std::unique_lock lock(rep_->queue_mu);
  if (rep_->closed) return Status(ErrorCode::kShuttingDown, "the log is closing");
  rep_->queue.push_back(&pending);
  if (rep_->queue.size() == 1) {
    pending.lead.store(true, std::memory_order_relaxed);
  } else if (rep_->gather_until != 0 && rep_->queue.size() >= rep_->gather_until) {
    rep_->queue.front()->gather_cv.notify_one();  // the gathering leader has its group
  }
  lock.unlock();
  for (;;) {
    const uint32_t epoch = rep_->wake_epoch.load(std::memory_order_acquire);
    if (pending.done.load(std::memory_order_acquire)) return std::move(pending.result);
    if (pending.lead.load(std::memory_order_acquire)) break;
    FutexWait(rep_->wake_epoch, epoch);
  }

  // This thread leads: take a group from the front of the queue and commit it unlocked.
  lock.lock();
  rep_->GatherGroup(lock, options_, store_->options().sync);
  std::vector<PendingAppend*> group;
  size_t group_bytes = 0;
  for (PendingAppend* p : rep_->queue) {
    if (!group.empty() && (group.size() >= options_.max_group_appends ||
                           group_bytes + p->bytes > options_.max_group_bytes)) {
      break;
    }
    group.push_back(p);
    group_bytes += p->bytes;
  }
  lock.unlock();
  const auto write_start = std::chrono::steady_clock::now();
  Writer(rep_.get()).CommitGroup(group);
  const double write_micros =
      std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - write_start)
          .count();
  lock.lock();
  for (size_t i = 0; i < group.size(); ++i) rep_->queue.pop_front();
  rep_->concurrent_appenders = group.size() + rep_->queue.size();
  rep_->write_micros_avg = rep_->write_micros_avg == 0
                               ? write_micros
                               : 0.8 * rep_->write_micros_avg + 0.2 * write_micros;
  // The next leader is still queued, so it cannot vanish before it reads `lead`.
  if (!rep_->queue.empty()) rep_->queue.front()->lead.store(true, std::memory_order_release);
  lock.unlock();
  // After `done` a member may return and destroy its PendingAppend: nothing touches it after.
  for (PendingAppend* p : group) {
    if (p != &pending) p->done.store(true, std::memory_order_release);
  }
  rep_->wake_epoch.fetch_add(1, std::memory_order_release);
  FutexWakeAll(rep_->wake_epoch);
  return std::move(pending.result);
}

// ---- Reads ------------------------------------------------------------------------------------

// Options of sequential reads of the log (partition scans, cursors). They bypass the block
// cache: a scan reads each block once, and filling the cache costs far more than it saves
// (allocating and inserting every block made a cold scan ~8x slower on the benchmark VM), and
// it would evict the read models' hot blocks. Blocks come from the OS page cache instead.
namespace {
rocksdb::ReadOptions LogScanOptions() {
  rocksdb::ReadOptions ro;
  ro.fill_cache = false;
  return ro;
}
}  // namespace

Status Log::ScanPartition(std::string_view topic_name, PartitionId partition, Offset from,
                          Offset to, const EventVisitor& visit) const {
  TopicState* topic = rep_->FindTopic(topic_name);
  if (!topic) return Status::NotFound("topic " + std::string(topic_name) + " does not exist");
  if (partition.value() >= topic->partitions) {
    return Status::NotFound("topic " + topic->name + " has no partition " +
                            std::to_string(partition.value()));
  }
  const Offset hwm(topic->high_water[partition.value()].load(std::memory_order_acquire));
  const Offset end = std::min(to, hwm);
  if (from >= end) return Status::Ok();
  const std::string lower = env::LogKey(topic->id, partition, from);
  const std::string upper = env::LogKey(topic->id, partition, end);
  const rocksdb::Slice upper_slice(upper);
  rocksdb::ReadOptions ro = LogScanOptions();
  ro.iterate_upper_bound = &upper_slice;
  std::unique_ptr<rocksdb::Iterator> it(rep_->db->NewIterator(ro, HandleOf(rep_->log_cf)));
  for (it->Seek(lower); it->Valid(); it->Next()) {
    if (!visit(EventView(ToView(it->value())))) break;
  }
  return FromRocks(it->status(), "log read");
}

Result<std::vector<Event>> Log::ReadPartition(std::string_view topic, PartitionId partition,
                                              Offset from, size_t max_events,
                                              size_t max_bytes) const {
  std::vector<Event> out;
  size_t bytes = 0;
  Status s = ScanPartition(topic, partition, from, Offset(UINT64_MAX), [&](const EventView& e) {
    if (out.size() >= max_events || (!out.empty() && bytes + e.envelope().size() > max_bytes)) {
      return false;
    }
    bytes += e.envelope().size();
    out.push_back(e.ToEvent());
    return true;
  });
  if (!s.ok()) return s;
  return out;
}

Result<std::vector<Event>> Log::ReadStream(std::string_view stream, StreamVersion from,
                                           size_t max_events) const {
  CAIRN_RETURN_IF_ERROR(ValidateStreamId(stream));
  from = StreamVersion(std::max<uint64_t>(from.value(), 1));
  // The stream's runs (one per append) from the one holding `from`.
  const std::string lower = env::StreamKeyPrefix(stream);
  const std::string upper = env::StreamKeyPrefixEnd(stream);
  const rocksdb::Slice lower_slice(lower), upper_slice(upper);
  rocksdb::ReadOptions ro;
  ro.iterate_lower_bound = &lower_slice;
  ro.iterate_upper_bound = &upper_slice;
  std::unique_ptr<rocksdb::Iterator> it(rep_->db->NewIterator(ro, HandleOf(rep_->streams_cf)));
  it->SeekForPrev(env::StreamIndexKey(stream, from));
  if (!it->Valid()) it->Seek(lower_slice);
  std::vector<Event> out;
  for (; it->Valid() && out.size() < max_events; it->Next()) {
    const uint64_t first = env::StreamIndexVersion(ToView(it->key())).value();
    Result<env::Run> run = env::ParseStreamRun(ToView(it->value()));
    if (!run.ok()) return run.status();
    for (uint32_t i = 0; i < run->count && out.size() < max_events; ++i) {
      if (first + i < from.value()) continue;
      const std::string key =
          env::LogKey(run->topic, run->partition, Offset(run->first_offset.value() + i));
      Result<std::optional<std::string>> envelope = rep_->GetEnvelope(key);
      if (!envelope.ok()) return envelope.status();
      if (!envelope->has_value()) {
        return Status::Corruption("stream " + std::string(stream) + " points at a missing event");
      }
      out.push_back(EventView(**envelope).ToEvent());
    }
  }
  CAIRN_RETURN_IF_ERROR(FromRocks(it->status(), "stream read"));
  return out;
}

Result<StreamVersion> Log::StreamHead(std::string_view stream) const {
  CAIRN_RETURN_IF_ERROR(ValidateStreamId(stream));
  Result<uint64_t> head = rep_->ReadHead(stream);
  if (!head.ok()) return head.status();
  return StreamVersion(*head);
}

Result<Event> Log::ReadEvent(std::string_view event_id) const {
  Result<std::optional<std::string>> envelope = rep_->FindEnvelopeById(event_id);
  if (!envelope.ok()) return envelope.status();
  if (!envelope->has_value()) return Status::NotFound("no event with id " + std::string(event_id));
  return EventView(**envelope).ToEvent();
}

Result<Event> Log::ReadAt(std::string_view topic_name, PartitionId partition, Offset offset) const {
  TopicState* topic = rep_->FindTopic(topic_name);
  if (!topic) return Status::NotFound("topic " + std::string(topic_name) + " does not exist");
  if (partition.value() >= topic->partitions ||
      offset.value() >= topic->high_water[partition.value()].load(std::memory_order_acquire)) {
    return Status::NotFound("no event at " + Position{topic->name, partition, offset, Seq()}.ToString());
  }
  Result<std::optional<std::string>> envelope =
      rep_->GetEnvelope(env::LogKey(topic->id, partition, offset));
  if (!envelope.ok()) return envelope.status();
  if (!envelope->has_value()) return Status::Corruption("missing event below the high-water mark");
  return EventView(**envelope).ToEvent();
}

Offset Log::HighWaterMark(std::string_view topic_name, PartitionId partition) const {
  TopicState* topic = rep_->FindTopic(topic_name);
  if (!topic || partition.value() >= topic->partitions) return Offset(0);
  return Offset(topic->high_water[partition.value()].load(std::memory_order_acquire));
}

Seq Log::LastSeq() const { return Seq(rep_->committed_seq.load(std::memory_order_acquire)); }

namespace {

// The first offset in [0, hwm) of the partition whose event has seq > after (binary search:
// seq grows with offset inside a partition).
Result<Offset> FirstOffsetAfter(const Store& store, Family* log_cf, const TopicState& topic,
                                PartitionId partition, Seq after) {
  uint64_t lo = 0, hi = topic.high_water[partition.value()].load(std::memory_order_acquire);
  if (after.value() == 0) return Offset(0);
  while (lo < hi) {
    const uint64_t mid = lo + (hi - lo) / 2;
    Result<std::optional<std::string>> env =
        store.Get(log_cf, env::LogKey(topic.id, partition, Offset(mid)));
    if (!env.ok()) return env.status();
    if (!env->has_value()) return Status::Corruption("missing event below the high-water mark");
    if (EventView(**env).seq() > after) {
      hi = mid;
    } else {
      lo = mid + 1;
    }
  }
  return Offset(lo);
}

}  // namespace

Result<std::vector<Offset>> Log::OffsetsAfterSeq(std::string_view topic_name, Seq after) const {
  TopicState* topic = rep_->FindTopic(topic_name);
  if (!topic) return Status::NotFound("topic " + std::string(topic_name) + " does not exist");
  std::vector<Offset> out;
  for (uint32_t p = 0; p < topic->partitions; ++p) {
    Result<Offset> o = FirstOffsetAfter(*store_, rep_->log_cf, *topic, PartitionId(p), after);
    if (!o.ok()) return o.status();
    out.push_back(*o);
  }
  return out;
}

bool Log::WaitForSeq(Seq seq, std::chrono::milliseconds timeout) const {
  std::unique_lock lock(rep_->wait_mu);
  return rep_->wait_cv.wait_for(lock, timeout, [&] {
    return LastSeq() >= seq || rep_->wait_closed.load();
  }) && LastSeq() >= seq;
}

bool Log::WaitFor(std::string_view topic, PartitionId partition, Offset offset,
                  std::chrono::milliseconds timeout) const {
  std::unique_lock lock(rep_->wait_mu);
  return rep_->wait_cv.wait_for(lock, timeout, [&] {
    return HighWaterMark(topic, partition) > offset || rep_->wait_closed.load();
  }) && HighWaterMark(topic, partition) > offset;
}

void Log::Close() {
  {
    std::lock_guard lock(rep_->queue_mu);
    rep_->closed = true;
    if (!rep_->queue.empty()) rep_->queue.front()->gather_cv.notify_one();  // stop gathering
  }
  rep_->wait_closed.store(true);
  rep_->NotifyWaiters();
}

Log::Stats Log::GetStats() const {
  Stats s;
  s.appends = rep_->stat_appends.load();
  s.events = rep_->stat_events.load();
  s.duplicates = rep_->stat_duplicates.load();
  s.conflicts = rep_->stat_conflicts.load();
  s.groups = rep_->stat_groups.load();
  s.fsyncs = rep_->stat_fsyncs.load();
  return s;
}

void Log::SetWriteFaultForTesting(std::function<Status()> fault) {
  // Taken under queue_mu so it does not race a leader that is between groups.
  std::lock_guard lock(rep_->queue_mu);
  rep_->write_fault = std::move(fault);
}

// ---- Cursor: events of several topics in seq order ---------------------------------------------

struct LogCursor::PartitionCursor {
  TopicState* topic;
  PartitionId partition;
  Offset next;
  // Scratch for one Next() call.
  std::string upper;
  rocksdb::Slice upper_slice;
  std::unique_ptr<rocksdb::Iterator> it;
  std::optional<EventView> head;  // the event `it` points at, decoded once for heap and visitor
};

LogCursor::LogCursor(const Log* log, std::vector<std::string> topics, Seq after)
    : log_(log), topics_(std::move(topics)), last_seq_(after), caught_up_to_(after) {}
LogCursor::~LogCursor() = default;

Result<std::unique_ptr<LogCursor>> Log::OpenCursor(std::vector<std::string> topics, Seq after) const {
  std::unique_ptr<LogCursor> cursor(new LogCursor(this, std::move(topics), after));
  CAIRN_RETURN_IF_ERROR(cursor->AddNewPartitions());
  return cursor;
}

// Picks up topics that appeared since the last call (they start after last_seq_).
Status LogCursor::AddNewPartitions() {
  std::vector<TopicState*> wanted;
  if (topics_.empty()) {
    wanted = log_->rep_->AllTopics();
  } else {
    for (const std::string& name : topics_) {
      if (TopicState* t = log_->rep_->FindTopic(name)) wanted.push_back(t);
    }
  }
  for (TopicState* t : wanted) {
    const bool known = std::any_of(partitions_.begin(), partitions_.end(),
                                   [&](const auto& pc) { return pc->topic == t; });
    if (known) continue;
    for (uint32_t p = 0; p < t->partitions; ++p) {
      Result<Offset> start =
          FirstOffsetAfter(*log_->store_, log_->rep_->log_cf, *t, PartitionId(p), last_seq_);
      if (!start.ok()) return start.status();
      partitions_.push_back(std::make_unique<PartitionCursor>(
          PartitionCursor{t, PartitionId(p), *start, {}, {}, nullptr, std::nullopt}));
    }
  }
  return Status::Ok();
}

Result<size_t> LogCursor::Next(size_t limit, const Log::EventVisitor& visit) {
  // Everything with seq <= bound is committed, and its partition's high-water mark (published
  // before the seq) covers it, so the merge below sees a gapless prefix of the log.
  const Seq bound = log_->LastSeq();
  if (bound <= last_seq_ || limit == 0) {
    caught_up_to_ = std::max(caught_up_to_, last_seq_);
    return size_t{0};
  }
  CAIRN_RETURN_IF_ERROR(AddNewPartitions());

  rocksdb::DB* db = log_->rep_->db;
  auto* cf = HandleOf(log_->rep_->log_cf);
  using HeapEntry = std::pair<uint64_t, size_t>;  // (seq, index into partitions_)
  std::priority_queue<HeapEntry, std::vector<HeapEntry>, std::greater<>> heap;
  for (size_t i = 0; i < partitions_.size(); ++i) {
    PartitionCursor& pc = *partitions_[i];
    const uint64_t hwm = pc.topic->high_water[pc.partition.value()].load(std::memory_order_acquire);
    pc.it.reset();
    if (pc.next.value() >= hwm) continue;
    pc.upper = env::LogKey(pc.topic->id, pc.partition, Offset(hwm));
    pc.upper_slice = rocksdb::Slice(pc.upper);
    rocksdb::ReadOptions ro = LogScanOptions();
    ro.iterate_upper_bound = &pc.upper_slice;
    pc.it.reset(db->NewIterator(ro, cf));
    pc.it->Seek(env::LogKey(pc.topic->id, pc.partition, pc.next));
    if (pc.it->Valid()) heap.emplace(pc.head.emplace(ToView(pc.it->value())).seq().value(), i);
    CAIRN_RETURN_IF_ERROR(FromRocks(pc.it->status(), "log read"));
  }

  size_t consumed = 0;
  bool exhausted = true;  // consumed everything with seq <= bound
  while (!heap.empty()) {
    auto [seq, i] = heap.top();
    if (seq > bound.value()) break;
    if (consumed == limit) {
      exhausted = false;
      break;
    }
    heap.pop();
    PartitionCursor& pc = *partitions_[i];
    if (!visit(*pc.head)) {
      exhausted = false;
      break;
    }
    last_seq_ = Seq(seq);
    pc.next = Offset(pc.head->offset().value() + 1);
    ++consumed;
    pc.it->Next();
    if (pc.it->Valid()) heap.emplace(pc.head.emplace(ToView(pc.it->value())).seq().value(), i);
    CAIRN_RETURN_IF_ERROR(FromRocks(pc.it->status(), "log read"));
  }
  for (auto& pc : partitions_) {
    pc->head.reset();  // views into the iterator's block
    pc->it.reset();
  }
  caught_up_to_ = exhausted ? bound : last_seq_;
  return consumed;
}

std::vector<LogCursor::PartitionPosition> LogCursor::positions() const {
  std::vector<PartitionPosition> out;
  for (const auto& pc : partitions_) out.push_back({pc->topic->name, pc->partition, pc->next});
  return out;
}

Status Log::ScanInSeqOrder(const std::vector<std::string>& topics, Seq after, size_t limit,
                           const EventVisitor& visit) const {
  Result<std::unique_ptr<LogCursor>> cursor = OpenCursor(topics, after);
  if (!cursor.ok()) return cursor.status();
  bool stopped = false;
  const EventVisitor until_stopped = [&](const EventView& e) { return !(stopped = !visit(e)); };
  size_t left = limit;
  while (left > 0 && !stopped) {
    Result<size_t> n = (*cursor)->Next(left, until_stopped);
    if (!n.ok()) return n.status();
    if (*n == 0) break;
    left -= *n;
  }
  return Status::Ok();
}

}  // namespace cairn
