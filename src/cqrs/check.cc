// The consistency check (Engine::Check): replays the log into scratch generations, each up to
// its projection's checkpoint, compares them key by key with the live read models as of one
// snapshot, and with repair rebuilds the projections that drifted. See engine_rep.h for the
// locking rules.
#include <spdlog/spdlog.h>

#include <memory>
#include <vector>

#include "cairn/engine.h"
#include "cqrs/apply.h"
#include "cqrs/engine_rep.h"

namespace cairn {

using cqrs::Generation;
using cqrs::Sink;

namespace {

// What the check compares with: one snapshot of the store, and each target's live generation
// and checkpoint as of that snapshot.
struct LiveState {
  std::unique_ptr<Snapshot> snapshot;
  std::vector<std::shared_ptr<Generation>> generations;
  std::vector<Seq> checkpoints;
};

// Holds every target's apply_mu while it takes the snapshot, so that no batch is half in it.
LiveState TakeLiveState(Store* store, const Targets& targets) {
  LiveState live;
  const auto locks = LockApply(targets);
  live.snapshot = store->TakeSnapshot();
  for (ProjectionRuntime* p : targets) {
    live.generations.push_back(p->live.generation);
    live.checkpoints.push_back(p->live.checkpoint.seq);
  }
  return live;
}

// Keys of the replay compared at a time: what the check holds in memory per table.
constexpr size_t kCompareChunkKeys = 20000;

// Compares one table of the replay (`expected`) with the live one as of `snapshot`, a chunk of
// the replay's keys at a time against the live keys of the same range.
Status CompareTable(Store* store, const std::string& projection, const std::string& table,
                    Family* expected, Family* actual, const Snapshot* snapshot,
                    const CheckOptions& options, CheckReport* report) {
  auto differ = [&](std::string key, std::optional<std::string> e, std::optional<std::string> a) {
    ++report->differences_total;
    if (report->differences.size() < options.max_reported) {
      report->differences.push_back(
          Difference{projection, table, std::move(key), std::move(e), std::move(a)});
    }
  };
  std::string lower;  // the chunk is [lower, upper); an empty upper is the end of the table
  for (bool last = false; !last;) {
    std::vector<std::pair<std::string, std::string>> want;
    std::string upper;
    last = true;
    CAIRN_RETURN_IF_ERROR(store->Scan(expected, lower, "", [&](auto k, auto v) {
      if (want.size() == kCompareChunkKeys) {
        upper = std::string(k);
        last = false;
        return false;
      }
      want.emplace_back(std::string(k), std::string(v));
      return true;
    }));
    size_t i = 0;
    CAIRN_RETURN_IF_ERROR(store->Scan(
        actual, lower, upper,
        [&](std::string_view key, std::string_view value) {
          ++report->keys_compared;
          while (i < want.size() && want[i].first < key) {
            differ(want[i].first, want[i].second, std::nullopt);
            ++i;
          }
          if (i < want.size() && want[i].first == key) {
            if (want[i].second != value) {
              differ(std::string(key), want[i].second, std::string(value));
            }
            ++i;
          } else {
            differ(std::string(key), std::nullopt, std::string(value));
          }
          return true;
        },
        /*reverse=*/false, snapshot));
    for (; i < want.size(); ++i) differ(want[i].first, want[i].second, std::nullopt);
    lower = std::move(upper);
  }
  return Status::Ok();
}

// Compares every table of each target's replay with its live generation, up to `threads`
// tables at once; a target with a difference is listed in report->drifted. The report is the
// same however many threads: the tables' findings are merged in the targets' and tables' order.
Status CompareWithLive(Store* store, const Targets& targets, const std::vector<Sink>& replayed,
                       const LiveState& live, const CheckOptions& options, size_t threads,
                       CheckReport* report) {
  struct TableJob {
    size_t target;
    const std::string* table;
    Family* expected;
    CheckReport found;
    Status status;
  };
  std::vector<TableJob> jobs;
  for (size_t i = 0; i < targets.size(); ++i) {
    for (const auto& [table, family] : replayed[i].generation->tables()) {
      jobs.push_back(TableJob{i, &table, family, {}, Status::Ok()});
    }
  }
  cqrs::ForEachInParallel(jobs.size(), threads, [&](size_t j) {
    TableJob& job = jobs[j];
    job.status = CompareTable(store, targets[job.target]->spec.name, *job.table, job.expected,
                              live.generations[job.target]->Table(*job.table),
                              live.snapshot.get(), options, &job.found);
  });
  for (size_t j = 0; j < jobs.size(); ++j) {
    TableJob& job = jobs[j];
    CAIRN_RETURN_IF_ERROR(job.status);
    report->keys_compared += job.found.keys_compared;
    report->differences_total += job.found.differences_total;
    for (Difference& d : job.found.differences) {
      if (report->differences.size() < options.max_reported) {
        report->differences.push_back(std::move(d));
      }
    }
    const std::string& name = targets[job.target]->spec.name;
    if (job.found.differences_total > 0 &&
        (report->drifted.empty() || report->drifted.back() != name)) {
      report->drifted.push_back(name);
    }
  }
  return Status::Ok();
}

// Rebuilds the projections that drifted and waits for the rebuild.
Status RepairDrifted(Engine& engine, CheckReport* report) {
  CAIRN_ASSIGN_OR_RETURN(const uint64_t job, engine.StartRebuild(report->drifted));
  CAIRN_ASSIGN_OR_RETURN(const RebuildProgress progress, engine.WaitForRebuild(job));
  if (progress.state != RebuildProgress::State::kDone) {
    return Status::Internal("repair rebuild failed: " + progress.error);
  }
  report->repaired = report->drifted;
  return Status::Ok();
}

}  // namespace

Result<CheckReport> Engine::Check(const CheckOptions& options) {
  CAIRN_ASSIGN_OR_RETURN(const Targets targets, rep_->Select(options.projections));
  const LiveState live = TakeLiveState(rep_->store, targets);
  std::vector<Sink> replayed;
  CAIRN_RETURN_IF_ERROR(rep_->OpenScratchSinks(targets, live.checkpoints, &replayed));
  CAIRN_ASSIGN_OR_RETURN(std::unique_ptr<LogCursor> cursor,
                         rep_->log->OpenCursor(TopicsRead(targets), Seq(0)));

  CheckReport report;
  Status compared = rep_->ApplyToHead(*cursor, SinkPointers(replayed)).status();
  if (compared.ok()) {
    compared = CompareWithLive(rep_->store, targets, replayed, live, options,
                               rep_->options.apply_threads, &report);
  }
  // The scratch generations are dropped when `replayed` goes; their checkpoints are deleted
  // here. One left behind is harmless (a generation's checkpoint is rewritten when a switch
  // adopts it), so a failure to delete it does not hide the report.
  if (Status deleted = rep_->DeleteCheckpoints(replayed); !deleted.ok()) {
    spdlog::warn("check: the checkpoints of its scratch generations stay behind: {}",
                 deleted.ToString());
  }
  CAIRN_RETURN_IF_ERROR(compared);
  report.consistent = report.differences_total == 0;
  if (options.repair && !report.drifted.empty()) {
    CAIRN_RETURN_IF_ERROR(RepairDrifted(*this, &report));
  }
  return report;
}

}  // namespace cairn
