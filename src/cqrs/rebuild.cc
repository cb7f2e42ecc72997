// Blue/green rebuilds (Engine::StartRebuild): a job builds a new generation of every target
// from seq 0 in one pass over the log while the live generations keep serving, then switches
// to them in one durable write and drops the old ones. Also the jobs' progress. See
// engine_rep.h for the locking rules.
#include <spdlog/spdlog.h>

#include <algorithm>

#include "cairn/engine.h"
#include "cqrs/engine_rep.h"

namespace cairn {

using cqrs::ApplyBatch;
using cqrs::BatchOutcome;
using cqrs::CheckpointKey;
using cqrs::Sink;

namespace {

// A handler's failure during a rebuild, naming the projection and the event.
Status HandlerFailure(const BatchOutcome& outcome) {
  return Status(outcome.error.code(), "projection " + outcome.failed->spec->name + " failed at " +
                                          outcome.failed_at->ToString() + ": " +
                                          outcome.error.message());
}

}  // namespace

Result<uint64_t> Engine::StartRebuild(std::vector<std::string> names) {
  CAIRN_ASSIGN_OR_RETURN(Targets targets, rep_->Select(names));
  if (rep_->stopping.load()) return Status(ErrorCode::kShuttingDown, "the engine is stopping");
  // jobs_mu makes "none is rebuilding, now all are" one step.
  std::lock_guard lock(rep_->jobs_mu);
  for (ProjectionRuntime* p : targets) {
    std::lock_guard state_lock(p->state_mu);
    if (p->rebuilding) return Status::Conflict("projection " + p->spec.name + " is already rebuilding");
  }
  for (ProjectionRuntime* p : targets) {
    std::lock_guard state_lock(p->state_mu);
    p->rebuilding = true;
  }
  const uint64_t id = rep_->next_job++;
  auto job = std::make_unique<RebuildJob>();
  job->progress.id = id;
  for (ProjectionRuntime* p : targets) job->progress.projections.push_back(p->spec.name);
  job->progress.events_total = rep_->EventsIn(targets);
  job->started = std::chrono::steady_clock::now();
  RebuildJob* raw = job.get();
  rep_->jobs.emplace(id, std::move(job));
  raw->thread = std::thread([rep = rep_.get(), raw, targets] { rep->RunRebuild(raw, targets); });
  spdlog::info("rebuild job {} started for {} projection(s)", id, targets.size());
  return id;
}

uint64_t Engine::Rep::EventsIn(const Targets& targets) const {
  if (targets.empty()) return 0;
  const std::vector<std::string> topics = TopicsRead(targets);
  uint64_t total = 0;
  for (const TopicInfo& t : log->Topics()) {
    if (!topics.empty() && !std::binary_search(topics.begin(), topics.end(), t.name)) continue;
    for (const PartitionInfo& part : t.partition_info) total += part.high_water_mark.value();
  }
  return total;
}

void Engine::Rep::UpdateJob(RebuildJob* job, uint64_t done, RebuildProgress::State state,
                            std::string error) {
  std::lock_guard lock(jobs_mu);
  RebuildProgress& p = job->progress;
  p.events_done = done;
  p.events_total = std::max(p.events_total, done);
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - job->started).count();
  p.events_per_second = seconds > 0 ? double(done) / seconds : 0;
  if (p.events_per_second > 0 && p.events_total >= done) {
    p.eta = std::chrono::seconds(
        static_cast<int64_t>(double(p.events_total - done) / p.events_per_second));
  }
  p.state = state;
  p.error = std::move(error);
  if (state != RebuildProgress::State::kRunning) jobs_cv.notify_all();
}

// The job's thread: builds, switches, and reports how it ended. A failed job leaves the live
// generations as they were and drops what it built.
void Engine::Rep::RunRebuild(RebuildJob* job, Targets targets) {
  std::vector<Sink> sinks;
  uint64_t done = 0;
  const Status status = BuildAndSwitch(job, targets, sinks, &done);
  for (ProjectionRuntime* p : targets) {
    std::lock_guard lock(p->state_mu);
    p->rebuilding = false;
  }
  if (!status.ok()) {
    spdlog::error("rebuild job {} failed: {}", job->progress.id, status.ToString());
    // A leftover checkpoint is harmless: a generation's checkpoint is rewritten when a switch
    // adopts it, and Engine::Open deletes those of the families it drops.
    if (Status deleted = DeleteCheckpoints(sinks); !deleted.ok()) {
      spdlog::warn("rebuild job {}: the checkpoints of its generations stay behind: {}",
                   job->progress.id, deleted.ToString());
    }
    sinks.clear();  // releases the half-built generations: their tables are dropped now
    UpdateJob(job, done, RebuildProgress::State::kFailed, status.ToString());
    return;
  }
  spdlog::info("rebuild job {} done: {} events", job->progress.id, done);
  UpdateJob(job, done, RebuildProgress::State::kDone, "");
}

