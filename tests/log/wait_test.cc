// Unit tests of waiting for the log to grow: WaitForSeq and WaitFor return at once when the event
// is there, time out when it never comes, are woken by the append that brings it (and not by one
// that does not), and Close wakes them.
//
// A wake-up test appends only once its waiter is provably asleep in the wait (WaiterThread):
// a waiter that started late would find the event already there and return at once, and the
// test would pass without anything having been woken.
#include <doctest/doctest.h>

#include <sys/syscall.h>
#include <sys/types.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <fstream>
#include <functional>
#include <optional>
#include <string>
#include <thread>

#include "cairn/log.h"
#include "cairn/status.h"
#include "cairn/types.h"
#include "log_test_util.h"

namespace cairn {
namespace {

using namespace std::chrono_literals;
using namespace testing;
using Clock = std::chrono::steady_clock;

// A thread that makes one blocking call and lets the test see it asleep in it. The thread
// publishes its kernel thread id and then makes the call, which is the only place it can sleep
// afterwards; the test reads the thread's scheduling state and its count of voluntary sleeps from
// /proc/self/task/<tid>/ (Linux, like the log's futex).
class WaiterThread {
 public:
  // Starts the thread; `wait` returns whether the condition it waited for held.
  explicit WaiterThread(std::function<bool()> wait)
      : thread_([this, wait = std::move(wait)] {
          tid_.store(static_cast<pid_t>(syscall(SYS_gettid)), std::memory_order_release);
          const auto start = Clock::now();
          result_ = wait();
          waited_ = Clock::now() - start;
          returned_.store(true, std::memory_order_release);
        }) {}
  ~WaiterThread() {
    if (thread_.joinable()) thread_.join();
  }
  WaiterThread(const WaiterThread&) = delete;
  WaiterThread& operator=(const WaiterThread&) = delete;

  // Waits (up to 10 s) until the thread is asleep in its call, having gone to sleep more than
  // `after` times in all, and stays asleep (the same count across two looks 5 ms apart, so a
  // short sleep on a mutex inside the call does not count). Returns the count of sleeps then;
  // nothing when the call returned or the thread was never seen asleep.
  std::optional<uint64_t> AsleepAfter(uint64_t after) {
    const auto give_up = Clock::now() + 10s;
    pid_t tid = 0;
    while ((tid = tid_.load(std::memory_order_acquire)) == 0 && Clock::now() < give_up) {
      std::this_thread::yield();
    }
    std::optional<uint64_t> previous;
    while (Clock::now() < give_up && !returned_.load(std::memory_order_acquire)) {
      const std::optional<uint64_t> sleeps = SleepsIfAsleep(tid);
      if (sleeps && *sleeps > after && previous == sleeps) return sleeps;
      previous = sleeps;
      std::this_thread::sleep_for(5ms);
    }
    return std::nullopt;
  }

  // Joins the thread; returns what its call returned.
  bool Join() {
    thread_.join();
    return result_;
  }
  // How long the call took. REQUIRES: Join() returned.
  Clock::duration waited() const { return waited_; }

 private:
  // The thread's count of voluntary context switches (each one a sleep) while it is asleep
  // ('S'); nothing while it runs or when /proc cannot tell.
  static std::optional<uint64_t> SleepsIfAsleep(pid_t tid) {
    const std::string task = "/proc/self/task/" + std::to_string(tid);
    std::ifstream stat_file(task + "/stat");
    std::string stat;
    if (!std::getline(stat_file, stat)) return std::nullopt;
    // "tid (name) S ...": the state follows the last ')', since the name may hold one.
    const size_t name_end = stat.rfind(')');
    if (name_end == std::string::npos || name_end + 2 >= stat.size()) return std::nullopt;
    if (stat[name_end + 2] != 'S') return std::nullopt;
    std::ifstream status_file(task + "/status");
    const std::string field = "voluntary_ctxt_switches:";
    for (std::string line; std::getline(status_file, line);) {
      if (line.rfind(field, 0) == 0) return std::stoull(line.substr(field.size()));
    }
    return std::nullopt;
  }

