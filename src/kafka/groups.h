// Consumer groups, classic protocol (the clients run the assignors): the join/sync barrier,
// heartbeats, leaving, session expiry, and committed offsets persisted in the `kafka` family.
// Cairn's one broker coordinates every group. Loop thread only: the handlers in
// group_handlers.cc call it, the broker calls Tick() for its timers.
//
// Lifecycle of a group (Kafka's names): Empty -> PreparingRebalance (a member joined or left;
// joins are held until every known member has rejoined, or the rebalance timeout, and a new
// group waits `initial_delay` for more members) -> CompletingRebalance (join answered, the
// leader's SyncGroup is awaited; followers' SyncGroups are held) -> Stable.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "cairn/store.h"
#include "kafka/protocol.h"

namespace cairn::kafka {

using Clock = std::chrono::steady_clock;

struct JoinRequest {
  std::string group;
  std::string member_id;  // empty: a new member
  std::string client_id;
  int32_t session_timeout_ms = 0;
  int32_t rebalance_timeout_ms = 0;
  std::string protocol_type;
  std::vector<std::pair<std::string, std::string>> protocols;  // name, metadata
};

struct JoinResult {
  KafkaError error = KafkaError::kNone;
  int32_t generation = -1;
  std::string protocol;
  std::string leader;
  std::string member_id;
  std::vector<std::pair<std::string, std::string>> members;  // the leader's only: id, metadata
};

struct SyncResult {
  KafkaError error = KafkaError::kNone;
  std::string assignment;
};

struct CommittedOffset {
  int64_t offset = -1;
  std::string metadata;
};

class GroupCoordinator {
 public:
  using JoinDone = std::function<void(const JoinResult&)>;
  using SyncDone = std::function<void(const SyncResult&)>;

  // Writes that must become durable; the coordinator does not wait for them.
  using Persist = std::function<void(WriteBatch)>;
  // `family`: the `kafka` family, where committed offsets and groups live. `initial_delay`: how
  // long a new (empty) group waits for more members before its first generation. `persist`
  // writes each stable group (generation, leader, members, their protocols and assignments)
  // so that after a restart its members go on heartbeating without a rebalance.
  GroupCoordinator(Store* store, Family* family, std::chrono::milliseconds initial_delay,
                   Persist persist);
  // Restores the groups persisted before a restart: stable groups come back stable, their
  // members given a session timeout from now to show up.
  Status Load();

  // JoinGroup: answered through `done` when the rebalance completes (or at once on error).
  void Join(JoinRequest req, JoinDone done);
  // SyncGroup: the leader's call carries every member's assignment.
  void Sync(const std::string& group, int32_t generation, const std::string& member_id,
            std::vector<std::pair<std::string, std::string>> assignments, SyncDone done);
  KafkaError Heartbeat(const std::string& group, int32_t generation, const std::string& member_id);
  KafkaError Leave(const std::string& group, const std::string& member_id);

  // OffsetCommit's check: a member of the current generation (or a commit outside any
  // group, generation -1) may commit, also while a rebalance gathers members (the ending
  // generation commits what it read); REBALANCE_IN_PROGRESS between join and assignment.
  KafkaError CheckCommit(const std::string& group, int32_t generation, const std::string& member_id) const;
  // The writes that persist `offsets` (for Broker::WriteDurably).
  WriteBatch CommitWrites(const std::string& group,
                          const std::vector<std::tuple<std::string, int32_t, CommittedOffset>>& offsets);
  // The committed offset, or offset -1 when none.
  Result<CommittedOffset> Committed(const std::string& group, const std::string& topic, int32_t partition) const;
  // Every committed offset of every group: (group, topic, partition, offset), for lag.
  struct GroupOffset {
    std::string group, topic;
    int32_t partition = 0;
    int64_t offset = -1;
  };
  std::vector<GroupOffset> AllCommitted() const;

  // Expires sessions and ends rebalances whose time is up. Returns when it next needs a call.
  std::optional<Clock::time_point> Tick(Clock::time_point now);

 private:
  enum class State { kEmpty, kPreparingRebalance, kCompletingRebalance, kStable };
  struct Member {
    std::string id;
    std::string protocol_type;
    std::vector<std::pair<std::string, std::string>> protocols;
    std::chrono::milliseconds session_timeout{0};
    std::chrono::milliseconds rebalance_timeout{0};
    Clock::time_point last_seen;
    JoinDone pending_join;  // set while its JoinGroup is held
    SyncDone pending_sync;  // set while its SyncGroup is held
    std::string assignment;
  };
  struct Group {
    State state = State::kEmpty;
    int32_t generation = 0;
    std::string protocol_type;
    std::string protocol;
    std::string leader;
    std::map<std::string, Member> members;
    Clock::time_point rebalance_deadline;
    bool initial_phase = false;  // a new group's first rebalance, held initial_delay
  };

  void PrepareRebalance(Group& g, Clock::time_point now, bool initial);
  void MaybeCompleteJoin(Group& g, Clock::time_point now);
  void CompleteJoin(Group& g);
  void RemoveMember(const std::string& name, Group& g, const std::string& member_id,
                    Clock::time_point now);
  std::optional<std::string> CommonProtocol(const Group& g) const;
  std::string NewMemberId(const std::string& client_id);
  static std::string OffsetKey(const std::string& group, const std::string& topic, int32_t partition);
  void Save(const std::string& name, const Group& g);
  static std::string EncodeGroup(const Group& g);
  static bool DecodeGroup(std::string_view value, Group* g);

  Store* store_;
  Family* family_;
  std::chrono::milliseconds initial_delay_;
  Persist persist_;
  std::map<std::string, Group> groups_;
};

}  // namespace cairn::kafka
