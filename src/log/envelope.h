// The stored form of events (flatbuffers, schemas/event.fbs) and the fixed-width keys of the
// log's families. Internal to src/log.
//
// Families and keys (all integers big-endian, so byte order is numeric order):
//   log      topic id (4) | partition (4) | offset (8)   -> envelope
//   streams  stream id | 0x00 | first version (8)        -> run: log key of the first event
//                                                           (16) | event count (4); one per append
//                                                           (a bare log key, from older data
//                                                           dirs, is a run of one event)
//   heads    stream id                                   -> last version (8)
//   ids      event id                                    -> log key (16); only ids a caller
//                                                           chose (and NewUuid fallbacks): a
//                                                           generated id holds its position
//                                                           (PositionalEventId)
//   topics   topic name                                  -> topic id (4) | partitions (4)
//   default  "cairn.log.format"                          -> the log's format (4; see format.cc)
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "cairn/log.h"

namespace cairn::envelope {

inline constexpr size_t kLogKeySize = 16;

std::string LogKey(TopicId topic, PartitionId partition, Offset offset);
// The first log key of the partition after `partition` (exclusive upper bound of a partition).
std::string LogKeyPartitionEnd(TopicId topic, PartitionId partition);
TopicId LogKeyTopic(std::string_view key);
PartitionId LogKeyPartition(std::string_view key);
Offset LogKeyOffset(std::string_view key);

std::string StreamKeyPrefix(std::string_view stream);      // stream | 0x00
std::string StreamKeyPrefixEnd(std::string_view stream);   // stream | 0x01
std::string StreamIndexKey(std::string_view stream, StreamVersion version);
StreamVersion StreamIndexVersion(std::string_view key);

// The value of a `streams` entry: `count` events from `first_offset` of one partition.
struct Run {
  TopicId topic;
  PartitionId partition;
  Offset first_offset;
  uint32_t count = 0;
};
std::string StreamRun(TopicId topic, PartitionId partition, Offset first_offset, uint32_t count);
Result<Run> ParseStreamRun(std::string_view value);

// Builds the envelope of `event` with every scalar stored explicitly, so the writer can later
// fill in partition, offset, seq and version in place (Patch) without re-encoding.
std::string Encode(const NewEvent& event, std::string_view topic, std::string_view stream);
void Patch(std::string* envelope, PartitionId partition, Offset offset, Seq seq,
           StreamVersion version);
// Checks that `bytes` is a well-formed envelope (for data that did not come from our writer).
bool Verify(std::string_view bytes);

// The id the log gives an event appended without one: a version 8 UUID (RFC 9562 §5.8) holding
// the event's position and 54 random bits, so the event is found from its id with no entry in
// the ids family. Bits, in order: topic id (16), partition (12) and offset bits 39..20 (20);
// version 8 (4); offset bits 19..8 (12); variant 10 (2); offset bits 7..0 (8); random (54).
// Nothing when the position does not fit (topic id >= 65536, partition >= 4096 or offset >=
// 2^40): such events get a NewUuid id, which the ids family indexes.
std::optional<std::string> PositionalEventId(TopicId topic, PartitionId partition, Offset offset);
// The log key an id in PositionalEventId's form points at; nothing for any other id. An id of
// that form may still come from elsewhere (any lower-case version 8 UUID with variant 10
// decodes): callers compare the stored event's id.
std::optional<std::string> PositionalEventIdKey(std::string_view id);
// What Encode stores as the id of an event without one, until the writer patches it (PatchId).
inline constexpr std::string_view kIdPlaceholder = "00000000-0000-0000-0000-000000000000";
// Overwrites the envelope's id, which must be as long as `id`.
void PatchId(std::string* envelope, std::string_view id);

}  // namespace cairn::envelope
