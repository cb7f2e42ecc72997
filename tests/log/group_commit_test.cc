// Unit tests of group commit under concurrency: many writers leave gapless offsets, seqs and
// stream versions; expected versions and failures stay per append inside a shared group; group
// size limits hold; and the counters the writer keeps.
#include <doctest/doctest.h>

#include <barrier>
#include <chrono>
#include <cstdint>
#include <map>
#include <set>
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

TEST_CASE("16 concurrent writers leave gapless offsets, seqs and stream versions") {
  StoreOptions store_options = FastStoreOptions();
  LogOptions log_options;
  // With fsync on every group, leaders wait briefly to gather the writers the last group
  // released: the gathering path must keep every contract too.
  SUBCASE("sync always, gathering groups") { store_options.sync = SyncMode::kAlways; }
  SUBCASE("sync always, no gathering") {
    store_options.sync = SyncMode::kAlways;
    log_options.max_group_wait_us = 0;
  }
  SUBCASE("no sync") {}
  TestLog t(log_options, store_options);
  REQUIRE(t.log->CreateTopic("orders", 8).ok());
  SUBCASE("at full speed") {}
  SUBCASE("with a slow writer, so that groups are large") { SlowWriter(*t.log, 1ms); }
  constexpr int kThreads = 16;
  constexpr int kAppendsPerThread = 100;
  constexpr int kStreams = 64;
  struct Acked {
    std::string stream;
    std::vector<Position> positions;
    uint64_t version = 0;
  };
  std::vector<std::vector<Acked>> acked(kThreads);
  std::vector<std::vector<std::string>> errors(kThreads);
  std::vector<std::thread> threads;
  for (int i = 0; i < kThreads; ++i) {
    threads.emplace_back([&, i] {
      for (int j = 0; j < kAppendsPerThread; ++j) {
        std::string stream = "order-" + std::to_string((i * 31 + j * 7) % kStreams);
        size_t n = 1 + static_cast<size_t>((i + j) % 3);
        auto result = t.log->Append(Req("orders", stream, n));
        if (!result.ok()) {
          errors[i].push_back(result.status().ToString());
          continue;
        }
        acked[i].push_back({stream, result->positions, result->version.value()});
      }
    });
  }
  for (std::thread& thread : threads) thread.join();

  uint64_t total = 0;
  std::map<std::string, uint64_t> per_stream;
  for (int i = 0; i < kThreads; ++i) {
    CHECK_MESSAGE(errors[i].empty(), FirstOf(errors[i]));
    for (const Acked& a : acked[i]) {
      total += a.positions.size();
      per_stream[a.stream] += a.positions.size();
    }
  }
  CHECK(t.log->LastSeq().value() == total);
  CHECK(TopicProblem(*t.log, "orders") == "");
  CHECK(SeqProblem(*t.log, total) == "");
  uint64_t hwm_sum = 0;
  for (uint32_t p = 0; p < 8; ++p) hwm_sum += t.log->HighWaterMark("orders", PartitionId(p)).value();
  CHECK(hwm_sum == total);
  for (const auto& [stream, count] : per_stream) {
    CHECK(StreamProblem(*t.log, stream, count) == "");
  }

  // Every acknowledged position holds the acknowledged event.
  std::string problem;
  std::set<uint64_t> seqs;
  for (int i = 0; i < kThreads && problem.empty(); ++i) {
    for (const Acked& a : acked[i]) {
      for (size_t k = 0; k < a.positions.size(); ++k) {
        const Position& pos = a.positions[k];
        seqs.insert(pos.seq.value());
        auto event = t.log->ReadAt(pos.topic, pos.partition, pos.offset);
        const uint64_t want_version = a.version - a.positions.size() + 1 + k;
        if (!event.ok() || event->seq != pos.seq || event->stream != a.stream ||
            event->version.value() != want_version) {
          problem = "position " + pos.ToString() + " does not hold " + a.stream + " version " +
                    std::to_string(want_version);
          break;
        }
      }
      if (!problem.empty()) break;
    }
  }
  CHECK(problem == "");
  CHECK(seqs.size() == total);
}

TEST_CASE("concurrent writers with the same exact expected version: exactly one wins each version") {
  TestLog t;
  REQUIRE(t.log->CreateTopic("orders", 4).ok());
  SlowWriter(*t.log, 2ms);
  constexpr int kThreads = 8;
  constexpr int kRounds = 40;
  struct Outcome {
    bool ok = false;
    ErrorCode code = ErrorCode::kOk;
    uint64_t version = 0;
    std::string error;
  };
  std::vector<std::vector<Outcome>> outcomes(kRounds, std::vector<Outcome>(kThreads));
  std::barrier start(kThreads);
  std::vector<std::thread> threads;
  for (int i = 0; i < kThreads; ++i) {
    threads.emplace_back([&, i] {
      for (int round = 0; round < kRounds; ++round) {
        start.arrive_and_wait();  // every thread has finished the previous round
        auto result = t.log->Append(Req("orders", "order-hot", 1,
                                        ExpectedVersion::Exact(static_cast<uint64_t>(round))));
        Outcome& out = outcomes[round][i];
        out.ok = result.ok();
        out.code = result.status().code();
        if (result.ok()) {
          out.version = result->version.value();
        } else {
          out.error = result.status().ToString();
        }
      }
    });
  }
  for (std::thread& thread : threads) thread.join();

  for (int round = 0; round < kRounds; ++round) {
    CAPTURE(round);
    int winners = 0;
    for (const Outcome& out : outcomes[round]) {
      if (out.ok) {
        ++winners;
        CHECK(out.version == static_cast<uint64_t>(round) + 1);
      } else {
        CHECK_MESSAGE(out.code == ErrorCode::kConflict, out.error);
      }
    }
    CHECK(winners == 1);
  }
  CHECK(StreamProblem(*t.log, "order-hot", kRounds) == "");
  CHECK(SeqProblem(*t.log, kRounds) == "");
  CHECK(TopicProblem(*t.log, "orders") == "");
  CHECK(t.log->GetStats().conflicts == static_cast<uint64_t>(kRounds * (kThreads - 1)));
}

