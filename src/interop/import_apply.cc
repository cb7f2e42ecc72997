// Step 3 of the import (import.h): the planned topics and events written into the data dir.
#include "interop/import.h"

#include <condition_variable>
#include <mutex>
#include <string>

namespace cairn::interop {
namespace {

// An append carries at most this many events, or about this many bytes of data.
constexpr size_t kMaxRunEvents = 500;
constexpr size_t kMaxRunBytes = 4u << 20;

// The append of appends[first, …): the consecutive events of one stream (and topic), bounded;
// *bytes is the size of their data.
AppendRequest NextRun(const std::vector<ImportEvent>& appends, size_t first, size_t* bytes) {
  const ImportEvent& head = appends[first];
  AppendRequest req;
  req.topic = head.topic;
  req.stream = head.stream;
  req.expected = ExpectedVersion::Exact(head.version - 1);
  *bytes = 0;
  for (size_t i = first; i < appends.size() && appends[i].stream == head.stream &&
                         appends[i].topic == head.topic && req.events.size() < kMaxRunEvents &&
                         *bytes < kMaxRunBytes;
       ++i) {
    req.events.push_back(appends[i].event);
    *bytes += appends[i].event.data.size();
  }
  return req;
}

// Runs in flight at once, and their data: enough for the log's group commit to write hundreds of
// runs per write (one WAL record, one pass over the memtables) instead of one write per run,
// without copying much of a large input at once.
constexpr size_t kRunsInFlight = 4096;
constexpr size_t kBytesInFlight = 64u << 20;

// Appends the runs of `appends` in order, up to kRunsInFlight (and about kBytesInFlight) in
// flight; the log commits appends in the order they were queued, so the runs of a stream land one
// after the other. After the first failure nothing more is queued; the runs in flight end, and
// every one that committed is counted.
Status AppendAll(Log& log, const std::vector<ImportEvent>& appends, const ProgressFn& progress,
                 ImportCounts* counts) {
  std::mutex mu;
  std::condition_variable changed;
  size_t in_flight = 0;  // GUARDED_BY(mu)
  size_t bytes = 0;      // data of the runs in flight, GUARDED_BY(mu)
  size_t settled = 0;    // events of runs that ended, GUARDED_BY(mu)
  Status failure;        // the first failed run's, GUARDED_BY(mu)
  const auto fail = [&](size_t first, const Status& why) {
    if (!failure.ok()) return;
    const ImportEvent& run = appends[first];
    failure = Status(why.code(), "appending line " + std::to_string(run.line) + " (stream " +
                                     run.stream + ") failed: " + why.message());
  };
  std::unique_lock lock(mu);
  for (size_t i = 0; i < appends.size();) {
    changed.wait(lock, [&] {
      return !failure.ok() ||
             (in_flight < kRunsInFlight && (in_flight == 0 || bytes < kBytesInFlight));
    });
    if (!failure.ok()) break;
    size_t run_bytes = 0;
    AppendRequest req = NextRun(appends, i, &run_bytes);
    const size_t n = req.events.size();
    ++in_flight;
    bytes += run_bytes;
    lock.unlock();
    Status queued = log.AppendAsync(std::move(req), [&, i, n, run_bytes](Result<AppendResult> r) {
      std::lock_guard done(mu);
      if (!r.ok()) {
        fail(i, r.status());
      } else {
        (r->duplicate ? counts->skipped : counts->imported) += n;
      }
      settled += n;
      --in_flight;
      bytes -= run_bytes;
      changed.notify_all();
    });
    lock.lock();
    if (!queued.ok()) {
      --in_flight;
      bytes -= run_bytes;
      fail(i, queued);
    }
    i += n;
    const size_t done = settled;
    lock.unlock();  // the progress callback may take its time: not while callbacks wait for mu
    Report(progress, done, appends.size());
    lock.lock();
  }
  changed.wait(lock, [&] { return in_flight == 0; });
  lock.unlock();
  Report(progress, settled, appends.size());
  if (failure.ok()) return Status::Ok();
  return Status(failure.code(), failure.message() + "; " + std::to_string(counts->imported) +
                                    " events were imported, and running the import again skips "
                                    "them");
}

}  // namespace

Result<ImportCounts> ApplyImport(Db& db, const ImportPlan& plan, const ApplyCallbacks& callbacks) {
  for (const auto& [topic, partitions] : plan.new_topics) {
    CAIRN_RETURN_IF_ERROR(db.log().CreateTopic(topic, partitions).status());
    if (callbacks.topic_created) callbacks.topic_created(topic, partitions);
  }
  ImportCounts counts;
  Status appended = AppendAll(db.log(), plan.appends, callbacks.appended, &counts);
  // The durability point of the import: the appends may have gone to the WAL unsynced (the cli
  // opens the dir with SyncMode::kNone, for speed); this one fsync makes all of them durable. A
  // crash before it loses only events that a second run imports again.
  Status synced = db.store().SyncWal();
  CAIRN_RETURN_IF_ERROR(appended);
  CAIRN_RETURN_IF_ERROR(synced);
  return counts;
}

}  // namespace cairn::interop
