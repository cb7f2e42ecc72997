// The kcat -J record parser (src/interop/kafka_record.h): a real line of the seed's capture, the
// fallbacks from the payload to the headers and the record, the stream prefix, the derived
// event ids, and a field-named error for every malformed record.
#include <doctest/doctest.h>

#include <fstream>
#include <string>
#include <utility>
#include <vector>

#include "base/iso_time.h"
#include "interop/kafka_record.h"
#include "interop/name_uuid.h"

#ifndef CAIRN_SAMPLES_DIR
#error "CAIRN_SAMPLES_DIR must name tests/data"
#endif

namespace cairn::interop {
namespace {

std::vector<std::string> SampleLines() {
  std::ifstream in(std::string(CAIRN_SAMPLES_DIR) + "/seed-kafka-export.kcat.jsonl");
  REQUIRE(in.good());
  std::vector<std::string> lines;
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

// `text` as a JSON string literal.
std::string Quote(std::string_view text) {
  std::string out = "\"";
  for (char c : text) {
    if (c == '"' || c == '\\') out.push_back('\\');
    out.push_back(c);
  }
  return out + "\"";
}

int64_t Micros(std::string_view iso) {
  Result<json::ParsedTime> t = json::ParseIsoTime(iso, "t");
  REQUIRE(t.ok());
  return t->micros;
}

constexpr std::string_view kPayload =
    R"({"type": "ORDER_CREATED", "aggregateId": "a1", "version": 1, )"
    R"("timestamp": "2026-11-01T14:33:00Z", "data": {"orderId": "a1", "totalAmount": 5}})";

// A kcat line built field by field: a valid record to start from, then Set and Drop.
class Record {
 public:
  Record() {
    fields_ = {{"topic", "\"order-events\""},
               {"partition", "3"},
               {"offset", "17"},
               {"tstype", "\"create\""},
               {"ts", "1795638190190"},
               {"broker", "1"},
               {"headers", "[]"},
               {"key", "\"a1\""},
               {"payload", Quote(kPayload)}};
  }
  Record& Set(const std::string& name, std::string json) {
    for (auto& [key, value] : fields_) {
      if (key == name) {
        value = std::move(json);
        return *this;
      }
    }
    fields_.emplace_back(name, std::move(json));
    return *this;
  }
  Record& Payload(std::string_view payload_json) { return Set("payload", Quote(payload_json)); }
  Record& Drop(const std::string& name) {
    std::erase_if(fields_, [&](const auto& f) { return f.first == name; });
    return *this;
  }
  std::string Text() const {
    std::string out = "{";
    for (const auto& [key, value] : fields_) {
      if (out.size() > 1) out += ",";
      out += Quote(key) + ":" + value;
    }
    return out + "}";
  }

 private:
  std::vector<std::pair<std::string, std::string>> fields_;
};

Result<KafkaEvent> Parse(const std::string& line, std::string prefix = "order") {
  KafkaRecordOptions options;
  options.stream_prefix = std::move(prefix);
  return ParseKcatRecord(line, options);
}

// ---- Mapping --------------------------------------------------------------------------------

TEST_CASE("a real line of the seed's kcat capture maps to its event") {
  const std::string line = SampleLines().at(0);
  CHECK(IsKcatRecord(line));
  Result<KafkaEvent> e = Parse(line);
  REQUIRE_MESSAGE(e.ok(), e.status().ToString());
  CHECK(e->topic == "order-events");
  CHECK(e->partition == 0);
  CHECK(e->offset == 0);
  CHECK(e->aggregate_id == "6415479c-65dc-4f50-bf63-af83bd0561e6");
  CHECK(e->stream == "order-6415479c-65dc-4f50-bf63-af83bd0561e6");
  CHECK(e->version == 1);
  CHECK(e->event.type == "ORDER_CREATED");
  CHECK(e->event.timestamp_us == Micros("2026-11-01T14:33:00Z"));
  CHECK(e->event.id == "e62df1c1-a816-5852-87f4-841b04243050");
  // data is the payload's "data" byte for byte, as the producer spaced it.
  CHECK(e->event.data.starts_with(R"({"orderId": "6415479c-65dc-4f50-bf63-af83bd0561e6", "userId": "user-2")"));
  CHECK(e->event.data.ends_with(R"("country": "KR", "express": false}})"));
  CHECK(e->event.data.find("무선 키보드") != std::string::npos);
  CHECK(e->event.metadata == EventMetadata{});
}

TEST_CASE("every line of the seed's capture maps, with its payload's version and topic") {
  const std::vector<std::string> lines = SampleLines();
  REQUIRE(lines.size() == 78);
  for (const std::string& line : lines) {
    Result<KafkaEvent> e = Parse(line);
    REQUIRE_MESSAGE(e.ok(), line, " ", e.status().ToString());
    CHECK(line.find("\"topic\":\"" + e->topic + "\"") != std::string::npos);
    CHECK(line.find("\\\"version\\\": " + std::to_string(e->version)) != std::string::npos);
    CHECK(e->stream == "order-" + e->aggregate_id);
  }
}

TEST_CASE("the headers stand in for a payload without type, aggregateId and version") {
  Result<KafkaEvent> e =
      Parse(Record()
                .Set("headers", R"(["eventType","ORDER_APPROVED","aggregateId","h7","version","4"])")
                .Payload(R"({"timestamp": "2026-11-01T14:33:00Z", "data": {"orderId": "h7"}})")
                .Text());
  REQUIRE_MESSAGE(e.ok(), e.status().ToString());
  CHECK(e->event.type == "ORDER_APPROVED");
  CHECK(e->aggregate_id == "h7");
  CHECK(e->stream == "order-h7");
  CHECK(e->version == 4);
}

TEST_CASE("the payload's fields win over the headers") {
  Result<KafkaEvent> e = Parse(
      Record().Set("headers", R"(["eventType","OTHER","aggregateId","h7","version","9"])").Text());
  REQUIRE_MESSAGE(e.ok(), e.status().ToString());
  CHECK(e->event.type == "ORDER_CREATED");
  CHECK(e->aggregate_id == "a1");
  CHECK(e->version == 1);
}

TEST_CASE("a header whose value is null is skipped, and the first pair with a name wins") {
  Result<KafkaEvent> e = Parse(
      Record()
          .Set("headers", R"(["version",null,"trace","x","version","5","version","6"])")
          .Payload(R"({"type": "T", "aggregateId": "a1", "timestamp": "2026-11-01T14:33:00Z", "data": 1})")
          .Text());
  REQUIRE_MESSAGE(e.ok(), e.status().ToString());
  CHECK(e->version == 5);
}

TEST_CASE("the record key is the last fallback for the aggregate id") {
  Result<KafkaEvent> e = Parse(
      Record()
          .Set("key", "\"k9\"")
          .Payload(R"({"type": "T", "version": 1, "timestamp": "2026-11-01T14:33:00Z", "data": {}})")
          .Text());
  REQUIRE_MESSAGE(e.ok(), e.status().ToString());
  CHECK(e->aggregate_id == "k9");
}

TEST_CASE("without a payload timestamp the record's ts, in milliseconds, is the event's time") {
  Result<KafkaEvent> e = Parse(
      Record()
          .Set("ts", "1795638190190")
          .Payload(R"({"type": "T", "aggregateId": "a1", "version": 1, "data": {}})")
          .Text());
  REQUIRE_MESSAGE(e.ok(), e.status().ToString());
  CHECK(e->event.timestamp_us == 1795638190190 * 1000);
}

TEST_CASE("a payload embedded as a JSON object reads like kcat's string") {
  Result<KafkaEvent> e = Parse(Record().Set("payload", std::string(kPayload)).Text());
  REQUIRE_MESSAGE(e.ok(), e.status().ToString());
  CHECK(e->event.type == "ORDER_CREATED");
  CHECK(e->event.data == R"({"orderId": "a1", "totalAmount": 5})");
}

TEST_CASE("the stream is the prefix and the aggregate id, or the id alone with no prefix") {
  Result<KafkaEvent> shop = Parse(Record().Text(), "shop");
  REQUIRE(shop.ok());
  CHECK(shop->stream == "shop-a1");
  Result<KafkaEvent> bare = Parse(Record().Text(), "");
  REQUIRE(bare.ok());
  CHECK(bare->stream == "a1");
}

TEST_CASE("fields kcat adds or that the parser does not use are ignored, as is a null key") {
  Result<KafkaEvent> e =
      Parse(Record().Set("key", "null").Set("headers", "null").Set("leader_epoch", "4").Text());
  REQUIRE_MESSAGE(e.ok(), e.status().ToString());
  CHECK(e->aggregate_id == "a1");
}

TEST_CASE("the event id is a name-based UUID of topic, partition and offset") {
  CHECK(KafkaEventId("order-events", 0, 0) == "e62df1c1-a816-5852-87f4-841b04243050");
  CHECK(KafkaEventId("order-events", 0, 0) == KafkaEventId("order-events", 0, 0));
  CHECK(KafkaEventId("order-events", 0, 1) != KafkaEventId("order-events", 0, 0));
  CHECK(KafkaEventId("order-events", 1, 0) != KafkaEventId("order-events", 0, 0));
  CHECK(KafkaEventId("payment-events", 0, 0) != KafkaEventId("order-events", 0, 0));
  // Python: uuid.uuid5(uuid.NAMESPACE_URL, "urn:cairn:kafka-import") is the import's namespace.
  CHECK(Uuid5("6ba7b811-9dad-11d1-80b4-00c04fd430c8", "urn:cairn:kafka-import") ==
        kKafkaImportNamespace);
  Result<KafkaEvent> e = Parse(Record().Set("partition", "3").Set("offset", "17").Text());
  REQUIRE(e.ok());
  CHECK(e->event.id == KafkaEventId("order-events", 3, 17));
}

TEST_CASE("only an object with a top-level payload is a kcat record") {
  CHECK(IsKcatRecord(Record().Text()));
  CHECK(IsKcatRecord(R"({"payload": null})"));
  CHECK_FALSE(IsKcatRecord(R"({"id": "e1", "data": {"payload": 1}})"));
  CHECK_FALSE(IsKcatRecord("not json"));
  CHECK_FALSE(IsKcatRecord("[1]"));
}

// ---- Bad records --------------------------------------------------------------------------

struct BadCase {
  std::string what;
  std::string line;
  std::string field;     // the field the error names ("" for the line as a whole)
  std::string fragment;  // in the message
};

TEST_CASE("every malformed record is refused with an error that names the field") {
  const std::string huge = "123456789012345678901234567890";
  const std::vector<BadCase> cases = {
      {"not JSON", "not json", "", "JSON object"},
      {"not an object", "[1, 2]", "", "must be a JSON object"},
      {"text after the object", Record().Text() + " {}", "", ""},
      {"a topic that is a number", Record().Set("topic", "5").Text(), "topic", "string"},
      {"no topic", Record().Drop("topic").Text(), "topic", "is required"},
      {"a topic Cairn cannot name", Record().Set("topic", "\"a b\"").Text(), "topic", "letters"},
      {"no partition", Record().Drop("partition").Text(), "partition", "is required"},
      {"a negative partition", Record().Set("partition", "-1").Text(), "partition", ">= 0"},
      {"a partition as text", Record().Set("partition", "\"0\"").Text(), "partition", "integer"},
      {"a partition beyond int32", Record().Set("partition", "2147483648").Text(), "partition",
       "out of range"},
      {"a partition beyond int64", Record().Set("partition", huge).Text(), "partition",
       "out of range"},
      {"no offset", Record().Drop("offset").Text(), "offset", "is required"},
      {"a fractional offset", Record().Set("offset", "1.5").Text(), "offset", "fraction"},
      {"a ts beyond int64", Record().Set("ts", huge).Text(), "ts", "out of range"},
      {"a ts whose microseconds overflow",
       Record()
           .Set("ts", "9223372036854775807")
           .Payload(R"({"type": "T", "aggregateId": "a1", "version": 1, "data": {}})")
           .Text(),
       "ts", "out of range"},
      {"a key that is a number", Record().Set("key", "7").Text(), "key", "string"},
      {"headers that are an object", Record().Set("headers", "{}").Text(), "headers", "array"},
      {"a header that is a number", Record().Set("headers", R"(["version", 1])").Text(),
       "headers[1]", "string"},
      {"an odd header array", Record().Set("headers", R"(["version","1","eventType"])").Text(),
       "headers", "pairs, not 3 elements"},
      {"no payload", Record().Drop("payload").Text(), "payload", "is required"},
      {"a null payload", Record().Set("payload", "null").Text(), "payload", "tombstone"},
      {"a payload that is not JSON", Record().Payload("hello").Text(), "payload",
       "not a JSON object"},
      {"a payload that is a number", Record().Set("payload", "5").Text(), "payload", "string"},
      {"a type that is a number",
       Record().Payload(R"({"type": 1, "aggregateId": "a1", "version": 1, "data": {}})").Text(),
       "payload.type", "string"},
      {"an empty type",
       Record().Payload(R"({"type": "", "aggregateId": "a1", "version": 1, "data": {}})").Text(),
       "payload.type", "1-128"},
      {"an empty type from a header",
       Record()
           .Set("headers", R"(["eventType",""])")
           .Payload(R"({"aggregateId": "a1", "version": 1, "data": {}})")
           .Text(),
       "headers.eventType", "1-128"},
      {"no type anywhere",
       Record().Payload(R"({"aggregateId": "a1", "version": 1, "data": {}})").Text(),
       "payload.type", "header eventType"},
      {"no aggregate id anywhere",
       Record().Drop("key").Payload(R"({"type": "T", "version": 1, "data": {}})").Text(),
       "payload.aggregateId", "is required"},
      {"an aggregate id that makes a bad stream",
       Record().Payload(R"({"type": "T", "aggregateId": "a/b", "version": 1, "data": {}})").Text(),
       "payload.aggregateId", "gives stream 'order-a/b'"},
      {"a version of 0",
       Record().Payload(R"({"type": "T", "aggregateId": "a1", "version": 0, "data": {}})").Text(),
       "payload.version", "at least 1"},
      {"a version as text",
       Record().Payload(R"({"type": "T", "aggregateId": "a1", "version": "1", "data": {}})").Text(),
       "payload.version", "integer"},
      {"a huge version",
       Record()
           .Payload(R"({"type": "T", "aggregateId": "a1", "version": )" + huge + R"(, "data": {}})")
           .Text(),
       "payload.version", "out of range"},
      {"no version anywhere",
       Record().Payload(R"({"type": "T", "aggregateId": "a1", "data": {}})").Text(),
       "payload.version", "header version"},
      {"a version header that is not a number",
       Record()
           .Set("headers", R"(["version","two"])")
           .Payload(R"({"type": "T", "aggregateId": "a1", "data": {}})")
           .Text(),
       "headers.version", "not 'two'"},
      {"a version header of 0",
       Record()
           .Set("headers", R"(["version","0"])")
           .Payload(R"({"type": "T", "aggregateId": "a1", "data": {}})")
           .Text(),
       "headers.version", ">= 1"},
      {"a version header beyond uint64",
       Record()
           .Set("headers", R"(["version",")" + huge + R"("])")
           .Payload(R"({"type": "T", "aggregateId": "a1", "data": {}})")
           .Text(),
       "headers.version", huge},
      {"no data",
       Record().Payload(R"({"type": "T", "aggregateId": "a1", "version": 1})").Text(),
       "payload.data", "is required"},
      {"data that is not valid JSON",
       Record().Payload(R"({"type": "T", "aggregateId": "a1", "version": 1, "data": [tru]})").Text(),
       "payload.data", "JSON"},
      {"a timestamp that is not ISO-8601",
       Record()
           .Payload(R"({"type": "T", "aggregateId": "a1", "version": 1, "timestamp": "noon", "data": {}})")
           .Text(),
       "payload.timestamp", ""},
      {"no timestamp and no ts",
       Record().Drop("ts").Payload(R"({"type": "T", "aggregateId": "a1", "version": 1, "data": {}})").Text(),
       "payload.timestamp", "record ts"},
  };
  for (const BadCase& c : cases) {
    CAPTURE(c.what);
    CAPTURE(c.line);
    Result<KafkaEvent> e = Parse(c.line);
    REQUIRE_FALSE(e.ok());
    CHECK(e.status().code() == ErrorCode::kInvalidArgument);
    CHECK(e.status().field() == c.field);
    if (!c.field.empty()) CHECK(e.status().message().starts_with(c.field + " "));
    CHECK_MESSAGE(e.status().message().find(c.fragment) != std::string::npos,
                  e.status().message());
  }
}

}  // namespace
}  // namespace cairn::interop
