// Unit tests of the small textual values the edges parse (src/base/parse.h): whole decimal
// numbers and log positions "topic/partition/offset".
#include <doctest/doctest.h>

#include <cstdint>
#include <optional>
#include <string>

#include "base/parse.h"
#include "cairn/status.h"
#include "cairn/types.h"

namespace cairn {
namespace {

TEST_CASE("ParseNumber reads a whole decimal number that fits its type") {
  CHECK(ParseNumber<uint32_t>("0") == std::optional<uint32_t>(0));
  CHECK(ParseNumber<uint32_t>("42") == std::optional<uint32_t>(42));
  CHECK(ParseNumber<uint32_t>("4294967295") == std::optional<uint32_t>(UINT32_MAX));
  CHECK(ParseNumber<uint64_t>("18446744073709551615") == std::optional<uint64_t>(UINT64_MAX));
  CHECK(ParseNumber<uint64_t>("007") == std::optional<uint64_t>(7));
  CHECK(ParseNumber<int64_t>("-5") == std::optional<int64_t>(-5));  // a signed type takes '-'
}

TEST_CASE("ParseNumber refuses empty text, signs, anything around the digits and overflow") {
  for (const char* text : {"", "-1", "+1", "-0", "12a", "a12", "1 ", " 1", "1.0", "0x10", "1e3"}) {
    CAPTURE(text);
    CHECK_FALSE(ParseNumber<uint64_t>(text).has_value());
    CHECK_FALSE(ParseNumber<uint32_t>(text).has_value());
  }
  CHECK_FALSE(ParseNumber<int64_t>("+1").has_value());
  CHECK_FALSE(ParseNumber<int64_t>("").has_value());
  CHECK_FALSE(ParseNumber<uint32_t>("4294967296").has_value());
  CHECK_FALSE(ParseNumber<uint64_t>("18446744073709551616").has_value());
  CHECK_FALSE(ParseNumber<int64_t>("9223372036854775808").has_value());
}

TEST_CASE("ParsePosition splits at the last two slashes, so a topic may contain '/'") {
  Result<Position> plain = ParsePosition("orders/3/17", "from");
  REQUIRE_MESSAGE(plain.ok(), plain.status().ToString());
  CHECK(plain->topic == "orders");
  CHECK(plain->partition == PartitionId(3));
  CHECK(plain->offset == Offset(17));
  CHECK(plain->seq == Seq(0));

  Result<Position> nested = ParsePosition("a/b/0/5", "from");
  REQUIRE_MESSAGE(nested.ok(), nested.status().ToString());
  CHECK(nested->topic == "a/b");
  CHECK(nested->partition == PartitionId(0));
  CHECK(nested->offset == Offset(5));
  CHECK(nested->ToString() == "a/b/0/5");
}

TEST_CASE("ParsePosition refuses a missing topic, partition or offset and names the field") {
  for (const char* text : {"t/x/1", "/0/1", "t//1", "t/1/", "t/1", "t", "", "t/-1/2", "t/1/+2",
                           "t/4294967296/1", "t/0/18446744073709551616", "t/0/1 "}) {
    CAPTURE(text);
    Result<Position> parsed = ParsePosition(text, "from");
    REQUIRE_FALSE(parsed.ok());
    CHECK(parsed.status().code() == ErrorCode::kInvalidArgument);
    CHECK(parsed.status().field() == "from");
    CHECK(parsed.status().message() == "from must be a position topic/partition/offset");
  }
}

}  // namespace
}  // namespace cairn
