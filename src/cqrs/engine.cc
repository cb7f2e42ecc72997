// The CQRS engine (include/cairn/engine.h): one thread per projection applying the log to the
// live generation, blue/green rebuild jobs, and the consistency check. The apply loop itself is
// in apply.cc; generations in generation.cc.
//
// Locking: each projection's apply_mu serialises everything that moves its live generation or
// cursor (a batch of its thread, a rebuild's switch, a check taking its snapshot). Readers never
// take it: they copy the `current` generation pointer under read_mu.
#include "cairn/engine.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <map>
#include <mutex>
#include <set>
#include <thread>

#include "cqrs/apply.h"
#include "cqrs/checkpoint.h"
#include "cqrs/generation.h"
#include "base/bytes.h"
#include "base/clock.h"

namespace cairn {

using cqrs::ApplyBatch;
using cqrs::BatchOutcome;
using cqrs::Checkpoint;
using cqrs::CheckpointKey;
using cqrs::Generation;
using cqrs::Sink;

std::string_view ProjectionStateName(ProjectionState state) {
  switch (state) {
    case ProjectionState::kRunning: return "running";
    case ProjectionState::kCatchingUp: return "catching_up";
    case ProjectionState::kRebuilding: return "rebuilding";
    case ProjectionState::kFailed: return "failed";
    case ProjectionState::kStopped: return "stopped";
  }
  return "?";
}

std::string_view RebuildStateName(RebuildProgress::State state) {
  switch (state) {
    case RebuildProgress::State::kRunning: return "running";
    case RebuildProgress::State::kDone: return "done";
    case RebuildProgress::State::kFailed: return "failed";
  }
  return "?";
}

namespace {

constexpr size_t kRebuildBatchEvents = 10'000;
constexpr auto kIdleWait = std::chrono::milliseconds(200);

bool IsIdentifier(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_';
  });
}

Status ValidateSpecs(const std::vector<ProjectionSpec>& specs) {
  std::set<std::string> names;
  for (const ProjectionSpec& spec : specs) {
    if (!IsIdentifier(spec.name)) {
      return Status::InvalidArgument("projection name must be [a-z0-9_]+: '" + spec.name + "'");
    }
    if (!names.insert(spec.name).second) {
      return Status::InvalidArgument("projection " + spec.name + " is declared twice");
    }
    if (spec.tables.empty() || !spec.handler) {
      return Status::InvalidArgument("projection " + spec.name + " needs tables and a handler");
    }
    for (const std::string& table : spec.tables) {
      if (!IsIdentifier(table)) {
        return Status::InvalidArgument("table name must be [a-z0-9_]+: '" + table + "'");
      }
    }
  }
  return Status::Ok();
}

std::string GenerationValue(uint32_t number) {
  std::string v;
  bytes::PutBigEndian32(&v, number);
  return v;
}

}  // namespace

// One projection inside the engine.
struct ProjectionRuntime {
  ProjectionSpec spec;

  std::mutex apply_mu;
  Sink live;                          // GUARDED_BY(apply_mu)
  std::unique_ptr<LogCursor> cursor;  // GUARDED_BY(apply_mu)

  mutable std::mutex read_mu;
  std::shared_ptr<Generation> current;  // GUARDED_BY(read_mu); == live.generation

  // Status, progress and control, under state_mu; state_cv wakes waiters and a parked thread.
  mutable std::mutex state_mu;
  mutable std::condition_variable state_cv;
  ProjectionState state = ProjectionState::kRunning;  // GUARDED_BY(state_mu)
  bool rebuilding = false;                            // GUARDED_BY(state_mu)
  Seq applied_through;       // GUARDED_BY(state_mu): every event of its topics <= this applied
  Checkpoint published;      // GUARDED_BY(state_mu): copy of live.checkpoint for Statuses()
  std::string error;         // GUARDED_BY(state_mu)
  std::optional<Position> failed_at;  // GUARDED_BY(state_mu)
  uint32_t next_generation = 0;       // GUARDED_BY(state_mu): number for the next new generation

  std::thread thread;

  std::shared_ptr<Generation> Current() const {
    std::lock_guard lock(read_mu);
    return current;
  }
};

