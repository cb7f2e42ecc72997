// The export pipeline behind `cairn export`: the log as NDJSON, one event per line in seq order
// (the order the projections apply them), every envelope field included (log/event_json.h),
// which `cairn import` reads back into an identical log. Nothing here prints: the cli shows the
// progress and the summary.
//
//   ExportOutput out;                                   // stdout, or a file once complete
//   CAIRN_RETURN_IF_ERROR(out.Open(path));
//   CAIRN_ASSIGN_OR_RETURN(ExportPlan plan, PlanExport(log, topics, Seq(0)));
//   CAIRN_ASSIGN_OR_RETURN(uint64_t written, WriteExport(log, plan, out, progress));
#pragma once

#include <cstdint>
#include <cstdio>
#include <string>
#include <vector>

#include "cairn/log.h"
#include "cairn/status.h"
#include "interop/progress.h"

namespace cairn::interop {

// What an export writes: the events of `topics` (empty: all) with after < seq <= last.
struct ExportPlan {
  std::vector<std::string> topics;
  Seq after;
  Seq last;            // the log's last seq when the plan was made: later appends are not in it
  uint64_t total = 0;  // how many events that is
};

// Plans an export of what is committed now. REQUIRES: every topic exists (else kNotFound).
Result<ExportPlan> PlanExport(const Log& log, std::vector<std::string> topics, Seq after);

// Where the lines go: stdout, or a file that appears under its name only once complete (written
// beside it as NAME.partial-PID, synced, then renamed), so a failed export leaves nothing
// half-written. Not thread-safe.
class ExportOutput {
 public:
  ExportOutput() = default;
  ExportOutput(const ExportOutput&) = delete;
  ExportOutput& operator=(const ExportOutput&) = delete;
  // Removes the partial file unless Commit() succeeded.
  ~ExportOutput();

  // Empty `path`: stdout. kIOError when the partial file cannot be created.
  Status Open(const std::string& path);
  // Writes `buffer` and clears it.
  Status Write(std::string& buffer);
  // Flushes; for a file also syncs, closes and renames it into place.
  Status Commit();

 private:
  const char* Name() const { return temp_.empty() ? "stdout" : path_.c_str(); }
  std::string path_;
  std::string temp_;
  FILE* file_ = nullptr;
};

// Writes the plan's events to `out` and commits it, reporting (events written, plan.total) to
// `progress` after each batch. Returns how many events were written.
Result<uint64_t> WriteExport(const Log& log, const ExportPlan& plan, ExportOutput& out,
                             const ProgressFn& progress);

}  // namespace cairn::interop
