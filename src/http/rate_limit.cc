// See rate_limit.h.
#include "http/rate_limit.h"

#include <algorithm>
#include <cmath>

namespace cairn::http {

RateLimiter::RateLimiter(double per_second, size_t buckets, Clock clock)
    : per_second_(per_second),
      clock_(clock ? std::move(clock) : Clock([] { return std::chrono::steady_clock::now(); })),
      buckets_(std::make_unique<Bucket[]>(buckets)) {
  const auto now = clock_();
  for (size_t i = 0; i < buckets; ++i) {
    buckets_[i].available = per_second_;
    buckets_[i].refilled = now;
  }
}

RateLimiter::~RateLimiter() = default;

std::optional<std::chrono::seconds> RateLimiter::Take(size_t bucket) {
  if (per_second_ <= 0) return std::nullopt;
  Bucket& b = buckets_[bucket];
  std::lock_guard lock(b.mu);
  const auto now = clock_();
  const double elapsed = std::chrono::duration<double>(now - b.refilled).count();
  b.available = std::min(per_second_, b.available + std::max(elapsed, 0.0) * per_second_);
  b.refilled = now;
  // The margin absorbs rounding in the refill sums (0.999 + 0.001 must count as one request).
  constexpr double kMargin = 1e-9;
  if (b.available >= 1 - kMargin) {
    b.available = std::max(0.0, b.available - 1);
    return std::nullopt;
  }
  const double wait = (1 - b.available) / per_second_;
  return std::chrono::seconds(std::max<int64_t>(1, static_cast<int64_t>(std::ceil(wait))));
}

}  // namespace cairn::http
