// See groups.h. Offsets live in the `kafka` family under
//   "offset/" group '\0' topic '\0' BE32(partition) -> BE64(offset) metadata
#include "kafka/groups.h"

#include <spdlog/spdlog.h>

#include <algorithm>

#include "base/bytes.h"
#include "base/uuid.h"
#include "kafka/wire.h"

namespace cairn::kafka {
namespace {

constexpr std::string_view kOffsetPrefix = "offset/";
constexpr std::string_view kGroupPrefix = "group/";

// The first key after every key that starts with `prefix` (which ends in '/').
std::string PrefixEnd(std::string_view prefix) {
  std::string end(prefix);
  end.back() = char(end.back() + 1);
  return end;
}
constexpr std::chrono::milliseconds kTickEvery{100};

}  // namespace

GroupCoordinator::GroupCoordinator(Store* store, Family* family,
                                   std::chrono::milliseconds initial_delay, Persist persist)
    : store_(store), family_(family), initial_delay_(initial_delay), persist_(std::move(persist)) {}

// ---- Membership -----------------------------------------------------------------------------

void GroupCoordinator::Join(JoinRequest req, JoinDone done) {
  const auto now = Clock::now();
  JoinResult refused;
  refused.member_id = req.member_id;
  if (req.group.empty()) {
    refused.error = KafkaError::kInvalidGroupId;
    return done(refused);
  }
  if (req.session_timeout_ms < 1 || req.session_timeout_ms > 3'600'000) {
    refused.error = KafkaError::kInvalidSessionTimeout;
    return done(refused);
  }
  Group& g = groups_[req.group];
  const bool known = g.members.count(req.member_id) > 0;
  if (!req.member_id.empty() && !known) {
    refused.error = KafkaError::kUnknownMemberId;
    return done(refused);
  }
  if (!g.members.empty() && req.protocol_type != g.protocol_type) {
    refused.error = KafkaError::kInconsistentGroupProtocol;
    return done(refused);
  }
  const std::string id = known ? req.member_id : NewMemberId(req.client_id);
  Member& m = g.members[id];
  const Member previous = m;
  m.id = id;
  m.protocol_type = req.protocol_type;
  m.protocols = std::move(req.protocols);
  m.session_timeout = std::chrono::milliseconds(req.session_timeout_ms);
  m.rebalance_timeout = std::chrono::milliseconds(
      req.rebalance_timeout_ms > 0 ? req.rebalance_timeout_ms : req.session_timeout_ms);
  m.last_seen = now;
  if (!CommonProtocol(g)) {
    if (known) {
      m = previous;
    } else {
      g.members.erase(id);
    }
    refused.error = KafkaError::kInconsistentGroupProtocol;
    return done(refused);
  }
  if (m.pending_join) {  // the same member joined again before its last join was answered
    JoinResult stale;
    stale.error = KafkaError::kRebalanceInProgress;
    stale.member_id = id;
    m.pending_join(stale);
  }
  m.pending_join = std::move(done);
  g.protocol_type = m.protocol_type;
  if (g.state != State::kPreparingRebalance) PrepareRebalance(g, now, g.state == State::kEmpty);
  MaybeCompleteJoin(g, now);
}

void GroupCoordinator::Sync(const std::string& group, int32_t generation, const std::string& member_id,
                            std::vector<std::pair<std::string, std::string>> assignments,
                            SyncDone done) {
  auto git = groups_.find(group);
  if (git == groups_.end() || !git->second.members.count(member_id)) {
    return done({KafkaError::kUnknownMemberId, {}});
  }
  Group& g = git->second;
  Member& m = g.members[member_id];
  m.last_seen = Clock::now();
  if (generation != g.generation) return done({KafkaError::kIllegalGeneration, {}});
  if (g.state == State::kPreparingRebalance) return done({KafkaError::kRebalanceInProgress, {}});
  if (g.state == State::kStable) return done({KafkaError::kNone, m.assignment});
  if (member_id != g.leader) {
    m.pending_sync = std::move(done);
    return;
  }
  for (auto& [id, member] : g.members) member.assignment.clear();
  for (auto& [id, assignment] : assignments) {
    if (auto it = g.members.find(id); it != g.members.end()) it->second.assignment = std::move(assignment);
  }
  g.state = State::kStable;
  spdlog::info("kafka: group {} generation {} is stable with {} members", group, g.generation,
               g.members.size());
  Save(group, g);
  done({KafkaError::kNone, m.assignment});
  for (auto& [id, member] : g.members) {
    if (!member.pending_sync) continue;
    SyncDone answer = std::move(member.pending_sync);
    member.pending_sync = nullptr;
    answer({KafkaError::kNone, member.assignment});
  }
}

KafkaError GroupCoordinator::Heartbeat(const std::string& group, int32_t generation,
                                       const std::string& member_id) {
  auto git = groups_.find(group);
  if (git == groups_.end() || !git->second.members.count(member_id)) return KafkaError::kUnknownMemberId;
  Group& g = git->second;
  g.members[member_id].last_seen = Clock::now();
  if (g.state == State::kPreparingRebalance) return KafkaError::kRebalanceInProgress;
  if (generation != g.generation) return KafkaError::kIllegalGeneration;
  return KafkaError::kNone;
}

KafkaError GroupCoordinator::Leave(const std::string& group, const std::string& member_id) {
  auto git = groups_.find(group);
  if (git == groups_.end() || !git->second.members.count(member_id)) return KafkaError::kUnknownMemberId;
  spdlog::info("kafka: member {} left group {}", member_id, group);
  RemoveMember(group, git->second, member_id, Clock::now());
  return KafkaError::kNone;
}

// ---- Rebalancing ----------------------------------------------------------------------------

void GroupCoordinator::PrepareRebalance(Group& g, Clock::time_point now, bool initial) {
  for (auto& [id, member] : g.members) {
    if (!member.pending_sync) continue;
    SyncDone answer = std::move(member.pending_sync);
    member.pending_sync = nullptr;
    answer({KafkaError::kRebalanceInProgress, {}});
  }
  std::chrono::milliseconds wait = initial_delay_;
  if (!initial) {
    wait = std::chrono::milliseconds(0);
    for (const auto& [id, member] : g.members) wait = std::max(wait, member.rebalance_timeout);
  }
  g.state = State::kPreparingRebalance;
  g.initial_phase = initial;
  g.rebalance_deadline = now + wait;
}

void GroupCoordinator::MaybeCompleteJoin(Group& g, Clock::time_point now) {
  if (g.state != State::kPreparingRebalance) return;
  const bool all_joined = std::all_of(g.members.begin(), g.members.end(),
                                      [](const auto& kv) { return bool(kv.second.pending_join); });
  const bool due = now >= g.rebalance_deadline;
  if (!due && (!all_joined || g.initial_phase)) return;
  for (auto it = g.members.begin(); it != g.members.end();) {
    if (it->second.pending_join) {
      ++it;
      continue;
    }
    spdlog::info("kafka: member {} did not rejoin in time and leaves its group", it->first);
    if (g.leader == it->first) g.leader.clear();
    it = g.members.erase(it);
  }
  if (g.members.empty()) {
    g.state = State::kEmpty;
    return;
  }
  CompleteJoin(g);
}

void GroupCoordinator::CompleteJoin(Group& g) {
  ++g.generation;
  g.protocol = CommonProtocol(g).value_or("");
  if (!g.members.count(g.leader)) g.leader = g.members.begin()->first;
  g.state = State::kCompletingRebalance;
  const auto now = Clock::now();
  for (auto& [id, member] : g.members) {
    JoinResult result;
    result.generation = g.generation;
    result.protocol = g.protocol;
    result.leader = g.leader;
    result.member_id = id;
    if (id == g.leader) {
      for (const auto& [other_id, other] : g.members) {
        for (const auto& [name, metadata] : other.protocols) {
          if (name == g.protocol) result.members.emplace_back(other_id, metadata);
        }
      }
    }
    member.last_seen = now;
    JoinDone answer = std::move(member.pending_join);
    member.pending_join = nullptr;
    answer(result);
  }
}

void GroupCoordinator::RemoveMember(const std::string& name, Group& g, const std::string& member_id,
                                    Clock::time_point now) {
  Member& m = g.members[member_id];
  if (m.pending_join) m.pending_join(JoinResult{KafkaError::kUnknownMemberId, -1, {}, {}, member_id, {}});
  if (m.pending_sync) m.pending_sync({KafkaError::kUnknownMemberId, {}});
  g.members.erase(member_id);
  if (g.leader == member_id) g.leader.clear();
  if (g.members.empty()) {
    g.state = State::kEmpty;
    Save(name, g);
    return;
  }
  PrepareRebalance(g, now, false);
  MaybeCompleteJoin(g, now);
}

// The first protocol of the longest-standing member's list that every member supports.
std::optional<std::string> GroupCoordinator::CommonProtocol(const Group& g) const {
  if (g.members.empty()) return std::nullopt;
  const Member& first = g.members.count(g.leader) ? g.members.at(g.leader) : g.members.begin()->second;
  for (const auto& protocol : first.protocols) {
    const std::string& name = protocol.first;  // not a structured binding: clang 14's lambdas
                                               // cannot capture one (the fuzz build)
    const bool everyone = std::all_of(g.members.begin(), g.members.end(), [&](const auto& kv) {
      return std::any_of(kv.second.protocols.begin(), kv.second.protocols.end(),
                         [&](const auto& p) { return p.first == name; });
    });
    if (everyone) return name;
  }
  return std::nullopt;
}

std::string GroupCoordinator::NewMemberId(const std::string& client_id) {
  return (client_id.empty() ? std::string("member") : client_id) + "-" + NewUuid();
}

std::optional<Clock::time_point> GroupCoordinator::Tick(Clock::time_point now) {
  bool any = false;
  for (auto& [name, g] : groups_) {
    std::vector<std::string> expired;
    for (const auto& [id, member] : g.members) {
      if (!member.pending_join && now - member.last_seen > member.session_timeout) expired.push_back(id);
    }
    for (const std::string& id : expired) {
      spdlog::info("kafka: member {} of group {} missed its session timeout", id, name);
      RemoveMember(name, g, id, now);
    }
    MaybeCompleteJoin(g, now);
    any |= !g.members.empty();
  }
  if (!any) return std::nullopt;
  return now + kTickEvery;
}

// ---- Offsets --------------------------------------------------------------------------------

KafkaError GroupCoordinator::CheckCommit(const std::string& group, int32_t generation,
                                         const std::string& member_id) const {
  if (group.empty()) return KafkaError::kInvalidGroupId;
  if (generation < 0 && member_id.empty()) return KafkaError::kNone;  // a commit outside any group
  auto git = groups_.find(group);
  if (git == groups_.end() || !git->second.members.count(member_id)) return KafkaError::kUnknownMemberId;
  // As Kafka: while a rebalance gathers members, the generation that is ending may still
  // commit (consumers commit what they read as their partitions are revoked, or the next owner
  // reads it again); between the join and the assignment there is nothing to commit for.
  if (git->second.state == State::kCompletingRebalance) return KafkaError::kRebalanceInProgress;
  if (generation != git->second.generation) return KafkaError::kIllegalGeneration;
  return KafkaError::kNone;
}

std::string GroupCoordinator::OffsetKey(const std::string& group, const std::string& topic,
                                        int32_t partition) {
  std::string key(kOffsetPrefix);
  key += group;
  key.push_back('\0');
  key += topic;
  key.push_back('\0');
  bytes::PutBigEndian32(&key, uint32_t(partition));
  return key;
}

WriteBatch GroupCoordinator::CommitWrites(
    const std::string& group,
    const std::vector<std::tuple<std::string, int32_t, CommittedOffset>>& offsets) {
  WriteBatch batch;
  for (const auto& [topic, partition, committed] : offsets) {
    std::string value;
    bytes::PutBigEndian64(&value, uint64_t(committed.offset));
    value += committed.metadata;
    batch.Put(family_, OffsetKey(group, topic, partition), value);
  }
  return batch;
}

Result<CommittedOffset> GroupCoordinator::Committed(const std::string& group, const std::string& topic,
                                                    int32_t partition) const {
  CAIRN_ASSIGN_OR_RETURN(std::optional<std::string> value,
                         store_->Get(family_, OffsetKey(group, topic, partition)));
  if (!value || value->size() < 8) return CommittedOffset{};
  return CommittedOffset{int64_t(bytes::GetBigEndian64(*value)), value->substr(8)};
}

std::vector<GroupCoordinator::GroupOffset> GroupCoordinator::AllCommitted() const {
  std::vector<GroupOffset> out;
  Status s = store_->Scan(family_, kOffsetPrefix, PrefixEnd(kOffsetPrefix), [&](std::string_view key, std::string_view value) {
    key.remove_prefix(kOffsetPrefix.size());
    const size_t a = key.find('\0');
    const size_t b = a == std::string_view::npos ? a : key.find('\0', a + 1);
    if (b == std::string_view::npos || key.size() != b + 5 || value.size() < 8) return true;
    out.push_back({std::string(key.substr(0, a)), std::string(key.substr(a + 1, b - a - 1)),
                   int32_t(bytes::GetBigEndian32(key.substr(b + 1))),
                   int64_t(bytes::GetBigEndian64(value))});
    return true;
  });
  if (!s.ok()) spdlog::warn("kafka: could not read committed offsets: {}", s.ToString());
  return out;
}

// ---- Persisted groups -----------------------------------------------------------------------

void GroupCoordinator::Save(const std::string& name, const Group& g) {
  WriteBatch batch;
  batch.Put(family_, std::string(kGroupPrefix) + name, EncodeGroup(g));
  persist_(std::move(batch));
}

Status GroupCoordinator::Load() {
  const auto now = Clock::now();
  return store_->Scan(family_, kGroupPrefix, PrefixEnd(kGroupPrefix),
                      [&](std::string_view key, std::string_view value) {
                        Group g;
                        if (!DecodeGroup(value, &g)) return true;
                        for (auto& [id, member] : g.members) member.last_seen = now;
                        g.state = g.members.empty() ? State::kEmpty : State::kStable;
                        groups_[std::string(key.substr(kGroupPrefix.size()))] = std::move(g);
                        return true;
                      });
}

// generation, protocol type, protocol, leader, then each member: id, session and rebalance
// timeouts (ms), its protocols (name, metadata) and its assignment.
std::string GroupCoordinator::EncodeGroup(const Group& g) {
  WireWriter w;
  w.Int32(g.generation);
  w.String(g.protocol_type);
  w.String(g.protocol);
  w.String(g.leader);
  w.ArrayLength(g.members.size());
  for (const auto& [id, m] : g.members) {
    w.String(id);
    w.Int32(int32_t(m.session_timeout.count()));
    w.Int32(int32_t(m.rebalance_timeout.count()));
    w.ArrayLength(m.protocols.size());
    for (const auto& [protocol, metadata] : m.protocols) {
      w.String(protocol);
      w.Bytes(metadata);
    }
    w.Bytes(m.assignment);
  }
  return w.Take();
}

bool GroupCoordinator::DecodeGroup(std::string_view value, Group* g) {
  WireReader r(value);
  g->generation = r.Int32();
  g->protocol_type = r.String();
  g->protocol = r.String();
  g->leader = r.String();
  const int32_t n = r.ArrayLength(4).value_or(0);
  for (int32_t i = 0; r.ok() && i < n; ++i) {
    Member m;
    m.id = r.String();
    m.protocol_type = g->protocol_type;
    m.session_timeout = std::chrono::milliseconds(r.Int32());
    m.rebalance_timeout = std::chrono::milliseconds(r.Int32());
    const int32_t np = r.ArrayLength(6).value_or(0);
    for (int32_t p = 0; r.ok() && p < np; ++p) {
      std::string protocol = r.String();
      m.protocols.emplace_back(std::move(protocol), std::string(r.Bytes()));
    }
    m.assignment = std::string(r.Bytes());
    g->members[m.id] = std::move(m);
  }
  return r.ok() && r.remaining() == 0;
}

}  // namespace cairn::kafka
