// The CQRS engine: runs projections on their own threads, keeps each read model in its own
// column families with its checkpoint in the same WriteBatch (exactly-once effect, incremental
// sync after any crash), rebuilds read models blue/green, and checks them against a replay.
//
// Thread-safety: every method may be called from any thread.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "cairn/log.h"
#include "cairn/projection.h"
#include "cairn/status.h"

namespace cairn {

struct EngineOptions {
  // Most events applied in one batch (one WriteBatch with the checkpoint). A projection that is
  // caught up applies what has arrived, so this only bounds catching up, where larger batches
  // coalesce more writes to the same keys. Default: 10,000.
  size_t batch_events = 10'000;
  // Whether projection batches are fsynced. They can always be redone from the log, so the
  // default is no: a crash loses at most some applied-but-unsynced batches, which are re-applied
  // from the checkpoint on restart. Default: false.
  bool durable_batches = false;
  // Start each projection's thread in Engine::Open. Default: true (tools set false).
  bool start_threads = true;
  // Threads that apply several projections at once in CatchUp, rebuilds and checks (each
  // projection still applies its events in order, on one thread at a time). 1: one after the
  // other. Default: 2.
  size_t apply_threads = 2;
  // Most events applied in one batch of a rebuild or a check's replay. A large batch of their
  // new generations is ingested as table files (no WAL, no memtable), so larger batches mean
  // fewer files to compact; a batch's events and writes are what a rebuild holds in memory
  // (about 1 KB an event for the order projections), whatever the size of the log.
  // Default: 50,000.
  size_t rebuild_batch_events = 50'000;
};

enum class ProjectionState { kRunning, kCatchingUp, kRebuilding, kFailed, kStopped };
std::string_view ProjectionStateName(ProjectionState state);

struct PartitionLag {
  std::string topic;
  PartitionId partition;
  Offset checkpoint;        // next offset the projection will apply
  Offset high_water_mark;   // next offset the log will assign
  uint64_t lag_events = 0;  // high_water_mark - checkpoint
  // Age of the last applied event of this partition (now - its timestamp), if any was applied.
  std::optional<std::chrono::microseconds> last_applied_age;
};

struct ProjectionStatus {
  std::string name;
  ProjectionState state = ProjectionState::kStopped;
  uint32_t generation = 0;
  Seq checkpoint;           // last seq applied
  uint64_t lag_events = 0;  // sum over partitions
  std::vector<PartitionLag> partitions;
  // Set when state == kFailed: what went wrong and at which event.
  std::string error;
  std::optional<Position> failed_at;
};

struct RebuildProgress {
  uint64_t id = 0;
  std::vector<std::string> projections;
  enum class State { kRunning, kDone, kFailed } state = State::kRunning;
  uint64_t events_done = 0;
  uint64_t events_total = 0;  // the log's last seq when the job started (grows while it runs)
  double events_per_second = 0;
  std::optional<std::chrono::seconds> eta;
  std::string error;
};
std::string_view RebuildStateName(RebuildProgress::State state);

struct Difference {
  std::string projection;
  std::string table;
  std::string key;
  std::optional<std::string> expected;  // from the replay; nullopt: should not exist
  std::optional<std::string> actual;    // in the live model; nullopt: missing
};

struct CheckReport {
  bool consistent = true;
  uint64_t keys_compared = 0;
  uint64_t differences_total = 0;
  std::vector<Difference> differences;  // the first EngineCheckOptions::max_reported
  std::vector<std::string> drifted;     // projections with at least one difference
  std::vector<std::string> repaired;    // projections rebuilt by repair
};

struct CheckOptions {
  std::vector<std::string> projections;  // empty: all
  bool repair = false;
  size_t max_reported = 100;
};

class Engine {
 public:
  // Opens the engine over `log` (and its store) with these projections. Restores each
  // projection's active generation and checkpoint, drops leftovers of interrupted rebuilds,
  // and starts the projection threads if options.start_threads.
  static Result<std::unique_ptr<Engine>> Open(Log* log, std::vector<ProjectionSpec> projections,
                                              const EngineOptions& options);
  ~Engine();  // stops the threads (finishing the batch in progress)
  Engine(const Engine&) = delete;
  Engine& operator=(const Engine&) = delete;

  // Stops every projection thread and rebuild. Idempotent.
  void Stop();

  std::vector<ProjectionStatus> Statuses() const;
  Result<ProjectionStatus> GetStatus(const std::string& projection) const;

  // A handle on the projection's current generation; kNotFound for an unknown name.
  Result<std::shared_ptr<const ReadModel>> Read(const std::string& projection) const;

  // Blocks until the projection has applied every event of its topics with seq <= `seq`, or
  // `timeout`. kTimeout when it runs out, kNotFound for an unknown name, the failure when the
  // projection is failed.
  Status WaitForSeq(const std::string& projection, Seq seq, std::chrono::milliseconds timeout) const;

  // Applies every event committed so far to every projection, up to apply_threads projections
  // at once. For tools and tests: it works in rebuild-sized batches (rebuild_batch_events) and
  // ingests a large one as table files with its checkpoint, which is right for a tool that
  // owns the dir; beside running projection threads it is correct (each batch holds the
  // projection's apply lock) but its ingests compete with the live appends.
  Status CatchUp();

  // Restarts a failed or stopped projection from its checkpoint.
  Status Restart(const std::string& projection);

  // Starts a blue/green rebuild of `projections` (all when empty) in one pass over the log.
  // Returns the job id; progress through GetRebuild. kConflict if one of them is rebuilding.
  Result<uint64_t> StartRebuild(std::vector<std::string> projections);
  Result<RebuildProgress> GetRebuild(uint64_t job) const;
  // Blocks until the job ends; returns its final progress.
  Result<RebuildProgress> WaitForRebuild(uint64_t job) const;

  // Replays the log into scratch tables and compares with the live read models key by key.
  // With repair, rebuilds each projection that drifted (and waits for it).
  Result<CheckReport> Check(const CheckOptions& options);

 private:
  struct Rep;
  explicit Engine(std::unique_ptr<Rep> rep);
  std::unique_ptr<Rep> rep_;
};

}  // namespace cairn
