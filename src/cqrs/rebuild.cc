// Blue/green rebuilds (Engine::StartRebuild): a job builds a new generation of every target
// from seq 0 in one pass over the log while the live generations keep serving, then switches
// to them in one durable write and drops the old ones. Also the jobs' progress. See
// engine_rep.h for the locking rules.
#include <spdlog/spdlog.h>

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

Result<std::shared_ptr<Generation>> Engine::Rep::NewGeneration(ProjectionRuntime& p) {
  uint32_t number;
  {
    std::lock_guard lock(p.state_mu);
    number = p.next_generation++;
  }
  Result<std::shared_ptr<Generation>> generation = Generation::Open(store, p.spec, number);
  // Until a switch adopts it, a new generation is scratch: dropped when released.
  if (generation.ok()) (*generation)->SetDropWhenReleased(true);
  return generation;
}

Result<uint64_t> Engine::StartRebuild(std::vector<std::string> names) {
  std::vector<ProjectionRuntime*> targets;
  if (names.empty()) {
    for (auto& p : rep_->projections) targets.push_back(p.get());
  }
  for (const std::string& name : names) {
    ProjectionRuntime* p = rep_->Find(name);
    if (!p) return Status::NotFound("no projection " + name);
    if (std::find(targets.begin(), targets.end(), p) == targets.end()) targets.push_back(p);
  }
  if (rep_->stopping.load()) return Status(ErrorCode::kShuttingDown, "the engine is stopping");
  // Locks are always taken in declaration order (see SwitchTo and Check): no deadlock.
  auto position = [&](ProjectionRuntime* p) {
    for (size_t i = 0; i < rep_->projections.size(); ++i) {
      if (rep_->projections[i].get() == p) return i;
    }
    return rep_->projections.size();
  };
  std::sort(targets.begin(), targets.end(),
            [&](ProjectionRuntime* a, ProjectionRuntime* b) { return position(a) < position(b); });
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

uint64_t Engine::Rep::EventsIn(const std::vector<ProjectionRuntime*>& targets) const {
  std::set<std::string> topics;
  bool every_topic = false;
  for (const ProjectionRuntime* p : targets) {
    every_topic |= p->spec.topics.empty();
    topics.insert(p->spec.topics.begin(), p->spec.topics.end());
  }
  uint64_t total = 0;
  for (const TopicInfo& t : log->Topics()) {
    if (!every_topic && !topics.count(t.name)) continue;
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

// Builds a new generation of every target from seq 0 in one pass over the log, then switches.
void Engine::Rep::RunRebuild(RebuildJob* job, std::vector<ProjectionRuntime*> targets) {
  std::vector<Sink> sinks;
  std::vector<std::string> topics;
  bool every_topic = false;
  Status status;
  for (ProjectionRuntime* p : targets) {
    Result<std::shared_ptr<Generation>> generation = NewGeneration(*p);
    if (!generation.ok()) {
      status = generation.status();
      break;
    }
    sinks.push_back(Sink{&p->spec, *generation, Checkpoint{}, Seq(UINT64_MAX)});
    every_topic |= p->spec.topics.empty();
    topics.insert(topics.end(), p->spec.topics.begin(), p->spec.topics.end());
  }
  std::sort(topics.begin(), topics.end());
  topics.erase(std::unique(topics.begin(), topics.end()), topics.end());
  if (every_topic) topics.clear();

  std::vector<Sink*> sink_ptrs;
  for (Sink& s : sinks) sink_ptrs.push_back(&s);
  std::unique_ptr<LogCursor> cursor;
  if (status.ok()) {
    Result<std::unique_ptr<LogCursor>> opened = log->OpenCursor(topics, Seq(0));
    if (opened.ok()) cursor = std::move(*opened);
    status = opened.status();
  }
  uint64_t done = 0;
  while (status.ok()) {
    if (stopping.load()) {
      status = Status(ErrorCode::kShuttingDown, "the engine stopped during the rebuild");
      break;
    }
    Result<BatchOutcome> outcome = ApplyBatch(store, checkpoints_cf, *cursor, sink_ptrs,
                                              kRebuildBatchEvents, /*durable=*/false);
    if (!outcome.ok()) {
      status = outcome.status();
    } else if (outcome->failed) {
      status = Status(outcome->error.code(),
                      "projection " + outcome->failed->spec->name + " failed at " +
                          outcome->failed_at->ToString() + ": " + outcome->error.message());
    } else {
      done += outcome->consumed;
      UpdateJob(job, done, RebuildProgress::State::kRunning, "");
      if (outcome->consumed < kRebuildBatchEvents) {
        status = SwitchTo(targets, sinks, *cursor, &done);
        break;
      }
    }
  }
  for (ProjectionRuntime* p : targets) {
    std::lock_guard lock(p->state_mu);
    p->rebuilding = false;
  }
  if (!status.ok()) {
    spdlog::error("rebuild job {} failed: {}", job->progress.id, status.ToString());
    for (const Sink& s : sinks) {
      WriteBatch batch;
      batch.Delete(checkpoints_cf, CheckpointKey(s.spec->name, s.generation->generation()));
      store->Write(batch, false).ok();
    }
    sinks.clear();  // releases the half-built generations: their tables are dropped now
    UpdateJob(job, done, RebuildProgress::State::kFailed, status.ToString());
    return;
  }
  spdlog::info("rebuild job {} done: {} events", job->progress.id, done);
  UpdateJob(job, done, RebuildProgress::State::kDone, "");
}

// Pauses the targets' live threads, applies what was appended meanwhile, and makes the new
// generations live in one durable write. The old generations are dropped once no query holds
// them.
Status Engine::Rep::SwitchTo(const std::vector<ProjectionRuntime*>& targets,
                             std::vector<Sink>& sinks, LogCursor& cursor, uint64_t* done) {
  std::vector<std::unique_lock<std::mutex>> locks;
  for (ProjectionRuntime* p : targets) locks.emplace_back(p->apply_mu);
  std::vector<Sink*> sink_ptrs;
  for (Sink& s : sinks) sink_ptrs.push_back(&s);
  for (;;) {
    Result<BatchOutcome> outcome = ApplyBatch(store, checkpoints_cf, cursor, sink_ptrs,
                                              kRebuildBatchEvents, /*durable=*/false);
    if (!outcome.ok()) return outcome.status();
    if (outcome->failed) return outcome->error;
    if (outcome->consumed == 0) break;
    *done += outcome->consumed;
  }
  // This write is fsynced, and the WAL is sequential: the new tables written before it are
  // durable once it is.
  WriteBatch batch;
  for (size_t i = 0; i < targets.size(); ++i) {
    batch.Put(generations_cf, targets[i]->spec.name,
              GenerationValue(sinks[i].generation->generation()));
    batch.Delete(checkpoints_cf,
                 CheckpointKey(targets[i]->spec.name, targets[i]->live.generation->generation()));
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
    spdlog::info("projection {} switched to generation {}", p.spec.name,
                 sinks[i].generation->generation());
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
