// Unit tests of reading several topics in seq order: ScanInSeqOrder, LogCursor (where it stops,
// refused events, topics created later, concurrent appends) and OffsetsAfterSeq.
#include <doctest/doctest.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <string>
#include <thread>
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
using Clock = std::chrono::steady_clock;

TEST_CASE("ScanInSeqOrder across two topics returns seq order, honouring after and limit") {
  TestLog t;
  REQUIRE(t.log->CreateTopic("alpha", 2).ok());
  REQUIRE(t.log->CreateTopic("beta", 3).ok());
  REQUIRE(t.log->CreateTopic("gamma", 1).ok());
  // seq:  1-2 alpha, 3 beta, 4 gamma, 5 alpha, 6-7 beta, 8 gamma, 9 alpha
  MustAppend(*t.log, Req("alpha", "a-1", 2));
  MustAppend(*t.log, Req("beta", "b-1", 1));
  MustAppend(*t.log, Req("gamma", "g-1", 1));
  MustAppend(*t.log, Req("alpha", "a-2", 1));
  MustAppend(*t.log, Req("beta", "b-2", 2));
  MustAppend(*t.log, Req("gamma", "g-1", 1));
  MustAppend(*t.log, Req("alpha", "a-1", 1));

  auto scan = [&](const std::vector<std::string>& topics, uint64_t after, size_t limit) {
    std::vector<std::string> out;
    Status status = t.log->ScanInSeqOrder(topics, Seq(after), limit, [&](const EventView& e) {
      out.push_back(std::string(e.topic()) + ":" + std::to_string(e.seq().value()));
      return true;
    });
    CHECK_MESSAGE(status.ok(), status.ToString());
    return out;
  };
  using V = std::vector<std::string>;
  CHECK(scan({"alpha", "beta"}, 0, 100) ==
        V{"alpha:1", "alpha:2", "beta:3", "alpha:5", "beta:6", "beta:7", "alpha:9"});
  CHECK(scan({"beta", "alpha"}, 0, 100) ==
        V{"alpha:1", "alpha:2", "beta:3", "alpha:5", "beta:6", "beta:7", "alpha:9"});
  CHECK(scan({"alpha", "beta"}, 3, 100) == V{"alpha:5", "beta:6", "beta:7", "alpha:9"});
  CHECK(scan({"alpha", "beta"}, 2, 2) == V{"beta:3", "alpha:5"});
  CHECK(scan({"alpha", "beta"}, 9, 100).empty());
  CHECK(scan({"gamma"}, 0, 100) == V{"gamma:4", "gamma:8"});
  CHECK(scan({}, 0, 100) == V{"alpha:1", "alpha:2", "beta:3", "gamma:4", "alpha:5", "beta:6",
                              "beta:7", "gamma:8", "alpha:9"});
  CHECK(scan({}, 6, 2) == V{"beta:7", "gamma:8"});

  int visited = 0;
  Status status = t.log->ScanInSeqOrder({}, Seq(0), 100, [&](const EventView&) {
    ++visited;
    return visited < 2;
  });
  CHECK(status.ok());
  CHECK(visited == 2);
}

// Consumes up to `limit` events from `cursor`, returning "topic:seq" for each.
std::vector<std::string> Drain(LogCursor& cursor, size_t limit) {
  std::vector<std::string> out;
  auto consumed = cursor.Next(limit, [&](const EventView& e) {
    out.push_back(std::string(e.topic()) + ":" + std::to_string(e.seq().value()));
    return true;
  });
  REQUIRE_MESSAGE(consumed.ok(), consumed.status().ToString());
  CHECK(*consumed == out.size());
  return out;
}


