// See server.h. Wires cpp-httplib: plain or TLS, thread pool, limits, timeouts, TCP_NODELAY, the
// JSON error page, the access log and request metrics; the routes themselves are in *_routes.cc.
#include "http/server.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <condition_variable>
#include <cstring>
#include <mutex>
#include <thread>

#include "base/parse.h"
#include "http/api.h"

namespace cairn::http {

namespace {

// httplib's plain server, with its one-request step opened up for ServeBytesForTesting.
class PlainServer : public httplib::Server {
 public:
  // Serves the next request on `stream`; false when there is none or the connection ends.
  bool ServeNext(httplib::Stream& stream) {
    bool closed = false;
    return process_request(stream, /*close_connection=*/false, closed, nullptr) && !closed;
  }
};

std::unique_ptr<httplib::Server> NewServer(const ServerOptions& options) {
  if (options.tls_cert_file.empty()) return std::make_unique<PlainServer>();
  return std::make_unique<httplib::SSLServer>(options.tls_cert_file.c_str(),
                                              options.tls_key_file.c_str());
}

}  // namespace

struct HttpServer::Rep {
  Api api;
  std::unique_ptr<httplib::Server> server;
  int bound_port = 0;
  socket_t listen_socket = INVALID_SOCKET;
  // While Run() serves: observes readiness once a second, so a stall is timed from when it
  // began, not from the first /readyz after it, and tries to resume writes while the log is
  // read-only (ServerOptions::resume_writes_every).
  std::thread readiness_watch;
  std::mutex watch_mu;
  std::condition_variable watch_cv;
  bool watch_stop = false;  // GUARDED_BY(watch_mu)
  std::chrono::steady_clock::time_point next_resume;  // only the watch thread

