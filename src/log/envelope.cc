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

std::string LogKey(TopicId topic, PartitionId partition, Offset offset) {
  std::string key;
  key.reserve(kLogKeySize);
  bytes::PutBigEndian32(&key, topic.value());
  bytes::PutBigEndian32(&key, partition.value());
  bytes::PutBigEndian64(&key, offset.value());
  return key;
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

std::string Encode(const NewEvent& event, std::string_view topic, std::string_view stream) {
  thread_local flatbuffers::FlatBufferBuilder fbb(1024);
  fbb.Clear();
  fbb.ForceDefaults(true);
  auto str = [&](std::string_view s) { return fbb.CreateString(s.data(), s.size()); };
  // Empty metadata is left out (readers see absent strings as empty): most events carry little
  // or none, and four empty strings in a table cost ~70 bytes of every envelope.
  auto optional_str = [&](std::string_view s) {
    return s.empty() ? flatbuffers::Offset<flatbuffers::String>() : str(s);
  };
  const auto& m = event.metadata;
  flatbuffers::Offset<fb::Metadata> metadata;
  if (!m.command_id.empty() || !m.correlation_id.empty() || !m.causation_id.empty() ||
      !m.user_id.empty()) {
    metadata = fb::CreateMetadata(fbb, optional_str(m.command_id), optional_str(m.correlation_id),
                                  optional_str(m.causation_id), optional_str(m.user_id));
  }
  auto data = fbb.CreateVector(reinterpret_cast<const uint8_t*>(event.data.data()),
                               event.data.size());
  // An event without an id gets a placeholder of the same length: the writer makes the id
  // from the event's position (PositionalEventId) and patches it in (PatchId).
  const std::string_view id = event.id.empty() ? kIdPlaceholder : std::string_view(event.id);
  auto root = fb::CreateEvent(fbb, str(id), str(event.type), str(topic), 0, 0, 0,
                              str(stream), 0, event.timestamp_us, metadata, data);
  fbb.Finish(root);
  return std::string(reinterpret_cast<const char*>(fbb.GetBufferPointer()), fbb.GetSize());
}

void Patch(std::string* env, PartitionId partition, Offset offset, Seq seq,
           StreamVersion version) {
  auto* root = fb::GetMutableEvent(env->data());
  // ForceDefaults(true) in Encode guarantees every scalar is present, so mutation succeeds.
  root->mutate_partition(partition.value());
  root->mutate_offset(offset.value());
  root->mutate_seq(seq.value());
  root->mutate_version(version.value());
}

bool Verify(std::string_view bytes) {
  flatbuffers::Verifier verifier(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size());
  return fb::VerifyEventBuffer(verifier);
}

namespace {

// Positional ids: topic id (16 bits) | partition (12) | offset (40), 68 bits in all.
constexpr uint32_t kPositionalTopicLimit = 1u << 16;
constexpr uint64_t kPositionalOffsetLimit = uint64_t{1} << 40;
constexpr uint64_t kRandom54 = (uint64_t{1} << 54) - 1;

}  // namespace

std::optional<std::string> PositionalEventId(TopicId topic, PartitionId partition, Offset offset) {
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
  return UuidText(hi, lo);
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

void PatchId(std::string* env, std::string_view id) {
  static_assert(kIdPlaceholder.size() == 36, "generated ids are 36 characters");
  const flatbuffers::String* stored = fb::GetEvent(env->data())->id();
  if (stored == nullptr || stored->size() != id.size()) {
    // Writing past the stored string would corrupt the envelope: never carry on.
    std::fprintf(stderr, "cairn: PatchId: the envelope's id is not %zu bytes long\n", id.size());
    std::abort();
  }
  std::memcpy(env->data() + (stored->c_str() - env->data()), id.data(), id.size());
}

}  // namespace envelope

// ---- EventView --------------------------------------------------------------------------------

namespace {
const fb::Event* Root(const void* p) { return static_cast<const fb::Event*>(p); }
std::string_view View(const flatbuffers::String* s) {
  return s ? std::string_view(s->data(), s->size()) : std::string_view();
}
}  // namespace

EventView::EventView(std::string_view envelope) { Point(envelope, /*copy=*/false); }

// A copy of a view that owns a copy of its bytes must own one too.
EventView::EventView(const EventView& other) { Point(other.envelope_, other.owns_copy_); }

EventView& EventView::operator=(const EventView& other) {
  if (this != &other) Point(other.envelope_, other.owns_copy_);
  return *this;
}

void EventView::Point(std::string_view envelope, bool copy) {
  envelope_ = envelope;
  owns_copy_ = false;
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
  root_ = fb::GetEvent(envelope_.data());
}

std::string_view EventView::id() const { return View(Root(root_)->id()); }
std::string_view EventView::type() const { return View(Root(root_)->type()); }
std::string_view EventView::topic() const { return View(Root(root_)->topic()); }
PartitionId EventView::partition() const { return PartitionId(Root(root_)->partition()); }
Offset EventView::offset() const { return Offset(Root(root_)->offset()); }
Seq EventView::seq() const { return Seq(Root(root_)->seq()); }
std::string_view EventView::stream() const { return View(Root(root_)->stream()); }
StreamVersion EventView::version() const { return StreamVersion(Root(root_)->version()); }
int64_t EventView::timestamp_us() const { return Root(root_)->timestamp_us(); }
std::string_view EventView::data() const {
  const auto* d = Root(root_)->data();
  return d ? std::string_view(reinterpret_cast<const char*>(d->data()), d->size())
           : std::string_view();
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
  if (const auto* m = Root(root_)->metadata()) {
    e.metadata.command_id = View(m->command_id());
    e.metadata.correlation_id = View(m->correlation_id());
    e.metadata.causation_id = View(m->causation_id());
    e.metadata.user_id = View(m->user_id());
  }
  e.data = data();
  return e;
}

}  // namespace cairn
