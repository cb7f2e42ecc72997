// The lookups the log's parts share (see log_rep.h): an event's envelope by id, a stream's head
// and the binary search of a partition by seq. The writer, the reads and the cursor call them.
#include <string>

#include "base/bytes.h"
#include "log/envelope.h"
#include "log/log_rep.h"

namespace cairn {

namespace env = envelope;

Result<std::optional<StoredEvent>> Log::Rep::FindEventById(std::string_view id) const {
  if (std::optional<std::string> key = env::PositionalEventIdKey(id)) {
    CAIRN_ASSIGN_OR_RETURN(std::optional<std::string> stored, GetEnvelope(*key));
    // Any version 8 UUID decodes to some position: only the event stored there with this very
    // id is a match.
    if (stored.has_value()) {
      StoredEvent event{std::move(*key), std::move(*stored)};
      if (ViewOf(event).id() == id) return std::optional<StoredEvent>(std::move(event));
    }
  }
  CAIRN_ASSIGN_OR_RETURN(std::optional<std::string> key, store->Get(ids_cf, id));
  if (!key.has_value()) return std::optional<StoredEvent>();
  CAIRN_ASSIGN_OR_RETURN(std::optional<std::string> stored, GetEnvelope(*key));
  if (!stored.has_value() || key->size() != env::kLogKeySize ||
      !TopicById(env::LogKeyTopic(*key))) {
    return Status::Corruption("event id " + std::string(id) + " points at a missing event");
  }
  return std::optional<StoredEvent>(StoredEvent{std::move(*key), std::move(*stored)});
}

EventView Log::Rep::ViewOf(const StoredEvent& stored) const {
  const TopicState* topic = TopicById(env::LogKeyTopic(stored.key));
  return EventView(topic ? std::string_view(topic->name) : std::string_view(),
                   env::LogKeyPartition(stored.key), env::LogKeyOffset(stored.key),
                   stored.envelope);
}

Result<uint64_t> Log::Rep::ReadHead(std::string_view stream) const {
  // The stream's last run in the stream index: its first version plus its events, minus one.
  StreamRunIterator it(db, streams_cf, stream);
  it->SeekToLast();
  if (!it->Valid()) {
    CAIRN_RETURN_IF_ERROR(
        FromRocks(it->status(), "reading the head of stream " + std::string(stream)));
    return uint64_t{0};
  }
  if (it->key().size() < it.lower().size() + 8) {
    return Status::Corruption("malformed index entry of stream " + std::string(stream));
  }
  const uint64_t first = env::StreamIndexVersion(ToView(it->key())).value();
  CAIRN_ASSIGN_OR_RETURN(const env::Run run, env::ParseStreamRun(ToView(it->value())));
  if (run.count == 0) {
    return Status::Corruption("empty run in the index of stream " + std::string(stream));
  }
  return first + run.count - 1;
}

// A binary search: seq grows with offset inside a partition.
Result<Offset> Log::Rep::FirstOffsetAfter(const TopicState& topic, PartitionId partition,
                                          Seq after) const {
  uint64_t lo = 0, hi = topic.high_water[partition.value()].load(std::memory_order_acquire);
  if (after.value() == 0) return Offset(0);
  while (lo < hi) {
    const uint64_t mid = lo + (hi - lo) / 2;
    CAIRN_ASSIGN_OR_RETURN(std::optional<std::string> envelope,
                           GetEnvelope(env::LogKey(topic.id, partition, Offset(mid))));
    if (!envelope.has_value()) return Status::Corruption("missing event below the high-water mark");
    if (env::SeqOf(*envelope) > after) {
      hi = mid;
    } else {
      lo = mid + 1;
    }
  }
  return Offset(lo);
}

StreamRunIterator::StreamRunIterator(rocksdb::DB* db, Family* streams, std::string_view stream)
    : lower_(env::StreamKeyPrefix(stream)),
      upper_(env::StreamKeyPrefixEnd(stream)),
      lower_slice_(lower_),
      upper_slice_(upper_) {
  rocksdb::ReadOptions ro;
  ro.iterate_lower_bound = &lower_slice_;
  ro.iterate_upper_bound = &upper_slice_;
  it_.reset(db->NewIterator(ro, HandleOf(streams)));
}

rocksdb::ReadOptions LogScanOptions() {
  rocksdb::ReadOptions ro;
  ro.fill_cache = false;
  return ro;
}

}  // namespace cairn
