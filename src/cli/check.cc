// `cairn check`: replays the log and compares every read model with the replay (Engine::Check),
// offline on a data dir or on a running server (--url). Prints the report for a person, or
// JSON with --json; --repair rebuilds what drifted.
//
// Exit status (like fsck): 0 consistent, 1 drift found (also when --repair fixed it: a second
// check then exits 0), 2 error.
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "cli/commands.h"
#include "cli/offline.h"
#include "cli/progress.h"
#include "cli/server_client.h"
#include "cqrs/engine_json.h"

namespace cairn::cli {
namespace {

constexpr std::string_view kCommand = "check";
// How much of a key or value the human report shows.
constexpr size_t kShownBytes = 160;

struct CheckFlags {
  std::string data;
  bool repair = false;
  bool json = false;
  bool quiet = false;
  std::vector<std::string> projections;
  size_t max_reported = 100;
  ServerFlags server;
};

std::string Shorten(const std::string& text) {
  if (text.size() <= kShownBytes) return text;
  size_t cut = kShownBytes;
  while (cut > 0 && (static_cast<unsigned char>(text[cut]) & 0xC0) == 0x80) --cut;  // UTF-8
  return text.substr(0, cut) + "… (" + std::to_string(text.size()) + " bytes)";
}

// `report` holds keys and values in their printable form (json::Printable).
void PrintHuman(const CheckReport& report) {
  if (report.consistent) {
    std::printf("consistent: %s keys compared, no differences\n",
                GroupDigits(report.keys_compared).c_str());
    return;
  }
  std::string drifted;
  for (const std::string& name : report.drifted) drifted += (drifted.empty() ? "" : ", ") + name;
  std::printf("DRIFT: %s difference%s in %s (%s keys compared)\n",
              GroupDigits(report.differences_total).c_str(),
              report.differences_total == 1 ? "" : "s", drifted.c_str(),
              GroupDigits(report.keys_compared).c_str());
  for (const Difference& d : report.differences) {
    std::printf("  %s.%s key %s\n", d.projection.c_str(), d.table.c_str(), Shorten(d.key).c_str());
    if (!d.actual) {
      std::printf("      missing; the replay has %s\n", Shorten(*d.expected).c_str());
    } else if (!d.expected) {
      std::printf("      should not exist; found %s\n", Shorten(*d.actual).c_str());
    } else {
      std::printf("      expected %s\n      found    %s\n", Shorten(*d.expected).c_str(),
                  Shorten(*d.actual).c_str());
    }
  }
  if (report.differences.size() < report.differences_total) {
    std::printf("  … and %s more (raise --max-reported to see them)\n",
                GroupDigits(report.differences_total - report.differences.size()).c_str());
  }
  if (!report.repaired.empty()) {
    std::string repaired;
    for (const std::string& name : report.repaired) repaired += (repaired.empty() ? "" : ", ") + name;
    std::printf("repaired: rebuilt %s from the log; run `cairn check` again to confirm\n",
                repaired.c_str());
  } else {
    std::printf("run `cairn check --repair` to rebuild the drifted read models from the log\n");
  }
}

// The report with keys and values in the printable form the JSON uses.
CheckReport Printable(CheckReport report) {
  for (Difference& d : report.differences) {
    d.key = json::Printable(d.key);
    if (d.expected) d.expected = json::Printable(*d.expected);
    if (d.actual) d.actual = json::Printable(*d.actual);
  }
  return report;
}

int Finish(const CheckFlags& flags, const CheckReport& printable, const std::string& json) {
  if (flags.json) {
    std::printf("%s\n", json.c_str());
  } else {
    PrintHuman(printable);
  }
  if (std::fflush(stdout) != 0) return Fail(kCommand, "cannot write the report to stdout");
  return printable.consistent ? kExitOk : kExitDrift;
}

int CheckOffline(const CheckFlags& flags) {
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

  CheckOptions options;
  options.projections = flags.projections;
  options.repair = flags.repair;
  options.max_reported = flags.max_reported;
  Result<CheckReport> report = Status::Internal("check did not run");
  // Engine::Check reports no progress of its own: show that it is alive and for how long.
  Progress progress(flags.repair ? "check: replaying, comparing and repairing"
                                 : "check: replaying and comparing",
                    "", flags.quiet);
  Status ran = RunWithProgress(
      progress,
      [&] {
        report = engine.Check(options);
        return report.status();
      },
      [] { return std::pair<uint64_t, uint64_t>{0, 0}; });
  progress.Finish();
  if (!ran.ok()) return Fail(kCommand, ran);
  return Finish(flags, Printable(*report), json::CheckReportToJson(*report));
}

int CheckOnline(const CheckFlags& flags) {
  if (!flags.projections.empty()) {
    return Fail(kCommand, "--projection works only with --data (the server checks every projection)");
  }
  Result<std::unique_ptr<AdminClient>> client = AdminClient::Connect(flags.server);
  if (!client.ok()) return Fail(kCommand, client.status());
  Result<HttpReply> reply = Status::Internal("check did not run");
  Progress progress("check: waiting for the server", "", flags.quiet);
  Status ran = RunWithProgress(
      progress,
      [&] {
        reply = (*client)->Post(std::string("/api/admin/check?repair=") +
                                    (flags.repair ? "true" : "false"),
                                "{}", std::chrono::hours(6));
        return reply.status();
      },
      [] { return std::pair<uint64_t, uint64_t>{0, 0}; });
  progress.Finish();
  if (!ran.ok()) return Fail(kCommand, ran);
  Result<CheckReport> report = json::ParseCheckReport(reply->body);
  if (!report.ok()) return Fail(kCommand, "unexpected answer from the server: " + report.status().message());
  std::string body = reply->body;
  while (!body.empty() && (body.back() == '\n' || body.back() == '\r')) body.pop_back();
  return Finish(flags, *report, body);
}

int RunCheck(const CheckFlags& flags) {
  Status mode = RequireDataOrUrl(flags.data, flags.server.url);
  if (!mode.ok()) return Fail(kCommand, mode);
  return flags.server.url.empty() ? CheckOffline(flags) : CheckOnline(flags);
}

}  // namespace

void AddCheckCommand(CLI::App& app, CommandRunner* run) {
  auto flags = std::make_shared<CheckFlags>();
  CLI::App* cmd = app.add_subcommand(
      "check", "Replay the log and compare every read model with it; report each difference");
  cmd->add_option("--data", flags->data, "Data dir to check offline (needs exclusive access)")
      ->type_name("DIR");
  cmd->add_flag("--repair", flags->repair, "Rebuild every read model that drifted");
  cmd->add_flag("--json", flags->json, "Print the report as JSON on stdout");
  cmd->add_option("--projection", flags->projections,
                  "Check only this projection (repeatable; --data only; default: all)")
      ->type_name("NAME");
  cmd->add_option("--max-reported", flags->max_reported,
                  "Most differences listed (all are counted; --data only; default: 100)")
      ->type_name("N")
      ->check(CLI::Range(1, 1'000'000));
  AddServerFlags(cmd, &flags->server);
  cmd->add_flag("-q,--quiet", flags->quiet, "No progress on stderr");
  cmd->footer(
      "Exit status: 0 consistent, 1 drift found (also when --repair fixed it), 2 error.\n\n"
      "Examples:\n"
      "  cairn check --data ./data\n"
      "  cairn check --data ./data --repair && cairn check --data ./data\n"
      "  cairn check --data ./backup --json | jq .differencesTotal\n"
      "  cairn check --url http://127.0.0.1:8080 --token-file ./data/admin.token\n");
  cmd->callback([flags, run] { *run = [flags] { return RunCheck(*flags); }; });
}

}  // namespace cairn::cli
