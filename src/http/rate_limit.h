// Per-token request-rate limits: a token bucket for each entry of the TokenTable. Authenticate
// (api.cc) takes one request from the caller's bucket; a caller over its rate gets 429 Too Many
// Requests with Retry-After. Requests without a token (/healthz, /metrics from this machine) and
// with an unknown one (401) are not counted.
#pragma once

#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>

namespace cairn::http {

class RateLimiter {
 public:
  using Clock = std::function<std::chrono::steady_clock::time_point()>;

  // `buckets` buckets, each refilled at `per_second` requests a second and holding at most as
  // many (a token may spend one second's worth at once). per_second == 0: no limit. `clock`
  // defaults to the steady clock (tests pass their own).
  RateLimiter(double per_second, size_t buckets, Clock clock = {});
  ~RateLimiter();

  // Takes one request from `bucket`. nullopt when it may go ahead; otherwise how long until
  // it may (rounded up to whole seconds, at least 1: the Retry-After value). Thread-safe.
  // REQUIRES: bucket < buckets.
  std::optional<std::chrono::seconds> Take(size_t bucket);

 private:
  struct Bucket {
    std::mutex mu;
    double available = 0;                           // GUARDED_BY(mu)
    std::chrono::steady_clock::time_point refilled;  // GUARDED_BY(mu)
  };
  const double per_second_;
  Clock clock_;
  std::unique_ptr<Bucket[]> buckets_;
};

}  // namespace cairn::http
