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

#include "event_generated.h"

namespace cairn {
namespace envelope {

void PutBigEndian32(std::string* out, uint32_t v) {
  for (int i = 3; i >= 0; --i) out->push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}

void PutBigEndian64(std::string* out, uint64_t v) {
  for (int i = 7; i >= 0; --i) out->push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}

uint32_t GetBigEndian32(std::string_view in) {
  uint32_t v = 0;
  for (int i = 0; i < 4; ++i) v = (v << 8) | static_cast<unsigned char>(in[i]);
  return v;
}

uint64_t GetBigEndian64(std::string_view in) {
  uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v = (v << 8) | static_cast<unsigned char>(in[i]);
  return v;
}

std::string LogKey(TopicId topic, PartitionId partition, Offset offset) {
  std::string key;
  key.reserve(kLogKeySize);
  PutBigEndian32(&key, topic.value());
  PutBigEndian32(&key, partition.value());
  PutBigEndian64(&key, offset.value());
  return key;
}

std::string LogKeyPartitionEnd(TopicId topic, PartitionId partition) {
  // Partition numbers are < 4096, so partition + 1 never overflows.
  return LogKey(topic, PartitionId(partition.value() + 1), Offset(0));
}

TopicId LogKeyTopic(std::string_view key) { return TopicId(GetBigEndian32(key)); }
PartitionId LogKeyPartition(std::string_view key) {
  return PartitionId(GetBigEndian32(key.substr(4)));
}
Offset LogKeyOffset(std::string_view key) { return Offset(GetBigEndian64(key.substr(8))); }

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
  PutBigEndian64(&key, version.value());
  return key;
}

StreamVersion StreamIndexVersion(std::string_view key) {
  return StreamVersion(GetBigEndian64(key.substr(key.size() - 8)));
}

std::string StreamRun(TopicId topic, PartitionId partition, Offset first_offset, uint32_t count) {
  std::string value = LogKey(topic, partition, first_offset);
  PutBigEndian32(&value, count);
  return value;
}

Result<Run> ParseStreamRun(std::string_view value) {
  // Data dirs written before runs existed hold one entry per event: just its log key.
  if (value.size() == kLogKeySize) {
    return Run{LogKeyTopic(value), LogKeyPartition(value), LogKeyOffset(value), 1};
  }
  if (value.size() != kLogKeySize + 4) return Status::Corruption("malformed stream index entry");
  return Run{LogKeyTopic(value), LogKeyPartition(value), LogKeyOffset(value.substr(0, kLogKeySize)),
             GetBigEndian32(value.substr(kLogKeySize))};
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

constexpr const char* kHex = "0123456789abcdef";

// The 36-character text form of a UUID whose 128 bits are `hi` then `lo` (lower-case hex).
std::string UuidText(uint64_t hi, uint64_t lo) {
  char out[36];
  size_t n = 0;
  for (int i = 15; i >= 0; --i) {
    const uint64_t word = i >= 8 ? hi : lo;
    const unsigned byte = (word >> ((i % 8) * 8)) & 0xff;
    out[n++] = kHex[byte >> 4];
    out[n++] = kHex[byte & 0xf];
    if (n == 8 || n == 13 || n == 18 || n == 23) out[n++] = '-';
  }
  return std::string(out, sizeof(out));
}

// The 128 bits of a UUID in the text form UuidText makes; nothing for any other text.
std::optional<std::pair<uint64_t, uint64_t>> ParseUuidText(std::string_view text) {
  if (text.size() != 36) return std::nullopt;
  uint64_t words[2] = {0, 0};
  size_t nibbles = 0;
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (i == 8 || i == 13 || i == 18 || i == 23) {
      if (c != '-') return std::nullopt;
      continue;
    }
    unsigned v = 0;
    if (c >= '0' && c <= '9') v = c - '0';
    else if (c >= 'a' && c <= 'f') v = c - 'a' + 10;
    else return std::nullopt;
    uint64_t& word = words[nibbles / 16];
    word = (word << 4) | v;
    ++nibbles;
  }
  return std::pair{words[0], words[1]};
}

uint64_t RandomBits() {
  thread_local std::mt19937_64 rng{std::random_device{}() ^
                                   (uint64_t(std::random_device{}()) << 32)};
  return rng();
}

// Positional ids: topic id (16 bits) | partition (12) | offset (40), 68 bits in all.
constexpr uint32_t kPositionalTopicLimit = 1u << 16;
constexpr uint64_t kPositionalOffsetLimit = uint64_t{1} << 40;
constexpr uint64_t kRandom54 = (uint64_t{1} << 54) - 1;

}  // namespace

std::string NewUuid() {
  // UUID version 7 (RFC 9562): 48 bits of Unix milliseconds, a 12-bit counter within the
  // millisecond (method 1 of RFC 9562 §6.2; when 4096 ids in one millisecond use it up, the
  // timestamp runs ahead by one), then 62 random bits. Ids made by this process therefore sort
  // in the order they were made. Keys built from them (order ids, the command ids that event
  // ids derive from) then reach RocksDB's memtables in key order, which its skiplist makes
  // cheap; random order within a millisecond (or random v4 ids) made each insert a
  // cache-missing search of the memtable.
  static std::atomic<uint64_t> last_tick{0};  // milliseconds << 12 | counter
  const uint64_t now_tick = static_cast<uint64_t>(NowMicros() / 1000) << 12;
  uint64_t tick = last_tick.load(std::memory_order_relaxed);
  uint64_t next = 0;
  do {
    next = std::max(now_tick, tick + 1);
  } while (!last_tick.compare_exchange_weak(tick, next, std::memory_order_relaxed));
  const uint64_t hi = ((next >> 12) << 16) | 0x7000 | (next & 0x0fff);  // version 7
  const uint64_t lo = (RandomBits() & 0x3fffffffffffffffULL) | 0x8000000000000000ULL;  // variant 10
  return UuidText(hi, lo);
}

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

int64_t NowMicros() {
  return std::chrono::duration_cast<std::chrono::microseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
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