  std::atomic<pid_t> tid_{0};
  std::atomic<bool> returned_{false};
  bool result_ = false;
  Clock::duration waited_{};
  std::thread thread_;  // last: starts once the fields above exist
};

TEST_CASE("WaitForSeq and WaitFor return true at once when the event is already there") {
  TestLog t;
  REQUIRE(t.log->CreateTopic("orders", 2).ok());
  AppendResult result = MustAppend(*t.log, Req("orders", "order-1", 2));
  const PartitionId partition = result.positions[0].partition;
  CHECK(t.log->WaitForSeq(Seq(0), 10s));
  CHECK(t.log->WaitForSeq(Seq(1), 10s));
  CHECK(t.log->WaitForSeq(Seq(2), 0ms));
  CHECK(t.log->WaitFor("orders", partition, Offset(0), 10s));
  CHECK(t.log->WaitFor("orders", partition, Offset(1), 0ms));
}

TEST_CASE("WaitForSeq and WaitFor return false after the timeout when nothing is appended") {
  TestLog t;
  REQUIRE(t.log->CreateTopic("orders", 2).ok());
  AppendResult result = MustAppend(*t.log, Req("orders", "order-1", 1));
  const PartitionId partition = result.positions[0].partition;
  const PartitionId other(1 - partition.value());
  CHECK_FALSE(t.log->WaitForSeq(Seq(2), 50ms));
  CHECK_FALSE(t.log->WaitFor("orders", partition, Offset(1), 50ms));
  CHECK_FALSE(t.log->WaitFor("orders", other, Offset(0), 50ms));
  CHECK_FALSE(t.log->WaitFor("unknown", PartitionId(0), Offset(0), 50ms));
}

TEST_CASE("a thread waiting in WaitForSeq is woken by an append") {
  TestLog t;
  MustAppend(*t.log, Req("orders", "order-1", 1));
  std::atomic<bool> appended{false};
  bool condition_held = false;
  WaiterThread waiter([&] {
    const bool woke = t.log->WaitForSeq(Seq(3), 10s);
    condition_held = appended.load();
    return woke;
  });
  // Asleep before anything it waits for exists: only an append can make the wait return true.
  const std::optional<uint64_t> asleep = waiter.AsleepAfter(0);
  REQUIRE_MESSAGE(asleep.has_value(), "the waiter was never seen asleep in WaitForSeq");
  MustAppend(*t.log, Req("orders", "order-2", 1));  // seq 2: not enough
  // Woken by seq 2, it checked and went back to sleep.
  REQUIRE_MESSAGE(waiter.AsleepAfter(*asleep).has_value(),
                  "the waiter did not go back to sleep after seq 2");
  appended = true;
  MustAppend(*t.log, Req("orders", "order-2", 1));  // seq 3
  CHECK(waiter.Join());
  CHECK(condition_held);           // not woken (as satisfied) by seq 2
  CHECK(waiter.waited() < 5s);     // by the append, not by the 10 s timeout
}

TEST_CASE("a thread waiting in WaitFor is woken by an append to its partition") {
  TestLog t;
  REQUIRE(t.log->CreateTopic("orders", 2).ok());
  const std::string in0 = StreamInPartition("order", 2, PartitionId(0));
  const std::string in1 = StreamInPartition("order", 2, PartitionId(1));
  MustAppend(*t.log, Req("orders", in0, 1));
  std::atomic<bool> appended{false};
  bool condition_held = false;
  WaiterThread waiter([&] {
    const bool woke = t.log->WaitFor("orders", PartitionId(0), Offset(2), 10s);
    condition_held = appended.load();
    return woke;
  });
  const std::optional<uint64_t> asleep = waiter.AsleepAfter(0);
  REQUIRE_MESSAGE(asleep.has_value(), "the waiter was never seen asleep in WaitFor");
  MustAppend(*t.log, Req("orders", in1, 3));  // other partition
  MustAppend(*t.log, Req("orders", in0, 1));  // offset 1: not enough
  REQUIRE_MESSAGE(waiter.AsleepAfter(*asleep).has_value(),
                  "the waiter did not go back to sleep after offset 1");
  appended = true;
  MustAppend(*t.log, Req("orders", in0, 1));  // offset 2
  CHECK(waiter.Join());
  CHECK(condition_held);
  CHECK(waiter.waited() < 5s);
}

TEST_CASE("Close wakes waiters and makes later appends fail with shutting down") {
  TestLog t;
  MustAppend(*t.log, Req("orders", "order-1", 1));
  WaiterThread waiter([&] { return t.log->WaitForSeq(Seq(100), 10s); });
  REQUIRE_MESSAGE(waiter.AsleepAfter(0).has_value(), "the waiter was never seen asleep");
  t.log->Close();
  CHECK_FALSE(waiter.Join());
  CHECK(waiter.waited() < 5s);
  CHECK_FAILS_WITH(t.log->Append(Req("orders", "order-1", 1)), ErrorCode::kShuttingDown);
  CHECK(t.log->LastSeq().value() == 1);
}

}  // namespace
}  // namespace cairn
