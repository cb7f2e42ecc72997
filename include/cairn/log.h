// Cairn's partitioned, append-only event log: topics split into partitions with gapless offsets,
// streams with gapless versions and expected-version checks, idempotent appends and group commit.
// It replaces Kafka's topics (and the seed's "publish, then save" dual write): an append, its
// stream index entries and the aggregate's new state are one atomic WriteBatch.
//
// Thread-safety: every method may be called from any thread.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "cairn/status.h"
#include "cairn/store.h"
#include "cairn/types.h"

namespace cairn {

class Log;
class EventView;

// Where a log's events become durable and shared before the log acknowledges them: the Kafka
// log (include/cairn/kafka_log.h). A log without one (the default) is the RocksDB log alone.
// With one, the local log is the upstream's mirror: the writer node publishes each group there
// first and then writes it locally; other nodes copy what was published with Log::Replicate.
class LogUpstream {
 public:
  virtual ~LogUpstream() = default;
  // Publishes one group's new events, in seq order, before the group-commit writer writes them
  // locally; called by that writer only, never concurrently. Ok: they are committed upstream,
  // and `local_writes` may have gained writes (the upstream's read positions) that the log
  // commits in the group's WriteBatch. An error fails the whole group and nothing is written
  // locally: kBusy means nothing was committed upstream either (the log stays writable); any
  // other error turns the log read-only until Log::Resume, which calls Recover.
  virtual Status Publish(const std::vector<EventView>& events, WriteBatch* local_writes) = 0;
  // The partition count of a topic the log is about to create with `partitions` (the count it
  // was asked for): the upstream's own count when the topic exists there, else `partitions`
  // after creating it there. An error refuses the creation.
  virtual Result<uint32_t> CreateTopic(const std::string& name, uint32_t partitions) = 0;
  // Called by Log::Resume while the log is read-only after a failed Publish or local write:
  // makes the local log hold everything the upstream committed (Log::Replicate), so appends
  // can resume without reusing a seq. An error keeps the log read-only.
  virtual Status Recover(Log* log) = 0;
};

struct LogOptions {
  // Partitions of a topic created on first use. Default: 8.
  uint32_t default_partitions = 8;
  // Appending to an unknown topic creates it with default_partitions; if false it is kNotFound.
  // Default: true.
  bool auto_create_topics = true;
  // Largest `data` of one event, in bytes. Default: 1 MiB.
  size_t max_event_bytes = 1u << 20;
  // Most events in one append. Default: 10,000.
  size_t max_events_per_append = 10'000;
  // Most appends the writer combines into one WriteBatch (and one fsync). Default: 1,024.
  size_t max_group_appends = 1024;
  // Most bytes the writer combines into one WriteBatch. Default: 8 MiB.
  size_t max_group_bytes = 8u << 20;
  // With SyncMode::kAlways, how long a new group's leader may wait for the appenders that the
  // previous group just released to queue again, so that N concurrent writers share one fsync
  // instead of alternating between two half-size groups. The wait ends as soon as as many
  // appenders are queued as took part in the previous group, and never exceeds a quarter of
  // the recent fsync time, so it only ever trades a fraction of an fsync for a larger group.
  // A single writer never waits. 0 turns it off. Default: 1,000 µs.
  uint32_t max_group_wait_us = 1000;
  // Most AppendAsync appends in flight at once (queued, being written, or waiting for their
  // callback); past it AppendAsync refuses with kBusy at once. Default: 16,384.
  size_t max_pending_async = 16'384;
  // Streams whose last version the writer keeps in memory for the expected-version check (about
  // 100 bytes each); past that the cache starts over from the stream index. Default: 1,000,000.
  size_t max_cached_stream_heads = 1'000'000;
  // Where events are published before they are acknowledged (see LogUpstream). Default: none.
  std::shared_ptr<LogUpstream> upstream;
};

struct EventMetadata {
  std::string command_id;
  std::string correlation_id;
  std::string causation_id;
  std::string user_id;
  bool operator==(const EventMetadata&) const = default;
};

// An event as a caller hands it to Append.
struct NewEvent {
  // Unique id (a UUID is recommended), at most 128 bytes of printable ASCII. Empty: the log
  // names the event with a version 8 UUID that holds its position (no index entry; an append
  // retried without ids is a new append). A non-empty id that is already stored makes the
  // append idempotent (see Append).
  std::string id;
  // Non-empty, at most 128 bytes of printable ASCII, e.g. "ORDER_CREATED".
  std::string type;
  // The payload (JSON by convention; the log does not parse it). At most max_event_bytes.
  std::string data;
  EventMetadata metadata;
  // Microseconds since the Unix epoch, UTC. 0: the time of the append. Import keeps originals.
  int64_t timestamp_us = 0;
};

struct AppendRequest {
  std::string topic;
  // Stream id: 1-256 bytes of printable ASCII without '/', e.g. "order-6415...".
  std::string stream;
  ExpectedVersion expected = ExpectedVersion::Any();
  std::vector<NewEvent> events;
  // Written in the same WriteBatch as the events if, and only if, the append commits: the
  // aggregate's new state. Families must have been opened on the same Store.
  WriteBatch state_writes;
};

// An event as the writer node's log committed it, for Log::Replicate: the writer's seq, stream
// version and event fields. Its partition is the stream's (PartitionForKey) and its offset the
// next of that partition, here as there.
struct ReplicatedEvent {
  std::string topic;
  Seq seq;
  std::string stream;
  StreamVersion version;
  NewEvent event;  // id (never empty), type, data, metadata and timestamp as committed
};

struct AppendResult;
// Called exactly once with how an AppendAsync ended: what Append would have returned.
using AppendCallback = std::function<void(Result<AppendResult>)>;

// One append of Log::AppendAsyncAll: the request and the callback that gets its result.
struct AsyncAppend {
  AppendRequest request;
  AppendCallback done;
};

struct AppendResult {
  // The stream's version after the append (the version of its last event).
  StreamVersion version;
  // One position per event, in order.
  std::vector<Position> positions;
  // True when every event id was already stored: nothing was written and `positions` and
  // `version` are the original ones.
  bool duplicate = false;
};

// A stored event, owned.
struct Event {
  std::string id;
  std::string type;
  std::string topic;
  PartitionId partition;
  Offset offset;
  Seq seq;
  std::string stream;
  StreamVersion version;
  int64_t timestamp_us = 0;
  EventMetadata metadata;
  std::string data;

