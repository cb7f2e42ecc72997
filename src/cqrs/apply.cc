// See apply.h.
#include "cqrs/apply.h"

#include <algorithm>
#include <any>
#include <chrono>
#include <cstdint>
#include <functional>

#include "base/bytes.h"
#include "base/parallel.h"

namespace cairn::cqrs {

bool Sink::Reads(std::string_view topic) const {
  const auto& topics = spec->topics;
  return topics.empty() || std::find(topics.begin(), topics.end(), topic) != topics.end();
}

std::string CheckpointKey(std::string_view projection, uint32_t generation) {
  std::string key(projection);
  key.push_back('\0');
  bytes::PutBigEndian32(&key, generation);
  return key;
}

namespace {

// What one EventDecoder made of a batch's events: results[i] is events[i]'s, empty for an
// event that no sink with this decoder reads.
struct DecodedEvents {
  const EventDecoder* decoder = nullptr;
  std::vector<std::any> results;
};

// ProjectionWriter over one sink's tables in the shared IndexedBatch. A write to an undeclared
// table is remembered and turned into the handler's failure.
class SinkWriter : public ProjectionWriter {
 public:
  // `decoded`: the sink's decoder's results for `events`, or nullptr.
  SinkWriter(IndexedBatch* batch, const Generation* generation,
             const std::vector<EventView>& events, const DecodedEvents* decoded)
      : batch_(batch), generation_(generation), events_(events), decoded_(decoded) {}

  void Put(std::string_view table, std::string_view key, std::string_view value) override {
    if (Family* f = Resolve(table)) batch_->Put(f, key, value);
  }
  void Delete(std::string_view table, std::string_view key) override {
    if (Family* f = Resolve(table)) batch_->Delete(f, key);
  }
  void AddCounter(std::string_view table, std::string_view key, int64_t delta) override {
    if (Family* f = Resolve(table)) batch_->AddCounter(f, key, delta);
  }
  Result<std::optional<std::string>> Get(std::string_view table, std::string_view key) override {
    Family* f = Resolve(table);
    if (!f) return error_;
    return batch_->Get(f, key);
  }
  Result<int64_t> GetCounter(std::string_view table, std::string_view key) override {
    CAIRN_ASSIGN_OR_RETURN(const std::optional<std::string> value, Get(table, key));
    return value.has_value() ? DecodeCounter(*value) : int64_t{0};
  }
  const std::any* Decoded(const EventView& event) const override {
    if (!decoded_ || events_.empty()) return nullptr;
    // The handler's events point into events_: the index is the offset.
    const auto at = reinterpret_cast<uintptr_t>(&event);
    const auto first = reinterpret_cast<uintptr_t>(events_.data());
    if (at < first) return nullptr;
    const size_t i = (at - first) / sizeof(EventView);
    if (i >= events_.size() || &events_[i] != &event) return nullptr;
    const std::any& result = decoded_->results[i];
    return result.has_value() ? &result : nullptr;
  }
  const Status& error() const { return error_; }

