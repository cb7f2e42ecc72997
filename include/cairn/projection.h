// What a projection is: a name, the topics it reads, the read-model tables it owns and a
// deterministic handler that turns each event into writes on those tables. The Engine
// (cairn/engine.h) runs it; this header is what a domain (src/domain) implements.
#pragma once

#include <any>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "cairn/log.h"
#include "cairn/status.h"

namespace cairn {

// The writes a handler makes while the engine applies one batch of events. Every write lands in
// the projection's own tables of the generation being built, in ONE WriteBatch together with
// the projection's checkpoint. Reads see the table as the batch has left it so far (the batch's
// own writes included), so the second event of a batch sees what the first one wrote.
class ProjectionWriter {
 public:
  virtual ~ProjectionWriter() = default;
  // REQUIRES for every call: `table` is one of the projection's declared tables.
  virtual void Put(std::string_view table, std::string_view key, std::string_view value) = 0;
  virtual void Delete(std::string_view table, std::string_view key) = 0;
  // Adds `delta` to an 8-byte counter (RocksDB merge: no read-modify-write race).
  virtual void AddCounter(std::string_view table, std::string_view key, int64_t delta) = 0;
  virtual Result<std::optional<std::string>> Get(std::string_view table, std::string_view key) = 0;
  // A counter's value (0 when absent).
  virtual Result<int64_t> GetCounter(std::string_view table, std::string_view key) = 0;
  // What the projection's EventDecoder made of `event`, which must be one of the very
  // EventView objects this call of the handler was given (not a copy); nullptr when the engine
  // did not decode it (the projection has no decoder, or the writer is not the engine's): the
  // handler then decodes the event itself.
  virtual const std::any* Decoded(const EventView& event) const {
    (void)event;
    return nullptr;
  }
};

// Optional: decodes an event into what the handlers of the projections sharing this decoder
// (the same object) read from it, so that a batch's events are decoded once, not once per
// projection. Deterministic, like a handler, and safe to call from several threads at once:
// the engine decodes each event of a batch that such a projection reads before their handlers
// run, on its apply threads, and a handler finds the result with ProjectionWriter::Decoded. A
// decoder must not fail: an event it cannot read decodes to what says so, for the handler to
// report.
class EventDecoder {
 public:
  virtual ~EventDecoder() = default;
  virtual std::any Decode(const EventView& event) const = 0;
};

// Applies one event. Must be deterministic: only the event (its data, metadata, timestamp) and
// the tables may influence the writes; never the wall clock, randomness or outside state, so a
// rebuild produces byte-identical tables. A non-ok Status stops the projection at this event
// (state `failed`); the writes of earlier events in the batch are kept.
using ProjectionHandler = std::function<Status(const EventView& event, ProjectionWriter& out)>;

// Where a batch handler stopped: the index (into its `events`) of the first event it could not
// apply, and why.
struct BatchFailure {
  size_t index = 0;
  Status error;
};

// Optional, in place of a ProjectionHandler: applies a run of consecutive events (those of the
// projection's topics, in seq order) at once, so that a record touched by several of them is
// read, decoded and written once. The same rules hold (deterministic, its own tables only), and
// it must leave the tables exactly as applying its per-event rules one event at a time would,
// however the log is cut into runs: a rebuild cuts it differently from the live thread, and the
// consistency check compares the two byte for byte. (Mind counters: an event that adds and a
// later one that takes back leave a counter key holding 0, not no key.) On failure the engine
// discards everything the call wrote and calls it again with events[0, index), so the events
// before the failing one are applied, as with a ProjectionHandler.
using ProjectionBatchHandler = std::function<std::optional<BatchFailure>(
    const std::vector<const EventView*>& events, ProjectionWriter& out)>;

struct ProjectionSpec {
  // [a-z0-9_]+, unique in an engine, e.g. "order_views".
  std::string name;
  // Topics whose events the handler sees, in seq order. Empty: every topic.
  std::vector<std::string> topics;
  // Names of its read-model tables, [a-z0-9_]+, e.g. {"views", "by_user"}; each is a column
  // family "rm.<projection>.<generation>.<table>".
  std::vector<std::string> tables;
  // Exactly one of the two.
  ProjectionHandler handler;
  ProjectionBatchHandler batch_handler;
  // Optional (see EventDecoder).
  std::shared_ptr<const EventDecoder> decoder;
  // Optional: the event types of its topics the handler is given. The others it is not, and
  // they are not decoded for it, but they advance its checkpoint as if applied. Empty: every
  // type.
  std::vector<std::string> types;

  // Whether the handler is given events of `type` (see `types`).
  bool Gives(std::string_view type) const {
    for (const std::string& t : types) {
      if (t == type) return true;
    }
    return types.empty();
  }
};

// Read access to a projection's current generation for queries. Holding it keeps that
// generation's tables alive even if a rebuild switches to a new one meanwhile.
class ReadModel {
 public:
  virtual ~ReadModel() = default;
  virtual uint32_t generation() const = 0;
  virtual Result<std::optional<std::string>> Get(std::string_view table,
                                                 std::string_view key) const = 0;
  virtual Result<int64_t> GetCounter(std::string_view table, std::string_view key) const = 0;
  // Visits keys of `table` in [lower, upper) (empty upper: to the end), descending when
  // `reverse`, until `visit` returns false.
  virtual Status Scan(std::string_view table, std::string_view lower, std::string_view upper,
                      const Store::Visitor& visit, bool reverse = false) const = 0;
};

}  // namespace cairn
