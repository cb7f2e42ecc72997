// Encoding of the event envelope and of the log's keys (see envelope.h for the layout).
#include "log/envelope.h"

#include <chrono>
#include <cstring>
#include <random>

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

std::string Encode(const NewEvent& event, std::string_view topic, std::string_view stream) {
  flatbuffers::FlatBufferBuilder fbb(256 + event.data.size());
  fbb.ForceDefaults(true);
  auto str = [&](std::string_view s) { return fbb.CreateString(s.data(), s.size()); };
  const auto& m = event.metadata;
  auto metadata = fb::CreateMetadata(fbb, str(m.command_id), str(m.correlation_id),
                                     str(m.causation_id), str(m.user_id));
  auto data = fbb.CreateVector(reinterpret_cast<const uint8_t*>(event.data.data()),
                               event.data.size());
  auto root = fb::CreateEvent(fbb, str(event.id), str(event.type), str(topic), 0, 0, 0,
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

std::string NewUuid() {
  thread_local std::mt19937_64 rng{std::random_device{}() ^
                                   (uint64_t(std::random_device{}()) << 32)};
  uint64_t hi = rng(), lo = rng();
  hi = (hi & 0xffffffffffff0fffULL) | 0x0000000000004000ULL;  // version 4
  lo = (lo & 0x3fffffffffffffffULL) | 0x8000000000000000ULL;  // variant 10
  static const char* kHex = "0123456789abcdef";
  std::string out;
  out.reserve(36);
  for (int i = 15; i >= 0; --i) {
    const uint64_t word = i >= 8 ? hi : lo;
    const int shift = (i % 8) * 8;
    const unsigned byte = (word >> shift) & 0xff;
    out.push_back(kHex[byte >> 4]);
    out.push_back(kHex[byte & 0xf]);
    const size_t n = out.size();
    if (n == 8 || n == 13 || n == 18 || n == 23) out.push_back('-');
  }
  return out;
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

EventView::EventView(std::string_view envelope) : envelope_(envelope) {
  if (reinterpret_cast<uintptr_t>(envelope.data()) % alignof(uint64_t) != 0) {
    aligned_.resize((envelope.size() + 7) / 8);
    std::memcpy(aligned_.data(), envelope.data(), envelope.size());
    envelope_ = std::string_view(reinterpret_cast<const char*>(aligned_.data()), envelope.size());
  }
  root_ = fb::GetEvent(envelope_.data());
}

EventView::EventView(const EventView& other)
    : envelope_(other.envelope_), root_(other.root_), aligned_(other.aligned_) {
  if (!aligned_.empty()) {  // point into our own copy, not the other view's
    envelope_ = std::string_view(reinterpret_cast<const char*>(aligned_.data()), envelope_.size());
    root_ = fb::GetEvent(envelope_.data());
  }
}

EventView& EventView::operator=(const EventView& other) {
  if (this != &other) {
    EventView copy(other);
    aligned_ = std::move(copy.aligned_);  // a moved vector keeps its buffer
    envelope_ = copy.envelope_;
    root_ = copy.root_;
  }
  return *this;
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
