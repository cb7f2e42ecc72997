// A log that mirrors an upstream (include/cairn/log.h, LogUpstream): refusing appends while
// another node writes, and Log::Replicate, which copies that node's committed events in.
#include "log/log_rep.h"
#include "log/writer.h"

namespace cairn {

void Log::RefuseAppends(Status why) {
  std::unique_lock lock(rep_->queue_mu);
  rep_->refusal = std::move(why);
  rep_->drained_cv.wait(lock, [&] { return rep_->queue.empty(); });
}

void Log::AcceptAppends() {
  std::lock_guard lock(rep_->queue_mu);
  rep_->refusal = Status::Ok();
}

Status Log::Replicate(std::vector<ReplicatedEvent> events, WriteBatch extra) {
  if (events.empty() && extra.empty()) return Status::Ok();
  // queue_mu is held for the whole write: Enqueue refuses every append meanwhile, and no
  // leader is left to touch the writer state once the queue is empty.
  std::unique_lock lock(rep_->queue_mu);
  if (rep_->refusal.ok() && !rep_->read_only.load(std::memory_order_acquire)) {
    return Status::InvalidArgument(
        "the log takes appends: it replicates only while appends are refused or it is read-only");
  }
  rep_->drained_cv.wait(lock, [&] { return rep_->queue.empty(); });
  return Log::Writer(rep_.get()).CommitReplicated(events, extra);
}

}  // namespace cairn
