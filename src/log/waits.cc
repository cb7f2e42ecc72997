// Waiting for the log to grow (WaitForSeq, WaitFor) and closing it (Close, which also drains
// and stops AppendAsync's threads, async.cc). Waiters sleep on
// Log::Rep::wait_cv, which the group leader notifies after publishing each group
// (Log::Writer::Publish) and Close notifies once; nothing polls.
#include <string_view>

#include "log/log_rep.h"

namespace cairn {

bool Log::WaitForSeq(Seq seq, std::chrono::milliseconds timeout) const {
  rep_->HandLeadToLeaderThread();
  std::unique_lock lock(rep_->wait_mu);
  return rep_->wait_cv.wait_for(lock, timeout, [&] {
    return LastSeq() >= seq || rep_->wait_closed.load();
  }) && LastSeq() >= seq;
}

bool Log::WaitFor(std::string_view topic, PartitionId partition, Offset offset,
                  std::chrono::milliseconds timeout) const {
  rep_->HandLeadToLeaderThread();
  std::unique_lock lock(rep_->wait_mu);
  return rep_->wait_cv.wait_for(lock, timeout, [&] {
    return HighWaterMark(topic, partition) > offset || rep_->wait_closed.load();
  }) && HighWaterMark(topic, partition) > offset;
}

void Log::Close() {
  {
    std::lock_guard lock(rep_->queue_mu);
    rep_->closed = true;
    if (!rep_->queue.empty()) rep_->queue.front()->gather_cv.notify_one();  // stop gathering
  }
  rep_->StopAsyncThreads();
  rep_->wait_closed.store(true);
  rep_->NotifyWaiters();
}

}  // namespace cairn
