// The live side of the Engine: one thread per projection applying the log to its live
// generation (RunProjection), the same loop on the caller's thread (CatchUp), and what stops a
// projection at a failing event and restarts it. See engine_rep.h for the locking rules.
#include <spdlog/spdlog.h>

#include <algorithm>

#include "base/parallel.h"
#include "cairn/engine.h"
#include "cqrs/engine_rep.h"

namespace cairn {

using cqrs::ApplyBatch;
using cqrs::BatchOutcome;

void Engine::Rep::MarkFailed(ProjectionRuntime& p, const Status& error,
                             std::optional<Position> at) {
  spdlog::error("projection {} failed{}: {}", p.spec.name,
                at ? " at " + at->ToString() + " (seq " + std::to_string(at->seq.value()) + ")" : "",
                error.ToString());
  std::lock_guard lock(p.state_mu);
  p.state = ProjectionState::kFailed;
  p.error = error.ToString();
  p.failed_at = std::move(at);
  p.state_cv.notify_all();
}

Result<size_t> Engine::Rep::ApplyLive(ProjectionRuntime& p) {
  return ApplyLive(p,
                   options.durable_batches ? cqrs::CommitMode::kDurable
                                           : cqrs::CommitMode::kBuffered,
                   options.batch_events);
}

void Engine::Rep::Publish(ProjectionRuntime& p, Seq caught_up_to, bool behind) {
  std::lock_guard lock(p.state_mu);
  p.published = p.live.checkpoint;
  p.applied_through = std::max(p.applied_through, caught_up_to);
  if (p.state != ProjectionState::kFailed) {
    p.state = behind ? ProjectionState::kCatchingUp : ProjectionState::kRunning;
  }
  p.state_cv.notify_all();
}

// Applies one batch to the live generation. Returns the number of events consumed.
Result<size_t> Engine::Rep::ApplyLive(ProjectionRuntime& p, cqrs::CommitMode mode, size_t limit) {
  std::lock_guard apply_lock(p.apply_mu);
  Result<BatchOutcome> outcome =
      ApplyBatch(store, checkpoints_cf, *p.cursor, {&p.live}, limit, mode);
  // A handler failed and the batch was discarded: go back to the checkpoint and commit the
  // events before the failing one, so the projection stops exactly there. (Handlers are
  // deterministic; if one fails earlier this time, stop there instead.)
  while (outcome.ok() && outcome->failed) {
    if (Status reload = LoadLive(p, p.live.generation); !reload.ok()) {
      outcome = reload;
      break;
    }
    if (outcome->consumed == 0) break;
    Result<BatchOutcome> before = ApplyBatch(store, checkpoints_cf, *p.cursor, {&p.live},
                                             outcome->consumed, mode);
    if (!before.ok() || before->failed) {
      outcome = std::move(before);
      continue;
    }
    outcome->consumed = before->consumed;  // the events before the failure; the failure stands
    break;
  }
  if (!outcome.ok()) {
    // Nothing of the batch was committed: go back to what is stored.
    Status reload = LoadLive(p, p.live.generation);
    if (!reload.ok()) spdlog::error("projection {}: {}", p.spec.name, reload.ToString());
    MarkFailed(p, outcome.status(), std::nullopt);
    return outcome.status();
  }
  Publish(p, p.cursor->caught_up_to(), /*behind=*/outcome->consumed == limit);
  if (outcome->failed) MarkFailed(p, outcome->error, outcome->failed_at);
  return outcome->consumed;
}

void Engine::Rep::RunProjection(ProjectionRuntime& p) {
  while (!stopping.load()) {
    {
      std::unique_lock lock(p.state_mu);
      if (p.state == ProjectionState::kFailed || p.state == ProjectionState::kStopped) {
        p.state_cv.wait_for(lock, kIdleWait);
        continue;
      }
    }
    Result<size_t> applied = ApplyLive(p);
    if (applied.ok() && *applied == 0) {
      Seq through;
      {
        std::lock_guard lock(p.state_mu);
        through = p.applied_through;
      }
      // Woken by the first append after what was applied (any topic); the timeout only
      // re-checks `stopping`.
      log->WaitForSeq(Seq(through.value() + 1), kIdleWait);
    }
  }
}
// Brings `p` to the head of the log; its failure, if it failed.
Status Engine::Rep::CatchUpOne(ProjectionRuntime& p) {
  const auto failure = [&p]() -> Status {
    std::lock_guard lock(p.state_mu);
    return p.state == ProjectionState::kFailed ? Status::Internal(p.error) : Status::Ok();
  };
  for (;;) {
    CAIRN_RETURN_IF_ERROR(failure());
    CAIRN_ASSIGN_OR_RETURN(
        const size_t applied,
        options.durable_batches
            ? ApplyLive(p)
            : ApplyLive(p, cqrs::CommitMode::kIngest, options.rebuild_batch_events));
    if (applied == 0) return failure();  // a batch may have failed at its first event
  }
}

void Engine::Rep::CatchUpTogether(const Targets& group) {
  // The group's sinks, and the checkpoint furthest behind. A projection that is failed now, or
  // fails on the way (its live thread's batch), is left out for the rest of this catch-up: back
  // in (a Restart), it would be behind the group's cursor. REQUIRES: their apply_mu held.
  std::vector<ProjectionRuntime*> members;
  const auto drop_failed = [&members] {
    std::erase_if(members, [](ProjectionRuntime* p) {
      std::lock_guard lock(p->state_mu);
      return p->state == ProjectionState::kFailed;
    });
  };
  std::vector<std::unique_lock<std::mutex>> locks = LockApply(group);
  members = group;
  drop_failed();
  if (members.size() < 2) return;  // nothing to share: CatchUpOne does it
  Seq from(UINT64_MAX);
  for (ProjectionRuntime* p : members) from = std::min(from, p->live.checkpoint.seq);
  locks.clear();
  // ApplyBatch gives each sink only the events after its own checkpoint, so the cursor may
  // start behind some of them, and a live thread may move one between two batches.
  Result<std::unique_ptr<LogCursor>> cursor = log->OpenCursor(TopicsRead(group), from);
  while (cursor.ok()) {
    // Each batch under the apply locks, as a live thread's batch (not the whole catch-up: the
    // live threads, checks and switches wait for one batch at most).
    locks = LockApply(group);
    drop_failed();
    if (members.empty()) break;
    std::vector<cqrs::Sink*> sinks;
    for (ProjectionRuntime* p : members) sinks.push_back(&p->live);
    Result<BatchOutcome> outcome =
        ApplyBatch(store, checkpoints_cf, **cursor, sinks, options.rebuild_batch_events,
                   cqrs::CommitMode::kIngest, options.apply_threads);
    // A failed handler or commit: nothing (or not all) committed, and the checkpoints in
    // memory may be ahead of what is stored. The locks stay held until they are reloaded
    // below. CatchUpOne then applies the events again, one projection at a time, and stops at
    // and reports what fails then.
    if (!outcome.ok() || outcome->failed || outcome->consumed == 0) break;
    for (ProjectionRuntime* p : members) Publish(*p, (*cursor)->caught_up_to(), /*behind=*/true);
    locks.clear();
  }
  // Each projection's own cursor re-opened at its stored checkpoint. One that cannot be is
  // failed: its cursor and its checkpoint in memory may disagree.
  if (locks.empty()) locks = LockApply(group);
  for (ProjectionRuntime* p : group) {
    if (Status loaded = LoadLive(*p, p->live.generation); !loaded.ok()) {
      MarkFailed(*p, loaded, std::nullopt);
    }
  }
}

Status Engine::CatchUp() {
  // The healthy projections first go to the head together: the log is read and each event
  // decoded once for them all. Whatever is left (one that failed on the way) goes on alone.
  if (!rep_->options.durable_batches) {
    Targets all;
    for (const auto& p : rep_->projections) all.push_back(p.get());
    rep_->CatchUpTogether(all);
  }
  // A failed projection does not hold the others back: each healthy one is brought to the
  // head (up to apply_threads at once), and the first failure in the projections' order is
  // returned at the end.
  std::vector<Status> results(rep_->projections.size());
  ForEachInParallel(results.size(), rep_->options.apply_threads, [&](size_t i) {
    results[i] = rep_->CatchUpOne(*rep_->projections[i]);
  });
  for (Status& s : results) {
    if (!s.ok()) return s;
  }
  return Status::Ok();
}

Status Engine::Restart(const std::string& name) {
  ProjectionRuntime* p = rep_->Find(name);
  if (!p) return Status::NotFound("no projection " + name);
  std::lock_guard apply_lock(p->apply_mu);
  CAIRN_RETURN_IF_ERROR(rep_->LoadLive(*p, p->live.generation));
  std::lock_guard lock(p->state_mu);
  p->state = ProjectionState::kRunning;
  p->error.clear();
  p->failed_at.reset();
  p->state_cv.notify_all();
  return Status::Ok();
}

}  // namespace cairn
