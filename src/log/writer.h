// Log::Writer: what the group-commit leader does with one group of queued appends (check each
// against the stream heads and stored ids, stage them into ONE WriteBatch, write it durably,
// then publish or undo). Built by Log::Rep::LeadGroup (append.cc) for each group; only the
// current leader touches the writer state in Log::Rep (stream heads cache, next seq).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "cairn/log.h"
#include "log/log_rep.h"
#include "log/rocks.h"

namespace cairn {

// What the leader changes while building one group, so a failed write can be undone.
struct GroupUndo {
  uint64_t next_seq = 0;
  std::vector<std::pair<std::string, std::optional<uint64_t>>> stream_heads;
};

class Log::Writer {
 public:
  explicit Writer(Log::Rep* rep) : rep_(rep) {}

  // Checks and writes `group` as one WriteBatch; fills every member's result.
  void CommitGroup(const std::vector<PendingAppend*>& group);
  // Log::Replicate's work: writes `events` (which must continue the log) and `extra` as one
  // WriteBatch and publishes them. REQUIRES: no group is being committed.
  Status CommitReplicated(std::vector<ReplicatedEvent>& events, WriteBatch& extra);

 private:
  struct GroupEvent {
    Position position;
    StreamVersion version;
  };

  // Checks one append and adds its writes to `joined`. Returns whether it wrote anything.
  bool Stage(PendingAppend* p, BatchConcatenation* joined, GroupUndo* undo);
  // The stream's head when the append's expected version accepts it; otherwise sets the
  // append's result (the read error or the conflict) and returns nothing.
  std::optional<uint64_t> AcceptedHead(PendingAppend* p);
  // Adds the append's stream-index entry, envelopes and id entries to `joined`, giving each
  // event its offset, seq and version (and a generated id where it has none). Returns the
  // stream's new version.
  uint64_t StageEvents(PendingAppend* p, uint64_t head, BatchConcatenation* joined,
                       AppendResult* result);
  // Records the stream's new head in the cache, remembering the old one.
  void StageHead(const std::string& stream, uint64_t version, GroupUndo* undo);
  // If every event id of the append is already stored (or staged earlier in this group), sets
  // the original result; if only some are, a conflict; on a read error, that error. Returns
  // whether it set the result (if not, none of the ids is stored).
  bool SettledByStoredIds(PendingAppend* p);
  std::optional<uint64_t> CachedHead(const std::string& stream) const;
  // The stream's last committed (or staged) version, from the cache or the stream index.
  Result<uint64_t> StreamHead(const std::string& stream);
  uint64_t& NextOffset(TopicState* topic, PartitionId partition);
  void Undo(const GroupUndo& undo);
  // Makes a committed group visible: high-water marks first, then the global seq, so a reader
  // that sees seq s also sees every partition's offsets up to it.
  void Publish(const std::vector<PendingAppend*>& written);
  // Publishes the staged group's events to LogOptions::upstream (see LogUpstream::Publish),
  // adding the upstream's local writes to `batch`.
  Status PublishUpstream(rocksdb::WriteBatch* batch);
  // Makes the partitions staged in next_offsets_ visible up to their staged next offsets.
  void PublishHighWaterMarks();

  Log::Rep* rep_;
  rocksdb::WriteBatch append_batch_;  // a replicated group's writes (CommitReplicated), reused
  std::string header_;                // one event's envelope header, reused
  std::unordered_map<uint64_t, uint64_t> next_offsets_;  // (topic id, partition) -> next offset
  std::unordered_map<std::string, GroupEvent> group_ids_;  // event ids staged in this group
  // With an upstream: each staged event's topic, position and whole envelope, for Publish.
  struct StagedEvent {
    const TopicState* topic;
    PartitionId partition;
    Offset offset;
    std::string envelope;
  };
  std::vector<StagedEvent> staged_;
};

}  // namespace cairn