  void WatchReadiness() {
    std::unique_lock lock(watch_mu);
    while (!watch_stop) {
      lock.unlock();
      (void)ObserveReadiness(api);
      ResumeWritesWhenDue();
      lock.lock();
      watch_cv.wait_for(lock, std::chrono::seconds(1), [this] { return watch_stop; });
    }
  }
  void ResumeWritesWhenDue() {
    const auto every = api.options.resume_writes_every;
    const auto now = std::chrono::steady_clock::now();
    if (every.count() == 0 || now < next_resume || !api.db().log().ReadOnlyReason()) return;
    next_resume = now + every;
    (void)ResumeWrites(api);
  }
  void StopWatch() {
    {
      std::lock_guard lock(watch_mu);
      watch_stop = true;
    }
    watch_cv.notify_all();
    if (readiness_watch.joinable()) readiness_watch.join();
  }
};

namespace {

thread_local std::chrono::steady_clock::time_point request_started;
constexpr int kListenBacklog = 1024;

// Limits, timeouts, TCP options and the worker pool. `listen_socket` receives the listening
// socket once it is made.
void ConfigureConnections(httplib::Server& s, const ServerOptions& options,
                          socket_t* listen_socket) {
  // Without TCP_NODELAY every response waits ~40 ms for a delayed ACK (Nagle) on Linux.
  s.set_tcp_nodelay(true);
  s.set_keep_alive_max_count(options.keep_alive_max_requests);
  s.set_keep_alive_timeout(5);
  s.set_read_timeout(options.io_timeout.count(), 0);
  s.set_write_timeout(options.io_timeout.count(), 0);
  s.set_payload_max_length(options.max_body_bytes);  // RefuseOversizedBody answers first
  // cpp-httplib 0.11 listens with a backlog of 5, which resets connections in a burst; keep
  // the socket so Bind() can raise it (a second listen() on Linux only changes the backlog).
  s.set_socket_options([listen_socket](socket_t sock) {
    int yes = 1;
    setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof(yes));
    *listen_socket = sock;
  });
  const size_t threads = options.worker_threads;
  s.new_task_queue = [threads] { return new httplib::ThreadPool(threads); };
}

// Answers 413 from the headers of a request whose Content-Length is over the limit, and closes
// the connection; true when it did. Left to httplib, such a body is read and discarded first:
// a worker thread waits for every announced byte, or for the I/O timeout.
//
// cpp-httplib 0.11.4 runs the pre-routing handler once the request line and headers are read
// and before the body (Server::routing calls it ahead of read_content), and keeps a connection
// open after a response unless writing the response fails (process_server_socket_core). The
// error is therefore written by a content provider that reports failure once it has written all
// of it: httplib then closes the connection instead of reading the unread body as the next
// request. The client sees the whole response, then the close (a reset if it is still sending).
bool RefuseOversizedBody(const httplib::Request& req, httplib::Response& res,
                         size_t max_body_bytes) {
  if (!req.has_header("Content-Length")) return false;
  const std::optional<uint64_t> length =
      ParseNumber<uint64_t>(req.get_header_value("Content-Length"));
  if (!length || *length <= max_body_bytes) return false;
  std::string body = ErrorJson("too_large", "the request body of " + std::to_string(*length) +
                                                " bytes is over the limit of " +
                                                std::to_string(max_body_bytes));
  body.push_back('\n');
  res.status = 413;
  res.set_header("Connection", "close");
  const size_t size = body.size();
  res.set_content_provider(size, "application/json",
                           [body = std::move(body)](size_t offset, size_t length,
                                                    httplib::DataSink& sink) {
                             sink.write(body.data() + offset, length);
                             return false;  // all written: now close the connection
                           });
  return true;
}

// Fills in a JSON error for what httplib answers itself (404 unknown route, 413 too large,
// 400 malformed request) and for handlers that set only a status; turns an exception that
// escaped a handler into a logged 500.
void InstallErrorPages(httplib::Server& s) {
  s.set_error_handler([](const httplib::Request& req, httplib::Response& res) {
    // A body already set, or one a content provider writes (RefuseOversizedBody), stays.
    if (!res.body.empty() || res.content_provider_) return;
    // httplib refuses a multipart body it cannot parse with 400 before routing: the real
    // problem is that only JSON is accepted.
    const std::string type = req.get_header_value("Content-Type");
    if (res.status == 400 && !type.empty() && type.rfind("application/json", 0) != 0) {
      SendError(res, 415, "unsupported_media_type", "the body must be application/json");
      return;
    }
    switch (res.status) {
      case 404: SendError(res, 404, "not_found", "no such route"); break;
      case 413: SendError(res, 413, "too_large", "the request body is over the limit"); break;
      case 400: SendError(res, 400, "bad_request", "malformed HTTP request"); break;
      default: SendError(res, res.status, "error", "request failed");
    }
  });
  s.set_exception_handler([](const httplib::Request& req, httplib::Response& res, std::exception_ptr ep) {
    std::string what = "unknown";
    try {
      std::rethrow_exception(ep);
    } catch (const std::exception& e) {
      what = e.what();
    } catch (...) {
    }
    spdlog::error("unhandled exception on {} {}: {}", req.method, req.path, what);
    SendError(res, 500, "internal", "internal error");
  });
}

// Before routing, with the headers read and the body not yet: starts the request's clock and
// refuses a body announced over the limit. After the response: the metrics and the access log.
void InstallRequestHooks(httplib::Server& s, Api& api) {
  s.set_pre_routing_handler([&api](const httplib::Request& req, httplib::Response& res) {
    request_started = std::chrono::steady_clock::now();
    ResetCurrentRoute();
    return RefuseOversizedBody(req, res, api.options.max_body_bytes)
               ? httplib::Server::HandlerResponse::Handled
               : httplib::Server::HandlerResponse::Unhandled;
  });
  s.set_logger([&api](const httplib::Request& req, const httplib::Response& res) {
    const auto latency = std::chrono::duration_cast<std::chrono::microseconds>(
        std::chrono::steady_clock::now() - request_started);
    api.metrics.RecordRequest(CurrentRoute(), req.method, res.status, latency);
    // The access log: never the Authorization header or the query string (it may carry ids).
    spdlog::info("http {} {} {} {}us from {}", req.method, req.path, res.status, latency.count(),
                 req.remote_addr);
  });
}

}  // namespace

