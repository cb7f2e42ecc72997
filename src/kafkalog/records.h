// Cairn events as Kafka records and back, for the Kafka log (include/cairn/kafka_log.h).
//
// A record of event E: partition = E's partition, key = StreamKey(E.stream), timestamp = E's in
// ms, value = the seed service's envelope (json::SeedRecordValue), headers:
//   eventType, aggregateId, version    as the seed's producer wrote them
//   cairn.seq                          the writer's seq: projections' order across partitions
//   cairn.id, cairn.stream, cairn.ts   event id, stream id, timestamp in µs
//   cairn.data-at                      where E's data starts in the value (absent: the value
//                                      holds it as a JSON string; see SeedRecordValue)
//   cairn.command-id, cairn.correlation-id, cairn.causation-id, cairn.user-id
//                                      metadata, each only when not empty
// Decoding gives back every field byte for byte, so a replica's log equals the writer's.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "cairn/log.h"

namespace cairn::kafkalog {

struct Record {
  std::string key;
  std::string value;
  std::vector<std::pair<std::string, std::string>> headers;
  int64_t timestamp_ms = 0;
};

Record EncodeRecord(const EventView& event);

// The event of a record read from `topic`. `header` looks a header up by name (the last one
// with that name), returning false when absent. kCorruption (naming the missing or bad header)
// for a record that no Cairn writer wrote.
using HeaderLookup = bool (*)(const void* record, std::string_view name, std::string_view* value);
Result<ReplicatedEvent> DecodeRecord(std::string_view topic, std::string_view value,
                                     const void* record, HeaderLookup header);

}  // namespace cairn::kafkalog
