// See producer_state.h. Keys in the `kafka` family:
//   "producer-id"                                   -> the last producer id handed out (BE64)
//   "producer/" BE64(id) BE32(topic id) BE32(part.) -> epoch (BE16), then per recent batch its
//                                                      first and last sequence (BE32 each)
#include "kafka/producer_state.h"

#include "base/bytes.h"
#include "kafka/wire.h"

namespace cairn::kafka {
namespace {

constexpr std::string_view kProducerIdKey = "producer-id";
constexpr std::string_view kStatePrefix = "producer/";

}  // namespace

int32_t ProducerStates::SequenceAfter(int32_t sequence, int64_t n) {
  return int32_t((int64_t(sequence) + n) % (int64_t(INT32_MAX) + 1));
}

Result<ProducerStates> ProducerStates::Load(Store* store, Family* family) {
  ProducerStates states(family);
  CAIRN_ASSIGN_OR_RETURN(std::optional<std::string> last, store->Get(family, kProducerIdKey));
  if (last && last->size() == 8) states.last_producer_id_ = int64_t(bytes::GetBigEndian64(*last));
  const std::string end = std::string(kStatePrefix.substr(0, kStatePrefix.size() - 1)) + char('/' + 1);
  Status s = store->Scan(family, kStatePrefix, end, [&](std::string_view key, std::string_view value) {
    key.remove_prefix(kStatePrefix.size());
    if (key.size() != 16) return true;
    const Key k{int64_t(bytes::GetBigEndian64(key)), bytes::GetBigEndian32(key.substr(8)),
                int32_t(bytes::GetBigEndian32(key.substr(12)))};
    PartitionState state;
    if (DecodeState(value, &state)) states.states_[k] = std::move(state);
    return true;
  });
  CAIRN_RETURN_IF_ERROR(s);
  return states;
}

std::pair<int64_t, WriteBatch> ProducerStates::NewProducerId() {
  const int64_t id = ++last_producer_id_;
  std::string value;
  bytes::PutBigEndian64(&value, uint64_t(id));
  WriteBatch batch;
  batch.Put(family_, kProducerIdKey, value);
  return {id, std::move(batch)};
}

ProducerStates::Check ProducerStates::Verify(int64_t producer_id, int16_t epoch, TopicId topic,
                                             int32_t partition, int32_t first_sequence,
                                             int32_t count) const {
  if (producer_id < 0 || producer_id > last_producer_id_ || first_sequence < 0 || count <= 0) {
    return {SequenceVerdict::kError, KafkaError::kUnknownProducerId};
  }
  auto it = states_.find(Key{producer_id, topic.value(), partition});
  if (it == states_.end()) {
    if (first_sequence == 0) return {};
    return {SequenceVerdict::kError, KafkaError::kUnknownProducerId};
  }
  const PartitionState& state = it->second;
  if (epoch < state.epoch) return {SequenceVerdict::kError, KafkaError::kInvalidProducerEpoch};
  if (epoch > state.epoch) {
    if (first_sequence == 0) return {};
    return {SequenceVerdict::kError, KafkaError::kOutOfOrderSequence};
  }
  const int32_t last = SequenceAfter(first_sequence, count - 1);
  for (const BatchRange& r : state.recent) {
    if (r.first == first_sequence && r.last == last) return {SequenceVerdict::kDuplicate};
  }
  const int32_t expected = SequenceAfter(state.recent.back().last, 1);
  if (first_sequence == expected) return {};
  if (first_sequence < state.recent.front().first) {
    return {SequenceVerdict::kError, KafkaError::kDuplicateSequence};
  }
  return {SequenceVerdict::kError, KafkaError::kOutOfOrderSequence};
}

ProducerStates::PartitionState ProducerStates::After(const Key& key, int16_t epoch,
                                                    int32_t first_sequence, int32_t count) const {
  PartitionState state;
  if (auto it = states_.find(key); it != states_.end() && it->second.epoch == epoch) {
    state = it->second;
  }
  state.epoch = epoch;
  state.recent.push_back({first_sequence, SequenceAfter(first_sequence, count - 1)});
  while (state.recent.size() > kRecentBatches) state.recent.pop_front();
  return state;
}

WriteBatch ProducerStates::StateWrites(int64_t producer_id, int16_t epoch, TopicId topic,
                                       int32_t partition, int32_t first_sequence,
                                       int32_t count) const {
  const Key key{producer_id, topic.value(), partition};
  WriteBatch writes;
  writes.Put(family_, StateKey(key), EncodeState(After(key, epoch, first_sequence, count)));
  return writes;
}

void ProducerStates::Accept(int64_t producer_id, int16_t epoch, TopicId topic, int32_t partition,
                            int32_t first_sequence, int32_t count) {
  const Key key{producer_id, topic.value(), partition};
  states_[key] = After(key, epoch, first_sequence, count);
}

std::string ProducerStates::EventId(int64_t producer_id, TopicId topic, int32_t partition,
                                    int32_t sequence) {
  return "kafka-" + std::to_string(producer_id) + "-" + std::to_string(topic.value()) + "-" +
         std::to_string(partition) + "-" + std::to_string(sequence);
}

std::string ProducerStates::StateKey(const Key& key) {
  std::string out(kStatePrefix);
  bytes::PutBigEndian64(&out, uint64_t(std::get<0>(key)));
  bytes::PutBigEndian32(&out, std::get<1>(key));
  bytes::PutBigEndian32(&out, uint32_t(std::get<2>(key)));
  return out;
}

std::string ProducerStates::EncodeState(const PartitionState& state) {
  WireWriter w;
  w.Int16(state.epoch);
  for (const BatchRange& r : state.recent) {
    w.Int32(r.first);
    w.Int32(r.last);
  }
  return w.Take();
}

bool ProducerStates::DecodeState(std::string_view value, PartitionState* state) {
  WireReader r(value);
  state->epoch = r.Int16();
  while (r.ok() && r.remaining() >= 8) {
    const int32_t first = r.Int32();
    state->recent.push_back({first, r.Int32()});
  }
  return r.ok() && r.remaining() == 0 && !state->recent.empty();
}

}  // namespace cairn::kafka
