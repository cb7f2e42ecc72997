// The partitioned log's private state (Log::Rep) and the structs its parts share: a topic with
// its published high-water marks, and an append waiting in the group-commit queue. Included by
// the files that implement include/cairn/log.h, and by nothing outside src/log:
//
//   topics.cc    Log::Open (families, format marker, restoring topics) and the topic catalogue
//   append.cc    Log::Append: validation, encoding and the group-commit queue and hand-over
//   writer.cc    Log::Writer (the leader's check, stage, write, publish), fault hook, stats
//   read_only.cc the read-only state after a failed write, and Log::Resume
//   reads.cc     point reads, partition and stream reads, high-water marks
//   cursor.cc    LogCursor and ScanInSeqOrder (events of several topics in seq order)
//   waits.cc     WaitForSeq, WaitFor and Close
//   log_rep.cc   the lookups the parts above share (events by id, stream heads, seq search)
//   validate.cc  the public validators; format.cc the on-disk format marker
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <shared_mutex>
#include <span>
#include <string>
#include <string_view>
#include <thread>
#include <unordered_map>
#include <vector>

#include "cairn/log.h"
#include "cairn/status.h"
#include "cairn/store.h"
#include "log/rocks.h"

namespace cairn {

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

// One append waiting in the group-commit queue. A synchronous Append's lives on its caller's
// stack; an AppendAsync's on the heap, owning its request, until its callback has run.
struct PendingAppend {
  AppendRequest* request = nullptr;
  // AppendAsync only: the request (`request` points at it) and the callback.
  std::unique_ptr<AppendRequest> owned_request;
  AppendCallback callback;
  bool is_async() const { return static_cast<bool>(callback); }
  TopicState* topic = nullptr;
  PartitionId partition;
  // The events' bodies, encoded by the caller back to back (the leader adds each a header):
  // body i ends at body_ends[i].
  std::string bodies;
  std::vector<size_t> body_ends;
  std::string_view body(size_t i) const {
    const size_t begin = i == 0 ? 0 : body_ends[i - 1];
    return std::string_view(bodies).substr(begin, body_ends[i] - begin);
  }
  size_t bytes = 0;
  bool has_caller_ids = false;  // only ids a caller chose can already be stored
  Result<AppendResult> result = Status::Internal("append not processed");
  // Synchronous appends only. Set (under queue_mu) when this append reaches the front of the
  // queue: its thread leads.
  std::atomic<bool> lead{false};
  // Synchronous appends only. Set by the leader after filling `result`: its last touch of this
  // object.
  std::atomic<bool> done{false};
  // While this append's thread gathers a group, arrivals wake it here (under queue_mu).
  std::condition_variable gather_cv;
};

// An event as it is stored: its log key and envelope.
struct StoredEvent {
  std::string key;
  std::string envelope;
};

struct Log::Rep {
  Store* store = nullptr;
  LogOptions options;
  rocksdb::DB* db = nullptr;
  Family* log_cf = nullptr;
  Family* streams_cf = nullptr;
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
  // Not ok while appends are refused (Log::RefuseAppends): what every append gets.
  Status refusal = Status::Ok();     // GUARDED_BY(queue_mu)
  // Where groups are published before they are written (LogOptions::upstream), or null.
  LogUpstream* upstream = nullptr;
  // Group-commit gathering (LogOptions::max_group_wait_us), all GUARDED_BY(queue_mu):
  size_t concurrent_appenders = 1;  // appenders in and behind the last group
  size_t gather_until = 0;          // while a leader gathers: the queue length it waits for
  double write_micros_avg = 0;      // moving average of one group's durable write

  // Writer state: touched only by the current group leader.
  uint64_t next_seq = 1;
  std::unordered_map<std::string, uint64_t> stream_heads;  // cache of streams' last versions
  size_t max_cached_heads = 0;                             // LogOptions::max_cached_stream_heads
  std::function<Status()> write_fault;                     // test hook, set before use

