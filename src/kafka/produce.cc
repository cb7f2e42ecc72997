// Produce v3-7: each partition's record set becomes Log::AppendAsync appends (consecutive
// records of one stream share an append), queued together (AppendAsyncAll: the whole batch or
// none of it) in record order so they commit in it. The response goes out when every append
// of the request has called back, that is once the events are durable under the server's
// --sync mode (acks 1 and -1 alike: Cairn has one replica); acks=0 gets none. A partition's
// base_offset is its first event's offset.
//
// A batch with a producer id is checked against the producer's sequences first
// (producer_state.h): the next one is written with its state, a duplicate is appended again
// with the same event ids (the log answers with the original offsets), the rest are refused.
#include <spdlog/spdlog.h>

#include <memory>

#include "kafka/handlers.h"
#include "kafka/mapping.h"
#include "kafka/record_batch.h"

namespace cairn::kafka {
namespace {

struct PartitionOutcome {
  int32_t index = 0;
  KafkaError error = KafkaError::kNone;
  int64_t base_offset = -1;
};

struct TopicOutcome {
  std::string name;
  std::vector<PartitionOutcome> partitions;
};

// One Produce request in flight, shared by its appends' callbacks (on the loop thread).
struct ProduceState {
  Reply reply;
  int16_t version = 0;
  bool respond = true;
  std::vector<TopicOutcome> topics;
  size_t outstanding = 0;  // appends not yet called back
};

std::string EncodeResponse(const ProduceState& st) {
  ResponseWriter w;
  w.ArrayLength(st.topics.size());
  for (const TopicOutcome& t : st.topics) {
    w.String(t.name);
    w.ArrayLength(t.partitions.size());
    for (const PartitionOutcome& p : t.partitions) {
      w.Int32(p.index);
      w.Int16(int16_t(p.error));
      w.Int64(p.error == KafkaError::kNone ? p.base_offset : -1);
      w.Int64(-1);                          // log_append_time_ms: CreateTime topics
      if (st.version >= 5) w.Int64(0);      // log_start_offset: Cairn keeps every event
    }
  }
  w.Int32(0);  // throttle_time_ms
  return w.Take();
}

void FinishIfDone(Broker& broker, ProduceState& st) {
  if (st.outstanding > 0 || !st.respond) return;
  broker.Complete(st.reply, EncodeResponse(st));
}

// Whether `next` may join `append` (same stream, and a version header that continues it).
bool Continues(const AppendRequest& append, const ProducedEvent& next) {
  if (append.stream != next.stream) return false;
  if (!next.version) return append.expected.kind() == ExpectedVersion::Kind::kAny;
  return append.expected.kind() == ExpectedVersion::Kind::kExact &&
         append.expected.version() + append.events.size() + 1 == *next.version;
}

std::optional<BatchError> BuildAppends(const std::string& topic, int32_t partition, uint32_t partitions,
                                       const std::vector<RecordBatch>& batches,
                                       std::vector<AppendRequest>* appends) {
  for (const RecordBatch& batch : batches) {
    for (const Record& record : batch.records) {
      ProducedEvent pe;
      if (auto error = RecordToEvent(topic, partition, partitions, batch, record, &pe)) return error;
      if (appends->empty() || !Continues(appends->back(), pe)) {
        AppendRequest& a = appends->emplace_back();
        a.topic = topic;
        a.stream = std::move(pe.stream);
        if (pe.version) a.expected = ExpectedVersion::Exact(*pe.version - 1);
      }
      appends->back().events.push_back(std::move(pe.event));
    }
  }
  return std::nullopt;
}

// For an idempotent batch: the error that refuses it, or nothing after naming its events and,
// when it is the producer's next batch (*next; not a replay), adding the producer's new state
// to every append. The state is recorded only once the appends are queued.
std::optional<KafkaError> ApplyProducerState(const ProducerStates& producers, TopicId topic,
                                             int32_t partition, const std::vector<RecordBatch>& batches,
                                             std::vector<AppendRequest>& appends, bool* next) {
  if (batches.size() != 1) return KafkaError::kInvalidRecord;  // clients send one per partition
  const RecordBatch& b = batches.front();
  const int32_t count = int32_t(b.records.size());
  const ProducerStates::Check check =
      producers.Verify(b.producer_id, b.producer_epoch, topic, partition, b.base_sequence, count);
  if (check.verdict == SequenceVerdict::kError) return check.error;
  int64_t n = 0;
  for (AppendRequest& a : appends) {
    for (NewEvent& e : a.events) {
      e.id = ProducerStates::EventId(b.producer_id, topic, partition,
                                     ProducerStates::SequenceAfter(b.base_sequence, n++));
    }
  }
  *next = check.verdict == SequenceVerdict::kNext;
  if (!*next) return std::nullopt;
  const WriteBatch state =
      producers.StateWrites(b.producer_id, b.producer_epoch, topic, partition, b.base_sequence, count);
  for (AppendRequest& a : appends) a.state_writes.Append(state);
  return std::nullopt;
}

void OnAppended(Broker& broker, const std::shared_ptr<ProduceState>& st, size_t t, size_t p,
                const Result<AppendResult>& result) {
  PartitionOutcome& out = st->topics[t].partitions[p];
  --st->outstanding;
  if (!result.ok()) {
    if (out.error == KafkaError::kNone) out.error = ErrorFor(result.status());
    spdlog::warn("kafka: produce to {}/{} failed: {}", st->topics[t].name, out.index,
                 result.status().ToString());
  } else if (out.base_offset < 0 && !result->positions.empty()) {
    out.base_offset = int64_t(result->positions.front().offset.value());
  }
  FinishIfDone(broker, *st);
}

// Queues a partition's appends as one unit (Log::AppendAsyncAll): all of them or none, so a
// client retrying a refused batch (busy, read-only) never duplicates part of it.
Status QueueAppends(Broker& broker, const std::shared_ptr<ProduceState>& st, size_t t, size_t p,
                    std::vector<AppendRequest> appends) {
  if (appends.empty()) return Status::Ok();
  std::vector<AsyncAppend> queued;
  queued.reserve(appends.size());
  Broker::Poster post = broker.poster();
  for (AppendRequest& a : appends) {
    queued.push_back({std::move(a), [post, &broker, st, t, p](Result<AppendResult> r) {
                        post([&broker, st, t, p, r = std::move(r)] { OnAppended(broker, st, t, p, r); });
                      }});
  }
  const size_t n = queued.size();
  CAIRN_RETURN_IF_ERROR(broker.log().AppendAsyncAll(std::move(queued)));
  st->outstanding += n;  // the callbacks reach this thread only after this returns
  return Status::Ok();
}

// Checks the partition and queues its appends; sets out.error when nothing is queued.
void ProducePartition(Broker& broker, const std::shared_ptr<ProduceState>& st, size_t t, size_t p,
                      std::string_view records) {
  const std::string& topic = st->topics[t].name;
  PartitionOutcome& out = st->topics[t].partitions[p];
  Result<TopicInfo> info = broker.log().GetTopic(topic);
  if (!info.ok() || out.index < 0 || uint32_t(out.index) >= info->partitions) {
    out.error = KafkaError::kUnknownTopicOrPartition;
    return;
  }
  if (broker.db().IsOwnedTopic(topic)) {
    spdlog::warn("kafka: refused a produce to {}: a domain owns it, and its events come only "
                 "through its commands (the HTTP API)", topic);
    out.error = KafkaError::kTopicAuthorizationFailed;
    return;
  }
  std::vector<RecordBatch> batches;
  std::vector<AppendRequest> appends;
  std::optional<BatchError> error = DecodeRecordSet(records, broker.options().max_decompressed_bytes, &batches);
  if (!error) error = BuildAppends(topic, out.index, info->partitions, batches, &appends);
  if (error) {
    spdlog::warn("kafka: refused a produce to {}/{}: {}", topic, out.index, error->message);
    out.error = error->code;
    return;
  }
  const bool idempotent = !batches.empty() && batches.front().producer_id >= 0;
  bool next = false;
  if (idempotent) {
    if (auto refused = ApplyProducerState(broker.producers(), info->id, out.index, batches, appends, &next)) {
      out.error = *refused;
      return;
    }
  }
  if (Status s = QueueAppends(broker, st, t, p, std::move(appends)); !s.ok()) {
    out.error = ErrorFor(s);
    spdlog::warn("kafka: produce to {}/{} refused: {}", topic, out.index, s.ToString());
    return;
  }
  if (next) {
    const RecordBatch& b = batches.front();
    broker.producers().Accept(b.producer_id, b.producer_epoch, info->id, out.index, b.base_sequence,
                              int32_t(b.records.size()));
  }
}

}  // namespace

bool HandleProduce(Broker& broker, const Request& req, const Reply& reply) {
  WireReader r(req.body);
  r.NullableString();  // transactional_id
  const int16_t acks = r.Int16();
  r.Int32();  // timeout_ms: appends end when the disk answers
  auto st = std::make_shared<ProduceState>();
  st->reply = reply;
  st->version = req.api_version;
  st->respond = acks != 0;
  struct Part { size_t t, p; std::string_view records; };
  std::vector<Part> parts;
  const int32_t topics = r.ArrayLength(6).value_or(0);
  for (int32_t t = 0; r.ok() && t < topics; ++t) {
    TopicOutcome& topic = st->topics.emplace_back();
    topic.name = r.String();
    const int32_t n = r.ArrayLength(8).value_or(0);
    for (int32_t p = 0; r.ok() && p < n; ++p) {
      topic.partitions.push_back({r.Int32()});
      parts.push_back({size_t(t), size_t(p), r.NullableBytes().value_or(std::string_view())});
    }
  }
  if (!r.ok()) return false;
  if (acks != 0 && acks != 1 && acks != -1) {
    for (TopicOutcome& t : st->topics) {
      for (PartitionOutcome& p : t.partitions) p.error = KafkaError::kInvalidRequiredAcks;
    }
  } else {
    for (const Part& part : parts) ProducePartition(broker, st, part.t, part.p, part.records);
  }
  if (!st->respond) broker.CompleteSilently(reply);
  FinishIfDone(broker, *st);
  return true;
}

}  // namespace cairn::kafka