struct RebuildJob {
  RebuildProgress progress;  // GUARDED_BY(Engine::Rep::jobs_mu)
  std::chrono::steady_clock::time_point started;
  std::thread thread;
};

struct Engine::Rep {
  Log* log = nullptr;
  Store* store = nullptr;
  EngineOptions options;
  Family* checkpoints_cf = nullptr;
  Family* generations_cf = nullptr;  // projection name -> active generation (4 bytes)
  std::vector<std::unique_ptr<ProjectionRuntime>> projections;
  std::atomic<bool> stopping{false};

  mutable std::mutex jobs_mu;
  mutable std::condition_variable jobs_cv;
  std::map<uint64_t, std::unique_ptr<RebuildJob>> jobs;  // GUARDED_BY(jobs_mu)
  uint64_t next_job = 1;                                 // GUARDED_BY(jobs_mu)

  ProjectionRuntime* Find(std::string_view name) const {
    for (const auto& p : projections) {
      if (p->spec.name == name) return p.get();
    }
    return nullptr;
  }

  Status OpenProjection(ProjectionRuntime& p);
  Status LoadLive(ProjectionRuntime& p, std::shared_ptr<Generation> generation);
  Result<size_t> ApplyLive(ProjectionRuntime& p);
  void RunProjection(ProjectionRuntime& p);
  void MarkFailed(ProjectionRuntime& p, const Status& error, std::optional<Position> at);
  Result<std::shared_ptr<Generation>> NewGeneration(ProjectionRuntime& p);
  void RunRebuild(RebuildJob* job, std::vector<ProjectionRuntime*> targets);
  // Adds the events it applies while switching to *done.
  Status SwitchTo(const std::vector<ProjectionRuntime*>& targets, std::vector<Sink>& sinks,
                  LogCursor& cursor, uint64_t* done);
  void UpdateJob(RebuildJob* job, uint64_t done, RebuildProgress::State state, std::string error);
  // Events in the topics the projections read (what a rebuild of them goes through).
  uint64_t EventsIn(const std::vector<ProjectionRuntime*>& targets) const;
};

// ---- Open and the live projection threads ------------------------------------------------------

Engine::Engine(std::unique_ptr<Rep> rep) : rep_(std::move(rep)) {}

Engine::~Engine() { Stop(); }

Result<std::unique_ptr<Engine>> Engine::Open(Log* log, std::vector<ProjectionSpec> specs,
                                             const EngineOptions& options) {
  CAIRN_RETURN_IF_ERROR(ValidateSpecs(specs));
  auto rep = std::make_unique<Rep>();
  rep->log = log;
  rep->store = log->store();
  rep->options = options;
  Result<Family*> checkpoints = rep->store->OpenFamily("checkpoints", FamilyKind::kPointLookup);
  if (!checkpoints.ok()) return checkpoints.status();
  rep->checkpoints_cf = *checkpoints;
  Result<Family*> generations = rep->store->OpenFamily("generations", FamilyKind::kPointLookup);
  if (!generations.ok()) return generations.status();
  rep->generations_cf = *generations;

  for (ProjectionSpec& spec : specs) {
    auto p = std::make_unique<ProjectionRuntime>();
    p->spec = std::move(spec);
    CAIRN_RETURN_IF_ERROR(rep->OpenProjection(*p));
    rep->projections.push_back(std::move(p));
  }
  std::unique_ptr<Engine> engine(new Engine(std::move(rep)));
  if (options.start_threads) {
    for (auto& p : engine->rep_->projections) {
      p->thread = std::thread([rep = engine->rep_.get(), p = p.get()] { rep->RunProjection(*p); });
    }
  }
  return engine;
}

