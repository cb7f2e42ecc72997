// LogCursor and Log::ScanInSeqOrder: the events of several topics merged in seq order, the
// reader behind projections, the live stream and export (include/cairn/log.h). Each partition
// is read with its own iterator bounded by its high-water mark; a heap on seq merges them.
#include <algorithm>
#include <functional>
#include <optional>
#include <queue>
#include <string>
#include <utility>
#include <vector>

#include "log/envelope.h"
#include "log/log_rep.h"
#include "log/rocks.h"

namespace cairn {

namespace env = envelope;

struct LogCursor::PartitionCursor {
  TopicState* topic;
  PartitionId partition;
  Offset next;
  // Scratch for one Next() call.
  std::string upper;
  rocksdb::Slice upper_slice;
  std::unique_ptr<rocksdb::Iterator> it;
  std::optional<EventView> head;  // the event `it` points at, decoded once for heap and visitor

  // Points `it` at `next`, bounded by the high-water mark now, and `head` at the event there;
  // no iterator and no head when the partition has nothing new.
  Status Seek(rocksdb::DB* db, rocksdb::ColumnFamilyHandle* cf) {
    const uint64_t hwm = topic->high_water[partition.value()].load(std::memory_order_acquire);
    it.reset();
    head.reset();
    if (next.value() >= hwm) return Status::Ok();
    upper = env::LogKey(topic->id, partition, Offset(hwm));
    upper_slice = rocksdb::Slice(upper);
    rocksdb::ReadOptions ro = LogScanOptions();
    ro.iterate_upper_bound = &upper_slice;
    it.reset(db->NewIterator(ro, cf));
    it->Seek(env::LogKey(topic->id, partition, next));
    return DecodeHead();
  }
  // Moves past `head`, which the caller consumed.
  Status Step() {
    next = Offset(head->offset().value() + 1);
    it->Next();
    return DecodeHead();
  }
  Status DecodeHead() {
    if (it->Valid()) {
      head.emplace(topic->name, partition, env::LogKeyOffset(ToView(it->key())),
                   ToView(it->value()));
    } else {
      head.reset();
    }
    return FromRocks(it->status(), "log read");
  }
  // Drops the iterator and the head, which views into its block.
  void Release() {
    head.reset();
    it.reset();
  }
};

LogCursor::LogCursor(const Log* log, std::vector<std::string> topics, Seq after)
    : log_(log), topics_(std::move(topics)), last_seq_(after), caught_up_to_(after) {}
LogCursor::~LogCursor() = default;

Result<std::unique_ptr<LogCursor>> Log::OpenCursor(std::vector<std::string> topics, Seq after) const {
  std::unique_ptr<LogCursor> cursor(new LogCursor(this, std::move(topics), after));
  CAIRN_RETURN_IF_ERROR(cursor->AddNewPartitions());
  return cursor;
}

// Picks up topics that appeared since the last call (they start after last_seq_).
Status LogCursor::AddNewPartitions() {
  std::vector<TopicState*> wanted;
  if (topics_.empty()) {
    wanted = log_->rep_->AllTopics();
  } else {
    for (const std::string& name : topics_) {
      if (TopicState* t = log_->rep_->FindTopic(name)) wanted.push_back(t);
    }
  }
  for (TopicState* t : wanted) {
    const bool known = std::any_of(partitions_.begin(), partitions_.end(),
                                   [&](const auto& pc) { return pc->topic == t; });
    if (known) continue;
    for (uint32_t p = 0; p < t->partitions; ++p) {
      CAIRN_ASSIGN_OR_RETURN(const Offset start,
                             log_->rep_->FirstOffsetAfter(*t, PartitionId(p), last_seq_));
      partitions_.push_back(std::make_unique<PartitionCursor>(
          PartitionCursor{t, PartitionId(p), start, {}, {}, nullptr, std::nullopt}));
    }
  }
  return Status::Ok();
}

Result<size_t> LogCursor::Next(size_t limit, const Log::EventVisitor& visit) {
  // Everything with seq <= bound is committed, and its partition's high-water mark (published
  // before the seq) covers it, so the merge below sees a gapless prefix of the log.
  const Seq bound = log_->LastSeq();
  if (bound <= last_seq_ || limit == 0) {
    caught_up_to_ = std::max(caught_up_to_, last_seq_);
    return size_t{0};
  }
  CAIRN_RETURN_IF_ERROR(AddNewPartitions());

  rocksdb::DB* db = log_->rep_->db;
  auto* cf = HandleOf(log_->rep_->log_cf);
  using HeapEntry = std::pair<uint64_t, size_t>;  // (seq, index into partitions_)
  std::priority_queue<HeapEntry, std::vector<HeapEntry>, std::greater<>> heap;
  for (size_t i = 0; i < partitions_.size(); ++i) {
    PartitionCursor& pc = *partitions_[i];
    CAIRN_RETURN_IF_ERROR(pc.Seek(db, cf));
    if (pc.head) heap.emplace(pc.head->seq().value(), i);
  }

  size_t consumed = 0;
  bool exhausted = true;  // consumed everything with seq <= bound
  while (!heap.empty()) {
    auto [seq, i] = heap.top();
    if (seq > bound.value()) break;
    if (consumed == limit) {
      exhausted = false;
      break;
    }
    heap.pop();
    PartitionCursor& pc = *partitions_[i];
    if (!visit(*pc.head)) {
      exhausted = false;
      break;
    }
    last_seq_ = Seq(seq);
    ++consumed;
    CAIRN_RETURN_IF_ERROR(pc.Step());
    if (pc.head) heap.emplace(pc.head->seq().value(), i);
  }
  for (auto& pc : partitions_) pc->Release();
  caught_up_to_ = exhausted ? bound : last_seq_;
  return consumed;
}

std::vector<LogCursor::PartitionPosition> LogCursor::positions() const {
  std::vector<PartitionPosition> out;
  for (const auto& pc : partitions_) out.push_back({pc->topic->name, pc->partition, pc->next});
  return out;
}

Status Log::ScanInSeqOrder(const std::vector<std::string>& topics, Seq after, size_t limit,
                           const EventVisitor& visit) const {
  CAIRN_ASSIGN_OR_RETURN(std::unique_ptr<LogCursor> cursor, OpenCursor(topics, after));
  bool stopped = false;
  const EventVisitor until_stopped = [&](const EventView& e) { return !(stopped = !visit(e)); };
  size_t left = limit;
  while (left > 0 && !stopped) {
    CAIRN_ASSIGN_OR_RETURN(const size_t n, cursor->Next(left, until_stopped));
    if (n == 0) break;
    left -= n;
  }
  return Status::Ok();
}

}  // namespace cairn
