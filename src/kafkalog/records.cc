// Events as Kafka records and back (see records.h).
#include "kafkalog/records.h"

#include "base/parse.h"
#include "log/event_json.h"

namespace cairn::kafkalog {

namespace {

constexpr std::string_view kSeq = "cairn.seq";
constexpr std::string_view kId = "cairn.id";
constexpr std::string_view kStream = "cairn.stream";
constexpr std::string_view kTimestamp = "cairn.ts";
constexpr std::string_view kDataAt = "cairn.data-at";
constexpr std::string_view kVersion = "version";
constexpr std::string_view kType = "eventType";

// The metadata headers, each with the field it carries.
struct MetadataHeader {
  std::string_view name;
  std::string EventMetadata::*field;
};
constexpr MetadataHeader kMetadataHeaders[] = {
    {"cairn.command-id", &EventMetadata::command_id},
    {"cairn.correlation-id", &EventMetadata::correlation_id},
    {"cairn.causation-id", &EventMetadata::causation_id},
    {"cairn.user-id", &EventMetadata::user_id},
};

}  // namespace

Record EncodeRecord(const EventView& event) {
  Record r;
  r.key = std::string(StreamKey(event.stream()));
  size_t data_at = 0;
  r.value = json::SeedRecordValue(event, &data_at);
  r.timestamp_ms = event.timestamp_us() / 1000;
  r.headers = {
      {std::string(kType), std::string(event.type())},
      {"aggregateId", r.key},
      {std::string(kVersion), std::to_string(event.version().value())},
      {std::string(kSeq), std::to_string(event.seq().value())},
      {std::string(kId), std::string(event.id())},
      {std::string(kStream), std::string(event.stream())},
      {std::string(kTimestamp), std::to_string(event.timestamp_us())},
  };
  if (data_at != std::string_view::npos) {
    r.headers.emplace_back(std::string(kDataAt), std::to_string(data_at));
  }
  const EventMetadata metadata = event.metadata();
  for (const MetadataHeader& h : kMetadataHeaders) {
    if (!(metadata.*h.field).empty()) r.headers.emplace_back(h.name, metadata.*h.field);
  }
  return r;
}

Result<ReplicatedEvent> DecodeRecord(std::string_view topic, std::string_view value,
                                     const void* record, HeaderLookup header) {
  auto required = [&](std::string_view name) -> Result<std::string_view> {
    std::string_view v;
    if (!header(record, name, &v)) {
      return Status::Corruption("a record of topic " + std::string(topic) +
                                " has no header " + std::string(name) +
                                ": it was not written by a Cairn writer");
    }
    return v;
  };
  auto number = [&](std::string_view name) -> Result<uint64_t> {
    CAIRN_ASSIGN_OR_RETURN(std::string_view text, required(name));
    const std::optional<uint64_t> n = ParseNumber<uint64_t>(text);
    if (!n) {
      return Status::Corruption("header " + std::string(name) + " of a record of topic " +
                                std::string(topic) + " is not a number: " + std::string(text));
    }
    return *n;
  };
  ReplicatedEvent e;
  e.topic = std::string(topic);
  CAIRN_ASSIGN_OR_RETURN(const uint64_t seq, number(kSeq));
  CAIRN_ASSIGN_OR_RETURN(const uint64_t version, number(kVersion));
  CAIRN_ASSIGN_OR_RETURN(const uint64_t micros, number(kTimestamp));
  CAIRN_ASSIGN_OR_RETURN(std::string_view id, required(kId));
  CAIRN_ASSIGN_OR_RETURN(std::string_view stream, required(kStream));
  CAIRN_ASSIGN_OR_RETURN(std::string_view type, required(kType));
  e.seq = Seq(seq);
  e.version = StreamVersion(version);
  e.stream = std::string(stream);
  e.event.id = std::string(id);
  e.event.type = std::string(type);
  e.event.timestamp_us = static_cast<int64_t>(micros);
  std::string_view data_at_text;
  if (header(record, kDataAt, &data_at_text)) {
    const std::optional<size_t> at = ParseNumber<size_t>(data_at_text);
    if (!at || *at >= value.size()) {
      return Status::Corruption("header " + std::string(kDataAt) + " of event " + e.event.id +
                                " points outside its value");
    }
    e.event.data = std::string(value.substr(*at, value.size() - *at - 1));
  } else {
    // The data went in as a JSON string: read it back from the envelope.
    CAIRN_ASSIGN_OR_RETURN(e.event.data, json::SeedRecordStringData(value));
  }
  for (const MetadataHeader& h : kMetadataHeaders) {
    std::string_view v;
    if (header(record, h.name, &v)) e.event.metadata.*h.field = std::string(v);
  }
  return e;
}

}  // namespace cairn::kafkalog
