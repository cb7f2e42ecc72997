// Binary form of Checkpoint: seq (8) | count (4) | count x [topic length (2) | topic |
// partition (4) | next offset (8) | last timestamp (8)], integers big-endian.
#include "cqrs/checkpoint.h"

#include <algorithm>

#include "base/bytes.h"

namespace cairn::cqrs {


void Checkpoint::Advance(std::string_view topic, PartitionId partition, Offset offset, Seq applied,
                         int64_t timestamp_us) {
  seq = applied;
  auto it = std::lower_bound(partitions.begin(), partitions.end(), std::pair(topic, partition),
                             [](const Partition& p, const auto& key) {
                               return std::pair(std::string_view(p.topic), p.partition) < key;
                             });
  if (it == partitions.end() || it->topic != topic || it->partition != partition) {
    it = partitions.insert(it, Partition{std::string(topic), partition, Offset(0), 0});
  }
  it->next = Offset(offset.value() + 1);
  it->last_timestamp_us = timestamp_us;
}

const Checkpoint::Partition* Checkpoint::Find(std::string_view topic, PartitionId partition) const {
  for (const Partition& p : partitions) {
    if (p.topic == topic && p.partition == partition) return &p;
  }
  return nullptr;
}

std::string Checkpoint::Encode() const {
  std::string out;
  bytes::PutBigEndian64(&out, seq.value());
  bytes::PutBigEndian32(&out, static_cast<uint32_t>(partitions.size()));
  for (const Partition& p : partitions) {
    out.push_back(static_cast<char>(p.topic.size() >> 8));
    out.push_back(static_cast<char>(p.topic.size() & 0xff));
    out += p.topic;
    bytes::PutBigEndian32(&out, p.partition.value());
    bytes::PutBigEndian64(&out, p.next.value());
    bytes::PutBigEndian64(&out, static_cast<uint64_t>(p.last_timestamp_us));
  }
  return out;
}

Result<Checkpoint> Checkpoint::Decode(std::string_view in) {
  const Status bad = Status::Corruption("malformed projection checkpoint");
  if (in.size() < 12) return bad;
  Checkpoint c;
  c.seq = Seq(bytes::GetBigEndian64(in));
  const uint32_t count = bytes::GetBigEndian32(in.substr(8));
  in.remove_prefix(12);
  for (uint32_t i = 0; i < count; ++i) {
    if (in.size() < 2) return bad;
    const size_t len = (size_t(static_cast<unsigned char>(in[0])) << 8) | static_cast<unsigned char>(in[1]);
    if (in.size() < 2 + len + 20) return bad;
    Partition p;
    p.topic = std::string(in.substr(2, len));
    in.remove_prefix(2 + len);
    p.partition = PartitionId(bytes::GetBigEndian32(in));
    p.next = Offset(bytes::GetBigEndian64(in.substr(4)));
    p.last_timestamp_us = static_cast<int64_t>(bytes::GetBigEndian64(in.substr(12)));
    in.remove_prefix(20);
    c.partitions.push_back(std::move(p));
  }
  return c;
}

}  // namespace cairn::cqrs
