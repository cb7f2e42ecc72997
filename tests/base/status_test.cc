// Unit tests of the value types every layer shares (include/cairn/status.h and types.h,
// implemented in src/base/status.cc): Status and its error code names, Position's text form and
// ExpectedVersion.
#include <doctest/doctest.h>

#include <set>
#include <string>

#include "cairn/status.h"
#include "cairn/types.h"

namespace cairn {
namespace {

std::string CodeName(ErrorCode code) { return std::string(ErrorCodeName(code)); }

TEST_CASE("Position::ToString is topic/partition/offset") {
  Position position{"order-events", PartitionId(3), Offset(17), Seq(99)};
  CHECK(position.ToString() == "order-events/3/17");
}

TEST_CASE("Status::ToString is the code's name and the message") {
  CHECK(Status::Conflict("stream s is at version 3, expected 2").ToString() ==
        "conflict: stream s is at version 3, expected 2");
  CHECK(CodeName(ErrorCode::kInvalidArgument) == "invalid_argument");
  CHECK(Status::InvalidArgument("bad", "items[0].price").field() == "items[0].price");
  CHECK(Status::Ok().ok());
  std::set<std::string> names;
  for (int c = static_cast<int>(ErrorCode::kOk); c <= static_cast<int>(ErrorCode::kInternal); ++c) {
    names.insert(CodeName(static_cast<ErrorCode>(c)));
  }
  CHECK(names.size() == static_cast<size_t>(ErrorCode::kInternal) + 1);
  CHECK(names.count("") == 0);
}

TEST_CASE("ExpectedVersion::Accepts and ToString follow the four kinds") {
  CHECK(ExpectedVersion::Any().Accepts(StreamVersion(0)));
  CHECK(ExpectedVersion::Any().Accepts(StreamVersion(5)));
  CHECK(ExpectedVersion::NoStream().Accepts(StreamVersion(0)));
  CHECK_FALSE(ExpectedVersion::NoStream().Accepts(StreamVersion(1)));
  CHECK_FALSE(ExpectedVersion::Exists().Accepts(StreamVersion(0)));
  CHECK(ExpectedVersion::Exists().Accepts(StreamVersion(1)));
  CHECK(ExpectedVersion::Exact(3).Accepts(StreamVersion(3)));
  CHECK_FALSE(ExpectedVersion::Exact(3).Accepts(StreamVersion(2)));
  CHECK_FALSE(ExpectedVersion::Exact(3).Accepts(StreamVersion(4)));
  CHECK(ExpectedVersion::Exact(0).Accepts(StreamVersion(0)));
  CHECK_FALSE(ExpectedVersion::Exact(0).Accepts(StreamVersion(1)));
  CHECK(ExpectedVersion::Any().ToString() == "any");
  CHECK(ExpectedVersion::NoStream().ToString() == "no_stream");
  CHECK(ExpectedVersion::Exists().ToString() == "exists");
  CHECK(ExpectedVersion::Exact(12).ToString() == "12");
}

}  // namespace
}  // namespace cairn
