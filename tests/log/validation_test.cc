// Unit tests of the checks Append makes of its input (empty appends, event types, stream ids,
// topic names, sizes), each of which refuses the whole append and writes nothing.
#include <doctest/doctest.h>

#include <string>
#include <utility>
#include <vector>

#include "cairn/log.h"
#include "cairn/status.h"
#include "cairn/store.h"
#include "cairn/types.h"
#include "log_test_util.h"

namespace cairn {
namespace {

using namespace testing;

TEST_CASE("an append without events is invalid and writes nothing") {
  TestLog t;
  REQUIRE(t.log->CreateTopic("orders", 2).ok());
  const std::string before = Describe(*t.log);
  CHECK_FAILS_WITH(t.log->Append(Req("orders", "order-1", 0)), ErrorCode::kInvalidArgument);
  CHECK(Describe(*t.log) == before);
  CHECK(StreamProblem(*t.log, "order-1", 0) == "");
}

TEST_CASE("an event type that is empty, over 128 bytes or not printable ASCII is invalid") {
  TestLog t;
  REQUIRE(t.log->CreateTopic("orders", 2).ok());
  const std::string before = Describe(*t.log);
  const std::vector<std::string> bad = {"", std::string(129, 'T'), "BAD\nTYPE",
                                        std::string("NUL\0TYPE", 8), "CAF\xC3\x89"};
  for (const std::string& type : bad) {
    CAPTURE(type);
    CHECK_FAILS_WITH(ValidateEventType(type), ErrorCode::kInvalidArgument);
    AppendRequest req = Req("orders", "order-1", 2);
    req.events[1].type = type;  // one bad event fails the whole append
    CHECK_FAILS_WITH(t.log->Append(std::move(req)), ErrorCode::kInvalidArgument);
  }
  CHECK(Describe(*t.log) == before);

  CHECK(ValidateEventType("ORDER_CREATED").ok());
  CHECK(ValidateEventType(std::string(128, 'T')).ok());
  AppendRequest longest = Req("orders", "order-1", 1);
  longest.events[0].type = std::string(128, 'T');
  CHECK(MustAppend(*t.log, std::move(longest)).version.value() == 1);
}

TEST_CASE("a stream id that is empty, contains '/' or a space, or is over 256 bytes is invalid") {
  TestLog t;
  REQUIRE(t.log->CreateTopic("orders", 2).ok());
  const std::string before = Describe(*t.log);
  const std::vector<std::string> bad = {"",         "order/1",          "order 1",
                                        "order\t1", std::string(257, 's'), "order-\xC3\xA9",
                                        std::string("order\0one", 9)};
  for (const std::string& stream : bad) {
    CAPTURE(stream);
    CHECK_FAILS_WITH(ValidateStreamId(stream), ErrorCode::kInvalidArgument);
    CHECK_FAILS_WITH(t.log->Append(Req("orders", stream, 1)), ErrorCode::kInvalidArgument);
  }
  CHECK(Describe(*t.log) == before);

  CHECK(ValidateStreamId("order-6415").ok());
  CHECK(ValidateStreamId(std::string(256, 's')).ok());
  CHECK(MustAppend(*t.log, Req("orders", std::string(256, 's'), 1)).version.value() == 1);
}

TEST_CASE("an append to an invalid topic name is invalid and creates no topic") {
  TestLog t;
  for (const char* topic : {"", "bad/topic", "has space"}) {
    CAPTURE(topic);
    CHECK_FAILS_WITH(t.log->Append(Req(topic, "order-1", 1)), ErrorCode::kInvalidArgument);
  }
  CHECK(t.log->Topics().empty());
  CHECK(t.log->LastSeq().value() == 0);
}

TEST_CASE("event data over max_event_bytes is too large and writes nothing") {
  LogOptions options;
  options.max_event_bytes = 64;
  TestLog t(options);
  REQUIRE(t.log->CreateTopic("orders", 2).ok());
  const std::string before = Describe(*t.log);

  AppendRequest req = Req("orders", "order-1", 2, ExpectedVersion::Any(), "big");
  req.events[1].data = std::string(65, 'x');
  CHECK_FAILS_WITH(t.log->Append(std::move(req)), ErrorCode::kTooLarge);
  CHECK(Describe(*t.log) == before);
  CHECK_FAILS_WITH(t.log->ReadEvent("big-0"), ErrorCode::kNotFound);

  AppendRequest at_limit = Req("orders", "order-1", 1);
  at_limit.events[0].data = std::string(64, 'x');
  CHECK(MustAppend(*t.log, std::move(at_limit)).version.value() == 1);
}

TEST_CASE("more events than max_events_per_append is too large and writes nothing") {
  LogOptions options;
  options.max_events_per_append = 4;
  TestLog t(options);
  REQUIRE(t.log->CreateTopic("orders", 2).ok());
  const std::string before = Describe(*t.log);
  CHECK_FAILS_WITH(t.log->Append(Req("orders", "order-1", 5)), ErrorCode::kTooLarge);
  CHECK(Describe(*t.log) == before);
  CHECK(MustAppend(*t.log, Req("orders", "order-1", 4)).version.value() == 4);
}

}  // namespace
}  // namespace cairn
