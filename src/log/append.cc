// Log::Append, Log::AppendAsync and the group-commit queue (include/cairn/log.h, log_rep.h).
//
// Group commit follows leveldb's DBImpl::Write: every append queues a PendingAppend; the front
// of the queue leads: it takes a group of queued appends, checks each against the stream
// heads, builds ONE WriteBatch and writes it with ONE fsync (Log::Writer, writer.cc), then
// completes the group and hands leadership to the next in line. A synchronous append leads in
// its own thread (so a lone writer never waits for another thread); an async one by the log's
// leader thread, or by its callback thread when a callback queued it (async.cc). Only the
// leader touches the writer state (stream heads cache, next seq); leadership passes under
// queue_mu, which orders it.
//
// Append is AppendAsync's steps (validate, encode, queue) with a different last one: it waits
// on the futex and leads when its turn comes, instead of handing its group to the leader thread
// and its result to the callback thread. Wrapping AppendAsync literally would add those two
// thread hand-offs to every synchronous append.
#include <algorithm>
#include <chrono>
#include <string>
#include <string_view>
#include <unordered_set>

#include "base/clock.h"
#include "log/envelope.h"
#include "log/futex.h"
#include "log/log_rep.h"
#include "log/writer.h"

namespace cairn {

namespace env = envelope;

namespace {

Status ValidateEvent(const NewEvent& e, size_t index, const LogOptions& options) {
  Status s = ValidateNewEvent(e, options);
  if (s.ok()) return s;
  return Status(s.code(), s.message(), "events[" + std::to_string(index) + "]." + s.field());
}

// Everything Append checks before it touches the log: names, event count, each event, and that
// no event id appears twice.
Status ValidateAppend(const AppendRequest& req, const LogOptions& options) {
  CAIRN_RETURN_IF_ERROR(ValidateTopicName(req.topic));
  CAIRN_RETURN_IF_ERROR(ValidateStreamId(req.stream));
  if (req.events.empty()) return Status::InvalidArgument("an append needs at least one event", "events");
  if (req.events.size() > options.max_events_per_append) {
    return Status::TooLarge("an append may carry at most " +
                                std::to_string(options.max_events_per_append) + " events",
                            "events");
  }
  std::unordered_set<std::string_view> ids;
  for (size_t i = 0; i < req.events.size(); ++i) {
    CAIRN_RETURN_IF_ERROR(ValidateEvent(req.events[i], i, options));
    if (!req.events[i].id.empty() && !ids.insert(req.events[i].id).second) {
      return Status::InvalidArgument("event id " + req.events[i].id + " appears twice",
                                     "events[" + std::to_string(i) + "].id");
    }
  }
  return Status::Ok();
}

// Fills `pending` for `req` on `topic`, encoding the envelopes' bodies in the caller's thread
// so the leader only adds each one's header (id, seq, version). Events without a timestamp get the time of the call.
void PrepareAppend(AppendRequest* req, TopicState* topic, PendingAppend* pending) {
  pending->request = req;
  pending->topic = topic;
  pending->partition = PartitionForKey(StreamKey(req->stream), topic->partitions);
  pending->body_ends.reserve(req->events.size());
  size_t body_bytes = 0;  // reserved once for all the bodies
  for (const NewEvent& e : req->events) body_bytes += env::BodySizeHint(e, req->stream);
  pending->bodies.reserve(body_bytes);
  const int64_t now = NowMicros();
  for (NewEvent& e : req->events) {
    pending->has_caller_ids |= !e.id.empty();  // the writer names the others
    if (e.timestamp_us == 0) e.timestamp_us = now;
    env::AppendBody(&pending->bodies, e, req->stream);
    pending->body_ends.push_back(pending->bodies.size());
  }
  pending->bytes = pending->bodies.size() + req->state_writes.ByteSize();
}

}  // namespace

Status Log::EnsureTopic(const std::string& name) {
  if (rep_->FindTopic(name)) return Status::Ok();
  if (!options_.auto_create_topics) return Status::NotFound("topic " + name + " does not exist");
  uint32_t partitions = options_.default_partitions;
  // A topic that exists upstream keeps its partition count there.
  if (rep_->upstream != nullptr) {
    CAIRN_ASSIGN_OR_RETURN(partitions, rep_->upstream->CreateTopic(name, partitions));
  }
  return CreateTopic(name, partitions).status();
}

Result<AppendResult> Log::Append(AppendRequest req) {
  CAIRN_RETURN_IF_ERROR(ValidateAppend(req, options_));
  CAIRN_RETURN_IF_ERROR(EnsureTopic(req.topic));
  PendingAppend pending;
  PrepareAppend(&req, rep_->FindTopic(req.topic), &pending);
  CAIRN_RETURN_IF_ERROR(rep_->Enqueue(&pending));
  if (rep_->AwaitTurn(pending)) rep_->LeadGroup(&pending, options_, store_->options().sync);
  return std::move(pending.result);
}

Status Log::AppendAsync(AppendRequest req, AppendCallback done) {
  if (!done) return Status::InvalidArgument("AppendAsync needs a callback");
  CAIRN_RETURN_IF_ERROR(ValidateAppend(req, options_));
  CAIRN_RETURN_IF_ERROR(EnsureTopic(req.topic));
  std::vector<AsyncAppend> one;
  one.push_back({std::move(req), std::move(done)});
  return QueueAsync(std::move(one));
}

Status Log::AppendAsyncAll(std::vector<AsyncAppend> appends) {
  if (appends.empty()) return Status::InvalidArgument("AppendAsyncAll needs at least one append");
  for (size_t i = 0; i < appends.size(); ++i) {
    const std::string field = "appends[" + std::to_string(i) + "]";
    if (!appends[i].done) return Status::InvalidArgument("AppendAsyncAll needs a callback", field);
    Status s = ValidateAppend(appends[i].request, options_);
    if (s.ok()) s = EnsureTopic(appends[i].request.topic);
    if (!s.ok()) return Status(s.code(), s.message(), field + "." + s.field());
  }
  return QueueAsync(std::move(appends));
}

Status Log::QueueAsync(std::vector<AsyncAppend> appends) {
  CAIRN_RETURN_IF_ERROR(rep_->ReserveAsync(appends.size(), options_.max_pending_async));
  std::vector<std::unique_ptr<PendingAppend>> pendings;
  std::vector<PendingAppend*> queued;
  for (AsyncAppend& a : appends) {
    auto& pending = pendings.emplace_back(std::make_unique<PendingAppend>());
    pending->owned_request = std::make_unique<AppendRequest>(std::move(a.request));
    pending->callback = std::move(a.done);
    PrepareAppend(pending->owned_request.get(), rep_->FindTopic(pending->owned_request->topic),
                  pending.get());
    queued.push_back(pending.get());
  }
  if (Status s = rep_->EnqueueAll(queued); !s.ok()) {
    rep_->pending_async.fetch_sub(appends.size(), std::memory_order_relaxed);
    return s;
  }
  for (auto& pending : pendings) pending.release();  // the callback thread deletes each one
  return Status::Ok();
}

Status Log::Rep::ReserveAsync(size_t n, size_t max) {
  if (n > max) {
    return Status::TooLarge(std::to_string(n) + " async appends admitted together exceed " +
                            "LogOptions::max_pending_async (" + std::to_string(max) + ")");
  }
  size_t now = pending_async.load(std::memory_order_relaxed);
  do {
    if (now + n > max) {
      return Status::Busy("the log has " + std::to_string(now) + " of " + std::to_string(max) +
                          " async appends in flight (LogOptions::max_pending_async); retry later");
    }
  } while (!pending_async.compare_exchange_weak(now, now + n, std::memory_order_relaxed));
  return Status::Ok();
}

Status Log::Rep::Enqueue(PendingAppend* pending) {
  PendingAppend* const one[] = {pending};
  return EnqueueAll(one);
}

Status Log::Rep::EnqueueAll(std::span<PendingAppend* const> pendings) {
  std::lock_guard lock(queue_mu);
  if (closed) return Status(ErrorCode::kShuttingDown, "the log is closing");
  if (!refusal.ok()) return refusal;
  if (read_only.load(std::memory_order_acquire)) return ReadOnlyStatus();
  PendingAppend* const front = pendings.front();
  if (front->is_async()) StartAsyncThreads();
  const bool was_empty = queue.empty();
  queue.insert(queue.end(), pendings.begin(), pendings.end());
  // Async appends queued by a callback are led by the callback thread itself once the callbacks
  // it has in hand have run (RunCallbacks): a closed loop of callbacks that append again then
  // writes, calls back and writes again on one thread, without waking the leader thread twice
  // per group (+9% durable_async_64). Anything else wakes the leader thread, so an append from
  // another thread, or a synchronous one from a callback, never waits for callbacks to finish.
  const bool callback_thread_leads_it = front->is_async() && OnCallbackThread();
  if (was_empty) {
    if (front->is_async()) {
      async_lead = true;
      if (!callback_thread_leads_it) async_lead_cv.notify_one();
    } else {
      front->lead.store(true, std::memory_order_relaxed);
    }
  } else if (async_lead) {
    if (!callback_thread_leads_it) async_lead_cv.notify_one();
  } else if (gather_until != 0 && queue.size() >= gather_until) {
    queue.front()->gather_cv.notify_one();  // the gathering leader has its group
  }
  return Status::Ok();
}

bool Log::Rep::AwaitTurn(PendingAppend& pending) {
  for (;;) {
    const uint32_t epoch = wake_epoch.load(std::memory_order_acquire);
    if (pending.done.load(std::memory_order_acquire)) return false;
    if (pending.lead.load(std::memory_order_acquire)) return true;
    FutexWait(wake_epoch, epoch);
  }
}

void Log::Rep::LeadGroup(PendingAppend* self, const LogOptions& options, SyncMode sync) {
  // Take a group from the front of the queue and commit it unlocked.
  std::unique_lock lock(queue_mu);
  GatherGroup(lock, options, sync);
  const std::vector<PendingAppend*> group = TakeGroup(options);
  lock.unlock();
  const auto write_start = std::chrono::steady_clock::now();
  Log::Writer(this).CommitGroup(group);
  const double write_micros =
      std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - write_start)
          .count();
  // Which members wait for `done`, read now: once PassLeadership hands the async members to
  // the callback thread, it may run and delete them before this thread looks at them again.
  std::vector<PendingAppend*> waiters;
  bool any_async = false;
  for (PendingAppend* p : group) {
    if (p->is_async()) {
      any_async = true;
    } else if (p != self) {
      waiters.push_back(p);
    }
  }
  lock.lock();
  PassLeadership(group, write_micros);
  lock.unlock();
  CompleteGroup(waiters, any_async);
}

