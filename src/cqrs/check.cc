// The consistency check (Engine::Check): replays the log into scratch generations, each up to
// its projection's checkpoint, compares them key by key with the live read models as of one
// snapshot, and with repair rebuilds the projections that drifted. See engine_rep.h for the
// locking rules.
#include <spdlog/spdlog.h>

#include <memory>
#include <vector>

#include "base/parallel.h"
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

// A key range [lower, upper) of a table (an empty upper: to the end).
struct KeyRange {
  std::string lower, upper;
};

// The ranges a table of about `keys` keys is compared in: one, or for a large table 64 by its
// keys' first byte (0x00-0x03, 0x04-0x07, ...), so that the threads share it (the search terms,
// ~1M keys at 50,000 orders, kept one thread comparing while the other had finished the rest).
// Keys of text start with few distinct bytes: narrow ranges spread them over many jobs.
std::vector<KeyRange> RangesOf(uint64_t keys) {
  constexpr uint64_t kSplitKeys = 50'000;
  constexpr int kRanges = 64;
  constexpr int kWidth = 256 / kRanges;
  if (keys < kSplitKeys) return {KeyRange{}};
  std::vector<KeyRange> ranges;
  for (int i = 0; i < kRanges; ++i) {
    const auto first_byte = [](int byte) { return std::string(1, static_cast<char>(byte)); };
    ranges.push_back(KeyRange{i == 0 ? "" : first_byte(i * kWidth),
                              i == kRanges - 1 ? "" : first_byte((i + 1) * kWidth)});
  }
  return ranges;
}

// Compares a range of one table of the replay (`expected`) with the live one as of `snapshot`:
// both walked in key order side by side, nothing held but the differences reported.
Status CompareTable(Store* store, const std::string& projection, const std::string& table,
                    Family* expected, Family* actual, const Snapshot* snapshot,
                    const KeyRange& range, const CheckOptions& options, CheckReport* report) {
  auto differ = [&](std::string_view key, std::optional<std::string_view> e,
                    std::optional<std::string_view> a) {
    ++report->differences_total;
    if (report->differences.size() < options.max_reported) {
      const auto copy = [](std::optional<std::string_view> v) {
        return v ? std::optional<std::string>(*v) : std::nullopt;
      };
      report->differences.push_back(
          Difference{projection, table, std::string(key), copy(e), copy(a)});
    }
  };
  const std::unique_ptr<StoreIterator> want =
      store->NewIterator(expected, nullptr, range.lower, range.upper);
  const std::unique_ptr<StoreIterator> have =
      store->NewIterator(actual, snapshot, range.lower, range.upper);
  while (want->Valid() || have->Valid()) {
    const int order = !have->Valid()   ? -1
                      : !want->Valid() ? 1
                                       : want->key().compare(have->key());
    if (order < 0) {  // only in the replay
      differ(want->key(), want->value(), std::nullopt);
      want->Next();
      continue;
    }
    ++report->keys_compared;
    if (order > 0) {  // only in the live table
      differ(have->key(), std::nullopt, have->value());
    } else {
      if (want->value() != have->value()) differ(have->key(), want->value(), have->value());
      want->Next();
    }
    have->Next();
  }
  CAIRN_RETURN_IF_ERROR(want->status());
  return have->status();
}

// Compares every table of each target's replay with its live generation, up to `threads`
// tables (or ranges of a large one) at once; a target with a difference is listed in
// report->drifted. The report is the same however many threads: the findings are merged in the
// targets', tables' and ranges' order.
Status CompareWithLive(Store* store, const Targets& targets, const std::vector<Sink>& replayed,
                       const LiveState& live, const CheckOptions& options, size_t threads,
                       CheckReport* report) {
  struct TableJob {
    size_t target;
    const std::string* table;
    Family* expected;
    KeyRange range;
    CheckReport found;
    Status status;
  };
  std::vector<TableJob> jobs;
  for (size_t i = 0; i < targets.size(); ++i) {
    for (const auto& [table, family] : replayed[i].generation->tables()) {
      for (KeyRange& range : RangesOf(store->EstimateKeys(family))) {
        jobs.push_back(TableJob{i, &table, family, std::move(range), {}, Status::Ok()});
      }
    }
  }
  ForEachInParallel(jobs.size(), threads, [&](size_t j) {
    TableJob& job = jobs[j];
    job.status = CompareTable(store, targets[job.target]->spec.name, *job.table, job.expected,
                              live.generations[job.target]->Table(*job.table),
                              live.snapshot.get(), job.range, options, &job.found);
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
  CAIRN_RETURN_IF_ERROR(
      rep_->OpenScratchSinks(targets, live.checkpoints, FamilyKind::kScratch, &replayed));
  CAIRN_ASSIGN_OR_RETURN(std::unique_ptr<LogCursor> cursor,
                         rep_->log->OpenCursor(TopicsRead(targets), Seq(0)));

  CheckReport report;
  Status compared =
      rep_->ApplyToHead(*cursor, SinkPointers(replayed), cqrs::CommitMode::kScratch).status();
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