TEST_CASE("a cursor visits committed events in seq order and continues where it stopped") {
  TestLog t;
  REQUIRE(t.log->CreateTopic("alpha", 2).ok());
  REQUIRE(t.log->CreateTopic("beta", 3).ok());
  MustAppend(*t.log, Req("alpha", "a-1", 2));  // 1-2
  MustAppend(*t.log, Req("other", "o-1", 1));  // 3
  MustAppend(*t.log, Req("beta", "b-1", 1));   // 4
  MustAppend(*t.log, Req("alpha", "a-2", 1));  // 5

  auto opened = t.log->OpenCursor({"alpha", "beta"}, Seq(0));
  REQUIRE_MESSAGE(opened.ok(), opened.status().ToString());
  LogCursor& cursor = **opened;
  using V = std::vector<std::string>;
  CHECK(cursor.last_seq().value() == 0);
  CHECK(Drain(cursor, 2) == V{"alpha:1", "alpha:2"});
  CHECK(cursor.last_seq().value() == 2);
  CHECK(Drain(cursor, 100) == V{"beta:4", "alpha:5"});
  CHECK(cursor.last_seq().value() == 5);
  CHECK(Drain(cursor, 100).empty());
  CHECK(cursor.last_seq().value() == 5);

  MustAppend(*t.log, Req("beta", "b-2", 2));   // 6-7
  MustAppend(*t.log, Req("other", "o-1", 1));  // 8
  MustAppend(*t.log, Req("alpha", "a-1", 1));  // 9
  CHECK(Drain(cursor, 100) == V{"beta:6", "beta:7", "alpha:9"});
  CHECK(cursor.last_seq().value() == 9);

  auto late = t.log->OpenCursor({"alpha", "beta"}, Seq(4));
  REQUIRE(late.ok());
  CHECK((*late)->last_seq().value() == 4);
  CHECK(Drain(**late, 100) == V{"alpha:5", "beta:6", "beta:7", "alpha:9"});
  auto all = t.log->OpenCursor({}, Seq(6));
  REQUIRE(all.ok());
  CHECK(Drain(**all, 100) == V{"beta:7", "other:8", "alpha:9"});
}

TEST_CASE("an event the cursor's visitor refuses is visited again by the next call") {
  TestLog t;
  MustAppend(*t.log, Req("alpha", "a-1", 3));
  auto opened = t.log->OpenCursor({"alpha"}, Seq(0));
  REQUIRE(opened.ok());
  LogCursor& cursor = **opened;

  std::vector<uint64_t> visited;
  auto consumed = cursor.Next(100, [&](const EventView& e) {
    visited.push_back(e.seq().value());
    return e.seq().value() < 2;  // refuses seq 2
  });
  REQUIRE(consumed.ok());
  CHECK(*consumed == 1);
  CHECK(visited == std::vector<uint64_t>{1, 2});
  CHECK(cursor.last_seq().value() == 1);

  visited.clear();
  consumed = cursor.Next(100, [&](const EventView& e) {
    visited.push_back(e.seq().value());
    return false;  // refuses the first it sees
  });
  REQUIRE(consumed.ok());
  CHECK(*consumed == 0);
  CHECK(visited == std::vector<uint64_t>{2});
  CHECK(cursor.last_seq().value() == 1);

  CHECK(Drain(cursor, 100) == std::vector<std::string>{"alpha:2", "alpha:3"});
}

TEST_CASE("a cursor over every topic picks up topics created after it was opened") {
  TestLog t;
  MustAppend(*t.log, Req("alpha", "a-1", 1));  // 1
  auto opened = t.log->OpenCursor({}, Seq(0));
  REQUIRE(opened.ok());
  LogCursor& cursor = **opened;
  CHECK(Drain(cursor, 100) == std::vector<std::string>{"alpha:1"});

  REQUIRE(t.log->CreateTopic("beta", 2).ok());
  MustAppend(*t.log, Req("beta", "b-1", 1));   // 2
  MustAppend(*t.log, Req("gamma", "g-1", 2));  // 3-4, auto-created
  MustAppend(*t.log, Req("alpha", "a-1", 1));  // 5
  CHECK(Drain(cursor, 100) ==
        std::vector<std::string>{"beta:2", "gamma:3", "gamma:4", "alpha:5"});

  // A named topic that does not exist yet is read once it does.
  auto named = t.log->OpenCursor({"delta"}, Seq(0));
  REQUIRE_MESSAGE(named.ok(), named.status().ToString());
  CHECK(Drain(**named, 100).empty());
  MustAppend(*t.log, Req("delta", "d-1", 1));  // 6
  CHECK(Drain(**named, 100) == std::vector<std::string>{"delta:6"});
}

