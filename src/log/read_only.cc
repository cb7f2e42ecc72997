// The log's read-only state after a failed write, and Log::Resume (include/cairn/log.h).
// The group leader turns the log read-only when a group's write fails (writer.cc); Enqueue
// (append.cc) and the leader refuse every append from then on; Resume, called by the server
// every few seconds while the log is read-only, makes it writable once the disk takes a durable
// write again.
#include <spdlog/spdlog.h>

#include "base/clock.h"
#include "base/iso_time.h"
#include "log/log_rep.h"
#include "log/rocks.h"

namespace cairn {

Status Log::Rep::ReadOnlyStatus() const {
  std::lock_guard lock(read_only_mu);
  return Status::Busy("the log is read-only: " + read_only_reason +
                      "; no append is taken until writes resume");
}

void Log::Rep::TurnReadOnly(const Status& error) {
  {
    std::lock_guard lock(read_only_mu);
    if (read_only.load(std::memory_order_relaxed)) return;  // the first failure names it
    read_only_reason = "a write failed at " + json::FormatIsoTime(NowMicros()) + " (" +
                       error.ToString() + ")";
    read_only.store(true, std::memory_order_release);
  }
  spdlog::error("the log is read-only from now on: no append is acknowledged until a write "
                "succeeds again (free disk space; the server retries, or restart it)");
}

std::optional<std::string> Log::ReadOnlyReason() const {
  if (!rep_->read_only.load(std::memory_order_acquire)) return std::nullopt;
  std::lock_guard lock(rep_->read_only_mu);
  return rep_->read_only_reason;
}

Status Log::Resume() {
  std::lock_guard resume_lock(rep_->resume_mu);
  if (!rep_->read_only.load(std::memory_order_acquire)) return Status::Ok();
  std::function<Status()> fault;
  {
    std::lock_guard lock(rep_->queue_mu);
    fault = rep_->write_fault;
  }
  if (fault) CAIRN_RETURN_IF_ERROR(fault());
  // The store stopped writing at the failure (Store::Write); resuming it resumes RocksDB. The
  // failed group's in-memory writer state was undone by its leader.
  CAIRN_RETURN_IF_ERROR(rep_->store->ResumeWrites());
  // Proof that the disk takes a durable write again: a WAL-only record, no key.
  rocksdb::WriteBatch probe;
  CAIRN_RETURN_IF_ERROR(FromRocks(probe.PutLogData("cairn: the log resumes writing"), "probe"));
  CAIRN_RETURN_IF_ERROR(rep_->store->WriteRocksBatch(&probe, /*durable=*/true));
  // A group that failed upstream may still have been committed there: catch up with it first.
  if (rep_->upstream != nullptr) CAIRN_RETURN_IF_ERROR(rep_->upstream->Recover(this));
  rep_->read_only.store(false, std::memory_order_release);
  spdlog::warn("the log takes appends again (it was read-only: {})", rep_->read_only_reason);
  return Status::Ok();
}

}  // namespace cairn
