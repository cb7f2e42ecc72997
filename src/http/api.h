// Internal to src/http: the state route handlers share and the helpers every route uses
// (errors, authentication, content type, read-your-writes). Routes live in *_routes.cc.
#pragma once

#include <httplib.h>

#include <atomic>
#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>

#include "http/metrics.h"
#include "http/rate_limit.h"
#include "http/server.h"

namespace cairn::http {

struct Api {
  Services services;
  ServerOptions options;
  Metrics metrics;
  std::atomic<bool> stopping{false};
  std::atomic<int64_t> open_streams{0};
  // One bucket per entry of services.tokens (ServerOptions::rate_limit_per_token).
  std::unique_ptr<RateLimiter> rate_limiter;
  // GET /readyz's judge, also fed once a second while the server runs.
  std::unique_ptr<Readiness> readiness;

  Db& db() const { return *services.db; }
};

// A route's handler: it answers `req` in `res`, with the state every route shares.
using Handler = std::function<void(Api& api, const httplib::Request& req, httplib::Response& res)>;

// Registers `handler` for `method` and the regex `pattern`; `route` names it in metrics and
// the access log ("/api/orders/{id}"). While the server stops, the route answers 503.
void AddRoute(httplib::Server& server, Api& api, std::string_view method, const std::string& pattern,
              std::string route, Handler handler);
// The route name of the request being handled on this thread ("unmatched" before routing).
const std::string& CurrentRoute();
// Called before routing each request.
void ResetCurrentRoute();

// Observes the projections and the log for readiness (api.readiness) and returns the verdict.
ReadinessVerdict ObserveReadiness(Api& api);
// When the log is read-only after a failed write: tries to resume writing (Log::Resume) and,
// if that works, restarts the projections the failure stopped. Returns whether the log takes
// appends now. Logs each attempt that fails.
bool ResumeWrites(Api& api);

// The one table from ErrorCode to HTTP status.
int HttpStatusFor(ErrorCode code);
void SendJson(httplib::Response& res, int status, std::string body);
// {"error": {"code", "message", "field"?}}: the body of every error response.
std::string ErrorJson(std::string_view code, std::string_view message, std::string_view field = {});
// {"error": {"code", "message", "field"?}} with HttpStatusFor(status.code()).
void SendError(httplib::Response& res, const Status& status);
void SendError(httplib::Response& res, int http_status, std::string_view code,
               std::string_view message, std::string_view field = {});

// The caller, if its bearer token is valid, within its rate limit, and its role is one of
// `allowed`; otherwise writes 401 (no or unknown token), 429 with Retry-After (over the limit)
// or 403 (role) and returns nullopt.
std::optional<Actor> Authenticate(const Api& api, const httplib::Request& req,
                                  httplib::Response& res, std::initializer_list<Role> allowed);
inline constexpr std::initializer_list<Role> kAnyRole = {Role::kCustomer, Role::kService, Role::kAdmin};

// For a POST: the body must be JSON (415 otherwise). An empty body passes when !required.
bool RequireJsonBody(const httplib::Request& req, httplib::Response& res, bool required);

// Read-your-writes: if the request names a position (?after= or X-Cairn-After), waits until
// every projection in `projections` has applied it. false after writing 400 (bad position)
// or 504 (timeout).
bool WaitForAfter(Api& api, const httplib::Request& req, httplib::Response& res,
                  std::initializer_list<std::string_view> projections);

// A query parameter as an unsigned integer in [min, max]; `fallback` when absent.
Result<uint64_t> ParseUintParam(const httplib::Request& req, const std::string& name,
                                uint64_t fallback, uint64_t min, uint64_t max);

void RegisterOrderRoutes(httplib::Server& server, Api& api);
void RegisterLogRoutes(httplib::Server& server, Api& api);
void RegisterStreamRoute(httplib::Server& server, Api& api);
void RegisterAdminRoutes(httplib::Server& server, Api& api);
void RegisterConsoleRoutes(httplib::Server& server, Api& api);

}  // namespace cairn::http
