// Step 3 of the import (import.h): the planned topics and events written into the data dir.
#include "interop/import.h"

namespace cairn::interop {
namespace {

// An append carries at most this many events, or about this many bytes of data.
constexpr size_t kMaxRunEvents = 500;
constexpr size_t kMaxRunBytes = 4u << 20;

// The append of appends[first, …): the consecutive events of one stream (and topic), bounded.
AppendRequest NextRun(const std::vector<ImportEvent>& appends, size_t first) {
  const ImportEvent& head = appends[first];
  AppendRequest req;
  req.topic = head.topic;
  req.stream = head.stream;
  req.expected = ExpectedVersion::Exact(head.version - 1);
  size_t bytes = 0;
  for (size_t i = first; i < appends.size() && appends[i].stream == head.stream &&
                         appends[i].topic == head.topic && req.events.size() < kMaxRunEvents &&
                         bytes < kMaxRunBytes;
       ++i) {
    req.events.push_back(appends[i].event);
    bytes += appends[i].event.data.size();
  }
  return req;
}

Status AppendAll(Log& log, const std::vector<ImportEvent>& appends, const ProgressFn& progress,
                 ImportCounts* counts) {
  for (size_t i = 0; i < appends.size();) {
    AppendRequest req = NextRun(appends, i);
    const size_t n = req.events.size();
    Result<AppendResult> appended = log.Append(std::move(req));
    if (!appended.ok()) {
      const ImportEvent& first = appends[i];
      return Status(appended.status().code(),
                    "appending line " + std::to_string(first.line) + " (stream " + first.stream +
                        ") failed: " + appended.status().message() + "; " +
                        std::to_string(counts->imported) +
                        " events were imported before it, and running the import again skips them");
    }
    (appended->duplicate ? counts->skipped : counts->imported) += n;
    i += n;
    Report(progress, i, appends.size());
  }
  return Status::Ok();
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
