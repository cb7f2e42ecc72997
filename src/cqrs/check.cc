// The consistency check (Engine::Check): replays the log into scratch generations, each up to
// its projection's checkpoint, compares them key by key with the live read models as of one
// snapshot, and with repair rebuilds the projections that drifted. See engine_rep.h for the
// locking rules.
#include <algorithm>
#include <set>

#include "cairn/engine.h"
#include "cqrs/engine_rep.h"

namespace cairn {

using cqrs::ApplyBatch;
using cqrs::BatchOutcome;
using cqrs::Checkpoint;
using cqrs::CheckpointKey;
using cqrs::Generation;
using cqrs::Sink;

namespace {

// Compares one table of the replay (`expected`) with the live one as of `snapshot`.
Status CompareTable(Store* store, const std::string& projection, const std::string& table,
                    Family* expected, Family* actual, const Snapshot* snapshot,
                    const CheckOptions& options, CheckReport* report) {
  std::vector<std::pair<std::string, std::string>> want;
  CAIRN_RETURN_IF_ERROR(store->Scan(expected, "", "", [&](auto k, auto v) {
    want.emplace_back(std::string(k), std::string(v));
    return true;
  }));
  size_t i = 0;
  auto differ = [&](std::string key, std::optional<std::string> e, std::optional<std::string> a) {
    ++report->differences_total;
    if (report->differences.size() < options.max_reported) {
      report->differences.push_back(
          Difference{projection, table, std::move(key), std::move(e), std::move(a)});
    }
  };
  CAIRN_RETURN_IF_ERROR(store->Scan(
      actual, "", "",
      [&](std::string_view key, std::string_view value) {
        ++report->keys_compared;
        while (i < want.size() && want[i].first < key) {
          differ(want[i].first, want[i].second, std::nullopt);
          ++i;
        }
        if (i < want.size() && want[i].first == key) {
          if (want[i].second != value) differ(std::string(key), want[i].second, std::string(value));
          ++i;
        } else {
          differ(std::string(key), std::nullopt, std::string(value));
        }
        return true;
      },
      /*reverse=*/false, snapshot));
  for (; i < want.size(); ++i) differ(want[i].first, want[i].second, std::nullopt);
  return Status::Ok();
}

}  // namespace

Result<CheckReport> Engine::Check(const CheckOptions& options) {
  std::vector<ProjectionRuntime*> targets;
  for (auto& p : rep_->projections) {
    const auto& wanted = options.projections;
    if (wanted.empty() || std::find(wanted.begin(), wanted.end(), p->spec.name) != wanted.end()) {
      targets.push_back(p.get());
    }
  }
  for (const std::string& name : options.projections) {
    if (!rep_->Find(name)) return Status::NotFound("no projection " + name);
  }

  // A consistent point per projection: its checkpoint and a snapshot of its live tables.
  std::unique_ptr<Snapshot> snapshot;
  std::vector<std::shared_ptr<Generation>> live;
  std::vector<Sink> scratch;
  {
    std::vector<std::unique_lock<std::mutex>> locks;
    for (ProjectionRuntime* p : targets) locks.emplace_back(p->apply_mu);
    snapshot = rep_->store->TakeSnapshot();
    for (ProjectionRuntime* p : targets) {
      live.push_back(p->live.generation);
      scratch.push_back(Sink{&p->spec, nullptr, Checkpoint{}, p->live.checkpoint.seq});
    }
  }
  std::set<std::string> topic_set;
  bool every_topic = false;
  for (size_t i = 0; i < targets.size(); ++i) {
    Result<std::shared_ptr<Generation>> generation = rep_->NewGeneration(*targets[i]);
    if (!generation.ok()) return generation.status();
    scratch[i].generation = *generation;
    every_topic |= targets[i]->spec.topics.empty();
    topic_set.insert(targets[i]->spec.topics.begin(), targets[i]->spec.topics.end());
  }
  std::vector<std::string> topics(topic_set.begin(), topic_set.end());
  if (every_topic) topics.clear();

  // Replay into the scratch generations, each up to its projection's checkpoint.
  std::vector<Sink*> sink_ptrs;
  for (Sink& s : scratch) sink_ptrs.push_back(&s);
  Result<std::unique_ptr<LogCursor>> cursor = rep_->log->OpenCursor(topics, Seq(0));
  if (!cursor.ok()) return cursor.status();
  Status replay;
  for (;;) {
    Result<BatchOutcome> outcome = ApplyBatch(rep_->store, rep_->checkpoints_cf, **cursor,
                                              sink_ptrs, kRebuildBatchEvents, /*durable=*/false);
    if (!outcome.ok()) replay = outcome.status();
    else if (outcome->failed) replay = outcome->error;
    if (!replay.ok() || outcome->consumed == 0) break;
  }

  CheckReport report;
  for (size_t i = 0; i < targets.size() && replay.ok(); ++i) {
    const uint64_t before = report.differences_total;
    for (const auto& [table, family] : scratch[i].generation->tables()) {
      replay = CompareTable(rep_->store, targets[i]->spec.name, table, family,
                            live[i]->Table(table), snapshot.get(), options, &report);
      if (!replay.ok()) break;
    }
    if (report.differences_total > before) report.drifted.push_back(targets[i]->spec.name);
  }
  WriteBatch cleanup;
  for (const Sink& s : scratch) {
    cleanup.Delete(rep_->checkpoints_cf, CheckpointKey(s.spec->name, s.generation->generation()));
  }
  rep_->store->Write(cleanup, /*durable=*/false).ok();
  if (!replay.ok()) return replay;
  report.consistent = report.differences_total == 0;

  if (options.repair && !report.drifted.empty()) {
    Result<uint64_t> job = StartRebuild(report.drifted);
    if (!job.ok()) return job.status();
    Result<RebuildProgress> progress = WaitForRebuild(*job);
    if (!progress.ok()) return progress.status();
    if (progress->state != RebuildProgress::State::kDone) {
      return Status::Internal("repair rebuild failed: " + progress->error);
    }
    report.repaired = report.drifted;
  }
  return report;
}

}  // namespace cairn