// Closed-loop clients (each waiting for its append before sending the next) otherwise split
// into two cohorts: the group in flight and the appenders queued behind it, so every fsync
// carries only half of them. Waiting a fraction of an fsync for the last group's appenders to
// return lets one fsync carry them all.
void Log::Rep::GatherGroup(std::unique_lock<std::mutex>& lock, const LogOptions& options,
                           SyncMode sync) {
  if (options.max_group_wait_us == 0 || sync != SyncMode::kAlways) return;
  const size_t want = std::min(concurrent_appenders, options.max_group_appends);
  if (want <= 1 || queue.size() >= want) return;
  const double wait_us = std::min<double>(options.max_group_wait_us, write_micros_avg / 4);
  if (wait_us < 1) return;
  const auto deadline =
      std::chrono::steady_clock::now() + std::chrono::microseconds(static_cast<int64_t>(wait_us));
  gather_until = want;
  queue.front()->gather_cv.wait_until(lock, deadline,
                                      [&] { return queue.size() >= want || closed; });
  gather_until = 0;
}

std::vector<PendingAppend*> Log::Rep::TakeGroup(const LogOptions& options) const {
  std::vector<PendingAppend*> group;
  size_t group_bytes = 0;
  for (PendingAppend* p : queue) {
    if (!group.empty() && (group.size() >= options.max_group_appends ||
                           group_bytes + p->bytes > options.max_group_bytes)) {
      break;
    }
    group.push_back(p);
    group_bytes += p->bytes;
  }
  return group;
}

