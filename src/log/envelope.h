// The stored form of events (the envelope) and the fixed-width keys of the log's families.
// Internal to src/log.
//
// Families and keys (all integers big-endian, so byte order is numeric order):
//   log      topic id (4) | partition (4) | offset (8)   -> envelope (format 3, or format 2)
//   streams  stream id | 0x00 | first version (8)        -> run: log key of the first event
//                                                           (16) | event count (4); one per append
//                                                           (a bare log key, from older data
//                                                           dirs, is a run of one event)
//   (heads   stream id -> last version: written up to format 3, never read since; a stream's
//            head is its last run in `streams`)
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
#include <utility>

#include "cairn/log.h"

namespace cairn::envelope {

inline constexpr size_t kLogKeySize = 16;

std::string LogKey(TopicId topic, PartitionId partition, Offset offset);
// The same key in a fixed buffer: the append path builds one per event without allocating
// (16 bytes is past std::string's inline capacity).
struct LogKeyBytes {
  char bytes[kLogKeySize];
  std::string_view view() const { return {bytes, kLogKeySize}; }
};
LogKeyBytes EncodeLogKey(TopicId topic, PartitionId partition, Offset offset);
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

// ---- The envelope -----------------------------------------------------------------------------
//
// Format 3 (this build writes it; schemas/envelope.md has the full layout):
//
//   header  0xC3 | id form (1) | id | varint seq | varint version     written by the log's writer
//   body    flags (1) | timestamp (8, little-endian) | varint length + type |
//           varint length + stream | [flag 1: 4 x (varint length + text): command, correlation,
//           causation and user id] | data (the rest of the value)      encoded by the appender
//
// id form 1: the id is a UUID in lower-case text form, stored as its 16 bytes; form 0: varint
// length + the id's text. Topic, partition and offset are the log key's. Format 2 (data dirs of
// earlier builds, never rewritten) is the flatbuffers table of schemas/event.fbs: it starts
// with its root offset, a small number whose high bits are 0, so its first byte is never 0xC3.
inline constexpr char kFormat3Tag = static_cast<char>(0xC3);

// The body of `event` on `stream` (timestamp_us must be set). Done in the appender's thread.
std::string EncodeBody(const NewEvent& event, std::string_view stream);
// The same, appended to `out` (an append's bodies share one buffer).
void AppendBody(std::string* out, const NewEvent& event, std::string_view stream);
// What to reserve for a body: its size without metadata, or a little more.
inline size_t BodySizeHint(const NewEvent& event, std::string_view stream) {
  return 32 + event.type.size() + stream.size() + event.data.size();
}
// Appends the header for an event with this id (non-empty), seq and version to `out`.
void AppendHeader(std::string* out, std::string_view id, Seq seq, StreamVersion version);
// The same for an id given as its 128 bits (a generated id).
void AppendHeader(std::string* out, uint64_t id_hi, uint64_t id_lo, Seq seq,
                  StreamVersion version);

// Every field of an envelope (include/cairn/log.h). A Fields whose id was stored as 16 bytes
// points into its own id_text: one that is copied must be decoded again.
using Fields = EnvelopeFields;
// Decodes a format 3 envelope; false when it is not one or is malformed.
bool DecodeFormat3(std::string_view envelope, Fields* out);
// Whether the envelope is format 3 (else it is format 2).
inline bool IsFormat3(std::string_view envelope) {
  return !envelope.empty() && envelope[0] == kFormat3Tag;
}
// The seq of an envelope of either format, read without decoding the rest.
Seq SeqOf(std::string_view envelope);
// Checks that `bytes` is a well-formed envelope of either format (for data that did not come
// from this build's writer).
bool Verify(std::string_view bytes);

// The id the log gives an event appended without one: a version 8 UUID (RFC 9562 §5.8) holding
// the event's position and 54 random bits, so the event is found from its id with no entry in
// the ids family. Bits, in order: topic id (16), partition (12) and offset bits 39..20 (20);
// version 8 (4); offset bits 19..8 (12); variant 10 (2); offset bits 7..0 (8); random (54).
// Nothing when the position does not fit (topic id >= 65536, partition >= 4096 or offset >=
// 2^40): such events get a NewUuid id, which the ids family indexes.
std::optional<std::pair<uint64_t, uint64_t>> PositionalEventId(TopicId topic, PartitionId partition,
                                                               Offset offset);
// The log key an id in PositionalEventId's form points at; nothing for any other id. An id of
// that form may still come from elsewhere (any lower-case version 8 UUID with variant 10
// decodes): callers compare the stored event's id.
std::optional<std::string> PositionalEventIdKey(std::string_view id);

}  // namespace cairn::envelope
