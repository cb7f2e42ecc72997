// See api.h.
#include "http/api.h"

#include <spdlog/spdlog.h>

#include <charconv>

#include "base/json_writer.h"
#include "base/parse.h"

namespace cairn::http {

namespace {
thread_local std::string current_route;
}  // namespace

const std::string& CurrentRoute() { return current_route; }
void ResetCurrentRoute() { current_route = "unmatched"; }

void AddRoute(httplib::Server& server, Api& api, std::string_view method, const std::string& pattern,
              std::string route, Handler handler) {
  auto wrapped = [route = std::move(route), handler = std::move(handler), &api](
                     const httplib::Request& req, httplib::Response& res) {
    current_route = route;
    if (api.stopping.load()) {
      SendError(res, 503, "shutting_down", "the server is shutting down");
      return;
    }
    handler(api, req, res);
  };
  if (method == "GET") server.Get(pattern, wrapped);
  else if (method == "POST") server.Post(pattern, wrapped);
  else if (method == "PUT") server.Put(pattern, wrapped);
  else if (method == "DELETE") server.Delete(pattern, wrapped);
}

ReadinessVerdict ObserveReadiness(Api& api) {
  ReadinessVerdict verdict =
      api.readiness->Observe(api.db().engine().Statuses(), api.db().log().ReadOnlyReason());
  if (api.services.upstream_problem) {
    if (std::optional<std::string> problem = api.services.upstream_problem()) {
      verdict.reasons.push_back(*problem);
      verdict.ready = false;
    }
  }
  return verdict;
}

bool ResumeWrites(Api& api) {
  Log& log = api.db().log();
  const std::optional<std::string> reason = log.ReadOnlyReason();
  if (!reason) return true;
  if (Status s = log.Resume(); !s.ok()) {
    spdlog::warn("the log stays read-only ({}): {}", *reason, s.ToString());
    return false;
  }
  // A projection that failed without a position failed to write its batch (the same disk),
  // not on an event its handler refused: it resumes from its checkpoint.
  for (const ProjectionStatus& p : api.db().engine().Statuses()) {
    if (p.state != ProjectionState::kFailed || p.failed_at) continue;
    const Status restarted = api.db().engine().Restart(p.name);
    spdlog::warn("projection {} {} after writes resumed (it failed with: {})", p.name,
                 restarted.ok() ? "restarted" : "not restarted: " + restarted.ToString(), p.error);
  }
  return true;
}

int HttpStatusFor(ErrorCode code) {
  switch (code) {
    case ErrorCode::kOk: return 200;
    case ErrorCode::kInvalidArgument: return 400;
    case ErrorCode::kUnauthenticated: return 401;
    case ErrorCode::kPermissionDenied: return 403;
    case ErrorCode::kNotFound: return 404;
    case ErrorCode::kConflict: return 409;
    case ErrorCode::kTooLarge: return 413;
    case ErrorCode::kRuleViolation: return 422;
    case ErrorCode::kBusy: return 503;
    case ErrorCode::kShuttingDown: return 503;
    case ErrorCode::kNotWriter: return 421;
    case ErrorCode::kTimeout: return 504;
    case ErrorCode::kCorruption:
    case ErrorCode::kIOError:
    case ErrorCode::kInternal: return 500;
  }
  return 500;
}

void SendJson(httplib::Response& res, int status, std::string body) {
  res.status = status;
  body.push_back('\n');
  res.set_content(std::move(body), "application/json");
}

std::string ErrorJson(std::string_view code, std::string_view message, std::string_view field) {
  json::JsonWriter w;
  w.BeginObject().Key("error").BeginObject().Key("code").String(code).Key("message").String(message);
  if (!field.empty()) w.Key("field").String(field);
  w.EndObject().EndObject();
  return w.Take();
}

void SendError(httplib::Response& res, int http_status, std::string_view code,
               std::string_view message, std::string_view field) {
  SendJson(res, http_status, ErrorJson(code, message, field));
}

void SendError(httplib::Response& res, const Status& status) {
  if (status.code() == ErrorCode::kNotWriter) {
    // A replica's refusal names the writer (ErrorCode::kNotWriter keeps its URL in field()).
    json::JsonWriter w;
    w.BeginObject().Key("error").BeginObject().Key("code").String("not_writer");
    w.Key("message").String(status.message());
    if (!status.field().empty()) w.Key("writer").String(status.field());
    w.EndObject().EndObject();
    SendJson(res, 421, w.Take());
    return;
  }
  const std::string_view code = status.code() == ErrorCode::kInvalidArgument
                                    ? std::string_view("validation_failed")
                                    : ErrorCodeName(status.code());
  SendError(res, HttpStatusFor(status.code()), code, status.message(), status.field());
}

std::optional<Actor> Authenticate(const Api& api, const httplib::Request& req,
                                  httplib::Response& res, std::initializer_list<Role> allowed) {
  const std::string header = req.get_header_value("Authorization");
  const std::optional<std::string_view> token = BearerToken(header);
  if (!token) {
    res.set_header("WWW-Authenticate", "Bearer");
    SendError(res, 401, "unauthenticated", "send Authorization: Bearer <token>");
    return std::nullopt;
  }
  const std::optional<size_t> entry = api.services.tokens->Lookup(*token);
  if (!entry) {
    res.set_header("WWW-Authenticate", "Bearer error=\"invalid_token\"");
    SendError(res, 401, "unauthenticated", "unknown token");
    return std::nullopt;
  }
  if (const std::optional<std::chrono::seconds> wait = api.rate_limiter->Take(*entry)) {
    res.set_header("Retry-After", std::to_string(wait->count()));
    SendError(res, 429, "rate_limited",
              "this token made more than " + std::to_string(api.options.rate_limit_per_token) +
                  " requests in a second; retry after " + std::to_string(wait->count()) + " s");
    return std::nullopt;
  }
  const Actor& actor = api.services.tokens->actor(*entry);
  for (Role role : allowed) {
    if (actor.role == role) return actor;
  }
  SendError(res, 403, "permission_denied",
            "role " + std::string(RoleName(actor.role)) + " may not use " + CurrentRoute());
  return std::nullopt;
}

bool RequireJsonBody(const httplib::Request& req, httplib::Response& res, bool required) {
  const std::string type = req.get_header_value("Content-Type");
  // No body is an empty command, with no content type or the form type `curl -d ''` declares;
  // any other declared type must be JSON (httplib moves a multipart body out of req.body, so
  // the type is what tells).
  const std::string_view media = std::string_view(type).substr(0, type.find(';'));
  if (req.body.empty() && !required &&
      (type.empty() || media == "application/x-www-form-urlencoded")) {
    return true;
  }
  if (media != "application/json" || req.is_multipart_form_data()) {
    SendError(res, 415, "unsupported_media_type", "the body must be application/json");
    return false;
  }
  if (req.body.empty()) {
    SendError(res, 400, "validation_failed", "a JSON body is required");
    return false;
  }
  return true;
}

Result<uint64_t> ParseUintParam(const httplib::Request& req, const std::string& name,
                                uint64_t fallback, uint64_t min, uint64_t max) {
  if (!req.has_param(name)) return fallback;
  const std::optional<uint64_t> value = ParseNumber<uint64_t>(req.get_param_value(name));
  if (!value || *value < min || *value > max) {
    return Status::InvalidArgument(
        name + " must be an integer from " + std::to_string(min) + " to " + std::to_string(max), name);
  }
  return *value;
}

bool WaitForAfter(Api& api, const httplib::Request& req, httplib::Response& res,
                  std::initializer_list<std::string_view> projections) {
  std::string text = req.get_param_value("after");
  std::string field = "after";
  if (text.empty()) {
    text = req.get_header_value("X-Cairn-After");
    field = "X-Cairn-After";
  }
  if (text.empty()) return true;
  Result<Position> position = ParsePosition(text, field);
  if (!position.ok()) {
    SendError(res, position.status());
    return false;
  }
  const auto deadline = std::chrono::steady_clock::now() + api.options.read_your_writes_timeout;
  Log& log = api.db().log();
  // A node that mirrors an upstream (a Kafka log's replica) may not have the writer's latest
  // events yet: it waits for them as it waits for its read models.
  if (log.options().upstream != nullptr &&
      !log.WaitFor(position->topic, position->partition, position->offset,
                   api.options.read_your_writes_timeout) &&
      log.GetTopic(position->topic).ok()) {
    SendError(res, 504, "timeout", "this node's log has not reached " + text + " yet");
    return false;
  }
  Result<Event> event = log.ReadAt(position->topic, position->partition, position->offset);
  if (!event.ok()) {
    SendError(res, 400, "validation_failed", field + " names no event in the log", field);
    return false;
  }
  for (std::string_view projection : projections) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    Status s = api.db().engine().WaitForSeq(std::string(projection), event->seq,
                                               std::max(left, std::chrono::milliseconds(0)));
    if (!s.ok()) {
      if (s.code() == ErrorCode::kTimeout) {
        SendError(res, 504, "timeout", "the read models have not reached " + text + " yet");
      } else {
        SendError(res, s);
      }
      return false;
    }
  }
  return true;
}

}  // namespace cairn::http
