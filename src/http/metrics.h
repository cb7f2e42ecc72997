// Request metrics for GET /metrics: counts and latency histograms by route, method and status,
// rendered with the log's and the engine's own figures in Prometheus text format.
#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <map>
#include <mutex>
#include <string>
#include <tuple>

#include "cairn/engine.h"
#include "cairn/log.h"
#include "http/server.h"

namespace cairn::http {

class Metrics {
 public:
  // `route` is the route's pattern ("/api/orders/{id}"), never the raw path, so label values
  // stay few.
  void RecordRequest(const std::string& route, const std::string& method, int status,
                     std::chrono::microseconds latency);
  void SetStreamSubscribers(int64_t n) { stream_subscribers_ = n; }

  // The whole /metrics page; `groups`: consumer groups' committed offsets (Services).
  std::string Render(const Log& log, const Engine& engine,
                     const std::vector<Services::ConsumerGroupOffset>& groups = {}) const;

 private:
  // The request counters and latency histograms.
  void RenderRequests(std::string& out) const;

  static constexpr std::array<double, 12> kBucketsSeconds = {
      0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 5};
  struct Histogram {
    uint64_t count = 0;
    double sum_seconds = 0;
    std::array<uint64_t, kBucketsSeconds.size()> buckets{};  // cumulative at render time
  };
  using Key = std::tuple<std::string, std::string, int>;  // route, method, status
  mutable std::mutex mu_;
  std::map<Key, Histogram> requests_;  // GUARDED_BY(mu_)
  std::atomic<int64_t> stream_subscribers_{0};
};

}  // namespace cairn::http