HttpServer::HttpServer(Services services, ServerOptions options) : rep_(std::make_unique<Rep>()) {
  Api& api = rep_->api;
  api.services = services;
  if (options.worker_threads == 0) options.worker_threads = 64 + options.max_streams + 8;
  api.options = options;
  api.rate_limiter = std::make_unique<RateLimiter>(options.rate_limit_per_token,
                                                   services.tokens->size());
  api.readiness = std::make_unique<Readiness>(options.readiness);
  rep_->server = NewServer(options);
  httplib::Server& s = *rep_->server;
  ConfigureConnections(s, options, &rep_->listen_socket);
  InstallErrorPages(s);
  InstallRequestHooks(s, api);
  RegisterOrderRoutes(s, api);
  RegisterLogRoutes(s, api);
  RegisterStreamRoute(s, api);
  RegisterAdminRoutes(s, api);
  RegisterConsoleRoutes(s, api);
}

HttpServer::~HttpServer() {
  Stop();
  rep_->StopWatch();
}

Status HttpServer::Bind() {
  const ServerOptions& o = rep_->api.options;
  if (!rep_->server->is_valid()) {
    return Status::InvalidArgument("cannot load the TLS certificate " + o.tls_cert_file +
                                   " and its private key " + o.tls_key_file +
                                   " (PEM files; the key must match the certificate)");
  }
  CAIRN_RETURN_IF_ERROR(BindSocket());
  if (rep_->listen_socket != INVALID_SOCKET) ::listen(rep_->listen_socket, kListenBacklog);
  return Status::Ok();
}

Status HttpServer::BindSocket() {
  const ServerOptions& o = rep_->api.options;
  if (o.port == 0) {
    rep_->bound_port = rep_->server->bind_to_any_port(o.host);
    if (rep_->bound_port < 0) return Status::Busy("cannot listen on " + o.host);
    return Status::Ok();
  }
  rep_->bound_port = o.port;
  if (!rep_->server->bind_to_port(o.host, o.port)) {
    return Status::Busy("cannot listen on " + o.host + ":" + std::to_string(o.port) +
                        " (address in use, or not an address of this machine)");
  }
  return Status::Ok();
}

int HttpServer::port() const { return rep_->bound_port; }

void HttpServer::Run() {
  rep_->readiness_watch = std::thread([this] { rep_->WatchReadiness(); });
  rep_->server->listen_after_bind();
  rep_->StopWatch();
}

void HttpServer::Stop() {
  rep_->api.stopping.store(true);
  rep_->server->stop();
}

namespace {

// One connection's bytes in memory: reads come from the request bytes, writes are collected.
// After kMaxWrites writes the peer counts as gone (so an event stream ends).
class MemoryStream : public httplib::Stream {
 public:
  explicit MemoryStream(std::string_view in) : in_(in) {}
  bool is_readable() const override { return true; }
  bool is_writable() const override { return writes_ < kMaxWrites; }
  ssize_t read(char* ptr, size_t size) override {
    const size_t n = std::min(size, in_.size());
    std::memcpy(ptr, in_.data(), n);
    in_.remove_prefix(n);
    return static_cast<ssize_t>(n);
  }
  ssize_t write(const char* ptr, size_t size) override {
    if (++writes_ > kMaxWrites) return -1;
    out_.append(ptr, size);
    return static_cast<ssize_t>(size);
  }
  void get_remote_ip_and_port(std::string& ip, int& port) const override {
    ip = "127.0.0.1";
    port = 40000;
  }
  void get_local_ip_and_port(std::string& ip, int& port) const override {
    ip = "127.0.0.1";
    port = 8080;
  }
  socket_t socket() const override { return INVALID_SOCKET; }
  bool at_end() const { return in_.empty(); }
  std::string take() { return std::move(out_); }

 private:
  static constexpr size_t kMaxWrites = 64;
  std::string_view in_;
  std::string out_;
  size_t writes_ = 0;
};

}  // namespace

std::string HttpServer::ServeBytesForTesting(std::string_view raw) {
  auto* plain = dynamic_cast<PlainServer*>(rep_->server.get());
  if (plain == nullptr) return {};
  MemoryStream stream(raw);
  while (!stream.at_end() && plain->ServeNext(stream)) {
  }
  return stream.take();
}

}  // namespace cairn::http
