// `cairn backup`: a consistent copy of a data dir (a RocksDB checkpoint: hard links where the
// filesystem allows, so it is fast and small on the same disk), taken offline from --data or
// from a running server through its admin API (--url), while it keeps serving and writing.
//
// Restore: the backup is a complete data dir. Start a server on it (`cairn serve --data DIR`),
// or stop the server, move the damaged dir aside and put the backup in its place. The admin
// token file (<data>/admin.token) is not part of the database and not copied: a server started
// on a backup creates a new one (or use --tokens).
#include <chrono>
#include <filesystem>
#include <memory>
#include <string>

#include "cli/commands.h"
#include "cli/offline.h"
#include "cli/progress.h"
#include "cli/server_client.h"
#include "base/json_writer.h"

namespace cairn::cli {
namespace {

constexpr std::string_view kCommand = "backup";

struct BackupFlags {
  std::string data;
  std::string to;
  ServerFlags server;
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

int BackupOffline(const BackupFlags& flags, const std::string& target) {
  Result<std::unique_ptr<Db>> dir = OpenOffline(kCommand, flags.data, {});
  if (!dir.ok()) return Fail(kCommand, dir.status());
  Status s = (*dir)->store().Checkpoint(target);
  if (!s.ok()) return Fail(kCommand, s);
  return kExitOk;
}

int BackupOnline(const BackupFlags& flags, const std::string& target) {
  Result<std::unique_ptr<AdminClient>> client = AdminClient::Connect(flags.server);
  if (!client.ok()) return Fail(kCommand, client.status());
  json::JsonWriter body;
  body.BeginObject().Key("to").String(target).EndObject();
  Result<HttpReply> reply = (*client)->Post("/api/admin/backup", body.Take(), std::chrono::hours(1));
  if (!reply.ok()) return Fail(kCommand, reply.status());
  return kExitOk;
}

int RunBackup(const BackupFlags& flags) {
  Status mode = RequireDataOrUrl(flags.data, flags.server.url);
  if (!mode.ok()) return Fail(kCommand, mode);
  Result<std::string> target = CheckTarget(flags.to, flags.server.url.empty());
  if (!target.ok()) return Fail(kCommand, target.status());
  const auto start = std::chrono::steady_clock::now();
  const int code = flags.server.url.empty() ? BackupOffline(flags, *target)
                                            : BackupOnline(flags, *target);
  if (code == kExitOk && !flags.quiet) {
    const double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    const std::string& source = flags.server.url.empty() ? flags.data : flags.server.url;
    std::fprintf(stderr,
                 "backup: consistent copy of %s written to %s in %s\n"
                 "backup: restore by starting a server on it: cairn serve --data %s\n",
                 source.c_str(), target->c_str(), FormatDuration(seconds).c_str(), target->c_str());
  }
  return code;
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
  cmd->add_flag("-q,--quiet", flags->quiet, "No summary on stderr");
  cmd->footer(
      "The backup is a complete data dir: restore by starting `cairn serve --data BACKUP`, or\n"
      "stop the server and put the backup in place of the data dir. On the same filesystem it\n"
      "is made of hard links (fast, little space); admin.token is not copied.\n\n"
      "Exit status: 0 written, 2 error.\n\n"
      "Examples:\n"
      "  cairn backup --data ./data --to /backups/cairn-2026-11-25\n"
      "  cairn backup --url http://127.0.0.1:8080 --token-file ./data/admin.token \\\n"
      "      --to /backups/cairn-$(date +%F-%H%M)\n"
      "  cairn check --data /backups/cairn-2026-11-25     # verify a backup\n");
  cmd->callback([flags, run] { *run = [flags] { return RunBackup(*flags); }; });
}

}  // namespace cairn::cli
