// The log's reads (include/cairn/log.h): one partition by offset, one stream by version, one
// event by id or position, high-water marks and the last seq. They read only what the group
// leader has published (high-water marks, committed_seq), so no reader sees part of an append.
#include <algorithm>
#include <string>
#include <vector>

#include "log/envelope.h"
#include "log/log_rep.h"
#include "log/rocks.h"

namespace cairn {

namespace env = envelope;

Status Log::ScanPartition(std::string_view topic_name, PartitionId partition, Offset from,
                          Offset to, const EventVisitor& visit) const {
  TopicState* topic = rep_->FindTopic(topic_name);
  if (!topic) return Status::NotFound("topic " + std::string(topic_name) + " does not exist");
  if (partition.value() >= topic->partitions) {
    return Status::NotFound("topic " + topic->name + " has no partition " +
                            std::to_string(partition.value()));
  }
  const Offset hwm(topic->high_water[partition.value()].load(std::memory_order_acquire));
  const Offset end = std::min(to, hwm);
  if (from >= end) return Status::Ok();
  const std::string lower = env::LogKey(topic->id, partition, from);
  const std::string upper = env::LogKey(topic->id, partition, end);
  const rocksdb::Slice upper_slice(upper);
  rocksdb::ReadOptions ro = LogScanOptions();
  ro.iterate_upper_bound = &upper_slice;
  std::unique_ptr<rocksdb::Iterator> it(rep_->db->NewIterator(ro, HandleOf(rep_->log_cf)));
  for (it->Seek(lower); it->Valid(); it->Next()) {
    if (!visit(EventView(topic->name, partition, env::LogKeyOffset(ToView(it->key())),
                         ToView(it->value())))) {
      break;
    }
  }
  return FromRocks(it->status(), "log read");
}

Result<std::vector<Event>> Log::ReadPartition(std::string_view topic, PartitionId partition,
                                              Offset from, size_t max_events,
                                              size_t max_bytes) const {
  std::vector<Event> out;
  size_t bytes = 0;
  CAIRN_RETURN_IF_ERROR(
      ScanPartition(topic, partition, from, Offset(UINT64_MAX), [&](const EventView& e) {
        if (out.size() >= max_events || (!out.empty() && bytes + e.envelope().size() > max_bytes)) {
          return false;
        }
        bytes += e.envelope().size();
        out.push_back(e.ToEvent());
        return true;
      }));
  return out;
}

Result<std::vector<Event>> Log::ReadStream(std::string_view stream, StreamVersion from,
                                           size_t max_events) const {
  CAIRN_RETURN_IF_ERROR(ValidateStreamId(stream));
  from = StreamVersion(std::max<uint64_t>(from.value(), 1));
  // The stream's runs (one per append) from the one holding `from`.
  StreamRunIterator it(rep_->db, rep_->streams_cf, stream);
  it->SeekForPrev(env::StreamIndexKey(stream, from));
  if (!it->Valid()) it->Seek(it.lower());
  std::vector<Event> out;
  for (; it->Valid() && out.size() < max_events; it->Next()) {
    const uint64_t first = env::StreamIndexVersion(ToView(it->key())).value();
    CAIRN_ASSIGN_OR_RETURN(const env::Run run, env::ParseStreamRun(ToView(it->value())));
    for (uint32_t i = 0; i < run.count && out.size() < max_events; ++i) {
      if (first + i < from.value()) continue;
      const std::string key =
          env::LogKey(run.topic, run.partition, Offset(run.first_offset.value() + i));
      CAIRN_ASSIGN_OR_RETURN(std::optional<std::string> envelope, rep_->GetEnvelope(key));
      if (!envelope.has_value() || !rep_->TopicById(run.topic)) {
        return Status::Corruption("stream " + std::string(stream) + " points at a missing event");
      }
      out.push_back(rep_->ViewOf(StoredEvent{key, std::move(*envelope)}).ToEvent());
    }
  }
  CAIRN_RETURN_IF_ERROR(FromRocks(it->status(), "stream read"));
  return out;
}

Result<StreamVersion> Log::StreamHead(std::string_view stream) const {
  CAIRN_RETURN_IF_ERROR(ValidateStreamId(stream));
  CAIRN_ASSIGN_OR_RETURN(const uint64_t head, rep_->ReadHead(stream));
  return StreamVersion(head);
}

Result<Event> Log::ReadEvent(std::string_view event_id) const {
  CAIRN_ASSIGN_OR_RETURN(std::optional<StoredEvent> stored, rep_->FindEventById(event_id));
  if (!stored.has_value()) return Status::NotFound("no event with id " + std::string(event_id));
  return rep_->ViewOf(*stored).ToEvent();
}

Result<Event> Log::ReadAt(std::string_view topic_name, PartitionId partition, Offset offset) const {
  TopicState* topic = rep_->FindTopic(topic_name);
  if (!topic) return Status::NotFound("topic " + std::string(topic_name) + " does not exist");
  if (partition.value() >= topic->partitions ||
      offset.value() >= topic->high_water[partition.value()].load(std::memory_order_acquire)) {
    return Status::NotFound("no event at " + Position{topic->name, partition, offset, Seq()}.ToString());
  }
  CAIRN_ASSIGN_OR_RETURN(std::optional<std::string> envelope,
                         rep_->GetEnvelope(env::LogKey(topic->id, partition, offset)));
  if (!envelope.has_value()) return Status::Corruption("missing event below the high-water mark");
  return EventView(topic->name, partition, offset, *envelope).ToEvent();
}

Offset Log::HighWaterMark(std::string_view topic_name, PartitionId partition) const {
  TopicState* topic = rep_->FindTopic(topic_name);
  if (!topic || partition.value() >= topic->partitions) return Offset(0);
  return Offset(topic->high_water[partition.value()].load(std::memory_order_acquire));
}

Seq Log::LastSeq() const { return Seq(rep_->committed_seq.load(std::memory_order_acquire)); }

Result<std::vector<Offset>> Log::OffsetsAfterSeq(std::string_view topic_name, Seq after) const {
  TopicState* topic = rep_->FindTopic(topic_name);
  if (!topic) return Status::NotFound("topic " + std::string(topic_name) + " does not exist");
  std::vector<Offset> out;
  for (uint32_t p = 0; p < topic->partitions; ++p) {
    CAIRN_ASSIGN_OR_RETURN(const Offset first, rep_->FirstOffsetAfter(*topic, PartitionId(p), after));
    out.push_back(first);
  }
  return out;
}

}  // namespace cairn
