// See mapping.h.
#include "kafka/mapping.h"

#include <charconv>

#include "base/parse.h"
#include "log/event_json.h"

namespace cairn::kafka {
namespace {

std::string_view StreamPrefix(std::string_view topic) {
  return topic.substr(0, topic.find('-'));
}

const std::optional<std::string>* FindHeader(const Record& record, std::string_view key) {
  for (const RecordHeader& h : record.headers) {
    if (h.key == key) return &h.value;
  }
  return nullptr;
}

std::string NullKeyFor(int32_t partition, uint32_t partitions) {
  for (uint32_t n = 0;; ++n) {
    std::string key = "~" + std::to_string(n);
    if (PartitionForKey(key, partitions).value() == uint32_t(partition)) return key;
  }
}

std::optional<BatchError> Invalid(std::string message) {
  return BatchError{KafkaError::kInvalidRecord, std::move(message)};
}

std::optional<BatchError> ReadVersion(const Record& record, ProducedEvent* out) {
  const std::optional<std::string>* version = FindHeader(record, "version");
  if (!version || !*version) return std::nullopt;
  std::optional<uint64_t> v = ParseNumber<uint64_t>(**version);
  if (!v || *v == 0) return Invalid("header version must be a number >= 1, not " + **version);
  out->version = *v;
  return std::nullopt;
}


}  // namespace

std::optional<BatchError> RecordToEvent(std::string_view topic, int32_t partition,
                                        uint32_t partitions, const RecordBatch& batch,
                                        const Record& record, ProducedEvent* out) {
  if (!record.value) return Invalid("a null value (tombstone) has no Cairn event");
  const std::optional<std::string>* aggregate = FindHeader(record, "aggregateId");
  std::string key;
  if (aggregate && *aggregate) {
    key = **aggregate;
  } else if (record.key) {
    key = *record.key;
  }
  const bool null_key = key.empty() && !record.key;
  if (null_key) key = NullKeyFor(partition, partitions);
  out->stream = std::string(StreamPrefix(topic)) + "-" + key;
  if (!ValidateStreamId(out->stream).ok()) {
    return Invalid("key " + key + " does not make a valid stream id (printable ASCII, no '/')");
  }
  const uint32_t expected = PartitionForKey(key, partitions).value();
  if (!null_key && expected != uint32_t(partition)) {
    return Invalid("key " + key + " belongs to partition " + std::to_string(expected) + " by murmur2, not " +
                   std::to_string(partition) + " (Cairn's partitions are murmur2's)");
  }
  const std::optional<std::string>* type = FindHeader(record, "eventType");
  out->event.type = type && *type ? **type : std::string(kDefaultEventType);
  out->event.data = *record.value;
  const int64_t ms = batch.base_timestamp + record.timestamp_delta;
  out->event.timestamp_us = ms > 0 ? ms * 1000 : 0;
  out->event.metadata.user_id = std::string(null_key ? kKafkaNullKeyWriter : kKafkaWriter);
  return ReadVersion(record, out);
}

void AddEventRecord(const EventView& event, RecordBatchWriter& batch) {
  const std::string writer = event.metadata().user_id;
  const std::string_view key = StreamKey(event.stream());
  const bool through_kafka = writer == kKafkaWriter || writer == kKafkaNullKeyWriter;
  const std::string envelope = through_kafka ? std::string() : json::SeedRecordValue(event);
  char version[24];
  const auto end = std::to_chars(version, version + sizeof version, event.version().value()).ptr;
  const HeaderView headers[] = {{"eventType", event.type()},
                                {"aggregateId", key},
                                {"version", std::string_view(version, size_t(end - version))}};
  RecordView record;
  record.timestamp = event.timestamp_us() / 1000;
  record.offset = int64_t(event.offset().value());
  if (writer != kKafkaNullKeyWriter) record.key = key;
  record.value = through_kafka ? event.data() : std::string_view(envelope);
  record.headers = headers;
  batch.Add(record);
}

}  // namespace cairn::kafka
