// How Kafka records and Cairn events correspond, both ways. Topics and partitions map 1:1 (a
// Cairn partition is murmur2 of the stream key, exactly Kafka's default partitioner).
//
// Produce (record -> event):
//   stream  "<prefix>-<aggregateId header, else key>", prefix = the topic up to its first '-'
//           ("order-events" -> "order"), so StreamKey(stream) is the Kafka key. A null key with
//           no aggregateId header goes to the partition's null-key stream "<prefix>-~<n>", n the
//           first number whose murmur2 lands on the record's partition.
//   type    header eventType, else "kafka.record"; data = the value, byte for byte.
//   version header version N makes the append expect the stream at N-1 (as the importer does).
//   time    the record's timestamp (ms); metadata.user_id marks the event as written through
//           Kafka ("kafka", or "kafka:null-key").
// Fetch (event -> record): key = StreamKey(stream) (null for null-key records); value = data for
//   events written through Kafka, else the seed producer's envelope
//   {"type","aggregateId","version","timestamp","data"}; headers eventType, aggregateId, version.
// Called by the Produce and Fetch handlers.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "cairn/log.h"
#include "kafka/record_batch.h"

namespace cairn::kafka {

inline constexpr std::string_view kDefaultEventType = "kafka.record";
inline constexpr std::string_view kKafkaWriter = "kafka";
inline constexpr std::string_view kKafkaNullKeyWriter = "kafka:null-key";

struct ProducedEvent {
  std::string stream;
  // Set from the version header: the version this event must get.
  std::optional<uint64_t> version;
  NewEvent event;
};

// The event for `record` of `batch`, produced to `partition` of a topic with `partitions`.
// kInvalidRecord (with why) for a tombstone, a key that is not a valid stream key, or a key
// whose murmur2 partition is not `partition`.
std::optional<BatchError> RecordToEvent(std::string_view topic, int32_t partition,
                                        uint32_t partitions, const RecordBatch& batch,
                                        const Record& record, ProducedEvent* out);

// Adds the record of `event` to `batch`.
void AddEventRecord(const EventView& event, RecordBatchWriter& batch);

}  // namespace cairn::kafka
