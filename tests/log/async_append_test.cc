// Unit tests of Log::AppendAsync: one callback per accepted append, after its group is written;
// the results, conflicts and errors Append returns; commit order; appending again from a
// callback; a bounded queue; sets admitted whole by AppendAsyncAll; and Close completing what
// was accepted.
#include <doctest/doctest.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <future>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "log_test_util.h"

namespace cairn {
namespace {

using namespace std::chrono_literals;
using namespace testing;

// Collects callback results; Wait() returns once `n` have arrived.
class Results {
 public:
  AppendCallback Callback(std::string name = {}) {
    return [this, name](Result<AppendResult> r) {
      std::lock_guard lock(mu_);
      order_.push_back(name);
      results_.push_back(std::move(r));
      cv_.notify_all();
    };
  }
  void Wait(size_t n) {
    std::unique_lock lock(mu_);
    REQUIRE(cv_.wait_for(lock, 10s, [&] { return results_.size() >= n; }));
  }
  size_t size() {
    std::lock_guard lock(mu_);
    return results_.size();
  }
  const Result<AppendResult>& operator[](size_t i) { return results_[i]; }
  std::vector<std::string> order() {
    std::lock_guard lock(mu_);
    return order_;
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<Result<AppendResult>> results_;
  std::vector<std::string> order_;
};

TEST_CASE("an async append is called back once with the positions a synchronous one returns") {
  TestLog t;
  Results got;
  REQUIRE(t.log->AppendAsync(Req("orders", "order-1", 3, ExpectedVersion::NoStream()),
                             got.Callback()).ok());
  got.Wait(1);
  REQUIRE_MESSAGE(got[0].ok(), got[0].status().ToString());
  CHECK(got[0]->version == StreamVersion(3));
  REQUIRE(got[0]->positions.size() == 3);
  CHECK(got[0]->positions[0].seq == Seq(1));
  // The log shows it, and a synchronous append continues the same stream.
  CHECK(t.log->LastSeq() == Seq(3));
  AppendResult next = MustAppend(*t.log, Req("orders", "order-1", 1, ExpectedVersion::Exact(3)));
  CHECK(next.version == StreamVersion(4));
  std::this_thread::sleep_for(20ms);
  CHECK(got.size() == 1);  // exactly once
}

TEST_CASE("async conflicts, duplicates and write errors arrive with Append's statuses") {
  TestLog t;
  MustAppend(*t.log, Req("orders", "order-1", 2, ExpectedVersion::Any(), "a"));
  Results got;
  // A stale expected version: the same conflict Append reports.
  REQUIRE(t.log->AppendAsync(Req("orders", "order-1", 1, ExpectedVersion::Exact(1)),
                             got.Callback()).ok());
  // The same ids again: a duplicate with the original positions.
  REQUIRE(t.log->AppendAsync(Req("orders", "order-1", 2, ExpectedVersion::Any(), "a"),
                             got.Callback()).ok());
  got.Wait(2);
  CHECK_FAILS_WITH(got[0], ErrorCode::kConflict);
  CHECK(Contains(got[0].status().message(), "is at version 2, expected 1"));
  REQUIRE(got[1].ok());
  CHECK(got[1]->duplicate);
  CHECK(got[1]->version == StreamVersion(2));

  // A failed write fails the append through its callback, and writes nothing.
  const std::string before = Describe(*t.log);
  t.log->SetWriteFaultForTesting([] { return Status::IOError("injected disk failure"); });
  REQUIRE(t.log->AppendAsync(Req("orders", "order-2", 1), got.Callback()).ok());
  got.Wait(3);
  CHECK_FAILS_WITH(got[2], ErrorCode::kIOError);
  CHECK(Describe(*t.log) == before);
}

TEST_CASE("what Append refuses before queueing, AppendAsync refuses at once without a callback") {
  TestLog t(LogOptions{.auto_create_topics = false});
  REQUIRE(t.log->CreateTopic("orders", 4).ok());
  std::atomic<int> calls{0};
  const auto count = [&](Result<AppendResult>) { ++calls; };
  CHECK_FAILS_WITH(t.log->AppendAsync(Req("orders", "order-1", 0), count),
                   ErrorCode::kInvalidArgument);
  CHECK_FAILS_WITH(t.log->AppendAsync(Req("orders", "bad/stream", 1), count),
                   ErrorCode::kInvalidArgument);
  CHECK_FAILS_WITH(t.log->AppendAsync(Req("missing", "s-1", 1), count), ErrorCode::kNotFound);
  AppendRequest big = Req("orders", "order-1", 1);
  big.events[0].data.assign(LogOptions{}.max_event_bytes + 1, 'x');
  CHECK_FAILS_WITH(t.log->AppendAsync(std::move(big), count), ErrorCode::kTooLarge);
  CHECK_FAILS_WITH(t.log->AppendAsync(Req("orders", "order-1", 1), nullptr),
                   ErrorCode::kInvalidArgument);
  t.log->Close();
  CHECK_FAILS_WITH(t.log->AppendAsync(Req("orders", "order-1", 1), count),
                   ErrorCode::kShuttingDown);
  CHECK(calls == 0);
  CHECK(t.log->LastSeq() == Seq(0));
}

TEST_CASE("no async append is called back before its group is written") {
  TestLog t;
  std::atomic<int> called{0};
  std::atomic<int> early{0};
  std::atomic<int> hooks{0};
  // The fault hook runs just before each group's batch is written. By then only appends of
  // earlier, written groups may have been called back: no more than the events published.
  t.log->SetWriteFaultForTesting([&] {
    ++hooks;
    if (static_cast<uint64_t>(called.load()) > t.log->GetStats().events) ++early;
    return Status::Ok();
  });
  // Eight chains, each appending its next event from the callback of the last: groups and
  // callbacks interleave.
  constexpr int kChains = 8, kSteps = 25;
  std::atomic<int> finished{0};
  std::function<void(int, int)> step = [&](int chain, int n) {
    Status s = t.log->AppendAsync(Req("orders", "order-" + std::to_string(chain), 1),
                                  [&, chain, n](Result<AppendResult> r) {
                                    CHECK(r.ok());
                                    ++called;
                                    if (n + 1 < kSteps) {
                                      step(chain, n + 1);
                                    } else {
                                      ++finished;
                                    }
                                  });
    REQUIRE(s.ok());
  };
  for (int c = 0; c < kChains; ++c) step(c, 0);
  for (int i = 0; i < 1000 && finished < kChains; ++i) std::this_thread::sleep_for(10ms);
  REQUIRE(finished == kChains);
  CHECK(called == kChains * kSteps);
  CHECK(early == 0);
  CHECK(hooks >= kSteps);
}

TEST_CASE("callbacks of one stream come in version order, across many groups") {
  TestLog t;
  Results got;
  constexpr int kAppends = 500;
  for (int i = 0; i < kAppends; ++i) {
    REQUIRE(t.log->AppendAsync(Req("orders", "order-1", 1), got.Callback()).ok());
  }
  got.Wait(kAppends);
  for (int i = 0; i < kAppends; ++i) {
    REQUIRE(got[i].ok());
    CHECK(got[i]->version == StreamVersion(i + 1));
  }
  CHECK(t.log->GetStats().groups < kAppends);  // they shared groups
}

TEST_CASE("a callback may append again, async or synchronously, without deadlock") {
  TestLog t;
  Results chained;
  std::atomic<int> remaining{50};
  std::function<void(Result<AppendResult>)> next = [&](Result<AppendResult> r) {
    REQUIRE(r.ok());
    if (--remaining > 0) {
      // Synchronously every other time: the callback thread waits for its own append while
      // other groups keep committing.
      if (remaining % 2 == 0) {
        MustAppend(*t.log, Req("orders", "order-sync", 1));
      }
      REQUIRE(t.log->AppendAsync(Req("orders", "order-chain", 1), next).ok());
    } else {
      chained.Callback()(std::move(r));
    }
  };
  REQUIRE(t.log->AppendAsync(Req("orders", "order-chain", 1), next).ok());
  chained.Wait(1);
  auto head = t.log->StreamHead("order-chain");
  REQUIRE(head.ok());
  CHECK(head->value() == 50);
  CHECK(t.log->StreamHead("order-sync")->value() == 24);
}

TEST_CASE("a callback's own async append does not hold up its synchronous one") {
  // The callback thread leads the async appends its callbacks queue once they return; an
  // Append made by a callback behind one of them must still be led at once, by the leader
  // thread, or the callback would wait on itself.
  TestLog t(LogOptions{}, StoreOptions{.sync = SyncMode::kAlways});
  Results done;
  std::atomic<int> rounds{0};
  std::function<void(Result<AppendResult>)> next = [&](Result<AppendResult> r) {
    REQUIRE(r.ok());
    if (++rounds < 20) {
      REQUIRE(t.log->AppendAsync(Req("orders", "order-first", 1), done.Callback()).ok());
      MustAppend(*t.log, Req("orders", "order-then", 1));
      REQUIRE(t.log->AppendAsync(Req("orders", "order-loop", 1), next).ok());
    } else {
      done.Callback()(std::move(r));
    }
  };
  REQUIRE(t.log->AppendAsync(Req("orders", "order-loop", 1), next).ok());
  done.Wait(20);
  CHECK(t.log->StreamHead("order-first")->value() == 19);
  CHECK(t.log->StreamHead("order-then")->value() == 19);
  CHECK(t.log->StreamHead("order-loop")->value() == 20);
}

TEST_CASE("an append from another thread is led while a callback blocks") {
  // A callback queues an async append (the callback thread would lead it after its batch),
  // then blocks. An append from another thread must wake the leader thread, which writes both.
  TestLog t;
  Results called_back;
  std::promise<void> blocked, release;
  std::shared_future<void> released = release.get_future().share();
  REQUIRE(t.log->AppendAsync(Req("orders", "order-slow", 1), [&](Result<AppendResult> r) {
    REQUIRE(r.ok());
    REQUIRE(
        t.log->AppendAsync(Req("orders", "order-from-callback", 1), called_back.Callback()).ok());
    blocked.set_value();
    released.wait();
  }).ok());
  blocked.get_future().wait();
  REQUIRE(t.log->AppendAsync(Req("orders", "order-outside", 1), called_back.Callback()).ok());
  const auto head = [&](const char* stream) { return t.log->StreamHead(stream)->value(); };
  for (int i = 0; i < 5000 && head("order-outside") != 1; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  CHECK(head("order-outside") == 1);
  CHECK(head("order-from-callback") == 1);
  release.set_value();
  called_back.Wait(2);
}

TEST_CASE("a callback may wait for an async append it queued") {
  // The callback thread would write it only after the callback returns: WaitFor hands it to
  // the leader thread instead.
  TestLog t;
  Results done;
  REQUIRE(t.log->AppendAsync(Req("orders", "order-1", 1), [&](Result<AppendResult> r) {
    REQUIRE(r.ok());
    const Position& first = r->positions.front();
    REQUIRE(t.log->AppendAsync(Req("orders", "order-1", 1), done.Callback()).ok());
    CHECK(t.log->WaitFor(first.topic, first.partition, Offset(first.offset.value() + 1),
                         std::chrono::seconds(10)));
    done.Callback()(std::move(r));
  }).ok());
  done.Wait(2);
  CHECK(t.log->StreamHead("order-1")->value() == 2);
}

TEST_CASE("synchronous and async appends share groups and stay gapless") {
  TestLog t(LogOptions{}, StoreOptions{.sync = SyncMode::kAlways});
  Results got;
  constexpr int kThreads = 4, kEach = 50;
  std::vector<std::thread> threads;
  for (int i = 0; i < kThreads; ++i) {
    threads.emplace_back([&, i] {
      for (int j = 0; j < kEach; ++j) {
        if (j % 2 == 0) {
          MustAppend(*t.log, Req("orders", "order-s" + std::to_string(i), 1));
        } else {
          REQUIRE(t.log->AppendAsync(Req("orders", "order-a" + std::to_string(i), 1),
                                     got.Callback()).ok());
        }
      }
    });
  }
  for (auto& th : threads) th.join();
  got.Wait(kThreads * kEach / 2);
  CHECK(SeqProblem(*t.log, kThreads * kEach) == "");
  CHECK(TopicProblem(*t.log, "orders") == "");
}

// Holds the log's writer inside its fault hook from construction until Open(), so async
// appends stay in flight meanwhile.
class WriterGate {
 public:
  explicit WriterGate(Log& log) : log_(log) {
    mu_.lock();
    log_.SetWriteFaultForTesting([this] {
      std::lock_guard pass(mu_);
      return Status::Ok();
    });
  }
  ~WriterGate() {
    if (!open_) Open();  // a failed check must not leave the writer stuck
    log_.SetWriteFaultForTesting(nullptr);
  }
  void Open() {
    open_ = true;
    mu_.unlock();
  }

 private:
  Log& log_;
  std::mutex mu_;
  bool open_ = false;
};

TEST_CASE("past max_pending_async, AppendAsync answers busy at once, and recovers") {
  TestLog t(LogOptions{.max_pending_async = 8});
  WriterGate gate(*t.log);
  Results got;
  int accepted = 0;
  Status busy;
  for (int i = 0; i < 20 && busy.ok(); ++i) {
    busy = t.log->AppendAsync(Req("orders", "order-" + std::to_string(i), 1), got.Callback());
    if (busy.ok()) ++accepted;
  }
  CHECK(accepted == 8);
  CHECK_FAILS_WITH(busy, ErrorCode::kBusy);
  CHECK(Contains(busy.message(), "max_pending_async"));
  gate.Open();
  got.Wait(8);
  for (size_t i = 0; i < 8; ++i) CHECK(got[i].ok());
  // Once called back, they no longer count.
  REQUIRE(t.log->AppendAsync(Req("orders", "order-x", 1), got.Callback()).ok());
  got.Wait(9);
}

// `n` one-event appends to streams "<prefix>-0", "<prefix>-1", ..., each called back into `got`
// under its stream's name.
std::vector<AsyncAppend> AppendSet(Results& got, const std::string& prefix, size_t n) {
  std::vector<AsyncAppend> set;
  for (size_t i = 0; i < n; ++i) {
    const std::string stream = prefix + "-" + std::to_string(i);
    set.push_back({Req("orders", stream, 1), got.Callback(stream)});
  }
  return set;
}

TEST_CASE("AppendAsyncAll queues a set of appends whole or refuses it whole, busy when it does not fit") {
  TestLog t(LogOptions{.max_pending_async = 8});
  WriterGate gate(*t.log);
  Results got;
  for (int i = 0; i < 5; ++i) {
    REQUIRE(t.log->AppendAsync(Req("orders", "single-" + std::to_string(i), 1), got.Callback()).ok());
  }
  // 5 + 4 > 8: not one of the four is queued (AppendAsync alone would have taken three).
  const Status busy = t.log->AppendAsyncAll(AppendSet(got, "order-a", 4));
  CHECK_FAILS_WITH(busy, ErrorCode::kBusy);
  CHECK(Contains(busy.message(), "max_pending_async"));
  // More than the limit could ever hold is too large, not busy.
  CHECK_FAILS_WITH(t.log->AppendAsyncAll(AppendSet(got, "order-b", 9)), ErrorCode::kTooLarge);
  // One invalid append refuses the set, and names it.
  std::vector<AsyncAppend> invalid = AppendSet(got, "order-c", 2);
  invalid[1].request.events.clear();
  const Status refused = t.log->AppendAsyncAll(std::move(invalid));
  CHECK_FAILS_WITH(refused, ErrorCode::kInvalidArgument);
  CHECK(refused.field() == "appends[1].events");
  // 5 + 3 fits: queued next to each other, committed and called back in order.
  REQUIRE(t.log->AppendAsyncAll(AppendSet(got, "order-d", 3)).ok());
  gate.Open();
  got.Wait(8);
  CHECK(got.size() == 8);
  for (size_t i = 0; i < 8; ++i) CHECK(got[i].ok());
  CHECK(t.log->LastSeq() == Seq(8));
  const std::vector<std::string> order = got.order();
  CHECK(std::vector<std::string>(order.begin() + 5, order.end()) ==
        std::vector<std::string>{"order-d-0", "order-d-1", "order-d-2"});
  // Once the others are called back, the refused set fits.
  REQUIRE(t.log->AppendAsyncAll(AppendSet(got, "order-a", 4)).ok());
  got.Wait(12);
  CHECK(t.log->LastSeq() == Seq(12));
}

TEST_CASE("Close completes every accepted async append before it returns") {
  TestLog t(LogOptions{}, StoreOptions{.sync = SyncMode::kAlways});
  std::atomic<int> ok{0}, failed{0};
  constexpr int kAppends = 300;
  for (int i = 0; i < kAppends; ++i) {
    REQUIRE(t.log->AppendAsync(Req("orders", "order-" + std::to_string(i % 7), 1),
                               [&](Result<AppendResult> r) { ++(r.ok() ? ok : failed); }).ok());
  }
  t.log->Close();
  CHECK(ok + failed == kAppends);
  CHECK(failed == 0);
  CHECK(t.log->LastSeq() == Seq(kAppends));
  t.Reopen();
  CHECK(t.log->LastSeq() == Seq(kAppends));
}

}  // namespace
}  // namespace cairn