  Position position() const { return Position{topic, partition, offset, seq}; }
  bool operator==(const Event&) const = default;
};

// The fields of a stored envelope, as EventView holds them (an implementation detail of
// EventView; src/log decodes into it). The views point into the envelope, except `id` when the
// envelope stores it as 16 bytes: then it points into `id_text`.
struct EnvelopeFields {
  std::string_view id, type, stream, data;
  std::string_view command_id, correlation_id, causation_id, user_id;
  Seq seq;
  StreamVersion version;
  int64_t timestamp_us = 0;
  char id_text[36];
};

// A stored event read in place: views into the stored envelope and the topic name, valid only
// while the callback that received it runs (or while the viewed bytes live). Cheaper than Event
// for scans. The log builds them; the fields come from the log key (topic, partition, offset)
// and the envelope (the rest), of either on-disk format.
class EventView {
 public:
  // The event at (topic, partition, offset) whose stored envelope is `envelope`.
  EventView(std::string_view topic, PartitionId partition, Offset offset,
            std::string_view envelope);
  EventView(const EventView& other);
  EventView& operator=(const EventView& other);
  std::string_view id() const { return fields_.id; }
  std::string_view type() const { return fields_.type; }
  std::string_view topic() const { return topic_; }
  PartitionId partition() const { return partition_; }
  Offset offset() const { return offset_; }
  Seq seq() const { return fields_.seq; }
  std::string_view stream() const { return fields_.stream; }
  StreamVersion version() const { return fields_.version; }
  int64_t timestamp_us() const { return fields_.timestamp_us; }
  std::string_view data() const { return fields_.data; }
  EventMetadata metadata() const;
  // The stored bytes.
  std::string_view envelope() const { return envelope_; }
  Event ToEvent() const;