 private:
  Family* Resolve(std::string_view table) {
    Family* f = generation_->Table(table);
    if (!f && error_.ok()) {
      error_ = Status::Internal("projection " + generation_->projection() +
                                " wrote to undeclared table " + std::string(table));
    }
    return f;
  }
  IndexedBatch* batch_;
  const Generation* generation_;
  const std::vector<EventView>& events_;
  const DecodedEvents* decoded_;
  Status error_;
};

// The failure of `sink` at `event`, as BatchOutcome reports it.
void RecordFailure(Sink* sink, const EventView& event, Status error, BatchOutcome* outcome) {
  outcome->failed = sink;
  outcome->error = std::move(error);
  outcome->failed_at =
      Position{std::string(event.topic()), event.partition(), event.offset(), event.seq()};
}

// Whether `sink` applies `event`: one of its topics', after its checkpoint (a cursor shared
// with sinks further behind reads events it applied already), up to its `until`.
bool Applies(const Sink& sink, const EventView& event) {
  return event.seq() > sink.checkpoint.seq && event.seq() <= sink.until &&
         sink.Reads(event.topic());
}

// Whether the sink's handler is given `event`, one it applies: one of its spec's types. (An
// event it applies but is not given still advances its checkpoint.)
bool Handles(const Sink& sink, const EventView& event) {
  return sink.spec->Gives(event.type());
}

Seq LastUntil(const std::vector<Sink*>& sinks) {
  Seq last(0);
  for (const Sink* s : sinks) last = std::max(last, s->until);
  return last;
}

// Below this many writes a kBulk batch is written, not ingested: an ingest costs several
// fsyncs whatever its size, and a rebuild's last batches, chasing the appends made meanwhile
// (the live threads paused), must cost less than the appends they chase.
constexpr size_t kMinIngestWrites = 4096;

// Whether `mode` commits `batch` by ingesting it (else by a write). Decided before the commit
// is prepared: preparing coalesces the writes of a key, which can lower Count.
bool Ingests(const IndexedBatch& batch, CommitMode mode) {
  return mode != CommitMode::kDurable && mode != CommitMode::kBuffered &&
         batch.Count() >= kMinIngestWrites;
}

IndexedBatch::Files FilesOf(CommitMode mode) {
  return mode == CommitMode::kScratch ? IndexedBatch::Files::kScratch
                                      : IndexedBatch::Files::kLasting;
}

// Adds the checkpoints of `sinks` to `batch` if `mode` commits them with it.
void AddCheckpoints(IndexedBatch& batch, Family* checkpoints,
                    const std::vector<const Sink*>& sinks, CommitMode mode) {
  if (mode == CommitMode::kBulk || mode == CommitMode::kScratch) return;
  for (const Sink* sink : sinks) {
    batch.Put(checkpoints, CheckpointKey(sink->spec->name, sink->generation->generation()),
              sink->checkpoint.Encode());
  }
}

// Commits `batch` as `mode` says (its checkpoints added already), by an ingest if `ingest`.
Status CommitAs(IndexedBatch& batch, CommitMode mode, bool ingest, size_t threads) {
  if (ingest) return batch.Ingest(FilesOf(mode), threads);
  return batch.Commit(mode == CommitMode::kDurable);
}

// One sink's share of a batch: the batch its writes go to, and where its handler failed
// (index into the batch's events).
struct SinkRun {
  Sink* sink = nullptr;
  IndexedBatch* batch = nullptr;
  std::optional<size_t> failed_at;
  Status error;
  bool ingest = false;  // whether the batch is committed by an ingest (Ingests)
  Status prepared;      // the batch's table files written ahead of the commit, if it ingests
  Status committed;
};

// The events of the next batch, copied out of the cursor so several threads can read them: each
// event's topic name and envelope are appended to `buffer`, which the views point into.
Result<std::vector<EventView>> ReadEvents(LogCursor& cursor, size_t limit, Seq last_until,
                                          std::string* buffer) {
  struct Copied {
    size_t topic_begin, envelope_begin, end;
    PartitionId partition;
    Offset offset;
  };
  std::vector<Copied> copied;
  Result<size_t> consumed = cursor.Next(limit, [&](const EventView& event) {
    if (event.seq() > last_until) return false;
    const size_t topic_begin = buffer->size();
    buffer->append(event.topic());
    const size_t envelope_begin = buffer->size();
    buffer->append(event.envelope());
    copied.push_back({topic_begin, envelope_begin, buffer->size(), event.partition(), event.offset()});
    return true;
  });
  if (!consumed.ok()) return consumed.status();
  // Views are made only now: `buffer` no longer grows.
  const std::string_view bytes(*buffer);
  std::vector<EventView> events;
  events.reserve(copied.size());
  for (const Copied& c : copied) {
    events.emplace_back(bytes.substr(c.topic_begin, c.envelope_begin - c.topic_begin), c.partition,
                        c.offset, bytes.substr(c.envelope_begin, c.end - c.envelope_begin));
  }
  return events;
}

// Decodes the batch's events once for each distinct decoder of `sinks` (each event that some
// sink with that decoder is given), in blocks on up to `threads` threads.
std::vector<DecodedEvents> DecodeEvents(const std::vector<Sink*>& sinks,
                                        const std::vector<EventView>& events, size_t threads) {
  std::vector<DecodedEvents> decoded;
  for (const Sink* sink : sinks) {
    const EventDecoder* decoder = sink->spec->decoder.get();
    if (!decoder || std::any_of(decoded.begin(), decoded.end(), [&](const DecodedEvents& d) {
          return d.decoder == decoder;
        })) {
      continue;
    }
    decoded.push_back(DecodedEvents{decoder, std::vector<std::any>(events.size())});
  }
  constexpr size_t kBlock = 256;
  for (DecodedEvents& d : decoded) {
    const auto read_by_one = [&](const EventView& event) {
      return std::any_of(sinks.begin(), sinks.end(), [&](const Sink* sink) {
        return sink->spec->decoder.get() == d.decoder && Applies(*sink, event) &&
               Handles(*sink, event);
      });
    };
    ForEachInParallel((events.size() + kBlock - 1) / kBlock, threads, [&](size_t block) {
      const size_t end = std::min(events.size(), (block + 1) * kBlock);
      for (size_t i = block * kBlock; i < end; ++i) {
        if (read_by_one(events[i])) d.results[i] = d.decoder->Decode(events[i]);
      }
    });
  }
  return decoded;
}

// The results of `sink`'s decoder among `decoded`; nullptr when it has none.
const DecodedEvents* DecodedFor(const Sink& sink, const std::vector<DecodedEvents>& decoded) {
  for (const DecodedEvents& d : decoded) {
    if (d.decoder == sink.spec->decoder.get()) return &d;
  }
  return nullptr;
}

// A ProjectionHandler applied to each event in turn, as a batch handler: it fails at the first
// event whose handler fails or writes to an undeclared table.
std::optional<BatchFailure> ApplyEachEvent(const ProjectionHandler& handler,
                                           const std::vector<const EventView*>& events,
                                           SinkWriter& out) {
  for (size_t i = 0; i < events.size(); ++i) {
    Status s = handler(*events[i], out);
    if (s.ok()) s = out.error();
    if (!s.ok()) return BatchFailure{i, std::move(s)};
  }
  return std::nullopt;
}

// Runs the sink's handler over its events of the batch into run.batch and, if it succeeds,
// advances the sink's in-memory checkpoint past them.
void RunSink(SinkRun& run, const std::vector<EventView>& events,
             const std::vector<DecodedEvents>& decoded) {
  Sink& sink = *run.sink;
  std::vector<const EventView*> applied;  // the events it applies: they advance its checkpoint
  std::vector<const EventView*> mine;     // those its handler is given
  std::vector<size_t> index;              // of each of `mine` in `events`
  for (size_t i = 0; i < events.size(); ++i) {
    if (!Applies(sink, events[i])) continue;
    applied.push_back(&events[i]);
    if (!Handles(sink, events[i])) continue;
    mine.push_back(&events[i]);
    index.push_back(i);
  }
  if (!mine.empty()) {
    SinkWriter writer(run.batch, sink.generation.get(), events, DecodedFor(sink, decoded));
    const ProjectionSpec& spec = *sink.spec;
    std::optional<BatchFailure> failure = spec.batch_handler
                                              ? spec.batch_handler(mine, writer)
                                              : ApplyEachEvent(spec.handler, mine, writer);
    // A batch handler that wrote to an undeclared table fails at its first event.
    if (!failure && !writer.error().ok()) failure = BatchFailure{0, writer.error()};
    if (failure) {
      run.failed_at = index[std::min(failure->index, mine.size() - 1)];
      run.error = std::move(failure->error);
      return;
    }
  }
  for (const EventView* e : applied) {
    sink.checkpoint.Advance(e->topic(), e->partition(), e->offset(), e->seq(), e->timestamp_us());
  }
}

}  // namespace

Result<BatchOutcome> ApplyBatch(Store* store, Family* checkpoints, LogCursor& cursor,
                                const std::vector<Sink*>& sinks, size_t limit, CommitMode mode,
                                size_t threads) {
  std::string envelopes;
  CAIRN_ASSIGN_OR_RETURN(const std::vector<EventView> events,
                         ReadEvents(cursor, limit, LastUntil(sinks), &envelopes));
  const std::vector<DecodedEvents> decoded = DecodeEvents(sinks, events, threads);
  // In parallel, each sink has its own batch; in turn, all share one.
  const bool parallel = threads >= 2 && sinks.size() >= 2;
  std::vector<std::unique_ptr<IndexedBatch>> batches(parallel ? sinks.size() : 1);
  for (auto& batch : batches) batch = std::make_unique<IndexedBatch>(store);
  std::vector<SinkRun> runs(sinks.size());
  for (size_t i = 0; i < sinks.size(); ++i) {
    runs[i].sink = sinks[i];
    runs[i].batch = batches[parallel ? i : 0].get();
  }
  // In parallel each sink also gets its commit ready (its checkpoint added, its table files
  // written if it ingests), so the threads share the costly part of the commits too; what is
  // left after the failure check below is the ingest or the write. The sinks whose last batch
  // cost most start first (Sink::apply_cost).
  std::vector<size_t> by_cost(runs.size());
  for (size_t i = 0; i < by_cost.size(); ++i) by_cost[i] = i;
  std::stable_sort(by_cost.begin(), by_cost.end(), [&](size_t x, size_t y) {
    return runs[x].sink->apply_cost > runs[y].sink->apply_cost;
  });
  ForEachInParallel(runs.size(), parallel ? threads : 1, [&](size_t i) {
    SinkRun& run = runs[by_cost[i]];
    const auto start = std::chrono::steady_clock::now();
    RunSink(run, events, decoded);
    if (parallel && !run.failed_at) {
      AddCheckpoints(*run.batch, checkpoints, {run.sink}, mode);
      run.ingest = Ingests(*run.batch, mode);
      if (run.ingest) {
        // Its files on up to `threads` threads of their own: once one thread's sinks are done,
        // the other's files still get every core (two threads running three sinks left one
        // idle for a fifth of each batch).
        run.prepared = run.batch->PrepareIngest(FilesOf(mode), threads);
      }
    }
    run.sink->apply_cost = std::chrono::steady_clock::now() - start;
  });

  BatchOutcome outcome;
  outcome.consumed = events.size();
  // The failure met first in seq order: the earliest event, then the first sink. A failure
  // discards the whole batch (no save point per event: they cost more than the handlers); the
  // caller re-applies the events before the failing one if it wants them.
  for (SinkRun& run : runs) {
    if (run.failed_at && (!outcome.failed || *run.failed_at < outcome.consumed)) {
      outcome.consumed = *run.failed_at;
      RecordFailure(run.sink, events[*run.failed_at], run.error, &outcome);
    }
  }
  if (outcome.failed || outcome.consumed == 0) return outcome;
  if (!parallel) {
    AddCheckpoints(*batches[0], checkpoints, std::vector<const Sink*>(sinks.begin(), sinks.end()),
                   mode);
    CAIRN_RETURN_IF_ERROR(CommitAs(*batches[0], mode, Ingests(*batches[0], mode), threads));
    return outcome;
  }
  ForEachInParallel(runs.size(), threads, [&](size_t r) {
    SinkRun& run = runs[r];
    run.committed = run.prepared.ok() ? CommitAs(*run.batch, mode, run.ingest, threads)
                                      : run.prepared;
  });
  for (const SinkRun& run : runs) CAIRN_RETURN_IF_ERROR(run.committed);
  return outcome;
}

}  // namespace cairn::cqrs
