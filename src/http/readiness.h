// Readiness (GET /readyz): whether this server should be sent traffic, as opposed to liveness
// (GET /healthz: it runs). Not ready, each with a reason, when a projection has failed, is
// stalled (events wait for it and its checkpoint has not moved for ReadinessOptions::stall_after),
// is more than max_lag_events behind the log, or when the log takes no writes (read-only after
// a write error). Stalls are seen by watching checkpoints over time: the server observes every
// projection once a second (HttpServer::Run) and at every /readyz.
#pragma once

#include <chrono>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "cairn/engine.h"

namespace cairn::http {

struct ReadinessOptions {
  // A projection further behind the log than this many events (its lag) is not ready. 0: no
  // bound. Default: 10,000.
  uint64_t max_lag_events = 10'000;
  // A projection with events waiting (lag > 0) whose checkpoint has not moved for this long is
  // stalled, and not ready. Default: 30 s.
  std::chrono::milliseconds stall_after{30'000};
};

struct ReadinessVerdict {
  bool ready = true;
  // Why not, one line each: "projection orders is stalled: 12 events waiting, checkpoint 340
  // unchanged for 31 s".
  std::vector<std::string> reasons;
};

class Readiness {
 public:
  using Clock = std::function<std::chrono::steady_clock::time_point()>;
  explicit Readiness(ReadinessOptions options, Clock clock = {});

  // Records what the projections show now and judges them. `log_unwritable` is the reason the
  // log takes no writes, if it does not. Thread-safe.
  ReadinessVerdict Observe(const std::vector<ProjectionStatus>& statuses,
                           const std::optional<std::string>& log_unwritable);

 private:
  // A projection's last observation: since when its checkpoint has been where it is with
  // events waiting (the time of that observation when none were).
  struct Standstill {
    Seq checkpoint;
    std::chrono::steady_clock::time_point since;
    uint64_t lag_events = 0;
  };
  // The reason `s` is not ready, if it is not.
  std::optional<std::string> Judge(const ProjectionStatus& s,
                                   std::chrono::steady_clock::time_point now);

  const ReadinessOptions options_;
  Clock clock_;
  std::mutex mu_;
  std::map<std::string, Standstill> standstills_;  // GUARDED_BY(mu_)
};

}  // namespace cairn::http