// Finds the active generation (1 for a new projection), drops what interrupted rebuilds and
// checks left behind, and positions the live sink at its checkpoint.
Status Engine::Rep::OpenProjection(ProjectionRuntime& p) {
  const std::string& name = p.spec.name;
  uint32_t active = 1;
  Result<std::optional<std::string>> stored = store->Get(generations_cf, name);
  if (!stored.ok()) return stored.status();
  if (stored->has_value() && (*stored)->size() == 4) {
    active = bytes::GetBigEndian32(**stored);
  } else {
    WriteBatch batch;
    batch.Put(generations_cf, name, GenerationValue(active));
    CAIRN_RETURN_IF_ERROR(store->Write(batch, /*durable=*/true));
  }
  uint32_t highest = active;
  for (const std::string& family : store->FamilyNames(Generation::FamilyPrefix(name))) {
    const uint32_t number = Generation::NumberOf(family, name);
    if (number == 0 || number == active) continue;
    highest = std::max(highest, number);
    spdlog::info("dropping {} (left over from an interrupted rebuild or check)", family);
    CAIRN_RETURN_IF_ERROR(store->DropFamily(family));
    WriteBatch batch;
    batch.Delete(checkpoints_cf, CheckpointKey(name, number));
    CAIRN_RETURN_IF_ERROR(store->Write(batch, /*durable=*/false));
  }
  p.next_generation = highest + 1;
  Result<std::shared_ptr<Generation>> generation = Generation::Open(store, p.spec, active);
  if (!generation.ok()) return generation.status();
  return LoadLive(p, *generation);
}

// (Re)positions the live sink and cursor of `p` on `generation` at its stored checkpoint.
// REQUIRES: apply_mu held, or p not yet shared.
Status Engine::Rep::LoadLive(ProjectionRuntime& p, std::shared_ptr<Generation> generation) {
  Checkpoint checkpoint;
  Result<std::optional<std::string>> stored =
      store->Get(checkpoints_cf, CheckpointKey(p.spec.name, generation->generation()));
  if (!stored.ok()) return stored.status();
  if (stored->has_value()) {
    Result<Checkpoint> decoded = Checkpoint::Decode(**stored);
    if (!decoded.ok()) return decoded.status();
    checkpoint = std::move(*decoded);
  }
  Result<std::unique_ptr<LogCursor>> cursor = log->OpenCursor(p.spec.topics, checkpoint.seq);
  if (!cursor.ok()) return cursor.status();
  p.cursor = std::move(*cursor);
  p.live = Sink{&p.spec, generation, checkpoint, Seq(UINT64_MAX)};
  {
    std::lock_guard lock(p.read_mu);
    p.current = generation;
  }
  std::lock_guard lock(p.state_mu);
  p.published = checkpoint;
  p.applied_through = std::max(p.applied_through, checkpoint.seq);
  return Status::Ok();
}

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

// Applies one batch to the live generation. Returns the number of events consumed.
Result<size_t> Engine::Rep::ApplyLive(ProjectionRuntime& p) {
  std::lock_guard apply_lock(p.apply_mu);
  Result<BatchOutcome> outcome = ApplyBatch(store, checkpoints_cf, *p.cursor, {&p.live},
                                            options.batch_events, options.durable_batches);
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
                                             outcome->consumed, options.durable_batches);
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
  {
    std::lock_guard lock(p.state_mu);
    p.published = p.live.checkpoint;
    p.applied_through = std::max(p.applied_through, p.cursor->caught_up_to());
    if (p.state != ProjectionState::kFailed) {
      p.state = outcome->consumed == options.batch_events ? ProjectionState::kCatchingUp
                                                          : ProjectionState::kRunning;
    }
    p.state_cv.notify_all();
  }
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

void Engine::Stop() {
  if (rep_->stopping.exchange(true)) return;
  for (auto& p : rep_->projections) {
    {
      std::lock_guard lock(p->state_mu);
      p->state_cv.notify_all();
    }
    if (p->thread.joinable()) p->thread.join();
    std::lock_guard lock(p->state_mu);
    if (p->state != ProjectionState::kFailed) p->state = ProjectionState::kStopped;
  }
  std::vector<std::thread> threads;
  {
    std::lock_guard lock(rep_->jobs_mu);
    for (auto& [id, job] : rep_->jobs) {
      if (job->thread.joinable()) threads.push_back(std::move(job->thread));
    }
  }
  for (auto& t : threads) t.join();
}

