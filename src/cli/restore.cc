// `cairn restore`: makes a new data dir from a backup (`cairn backup`): copies every file of the
// backup (real copies, never hard links, so the restored dir shares nothing with the backup),
// syncs them, moves the copy into place in one rename, then verifies it as `backup --verify`
// does. A failed restore leaves no half-written data dir behind.
#include <fcntl.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <memory>
#include <string>

#include "cairn/db.h"
#include "cli/commands.h"
#include "cli/progress.h"
#include "cli/verify.h"
#include "domain/serve_address.h"

namespace cairn::cli {
namespace {

namespace fs = std::filesystem;

constexpr std::string_view kCommand = "restore";

struct RestoreFlags {
  std::string from;
  std::string data;
  bool no_verify = false;
  bool quiet = false;
};

// Files of a data dir that belong to a running process, not to the data: never copied.
bool IsProcessFile(const fs::path& name) { return name == "LOCK" || name == "serve.url"; }

Status SyncPath(const fs::path& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return Status::IOError("cannot open " + path.string() + " to sync it");
  const bool synced = ::fsync(fd) == 0;
  ::close(fd);
  if (!synced) return Status::IOError("cannot sync " + path.string());
  return Status::Ok();
}

// Copies every file below `from` into the new directory `to`, each synced, then the
// directories. Returns the bytes copied.
Result<uint64_t> CopyTree(const fs::path& from, const fs::path& to) {
  std::error_code ec;
  if (!fs::create_directory(to, ec)) return Status::IOError("cannot create " + to.string());
  uint64_t bytes = 0;
  for (const fs::directory_entry& entry : fs::directory_iterator(from, ec)) {
    const fs::path target = to / entry.path().filename();
    if (IsProcessFile(entry.path().filename())) continue;
    if (entry.is_directory()) {
      CAIRN_ASSIGN_OR_RETURN(uint64_t sub, CopyTree(entry.path(), target));
      bytes += sub;
      continue;
    }
    if (!fs::copy_file(entry.path(), target, ec)) {
      return Status::IOError("cannot copy " + entry.path().string() + ": " + ec.message());
    }
    CAIRN_RETURN_IF_ERROR(SyncPath(target));
    bytes += fs::file_size(target, ec);
  }
  if (ec) return Status::IOError("cannot read " + from.string() + ": " + ec.message());
  CAIRN_RETURN_IF_ERROR(SyncPath(to));
  return bytes;
}

// The checks before anything is written: a backup to restore from, no server on it, a new
// target in an existing directory.
Status CheckPaths(const RestoreFlags& flags, fs::path* target) {
  std::error_code ec;
  if (flags.from.empty() || flags.data.empty()) {
    return Status::InvalidArgument("--from BACKUP and --data NEW_DIR are required");
  }
  if (!IsDataDir(flags.from)) {
    return Status::NotFound(flags.from + " is not a Cairn data dir or backup");
  }
  if (std::optional<ServeAddress> server = ReadServeAddress(flags.from)) {
    return Status::Busy(flags.from + " is in use by `cairn serve` (pid " +
                        std::to_string(server->pid) + "); restore from a backup nothing serves");
  }
  *target = fs::absolute(flags.data, ec).lexically_normal();
  if (target->filename().empty()) *target = target->parent_path();
  if (fs::exists(*target, ec)) {
    return Status::InvalidArgument(flags.data + " already exists; restore into a new directory");
  }
  if (!fs::is_directory(target->parent_path(), ec)) {
    return Status::NotFound("the parent of --data, " + target->parent_path().string() +
                            ", does not exist");
  }
  return Status::Ok();
}

// Copies the backup beside the target, then renames it into place.
Result<uint64_t> CopyIntoPlace(const fs::path& from, const fs::path& target) {
  const fs::path staging =
      target.parent_path() / ("." + target.filename().string() + ".restoring-" +
                              std::to_string(::getpid()));
  Result<uint64_t> bytes = CopyTree(from, staging);
  std::error_code ec;
  if (bytes.ok()) {
    fs::rename(staging, target, ec);
    if (ec) bytes = Status::IOError("cannot move the copy into " + target.string() + ": " + ec.message());
  }
  if (!bytes.ok()) {
    fs::remove_all(staging, ec);
    return bytes;
  }
  CAIRN_RETURN_IF_ERROR(SyncPath(target.parent_path()));
  return bytes;
}

int RunRestore(const RestoreFlags& flags) {
  fs::path target;
  if (Status s = CheckPaths(flags, &target); !s.ok()) return Fail(kCommand, s);
  Progress progress("restore: copying " + flags.from, "", flags.quiet);
  Result<uint64_t> bytes = Status::Internal("restore did not run");
  Status copied = RunWithProgress(
      progress,
      [&] {
        bytes = CopyIntoPlace(flags.from, target);
        return bytes.status();
      },
      [] { return std::pair<uint64_t, uint64_t>{0, 0}; });
  progress.Finish();
  if (!copied.ok()) return Fail(kCommand, copied);
  if (!flags.quiet) {
    std::fprintf(stderr, "restore: copied %s (%s bytes) to %s\n", flags.from.c_str(),
                 GroupDigits(*bytes).c_str(), target.c_str());
  }
  int code = kExitOk;
  if (!flags.no_verify) {
    Result<DataDirVerification> verified = VerifyWithProgress(kCommand, target, flags.quiet);
    if (!verified.ok()) return Fail(kCommand, verified.status());
    code = ReportVerification(kCommand, target, *verified, flags.quiet);
  }
  if (!flags.quiet) {
    std::fprintf(stderr, "restore: start a server on it: cairn serve --data %s\n", target.c_str());
  }
  return code;
}

}  // namespace

void AddRestoreCommand(CLI::App& app, CommandRunner* run) {
  auto flags = std::make_shared<RestoreFlags>();
  CLI::App* cmd = app.add_subcommand(
      "restore", "Make a new data dir from a backup: copy it, sync it, verify the copy");
  cmd->add_option("--from", flags->from, "The backup (a dir written by `cairn backup`)")
      ->type_name("BACKUP")
      ->required();
  cmd->add_option("--data", flags->data, "The new data dir (must not exist)")
      ->type_name("NEW_DIR")
      ->required();
  cmd->add_flag("--no-verify", flags->no_verify,
                "Skip the check of the copy (its read models against a replay of its log)");
  cmd->add_flag("-q,--quiet", flags->quiet, "No progress or summary on stderr");
  cmd->footer(
      "The copy is made beside NEW_DIR and renamed into place only when complete. The admin\n"
      "token (DATA/admin.token) is not in a backup: start the server with --tokens, or it\n"
      "makes a new one. The backup itself is not changed.\n\n"
      "Exit status: 0 restored and verified, 1 restored but its read models differ from its log\n"
      "(`cairn check --data NEW_DIR --repair` rebuilds them), 2 error (a copy that failed\n"
      "leaves nothing behind).\n\n"
      "Examples:\n"
      "  cairn restore --from /backups/cairn-2026-11-25 --data /var/lib/cairn-restored\n"
      "  cairn serve --data /var/lib/cairn-restored --tokens tokens.json\n");
  cmd->callback([flags, run] { *run = [flags] { return RunRestore(*flags); }; });
}

}  // namespace cairn::cli