  // Read-only after a failed write (writer.cc): set by the leader whose write failed, cleared
  // by Log::Resume; read by anyone.
  std::atomic<bool> read_only{false};
  mutable std::mutex read_only_mu;  // after queue_mu when both are held
  std::string read_only_reason;     // GUARDED_BY(read_only_mu)
  std::mutex resume_mu;             // one Log::Resume at a time
  // What every append gets while the log is read-only: kBusy naming the failed write.
  Status ReadOnlyStatus() const;
  // Called by the leader with the error of a failed group write; keeps the first reason.
  void TurnReadOnly(const Status& error);

  // Published after each commit (release); readers acquire.
  std::atomic<uint64_t> committed_seq{0};
  mutable std::mutex wait_mu;
  mutable std::condition_variable wait_cv;
  std::atomic<bool> wait_closed{false};

  std::atomic<uint64_t> stat_appends{0}, stat_events{0}, stat_duplicates{0}, stat_conflicts{0},
      stat_groups{0}, stat_fsyncs{0};

  // ---- Opening (topics.cc)
  // Opens (or creates) the log's column families into the *_cf fields.
  Status OpenFamilies();
  // Loads every stored topic with its partitions' high-water marks; returns the last seq.
  Result<uint64_t> RestoreTopics();

  // ---- Lookups (log_rep.cc)
  TopicState* FindTopic(std::string_view name) const {
    std::shared_lock lock(topics_mu);
    auto it = topics.find(name);
    return it == topics.end() ? nullptr : it->second.get();
  }
  std::vector<TopicState*> AllTopics() const {
    std::shared_lock lock(topics_mu);
    std::vector<TopicState*> out;
    for (const auto& [name, t] : topics) out.push_back(t.get());
    return out;
  }
  TopicState* TopicById(TopicId id) const {
    std::shared_lock lock(topics_mu);
    return id.value() < topics_by_id.size() ? topics_by_id[id.value()] : nullptr;
  }
  Result<std::optional<std::string>> GetEnvelope(std::string_view log_key) const {
    return store->Get(log_cf, log_key);
  }
  // The stored event with this id, or nothing. A generated id holds the event's position; any
  // other id (and a generated one that did not fit) is in the ids family.
  Result<std::optional<StoredEvent>> FindEventById(std::string_view id) const;
  // A view of a stored event, its topic named from the key. REQUIRES: the key's topic exists.
  EventView ViewOf(const StoredEvent& stored) const;
  // The stream's last committed version (its last run in the stream index), 0 when it has no
  // events.
  Result<uint64_t> ReadHead(std::string_view stream) const;
  // The first offset in [0, hwm) of the partition whose event has seq > after.
  Result<Offset> FirstOffsetAfter(const TopicState& topic, PartitionId partition,
                                  Seq after) const;
  void NotifyWaiters() {
    std::lock_guard lock(wait_mu);
    wait_cv.notify_all();
  }

  // AppendAsync (async.cc). The queue's front append leads the next group: a synchronous one
  // in its own thread, an async one in the leader thread. Its callback then runs on the
  // callback thread, in commit order.
  bool async_started = false;              // GUARDED_BY(queue_mu)
  std::thread leader_thread;
  std::thread callback_thread;
  bool async_lead = false;                 // GUARDED_BY(queue_mu): an async front needs a leader
  bool stop_async = false;                 // GUARDED_BY(queue_mu): Close drained the queue
  std::condition_variable async_lead_cv;   // the leader thread waits here (queue_mu)
  std::condition_variable drained_cv;      // Close waits here for an empty queue (queue_mu)
  std::mutex callbacks_mu;                 // after queue_mu when both are held
  std::deque<PendingAppend*> completed;    // GUARDED_BY(callbacks_mu), in commit order
  bool stop_callbacks = false;             // GUARDED_BY(callbacks_mu)
  std::condition_variable callbacks_cv;    // the callback thread waits here (callbacks_mu)
  std::atomic<size_t> pending_async{0};    // AppendAsync appends not yet called back