void Log::Rep::PassLeadership(const std::vector<PendingAppend*>& group, double write_micros) {
  for (size_t i = 0; i < group.size(); ++i) queue.pop_front();
  concurrent_appenders = group.size() + queue.size();
  write_micros_avg =
      write_micros_avg == 0 ? write_micros : 0.8 * write_micros_avg + 0.2 * write_micros;
  {
    // Still under queue_mu, so groups reach the callback thread in the order they committed.
    std::lock_guard callbacks_lock(callbacks_mu);
    for (PendingAppend* p : group) {
      if (p->is_async()) completed.push_back(p);
    }
  }
  if (queue.empty()) {
    drained_cv.notify_all();
  } else if (queue.front()->is_async()) {
    async_lead = true;
    async_lead_cv.notify_one();
  } else {
    // The next leader is still queued, so it cannot vanish before it reads `lead`.
    queue.front()->lead.store(true, std::memory_order_release);
  }
}

void Log::Rep::CompleteGroup(const std::vector<PendingAppend*>& waiters, bool any_async) {
  // After `done` a waiter may return and destroy its PendingAppend: nothing touches one after
  // this loop (nor an async member at all: the callback thread owns those now).
  for (PendingAppend* p : waiters) p->done.store(true, std::memory_order_release);
  wake_epoch.fetch_add(1, std::memory_order_release);
  FutexWakeAll(wake_epoch);
  if (any_async) {
    std::lock_guard callbacks_lock(callbacks_mu);
    callbacks_cv.notify_one();
  }
}

}  // namespace cairn
