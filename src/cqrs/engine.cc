// The Engine's front (include/cairn/engine.h): Open (validating the specs, restoring each
// projection's active generation and checkpoint, dropping leftovers of interrupted rebuilds),
// Stop, what callers read (statuses with lag, read models, waits), and the pieces rebuilds and
// checks share: choosing targets, scratch generations and replaying into them. The live
// threads are in runner.cc, rebuilds in rebuild.cc, the consistency check in check.cc; the
// state they share and its locking rules in engine_rep.h.
#include "cairn/engine.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <set>

#include "base/bytes.h"
#include "base/clock.h"
#include "cqrs/engine_rep.h"

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
    if (spec.tables.empty() || !spec.handler == !spec.batch_handler) {
      return Status::InvalidArgument("projection " + spec.name +
                                     " needs tables and either a handler or a batch handler");
    }
    for (const std::string& table : spec.tables) {
      if (!IsIdentifier(table)) {
        return Status::InvalidArgument("table name must be [a-z0-9_]+: '" + table + "'");
      }
    }
  }
  return Status::Ok();
}

}  // namespace

std::string GenerationValue(uint32_t number) {
  std::string v;
  bytes::PutBigEndian32(&v, number);
  return v;
}

// ---- Open and stop -----------------------------------------------------------------------------

Engine::Engine(std::unique_ptr<Rep> rep) : rep_(std::move(rep)) {}

Engine::~Engine() { Stop(); }

Result<std::unique_ptr<Engine>> Engine::Open(Log* log, std::vector<ProjectionSpec> specs,
                                             const EngineOptions& options) {
  CAIRN_RETURN_IF_ERROR(ValidateSpecs(specs));
  auto rep = std::make_unique<Rep>();
  rep->log = log;
  rep->store = log->store();
  rep->options = options;
  CAIRN_ASSIGN_OR_RETURN(rep->checkpoints_cf,
                         rep->store->OpenFamily("checkpoints", FamilyKind::kPointLookup));
  CAIRN_ASSIGN_OR_RETURN(rep->generations_cf,
                         rep->store->OpenFamily("generations", FamilyKind::kPointLookup));

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
  CAIRN_ASSIGN_OR_RETURN(std::optional<std::string> stored, store->Get(generations_cf, name));
  if (stored.has_value() && stored->size() == 4) {
    active = bytes::GetBigEndian32(*stored);
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
  CAIRN_ASSIGN_OR_RETURN(std::shared_ptr<Generation> generation,
                         Generation::Open(store, p.spec, active));
  return LoadLive(p, std::move(generation));
}

Status Engine::Rep::LoadLive(ProjectionRuntime& p, std::shared_ptr<Generation> generation) {
  Checkpoint checkpoint;
  CAIRN_ASSIGN_OR_RETURN(
      std::optional<std::string> stored,
      store->Get(checkpoints_cf, CheckpointKey(p.spec.name, generation->generation())));
  if (stored.has_value()) {
    CAIRN_ASSIGN_OR_RETURN(checkpoint, Checkpoint::Decode(*stored));
  }
  CAIRN_ASSIGN_OR_RETURN(p.cursor, log->OpenCursor(p.spec.topics, checkpoint.seq));
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

// ---- Targets of rebuilds and checks ------------------------------------------------------------

ProjectionRuntime* Engine::Rep::Find(std::string_view name) const {
  for (const auto& p : projections) {
    if (p->spec.name == name) return p.get();
  }
  return nullptr;
}

Result<Targets> Engine::Rep::Select(const std::vector<std::string>& names) const {
  for (const std::string& name : names) {
    if (!Find(name)) return Status::NotFound("no projection " + name);
  }
  Targets targets;
  for (const auto& p : projections) {
    if (names.empty() || std::find(names.begin(), names.end(), p->spec.name) != names.end()) {
      targets.push_back(p.get());
    }
  }
  return targets;
}

std::vector<std::unique_lock<std::mutex>> LockApply(const Targets& targets) {
  std::vector<std::unique_lock<std::mutex>> locks;
  for (ProjectionRuntime* p : targets) locks.emplace_back(p->apply_mu);
  return locks;
}

std::vector<std::string> TopicsRead(const Targets& targets) {
  std::set<std::string> topics;
  for (const ProjectionRuntime* p : targets) {
    if (p->spec.topics.empty()) return {};
    topics.insert(p->spec.topics.begin(), p->spec.topics.end());
  }
  return {topics.begin(), topics.end()};
}

Result<std::shared_ptr<Generation>> Engine::Rep::NewGeneration(ProjectionRuntime& p,
                                                               FamilyKind kind) {
  uint32_t number;
  {
    std::lock_guard lock(p.state_mu);
    number = p.next_generation++;
  }
  CAIRN_ASSIGN_OR_RETURN(std::shared_ptr<Generation> generation,
                         Generation::Open(store, p.spec, number, kind));
  // Until a switch adopts it, a new generation is scratch: dropped when released.
  generation->SetDropWhenReleased(true);
  return generation;
}

Status Engine::Rep::OpenScratchSinks(const Targets& targets, const std::vector<Seq>& until,
                                     FamilyKind kind, std::vector<Sink>* sinks) {
  for (size_t i = 0; i < targets.size(); ++i) {
    CAIRN_ASSIGN_OR_RETURN(std::shared_ptr<Generation> generation,
                           NewGeneration(*targets[i], kind));
    sinks->push_back(Sink{&targets[i]->spec, std::move(generation), Checkpoint{}, until[i]});
  }
  return Status::Ok();
}

Result<uint64_t> Engine::Rep::ApplyToHead(LogCursor& cursor, const std::vector<Sink*>& sinks,
                                          cqrs::CommitMode mode) {
  uint64_t consumed = 0;
  for (;;) {
    CAIRN_ASSIGN_OR_RETURN(BatchOutcome outcome,
                           ApplyBatch(store, checkpoints_cf, cursor, sinks,
                                      options.rebuild_batch_events, mode, options.apply_threads));
    if (outcome.failed) return outcome.error;
    if (outcome.consumed == 0) return consumed;
    consumed += outcome.consumed;
  }
}

std::vector<Sink*> SinkPointers(std::vector<Sink>& sinks) {
  std::vector<Sink*> pointers;
  for (Sink& s : sinks) pointers.push_back(&s);
  return pointers;
}

Status Engine::Rep::DeleteCheckpoints(const std::vector<Sink>& sinks) {
  WriteBatch batch;
  for (const Sink& s : sinks) {
    batch.Delete(checkpoints_cf, CheckpointKey(s.spec->name, s.generation->generation()));
  }
  return store->Write(batch, /*durable=*/false);
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

}  // namespace cairn
