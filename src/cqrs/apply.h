// The one loop that applies log events to projections, shared by the live projection threads,
// rebuilds and the consistency check: read a batch from a cursor, run each sink's handler into
// an IndexedBatch, add the sinks' checkpoints, commit (sinks in parallel when allowed).
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "cairn/log.h"
#include "cairn/projection.h"
#include "cqrs/checkpoint.h"
#include "cqrs/generation.h"

namespace cairn::cqrs {

// A generation being written from the log: the projection's handler, the target generation and
// the checkpoint it has reached.
struct Sink {
  const ProjectionSpec* spec = nullptr;
  std::shared_ptr<Generation> generation;
  Checkpoint checkpoint;
  // Only events with seq <= until are applied (the consistency check replays to a point).
  Seq until = Seq(UINT64_MAX);
  // How long the sink's share of the last batch took (its handler, and in parallel the
  // preparation of its commit): in parallel the costliest sinks start first, so the threads end
  // together (in a fixed order, three sinks on two threads left one thread the two longest).
  std::chrono::nanoseconds apply_cost{0};

  bool Reads(std::string_view topic) const;
};

struct BatchOutcome {
  // Events read from the cursor and applied. Committed with the checkpoints unless a handler
  // failed; then they are the events before the failing one, and nothing was committed.
  size_t consumed = 0;
  // When a handler failed: the sink, its error and the event it stopped at.
  Sink* failed = nullptr;
  Status error;
  std::optional<Position> failed_at;
};

// How ApplyBatch hands a batch's writes to the store.
enum class CommitMode {
  kDurable,   // one Store::Write, fsynced as the store's sync mode says (live projections)
  kBuffered,  // one Store::Write, the WAL not fsynced by it
  // Without the sinks' checkpoints, for generations nothing reads until a switch adopts them
  // (rebuilds, checks), in large batches: a large batch is ingested (IndexedBatch::Ingest), a
  // small one written with the WAL not fsynced. The caller keeps the checkpoints in memory
  // (Sink::checkpoint) and stores them, fsynced, when it adopts the generation: that write
  // makes the WAL writes before it durable too.
  kBulk,
  // kBulk for a generation that is read once and dropped (the consistency check's replay): its
  // ingested table files are uncompressed (IndexedBatch::Files::kScratch).
  kScratch,
  // With the sinks' checkpoints, like kBuffered, but a large batch (as kBulk's) is ingested
  // together with its checkpoints: IngestExternalFiles makes the tables' files and the
  // checkpoints' visible at once, durably (after syncing the WAL, so that no earlier unsynced
  // batch can be lost behind it). For Engine::CatchUp (tools), not for the live threads: every
  // ingest adds files to level 0, and under a steady load their compactions would slow the
  // log's appends.
  kIngest,
};

// Key of a generation's checkpoint in the "checkpoints" family.
std::string CheckpointKey(std::string_view projection, uint32_t generation);

// Applies up to `limit` committed events after `cursor` to `sinks` and commits the writes with
// every sink's checkpoint (see CommitMode for kBulk). If a handler fails, nothing is committed
// (see BatchOutcome). A sink is given the events of its topics after its checkpoint's seq:
// the cursor may start behind a sink.
// Whenever nothing was committed (a failure or a non-ok Result), the cursor and the sinks'
// in-memory checkpoints may have moved: the caller reloads them.
//
// With `threads` >= 2 and several sinks, the sinks' handlers run in parallel (each on its own
// batch) and each sink's writes are committed with its own checkpoint as one WriteBatch, the
// sinks' batches in parallel: every generation stays consistent with its checkpoint, but a
// failed commit may leave some sinks committed and others not. Otherwise everything is ONE
// WriteBatch. Either way the tables written are the same.
Result<BatchOutcome> ApplyBatch(Store* store, Family* checkpoints, LogCursor& cursor,
                                const std::vector<Sink*>& sinks, size_t limit, CommitMode mode,
                                size_t threads = 1);

}  // namespace cairn::cqrs
