// The two threads behind Log::AppendAsync (include/cairn/log.h), started by its first call:
//
//   the leader thread    leads the groups whose front append is async (a synchronous append
//                        at the front leads in its own thread, append.cc), but for those the
//                        callback thread leads;
//   the callback thread  runs the callbacks of committed async appends, one at a time, in the
//                        order their groups committed, outside every lock of the log; then
//                        leads the next async group if the leader thread has not taken it.
//
// Keeping user callbacks off the leader thread is what lets a callback append again, even
// synchronously, without waiting on itself: groups keep committing while a callback runs. The
// callback thread leading between callback batches is what makes a closed loop (callbacks that
// append again) cheap: one thread writes a group, calls back, writes the next, with no
// hand-off between threads, which costs a wake-up each (milliseconds on a busy machine). So
// async appends that callbacks queue do not wake the leader thread (EnqueueAll): the callback
// thread leads them after its batch; any other append wakes it.
#include <pthread.h>

#include "log/log_rep.h"

namespace cairn {

void Log::Rep::StartAsyncThreads() {
  if (async_started) return;
  async_started = true;
  leader_thread = std::thread([this] { RunAsyncLeader(); });
  pthread_setname_np(leader_thread.native_handle(), "cairn-log-lead");
  callback_thread = std::thread([this] { RunCallbacks(); });
  pthread_setname_np(callback_thread.native_handle(), "cairn-log-done");
}

void Log::Rep::RunAsyncLeader() {
  const SyncMode sync = store->options().sync;
  std::unique_lock lock(queue_mu);
  for (;;) {
    async_lead_cv.wait(lock, [&] { return async_lead || stop_async; });
    if (!async_lead) return;  // stopped, with the queue drained
    async_lead = false;
    lock.unlock();
    LeadGroup(nullptr, options, sync);
    lock.lock();
  }
}

thread_local const Log::Rep* Log::Rep::callback_thread_of = nullptr;

bool Log::Rep::OnCallbackThread() const { return callback_thread_of == this; }

void Log::Rep::RunCallbacks() {
  callback_thread_of = this;
  const SyncMode sync = store->options().sync;
  std::deque<PendingAppend*> batch;
  for (;;) {
    {
      std::unique_lock lock(callbacks_mu);
      callbacks_cv.wait(lock, [&] { return !completed.empty() || stop_callbacks; });
      if (completed.empty()) return;  // stopped, with every callback run
      batch.swap(completed);
    }
    for (PendingAppend* p : batch) {
      std::unique_ptr<PendingAppend> owned(p);
      p->callback(std::move(p->result));
      pending_async.fetch_sub(1, std::memory_order_relaxed);
    }
    batch.clear();
    if (TakeAsyncLead()) LeadGroup(nullptr, options, sync);
  }
}

void Log::Rep::HandLeadToLeaderThread() {
  if (!OnCallbackThread()) return;  // the common case: no lock taken
  std::lock_guard lock(queue_mu);
  if (async_lead) async_lead_cv.notify_one();
}

bool Log::Rep::TakeAsyncLead() {
  std::lock_guard lock(queue_mu);
  if (!async_lead) return false;
  async_lead = false;
  return true;
}

void Log::Rep::StopAsyncThreads() {
  bool started = false;
  {
    std::unique_lock lock(queue_mu);
    // Appends queued before Close are still led to the end: by their own threads, or by the
    // leader thread for async ones, which is still running.
    drained_cv.wait(lock, [&] { return queue.empty(); });
    started = leader_thread.joinable();
    stop_async = true;
    async_lead_cv.notify_one();
  }
  if (!started) return;
  leader_thread.join();
  {
    std::lock_guard lock(callbacks_mu);
    stop_callbacks = true;
    callbacks_cv.notify_one();
  }
  callback_thread.join();
}

}  // namespace cairn
