// Opening a data dir for an offline operator command (rebuild, check, export, import, backup):
// exclusive access, no projection threads, and errors worded for an operator, above all the
// one for a dir held by a running server, which names the --url alternative.
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "cairn/status.h"
#include "cairn/db.h"
#include "cli/progress.h"

namespace cairn::cli {

struct OfflineOptions {
  // Create the data dir when missing (import only). Default: false: a missing dir is an error.
  bool create_if_missing = false;
  // Durability of the tool's own writes. Default: always.
  SyncMode sync = SyncMode::kAlways;
  // Partitions of topics created by this run. Default: 8, as `serve`.
  uint32_t partitions = 8;
  // Whether the command can instead ask a running server (--url); shapes the "in use" message.
  bool has_url_mode = true;
};

// How an offline command opens a data dir: `options` applied, no projection threads, and no
// owned topics created (only `serve` creates them; an import chooses their partition counts).
DbOptions OfflineDbOptions(const OfflineOptions& options);

// Opens `path` with OfflineDbOptions(options). Errors carry a message for an operator:
// "data dir ./d does not exist", "./d is not a Cairn data dir", "data dir ./d is in use by
// `cairn serve` (pid N) at URL; ask the server instead: cairn check --url URL ..." (kBusy; the
// URL and token hint come from the server's serve.url, see serve_address.h, else a placeholder).
Result<std::unique_ptr<Db>> OpenOffline(std::string_view command, const std::string& path,
                                             const OfflineOptions& options);

// For commands that work offline or against a server: exactly one of --data and --url.
Status RequireDataOrUrl(const std::string& data, const std::string& url);

// Applies every committed event to every projection (Engine::CatchUp), showing progress as
// "<label>: catching up" when it takes a while.
Status CatchUpWithProgress(Db& db, std::string_view label, bool quiet);

// Names of the engine's projections, "orders, order_stats, ..." (for error messages).
std::string ProjectionNames(const Engine& engine);

}  // namespace cairn::cli
