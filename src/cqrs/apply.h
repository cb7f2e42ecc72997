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
  size_t consumed = 0;  // events read from the cursor and committed
  // When a handler failed: the sink, its error and the event it stopped at. The events before
  // it in the batch were committed.
  Sink* failed = nullptr;
  Status error;
  std::optional<Position> failed_at;
};

// Key of a generation's checkpoint in the "checkpoints" family.
std::string CheckpointKey(std::string_view projection, uint32_t generation);

// Applies up to `limit` committed events after `cursor` to `sinks` and commits the writes and
// every sink's checkpoint as ONE WriteBatch. On a non-ok Result nothing was committed, but the
// cursor and the sinks' in-memory checkpoints may have moved: the caller reloads them.
Result<BatchOutcome> ApplyBatch(Store* store, Family* checkpoints, LogCursor& cursor,
                                const std::vector<Sink*>& sinks, size_t limit, bool durable);

}  // namespace cairn::cqrs