TEST_CASE("a cursor reading during concurrent appends sees every seq exactly once, in order") {
  TestLog t;
  REQUIRE(t.log->CreateTopic("alpha", 8).ok());
  REQUIRE(t.log->CreateTopic("beta", 4).ok());
  constexpr int kThreads = 4;
  constexpr int kAppendsPerThread = 100;
  std::vector<uint64_t> written(kThreads, 0);
  std::vector<std::string> errors(kThreads);
  std::vector<std::thread> writers;
  for (int i = 0; i < kThreads; ++i) {
    writers.emplace_back([&, i] {
      for (int j = 0; j < kAppendsPerThread; ++j) {
        const size_t n = 1 + static_cast<size_t>(j % 3);
        auto r = t.log->Append(Req(j % 2 == 0 ? "alpha" : "beta",
                                   "s-" + std::to_string(i) + "x" + std::to_string(j % 13), n));
        if (!r.ok()) {
          errors[i] = r.status().ToString();
          return;
        }
        written[i] += n;
      }
    });
  }
  uint64_t total = 0;
  for (int i = 0; i < kThreads; ++i) {
    for (int j = 0; j < kAppendsPerThread; ++j) total += 1 + static_cast<uint64_t>(j % 3);
  }

  auto opened = t.log->OpenCursor({}, Seq(0));
  REQUIRE(opened.ok());
  LogCursor& cursor = **opened;
  std::vector<uint64_t> seen;
  std::string problem;
  const auto give_up = Clock::now() + 20s;
  while (seen.size() < total && problem.empty() && Clock::now() < give_up) {
    auto consumed = cursor.Next(37, [&](const EventView& e) {
      seen.push_back(e.seq().value());
      return true;
    });
    if (!consumed.ok()) {
      problem = consumed.status().ToString();
    } else if (*consumed == 0) {
      (void)t.log->WaitForSeq(Seq(cursor.last_seq().value() + 1), 100ms);
    }
  }
  for (std::thread& w : writers) w.join();
  for (const std::string& e : errors) CHECK_MESSAGE(e.empty(), e);
  CHECK(problem == "");
  REQUIRE(seen.size() == total);
  size_t first_bad = seen.size();
  for (size_t k = 0; k < seen.size(); ++k) {
    if (seen[k] != k + 1) {
      first_bad = k;
      break;
    }
  }
  CHECK_MESSAGE(first_bad == seen.size(),
                "index " << first_bad << " holds seq " << (first_bad < seen.size() ? seen[first_bad] : 0));
  CHECK(cursor.last_seq().value() == total);
}

TEST_CASE("OffsetsAfterSeq gives each partition's first offset with a later seq") {
  TestLog t;
  REQUIRE(t.log->CreateTopic("alpha", 2).ok());
  const std::string in0 = StreamInPartition("order", 2, PartitionId(0));
  const std::string in1 = StreamInPartition("order", 2, PartitionId(1));
  // seq 1-2: alpha/0 offsets 0-1; 3: other; 4: alpha/1 offset 0; 5-7: alpha/0 offsets 2-4;
  // 8: other; 9-10: alpha/1 offsets 1-2.
  std::vector<Position> alpha;
  auto add = [&](const std::string& topic, const std::string& stream, size_t n) {
    AppendResult r = MustAppend(*t.log, Req(topic, stream, n));
    if (topic == "alpha") alpha.insert(alpha.end(), r.positions.begin(), r.positions.end());
  };
  add("alpha", in0, 2);
  add("other", "x-1", 1);
  add("alpha", in1, 1);
  add("alpha", in0, 3);
  add("other", "x-1", 1);
  add("alpha", in1, 2);
  REQUIRE(t.log->LastSeq().value() == 10);

  for (uint64_t after = 0; after <= 10; ++after) {
    CAPTURE(after);
    std::vector<uint64_t> want(2);
    for (uint32_t p = 0; p < 2; ++p) {
      want[p] = t.log->HighWaterMark("alpha", PartitionId(p)).value();  // no later event yet
      for (const Position& pos : alpha) {
        if (pos.partition.value() == p && pos.seq.value() > after) {
          want[p] = std::min(want[p], pos.offset.value());
        }
      }
    }
    auto offsets = t.log->OffsetsAfterSeq("alpha", Seq(after));
    REQUIRE_MESSAGE(offsets.ok(), offsets.status().ToString());
    REQUIRE(offsets->size() == 2);
    CHECK((*offsets)[0].value() == want[0]);
    CHECK((*offsets)[1].value() == want[1]);
  }
  // Spot checks of the table above.
  auto at3 = t.log->OffsetsAfterSeq("alpha", Seq(3));
  REQUIRE(at3.ok());
  CHECK((*at3)[0].value() == 2);
  CHECK((*at3)[1].value() == 0);
  CHECK_FAILS_WITH(t.log->OffsetsAfterSeq("nope", Seq(0)), ErrorCode::kNotFound);
}

}  // namespace
}  // namespace cairn