 private:
  void Decode(std::string_view envelope, bool copy);
  std::string_view topic_;
  PartitionId partition_;
  Offset offset_;
  std::string_view envelope_;
  EnvelopeFields fields_;
  // A format 2 envelope that is not 8-byte aligned is copied here (inline when it fits).
  bool owns_copy_ = false;
  uint64_t inline_[64];
  std::vector<uint64_t> heap_;
};

struct PartitionInfo {
  PartitionId partition;
  // The offset the next event will get: the number of events in the partition.
  Offset high_water_mark;
};

struct TopicInfo {
  std::string name;
  TopicId id;
  uint32_t partitions = 0;
  std::vector<PartitionInfo> partition_info;  // filled by Topics() / GetTopic()
};

// Kafka's default partitioner: murmur2 of the key bytes, seed 0x9747b28c.
int32_t Murmur2(std::string_view key);
// (Murmur2(key) & 0x7fffffff) % partitions. REQUIRES: partitions > 0.
PartitionId PartitionForKey(std::string_view key, uint32_t partitions);
// The partition key of a stream: the id after the first '-' ("order-6415" -> "6415"), or the
// whole id when it has no '-'.
std::string_view StreamKey(std::string_view stream);

// Limits of the log's data model.
inline constexpr uint32_t kMaxPartitions = 4096;        // partitions of one topic
inline constexpr size_t kMaxEventIdBytes = 128;         // NewEvent::id
inline constexpr size_t kMaxMetadataFieldBytes = 1024;  // each EventMetadata field

// Validators shared with the HTTP layer and the importer, so bad input is refused before it is
// queued (Log::Append runs them too).
Status ValidateTopicName(std::string_view topic);
Status ValidateStreamId(std::string_view stream);
Status ValidateEventType(std::string_view type);
// What Append checks of one event: type, data size (LogOptions::max_event_bytes), id and
// metadata lengths. Errors name the field ("type", "data", "id", "metadata").
Status ValidateNewEvent(const NewEvent& event, const LogOptions& options);

class LogCursor;

class Log {
 public:
  // Opens the log kept in `store` (creating its families), restoring topics, high-water marks
  // and the global sequence. `store` must outlive the Log.
  static Result<std::unique_ptr<Log>> Open(Store* store, const LogOptions& options);
  ~Log();
  Log(const Log&) = delete;
  Log& operator=(const Log&) = delete;

  const LogOptions& options() const { return options_; }
  Store* store() const { return store_; }

  // Creates a topic. Creating an existing topic with the same partition count is ok (returns
  // it); with another count it is kConflict. Partitions: 1 .. 4096.
  Result<TopicInfo> CreateTopic(const std::string& name, uint32_t partitions);
  // Every topic with its partitions' high-water marks, sorted by name.
  std::vector<TopicInfo> Topics() const;
  Result<TopicInfo> GetTopic(std::string_view name) const;

  // Appends one or more events to one stream, atomically with req.state_writes.
  // - Expected version is checked against the stream's head at commit time; a mismatch is
  //   kConflict ("stream S is at version V, expected E") and writes nothing.
  // - If every event carries an id that is already stored, returns the original positions with
  //   duplicate = true and writes nothing. If only some are stored, kConflict.
  // - Concurrent appends share one WriteBatch and one fsync (group commit); one failing append
  //   fails alone.
  // - A failed write (kIOError) fails its whole group and turns the log read-only (see
  //   ReadOnlyReason): every later append is kBusy until Resume succeeds.
  // Errors: kInvalidArgument (empty events, bad type/stream/topic), kTooLarge, kNotFound (topic
  // unknown and auto-create off), kConflict, kShuttingDown, kIOError, kBusy (read-only).
  Result<AppendResult> Append(AppendRequest req);

  // Append without a thread per append: queues `req` for the group-commit writer and returns
  // at once. For event loops (the Kafka listener) and embedders with many appends in flight.
  // - Ok: `done` will be called exactly once, after the append's group was written durably
  //   (StoreOptions::sync) or failed, with exactly what Append would have returned (positions,
  //   kConflict, duplicate, kIOError...). An append queued before Close still completes.
  // - Callbacks run on the log's own callback thread, one at a time, never under a lock of the
  //   log, in commit order: the callbacks of one stream come in version order. A callback may
  //   append again (AppendAsync or Append); it must not block for long (it delays every later
  //   callback, and the async appends callbacks queued: the callback thread writes those
  //   itself once the callbacks it has in hand have run; WaitFor and WaitForSeq called from a
  //   callback hand them to the leader thread, any other wait for them would never end), must
  //   not throw, and must not call Close or destroy the Log.
  // - Not ok, and `done` is never called: what Append refuses before queueing
  //   (kInvalidArgument, kTooLarge, kNotFound), kBusy when LogOptions::max_pending_async
  //   appends are in flight, kShuttingDown after Close.
  // The first call starts the log's two async threads (a group leader and the callback thread).
  Status AppendAsync(AppendRequest req, AppendCallback done);

