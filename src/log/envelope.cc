// Encoding of the event envelope and of the log's keys (see envelope.h for the layout).
#include "log/envelope.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <random>
#include <utility>

#include "base/bytes.h"
#include "base/uuid.h"
#include "event_generated.h"

namespace cairn {
namespace envelope {

LogKeyBytes EncodeLogKey(TopicId topic, PartitionId partition, Offset offset) {
  LogKeyBytes key;
  bytes::StoreBigEndian32(key.bytes, topic.value());
  bytes::StoreBigEndian32(key.bytes + 4, partition.value());
  bytes::StoreBigEndian64(key.bytes + 8, offset.value());
  return key;
}

std::string LogKey(TopicId topic, PartitionId partition, Offset offset) {
  return std::string(EncodeLogKey(topic, partition, offset).view());
}

std::string LogKeyPartitionEnd(TopicId topic, PartitionId partition) {
  // Partition numbers are < 4096, so partition + 1 never overflows.
  return LogKey(topic, PartitionId(partition.value() + 1), Offset(0));
}

TopicId LogKeyTopic(std::string_view key) { return TopicId(bytes::GetBigEndian32(key)); }
PartitionId LogKeyPartition(std::string_view key) {
  return PartitionId(bytes::GetBigEndian32(key.substr(4)));
}
Offset LogKeyOffset(std::string_view key) { return Offset(bytes::GetBigEndian64(key.substr(8))); }

std::string StreamKeyPrefix(std::string_view stream) {
  std::string key(stream);
  key.push_back('\0');
  return key;
}

std::string StreamKeyPrefixEnd(std::string_view stream) {
  std::string key(stream);
  key.push_back('\1');
  return key;
}

std::string StreamIndexKey(std::string_view stream, StreamVersion version) {
  std::string key = StreamKeyPrefix(stream);
  bytes::PutBigEndian64(&key, version.value());
  return key;
}

StreamVersion StreamIndexVersion(std::string_view key) {
  return StreamVersion(bytes::GetBigEndian64(key.substr(key.size() - 8)));
}

std::string StreamRun(TopicId topic, PartitionId partition, Offset first_offset, uint32_t count) {
  std::string value = LogKey(topic, partition, first_offset);
  bytes::PutBigEndian32(&value, count);
  return value;
}

Result<Run> ParseStreamRun(std::string_view value) {
  // Data dirs written before runs existed hold one entry per event: just its log key.
  if (value.size() == kLogKeySize) {
    return Run{LogKeyTopic(value), LogKeyPartition(value), LogKeyOffset(value), 1};
  }
  if (value.size() != kLogKeySize + 4) return Status::Corruption("malformed stream index entry");
  return Run{LogKeyTopic(value), LogKeyPartition(value), LogKeyOffset(value.substr(0, kLogKeySize)),
             bytes::GetBigEndian32(value.substr(kLogKeySize))};
}

// ---- Format 3 -----------------------------------------------------------------------------------

namespace {

constexpr char kIdText = 0;   // varint length + the id's text
constexpr char kIdUuid = 1;   // 16 bytes: a UUID whose text form is lower-case canonical
constexpr char kHasMetadata = 1;

void PutString(std::string* out, std::string_view s) {
  bytes::PutVarint64(out, s.size());
  out->append(s);
}

void PutUuid(std::string* out, uint64_t hi, uint64_t lo) {
  bytes::PutBigEndian64(out, hi);
  bytes::PutBigEndian64(out, lo);
}

// Reads a varint length and that many bytes from the front of `in`.
bool GetString(std::string_view* in, std::string_view* out) {
  std::optional<uint64_t> n = bytes::GetVarint64(in);
  if (!n || *n > in->size()) return false;
  *out = in->substr(0, *n);
  in->remove_prefix(*n);
  return true;
}

// Reads the header up to and including the seq.
bool GetHeaderToSeq(std::string_view* in, Fields* out) {
  if (in->size() < 2 || (*in)[0] != kFormat3Tag) return false;
  const char form = (*in)[1];
  in->remove_prefix(2);
  if (form == kIdUuid) {
    if (in->size() < 16) return false;
    WriteUuidText(bytes::GetBigEndian64(*in), bytes::GetBigEndian64(in->substr(8)), out->id_text);
    out->id = std::string_view(out->id_text, sizeof(out->id_text));
    in->remove_prefix(16);
  } else if (form != kIdText || !GetString(in, &out->id)) {
    return false;
  }
  std::optional<uint64_t> seq = bytes::GetVarint64(in);
  if (!seq) return false;
  out->seq = Seq(*seq);
  return true;
}

}  // namespace

void AppendBody(std::string* out, const NewEvent& event, std::string_view stream) {
  const EventMetadata& m = event.metadata;
  const bool has_metadata = !m.command_id.empty() || !m.correlation_id.empty() ||
                            !m.causation_id.empty() || !m.user_id.empty();
  out->push_back(has_metadata ? kHasMetadata : 0);
  const auto ts = static_cast<uint64_t>(event.timestamp_us);
  char ts_bytes[8];
  for (int i = 0; i < 8; ++i) ts_bytes[i] = static_cast<char>((ts >> (8 * i)) & 0xff);
  out->append(ts_bytes, sizeof(ts_bytes));
  PutString(out, event.type);
  PutString(out, stream);
  if (has_metadata) {
    for (const std::string* v : {&m.command_id, &m.correlation_id, &m.causation_id, &m.user_id}) {
      PutString(out, *v);
    }
  }
  out->append(event.data);
}

std::string EncodeBody(const NewEvent& event, std::string_view stream) {
  std::string out;
  out.reserve(BodySizeHint(event, stream));
  AppendBody(&out, event, stream);
  return out;
}

void AppendHeader(std::string* out, std::string_view id, Seq seq, StreamVersion version) {
  out->push_back(kFormat3Tag);
  if (const auto bits = ParseUuidText(id)) {
    out->push_back(kIdUuid);
    PutUuid(out, bits->first, bits->second);
  } else {
    out->push_back(kIdText);
    PutString(out, id);
  }
  bytes::PutVarint64(out, seq.value());
  bytes::PutVarint64(out, version.value());
}

void AppendHeader(std::string* out, uint64_t id_hi, uint64_t id_lo, Seq seq,
                  StreamVersion version) {
  out->push_back(kFormat3Tag);
  out->push_back(kIdUuid);
  PutUuid(out, id_hi, id_lo);
  bytes::PutVarint64(out, seq.value());
  bytes::PutVarint64(out, version.value());
}

bool DecodeFormat3(std::string_view in, Fields* out) {
  if (!GetHeaderToSeq(&in, out)) return false;
  std::optional<uint64_t> version = bytes::GetVarint64(&in);
  if (!version || in.size() < 9) return false;
  out->version = StreamVersion(*version);
  const char flags = in[0];
  uint64_t ts = 0;
  for (int i = 0; i < 8; ++i) ts |= uint64_t{static_cast<unsigned char>(in[1 + i])} << (8 * i);
  out->timestamp_us = static_cast<int64_t>(ts);
  in.remove_prefix(9);
  if (!GetString(&in, &out->type) || !GetString(&in, &out->stream)) return false;
  if (flags & kHasMetadata) {
    for (std::string_view* v : {&out->command_id, &out->correlation_id, &out->causation_id,
                                &out->user_id}) {
      if (!GetString(&in, v)) return false;
    }
  } else {
    out->command_id = out->correlation_id = out->causation_id = out->user_id = {};
  }
  out->data = in;
  return true;
}

Seq SeqOf(std::string_view envelope) {
  if (IsFormat3(envelope)) {
    Fields fields;
    return GetHeaderToSeq(&envelope, &fields) ? fields.seq : Seq(0);
  }
  // Format 2: read the one scalar from an aligned copy (RocksDB does not align values). No
  // envelope is shorter than its root offset; memcpy may not be handed an empty vector's null.
  if (envelope.size() < sizeof(uint32_t)) return Seq(0);
  thread_local std::vector<uint64_t> aligned;
  aligned.resize((envelope.size() + 7) / 8);
  std::memcpy(aligned.data(), envelope.data(), envelope.size());
  return Seq(fb::GetEvent(aligned.data())->seq());
}

bool Verify(std::string_view bytes) {
  if (IsFormat3(bytes)) {
    Fields fields;
    return DecodeFormat3(bytes, &fields);
  }
  // Found by the envelope fuzz target: an empty value made this memcpy(nullptr, ..., 0), which
  // is undefined behaviour. Nothing shorter than a root offset is a flatbuffer.
  if (bytes.size() < sizeof(uint32_t)) return false;
  std::vector<uint64_t> aligned((bytes.size() + 7) / 8);
  std::memcpy(aligned.data(), bytes.data(), bytes.size());
  flatbuffers::Verifier verifier(reinterpret_cast<const uint8_t*>(aligned.data()), bytes.size());
  return fb::VerifyEventBuffer(verifier);
}

namespace {

// Positional ids: topic id (16 bits) | partition (12) | offset (40), 68 bits in all.
constexpr uint32_t kPositionalTopicLimit = 1u << 16;
constexpr uint64_t kPositionalOffsetLimit = uint64_t{1} << 40;
constexpr uint64_t kRandom54 = (uint64_t{1} << 54) - 1;

}  // namespace

std::optional<std::pair<uint64_t, uint64_t>> PositionalEventId(TopicId topic, PartitionId partition,
                                                               Offset offset) {
  if (topic.value() >= kPositionalTopicLimit || partition.value() >= 4096 ||
      offset.value() >= kPositionalOffsetLimit) {
    return std::nullopt;
  }
  // 68 bits of position: bits 67..20 fill the first 48 bits, 19..8 the 12 after the version
  // nibble, 7..0 the 8 after the variant bits; 54 random bits end it.
  const uint64_t high = (uint64_t{topic.value()} << 32) | (uint64_t{partition.value()} << 20) |
                        (offset.value() >> 20);                      // position bits 67..20
  const uint64_t low = offset.value() & 0xfffff;                     // position bits 19..0
  const uint64_t hi = (high << 16) | 0x8000 | (low >> 8);            // version 8
  const uint64_t lo = 0x8000000000000000ULL | ((low & 0xff) << 54) | (RandomBits() & kRandom54);
  return std::pair{hi, lo};
}

std::optional<std::string> PositionalEventIdKey(std::string_view id) {
  const auto bits = ParseUuidText(id);
  if (!bits) return std::nullopt;
  const auto [hi, lo] = *bits;
  if (((hi >> 12) & 0xf) != 8 || (lo >> 62) != 0b10) return std::nullopt;
  const uint64_t high = hi >> 16;  // position bits 67..20
  const uint64_t low = ((hi & 0xfff) << 8) | ((lo >> 54) & 0xff);
  const TopicId topic(static_cast<uint32_t>(high >> 32));
  const PartitionId partition(static_cast<uint32_t>((high >> 20) & 0xfff));
  const Offset offset(((high & 0xfffff) << 20) | low);
  return LogKey(topic, partition, offset);
}

}  // namespace envelope

// ---- EventView --------------------------------------------------------------------------------

namespace {
std::string_view View(const flatbuffers::String* s) {
  return s ? std::string_view(s->data(), s->size()) : std::string_view();
}
}  // namespace

EventView::EventView(std::string_view topic, PartitionId partition, Offset offset,
                     std::string_view envelope)
    : topic_(topic), partition_(partition), offset_(offset) {
  Decode(envelope, /*copy=*/false);
}

// A copy decodes again: `fields_.id` may point into the source's id_text, and a format 2 view
// may own a copy of its bytes.
EventView::EventView(const EventView& other)
    : topic_(other.topic_), partition_(other.partition_), offset_(other.offset_) {
  Decode(other.envelope_, other.owns_copy_);
}

EventView& EventView::operator=(const EventView& other) {
  if (this != &other) {
    topic_ = other.topic_;
    partition_ = other.partition_;
    offset_ = other.offset_;
    Decode(other.envelope_, other.owns_copy_);
  }
  return *this;
}

void EventView::Decode(std::string_view envelope, bool copy) {
  envelope_ = envelope;
  owns_copy_ = false;
  if (envelope::IsFormat3(envelope)) {
    // The log wrote it: a malformed value is corruption that Verify would have caught on
    // import; decode what there is rather than crash.
    if (!envelope::DecodeFormat3(envelope, &fields_)) fields_ = envelope::Fields{};
    return;
  }
  // Format 2: flatbuffers reads scalars at their natural alignment, and RocksDB does not align
  // values, so a misaligned envelope is copied once into the view.
  if (copy || reinterpret_cast<uintptr_t>(envelope.data()) % alignof(uint64_t) != 0) {
    char* buffer = reinterpret_cast<char*>(inline_);
    if (envelope.size() > sizeof(inline_)) {
      heap_.assign((envelope.size() + 7) / 8, 0);
      buffer = reinterpret_cast<char*>(heap_.data());
    }
    std::memmove(buffer, envelope.data(), envelope.size());
    envelope_ = std::string_view(buffer, envelope.size());
    owns_copy_ = true;
  }
  const fb::Event* root = fb::GetEvent(envelope_.data());
  fields_ = envelope::Fields{};
  fields_.id = View(root->id());
  fields_.type = View(root->type());
  fields_.stream = View(root->stream());
  fields_.seq = Seq(root->seq());
  fields_.version = StreamVersion(root->version());
  fields_.timestamp_us = root->timestamp_us();
  if (const auto* d = root->data()) {
    fields_.data = std::string_view(reinterpret_cast<const char*>(d->data()), d->size());
  }
  if (const auto* m = root->metadata()) {
    fields_.command_id = View(m->command_id());
    fields_.correlation_id = View(m->correlation_id());
    fields_.causation_id = View(m->causation_id());
    fields_.user_id = View(m->user_id());
  }
}

EventMetadata EventView::metadata() const {
  return EventMetadata{std::string(fields_.command_id), std::string(fields_.correlation_id),
                       std::string(fields_.causation_id), std::string(fields_.user_id)};
}

Event EventView::ToEvent() const {
  Event e;
  e.id = id();
  e.type = type();
  e.topic = topic();
  e.partition = partition();
  e.offset = offset();
  e.seq = seq();
  e.stream = stream();
  e.version = version();
  e.timestamp_us = timestamp_us();
  e.metadata = metadata();
  e.data = data();
  return e;
}

}  // namespace cairn
