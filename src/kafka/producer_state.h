// The idempotent producer's state (InitProducerId and Produce with a producer id): producer ids
// handed out (a persisted counter, increasing across restarts), and per (producer, topic,
// partition) its epoch and the sequence ranges of its last 5 batches, kept in memory and
// persisted in the `kafka` family inside the same WriteBatch as the batch's events (an
// AppendRequest's state_writes).
//
// Duplicates are answered by the log itself: an idempotent batch's events carry ids made of
// (producer, topic, partition, sequence), so re-appending a batch that was written returns the
// original positions and writes nothing; one that was only partly written (a batch spanning
// several streams, cut by a crash) gets its missing part. Loop thread only.
#pragma once

#include <cstdint>
#include <deque>
#include <map>
#include <string>
#include <tuple>

#include "cairn/log.h"
#include "cairn/store.h"
#include "kafka/protocol.h"

namespace cairn::kafka {

// How a batch's sequence numbers relate to what the producer sent before.
enum class SequenceVerdict { kNext, kDuplicate, kError };

class ProducerStates {
 public:
  // Loads the state kept in `family` (the `kafka` family).
  static Result<ProducerStates> Load(Store* store, Family* family);

  // A new producer id (epoch 0), and the writes that persist it: the id is handed out once
  // they are durable (an id whose write failed is never reused).
  std::pair<int64_t, WriteBatch> NewProducerId();

  struct Check {
    SequenceVerdict verdict = SequenceVerdict::kNext;
    KafkaError error = KafkaError::kNone;
  };
  // Whether the batch (producer_id, epoch, sequences first..first+count-1) continues what
  // (topic, partition) has from that producer: kNext (then Accept it), kDuplicate (one of the
  // last 5 batches again), or kError with UNKNOWN_PRODUCER_ID (an id Cairn never gave out, or
  // one with no state here starting past sequence 0), INVALID_PRODUCER_EPOCH (an older epoch),
  // OUT_OF_ORDER_SEQUENCE (a gap), DUPLICATE_SEQUENCE (older than the last 5 batches).
  Check Verify(int64_t producer_id, int16_t epoch, TopicId topic, int32_t partition,
               int32_t first_sequence, int32_t count) const;
  // The producer's state once the batch is accepted, in its persisted form, for the
  // state_writes of every append the batch becomes. Changes nothing: Accept records the batch
  // once its appends are queued (a batch the log refuses leaves no trace).
  WriteBatch StateWrites(int64_t producer_id, int16_t epoch, TopicId topic, int32_t partition,
                         int32_t first_sequence, int32_t count) const;
  // Records an accepted batch in memory.
  void Accept(int64_t producer_id, int16_t epoch, TopicId topic, int32_t partition,
              int32_t first_sequence, int32_t count);

  // The id of the event at `sequence` of a producer's batch: stable across retries.
  static std::string EventId(int64_t producer_id, TopicId topic, int32_t partition, int32_t sequence);
  // The sequence `n` after `sequence`: they wrap from INT32_MAX to 0.
  static int32_t SequenceAfter(int32_t sequence, int64_t n);

 private:
  struct BatchRange {
    int32_t first = 0;
    int32_t last = 0;
  };
  struct PartitionState {
    int16_t epoch = 0;
    std::deque<BatchRange> recent;  // the last kRecentBatches, oldest first
  };
  using Key = std::tuple<int64_t, uint32_t, int32_t>;  // producer, topic id, partition
  static constexpr size_t kRecentBatches = 5;

  explicit ProducerStates(Family* family) : family_(family) {}
  // The state of `key` with the batch first..first+count-1 of `epoch` recorded.
  PartitionState After(const Key& key, int16_t epoch, int32_t first_sequence, int32_t count) const;
  static std::string StateKey(const Key& key);
  static std::string EncodeState(const PartitionState& state);
  static bool DecodeState(std::string_view value, PartitionState* state);

  Family* family_;
  int64_t last_producer_id_ = -1;
  std::map<Key, PartitionState> states_;
};

}  // namespace cairn::kafka
