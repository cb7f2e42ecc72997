// See offline.h.
#include "cli/offline.h"

#include <algorithm>
#include <filesystem>
#include <system_error>

#include <spdlog/spdlog.h>

#include "domain/serve_address.h"
#include "http/auth.h"

namespace cairn::cli {

DbOptions OfflineDbOptions(const OfflineOptions& options) {
  DbOptions db_options;
  db_options.store.sync = options.sync;
  db_options.store.create_if_missing = options.create_if_missing;
  db_options.log.default_partitions = options.partitions;
  db_options.engine.start_threads = false;
  // Only `serve` creates the order topics; an import chooses their partition counts itself.
  db_options.create_owned_topics = false;
  return db_options;
}

Result<std::unique_ptr<Db>> OpenOffline(std::string_view command, const std::string& path,
                                             const OfflineOptions& options) {
  namespace fs = std::filesystem;
  std::error_code ec;
  if (path.empty()) return Status::InvalidArgument("--data must not be empty");
  if (!options.create_if_missing) {
    if (!fs::exists(path, ec)) return Status::NotFound("data dir " + path + " does not exist");
    if (!fs::is_directory(path, ec)) return Status::InvalidArgument(path + " is not a directory");
    if (!IsDataDir(path)) {
      return Status::NotFound(path + " is not a Cairn data dir (it has no CURRENT file)");
    }
  } else if (fs::exists(path, ec) && !fs::is_directory(path, ec)) {
    return Status::InvalidArgument(path + " is not a directory");
  } else if (!IsDataDir(path) && !CanCreateDataDirAt(path)) {
    return Status::InvalidArgument(
        path + " is neither empty nor a Cairn data dir; refusing to write into it");
  }
  // The library logs each topic created and each rebuild started at info level: right for a
  // server's log, noise for a tool that reports on its own. Warnings and errors still show.
  spdlog::set_level(spdlog::level::warn);
  Result<std::unique_ptr<Db>> db = Db::Open(path, OfflineDbOptions(options));
  if (db.ok() || db.status().code() != ErrorCode::kBusy) return db;
  // Db's message says who holds the dir; add what to run instead, with the server's own URL
  // and token file when it left its address (serve.url).
  const std::optional<ServeAddress> server = ReadServeAddress(path);
  std::string message = db.status().message() + "; ";
  const std::string url = server ? server->url : "http://127.0.0.1:8080";
  const std::string token = server && server->uses_admin_token_file
                                ? "--token-file " + http::AdminTokenPath(path)
                                : std::string("--token TOKEN");
  if (options.has_url_mode) {
    message += "ask the server instead: cairn " + std::string(command) + " --url " + url + " " +
               token;
    if (!server) message += " (the server's --listen address and an admin token)";
  } else if (command == "export") {
    message += "stop the server first, or take an online backup with `cairn backup --url " + url +
               " " + token + " --to DIR` and export from the backup";
  } else {
    message += "stop the server first: " + std::string(command) + " needs exclusive access";
  }
  return Status::Busy(std::move(message));
}

Status RequireDataOrUrl(const std::string& data, const std::string& url) {
  if (data.empty() && url.empty()) {
    return Status::InvalidArgument("give --data DIR (offline) or --url URL (a running server)");
  }
  if (!data.empty() && !url.empty()) {
    return Status::InvalidArgument("give either --data or --url, not both");
  }
  return Status::Ok();
}

Status CatchUpWithProgress(Db& db, std::string_view label, bool quiet) {
  Progress progress(std::string(label) + ": catching up", "events", quiet);
  Engine& engine = db.engine();
  const uint64_t head = db.log().LastSeq().value();
  return RunWithProgress(
      progress, [&] { return engine.CatchUp(); },
      [&]() -> std::pair<uint64_t, uint64_t> {
        uint64_t least = head;
        for (const ProjectionStatus& s : engine.Statuses()) {
          least = std::min(least, s.checkpoint.value());
        }
        return {least, head};
      });
}

std::string ProjectionNames(const Engine& engine) {
  std::string names;
  for (const ProjectionStatus& s : engine.Statuses()) {
    if (!names.empty()) names += ", ";
    names += s.name;
  }
  return names;
}

}  // namespace cairn::cli