  // AppendAsync for several appends admitted together: either every one is queued, in order
  // and next to each other, or none is and no callback is ever called. For a caller whose
  // appends are one unit to its client (a Kafka partition's record batch), so a refusal never
  // leaves part of the unit queued for a retry to duplicate. Each queued append then commits
  // or fails on its own, with its own callback, as after AppendAsync (a conflict or a failed
  // write can still end some and not others).
  // Errors, with nothing queued: the first append's error AppendAsync would have refused it
  // with (field prefixed "appends[i]."); kBusy when the appends do not all fit under
  // LogOptions::max_pending_async now; kTooLarge when there are more than max_pending_async
  // (they never would); kInvalidArgument when `appends` is empty or a callback is missing;
  // kShuttingDown after Close.
  Status AppendAsyncAll(std::vector<AsyncAppend> appends);

  // Reads events of one partition with offsets in [from, ...), at most `max_events` and about
  // `max_bytes` of envelopes (at least one event when one exists).
  Result<std::vector<Event>> ReadPartition(std::string_view topic, PartitionId partition,
                                           Offset from, size_t max_events,
                                           size_t max_bytes = 4u << 20) const;
  // Visits events of one partition with offsets in [from, to) in order until `visit` returns
  // false. `to` is clamped to the high-water mark at the call.
  using EventVisitor = std::function<bool(const EventView&)>;
  Status ScanPartition(std::string_view topic, PartitionId partition, Offset from, Offset to,
                       const EventVisitor& visit) const;
  // Reads a stream from version `from` (1 = the beginning), at most `max_events`.
  // An unknown stream is an empty result, not an error.
  Result<std::vector<Event>> ReadStream(std::string_view stream, StreamVersion from,
                                        size_t max_events) const;
  // The stream's last version (0 when it has no events).
  Result<StreamVersion> StreamHead(std::string_view stream) const;
  // One event by id; kNotFound when unknown.
  Result<Event> ReadEvent(std::string_view event_id) const;
  // One event by position; kNotFound when beyond the high-water mark.
  Result<Event> ReadAt(std::string_view topic, PartitionId partition, Offset offset) const;

  // Visits the events of `topics` (every topic when empty) with seq > `after`, in seq order,
  // until `visit` returns false or `limit` events were visited. The one order projections use.
  Status ScanInSeqOrder(const std::vector<std::string>& topics, Seq after, size_t limit,
                        const EventVisitor& visit) const;
  // A cursor over `topics` (every topic, including ones created later, when empty) that starts
  // after `after`. See LogCursor.
  Result<std::unique_ptr<LogCursor>> OpenCursor(std::vector<std::string> topics, Seq after) const;
  // For each partition of `topic`, the offset of its first event with seq > `after`.
  Result<std::vector<Offset>> OffsetsAfterSeq(std::string_view topic, Seq after) const;

  // The offset the next event of the partition will get (0 for an empty or unknown partition).
  Offset HighWaterMark(std::string_view topic, PartitionId partition) const;
  // The seq of the last committed event (0 before the first).
  Seq LastSeq() const;

  // Blocks until the log holds an event with seq >= `seq`, or `timeout` passes, or the log
  // closes. Returns whether the condition holds. Woken by appends, no polling.
  bool WaitForSeq(Seq seq, std::chrono::milliseconds timeout) const;
  // Blocks until partition `partition` of `topic` has an event at `offset`, or `timeout`.
  bool WaitFor(std::string_view topic, PartitionId partition, Offset offset,
               std::chrono::milliseconds timeout) const;
  // Makes further appends fail with kShuttingDown and wakes every waiter. Appends already
  // queued are still written (or failed) and every AppendAsync callback has run when it
  // returns. Idempotent. REQUIRES: not called from an AppendAsync callback.
  void Close();

  // Counters for /metrics. Monotonic since open.
  struct Stats {
    uint64_t appends = 0;          // successful, non-duplicate appends
    uint64_t events = 0;           // events written
    uint64_t duplicates = 0;       // appends answered as idempotent repeats
    uint64_t conflicts = 0;        // appends refused for expected version
    uint64_t groups = 0;           // WriteBatches written by the group-commit writer
    uint64_t fsyncs = 0;           // WAL syncs
  };
  Stats GetStats() const;

