// Unit tests of event ids: the version 8 UUIDs the log gives events appended without an id
// (which hold the event's position, src/log/envelope.h) and caller ids that only look like them.
#include <doctest/doctest.h>

#include <algorithm>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>

#include "cairn/log.h"
#include "cairn/status.h"
#include "cairn/store.h"
#include "cairn/types.h"
#include "base/uuid.h"
#include "log/envelope.h"
#include "log_test_util.h"

namespace cairn {
namespace {

using namespace testing;

TEST_CASE("an event without an id gets a version 8 UUID that holds its position") {
  TestLog t;
  AppendResult result = MustAppend(*t.log, Req("orders", "order-1", 2));
  auto events = t.log->ReadStream("order-1", StreamVersion(1), 10);
  REQUIRE(events.ok());
  REQUIRE(events->size() == 2);
  for (const Event& e : *events) {
    CHECK(e.id.size() == 36);
    CHECK(std::count(e.id.begin(), e.id.end(), '-') == 4);
    CHECK(e.id[14] == '8');  // version 8: the position, not an entry in the ids family
    auto by_id = t.log->ReadEvent(e.id);
    REQUIRE_MESSAGE(by_id.ok(), by_id.status().ToString());
    CHECK(by_id->position() == e.position());
    CHECK(by_id->id == e.id);
    // The id alone finds the event: no entry in the ids family.
    Family* ids = t.store->FindFamily("ids");
    REQUIRE(ids != nullptr);
    CHECK_FALSE(t.store->Get(ids, e.id)->has_value());
  }
  CHECK((*events)[0].id != (*events)[1].id);
  CHECK(result.positions[1] == (*events)[1].position());
}

TEST_CASE("positional event ids round-trip every position that fits and refuse the rest") {
  struct Case {
    uint32_t topic;
    uint32_t partition;
    uint64_t offset;
  };
  for (const Case c : {Case{0, 0, 0}, Case{1, 7, 123456789}, Case{65535, 4095, (uint64_t{1} << 40) - 1},
                       Case{300, 0, uint64_t{1} << 20}, Case{2, 1, 255}}) {
    CAPTURE(c.topic);
    CAPTURE(c.offset);
    auto bits = envelope::PositionalEventId(TopicId(c.topic), PartitionId(c.partition), Offset(c.offset));
    REQUIRE(bits.has_value());
    const std::optional<std::string> id = UuidText(bits->first, bits->second);
    CHECK(id->size() == 36);
    CHECK((*id)[14] == '8');
    CHECK(std::string_view("89ab").find((*id)[19]) != std::string_view::npos);
    auto key = envelope::PositionalEventIdKey(*id);
    REQUIRE(key.has_value());
    CHECK(*key == envelope::LogKey(TopicId(c.topic), PartitionId(c.partition), Offset(c.offset)));
    // The random bits make two ids for one position differ.
    CHECK(*bits != *envelope::PositionalEventId(TopicId(c.topic), PartitionId(c.partition), Offset(c.offset)));
  }
  CHECK_FALSE(envelope::PositionalEventId(TopicId(65536), PartitionId(0), Offset(0)).has_value());
  CHECK_FALSE(envelope::PositionalEventId(TopicId(0), PartitionId(0), Offset(uint64_t{1} << 40)).has_value());
  // Other ids are not positional: a version 7 UUID, upper case, no dashes, anything else.
  CHECK_FALSE(envelope::PositionalEventIdKey(NewUuid()).has_value());
  CHECK_FALSE(envelope::PositionalEventIdKey("0190A1B2-C3D4-8E5F-8A6B-7C8D9E0F1A2B").has_value());
  CHECK_FALSE(envelope::PositionalEventIdKey("0190a1b2c3d48e5f8a6b7c8d9e0f1a2b").has_value());
  CHECK_FALSE(envelope::PositionalEventIdKey("order-1-created").has_value());
  CHECK_FALSE(envelope::PositionalEventIdKey("").has_value());
}

TEST_CASE("a caller's version 8 id that only looks like another event's position is its own event") {
  TestLog t;
  AppendResult first = MustAppend(*t.log, Req("orders", "order-1", 1));
  auto stored = t.log->ReadAt("orders", first.positions[0].partition, first.positions[0].offset);
  REQUIRE(stored.ok());
  // Same position bits, different random bits: another event entirely (e.g. from another store).
  std::string lookalike = stored->id;
  lookalike[35] = lookalike[35] == '0' ? '1' : '0';
  AppendRequest other = Req("orders", "order-2", 1);
  other.events[0].id = lookalike;
  AppendResult second = MustAppend(*t.log, std::move(other));
  CHECK_FALSE(second.duplicate);
  CHECK(t.log->LastSeq().value() == 2);
  auto by_lookalike = t.log->ReadEvent(lookalike);
  REQUIRE_MESSAGE(by_lookalike.ok(), by_lookalike.status().ToString());
  CHECK(by_lookalike->stream == "order-2");
  auto by_original = t.log->ReadEvent(stored->id);
  REQUIRE(by_original.ok());
  CHECK(by_original->stream == "order-1");
}

}  // namespace
}  // namespace cairn
