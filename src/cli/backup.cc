// `cairn backup`: a consistent copy of a data dir (a RocksDB checkpoint: hard links where the
// filesystem allows, so it is fast and small on the same disk), taken offline from --data or
// from a running server through its admin API (--url), while it keeps serving and writing.
//
// With --verify the backup is then opened on its own and checked: its projections brought up to
// its log and compared with a replay of it (domain/verify.h); offline by this process, with
// --url by the server, which has the backup on its disk.
//
// Restore: `cairn restore` copies a backup into a new data dir and verifies the copy; a backup
// is also a complete data dir a server can start on. The admin token file (<data>/admin.token)
// is not part of the database and not copied: a server started on a backup creates a new one
// (or use --tokens).
#include <simdjson.h>

#include <chrono>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>

#include "cli/commands.h"
#include "cli/offline.h"
#include "cli/progress.h"
#include "cli/server_client.h"
#include "cli/verify.h"
#include "base/json_writer.h"
#include "cqrs/engine_json.h"

namespace cairn::cli {
namespace {

constexpr std::string_view kCommand = "backup";

struct BackupFlags {
  std::string data;
  std::string to;
  ServerFlags server;
  bool verify = false;
  bool quiet = false;
};

// The target as an absolute path. Offline it must not exist and its parent must; with --url it
// is a path on the server's machine, which the server checks.
Result<std::string> CheckTarget(const std::string& to, bool local) {
  namespace fs = std::filesystem;
  std::error_code ec;
  if (to.empty()) return Status::InvalidArgument("--to DIR is required");
  const fs::path target = fs::absolute(to, ec).lexically_normal();
  if (ec) return Status::InvalidArgument("--to: " + ec.message());
  std::string text = target.string();
  while (text.size() > 1 && text.back() == '/') text.pop_back();
  if (!local) return text;
  if (fs::exists(text, ec)) {
    return Status::InvalidArgument(to + " already exists; a backup goes into a new directory");
  }
  const fs::path parent = fs::path(text).parent_path();
  if (!fs::is_directory(parent, ec)) {
    return Status::NotFound("the parent of --to, " + parent.string() + ", does not exist");
  }
  return text;
}

// Writes the backup; with --verify, what verifying it found (else nothing).
Result<std::optional<DataDirVerification>> BackupOffline(const BackupFlags& flags,
                                                         const std::string& target) {
  {
    CAIRN_ASSIGN_OR_RETURN(std::unique_ptr<Db> dir, OpenOffline(kCommand, flags.data, {}));
    CAIRN_RETURN_IF_ERROR(dir->store().Checkpoint(target));
  }
  if (!flags.verify) return std::optional<DataDirVerification>();
  CAIRN_ASSIGN_OR_RETURN(DataDirVerification v, VerifyWithProgress(kCommand, target, flags.quiet));
  return std::optional<DataDirVerification>(std::move(v));
}

// The "verified" member of the server's answer to a backup with "verify": true.
Result<DataDirVerification> ParseVerified(const std::string& body) {
  simdjson::dom::parser parser;
  simdjson::dom::element verified;
  DataDirVerification v;
  uint64_t topics = 0;
  simdjson::dom::element check;
  if (parser.parse(body)["verified"].get(verified) || verified["events"].get(v.events) ||
      verified["topics"].get(topics) || verified["check"].get(check)) {
    return Status::Internal("unexpected answer from the server: " + body.substr(0, 200));
  }
  v.topics = topics;
  CAIRN_ASSIGN_OR_RETURN(v.check, json::ParseCheckReport(simdjson::to_string(check)));
  return v;
}

Result<std::optional<DataDirVerification>> BackupOnline(const BackupFlags& flags,
                                                        const std::string& target) {
  CAIRN_ASSIGN_OR_RETURN(std::unique_ptr<AdminClient> client, AdminClient::Connect(flags.server));
  json::JsonWriter body;
  body.BeginObject().Key("to").String(target).Key("verify").Bool(flags.verify).EndObject();
  Result<HttpReply> reply = Status::Internal("backup did not run");
  Progress progress(flags.verify ? "backup: waiting for the server to write and verify it"
                                 : "backup: waiting for the server",
                    "", flags.quiet);
  CAIRN_RETURN_IF_ERROR(RunWithProgress(
      progress,
      [&] {
        reply = client->Post("/api/admin/backup", body.Take(), std::chrono::hours(6));
        return reply.status();
      },
      [] { return std::pair<uint64_t, uint64_t>{0, 0}; }));
  progress.Finish();
  if (!flags.verify) return std::optional<DataDirVerification>();
  CAIRN_ASSIGN_OR_RETURN(DataDirVerification v, ParseVerified(reply->body));
  return std::optional<DataDirVerification>(std::move(v));
}

int RunBackup(const BackupFlags& flags) {
  Status mode = RequireDataOrUrl(flags.data, flags.server.url);
  if (!mode.ok()) return Fail(kCommand, mode);
  Result<std::string> target = CheckTarget(flags.to, flags.server.url.empty());
  if (!target.ok()) return Fail(kCommand, target.status());
  const auto start = std::chrono::steady_clock::now();
  Result<std::optional<DataDirVerification>> done = flags.server.url.empty()
                                                        ? BackupOffline(flags, *target)
                                                        : BackupOnline(flags, *target);
  if (!done.ok()) return Fail(kCommand, done.status());
  if (!flags.quiet) {
    const double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    const std::string& source = flags.server.url.empty() ? flags.data : flags.server.url;
    std::fprintf(stderr,
                 "backup: consistent copy of %s written to %s in %s\n"
                 "backup: restore by starting a server on it: cairn serve --data %s, or into a "
                 "new dir: cairn restore --from %s --data NEW_DIR\n",
                 source.c_str(), target->c_str(), FormatDuration(seconds).c_str(),
                 target->c_str(), target->c_str());
  }
  if (!done->has_value()) return kExitOk;
  return ReportVerification(kCommand, *target, **done, flags.quiet);
}

}  // namespace

void AddBackupCommand(CLI::App& app, CommandRunner* run) {
  auto flags = std::make_shared<BackupFlags>();
  CLI::App* cmd = app.add_subcommand(
      "backup", "Write a consistent copy of a data dir (RocksDB checkpoint), offline or from a "
                "running server");
  cmd->add_option("--data", flags->data, "Data dir to back up offline (needs exclusive access)")
      ->type_name("DIR");
  cmd->add_option("--to", flags->to,
                  "New directory for the backup (must not exist; with --url, a path on the "
                  "server's machine)")
      ->type_name("DIR");
  AddServerFlags(cmd, &flags->server);
  cmd->add_flag("--verify", flags->verify,
                "Then open the backup on its own and check it: its read models against a replay "
                "of its log (exit 1 if they differ)");
  cmd->add_flag("-q,--quiet", flags->quiet, "No summary on stderr");
  cmd->footer(
      "The backup is a complete data dir: restore it with `cairn restore --from BACKUP --data\n"
      "NEW_DIR` (a verified copy), or start `cairn serve --data BACKUP`. On the same filesystem\n"
      "it is made of hard links (fast, little space); admin.token is not copied.\n\n"
      "Exit status: 0 written (and verified), 1 written but --verify found drift, 2 error.\n\n"
      "Examples:\n"
      "  cairn backup --data ./data --to /backups/cairn-2026-11-25 --verify\n"
      "  cairn backup --url http://127.0.0.1:8080 --token-file ./data/admin.token \\\n"
      "      --to /backups/cairn-$(date +%F-%H%M) --verify\n"
      "  cairn check --data /backups/cairn-2026-11-25     # verify a backup later\n");
  cmd->callback([flags, run] { *run = [flags] { return RunBackup(*flags); }; });
}

}  // namespace cairn::cli