  // Why the log takes no appends, or nothing while it takes them. The first failed group write
  // (a write or fsync error, a full disk, the fault hook) fails that group with its error and
  // turns the log read-only: every append after it, already queued or new, fails with kBusy
  // naming that first error, so nothing is acknowledged after a write the disk may only have
  // half taken. Reads go on. Resume (or opening the log again) ends it.
  std::optional<std::string> ReadOnlyReason() const;
  // Makes a read-only log writable again once the disk takes a durable write: resumes RocksDB
  // (which drops what the failed write left in memory and never replays it) and writes a
  // durable WAL-only probe (the fault hook is asked first). Ok when the log takes appends
  // (also when it was not read-only); otherwise the error, and the log stays read-only.
  // Nothing acknowledged before the failure is lost either way. Thread-safe.
  Status Resume();

  // Refuses every append from now on with `why` (e.g. kNotWriter on a read replica, kBusy while
  // a writer catches up with its upstream), and returns once the appends already queued have
  // been written or failed. Until AcceptAppends.
  void RefuseAppends(Status why);
  void AcceptAppends();
  // Writes events another node's log committed (LogUpstream), continuing this log: the first
  // must have seq LastSeq() + 1 and the rest follow it gaplessly, each at version head + 1 of
  // its stream; each gets the next offset of its partition. Topics must exist. `extra` (the
  // upstream's read positions) is written in the same WriteBatch, durably. Errors:
  // kInvalidArgument (appends are being taken: RefuseAppends first, or the log is read-only),
  // kCorruption (an event that does not continue the log), the write's error.
  Status Replicate(std::vector<ReplicatedEvent> events, WriteBatch extra);

  // Test-only fault hook: called by the writer just before a group's WriteBatch is written, and
  // by Resume; a non-ok Status fails the whole group as if the disk had refused it.
  void SetWriteFaultForTesting(std::function<Status()> fault);

 private:
  class Writer;  // the group-commit leader's work on one group (src/log/writer.h)
  struct Rep;    // the rest of the log's state (src/log/log_rep.h)
  Log(Store* store, const LogOptions& options);
  // Ok when `topic` exists or was created now (LogOptions::auto_create_topics), else kNotFound.
  Status EnsureTopic(const std::string& topic);
  // AppendAsync's and AppendAsyncAll's last steps, for checked appends: takes their slots
  // under max_pending_async and queues them together, or does neither.
  Status QueueAsync(std::vector<AsyncAppend> appends);
  friend class LogCursor;
  Store* store_;
  LogOptions options_;
  std::unique_ptr<Rep> rep_;
};

// Reads the events of a set of topics in seq order and remembers where it stopped: the reader
// behind projections, the live stream and export. One owner at a time (not thread-safe); the Log
// must outlive it.
class LogCursor {
 public:
  ~LogCursor();
  // Visits, in seq order, up to `limit` events committed by now that come after the cursor's
  // position, and moves past each event for which `visit` returns true. An event for which it
  // returns false is not consumed: the next call starts with it again. Returns the number
  // consumed (0 when nothing new is committed).
  Result<size_t> Next(size_t limit, const Log::EventVisitor& visit);
  // The seq of the last event consumed (the `after` it was opened with, before any).
  Seq last_seq() const { return last_seq_; }
  // Every event of the cursor's topics with seq <= this has been consumed: the log's last seq
  // at the latest Next() that consumed all it saw, else last_seq().
  Seq caught_up_to() const { return caught_up_to_; }
  // Next offset to read of each (topic, partition) the cursor follows.
  struct PartitionPosition {
    std::string topic;
    PartitionId partition;
    Offset next;
  };
  std::vector<PartitionPosition> positions() const;

 private:
  friend class Log;
  struct PartitionCursor;
  LogCursor(const Log* log, std::vector<std::string> topics, Seq after);
  Status AddNewPartitions();
  const Log* log_;
  std::vector<std::string> topics_;  // empty: every topic
  Seq last_seq_;
  Seq caught_up_to_;
  std::vector<std::unique_ptr<PartitionCursor>> partitions_;
};

}  // namespace cairn
