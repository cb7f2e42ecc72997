// See apply.h.
#include "cqrs/apply.h"

#include <algorithm>

#include "base/bytes.h"

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

// ProjectionWriter over one sink's tables in the shared IndexedBatch. A write to an undeclared
// table is remembered and turned into the handler's failure.
class SinkWriter : public ProjectionWriter {
 public:
  SinkWriter(IndexedBatch* batch, const Generation* generation)
      : batch_(batch), generation_(generation) {}

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
  Status error_;
};

}  // namespace

Result<BatchOutcome> ApplyBatch(Store* store, Family* checkpoints, LogCursor& cursor,
                                const std::vector<Sink*>& sinks, size_t limit, bool durable) {
  IndexedBatch batch(store);
  BatchOutcome outcome;
  Seq last_until(0);
  for (const Sink* s : sinks) last_until = std::max(last_until, s->until);
  auto applies = [](const Sink& sink, const EventView& event) {
    return event.seq() <= sink.until && sink.Reads(event.topic());
  };

  Result<size_t> consumed = cursor.Next(limit, [&](const EventView& event) {
    if (event.seq() > last_until) return false;
    for (Sink* sink : sinks) {
      if (!applies(*sink, event)) continue;
      SinkWriter writer(&batch, sink->generation.get());
      Status s = sink->spec->handler(event, writer);
      if (s.ok()) s = writer.error();
      if (!s.ok()) {
        outcome.failed = sink;
        outcome.error = s;
        outcome.failed_at =
            Position{std::string(event.topic()), event.partition(), event.offset(), event.seq()};
        return false;
      }
    }
    for (Sink* sink : sinks) {
      if (applies(*sink, event)) {
        sink->checkpoint.Advance(event.topic(), event.partition(), event.offset(), event.seq(),
                                 event.timestamp_us());
      }
    }
    return true;
  });
  if (!consumed.ok()) return consumed.status();
  outcome.consumed = *consumed;
  // A failure discards the whole batch (no save point per event: they cost more than the
  // handlers); the caller re-applies the events before the failing one if it wants them.
  if (outcome.failed || outcome.consumed == 0) return outcome;
  for (const Sink* sink : sinks) {
    batch.Put(checkpoints, CheckpointKey(sink->spec->name, sink->generation->generation()),
              sink->checkpoint.Encode());
  }
  CAIRN_RETURN_IF_ERROR(batch.Commit(durable));
  return outcome;
}

}  // namespace cairn::cqrs
