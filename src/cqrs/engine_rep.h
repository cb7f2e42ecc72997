// The inside of the Engine (include/cairn/engine.h), shared by the files that implement it:
// engine.cc (open, stop, status, reads, and what rebuilds and checks share), runner.cc (the live
// projection threads), rebuild.cc (blue/green rebuild jobs) and check.cc (the consistency
// check). Nothing outside src/cqrs includes it.
//
// Locking: each projection's apply_mu serialises everything that moves its live generation or
// cursor (a batch of its thread, a rebuild's switch, a check taking its snapshot). Readers never
// take it: they copy the `current` generation pointer under read_mu. Code that holds the
// apply_mu of several projections takes them in the order of Rep::projections (LockApply).
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "cairn/engine.h"
#include "cqrs/apply.h"
#include "cqrs/checkpoint.h"
#include "cqrs/generation.h"

namespace cairn {

// How long an idle or parked projection thread sleeps before it re-checks `stopping`.
inline constexpr auto kIdleWait = std::chrono::milliseconds(200);

// The stored form of an active generation number (a value of the "generations" family).
std::string GenerationValue(uint32_t number);

// One projection inside the engine.
struct ProjectionRuntime {
  ProjectionSpec spec;

  std::mutex apply_mu;
  cqrs::Sink live;                    // GUARDED_BY(apply_mu)
  std::unique_ptr<LogCursor> cursor;  // GUARDED_BY(apply_mu)

  mutable std::mutex read_mu;
  std::shared_ptr<cqrs::Generation> current;  // GUARDED_BY(read_mu); == live.generation

  // Status, progress and control, under state_mu; state_cv wakes waiters and a parked thread.
  mutable std::mutex state_mu;
  mutable std::condition_variable state_cv;
  ProjectionState state = ProjectionState::kRunning;  // GUARDED_BY(state_mu)
  bool rebuilding = false;                            // GUARDED_BY(state_mu)
  Seq applied_through;       // GUARDED_BY(state_mu): every event of its topics <= this applied
  cqrs::Checkpoint published;  // GUARDED_BY(state_mu): copy of live.checkpoint for Statuses()
  std::string error;           // GUARDED_BY(state_mu)
  std::optional<Position> failed_at;  // GUARDED_BY(state_mu)
  uint32_t next_generation = 0;       // GUARDED_BY(state_mu): number for the next new generation

  std::thread thread;

  std::shared_ptr<cqrs::Generation> Current() const {
    std::lock_guard lock(read_mu);
    return current;
  }
};

struct RebuildJob {
  RebuildProgress progress;  // GUARDED_BY(Engine::Rep::jobs_mu)
  std::chrono::steady_clock::time_point started;
  std::thread thread;
};

// Projections an operation works on, always in the order of Engine::Rep::projections (the
// order their apply_mu are locked in).
using Targets = std::vector<ProjectionRuntime*>;

// The topics the targets read, sorted and unique: what one cursor feeding all of them reads.
// Empty when one of them reads every topic (LogCursor's "every topic").
std::vector<std::string> TopicsRead(const Targets& targets);

std::vector<cqrs::Sink*> SinkPointers(std::vector<cqrs::Sink>& sinks);

// Holds the apply_mu of every target, taken in the targets' order (that of
// Engine::Rep::projections, so no two holders deadlock).
std::vector<std::unique_lock<std::mutex>> LockApply(const Targets& targets);

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

  // engine.cc: opening, and the targets of rebuilds and checks.
  ProjectionRuntime* Find(std::string_view name) const;
  Status OpenProjection(ProjectionRuntime& p);
  // (Re)positions the live sink and cursor of `p` on `generation` at its stored checkpoint.
  // REQUIRES: apply_mu held, or p not yet shared.
  Status LoadLive(ProjectionRuntime& p, std::shared_ptr<cqrs::Generation> generation);
  // The projections called `names` (every projection when empty); kNotFound names the first
  // unknown one.
  Result<Targets> Select(const std::vector<std::string>& names) const;
  // A new generation of `p` with tables of `kind`, scratch (dropped when released) until a
  // switch adopts it.
  Result<std::shared_ptr<cqrs::Generation>> NewGeneration(ProjectionRuntime& p, FamilyKind kind);
  // Appends to *sinks one sink per target on a new scratch generation (tables of `kind`:
  // kScratch when no switch will adopt them), which applies the events with seq <= until[i].
  // On error, *sinks holds the ones opened so far.
  Status OpenScratchSinks(const Targets& targets, const std::vector<Seq>& until, FamilyKind kind,
                          std::vector<cqrs::Sink>* sinks);
  // Applies every committed event after `cursor` to `sinks` (batches of
  // options.rebuild_batch_events committed as `mode` says: kBulk or kScratch, each sink up to
  // its `until`, options.apply_threads sinks at once); returns the events consumed. A handler's
  // failure is returned as it is.
  Result<uint64_t> ApplyToHead(LogCursor& cursor, const std::vector<cqrs::Sink*>& sinks,
                               cqrs::CommitMode mode);
  // Deletes the stored checkpoints of scratch generations that will not be adopted.
  Status DeleteCheckpoints(const std::vector<cqrs::Sink>& sinks);

  // runner.cc: the live threads.
  // One batch of up to `limit` events applied to the live generation and committed as `mode`
  // says; returns the events consumed.
  Result<size_t> ApplyLive(ProjectionRuntime& p, cqrs::CommitMode mode, size_t limit);
  // The live threads' ApplyLive: batches of options.batch_events, committed as
  // options.durable_batches says.
  Result<size_t> ApplyLive(ProjectionRuntime& p);
  // ApplyLive until `p` is at the head, in rebuild-sized batches committed as kIngest (kDurable
  // with options.durable_batches); its failure (also an earlier one), if any.
  Status CatchUpOne(ProjectionRuntime& p);
  // CatchUpOne for several projections in one pass over the log, from the checkpoint furthest
  // behind: one ApplyBatch for all the healthy ones per batch (committed as kIngest, under
  // their apply_mu; one failed meanwhile is left out from then on), as long as no batch fails;
  // then each one's own cursor is re-opened at its stored checkpoint. A failure is left to
  // CatchUpOne to meet again and report. Does nothing with fewer than two healthy ones.
  // REQUIRES: `group` in the order of `projections`; apply_mu not held.
  void CatchUpTogether(const Targets& group);
  // Publishes p.live.checkpoint (Statuses, WaitForSeq): every event up to `caught_up_to` of the
  // projection's topics is applied; `behind`: more may follow (state kCatchingUp, else
  // kRunning).
  // REQUIRES: apply_mu held.
  void Publish(ProjectionRuntime& p, Seq caught_up_to, bool behind);
  void RunProjection(ProjectionRuntime& p);
  void MarkFailed(ProjectionRuntime& p, const Status& error, std::optional<Position> at);

  // rebuild.cc: rebuild jobs.
  void RunRebuild(RebuildJob* job, Targets targets);
  // Builds the sinks' generations from the log and switches to them; adds the events applied
  // to *done as it goes.
  Status BuildAndSwitch(RebuildJob* job, const Targets& targets, std::vector<cqrs::Sink>& sinks,
                        uint64_t* done);
  Status SwitchTo(const Targets& targets, std::vector<cqrs::Sink>& sinks, LogCursor& cursor,
                  uint64_t* done);
  void UpdateJob(RebuildJob* job, uint64_t done, RebuildProgress::State state, std::string error);
  // Events in the topics the projections read (what a rebuild of them goes through).
  uint64_t EventsIn(const Targets& targets) const;
};

}  // namespace cairn