TEST_CASE("a failing append in a group does not fail the others") {
  TestLog t;
  Family* family = WriteFamily(*t.store);
  REQUIRE(t.log->CreateTopic("orders", 8).ok());
  constexpr int kThreads = 16;
  constexpr int kRounds = 20;
  // Odd threads own a stream at version 3 and always expect version 1: stale every time.
  for (int i = 1; i < kThreads; i += 2) {
    MustAppend(*t.log, Req("orders", "bad-" + std::to_string(i), 3));
  }
  const uint64_t seeded = t.log->LastSeq().value();
  const uint64_t groups_before = t.log->GetStats().groups;
  SlowWriter(*t.log, 2ms);
  std::vector<std::vector<std::string>> unexpected(kThreads);
  std::barrier start(kThreads);
  std::vector<std::thread> threads;
  for (int i = 0; i < kThreads; ++i) {
    threads.emplace_back([&, i] {
      const bool good = i % 2 == 0;
      const std::string stream = (good ? "good-" : "bad-") + std::to_string(i);
      for (int round = 0; round < kRounds; ++round) {
        start.arrive_and_wait();
        AppendRequest req = Req("orders", stream, 2,
                                ExpectedVersion::Exact(good ? 2u * round : 1u));
        req.state_writes.Put(family, stream + "/" + std::to_string(round), "s");
        auto result = t.log->Append(std::move(req));
        if (good && !result.ok()) unexpected[i].push_back(result.status().ToString());
        if (!good && result.status().code() != ErrorCode::kConflict) {
          unexpected[i].push_back(result.ok() ? "stale append succeeded" : result.status().ToString());
        }
      }
    });
  }
  for (std::thread& thread : threads) thread.join();

  for (int i = 0; i < kThreads; ++i) {
    CAPTURE(i);
    CHECK_MESSAGE(unexpected[i].empty(), FirstOf(unexpected[i]));
    const bool good = i % 2 == 0;
    const std::string stream = (good ? "good-" : "bad-") + std::to_string(i);
    CHECK(StreamProblem(*t.log, stream, good ? 2 * kRounds : 3) == "");
    CHECK(GetKey(*t.store, family, stream + "/0").has_value() == good);
    CHECK(GetKey(*t.store, family, stream + "/" + std::to_string(kRounds - 1)).has_value() == good);
  }
  CHECK(SeqProblem(*t.log, seeded + (kThreads / 2) * kRounds * 2) == "");
  CHECK(TopicProblem(*t.log, "orders") == "");
  // Not a contract, a sign the test exercised what it means to: good and stale appends shared
  // WriteBatches.
  const uint64_t groups = t.log->GetStats().groups - groups_before;
  WARN_MESSAGE(groups < static_cast<uint64_t>((kThreads / 2) * kRounds),
               "no group held more than one successful append: " << groups << " groups");
}

TEST_CASE("the writer never puts more than max_group_appends appends in one group") {
  LogOptions options;
  options.max_group_appends = 2;
  TestLog t(options);
  REQUIRE(t.log->CreateTopic("orders", 4).ok());
  SlowWriter(*t.log, 2ms);
  constexpr int kThreads = 8;
  constexpr int kAppendsPerThread = 10;
  const uint64_t groups_before = t.log->GetStats().groups;
  std::vector<std::string> errors(kThreads);
  std::vector<std::thread> threads;
  for (int i = 0; i < kThreads; ++i) {
    threads.emplace_back([&, i] {
      for (int j = 0; j < kAppendsPerThread; ++j) {
        auto r = t.log->Append(Req("orders", "order-" + std::to_string(i), 1));
        if (!r.ok()) errors[i] = r.status().ToString();
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  for (const std::string& e : errors) CHECK_MESSAGE(e.empty(), e);
  const uint64_t appends = kThreads * kAppendsPerThread;
  CHECK(t.log->GetStats().groups - groups_before >= appends / 2);
  CHECK(SeqProblem(*t.log, appends) == "");
  CHECK(TopicProblem(*t.log, "orders") == "");
  for (int i = 0; i < kThreads; ++i) {
    CHECK(StreamProblem(*t.log, "order-" + std::to_string(i), kAppendsPerThread) == "");
  }
}

TEST_CASE("stats count appends, events, duplicates and conflicts") {
  TestLog t;
  const Log::Stats zero = t.log->GetStats();
  CHECK(zero.appends == 0);
  CHECK(zero.events == 0);
  MustAppend(*t.log, Req("orders", "order-1", 3, ExpectedVersion::Any(), "s"));
  MustAppend(*t.log, Req("orders", "order-2", 1));
  MustAppend(*t.log, Req("orders", "order-1", 3, ExpectedVersion::Any(), "s"));  // duplicate
  CHECK_FAILS_WITH(t.log->Append(Req("orders", "order-1", 1, ExpectedVersion::NoStream())),
                   ErrorCode::kConflict);
  const Log::Stats stats = t.log->GetStats();
  CHECK(stats.appends == 2);
  CHECK(stats.events == 4);
  CHECK(stats.duplicates == 1);
  CHECK(stats.conflicts == 1);
  CHECK(stats.groups >= 1);
  CHECK(stats.groups <= 2);
}

}  // namespace
}  // namespace cairn
