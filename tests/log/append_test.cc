// Unit tests of Log::Append's outcome: the positions, seqs and versions it assigns, the time it
// stamps, and the state writes committed with it (or not at all).
#include <doctest/doctest.h>

#include <cstdint>
#include <optional>
#include <string>
#include <utility>

#include "cairn/log.h"
#include "cairn/status.h"
#include "cairn/store.h"
#include "cairn/types.h"
#include "log_test_util.h"

namespace cairn {
namespace {

using namespace testing;

TEST_CASE("an append returns the topic, the stream's partition, offset 0, seq 1 and version 1") {
  TestLog t;
  REQUIRE(t.log->CreateTopic("orders", 8).ok());
  AppendResult result = MustAppend(*t.log, Req("orders", "order-6415", 1));
  CHECK_FALSE(result.duplicate);
  CHECK(result.version.value() == 1);
  REQUIRE(result.positions.size() == 1);
  const Position& position = result.positions[0];
  CHECK(position.topic == "orders");
  CHECK(position.partition == PartitionForKey(StreamKey("order-6415"), 8));
  CHECK(position.partition == PartitionForKey("6415", 8));
  CHECK(position.offset.value() == 0);
  CHECK(position.seq.value() == 1);
  CHECK(t.log->LastSeq().value() == 1);
  CHECK(t.log->HighWaterMark("orders", position.partition).value() == 1);
}

TEST_CASE("a multi-event append gets consecutive offsets and seqs in one partition") {
  TestLog t;
  REQUIRE(t.log->CreateTopic("orders", 8).ok());
  const PartitionId partition = PartitionForKey(StreamKey("order-abc"), 8);
  AppendResult first = MustAppend(*t.log, Req("orders", "order-abc", 3));
  CHECK(first.version.value() == 3);
  REQUIRE(first.positions.size() == 3);
  for (uint64_t i = 0; i < 3; ++i) {
    CHECK(first.positions[i].topic == "orders");
    CHECK(first.positions[i].partition == partition);
    CHECK(first.positions[i].offset.value() == i);
    CHECK(first.positions[i].seq.value() == i + 1);
  }
  AppendResult second = MustAppend(*t.log, Req("orders", "order-abc", 2));
  CHECK(second.version.value() == 5);
  REQUIRE(second.positions.size() == 2);
  CHECK(second.positions[0].offset.value() == 3);
  CHECK(second.positions[1].offset.value() == 4);
  CHECK(second.positions[0].seq.value() == 4);
  CHECK(second.positions[1].seq.value() == 5);
  CHECK(t.log->HighWaterMark("orders", partition).value() == 5);
  CHECK(StreamProblem(*t.log, "order-abc", 5) == "");
}

TEST_CASE("offsets are gapless per partition and seqs are gapless across topics") {
  TestLog t;
  REQUIRE(t.log->CreateTopic("orders", 2).ok());
  REQUIRE(t.log->CreateTopic("payments", 1).ok());
  const std::string in0 = StreamInPartition("order", 2, PartitionId(0));
  const std::string also0 = StreamInPartition("order-x", 2, PartitionId(0));
  const std::string in1 = StreamInPartition("order", 2, PartitionId(1));

  CHECK(MustAppend(*t.log, Req("orders", in0, 1)).positions[0].offset.value() == 0);
  CHECK(MustAppend(*t.log, Req("orders", in1, 1)).positions[0].offset.value() == 0);
  AppendResult pay = MustAppend(*t.log, Req("payments", "payment-1", 1));
  CHECK(pay.positions[0].offset.value() == 0);
  CHECK(pay.positions[0].seq.value() == 3);
  // Another stream in partition 0 continues that partition's offsets.
  AppendResult other = MustAppend(*t.log, Req("orders", also0, 2));
  CHECK(other.positions[0].offset.value() == 1);
  CHECK(other.positions[1].offset.value() == 2);
  CHECK(other.positions[1].seq.value() == 5);

  CHECK(t.log->HighWaterMark("orders", PartitionId(0)).value() == 3);
  CHECK(t.log->HighWaterMark("orders", PartitionId(1)).value() == 1);
  CHECK(t.log->HighWaterMark("payments", PartitionId(0)).value() == 1);
  CHECK(t.log->HighWaterMark("nope", PartitionId(0)).value() == 0);
  CHECK(TopicProblem(*t.log, "orders") == "");
  CHECK(TopicProblem(*t.log, "payments") == "");
  CHECK(SeqProblem(*t.log, 5) == "");
}

TEST_CASE("an event without a timestamp gets the time of the append") {
  TestLog t;
  auto now_us = [] {
    return std::chrono::duration_cast<std::chrono::microseconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
  };
  const int64_t before = now_us();
  MustAppend(*t.log, Req("orders", "order-1", 1, ExpectedVersion::Any(), "ts"));
  const int64_t after = now_us();
  auto event = t.log->ReadEvent("ts-0");
  REQUIRE(event.ok());
  CHECK(event->timestamp_us >= before);
  CHECK(event->timestamp_us <= after);
}

TEST_CASE("state writes are visible after a successful append") {
  TestLog t;
  Family* family = WriteFamily(*t.store);
  AppendRequest req = Req("orders", "order-1", 1);
  req.state_writes.Put(family, "order-1", "{\"status\":\"CREATED\"}");
  req.state_writes.Put(family, "order-1/extra", "x");
  MustAppend(*t.log, std::move(req));
  CHECK(GetKey(*t.store, family, "order-1") == std::optional<std::string>("{\"status\":\"CREATED\"}"));
  CHECK(GetKey(*t.store, family, "order-1/extra") == std::optional<std::string>("x"));

  AppendRequest update = Req("orders", "order-1", 1, ExpectedVersion::Exact(1));
  update.state_writes.Put(family, "order-1", "{\"status\":\"APPROVED\"}");
  update.state_writes.Delete(family, "order-1/extra");
  MustAppend(*t.log, std::move(update));
  CHECK(GetKey(*t.store, family, "order-1") == std::optional<std::string>("{\"status\":\"APPROVED\"}"));
  CHECK_FALSE(GetKey(*t.store, family, "order-1/extra").has_value());
}

TEST_CASE("state writes are not applied when the append fails") {
  TestLog t;
  Family* family = WriteFamily(*t.store);
  AppendRequest good = Req("orders", "order-1", 1);
  good.state_writes.Put(family, "order-1", "v1");
  MustAppend(*t.log, std::move(good));

  AppendRequest conflict = Req("orders", "order-1", 1, ExpectedVersion::NoStream());
  conflict.state_writes.Put(family, "order-1", "v2");
  conflict.state_writes.Put(family, "other", "x");
  CHECK_FAILS_WITH(t.log->Append(std::move(conflict)), ErrorCode::kConflict);

  AppendRequest invalid = Req("orders", "order-1", 0);  // no events
  invalid.state_writes.Put(family, "order-1", "v3");
  CHECK_FAILS_WITH(t.log->Append(std::move(invalid)), ErrorCode::kInvalidArgument);

  CHECK(GetKey(*t.store, family, "order-1") == std::optional<std::string>("v1"));
  CHECK_FALSE(GetKey(*t.store, family, "other").has_value());
}

}  // namespace
}  // namespace cairn
