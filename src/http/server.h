// Cairn's HTTP API (DESIGN.md §4) on cpp-httplib: orders, queries, the raw log, the live event
// stream, admin and metrics. `cairn serve` builds one HttpServer over an open data dir.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>
#include <string_view>

#include "cairn/db.h"
#include "http/auth.h"
#include "http/readiness.h"

namespace cairn::http {

struct ServerOptions {
  // Address to listen on. Default: 127.0.0.1:8080 (port 0: any free port).
  std::string host = "127.0.0.1";
  int port = 8080;
  // Largest request body, in bytes; larger is 413, answered from the Content-Length header
  // before the body is read, and the connection closed. Default: 1 MiB.
  size_t max_body_bytes = 1u << 20;
  // Most concurrent GET /api/stream subscribers; one more is 503. Default: 32.
  size_t max_streams = 32;
  // Worker threads. cpp-httplib serves one keep-alive connection per thread, and every stream
  // holds one, so this is sized for 64 keep-alive clients plus max_streams. Default: 0 = that.
  size_t worker_threads = 0;
  // How long a read-your-writes query (?after= / X-Cairn-After) may wait. Default: 5 s.
  std::chrono::milliseconds read_your_writes_timeout{5000};
  // Comment line sent on an idle event stream. Default: every 15 s.
  std::chrono::milliseconds stream_heartbeat{15000};
  // Requests served on one keep-alive connection before it is closed. Default: 10,000.
  size_t keep_alive_max_requests = 10'000;
  // Socket read and write timeouts. Default: 30 s.
  std::chrono::seconds io_timeout{30};
  // HTTPS: PEM files of the server's certificate (chain) and private key, both or neither.
  // Default: none (plain HTTP).
  std::string tls_cert_file;
  std::string tls_key_file;
  // Requests a second each token may make, and make at once (a token bucket per token); more
  // are 429 with Retry-After. 0: no limit. Default: 2,000.
  uint32_t rate_limit_per_token = 2000;
  // When GET /readyz answers 503: the lag bound and how long a stalled projection may stand.
  ReadinessOptions readiness;
  // While the log is read-only after a failed write (a full disk, an I/O error), how often the
  // server tries to resume writing; commands answer 503 until it can. 0: never, a restart
  // resumes. Default: 5 s.
  std::chrono::milliseconds resume_writes_every{5000};
  // Online backups (POST /api/admin/backup) may go only into new directories below this one.
  // Default: empty, any absolute path the server can write.
  std::string backup_root;
};

// What every route handler works with: the open data dir (its store, log, engine, order service
// and queries, and the domains registered on it) and the tokens it accepts. Both must outlive
// the server. REQUIRES: `db` was opened writable.
struct Services {
  Db* db = nullptr;
  const TokenTable* tokens = nullptr;
  // Committed offsets of consumer groups that live outside this layer (the Kafka listener's,
  // wired by `cairn serve --kafka`), shown with their lag at GET /api/admin/consumer-groups and
  // in /metrics. Called from request threads: must be thread-safe. Empty: no groups.
  struct ConsumerGroupOffset {
    std::string group;
    std::string topic;
    uint32_t partition = 0;
    int64_t committed = -1;  // -1: nothing committed
  };
  std::function<std::vector<ConsumerGroupOffset>()> consumer_groups;
  // The log's upstream (the Kafka log, wired by `cairn serve --log`), both thread-safe; empty
  // without one. `upstream_problem`: why this node cannot keep its log up to date with the
  // cluster (a replica whose copying fails), or nothing; /readyz fails while there is one.
  // `upstream_metrics`: its counters as Prometheus text lines, appended to /metrics.
  std::function<std::optional<std::string>()> upstream_problem;
  std::function<std::string()> upstream_metrics;
};

class HttpServer {
 public:
  HttpServer(Services services, ServerOptions options);
  ~HttpServer();

  // Binds the listening socket. Errors: kBusy when the address is taken; kInvalidArgument
  // when the TLS certificate or key cannot be loaded.
  Status Bind();
  // The bound port (useful with port 0).
  int port() const;
  // Serves until Stop(). REQUIRES: Bind() succeeded.
  void Run();
  // Stops accepting, ends event streams, lets in-flight requests finish; Run() then returns.
  // Safe from any thread (not from a signal handler).
  void Stop();

  // For tests and fuzzing: serves the requests in `raw` (the bytes a client sends on one
  // keep-alive connection) as if they came from 127.0.0.1, without a socket, and returns the
  // bytes the server sends back. An event stream ends after a few writes, at once when
  // ServerOptions::stream_heartbeat is 0. Needs neither Bind() nor Run(). REQUIRES: no TLS.
  std::string ServeBytesForTesting(std::string_view raw);

 private:
  Status BindSocket();
  struct Rep;
  std::unique_ptr<Rep> rep_;
};

}  // namespace cairn::http
