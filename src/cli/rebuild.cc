// `cairn rebuild`: rebuilds read models blue/green from the log, offline on a data dir (exclusive
// open) or by asking a running server to (--url), following the job to its end with a progress
// bar. Exit 0 when every rebuild finished, 2 otherwise.
#include <chrono>
#include <future>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "cli/commands.h"
#include "cli/offline.h"
#include "cli/progress.h"
#include "cli/server_client.h"
#include "cqrs/engine_json.h"

namespace cairn::cli {
namespace {

constexpr std::string_view kCommand = "rebuild";

struct RebuildFlags {
  std::string data;
  std::vector<std::string> projections;
  ServerFlags server;
  bool quiet = false;
};

std::string Join(const std::vector<std::string>& names) {
  std::string out;
  for (const std::string& n : names) out += (out.empty() ? "" : ", ") + n;
  return out;
}

int Report(const RebuildProgress& p, double seconds, bool quiet) {
  if (p.state != RebuildProgress::State::kDone) {
    return Fail(kCommand, "job " + std::to_string(p.id) + " failed: " + p.error);
  }
  if (!quiet) {
    std::fprintf(stderr, "rebuild: rebuilt %s from %s events in %s\n", Join(p.projections).c_str(),
                 GroupDigits(p.events_done).c_str(), FormatDuration(seconds).c_str());
  }
  return kExitOk;
}

// Closes the data dir before the summary is printed, so the summary is the last thing the
// command does and the dir is free once it shows. Closing waits for the flush or compaction
// RocksDB is running and flushes the counter families (see Store::~Store); that is usually
// instant, and when it is not, the wait is shown as a step of its own.
void CloseDataDir(std::unique_ptr<Db> db, bool quiet) {
  std::future<void> closed = std::async(std::launch::async, [&db] { db.reset(); });
  if (closed.wait_for(std::chrono::milliseconds(300)) == std::future_status::ready) return;
  Progress progress(std::string(kCommand) + ": closing the data dir", "", quiet);
  while (closed.wait_for(std::chrono::milliseconds(100)) != std::future_status::ready) {
    progress.Update(0, 0);
  }
}

int RebuildOffline(const RebuildFlags& flags) {
  Result<std::unique_ptr<Db>> dir = OpenOffline(kCommand, flags.data, {});
  if (!dir.ok()) return Fail(kCommand, dir.status());
  Engine& engine = (*dir)->engine();
  for (const std::string& name : flags.projections) {
    if (!engine.GetStatus(name).ok()) {
      return Fail(kCommand, "no projection " + name + " (projections: " + ProjectionNames(engine) + ")");
    }
  }
  Status caught_up = CatchUpWithProgress(**dir, kCommand, flags.quiet);
  if (!caught_up.ok()) return Fail(kCommand, caught_up);

  Progress progress(std::string(kCommand), "events", flags.quiet);
  Result<uint64_t> job = engine.StartRebuild(flags.projections);
  if (!job.ok()) return Fail(kCommand, job.status());
  for (;;) {
    Result<RebuildProgress> p = engine.GetRebuild(*job);
    if (!p.ok()) return Fail(kCommand, p.status());
    progress.Update(p->events_done, p->events_total);
    if (p->state != RebuildProgress::State::kRunning) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  Result<RebuildProgress> final_state = engine.WaitForRebuild(*job);
  if (!final_state.ok()) return Fail(kCommand, final_state.status());
  progress.Finish();
  const double seconds = progress.Elapsed();
  CloseDataDir(std::move(*dir), flags.quiet);
  return Report(*final_state, seconds, flags.quiet);
}

// Starts one job on the server and follows it to its end.
int FollowServerJob(AdminClient& client, const std::string& projection, bool quiet) {
  const std::string path = projection.empty()
                               ? "/api/admin/rebuild"
                               : "/api/admin/projections/" + projection + "/rebuild";
  Result<HttpReply> started = client.Post(path, "{}");
  if (!started.ok()) return Fail(kCommand, started.status());
  Result<RebuildProgress> job = json::ParseRebuildJob(started->body);
  if (!job.ok()) return Fail(kCommand, "unexpected answer from the server: " + job.status().message());

  Progress progress(projection.empty() ? std::string(kCommand) : "rebuild " + projection, "events",
                    quiet);
  RebuildProgress p = *job;
  int failures = 0;
  while (p.state == RebuildProgress::State::kRunning) {
    progress.Update(p.events_done, p.events_total);
    std::this_thread::sleep_for(std::chrono::milliseconds(250));
    Result<HttpReply> polled = client.Get("/api/admin/jobs/" + std::to_string(p.id));
    if (!polled.ok()) {
      // A busy server may miss one poll; a gone one fails the command.
      if (++failures < 5 && polled.status().code() == ErrorCode::kIOError) continue;
      return Fail(kCommand, polled.status());
    }
    failures = 0;
    Result<RebuildProgress> next = json::ParseRebuildJob(polled->body);
    if (!next.ok()) return Fail(kCommand, "unexpected answer from the server: " + next.status().message());
    p = *next;
  }
  progress.Update(p.events_done, p.events_total);
  progress.Finish();
  return Report(p, progress.Elapsed(), quiet);
}

int RebuildOnline(const RebuildFlags& flags) {
  Result<std::unique_ptr<AdminClient>> client = AdminClient::Connect(flags.server);
  if (!client.ok()) return Fail(kCommand, client.status());
  if (flags.projections.empty()) return FollowServerJob(**client, "", flags.quiet);
  for (const std::string& name : flags.projections) {
    if (int code = FollowServerJob(**client, name, flags.quiet); code != kExitOk) return code;
  }
  return kExitOk;
}

int RunRebuild(const RebuildFlags& flags) {
  Status mode = RequireDataOrUrl(flags.data, flags.server.url);
  if (!mode.ok()) return Fail(kCommand, mode);
  return flags.server.url.empty() ? RebuildOffline(flags) : RebuildOnline(flags);
}

}  // namespace

void AddRebuildCommand(CLI::App& app, CommandRunner* run) {
  auto flags = std::make_shared<RebuildFlags>();
  CLI::App* cmd = app.add_subcommand(
      "rebuild",
      "Rebuild read models from the log (blue/green: the old ones serve until the new ones are "
      "complete)");
  cmd->add_option("--data", flags->data, "Data dir to rebuild offline (needs exclusive access)")
      ->type_name("DIR");
  cmd->add_option("--projection", flags->projections,
                  "Rebuild only this projection (repeatable; default: all)")
      ->type_name("NAME");
  AddServerFlags(cmd, &flags->server);
  cmd->add_flag("-q,--quiet", flags->quiet, "No progress and no summary on stderr");
  cmd->footer(
      "Exit status: 0 rebuilt, 2 error.\n\n"
      "Examples:\n"
      "  cairn rebuild --data ./data                          # every projection, offline\n"
      "  cairn rebuild --data ./data --projection orders\n"
      "  cairn rebuild --url http://127.0.0.1:8080 --token-file ./data/admin.token\n"
      "  CAIRN_TOKEN=... cairn rebuild --url http://127.0.0.1:8080 --projection order_stats\n");
  cmd->callback([flags, run] { *run = [flags] { return RunRebuild(*flags); }; });
}

}  // namespace cairn::cli
