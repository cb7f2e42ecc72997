// Admin and operations routes: projection status and lag, rebuild jobs, the consistency check,
// online backup, /metrics, /healthz (liveness) and /readyz (readiness).
#include <simdjson.h>

#include <charconv>
#include <filesystem>

#include "base/parse.h"
#include "domain/verify.h"
#include "http/api.h"
#include "cqrs/engine_json.h"
#include "base/json_writer.h"

namespace cairn::http {

namespace {

constexpr std::initializer_list<Role> kAdminOnly = {Role::kAdmin};

void StartRebuild(Api& api, httplib::Response& res, std::vector<std::string> projections) {
  Result<uint64_t> job = api.db().engine().StartRebuild(std::move(projections));
  if (!job.ok()) return SendError(res, job.status());
  Result<RebuildProgress> progress = api.db().engine().GetRebuild(*job);
  if (!progress.ok()) return SendError(res, progress.status());
  res.set_header("Location", "/api/admin/jobs/" + std::to_string(*job));
  SendJson(res, 202, json::RebuildJobToJson(*progress));
}

bool IsLoopback(const std::string& address) {
  return address.rfind("127.", 0) == 0 || address == "::1" || address == "::ffff:127.0.0.1";
}

// Whether `target` is a directory strictly below `root` (both absolute, compared after
// normalisation, so "root/../elsewhere" is not below it).
bool IsBelow(const std::filesystem::path& target, const std::filesystem::path& root) {
  const std::filesystem::path t = target.lexically_normal();
  const std::filesystem::path r = root.lexically_normal();
  auto ti = t.begin();
  for (auto ri = r.begin(); ri != r.end(); ++ri, ++ti) {
    if (ri->empty()) continue;  // a trailing slash of the root
    if (ti == t.end() || *ti != *ri) return false;
  }
  for (; ti != t.end(); ++ti) {
    if (!ti->empty() && *ti != "." && *ti != "..") return true;
  }
  return false;
}

struct BackupRequest {
  std::string to;
  bool verify = false;
};

// {"to": "/absolute/dir", "verify": false}, `to` below `backup_root` when one is set.
Result<BackupRequest> ParseBackupRequest(const std::string& body, const std::string& backup_root) {
  simdjson::dom::parser parser;
  simdjson::dom::object object;
  if (parser.parse(body).get_object().get(object)) {
    return Status::InvalidArgument("the body must be a JSON object {\"to\": DIR, \"verify\": BOOL}");
  }
  BackupRequest request;
  std::string_view to;
  for (auto field : object) {
    if (field.key == "to") {
      if (field.value.get_string().get(to)) return Status::InvalidArgument("to must be a string", "to");
    } else if (field.key == "verify") {
      if (field.value.get_bool().get(request.verify)) {
        return Status::InvalidArgument("verify must be true or false", "verify");
      }
    } else {
      return Status::InvalidArgument(std::string(field.key) + " is not a known field",
                                     std::string(field.key));
    }
  }
  if (to.empty() || to.front() != '/') {
    return Status::InvalidArgument("to must be an absolute directory path on the server", "to");
  }
  if (!backup_root.empty() && !IsBelow(std::filesystem::path(to), backup_root)) {
    return Status(ErrorCode::kPermissionDenied,
                  "to must be a directory below " + backup_root + " (the server's --backup-root)",
                  "to");
  }
  if (std::filesystem::exists(to)) {
    return Status::Conflict(std::string(to) + " already exists; a backup goes into a new directory");
  }
  request.to = std::string(to);
  return request;
}

// {"backup": DIR, "verified": {"events", "topics", "check": {the consistency report}}}; no
// "verified" when the backup was not verified.
std::string BackupJson(const std::string& to, const DataDirVerification* verified) {
  json::JsonWriter w;
  w.BeginObject().Key("backup").String(to);
  if (verified != nullptr) {
    w.Key("verified").BeginObject().Key("events").Uint(verified->events);
    w.Key("topics").Uint(verified->topics);
    w.Key("check").Raw(json::CheckReportToJson(verified->check)).EndObject();
  }
  w.EndObject();
  return w.Take();
}

// GET /api/admin/projections
void ListProjections(Api& api, const httplib::Request& req, httplib::Response& res) {
  if (!Authenticate(api, req, res, kAdminOnly)) return;
  SendJson(res, 200, json::ProjectionStatusesToJson(api.db().engine().Statuses()));
}

// GET /api/admin/consumer-groups: the Kafka listener's groups beside the projections, each
// partition's committed offset, high-water mark and lag.
void ListConsumerGroups(Api& api, const httplib::Request& req, httplib::Response& res) {
  if (!Authenticate(api, req, res, kAdminOnly)) return;
  json::JsonWriter w;
  w.BeginObject().Key("groups").BeginArray();
  if (api.services.consumer_groups) {
    for (const auto& g : api.services.consumer_groups()) {
      const int64_t end = int64_t(api.db().log().HighWaterMark(g.topic, PartitionId(g.partition)).value());
      w.BeginObject().Key("group").String(g.group).Key("topic").String(g.topic);
      w.Key("partition").Uint(g.partition).Key("committed").Int(g.committed);
      w.Key("highWaterMark").Int(end).Key("lag").Int(std::max<int64_t>(0, end - std::max<int64_t>(g.committed, 0)));
      w.EndObject();
    }
  }
  w.EndArray().EndObject();
  SendJson(res, 200, w.Take());
}

// POST /api/admin/projections/{name}/rebuild: 202 {job}
void RebuildProjection(Api& api, const httplib::Request& req, httplib::Response& res) {
  if (!Authenticate(api, req, res, kAdminOnly) || !RequireJsonBody(req, res, false)) return;
  StartRebuild(api, res, {req.matches[1].str()});
}

// POST /api/admin/rebuild: every projection, 202 {job}
void RebuildAll(Api& api, const httplib::Request& req, httplib::Response& res) {
  if (!Authenticate(api, req, res, kAdminOnly) || !RequireJsonBody(req, res, false)) return;
  StartRebuild(api, res, {});
}

// GET /api/admin/jobs/{job}
void GetJob(Api& api, const httplib::Request& req, httplib::Response& res) {
  if (!Authenticate(api, req, res, kAdminOnly)) return;
  const std::string text = req.matches[1].str();
  const std::optional<uint64_t> id = ParseNumber<uint64_t>(text);
  if (!id) return SendError(res, Status::NotFound("no rebuild job " + text));
  Result<RebuildProgress> progress = api.db().engine().GetRebuild(*id);
  if (!progress.ok()) return SendError(res, progress.status());
  SendJson(res, 200, json::RebuildJobToJson(*progress));
}

// POST /api/admin/check?repair=true|false: the consistency report.
void Check(Api& api, const httplib::Request& req, httplib::Response& res) {
  if (!Authenticate(api, req, res, kAdminOnly) || !RequireJsonBody(req, res, false)) return;
  const std::string repair = req.has_param("repair") ? req.get_param_value("repair") : "false";
  if (repair != "true" && repair != "false") {
    return SendError(res, Status::InvalidArgument("repair must be true or false", "repair"));
  }
  CheckOptions options;
  options.repair = repair == "true";
  Result<CheckReport> report = api.db().engine().Check(options);
  if (!report.ok()) return SendError(res, report.status());
  SendJson(res, 200, json::CheckReportToJson(*report));
}

// POST /api/admin/backup {"to": DIR, "verify"?: true}: a consistent checkpoint of the data dir,
// then, when asked, the backup opened on its own and checked (domain/verify.h).
void Backup(Api& api, const httplib::Request& req, httplib::Response& res) {
  if (!Authenticate(api, req, res, kAdminOnly) || !RequireJsonBody(req, res, true)) return;
  Result<BackupRequest> request = ParseBackupRequest(req.body, api.options.backup_root);
  if (!request.ok()) return SendError(res, request.status());
  Status s = api.db().store().Checkpoint(request->to);
  if (!s.ok()) return SendError(res, s);
  if (!request->verify) return SendJson(res, 200, BackupJson(request->to, nullptr));
  Result<DataDirVerification> verified = VerifyDataDir(request->to, api.db().domains());
  if (!verified.ok()) {
    return SendError(res, Status(verified.status().code(), "the backup in " + request->to +
                                                             " was written but does not open: " +
                                                             verified.status().message()));
  }
  SendJson(res, 200, BackupJson(request->to, &*verified));
}

// GET /metrics: Prometheus scrapes without a token from this machine; from elsewhere it needs
// an admin one.
void GetMetrics(Api& api, const httplib::Request& req, httplib::Response& res) {
  if (!IsLoopback(req.remote_addr) && !Authenticate(api, req, res, kAdminOnly)) return;
  const auto groups = api.services.consumer_groups
                          ? api.services.consumer_groups()
                          : std::vector<Services::ConsumerGroupOffset>{};
  std::string text = api.metrics.Render(api.db().log(), api.db().engine(), groups);
  if (api.services.upstream_metrics) text += api.services.upstream_metrics();
  res.set_content(std::move(text), "text/plain; version=0.0.4");
}

// GET /healthz: liveness. 200 while the process serves; it still serves reads while the log
// is read-only, and says why writes are off: {"status":"read_only","reason":"..."}.
void Health(Api& api, const httplib::Request&, httplib::Response& res) {
  const std::optional<std::string> read_only = api.db().log().ReadOnlyReason();
  if (!read_only) return SendJson(res, 200, R"({"status":"ok"})");
  json::JsonWriter w;
  w.BeginObject().Key("status").String("read_only").Key("reason").String(*read_only).EndObject();
  SendJson(res, 200, w.Take());
}

// GET /readyz: 200 {"status":"ready"}, or 503 with every reason it is not (readiness.h).
void Ready(Api& api, const httplib::Request&, httplib::Response& res) {
  const ReadinessVerdict verdict = ObserveReadiness(api);
  if (verdict.ready) return SendJson(res, 200, R"({"status":"ready"})");
  std::string message;
  for (const std::string& reason : verdict.reasons) {
    message += (message.empty() ? "" : "; ") + reason;
  }
  json::JsonWriter w;
  w.BeginObject().Key("status").String("not_ready").Key("reasons").BeginArray();
  for (const std::string& reason : verdict.reasons) w.String(reason);
  w.EndArray().Key("error").BeginObject().Key("code").String("not_ready");
  w.Key("message").String(message).EndObject().EndObject();
  SendJson(res, 503, w.Take());
}

}  // namespace

void RegisterAdminRoutes(httplib::Server& server, Api& api) {
  AddRoute(server, api, "GET", "/api/admin/projections", "/api/admin/projections",
           ListProjections);
  AddRoute(server, api, "GET", "/api/admin/consumer-groups", "/api/admin/consumer-groups",
           ListConsumerGroups);
  AddRoute(server, api, "POST", "/api/admin/projections/([^/]+)/rebuild",
           "/api/admin/projections/{name}/rebuild", RebuildProjection);
  AddRoute(server, api, "POST", "/api/admin/rebuild", "/api/admin/rebuild", RebuildAll);
  AddRoute(server, api, "GET", "/api/admin/jobs/([^/]+)", "/api/admin/jobs/{job}", GetJob);
  AddRoute(server, api, "POST", "/api/admin/check", "/api/admin/check", Check);
  AddRoute(server, api, "POST", "/api/admin/backup", "/api/admin/backup", Backup);
  AddRoute(server, api, "GET", "/metrics", "/metrics", GetMetrics);
  AddRoute(server, api, "GET", "/healthz", "/healthz", Health);
  AddRoute(server, api, "GET", "/readyz", "/readyz", Ready);
}

}  // namespace cairn::http