// One pass over the log for every target: a new generation each, filled from seq 0 in batches
// (reporting progress, stopping when the engine stops), then the switch.
Status Engine::Rep::BuildAndSwitch(RebuildJob* job, const Targets& targets,
                                   std::vector<Sink>& sinks, uint64_t* done) {
  CAIRN_RETURN_IF_ERROR(
      OpenScratchSinks(targets, std::vector<Seq>(targets.size(), Seq(UINT64_MAX)),
                       FamilyKind::kOrdered, &sinks));
  CAIRN_ASSIGN_OR_RETURN(std::unique_ptr<LogCursor> cursor,
                         log->OpenCursor(TopicsRead(targets), Seq(0)));
  const std::vector<Sink*> sink_ptrs = SinkPointers(sinks);
  for (;;) {
    if (stopping.load()) {
      return Status(ErrorCode::kShuttingDown, "the engine stopped during the rebuild");
    }
    CAIRN_ASSIGN_OR_RETURN(BatchOutcome outcome,
                           ApplyBatch(store, checkpoints_cf, *cursor, sink_ptrs,
                                      options.rebuild_batch_events, cqrs::CommitMode::kBulk,
                                      options.apply_threads));
    if (outcome.failed) return HandlerFailure(outcome);
    *done += outcome.consumed;
    UpdateJob(job, *done, RebuildProgress::State::kRunning, "");
    if (outcome.consumed < options.rebuild_batch_events) {
      return SwitchTo(targets, sinks, *cursor, done);
    }
  }
}

// Pauses the targets' live threads, applies what was appended meanwhile, and makes the new
// generations live in one durable write. The old generations are dropped once no query holds
// them.
Status Engine::Rep::SwitchTo(const Targets& targets, std::vector<Sink>& sinks, LogCursor& cursor,
                             uint64_t* done) {
  const auto locks = LockApply(targets);
  CAIRN_ASSIGN_OR_RETURN(const uint64_t caught_up,
                         ApplyToHead(cursor, SinkPointers(sinks), cqrs::CommitMode::kBulk));
  *done += caught_up;
  // This write is fsynced: the new tables, ingested files and WAL writes before it, are durable
  // once it is, and it makes them live. It also stores each new generation's checkpoint (the
  // build kept it in memory), so the checkpoint a generation goes live with is the one it was
  // built to.
  WriteBatch batch;
  for (size_t i = 0; i < targets.size(); ++i) {
    const std::string& name = targets[i]->spec.name;
    const uint32_t number = sinks[i].generation->generation();
    batch.Put(generations_cf, name, GenerationValue(number));
    batch.Put(checkpoints_cf, CheckpointKey(name, number), sinks[i].checkpoint.Encode());
    batch.Delete(checkpoints_cf, CheckpointKey(name, targets[i]->live.generation->generation()));
  }
  CAIRN_RETURN_IF_ERROR(store->Write(batch, /*durable=*/true));
  if (store->options().sync != SyncMode::kAlways) CAIRN_RETURN_IF_ERROR(store->SyncWal());

  for (size_t i = 0; i < targets.size(); ++i) {
    ProjectionRuntime& p = *targets[i];
    p.live.generation->SetDropWhenReleased(true);
    sinks[i].generation->SetDropWhenReleased(false);
    CAIRN_RETURN_IF_ERROR(LoadLive(p, sinks[i].generation));
    std::lock_guard lock(p.state_mu);
    if (p.state == ProjectionState::kFailed) {
      p.state = ProjectionState::kRunning;
      p.error.clear();
      p.failed_at.reset();
    }
    p.applied_through = std::max(p.applied_through, cursor.caught_up_to());
    p.state_cv.notify_all();
    spdlog::info("projection {} switched to generation {}", p.spec.name, sinks[i].generation->generation());
  }
  return Status::Ok();
}

Result<RebuildProgress> Engine::GetRebuild(uint64_t id) const {
  std::lock_guard lock(rep_->jobs_mu);
  auto it = rep_->jobs.find(id);
  if (it == rep_->jobs.end()) return Status::NotFound("no rebuild job " + std::to_string(id));
  return it->second->progress;
}

Result<RebuildProgress> Engine::WaitForRebuild(uint64_t id) const {
  std::unique_lock lock(rep_->jobs_mu);
  auto it = rep_->jobs.find(id);
  if (it == rep_->jobs.end()) return Status::NotFound("no rebuild job " + std::to_string(id));
  RebuildJob* job = it->second.get();
  rep_->jobs_cv.wait(lock, [&] { return job->progress.state != RebuildProgress::State::kRunning; });
  return job->progress;
}

}  // namespace cairn
