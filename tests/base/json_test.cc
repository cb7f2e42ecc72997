// Unit tests of the JSON toolkit (src/base: json_writer.h, json_reader.h, iso_time.h): the
// writer's escaping and structure, the On-Demand readers' field-named errors, and ISO-8601 times.
#include <doctest/doctest.h>

#include <cstdint>
#include <string>
#include <vector>

#include "base/iso_time.h"
#include "base/json_reader.h"
#include "base/json_writer.h"

namespace cairn::json {
namespace {

std::string Quoted(std::string_view text) {
  std::string out;
  AppendQuoted(&out, text);
  return out;
}

// Parses `{"v": <value>}` and reads v with `read`, returning its status.
template <typename Read>
Status ReadValue(std::string_view value_json, Read read) {
  const std::string text = std::string(R"({"v":)") + std::string(value_json) + "}";
  Input input(text);
  Result<Object> root = input.RootObject();
  if (!root.ok()) return root.status();
  return ForEachField(*root, "", [&](std::string_view, Value v) { return read(v); });
}

TEST_CASE("the writer escapes quotes, backslashes and control characters") {
  CHECK(Quoted("a\"b\\c") == R"("a\"b\\c")");
  CHECK(Quoted("line\nnext\ttab\r\b\f") == R"("line\nnext\ttab\r\b\f")");
  CHECK(Quoted(std::string("nul\0x", 5)) == R"("nul\u0000x")");
  CHECK(Quoted("\x01\x1f\x7f") == R"("\u0001\u001f\u007f")");
}

TEST_CASE("the writer keeps valid UTF-8 and replaces invalid bytes with U+FFFD") {
  CHECK(Quoted("무선 키보드 ₩ 😀") == "\"무선 키보드 ₩ 😀\"");
  CHECK(Quoted("a\xff" "b") == "\"a\xEF\xBF\xBD" "b\"");
  CHECK(Quoted("\xC0\xAF") == "\"\xEF\xBF\xBD\xEF\xBF\xBD\"");  // overlong '/'
  CHECK(Quoted("\xED\xA0\x80") == "\"\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD\"");  // surrogate
  CHECK(Quoted("cut \xE2\x82") == "\"cut \xEF\xBF\xBD\xEF\xBF\xBD\"");  // truncated sequence
  CHECK(Quoted("\xE2\x80\xA8|\xE2\x80\xA9") == R"("\u2028|\u2029")");
}

TEST_CASE("the writer places commas and nests objects and arrays") {
  JsonWriter w;
  w.BeginObject()
      .Key("a").Int(-1)
      .Key("b").BeginArray().Uint(18446744073709551615ULL).Bool(true).Null().String("x").EndArray()
      .Key("c").BeginObject().EndObject()
      .Key("d").Raw(R"({"raw":[1]})")
      .Key("e").Fixed(12.345, 1)
      .Key("f").Fixed(1.0 / 0.0, 1)
      .EndObject();
  CHECK(w.Take() ==
        R"({"a":-1,"b":[18446744073709551615,true,null,"x"],"c":{},"d":{"raw":[1]},"e":12.3,"f":null})");
}

TEST_CASE("writer output parses back to the same strings") {
  const std::string tricky = std::string("q\"b\\s/\n\x01 ₩", 13);
  JsonWriter w;
  w.BeginObject().Key(tricky).String(tricky).EndObject();
  const std::string text = w.Take();
  Input input(text);
  Result<Object> root = input.RootObject();
  REQUIRE(root.ok());
  int fields = 0;
  Status s = ForEachField(*root, "", [&](std::string_view key, Value v) {
    CHECK(key == tricky);
    Result<std::string> value = ReadString(v, "x");
    REQUIRE(value.ok());
    CHECK(*value == tricky);
    ++fields;
    return Status::Ok();
  });
  CHECK(s.ok());
  CHECK(fields == 1);
  CHECK(input.ExpectEnd().ok());
}

TEST_CASE("ReadInt names the field for wrong types, fractions and out-of-range numbers") {
  const auto read_int = [](Value v) { return ReadInt(v, "items[0].price").status(); };
  CHECK(ReadValue("42", read_int).ok());
  CHECK(ReadValue("-9223372036854775808", read_int).ok());
  for (const char* bad : {"\"42\"", "true", "null", "[1]", "{}"}) {
    Status s = ReadValue(bad, read_int);
    CHECK(s.code() == ErrorCode::kInvalidArgument);
    CHECK(s.field() == "items[0].price");
    CHECK(s.message() == "items[0].price must be an integer");
  }
  for (const char* fraction : {"1.5", "1.0", "1e3", "2E-1"}) {
    Status s = ReadValue(fraction, read_int);
    CHECK(s.field() == "items[0].price");
    CHECK(s.message() == "items[0].price must be an integer, not a fraction");
  }
  for (const char* huge : {"9223372036854775808", "18446744073709551616",
                           "123456789012345678901234567890", "-9223372036854775809"}) {
    Status s = ReadValue(huge, read_int);
    CHECK_MESSAGE(s.message() == "items[0].price is out of range", huge, " ", s.ToString());
    CHECK(s.field() == "items[0].price");
  }
}

TEST_CASE("ReadString, ReadBool, ReadObject and ReadArray reject other types by field") {
  CHECK(ReadValue("1", [](Value v) { return ReadString(v, "name").status(); }).message() ==
        "name must be a string");
  CHECK(ReadValue("\"yes\"", [](Value v) { return ReadBool(v, "express").status(); }).message() ==
        "express must be true or false");
  CHECK(ReadValue("[]", [](Value v) { return ReadObject(v, "shippingAddress").status(); })
            .message() == "shippingAddress must be an object");
  CHECK(ReadValue("{}", [](Value v) { return ReadArray(v, "items").status(); }).message() ==
        "items must be an array");
}

TEST_CASE("ForEachField reports a duplicate key with its path") {
  Input input(R"({"a":{"x":1,"x":2}})");
  Result<Object> root = input.RootObject();
  REQUIRE(root.ok());
  Status s = ForEachField(*root, "", [](std::string_view key, Value v) {
    Result<Object> inner = ReadObject(v, key);
    if (!inner.ok()) return inner.status();
    return ForEachField(*inner, key, [](std::string_view, Value) { return Status::Ok(); });
  });
  CHECK(s.field() == "a.x");
  CHECK(s.message() == "a.x appears twice");
}

TEST_CASE("ForEachField finds a duplicate among many keys, and keys stay readable to the end") {
  std::string text = "{";
  for (int i = 0; i < 40; ++i) text += "\"key" + std::to_string(i) + "\":\"v\",";
  text += "\"key\\u0033\":1}";  // "key3", escaped: the 41st key repeats the 4th
  Input input(text);
  Result<Object> root = input.RootObject();
  REQUIRE(root.ok());
  std::vector<std::string_view> keys;
  Status s = ForEachField(*root, "top", [&](std::string_view key, Value) {
    keys.push_back(key);
    return Status::Ok();
  });
  CHECK(s.message() == "top.key3 appears twice");
  REQUIRE(keys.size() == 40);
  for (int i = 0; i < 40; ++i) CHECK(keys[i] == "key" + std::to_string(i));
}

TEST_CASE("Inputs may nest and follow each other on one thread") {
  // The pool hands each live Input its own parser: the outer document is still being read while
  // inner ones are parsed, and a document larger than the pool keeps follows small ones.
  Input outer(R"({"a":"first","b":"second"})");
  Result<Object> root = outer.RootObject();
  REQUIRE(root.ok());
  std::vector<std::string> seen;
  Status s = ForEachField(*root, "", [&](std::string_view key, Value v) {
    Result<std::string> text = ReadString(v, key);
    if (!text.ok()) return text.status();
    Input inner("{\"x\":\"" + *text + "\"}");
    Result<Object> inner_root = inner.RootObject();
    if (!inner_root.ok()) return inner_root.status();
    return ForEachField(*inner_root, "", [&](std::string_view, Value x) {
      Result<std::string> value = ReadString(x, "x");
      if (value.ok()) seen.push_back(std::string(key) + "=" + *value);
      return value.status();
    });
  });
  REQUIRE(s.ok());
  CHECK(seen == std::vector<std::string>{"a=first", "b=second"});
  const std::string large = R"({"big":")" + std::string(3 << 20, 'x') + R"("})";
  for (const bool big : {true, false, true, false}) {
    Input input(big ? large : std::string(R"({"big":"small"})"));
    Result<Object> object = input.RootObject();
    REQUIRE(object.ok());
    REQUIRE(ForEachField(*object, "", [&](std::string_view, Value v) {
      Result<std::string> value = ReadString(v, "big");
      CHECK((value.ok() && value->size() == (big ? size_t{3} << 20 : 5)));
      return value.status();
    }).ok());
  }
}

TEST_CASE("a Path joins its parent and key only for the message") {
  const std::string parent = "items[2]";
  Status s = ReadValue("1.5", [&](Value v) { return ReadInt(v, Path(parent, "price")).status(); });
  CHECK(s.field() == "items[2].price");
  CHECK(s.message() == "items[2].price must be an integer, not a fraction");
  s = ReadValue("true", [&](Value v) { return ReadString(v, Path("", "name")).status(); });
  CHECK(s.field() == "name");
  CHECK(FieldError(Path(""), "must be a JSON object").message() == "body must be a JSON object");
}

TEST_CASE("the root must be one JSON object") {
  for (const char* bad : {"", "   ", "[1,2]", "42", "\"s\"", "{", "{\"a\":}", "nul"}) {
    Input input(bad);
    Result<Object> root = input.RootObject();
    Status s = root.status();
    if (root.ok()) {
      s = ForEachField(*root, "", [](std::string_view, Value v) {
        return ReadInt(v, "a").status();
      });
    }
    CHECK_MESSAGE(s.code() == ErrorCode::kInvalidArgument, "input: ", bad);
  }
}

TEST_CASE("content after the root object is an error") {
  Input input(R"({"a":1} {"b":2})");
  Result<Object> root = input.RootObject();
  REQUIRE(root.ok());
  CHECK(ForEachField(*root, "", [](std::string_view, Value) { return Status::Ok(); }).ok());
  CHECK(input.ExpectEnd().code() == ErrorCode::kInvalidArgument);

  Input clean("{\"a\":1}  \n");
  Result<Object> clean_root = clean.RootObject();
  REQUIRE(clean_root.ok());
  CHECK(ForEachField(*clean_root, "", [](std::string_view, Value) { return Status::Ok(); }).ok());
  CHECK(clean.ExpectEnd().ok());
}

TEST_CASE("invalid UTF-8 in the input is refused") {
  Input input("{\"a\":\"\xff\"}");
  Result<Object> root = input.RootObject();
  Status s = root.status();
  if (root.ok()) {
    s = ForEachField(*root, "", [](std::string_view, Value v) { return ReadString(v, "a").status(); });
  }
  CHECK(s.code() == ErrorCode::kInvalidArgument);
}

TEST_CASE("FormatIsoTime prints UTC with microseconds") {
  CHECK(FormatIsoTime(0) == "1970-01-01T00:00:00.000000Z");
  CHECK(FormatIsoTime(1'793'543'580'000'000) == "2026-11-01T14:33:00.000000Z");
  CHECK(FormatIsoTime(951'782'400'000'001) == "2000-02-29T00:00:00.000001Z");
  CHECK(FormatIsoTime(-1) == "1969-12-31T23:59:59.999999Z");
  // The edges of four-digit years, and past them.
  CHECK(FormatIsoTime(-62'167'219'200'000'000) == "0000-01-01T00:00:00.000000Z");
  CHECK(FormatIsoTime(253'402'300'799'999'999) == "9999-12-31T23:59:59.999999Z");
  CHECK(FormatIsoTime(253'402'300'800'000'000) == "10000-01-01T00:00:00.000000Z");
  CHECK(FormatIsoTime(-62'167'219'200'000'001) == "-001-12-31T23:59:59.999999Z");
  // What it prints parses back to the same instant, all over the four-digit years.
  uint64_t x = 88172645463325252ull;
  for (int i = 0; i < 10000; ++i) {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    const int64_t micros = -62'167'219'200'000'000 +
                           static_cast<int64_t>(x % 315'569'520'000'000'000ull);
    const std::string text = FormatIsoTime(micros);
    Result<ParsedTime> parsed = ParseIsoTime(text, "at");
    REQUIRE_MESSAGE(parsed.ok(), text);
    REQUIRE_MESSAGE(parsed->micros == micros, text);
  }
}

TEST_CASE("ParseIsoTime reads dates, times, fractions and offsets") {
  auto parse = [](std::string_view text) {
    Result<ParsedTime> t = ParseIsoTime(text, "at");
    REQUIRE_MESSAGE(t.ok(), t.status().ToString());
    return *t;
  };
  CHECK(parse("2026-11-01T14:33:00Z").micros == 1'793'543'580'000'000);
  CHECK_FALSE(parse("2026-11-01T14:33:00Z").date_only);
  CHECK(parse("2026-11-01T14:33:00.5Z").micros == 1'793'543'580'500'000);
  CHECK(parse("2026-11-01T14:33:00.123456789Z").micros == 1'793'543'580'123'456);
  CHECK(parse("2026-11-01T23:33:00+09:00").micros == 1'793'543'580'000'000);
  CHECK(parse("2026-11-01T09:33-0500").micros == 1'793'543'580'000'000);
  CHECK(parse("2026-11-01T14:33:00").micros == 1'793'543'580'000'000);
  CHECK(parse("2026-11-01").micros == 1'793'491'200'000'000);
  CHECK(parse("2026-11-01").date_only);
  CHECK(parse("2024-02-29").micros == 1'709'164'800'000'000);
  for (int64_t t : {int64_t{0}, int64_t{1'793'543'580'123'456}, int64_t{-1}}) {
    CHECK(parse(FormatIsoTime(t)).micros == t);
  }
}

TEST_CASE("ParseIsoTime refuses impossible dates and other formats, naming the field") {
  for (const char* bad : {"", "2026-13-01", "2026-02-29", "2026-11-31", "2026-11-01T24:00:00Z",
                          "2026-11-01T12:60Z", "2026-11-01T12:00:61Z", "26-11-01", "2026/11/01",
                          "2026-11-01T12:00:00.Z", "2026-11-01T12:00:00.1234567890Z",
                          "2026-11-01T12:00:00+25:00", "2026-11-01 trailing", "yesterday"}) {
    Result<ParsedTime> t = ParseIsoTime(bad, "dateFrom");
    CHECK_MESSAGE(!t.ok(), bad);
    CHECK(t.status().field() == "dateFrom");
  }
}

TEST_CASE("DayOf floors to the UTC day") {
  CHECK(DayOf(0) == 0);
  CHECK(DayOf(kMicrosPerDay - 1) == 0);
  CHECK(DayOf(kMicrosPerDay) == 1);
  CHECK(DayOf(-1) == -1);
}

}  // namespace
}  // namespace cairn::json