Status Engine::CatchUp() {
  // A failed projection does not hold the others back: each healthy one is brought to the
  // head, and the first failure is returned at the end.
  Status first_error;
  for (auto& p : rep_->projections) {
    for (;;) {
      {
        std::lock_guard lock(p->state_mu);
        if (p->state == ProjectionState::kFailed) {
          if (first_error.ok()) first_error = Status::Internal(p->error);
          break;
        }
      }
      Result<size_t> applied = rep_->ApplyLive(*p);
      if (!applied.ok()) {
        if (first_error.ok()) first_error = applied.status();
        break;
      }
      if (*applied == 0) break;
    }
    std::lock_guard lock(p->state_mu);  // a batch may have failed at its first event
    if (p->state == ProjectionState::kFailed && first_error.ok()) first_error = Status::Internal(p->error);
  }
  return first_error;
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

// ---- Status and reads --------------------------------------------------------------------------

namespace {

ProjectionStatus Describe(const ProjectionRuntime& p, const Log& log) {
  ProjectionStatus s;
  s.name = p.spec.name;
  Checkpoint checkpoint;
  {
    std::lock_guard lock(p.state_mu);
    s.state = p.rebuilding && p.state != ProjectionState::kFailed ? ProjectionState::kRebuilding
                                                                  : p.state;
    s.error = p.error;
    s.failed_at = p.failed_at;
    checkpoint = p.published;
  }
  s.generation = p.Current()->generation();
  s.checkpoint = checkpoint.seq;
  const int64_t now = NowMicros();
  std::vector<TopicInfo> topics;
  if (p.spec.topics.empty()) {
    topics = log.Topics();
  } else {
    for (const std::string& name : p.spec.topics) {
      if (Result<TopicInfo> t = log.GetTopic(name); t.ok()) topics.push_back(std::move(*t));
    }
  }
  for (const TopicInfo& topic : topics) {
    for (const PartitionInfo& part : topic.partition_info) {
      PartitionLag lag;
      lag.topic = topic.name;
      lag.partition = part.partition;
      lag.high_water_mark = part.high_water_mark;
      const Checkpoint::Partition* applied = checkpoint.Find(topic.name, part.partition);
      lag.checkpoint = applied ? applied->next : Offset(0);
      lag.lag_events = lag.high_water_mark.value() > lag.checkpoint.value()
                           ? lag.high_water_mark.value() - lag.checkpoint.value()
                           : 0;
      if (applied) lag.last_applied_age = std::chrono::microseconds(now - applied->last_timestamp_us);
      s.lag_events += lag.lag_events;
      s.partitions.push_back(std::move(lag));
    }
  }
  return s;
}

}  // namespace

std::vector<ProjectionStatus> Engine::Statuses() const {
  std::vector<ProjectionStatus> out;
  for (const auto& p : rep_->projections) out.push_back(Describe(*p, *rep_->log));
  return out;
}

Result<ProjectionStatus> Engine::GetStatus(const std::string& name) const {
  ProjectionRuntime* p = rep_->Find(name);
  if (!p) return Status::NotFound("no projection " + name);
  return Describe(*p, *rep_->log);
}

Result<std::shared_ptr<const ReadModel>> Engine::Read(const std::string& name) const {
  ProjectionRuntime* p = rep_->Find(name);
  if (!p) return Status::NotFound("no projection " + name);
  return std::shared_ptr<const ReadModel>(p->Current());
}

Status Engine::WaitForSeq(const std::string& name, Seq seq,
                          std::chrono::milliseconds timeout) const {
  ProjectionRuntime* p = rep_->Find(name);
  if (!p) return Status::NotFound("no projection " + name);
  std::unique_lock lock(p->state_mu);
  const bool reached = p->state_cv.wait_for(lock, timeout, [&] {
    return p->applied_through >= seq || p->state == ProjectionState::kFailed ||
           rep_->stopping.load();
  });
  if (p->applied_through >= seq) return Status::Ok();
  if (p->state == ProjectionState::kFailed) {
    return Status::Busy("projection " + name + " is failed: " + p->error);
  }
  if (!reached) {
    return Status::Timeout("projection " + name + " has not applied seq " +
                           std::to_string(seq.value()) + " yet");
  }
  return Status(ErrorCode::kShuttingDown, "the engine is stopping");
}

// ---- Rebuild -----------------------------------------------------------------------------------

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

// ---- Consistency check -------------------------------------------------------------------------

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
