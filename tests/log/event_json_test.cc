// Unit tests of events in JSON form (src/log/event_json.h): ParseEventJson reads back what
// EventToJson writes, byte for byte, and refuses incomplete or contradictory input naming the
// field, the contract `cairn import` relies on.
#include <doctest/doctest.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "cairn/log.h"
#include "cairn/status.h"
#include "log/event_json.h"

namespace cairn::json {
namespace {

// An event object's fields as (key, raw JSON value), in order.
using Fields = std::vector<std::pair<std::string, std::string>>;

Fields Complete() {
  return {{"id", R"("e-1")"},
          {"type", R"("ORDER_CREATED")"},
          {"topic", R"("orders")"},
          {"partition", "2"},
          {"offset", "17"},
          {"position", R"("orders/2/17")"},
          {"seq", "42"},
          {"stream", R"("order-1")"},
          {"version", "3"},
          {"timestamp", R"("2026-11-01T14:33:00.000001Z")"},
          {"metadata", R"({"commandId":"c","correlationId":"r","causationId":"a","userId":"u"})"},
          {"data", R"({"k":"v"})"}};
}

std::string ToJson(const Fields& fields) {
  std::string out = "{";
  for (const auto& [key, value] : fields) {
    if (out.size() > 1) out += ",";
    out += "\"" + key + "\":" + value;
  }
  return out + "}";
}

Fields Without(Fields fields, std::string_view key) {
  std::erase_if(fields, [&](const auto& field) { return field.first == key; });
  return fields;
}

Fields With(Fields fields, std::string key, std::string value) {
  for (auto& field : fields) {
    if (field.first == key) {
      field.second = std::move(value);
      return fields;
    }
  }
  fields.emplace_back(std::move(key), std::move(value));
  return fields;
}

// The error ParseEventJson gives for `fields`, as "field: message" ("ok" when it parses).
std::string ErrorOf(const Fields& fields) {
  Result<ParsedEvent> parsed = ParseEventJson(ToJson(fields));
  if (parsed.ok()) return "ok";
  CHECK(parsed.status().code() == ErrorCode::kInvalidArgument);
  return parsed.status().field() + ": " + parsed.status().message();
}

TEST_CASE("an event parses from its JSON form with every field") {
  Result<ParsedEvent> parsed = ParseEventJson(ToJson(Complete()));
  REQUIRE_MESSAGE(parsed.ok(), parsed.status().ToString());
  const Event& e = parsed->event;
  CHECK(e.id == "e-1");
  CHECK(e.type == "ORDER_CREATED");
  CHECK(e.topic == "orders");
  CHECK(e.partition == PartitionId(2));
  CHECK(e.offset == Offset(17));
  CHECK(e.seq == Seq(42));
  CHECK(e.stream == "order-1");
  CHECK(e.version == StreamVersion(3));
  CHECK(e.timestamp_us == 1'793'543'580'000'001);
  CHECK(e.metadata == EventMetadata{"c", "r", "a", "u"});
  CHECK(e.data == R"({"k":"v"})");
  CHECK(parsed->partition == std::optional<uint32_t>(2));
  CHECK(parsed->offset == std::optional<uint64_t>(17));
  CHECK(parsed->seq == std::optional<uint64_t>(42));
}

TEST_CASE("EventToJson and ParseEventJson round-trip JSON data, binary data and any timestamp") {
  Event event;
  event.id = "7d444840-9dc0-11d1-b245-5ffdce74fad2";
  event.type = "ORDER_APPROVED";
  event.topic = "order-events";
  event.partition = PartitionId(4095);
  event.offset = Offset(123456789);
  event.seq = Seq(987654321);
  event.stream = "order-6415";
  event.version = StreamVersion(12);
  event.metadata = {"cmd", "", "cause", ""};
  struct Case {
    std::string data;
    int64_t timestamp_us;
  };
  const Case cases[] = {
      {R"({"status":"APPROVED","items":[1,2]})", 1'700'000'000'123'456},
      {std::string("\0\xff binary", 9), -5},
      {R"( {"spaced": true} )", -62'167'219'200'000'001},  // before year 0: an integer
      {"", 253'402'300'800'000'000},                        // after year 9999
      {"not json", 0},
  };
  for (const Case& c : cases) {
    CAPTURE(c.data);
    event.data = c.data;
    event.timestamp_us = c.timestamp_us;
    const std::string json = EventToJson(event);
    CHECK(json.find('\n') == std::string::npos);
    Result<ParsedEvent> parsed = ParseEventJson(json);
    REQUIRE_MESSAGE(parsed.ok(), parsed.status().ToString());
    CHECK(parsed->event == event);
    CHECK(parsed->partition == std::optional<uint32_t>(4095));
    CHECK(parsed->offset == std::optional<uint64_t>(123456789));
    CHECK(parsed->seq == std::optional<uint64_t>(987654321));
  }
}

TEST_CASE("a missing required field is named, id first and data last") {
  for (const char* key : {"id", "type", "topic", "stream", "version", "timestamp", "data"}) {
    CAPTURE(key);
    CHECK(ErrorOf(Without(Complete(), key)) == std::string(key) + ": " + key + " is required");
  }
  CHECK(ErrorOf({}) == "id: id is required");
  CHECK(ErrorOf({{"data", "1"}, {"version", "1"}}) == "id: id is required");
  CHECK(ErrorOf(With(Without(Complete(), "data"), "dataBase64", R"("AA==")")) == "ok");
}

TEST_CASE("partition, offset, seq, position and metadata may be left out") {
  Fields fields = Complete();
  for (const char* key : {"partition", "offset", "seq", "position", "metadata"}) {
    fields = Without(fields, key);
  }
  Result<ParsedEvent> parsed = ParseEventJson(ToJson(fields));
  REQUIRE_MESSAGE(parsed.ok(), parsed.status().ToString());
  CHECK_FALSE(parsed->partition.has_value());
  CHECK_FALSE(parsed->offset.has_value());
  CHECK_FALSE(parsed->seq.has_value());
  CHECK(parsed->event.partition == PartitionId(0));
  CHECK(parsed->event.offset == Offset(0));
  CHECK(parsed->event.seq == Seq(0));
  CHECK(parsed->event.metadata == EventMetadata{});
}

TEST_CASE("a position that disagrees with topic, partition and offset is refused") {
  CHECK(ErrorOf(With(Complete(), "position", R"("orders/2/18")")) ==
        "position: position does not match topic, partition and offset (orders/2/17)");
  CHECK(ErrorOf(With(Complete(), "topic", R"("payments")")) ==
        "position: position does not match topic, partition and offset (payments/2/17)");
  // Without a partition or an offset there is nothing to compare it with.
  CHECK(ErrorOf(With(Without(Complete(), "offset"), "position", R"("x/9/9")")) == "ok");
  CHECK(ErrorOf(With(Without(Complete(), "partition"), "position", R"("x/9/9")")) == "ok");
}

TEST_CASE("data and dataBase64 together are refused, naming the second") {
  CHECK(ErrorOf(With(Complete(), "dataBase64", R"("AA==")")) ==
        "dataBase64: dataBase64 cannot be given together with data / dataBase64");
  Fields base64_first = With(Without(Complete(), "data"), "dataBase64", R"("AA==")");
  CHECK(ErrorOf(With(base64_first, "data", "{}")) ==
        "data: data cannot be given together with data / dataBase64");
}

TEST_CASE("unknown and repeated fields are refused, in the event and in its metadata") {
  CHECK(ErrorOf(With(Complete(), "extra", "1")) == "extra: extra is not a known field");
  CHECK(ErrorOf(With(Complete(), "metadata", R"({"tenant":"t"})")) ==
        "metadata.tenant: metadata.tenant is not a known field");
  Fields twice = Complete();
  twice.emplace_back("type", R"("OTHER")");
  CHECK(ErrorOf(twice) == "type: type appears twice");
}

TEST_CASE("numbers out of their range are refused naming the field") {
  CHECK(ErrorOf(With(Complete(), "version", "0")) ==
        "version: version must be between 1 and 9223372036854775807");
  CHECK(ErrorOf(With(Complete(), "partition", "4294967296")) ==
        "partition: partition must be between 0 and 4294967295");
  CHECK(ErrorOf(With(Complete(), "offset", "-1")) ==
        "offset: offset must be between 0 and 9223372036854775807");
  CHECK(ErrorOf(With(Complete(), "seq", "1.5")) == "seq: seq must be an integer, not a fraction");
  CHECK(ErrorOf(With(Complete(), "version", R"("3")")) == "version: version must be an integer");
}

TEST_CASE("bad base64, bad JSON data and a bad timestamp are refused naming the field") {
  Fields base64 = Without(Complete(), "data");
  CHECK(ErrorOf(With(base64, "dataBase64", R"("AA=")")) ==
        "dataBase64: dataBase64 is not valid base64");
  CHECK(ErrorOf(With(base64, "dataBase64", R"("AB==")")) ==  // unused bits set: not canonical
        "dataBase64: dataBase64 is not valid base64");
  CHECK(ErrorOf(With(Complete(), "data", "01")) == "data: data is not valid JSON");
  CHECK(ErrorOf(With(Complete(), "timestamp", "true")) ==
        "timestamp: timestamp must be an ISO-8601 string or microseconds");
  const std::string bad_date = ErrorOf(With(Complete(), "timestamp", R"("2026-02-30")"));
  CHECK(bad_date.rfind("timestamp: timestamp must be an ISO-8601 date or time", 0) == 0);
  CHECK(ErrorOf(With(Complete(), "timestamp", "1700000000000000")) == "ok");
}

TEST_CASE("null metadata fields read as empty, and embedded data keeps its exact text") {
  Result<ParsedEvent> parsed = ParseEventJson(ToJson(
      With(With(Complete(), "metadata", R"({"commandId":null,"userId":"u"})"), "data",
           R"({ "a" : [1, 2.50] }  )")));
  REQUIRE_MESSAGE(parsed.ok(), parsed.status().ToString());
  CHECK(parsed->event.metadata == EventMetadata{"", "", "", "u"});
  CHECK(parsed->event.data == R"({ "a" : [1, 2.50] })");
}

TEST_CASE("anything after the event object is refused") {
  Result<ParsedEvent> parsed = ParseEventJson(ToJson(Complete()) + " {}");
  REQUIRE_FALSE(parsed.ok());
  CHECK(parsed.status().code() == ErrorCode::kInvalidArgument);
  CHECK_FALSE(ParseEventJson("").ok());
  CHECK_FALSE(ParseEventJson("[]").ok());
}

}  // namespace
}  // namespace cairn::json