  // Starts the leader and callback threads unless they run. Under queue_mu, before the log is
  // closed (so Close always finds them to stop).
  void StartAsyncThreads();
  // The leader thread: leads every group whose front append is async, until Close.
  void RunAsyncLeader();
  // The callback thread: runs the callbacks of completed async appends, in commit order, and
  // leads the next async group when the leader thread has not taken it yet.
  void RunCallbacks();
  // Whether the calling thread is this log's callback thread (RunCallbacks marks it). Takes no
  // lock: the waits ask it before anything else.
  bool OnCallbackThread() const;
  // The log whose callback thread the calling thread is, if any: per log, since a callback of
  // one log may append to another.
  static thread_local const Rep* callback_thread_of;
  // Called by the waits (waits.cc): on the callback thread, wakes the leader thread for a lead
  // the callback thread holds (async appends its callbacks queued, which it would only write
  // after the callback returns), so a callback that waits for one of them does not wait on
  // itself.
  void HandLeadToLeaderThread();
  // Claims the leader thread's turn (async_lead) for the calling thread; false when nobody
  // needs to lead or someone took it.
  bool TakeAsyncLead();
  // Close's part: waits for the queue to drain, then stops both threads.
  void StopAsyncThreads();

  // ---- The group-commit queue (append.cc)
  // Queues `pending`; when the queue was empty, makes its thread (synchronous) or the leader
  // thread (async; the callback thread for async appends its callbacks queue) the leader.
  // kShuttingDown once closed.
  Status Enqueue(PendingAppend* pending);
  // Enqueue for several at once: all of them, next to each other in order, or none.
  Status EnqueueAll(std::span<PendingAppend* const> pendings);
  // Takes `n` of LogOptions::max_pending_async's slots (pending_async) at once, or none
  // (kBusy; kTooLarge when n exceeds `max`).
  Status ReserveAsync(size_t n, size_t max);
  // Sleeps until a leader completed `pending` (false) or it reached the front of the queue and
  // its thread leads (true).
  bool AwaitTurn(PendingAppend& pending);
  // Run by the leader: commits a group from the front of the queue and hands leadership to the
  // next in line. `self` is the leading synchronous append, nullptr for the leader thread.
  void LeadGroup(PendingAppend* self, const LogOptions& options, SyncMode sync);
  // Called by a new leader under queue_mu: waits a fraction of an fsync for the last group's
  // appenders to queue again (LogOptions::max_group_wait_us).
  void GatherGroup(std::unique_lock<std::mutex>& lock, const LogOptions& options, SyncMode sync);
  // The appends from the front of the queue that one WriteBatch takes. Under queue_mu.
  std::vector<PendingAppend*> TakeGroup(const LogOptions& options) const;
  // Dequeues the committed group, records its write time, hands its async appends to the
  // callback thread (in commit order) and names the next leader. Under queue_mu.
  void PassLeadership(const std::vector<PendingAppend*>& group, double write_micros);
  // Marks the group's waiting synchronous members (all but the leading one) done and wakes
  // them, and wakes the callback thread when the group had async members. Touches no async
  // member: the callback thread may have deleted them already.
  void CompleteGroup(const std::vector<PendingAppend*>& waiters, bool any_async);
};

// Options of sequential reads of the log (partition scans, cursors). They bypass the block
// cache: a scan reads each block once, and filling the cache costs far more than it saves
// (allocating and inserting every block made a cold scan ~8x slower on the benchmark VM), and
// it would evict the read models' hot blocks. Blocks come from the OS page cache instead.
rocksdb::ReadOptions LogScanOptions();

// An iterator over one stream's entries in `streams`, the stream index (its runs, by first
// version), with the bounds it needs kept alive beside it.
class StreamRunIterator {
 public:
  StreamRunIterator(rocksdb::DB* db, Family* streams, std::string_view stream);
  StreamRunIterator(const StreamRunIterator&) = delete;  // the iterator points at the bounds
  StreamRunIterator& operator=(const StreamRunIterator&) = delete;
  rocksdb::Iterator& operator*() { return *it_; }
  rocksdb::Iterator* operator->() { return it_.get(); }
  const rocksdb::Slice& lower() const { return lower_slice_; }

 private:
  const std::string lower_, upper_;
  const rocksdb::Slice lower_slice_, upper_slice_;
  std::unique_ptr<rocksdb::Iterator> it_;
};

}  // namespace cairn
