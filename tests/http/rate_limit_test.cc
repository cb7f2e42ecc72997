// Unit tests of the per-token rate limit (src/http/rate_limit.cc): a token bucket per token, on
// a clock the test moves.
#include <doctest/doctest.h>

#include <chrono>

#include "http/rate_limit.h"

namespace cairn::http {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

struct FakeClock {
  std::chrono::steady_clock::time_point now{};
  RateLimiter::Clock fn() {
    return [this] { return now; };
  }
};

TEST_CASE("a token may make its rate's worth of requests at once, then waits, then is refilled") {
  FakeClock clock;
  RateLimiter limiter(5, 2, clock.fn());
  for (int i = 0; i < 5; ++i) CHECK_FALSE(limiter.Take(0).has_value());
  std::optional<seconds> wait = limiter.Take(0);
  REQUIRE(wait.has_value());
  CHECK(*wait == seconds(1));  // 1/5 s, rounded up to the whole second Retry-After carries
  clock.now += milliseconds(200);
  CHECK_FALSE(limiter.Take(0).has_value());  // one request's worth came back
  CHECK(limiter.Take(0).has_value());
  clock.now += seconds(10);  // never more than one second's worth saved up
  for (int i = 0; i < 5; ++i) CHECK_FALSE(limiter.Take(0).has_value());
  CHECK(limiter.Take(0).has_value());
}

TEST_CASE("one token over its limit does not slow another") {
  FakeClock clock;
  RateLimiter limiter(1, 2, clock.fn());
  CHECK_FALSE(limiter.Take(0).has_value());
  CHECK(limiter.Take(0).has_value());
  CHECK_FALSE(limiter.Take(1).has_value());
}

TEST_CASE("Retry-After is the whole seconds until the next request may go") {
  FakeClock clock;
  RateLimiter limiter(1, 1, clock.fn());
  CHECK_FALSE(limiter.Take(0).has_value());
  CHECK(limiter.Take(0) == seconds(1));
  clock.now += milliseconds(999);
  CHECK(limiter.Take(0) == seconds(1));
  clock.now += milliseconds(1);
  CHECK_FALSE(limiter.Take(0).has_value());
}

TEST_CASE("a rate of 0 is no limit") {
  RateLimiter limiter(0, 1);
  for (int i = 0; i < 10'000; ++i) REQUIRE_FALSE(limiter.Take(0).has_value());
}

}  // namespace
}  // namespace cairn::http
