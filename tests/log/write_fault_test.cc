// Unit tests of a failed group write (through the test fault hook, Log::SetWriteFaultForTesting):
// every append of the group fails with the write's error and nothing of it is visible, the log
// turns read-only (every later append is kBusy naming the first error) until Resume succeeds,
// and appends after that continue without gaps.
#include <doctest/doctest.h>

#include <atomic>
#include <barrier>
#include <chrono>
#include <cstdint>
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

TEST_CASE("a write fault fails the appends of its group with the fault's error and writes nothing") {
  TestLog t;
  Family* family = WriteFamily(*t.store);
  REQUIRE(t.log->CreateTopic("orders", 4).ok());
  MustAppend(*t.log, Req("orders", "order-1", 2));
  const std::string before = Describe(*t.log);

  t.log->SetWriteFaultForTesting([] { return Status::IOError("injected disk failure"); });
  AppendRequest req = Req("orders", "order-1", 2, ExpectedVersion::Exact(2), "faulted");
  req.state_writes.Put(family, "order-1", "state");
  auto result = t.log->Append(std::move(req));
  REQUIRE_FALSE(result.ok());
  CHECK_FAILS_WITH(result, ErrorCode::kIOError);
  CHECK_MESSAGE(Contains(result.status().message(), "injected disk failure"),
                result.status().message());
  auto refused = t.log->Append(Req("orders", "order-new", 1));
  CHECK_FAILS_WITH(refused, ErrorCode::kBusy);
  CHECK_MESSAGE(Contains(refused.status().message(), "the log is read-only: a write failed at "),
                refused.status().message());
  CHECK(Contains(refused.status().message(), "injected disk failure"));
  CHECK(Contains(t.log->ReadOnlyReason().value_or(""), "injected disk failure"));
  CHECK_FAILS_WITH(t.log->Resume(), ErrorCode::kIOError);  // the disk still refuses
  CHECK(t.log->ReadOnlyReason().has_value());

  // Concurrent appends under the fault all fail, also when they share a group (the slow fault
  // makes them queue up behind the writer): the first group with the fault's error, every
  // append after it as refused by the read-only log.
  t.log->SetWriteFaultForTesting(nullptr);
  REQUIRE(t.log->Resume().ok());
  CHECK_FALSE(t.log->ReadOnlyReason().has_value());
  t.log->SetWriteFaultForTesting([] {
    std::this_thread::sleep_for(5ms);
    return Status::IOError("injected disk failure");
  });
  constexpr int kThreads = 8;
  std::vector<std::string> outcomes(kThreads);
  std::barrier start(kThreads);
  std::vector<std::thread> threads;
  for (int i = 0; i < kThreads; ++i) {
    threads.emplace_back([&, i] {
      start.arrive_and_wait();
      auto r = t.log->Append(Req("orders", "order-c" + std::to_string(i), 1));
      outcomes[i] = r.ok() ? "ok" : CodeName(r.status().code());
    });
  }
  for (std::thread& thread : threads) thread.join();
  int write_errors = 0;
  for (const std::string& outcome : outcomes) {
    CHECK((outcome == CodeName(ErrorCode::kIOError) || outcome == CodeName(ErrorCode::kBusy)));
    write_errors += outcome == CodeName(ErrorCode::kIOError);
  }
  CHECK(write_errors >= 1);

  CHECK(Describe(*t.log) == before);
  CHECK(StreamProblem(*t.log, "order-1", 2) == "");
  CHECK(StreamProblem(*t.log, "order-new", 0) == "");
  CHECK_FAILS_WITH(t.log->ReadEvent("faulted-0"), ErrorCode::kNotFound);
  CHECK_FALSE(GetKey(*t.store, family, "order-1").has_value());
  t.log->SetWriteFaultForTesting(nullptr);
}

TEST_CASE("after the write fault is cleared and the log resumes, appends work and offsets stay gapless") {
  TestLog t;
  REQUIRE(t.log->CreateTopic("orders", 4).ok());
  AppendResult first = MustAppend(*t.log, Req("orders", "order-1", 2));
  const PartitionId partition = first.positions[0].partition;

  t.log->SetWriteFaultForTesting([] { return Status::IOError("injected disk failure"); });
  CHECK_FAILS_WITH(t.log->Append(Req("orders", "order-1", 3, ExpectedVersion::Any(), "lost")),
                   ErrorCode::kIOError);
  CHECK_FAILS_WITH(t.log->Append(Req("orders", "order-2", 1)), ErrorCode::kBusy);
  t.log->SetWriteFaultForTesting(nullptr);
  CHECK_FAILS_WITH(t.log->Append(Req("orders", "order-2", 1)), ErrorCode::kBusy);  // until Resume
  REQUIRE(t.log->Resume().ok());

  AppendResult next =
      MustAppend(*t.log, Req("orders", "order-1", 1, ExpectedVersion::Exact(2), "lost"));
  CHECK_FALSE(next.duplicate);
  CHECK(next.version.value() == 3);
  CHECK(next.positions[0].partition == partition);
  CHECK(next.positions[0].offset.value() == 2);
  CHECK(next.positions[0].seq.value() == 3);

  // A fault that strikes once, under concurrent load: a writer refused by the read-only log
  // resumes it and goes on.
  std::atomic<int> faults{0};
  t.log->SetWriteFaultForTesting([&]() -> Status {
    if (faults.fetch_add(1) == 0) return Status::IOError("injected once");
    return Status::Ok();
  });
  constexpr int kThreads = 8;
  std::vector<int> succeeded(kThreads, 0);
  std::vector<std::string> odd(kThreads);
  std::vector<std::thread> threads;
  for (int i = 0; i < kThreads; ++i) {
    threads.emplace_back([&, i] {
      for (int j = 0; j < 10; ++j) {
        auto r = t.log->Append(Req("orders", "order-t" + std::to_string(i), 1));
        if (r.ok()) {
          ++succeeded[i];
        } else if (r.status().code() == ErrorCode::kBusy) {
          if (Status resumed = t.log->Resume(); !resumed.ok()) odd[i] = resumed.ToString();
        } else if (r.status().code() != ErrorCode::kIOError) {
          odd[i] = r.status().ToString();
        }
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  t.log->SetWriteFaultForTesting(nullptr);

  uint64_t total = 3;
  for (int i = 0; i < kThreads; ++i) {
    CHECK_MESSAGE(odd[i].empty(), odd[i]);
    CHECK(StreamProblem(*t.log, "order-t" + std::to_string(i), succeeded[i]) == "");
    total += succeeded[i];
  }
  CHECK(total < 3 + kThreads * 10);  // the one faulted group lost something
  CHECK(TopicProblem(*t.log, "orders") == "");
  CHECK(SeqProblem(*t.log, total) == "");
}

}  // namespace
}  // namespace cairn
