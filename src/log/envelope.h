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
//   ids      event id                                    -> log key (16)
//   topics   topic name                                  -> topic id (4) | partitions (4)
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "cairn/log.h"

namespace cairn::envelope {

inline constexpr size_t kLogKeySize = 16;

void PutBigEndian32(std::string* out, uint32_t v);
void PutBigEndian64(std::string* out, uint64_t v);
uint32_t GetBigEndian32(std::string_view in);
uint64_t GetBigEndian64(std::string_view in);

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

// A time-ordered (version 7) UUID in its 36-character text form.
std::string NewUuid();
// Microseconds since the Unix epoch, now.
int64_t NowMicros();

}  // namespace cairn::envelope
