// A projection generation's checkpoint: the last seq it applied and, per partition, the next
// offset and the timestamp of the last applied event (for lag and incremental-sync reporting).
// Written in the same WriteBatch as the read-model changes of each batch.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "cairn/status.h"
#include "cairn/types.h"

namespace cairn::cqrs {

struct Checkpoint {
  struct Partition {
    std::string topic;
    PartitionId partition;
    Offset next;               // next offset to apply
    int64_t last_timestamp_us;  // of the last applied event
  };
  Seq seq;  // last applied
  std::vector<Partition> partitions;  // only partitions with an applied event, sorted

  // Records that the event at (topic, partition, offset, seq) was applied.
  void Advance(std::string_view topic, PartitionId partition, Offset offset, Seq seq,
               int64_t timestamp_us);
  const Partition* Find(std::string_view topic, PartitionId partition) const;

  std::string Encode() const;
  static Result<Checkpoint> Decode(std::string_view bytes);
};

}  // namespace cairn::cqrs
