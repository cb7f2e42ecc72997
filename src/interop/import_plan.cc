// Step 2 of the import (import.h): the lines checked against each other and the data dir, the
// topics to create and the order of the appends.
#include <algorithm>
#include <functional>
#include <map>
#include <queue>
#include <tuple>
#include <unordered_map>
#include <unordered_set>

#include "interop/import.h"

namespace cairn::interop {
namespace {

// A line's fate while it is planned.
struct Candidate {
  ImportEvent e;
  enum class Fate { kNew, kSkipped, kRejected } fate = Fate::kNew;
};

struct Planning {
  std::vector<Candidate> candidates;
  std::vector<Rejection> rejections;
  void Reject(Candidate& c, std::string reason) {
    c.fate = Candidate::Fate::kRejected;
    rejections.push_back({c.e.line, std::move(reason)});
  }
  // The new candidates of each stream, in version order (input order among equal versions).
  std::map<std::string, std::vector<Candidate*>> NewByStream() {
    std::map<std::string, std::vector<Candidate*>> streams;
    for (Candidate& c : candidates) {
      if (c.fate == Candidate::Fate::kNew) streams[c.e.stream].push_back(&c);
    }
    for (auto& [stream, events] : streams) {
      std::stable_sort(events.begin(), events.end(), [](const Candidate* a, const Candidate* b) {
        return a->e.version < b->e.version;
      });
    }
    return streams;
  }
};

// ---- Against the input and the dir ------------------------------------------------------------

bool SameEvent(const ImportEvent& a, const ImportEvent& b) {
  return a.topic == b.topic && a.stream == b.stream && a.version == b.version &&
         a.event.type == b.event.type && a.event.data == b.event.data &&
         a.event.metadata == b.event.metadata && a.event.timestamp_us == b.event.timestamp_us;
}

// An id twice in the input: the same event again is skipped, another event is rejected.
void MarkInputDuplicates(Planning* p) {
  std::unordered_map<std::string, size_t> first;
  for (size_t i = 0; i < p->candidates.size(); ++i) {
    Candidate& c = p->candidates[i];
    auto [it, inserted] = first.emplace(c.e.event.id, i);
    if (inserted) continue;
    const ImportEvent& original = p->candidates[it->second].e;
    if (SameEvent(original, c.e)) {
      c.fate = Candidate::Fate::kSkipped;
    } else {
      p->Reject(c, "event id " + c.e.event.id + " is also on line " +
                       std::to_string(original.line) + " with different content");
    }
  }
}

Status MarkStored(const Log& log, Planning* p) {
  for (Candidate& c : p->candidates) {
    if (c.fate != Candidate::Fate::kNew) continue;
    Result<Event> stored = log.ReadEvent(c.e.event.id);
    if (stored.ok()) {
      c.fate = Candidate::Fate::kSkipped;
    } else if (stored.status().code() != ErrorCode::kNotFound) {
      return stored.status();
    }
  }
  return Status::Ok();
}

// A checker's verdict in the line's own terms: a kcat record's event fields live in its payload.
std::string CheckerReason(const Status& s, const ImportEvent& e) {
  const std::string& field = s.field();
  const bool names_data = field == "data" || field.rfind("data.", 0) == 0;
  return e.from_kafka && names_data ? "payload." + s.message() : s.message();
}

// Why `c` cannot be the next event of its stream (expected version `next`), or "".
std::string StreamReason(const Candidate& c, const Candidate* previous, uint64_t head,
                         uint64_t next, StreamChecker* checker) {
  const ImportEvent& e = c.e;
  if (e.version == next) {
    if (!checker) return "";
    Status s = checker->Check(e.event, StreamVersion(e.version));
    return s.ok() ? "" : CheckerReason(s, e);
  }
  if (previous && previous->e.version == e.version) {
    return "version " + std::to_string(e.version) + " of stream " + e.stream +
           " is also on line " + std::to_string(previous->e.line);
  }
  if (e.version <= head) {
    return "stream " + e.stream + " already has version " + std::to_string(e.version) +
           " in this data dir, with another event id";
  }
  return "stream " + e.stream + " would have a gap: version " + std::to_string(e.version) +
         " after version " + std::to_string(next - 1);
}

// The stream's checker, having folded in what the dir holds of it (head events).
Result<std::unique_ptr<StreamChecker>> LoadedChecker(const ImportTarget& target,
                                                     const std::string& stream, uint64_t head) {
  std::unique_ptr<StreamChecker> checker =
      target.new_checker ? target.new_checker(stream) : nullptr;
  if (!checker || head == 0) return checker;
  CAIRN_ASSIGN_OR_RETURN(const std::vector<Event> stored,
                         target.log->ReadStream(stream, StreamVersion(1), head));
  for (const Event& e : stored) checker->Load(e);
  return checker;
}

// One stream's new events, in version order: they must continue from the stream's head without
// gaps or repeats and pass the domain's checker. After the first rejected one, the rest are
// rejected too (they would leave a gap).
Status CheckStream(const std::string& stream, const std::vector<Candidate*>& events,
                   const ImportTarget& target, Planning* p) {
  uint64_t head = 0;
  if (target.log) {
    CAIRN_ASSIGN_OR_RETURN(const StreamVersion stored, target.log->StreamHead(stream));
    head = stored.value();
  }
  CAIRN_ASSIGN_OR_RETURN(std::unique_ptr<StreamChecker> checker,
                         LoadedChecker(target, stream, head));
  uint64_t next = head + 1;
  const Candidate* broken_by = nullptr;
  const Candidate* previous = nullptr;
  for (Candidate* c : events) {
    if (broken_by) {
      p->Reject(*c, "stream " + stream + " cannot continue after rejected line " +
                        std::to_string(broken_by->e.line));
      continue;
    }
    std::string reason = StreamReason(*c, previous, head, next, checker.get());
    if (!reason.empty()) {
      p->Reject(*c, std::move(reason));
      broken_by = c;
      continue;
    }
    previous = c;
    ++next;
  }
  return Status::Ok();
}

// ---- Topics and partitions ----------------------------------------------------------------

// The partition count for a topic the dir does not have yet: `flag` when set, else 8 when it
// reproduces every partition the input recorded, else the smallest count that does, else 8.
uint32_t ChoosePartitions(const std::vector<const ImportEvent*>& events, uint32_t flag) {
  if (flag > 0) return flag;
  std::vector<std::pair<uint32_t, uint32_t>> hashes;  // (murmur2 & 0x7fffffff, partition)
  std::unordered_set<std::string_view> seen;
  uint64_t min_count = 1;
  for (const ImportEvent* e : events) {
    if (!e->source_partition) continue;
    const std::string_view key = StreamKey(e->stream);
    if (!seen.insert(key).second) continue;
    hashes.emplace_back(uint32_t(Murmur2(key)) & 0x7fffffff, *e->source_partition);
    min_count = std::max(min_count, uint64_t{*e->source_partition} + 1);
  }
  auto fits = [&](uint64_t n) {
    if (n < min_count) return false;
    for (const auto& [hash, partition] : hashes) {
      if (hash % n != partition) return false;
    }
    return true;
  };
  if (hashes.empty() || fits(kDefaultImportPartitions)) return kDefaultImportPartitions;
  for (uint64_t n = min_count; n <= kMaxPartitions; ++n) {
    if (fits(n)) return uint32_t(n);
  }
  return kDefaultImportPartitions;
}

// Topics to create, with their partition count.
std::map<std::string, uint32_t> PlanTopics(const Planning& p, const ImportTarget& target) {
  std::map<std::string, std::vector<const ImportEvent*>> by_topic;
  for (const Candidate& c : p.candidates) {
    if (c.fate != Candidate::Fate::kNew) continue;
    if (target.log && target.log->GetTopic(c.e.topic).ok()) continue;
    by_topic[c.e.topic].push_back(&c.e);
  }
  std::map<std::string, uint32_t> topics;
  for (const auto& [topic, events] : by_topic) {
    topics[topic] = ChoosePartitions(events, target.partitions);
  }
  return topics;
}

// ---- Append order ---------------------------------------------------------------------------

// The new events in the order to append them: per stream in version order, streams
// interleaved by seq (Cairn events, when all carry one), else by line (Cairn), then Kafka
// records by timestamp. Moves the events out of `p`.
std::vector<ImportEvent> AppendOrder(Planning* p) {
  std::map<std::string, std::vector<Candidate*>> streams = p->NewByStream();
  const bool every_seq = std::all_of(p->candidates.begin(), p->candidates.end(), [](const Candidate& c) {
    return c.fate != Candidate::Fate::kNew || c.e.from_kafka || c.e.seq;
  });
  using Key = std::tuple<int, int64_t, size_t>;
  auto key_of = [&](const Candidate* c) -> Key {
    if (c->e.from_kafka) return {1, c->e.event.timestamp_us, c->e.line};
    return {0, every_seq ? int64_t(*c->e.seq) : int64_t(c->e.line), c->e.line};
  };
  struct Head {
    Key key;
    std::vector<Candidate*>* events;
    size_t next;
    bool operator>(const Head& o) const { return key > o.key; }
  };
  std::priority_queue<Head, std::vector<Head>, std::greater<Head>> heads;
  for (auto& [stream, events] : streams) heads.push(Head{key_of(events[0]), &events, 0});
  std::vector<ImportEvent> order;
  while (!heads.empty()) {
    Head head = heads.top();
    heads.pop();
    order.push_back(std::move((*head.events)[head.next]->e));
    if (++head.next < head.events->size()) {
      head.key = key_of((*head.events)[head.next]);
      heads.push(head);
    }
  }
  return order;
}

}  // namespace

StreamCheckerSource CheckersOf(std::vector<DomainSpec> domains) {
  return [domains = std::move(domains)](std::string_view stream) {
    return NewStreamChecker(domains, stream);
  };
}

Result<ImportPlan> PlanImport(ImportInput input, const ImportTarget& target) {
  Planning p;
  p.rejections = std::move(input.rejections);
  p.candidates.reserve(input.events.size());
  for (ImportEvent& e : input.events) p.candidates.push_back(Candidate{std::move(e)});

  MarkInputDuplicates(&p);
  if (target.log) CAIRN_RETURN_IF_ERROR(MarkStored(*target.log, &p));
  for (const auto& [stream, events] : p.NewByStream()) {
    CAIRN_RETURN_IF_ERROR(CheckStream(stream, events, target, &p));
  }

  ImportPlan plan;
  plan.lines = input.lines;
  plan.skipped = std::count_if(p.candidates.begin(), p.candidates.end(), [](const Candidate& c) {
    return c.fate == Candidate::Fate::kSkipped;
  });
  plan.new_topics = PlanTopics(p, target);
  plan.appends = AppendOrder(&p);
  std::stable_sort(p.rejections.begin(), p.rejections.end(),
                   [](const Rejection& a, const Rejection& b) { return a.line < b.line; });
  plan.rejections = std::move(p.rejections);
  return plan;
}

}  // namespace cairn::interop
