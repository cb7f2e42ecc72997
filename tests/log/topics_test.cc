// Unit tests of the log's topics (include/cairn/log.h): creating and listing them, partition
// counts and limits, and topics created by the first append.
#include <doctest/doctest.h>

#include <vector>

#include "cairn/log.h"
#include "cairn/status.h"
#include "cairn/store.h"
#include "cairn/types.h"
#include "log_test_util.h"

namespace cairn {
namespace {

using namespace testing;

TEST_CASE("a created topic is listed with its partition count and zero high-water marks") {
  TestLog t;
  auto created = t.log->CreateTopic("payments", 3);
  REQUIRE_MESSAGE(created.ok(), created.status().ToString());
  CHECK(created->name == "payments");
  CHECK(created->partitions == 3);
  REQUIRE(t.log->CreateTopic("orders", 5).ok());

  std::vector<TopicInfo> topics = t.log->Topics();
  REQUIRE(topics.size() == 2);
  CHECK(topics[0].name == "orders");  // sorted by name
  CHECK(topics[0].partitions == 5);
  CHECK(topics[1].name == "payments");
  CHECK(topics[1].partitions == 3);
  CHECK(topics[0].id != topics[1].id);
  for (const TopicInfo& topic : topics) {
    REQUIRE(topic.partition_info.size() == topic.partitions);
    for (uint32_t p = 0; p < topic.partitions; ++p) {
      CHECK(topic.partition_info[p].partition.value() == p);
      CHECK(topic.partition_info[p].high_water_mark.value() == 0);
    }
  }

  auto fetched = t.log->GetTopic("orders");
  REQUIRE(fetched.ok());
  CHECK(fetched->partitions == 5);
  CHECK(fetched->id == topics[0].id);
  CHECK(fetched->partition_info.size() == 5);
}

TEST_CASE("creating an existing topic with the same partition count returns it") {
  TestLog t;
  auto first = t.log->CreateTopic("orders", 4);
  REQUIRE(first.ok());
  auto again = t.log->CreateTopic("orders", 4);
  REQUIRE_MESSAGE(again.ok(), again.status().ToString());
  CHECK(again->name == "orders");
  CHECK(again->partitions == 4);
  CHECK(again->id == first->id);
  CHECK(t.log->Topics().size() == 1);
}

TEST_CASE("creating an existing topic with another partition count is a conflict") {
  TestLog t;
  REQUIRE(t.log->CreateTopic("orders", 4).ok());
  CHECK_FAILS_WITH(t.log->CreateTopic("orders", 5), ErrorCode::kConflict);
  auto topic = t.log->GetTopic("orders");
  REQUIRE(topic.ok());
  CHECK(topic->partitions == 4);
}

TEST_CASE("a topic name that is empty or contains '/' or a space is invalid") {
  TestLog t;
  for (const char* name : {"", "bad/topic", "has space", "tab\tname", "new\nline"}) {
    CAPTURE(name);
    CHECK_FAILS_WITH(t.log->CreateTopic(name, 2), ErrorCode::kInvalidArgument);
    CHECK_FAILS_WITH(ValidateTopicName(name), ErrorCode::kInvalidArgument);
  }
  CHECK(t.log->Topics().empty());
  CHECK(ValidateTopicName("order-events").ok());
  CHECK(ValidateTopicName("shipping_events.v2").ok());
}

TEST_CASE("a topic needs between 1 and 4096 partitions") {
  TestLog t;
  CHECK_FAILS_WITH(t.log->CreateTopic("zero", 0), ErrorCode::kInvalidArgument);
  CHECK_FAILS_WITH(t.log->CreateTopic("too-many", 4097), ErrorCode::kInvalidArgument);
  CHECK(t.log->Topics().empty());

  auto one = t.log->CreateTopic("one", 1);
  CHECK_MESSAGE(one.ok(), one.status().ToString());
  auto most = t.log->CreateTopic("most", 4096);
  REQUIRE_MESSAGE(most.ok(), most.status().ToString());
  CHECK(most->partitions == 4096);
  auto fetched = t.log->GetTopic("most");
  REQUIRE(fetched.ok());
  CHECK(fetched->partition_info.size() == 4096);
}

TEST_CASE("GetTopic of an unknown topic is not found") {
  TestLog t;
  CHECK_FAILS_WITH(t.log->GetTopic("nope"), ErrorCode::kNotFound);
}

TEST_CASE("appending to an unknown topic creates it with the default partition count") {
  LogOptions options;
  options.default_partitions = 3;
  TestLog t(options);
  AppendResult result = MustAppend(*t.log, Req("fresh", "order-42", 1));
  auto topic = t.log->GetTopic("fresh");
  REQUIRE_MESSAGE(topic.ok(), topic.status().ToString());
  CHECK(topic->partitions == 3);
  REQUIRE(result.positions.size() == 1);
  CHECK(result.positions[0].partition == PartitionForKey("42", 3));
  CHECK(t.log->HighWaterMark("fresh", result.positions[0].partition).value() == 1);
}

TEST_CASE("with auto-create off, appending to an unknown topic is not found and writes nothing") {
  LogOptions options;
  options.auto_create_topics = false;
  TestLog t(options);
  CHECK_FAILS_WITH(t.log->Append(Req("unknown", "order-1", 2, ExpectedVersion::Any(), "e")),
                   ErrorCode::kNotFound);
  CHECK(t.log->Topics().empty());
  CHECK(t.log->LastSeq().value() == 0);
  auto head = t.log->StreamHead("order-1");
  REQUIRE(head.ok());
  CHECK(head->value() == 0);
  CHECK_FAILS_WITH(t.log->ReadEvent("e-0"), ErrorCode::kNotFound);

  // An explicitly created topic still takes appends.
  REQUIRE(t.log->CreateTopic("known", 2).ok());
  AppendResult result = MustAppend(*t.log, Req("known", "order-1", 1));
  CHECK(result.version.value() == 1);
  CHECK(result.positions[0].seq.value() == 1);
}

}  // namespace
}  // namespace cairn
