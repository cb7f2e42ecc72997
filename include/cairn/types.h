// Strong identifier types, so an offset can never be passed where a partition is meant, and the
// small value types every part of Cairn shares (positions, expected versions).
#pragma once

#include <compare>
#include <cstdint>
#include <functional>
#include <string>

namespace cairn {

// A number with a meaning. Comparable and hashable, but not implicitly convertible to or from
// its representation or to another StrongId.
template <typename Tag, typename Rep>
class StrongId {
 public:
  using rep = Rep;
  constexpr StrongId() = default;
  constexpr explicit StrongId(Rep v) : v_(v) {}
  constexpr Rep value() const { return v_; }
  constexpr auto operator<=>(const StrongId&) const = default;

 private:
  Rep v_{};
};

// Position of an event inside one partition: 0, 1, 2 ... gapless, in commit order.
using Offset = StrongId<struct OffsetTag, uint64_t>;
// Partition number inside a topic, 0 .. partitions-1.
using PartitionId = StrongId<struct PartitionTag, uint32_t>;
// Version of an event inside its stream: 1, 2, 3 ... gapless. 0 means "no event yet".
using StreamVersion = StrongId<struct StreamVersionTag, uint64_t>;
// Internal numeric id of a topic, assigned at creation; stable for the life of the data dir.
using TopicId = StrongId<struct TopicTag, uint32_t>;
// Global sequence: one counter for the whole store, 1, 2, 3 ... gapless in commit order.
// 0 means "before the first event".
using Seq = StrongId<struct SeqTag, uint64_t>;

// Where an event sits in the log. `ToString()` is the public form "topic/partition/offset".
struct Position {
  std::string topic;
  PartitionId partition;
  Offset offset;
  Seq seq;

  std::string ToString() const;
  bool operator==(const Position&) const = default;
};

// The condition an append puts on the stream's current version.
class ExpectedVersion {
 public:
  enum class Kind { kAny, kNoStream, kExists, kExact };
  static ExpectedVersion Any() { return ExpectedVersion(Kind::kAny, 0); }
  static ExpectedVersion NoStream() { return ExpectedVersion(Kind::kNoStream, 0); }
  static ExpectedVersion Exists() { return ExpectedVersion(Kind::kExists, 0); }
  // Exact(0) is the same as NoStream().
  static ExpectedVersion Exact(uint64_t v) { return ExpectedVersion(Kind::kExact, v); }

  Kind kind() const { return kind_; }
  uint64_t version() const { return version_; }
  // Whether a stream whose last version is `current` (0: no stream) satisfies this expectation.
  bool Accepts(StreamVersion current) const;
  // "any", "no_stream", "exists" or the number.
  std::string ToString() const;

 private:
  ExpectedVersion(Kind k, uint64_t v) : kind_(k), version_(v) {}
  Kind kind_;
  uint64_t version_;
};

}  // namespace cairn

template <typename Tag, typename Rep>
struct std::hash<cairn::StrongId<Tag, Rep>> {
  size_t operator()(const cairn::StrongId<Tag, Rep>& id) const noexcept {
    return std::hash<Rep>()(id.value());
  }
};
