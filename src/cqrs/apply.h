// The one loop that applies log events to projections, shared by the live projection threads,
// rebuilds and the consistency check: read a batch from a cursor, run each sink's handler into
// one IndexedBatch, add every sink's checkpoint, commit atomically.
#pragma once

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

// Key of a generation's checkpoint in the "checkpoints" family.
std::string CheckpointKey(std::string_view projection, uint32_t generation);

// Applies up to `limit` committed events after `cursor` to `sinks` and commits the writes and
// every sink's checkpoint as ONE WriteBatch. If a handler fails, nothing is committed (see
// BatchOutcome). Whenever nothing was committed (a failure or a non-ok Result), the cursor and
// the sinks' in-memory checkpoints may have moved: the caller reloads them.
Result<BatchOutcome> ApplyBatch(Store* store, Family* checkpoints, LogCursor& cursor,
                                const std::vector<Sink*>& sinks, size_t limit, bool durable);

}  // namespace cairn::cqrs
