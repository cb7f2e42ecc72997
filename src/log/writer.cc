// Log::Writer (see writer.h): the group leader's work on one group, plus the writer's test
// fault hook and counters.
#include "log/writer.h"

#include <spdlog/spdlog.h>

#include "base/bytes.h"
#include "base/uuid.h"
#include "log/envelope.h"

namespace cairn {

namespace env = envelope;

namespace {

// The header of an event appended without an id, which the log names: by its position when
// that fits (no ids entry needed), else with a NewUuid, returned in `*indexed_id` for the ids
// family.
void AppendGeneratedHeader(std::string* header, const TopicState& topic, PartitionId partition,
                           Offset offset, Seq seq, StreamVersion version,
                           std::string* indexed_id) {
  if (const auto positional = env::PositionalEventId(topic.id, partition, offset)) {
    env::AppendHeader(header, positional->first, positional->second, seq, version);
  } else {
    *indexed_id = NewUuid();
    env::AppendHeader(header, *indexed_id, seq, version);
  }
}

}  // namespace

void Log::Writer::CommitGroup(const std::vector<PendingAppend*>& group) {
  // Appends queued before the log turned read-only are refused like new ones: after a failed
  // write nothing more is written until Log::Resume has proven the disk takes writes again.
  if (rep_->read_only.load(std::memory_order_acquire)) {
    const Status refused = rep_->ReadOnlyStatus();
    for (PendingAppend* p : group) p->result = refused;
    return;
  }
  // The cache of stream heads is bounded: every earlier group is committed, so the stream index
  // family holds what the cache would, and it refills from there.
  if (rep_->stream_heads.size() > rep_->max_cached_heads) rep_->stream_heads.clear();
  BatchConcatenation joined;
  GroupUndo undo;
  undo.next_seq = rep_->next_seq;
  next_offsets_.clear();
  group_ids_.clear();
  staged_.clear();
  std::vector<PendingAppend*> written;
  for (PendingAppend* p : group) {
    if (Stage(p, &joined, &undo)) written.push_back(p);
  }
  if (joined.Count() == 0) return;  // all duplicates or conflicts: nothing to write
  rocksdb::WriteBatch batch = joined.Finish();

  // No append of the group is acknowledged before its batch is written with durable = true
  // (what that guarantees is StoreOptions::sync's to say).
  // With an upstream, the group counts once the upstream has it: it is published there first.
  if (rep_->upstream != nullptr) {
    if (Status s = PublishUpstream(&batch); !s.ok()) {
      spdlog::error("publishing a group of {} appends upstream failed: {}", group.size(),
                    s.ToString());
      Undo(undo);
      // kBusy: the upstream committed nothing and takes the next group; else it may have, and
      // the log must catch up with it (Resume -> LogUpstream::Recover) before writing again.
      if (s.code() != ErrorCode::kBusy) rep_->TurnReadOnly(s);
      for (PendingAppend* p : written) p->result = s;
      return;
    }
  }
  Status s = rep_->write_fault ? rep_->write_fault() : Status::Ok();
  if (s.ok()) s = rep_->store->WriteRocksBatch(&batch, /*durable=*/true);
  if (!s.ok()) {
    spdlog::error("log write of a group of {} appends failed: {}", group.size(), s.ToString());
    Undo(undo);
    rep_->TurnReadOnly(s);
    for (PendingAppend* p : written) p->result = s;
    return;
  }
  Publish(written);
}

Status Log::Writer::PublishUpstream(rocksdb::WriteBatch* batch) {
  std::vector<EventView> views;
  views.reserve(staged_.size());
  for (const StagedEvent& e : staged_) {
    views.emplace_back(e.topic->name, e.partition, e.offset, e.envelope);
  }
  WriteBatch upstream_writes;
  CAIRN_RETURN_IF_ERROR(rep_->upstream->Publish(views, &upstream_writes));
  AppendRocksBatch(batch, *RocksBatchOf(upstream_writes));
  return Status::Ok();
}

Status Log::Writer::CommitReplicated(std::vector<ReplicatedEvent>& events, WriteBatch& extra) {
  next_offsets_.clear();
  GroupUndo undo;
  undo.next_seq = rep_->next_seq;
  append_batch_.Clear();
  auto fail = [&](Status s) {
    Undo(undo);
    return s;
  };
  for (ReplicatedEvent& r : events) {
    TopicState* topic = rep_->FindTopic(r.topic);
    if (topic == nullptr) return fail(Status::Corruption("replicated event " + r.event.id +
                                                         " is of unknown topic " + r.topic));
    if (r.seq.value() != rep_->next_seq) {
      return fail(Status::Corruption("replicated event " + r.event.id + " has seq " +
                                     std::to_string(r.seq.value()) + ", the log expects " +
                                     std::to_string(rep_->next_seq)));
    }
    Result<uint64_t> head = StreamHead(r.stream);
    if (!head.ok()) return fail(head.status());
    if (r.version.value() != *head + 1) {
      return fail(Status::Corruption("replicated event " + r.event.id + " is version " +
                                     std::to_string(r.version.value()) + " of " + r.stream +
                                     ", which is at version " + std::to_string(*head)));
    }
    const PartitionId partition = PartitionForKey(StreamKey(r.stream), topic->partitions);
    const Offset offset(NextOffset(topic, partition)++);
    const std::string log_key = env::LogKey(topic->id, partition, offset);
    header_.clear();
    env::AppendHeader(&header_, r.event.id, r.seq, r.version);
    header_ += env::EncodeBody(r.event, r.stream);
    append_batch_.Put(HandleOf(rep_->streams_cf), env::StreamIndexKey(r.stream, r.version),
                      env::StreamRun(topic->id, partition, offset, 1));
    append_batch_.Put(HandleOf(rep_->log_cf), log_key, header_);
    append_batch_.Put(HandleOf(rep_->ids_cf), r.event.id, log_key);
    StageHead(r.stream, r.version.value(), &undo);
    ++rep_->next_seq;
  }
  AppendRocksBatch(&append_batch_, *RocksBatchOf(extra));
  if (Status s = rep_->store->WriteRocksBatch(&append_batch_, /*durable=*/true); !s.ok()) {
    return fail(s);
  }
  PublishHighWaterMarks();
  rep_->committed_seq.store(rep_->next_seq - 1, std::memory_order_release);
  rep_->stat_events.fetch_add(events.size(), std::memory_order_relaxed);
  rep_->NotifyWaiters();
  return Status::Ok();
}

void Log::Writer::PublishHighWaterMarks() {
  for (const auto& [key, next] : next_offsets_) {
    TopicState* topic = rep_->TopicById(TopicId(static_cast<uint32_t>(key >> 32)));
    topic->high_water[key & 0xffffffffu].store(next, std::memory_order_release);
  }
}

bool Log::Writer::Stage(PendingAppend* p, BatchConcatenation* joined, GroupUndo* undo) {
  AppendRequest& req = *p->request;
  // Ids the log generates are fresh: only a caller's ids can be stored already.
  if (p->has_caller_ids && SettledByStoredIds(p)) return false;
  const std::optional<uint64_t> head = AcceptedHead(p);
  if (!head) return false;

  AppendResult result;
  const uint64_t version = StageEvents(p, *head, joined, &result);
  result.version = StreamVersion(version);
  StageHead(req.stream, version, undo);
  joined->Append(*RocksBatchOf(req.state_writes));
  p->result = std::move(result);
  return true;
}

std::optional<uint64_t> Log::Writer::AcceptedHead(PendingAppend* p) {
  const AppendRequest& req = *p->request;
  Result<uint64_t> head = StreamHead(req.stream);
  if (!head.ok()) {
    p->result = head.status();
    return std::nullopt;
  }
  if (!req.expected.Accepts(StreamVersion(*head))) {
    rep_->stat_conflicts.fetch_add(1, std::memory_order_relaxed);
    p->result = Status::Conflict("stream " + req.stream + " is at version " +
                                 std::to_string(*head) + ", expected " + req.expected.ToString());
    return std::nullopt;
  }
  return *head;
}

uint64_t Log::Writer::StageEvents(PendingAppend* p, uint64_t head, BatchConcatenation* joined,
                                  AppendResult* result) {
  AppendRequest& req = *p->request;
  uint64_t& next_offset = NextOffset(p->topic, p->partition);
  uint64_t version = head;
  // One stream-index entry for the whole append: its events are consecutive in the stream and
  // in the partition.
  joined->Put(HandleOf(rep_->streams_cf),
              {env::StreamIndexKey(req.stream, StreamVersion(version + 1))},
              {env::StreamRun(p->topic->id, p->partition, Offset(next_offset),
                              static_cast<uint32_t>(req.events.size()))});
  result->positions.reserve(req.events.size());
  for (size_t i = 0; i < req.events.size(); ++i) {
    ++version;
    const Offset offset(next_offset++);
    const Seq seq(rep_->next_seq++);
    const std::string& id = req.events[i].id;
    const bool caller_id = !id.empty();
    // A caller's id, or a generated one that cannot hold the position, is indexed.
    std::string generated_id;
    header_.clear();
    if (caller_id) {
      env::AppendHeader(&header_, id, seq, StreamVersion(version));
    } else {
      AppendGeneratedHeader(&header_, *p->topic, p->partition, offset, seq,
                            StreamVersion(version), &generated_id);
    }
    const env::LogKeyBytes key = env::EncodeLogKey(p->topic->id, p->partition, offset);
    const std::string_view log_key = key.view();
    // The envelope is the header and the body the appender encoded, joined as they are copied
    // into the group's batch.
    const std::string_view body = p->body(i);
    joined->Put(HandleOf(rep_->log_cf), {log_key}, {header_, body});
    if (rep_->upstream != nullptr) {
      staged_.push_back(StagedEvent{p->topic, p->partition, offset, header_ + std::string(body)});
    }
    if (caller_id) joined->Put(HandleOf(rep_->ids_cf), {id}, {log_key});
    if (!generated_id.empty()) joined->Put(HandleOf(rep_->ids_cf), {generated_id}, {log_key});
    result->positions.push_back(Position{p->topic->name, p->partition, offset, seq});
    // Only a caller's id can be named again by a later append of this group.
    if (caller_id) {
      group_ids_.emplace(id, GroupEvent{result->positions.back(), StreamVersion(version)});
    }
  }
  return version;
}

void Log::Writer::StageHead(const std::string& stream, uint64_t version, GroupUndo* undo) {
  undo->stream_heads.emplace_back(stream, CachedHead(stream));
  rep_->stream_heads[stream] = version;
}

bool Log::Writer::SettledByStoredIds(PendingAppend* p) {
  const AppendRequest& req = *p->request;
  AppendResult original;
  original.duplicate = true;
  size_t found = 0;
  for (const NewEvent& e : req.events) {
    if (e.id.empty()) continue;  // the log names it: it cannot be stored yet
    if (auto it = group_ids_.find(e.id); it != group_ids_.end()) {
      original.positions.push_back(it->second.position);
      original.version = it->second.version;
      ++found;
      continue;
    }
    Result<std::optional<StoredEvent>> stored = rep_->FindEventById(e.id);
    if (!stored.ok()) {
      p->result = stored.status();
      return true;
    }
    if (!stored->has_value()) continue;
    const EventView view = rep_->ViewOf(**stored);
    original.positions.push_back(
        Position{std::string(view.topic()), view.partition(), view.offset(), view.seq()});
    original.version = view.version();
    ++found;
  }
  if (found == 0) return false;
  if (found < req.events.size()) {
    rep_->stat_conflicts.fetch_add(1, std::memory_order_relaxed);
    p->result = Status::Conflict(
        "some events of this append are already stored (by id) and others are not, or have "
        "no id; retry with the original events or with new ids");
    return true;
  }
  rep_->stat_duplicates.fetch_add(1, std::memory_order_relaxed);
  p->result = std::move(original);
  return true;
}

std::optional<uint64_t> Log::Writer::CachedHead(const std::string& stream) const {
  auto it = rep_->stream_heads.find(stream);
  if (it == rep_->stream_heads.end()) return std::nullopt;
  return it->second;
}

Result<uint64_t> Log::Writer::StreamHead(const std::string& stream) {
  if (auto cached = CachedHead(stream)) return *cached;
  Result<uint64_t> head = rep_->ReadHead(stream);
  if (head.ok()) rep_->stream_heads.emplace(stream, *head);
  return head;
}

uint64_t& Log::Writer::NextOffset(TopicState* topic, PartitionId partition) {
  const uint64_t key = (uint64_t(topic->id.value()) << 32) | partition.value();
  auto [it, inserted] = next_offsets_.try_emplace(key, 0);
  if (inserted) {
    it->second = topic->high_water[partition.value()].load(std::memory_order_relaxed);
  }
  return it->second;
}

void Log::Writer::Undo(const GroupUndo& undo) {
  rep_->next_seq = undo.next_seq;
  // Restore in reverse so a stream appended twice in the group gets its oldest value back.
  for (auto it = undo.stream_heads.rbegin(); it != undo.stream_heads.rend(); ++it) {
    if (it->second.has_value()) {
      rep_->stream_heads[it->first] = *it->second;
    } else {
      rep_->stream_heads.erase(it->first);
    }
  }
}

void Log::Writer::Publish(const std::vector<PendingAppend*>& written) {
  uint64_t events = 0;
  for (PendingAppend* p : written) {
    const auto& positions = p->result->positions;
    p->topic->high_water[p->partition.value()].store(positions.back().offset.value() + 1,
                                                      std::memory_order_release);
    events += positions.size();
  }
  rep_->committed_seq.store(rep_->next_seq - 1, std::memory_order_release);
  rep_->stat_appends.fetch_add(written.size(), std::memory_order_relaxed);
  rep_->stat_events.fetch_add(events, std::memory_order_relaxed);
  rep_->stat_groups.fetch_add(1, std::memory_order_relaxed);
  if (rep_->store->options().sync == SyncMode::kAlways) {
    rep_->stat_fsyncs.fetch_add(1, std::memory_order_relaxed);
  }
  rep_->NotifyWaiters();
}

void Log::SetWriteFaultForTesting(std::function<Status()> fault) {
  // Taken under queue_mu so it does not race a leader that is between groups.
  std::lock_guard lock(rep_->queue_mu);
  rep_->write_fault = std::move(fault);
}

Log::Stats Log::GetStats() const {
  Stats s;
  s.appends = rep_->stat_appends.load();
  s.events = rep_->stat_events.load();
  s.duplicates = rep_->stat_duplicates.load();
  s.conflicts = rep_->stat_conflicts.load();
  s.groups = rep_->stat_groups.load();
  s.fsyncs = rep_->stat_fsyncs.load();
  return s;
}

}  // namespace cairn
