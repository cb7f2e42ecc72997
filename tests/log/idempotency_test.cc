// Unit tests of idempotent appends: an append whose event ids are all stored is acknowledged as a
// duplicate with the original positions; a partly stored one is a conflict; both write nothing.
#include <doctest/doctest.h>

#include <barrier>
#include <chrono>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "cairn/log.h"
#include "cairn/status.h"
#include "cairn/store.h"
#include "cairn/types.h"
#include "log_test_util.h"

namespace cairn {
namespace {

using namespace std::chrono_literals;
using namespace testing;

TEST_CASE("re-appending an event under the id the log generated for it is a duplicate") {
  TestLog t;
  AppendResult first = MustAppend(*t.log, Req("orders", "order-1", 1));
  auto stored = t.log->ReadAt("orders", first.positions[0].partition, first.positions[0].offset);
  REQUIRE(stored.ok());
  // A client that read the event and sends it again with its id (a retry through another
  // path, a re-import) must not store it twice.
  AppendRequest again = Req("orders", "order-1", 1);
  again.events[0].id = stored->id;
  AppendResult second = MustAppend(*t.log, std::move(again));
  CHECK(second.duplicate);
  CHECK(second.positions == first.positions);
  CHECK(t.log->LastSeq().value() == 1);
}

TEST_CASE("an append mixing caller ids and events without ids is a conflict when retried") {
  TestLog t;
  auto mixed_append = [] {
    AppendRequest req = Req("orders", "order-1", 2);
    req.events[0].id = "mixed-0";  // events[1] has no id: the log names it
    return req;
  };
  AppendRequest mixed = mixed_append();
  AppendRequest retry = mixed_append();
  AppendResult first = MustAppend(*t.log, std::move(mixed));
  CHECK_FALSE(first.duplicate);
  // The id-less event cannot be recognised, so the retry is neither new nor a duplicate.
  CHECK_FAILS_WITH(t.log->Append(std::move(retry)), ErrorCode::kConflict);
  CHECK(t.log->LastSeq().value() == 2);
  auto head = t.log->StreamHead("order-1");
  REQUIRE(head.ok());
  CHECK(head->value() == 2);
}

TEST_CASE("appending the same event ids again is acknowledged as a duplicate and writes nothing") {
  TestLog t;
  Family* family = WriteFamily(*t.store);
  AppendResult original = MustAppend(*t.log, Req("orders", "order-1", 3, ExpectedVersion::Any(), "evt"));
  MustAppend(*t.log, Req("orders", "order-2", 1));  // something after it
  const std::string before = Describe(*t.log);

  AppendRequest retry = Req("orders", "order-1", 3, ExpectedVersion::Any(), "evt");
  retry.state_writes.Put(family, "dup", "must-not-appear");
  AppendResult again = MustAppend(*t.log, std::move(retry));
  CHECK(again.duplicate);
  CHECK(again.version.value() == original.version.value());
  CHECK(Join(again.positions) == Join(original.positions));
  CHECK(Describe(*t.log) == before);
  CHECK(StreamProblem(*t.log, "order-1", 3) == "");
  CHECK_FALSE(GetKey(*t.store, family, "dup").has_value());
}

TEST_CASE("retrying an append with its original expected version is acknowledged as a duplicate") {
  TestLog t;
  AppendResult created =
      MustAppend(*t.log, Req("orders", "order-1", 2, ExpectedVersion::NoStream(), "create"));
  AppendResult next =
      MustAppend(*t.log, Req("orders", "order-1", 1, ExpectedVersion::Exact(2), "next"));
  MustAppend(*t.log, Req("orders", "order-1", 1, ExpectedVersion::Exact(3)));
  const std::string before = Describe(*t.log);

  auto retry_created = t.log->Append(Req("orders", "order-1", 2, ExpectedVersion::NoStream(), "create"));
  REQUIRE_MESSAGE(retry_created.ok(), retry_created.status().ToString());
  CHECK(retry_created->duplicate);
  CHECK(retry_created->version.value() == 2);
  CHECK(Join(retry_created->positions) == Join(created.positions));

  auto retry_next = t.log->Append(Req("orders", "order-1", 1, ExpectedVersion::Exact(2), "next"));
  REQUIRE_MESSAGE(retry_next.ok(), retry_next.status().ToString());
  CHECK(retry_next->duplicate);
  CHECK(retry_next->version.value() == 3);
  CHECK(Join(retry_next->positions) == Join(next.positions));

  CHECK(Describe(*t.log) == before);
  CHECK(StreamProblem(*t.log, "order-1", 4) == "");
}

TEST_CASE("an append whose event ids are only partly stored is a conflict and writes nothing") {
  TestLog t;
  Family* family = WriteFamily(*t.store);
  AppendRequest first;
  first.topic = "orders";
  first.stream = "order-1";
  first.events = {Ev("A", "{}", "id-a"), Ev("B", "{}", "id-b")};
  MustAppend(*t.log, std::move(first));
  const std::string before = Describe(*t.log);

  AppendRequest overlap;
  overlap.topic = "orders";
  overlap.stream = "order-1";
  overlap.events = {Ev("B", "{}", "id-b"), Ev("C", "{}", "id-c")};
  overlap.state_writes.Put(family, "order-1", "state");
  CHECK_FAILS_WITH(t.log->Append(std::move(overlap)), ErrorCode::kConflict);
  CHECK(Describe(*t.log) == before);
  CHECK(StreamProblem(*t.log, "order-1", 2) == "");
  CHECK_FAILS_WITH(t.log->ReadEvent("id-c"), ErrorCode::kNotFound);
  CHECK_FALSE(GetKey(*t.store, family, "order-1").has_value());

  // The id that was refused is still free.
  AppendRequest fresh;
  fresh.topic = "orders";
  fresh.stream = "order-1";
  fresh.events = {Ev("C", "{}", "id-c")};
  AppendResult result = MustAppend(*t.log, std::move(fresh));
  CHECK_FALSE(result.duplicate);
  CHECK(result.version.value() == 3);
}

TEST_CASE("an event id refused with a failed append can be appended later") {
  TestLog t;
  MustAppend(*t.log, Req("orders", "order-1", 1));
  CHECK_FAILS_WITH(t.log->Append(Req("orders", "order-1", 1, ExpectedVersion::Exact(5), "retry")),
                   ErrorCode::kConflict);
  AppendResult result =
      MustAppend(*t.log, Req("orders", "order-1", 1, ExpectedVersion::Exact(1), "retry"));
  CHECK_FALSE(result.duplicate);
  CHECK(result.version.value() == 2);
  auto event = t.log->ReadEvent("retry-0");
  REQUIRE(event.ok());
  CHECK(event->version.value() == 2);
}

TEST_CASE("concurrent appends of the same event ids write them once") {
  TestLog t;
  REQUIRE(t.log->CreateTopic("orders", 4).ok());
  SlowWriter(*t.log, 2ms);
  constexpr int kThreads = 8;
  constexpr int kRounds = 20;
  struct Outcome {
    bool ok = false;
    bool duplicate = false;
    std::string positions;
    std::string error;
  };
  std::vector<std::vector<Outcome>> outcomes(kRounds, std::vector<Outcome>(kThreads));
  std::barrier start(kThreads);
  std::vector<std::thread> threads;
  for (int i = 0; i < kThreads; ++i) {
    threads.emplace_back([&, i] {
      for (int round = 0; round < kRounds; ++round) {
        start.arrive_and_wait();
        auto result = t.log->Append(Req("orders", "order-" + std::to_string(round), 2,
                                        ExpectedVersion::Any(), "same-" + std::to_string(round)));
        Outcome& out = outcomes[round][i];
        out.ok = result.ok();
        if (result.ok()) {
          out.duplicate = result->duplicate;
          out.positions = Join(result->positions);
        } else {
          out.error = result.status().ToString();
        }
      }
    });
  }
  for (std::thread& thread : threads) thread.join();

  for (int round = 0; round < kRounds; ++round) {
    CAPTURE(round);
    int written = 0;
    for (const Outcome& out : outcomes[round]) {
      CHECK_MESSAGE(out.ok, out.error);
      if (out.ok && !out.duplicate) ++written;
      CHECK(out.positions == outcomes[round][0].positions);
    }
    CHECK(written == 1);
    CHECK(StreamProblem(*t.log, "order-" + std::to_string(round), 2) == "");
  }
  CHECK(SeqProblem(*t.log, 2 * kRounds) == "");
  CHECK(TopicProblem(*t.log, "orders") == "");
}

}  // namespace
}  // namespace cairn
