// Admin and operations routes: projection status and lag, rebuild jobs, the consistency check,
// online backup, /metrics and /healthz.
#include <simdjson.h>

#include <charconv>
#include <filesystem>

#include "base/parse.h"
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

// {"to": "/absolute/dir"}
Result<std::string> ParseBackupTarget(const std::string& body) {
  simdjson::dom::parser parser;
  simdjson::dom::object object;
  if (parser.parse(body).get_object().get(object)) {
    return Status::InvalidArgument("the body must be a JSON object {\"to\": DIR}");
  }
  std::string_view to;
  for (auto field : object) {
    if (field.key != "to") {
      return Status::InvalidArgument(std::string(field.key) + " is not a known field",
                                     std::string(field.key));
    }
    if (field.value.get_string().get(to)) return Status::InvalidArgument("to must be a string", "to");
  }
  if (to.empty() || to.front() != '/') {
    return Status::InvalidArgument("to must be an absolute directory path on the server", "to");
  }
  if (std::filesystem::exists(to)) {
    return Status::Conflict(std::string(to) + " already exists; a backup goes into a new directory");
  }
  return std::string(to);
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

// POST /api/admin/backup {"to": DIR}: a consistent checkpoint of the data dir.
void Backup(Api& api, const httplib::Request& req, httplib::Response& res) {
  if (!Authenticate(api, req, res, kAdminOnly) || !RequireJsonBody(req, res, true)) return;
  Result<std::string> target = ParseBackupTarget(req.body);
  if (!target.ok()) return SendError(res, target.status());
  Status s = api.db().store().Checkpoint(*target);
  if (!s.ok()) return SendError(res, s);
  json::JsonWriter w;
  w.BeginObject().Key("backup").String(*target).EndObject();
  SendJson(res, 200, w.Take());
}

// GET /metrics: Prometheus scrapes without a token from this machine; from elsewhere it needs
// an admin one.
void GetMetrics(Api& api, const httplib::Request& req, httplib::Response& res) {
  if (!IsLoopback(req.remote_addr) && !Authenticate(api, req, res, kAdminOnly)) return;
  const auto groups = api.services.consumer_groups
                          ? api.services.consumer_groups()
                          : std::vector<Services::ConsumerGroupOffset>{};
  res.set_content(api.metrics.Render(api.db().log(), api.db().engine(), groups),
                  "text/plain; version=0.0.4");
}

// GET /healthz
void Health(Api&, const httplib::Request&, httplib::Response& res) {
  SendJson(res, 200, R"({"status":"ok"})");
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
}

}  // namespace cairn::http
