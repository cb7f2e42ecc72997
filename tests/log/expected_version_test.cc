// Unit tests of expected versions: the check of an append against its stream's head at commit
// time, its conflict messages, and that a refused append writes nothing.
#include <doctest/doctest.h>

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

TEST_CASE("expected version any accepts a new and an existing stream") {
  TestLog t;
  CHECK(MustAppend(*t.log, Req("orders", "order-1", 1, ExpectedVersion::Any())).version.value() == 1);
  CHECK(MustAppend(*t.log, Req("orders", "order-1", 2, ExpectedVersion::Any())).version.value() == 3);
  CHECK(StreamProblem(*t.log, "order-1", 3) == "");
}

TEST_CASE("expected version no_stream succeeds on a new stream and fails when it exists") {
  TestLog t;
  Family* family = WriteFamily(*t.store);
  CHECK(MustAppend(*t.log, Req("orders", "order-abc", 1, ExpectedVersion::NoStream()))
            .version.value() == 1);
  const std::string before = Describe(*t.log);

  AppendRequest req = Req("orders", "order-abc", 2, ExpectedVersion::NoStream(), "late");
  req.state_writes.Put(family, "order-abc", "state");
  auto result = t.log->Append(std::move(req));
  REQUIRE_FALSE(result.ok());
  CHECK_FAILS_WITH(result, ErrorCode::kConflict);
  CHECK_MESSAGE(Contains(result.status().message(), "1"), result.status().message());
  CHECK(Describe(*t.log) == before);
  CHECK(StreamProblem(*t.log, "order-abc", 1) == "");
  CHECK_FAILS_WITH(t.log->ReadEvent("late-0"), ErrorCode::kNotFound);
  CHECK_FALSE(GetKey(*t.store, family, "order-abc").has_value());
}

TEST_CASE("expected version exists fails when the stream does not exist and writes nothing") {
  TestLog t;
  Family* family = WriteFamily(*t.store);
  REQUIRE(t.log->CreateTopic("orders", 4).ok());
  const std::string before = Describe(*t.log);

  AppendRequest req = Req("orders", "order-abc", 1, ExpectedVersion::Exists(), "early");
  req.state_writes.Put(family, "order-abc", "state");
  auto result = t.log->Append(std::move(req));
  REQUIRE_FALSE(result.ok());
  CHECK_FAILS_WITH(result, ErrorCode::kConflict);
  CHECK_MESSAGE(Contains(result.status().message(), "0"), result.status().message());
  CHECK(Describe(*t.log) == before);
  CHECK(StreamProblem(*t.log, "order-abc", 0) == "");
  CHECK_FAILS_WITH(t.log->ReadEvent("early-0"), ErrorCode::kNotFound);
  CHECK_FALSE(GetKey(*t.store, family, "order-abc").has_value());

  MustAppend(*t.log, Req("orders", "order-abc", 1));
  CHECK(MustAppend(*t.log, Req("orders", "order-abc", 1, ExpectedVersion::Exists()))
            .version.value() == 2);
}

TEST_CASE("append with a stale expected version fails and writes nothing") {
  TestLog t;
  Family* family = WriteFamily(*t.store);
  MustAppend(*t.log, Req("orders", "order-abc", 3));
  const std::string before = Describe(*t.log);

  AppendRequest req = Req("orders", "order-abc", 2, ExpectedVersion::Exact(2), "stale");
  req.state_writes.Put(family, "order-abc", "state-after-2");
  auto result = t.log->Append(std::move(req));
  REQUIRE_FALSE(result.ok());
  CHECK_FAILS_WITH(result, ErrorCode::kConflict);
  // The form documented on Log::Append: "stream S is at version V, expected E".
  CHECK(result.status().message() == "stream order-abc is at version 3, expected 2");
  CHECK(result.status().ToString() == "conflict: stream order-abc is at version 3, expected 2");
  CHECK(Describe(*t.log) == before);
  CHECK(StreamProblem(*t.log, "order-abc", 3) == "");
  CHECK_FAILS_WITH(t.log->ReadEvent("stale-0"), ErrorCode::kNotFound);
  CHECK_FAILS_WITH(t.log->ReadEvent("stale-1"), ErrorCode::kNotFound);
  CHECK_FALSE(GetKey(*t.store, family, "order-abc").has_value());
}

TEST_CASE("expected versions hold when the writer's cache of stream heads starts over") {
  LogOptions options;
  options.max_cached_stream_heads = 3;  // 10 streams: the cache is dropped again and again
  TestLog t(options);
  for (int round = 1; round <= 4; ++round) {
    for (int k = 0; k < 10; ++k) {
      const std::string stream = "order-" + std::to_string(k);
      MustAppend(*t.log, Req("orders", stream, 1, ExpectedVersion::Exact(round - 1)));
      auto stale = t.log->Append(Req("orders", stream, 1, ExpectedVersion::Exact(round - 1)));
      CHECK_FAILS_WITH(stale, ErrorCode::kConflict);
    }
  }
  for (int k = 0; k < 10; ++k) CHECK(StreamProblem(*t.log, "order-" + std::to_string(k), 4) == "");
}

TEST_CASE("an exact expected version ahead of the stream fails and writes nothing") {
  TestLog t;
  MustAppend(*t.log, Req("orders", "order-abc", 1));
  const std::string before = Describe(*t.log);
  auto result = t.log->Append(Req("orders", "order-abc", 1, ExpectedVersion::Exact(7)));
  CHECK_FAILS_WITH(result, ErrorCode::kConflict);
  CHECK_MESSAGE(Contains(result.status().message(), "7"), result.status().message());
  CHECK(Describe(*t.log) == before);
  CHECK(StreamProblem(*t.log, "order-abc", 1) == "");
}

TEST_CASE("append with an exact expected version equal to the head succeeds") {
  TestLog t;
  CHECK(MustAppend(*t.log, Req("orders", "order-abc", 2, ExpectedVersion::Exact(0)))
            .version.value() == 2);
  CHECK(MustAppend(*t.log, Req("orders", "order-abc", 1, ExpectedVersion::Exact(2)))
            .version.value() == 3);
  CHECK(MustAppend(*t.log, Req("orders", "order-abc", 3, ExpectedVersion::Exact(3)))
            .version.value() == 6);
  CHECK(StreamProblem(*t.log, "order-abc", 6) == "");
}

TEST_CASE("exact expected version 0 behaves as no_stream") {
  TestLog t;
  MustAppend(*t.log, Req("orders", "order-abc", 1, ExpectedVersion::Exact(0)));
  const std::string before = Describe(*t.log);
  CHECK_FAILS_WITH(t.log->Append(Req("orders", "order-abc", 1, ExpectedVersion::Exact(0))),
                   ErrorCode::kConflict);
  CHECK(Describe(*t.log) == before);
}

TEST_CASE("a conflict message names the expectation that failed") {
  TestLog t;
  MustAppend(*t.log, Req("orders", "order-abc", 1));
  auto no_stream = t.log->Append(Req("orders", "order-abc", 1, ExpectedVersion::NoStream()));
  CHECK(no_stream.status().message() == "stream order-abc is at version 1, expected no_stream");
  auto exists = t.log->Append(Req("orders", "order-new", 1, ExpectedVersion::Exists()));
  CHECK(exists.status().message() == "stream order-new is at version 0, expected exists");
}

}  // namespace
}  // namespace cairn
