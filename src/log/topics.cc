// Opening the log (its families, the format marker, the topics with their high-water marks and
// the global seq restored from the last event of each partition) and the topic catalogue:
// CreateTopic, Topics, GetTopic. See include/cairn/log.h.
#include <spdlog/spdlog.h>

#include <algorithm>
#include <string>
#include <utility>
#include <vector>

#include "base/bytes.h"
#include "log/envelope.h"
#include "log/format.h"
#include "log/log_rep.h"

namespace cairn {

namespace env = envelope;

namespace {

// A topic as stored in the topics family: name -> topic id (4) | partitions (4).
Result<std::unique_ptr<TopicState>> ParseTopic(const std::string& name, std::string_view value) {
  if (value.size() != 8) return Status::Corruption("bad metadata of topic " + name);
  auto topic = std::make_unique<TopicState>();
  topic->name = name;
  topic->id = TopicId(bytes::GetBigEndian32(value));
  topic->partitions = bytes::GetBigEndian32(value.substr(4));
  topic->high_water = std::make_unique<std::atomic<uint64_t>[]>(topic->partitions);
  return topic;
}

// Sets each partition's high-water mark from its last event, and raises *last_seq to the
// largest seq among those events.
Status RestoreHighWaterMarks(const Store& store, Family* log_cf, TopicState* topic,
                             uint64_t* last_seq) {
  for (uint32_t p = 0; p < topic->partitions; ++p) {
    uint64_t hwm = 0;
    const PartitionId pid(p);
    CAIRN_RETURN_IF_ERROR(store.Scan(
        log_cf, env::LogKey(topic->id, pid, Offset(0)), env::LogKeyPartitionEnd(topic->id, pid),
        [&](std::string_view key, std::string_view envelope) {
          hwm = env::LogKeyOffset(key).value() + 1;
          *last_seq = std::max(*last_seq, env::SeqOf(envelope).value());
          return false;
        },
        /*reverse=*/true));
    topic->high_water[p].store(hwm);
  }
  return Status::Ok();
}

TopicInfo Describe(const TopicState& t) {
  TopicInfo info{t.name, t.id, t.partitions, {}};
  for (uint32_t p = 0; p < t.partitions; ++p) {
    info.partition_info.push_back(
        PartitionInfo{PartitionId(p), Offset(t.high_water[p].load(std::memory_order_acquire))});
  }
  return info;
}

}  // namespace

Log::Log(Store* store, const LogOptions& options)
    : store_(store), options_(options), rep_(std::make_unique<Rep>()) {}

Log::~Log() { Close(); }

Result<std::unique_ptr<Log>> Log::Open(Store* store, const LogOptions& options) {
  if (options.default_partitions == 0 || options.default_partitions > kMaxPartitions) {
    return Status::InvalidArgument("default partitions must be 1-4096", "partitions");
  }
  std::unique_ptr<Log> log(new Log(store, options));
  Rep& rep = *log->rep_;
  rep.store = store;
  rep.db = store->db();
  rep.max_cached_heads = options.max_cached_stream_heads;
  rep.options = options;
  rep.upstream = options.upstream.get();
  CAIRN_RETURN_IF_ERROR(rep.OpenFamilies());
  CAIRN_RETURN_IF_ERROR(CheckAndRecordFormat(store));
  CAIRN_ASSIGN_OR_RETURN(const uint64_t last_seq, rep.RestoreTopics());
  rep.next_seq = last_seq + 1;
  rep.committed_seq.store(last_seq);
  spdlog::info("log open: {} topics, last seq {}", rep.topics.size(), last_seq);
  return log;
}

Status Log::Rep::OpenFamilies() {
  struct {
    std::string_view name;
    FamilyKind kind;
    Family** slot;
  } families[] = {{kLogFamily, FamilyKind::kOrdered, &log_cf},
                  {kStreamIndexFamily, FamilyKind::kOrdered, &streams_cf},
                  {kEventIdFamily, FamilyKind::kPointLookup, &ids_cf},
                  {"topics", FamilyKind::kOrdered, &topics_cf}};
  for (auto& f : families) {
    CAIRN_ASSIGN_OR_RETURN(*f.slot, store->OpenFamily(std::string(f.name), f.kind));
  }
  return Status::Ok();
}

// Runs before the Log is shared, so it fills the topic maps without taking topics_mu.
Result<uint64_t> Log::Rep::RestoreTopics() {
  std::vector<std::pair<std::string, std::string>> stored;
  CAIRN_RETURN_IF_ERROR(store->Scan(topics_cf, "", "", [&](auto key, auto value) {
    stored.emplace_back(std::string(key), std::string(value));
    return true;
  }));
  uint64_t last_seq = 0;
  for (auto& [name, value] : stored) {
    CAIRN_ASSIGN_OR_RETURN(std::unique_ptr<TopicState> topic, ParseTopic(name, value));
    CAIRN_RETURN_IF_ERROR(RestoreHighWaterMarks(*store, log_cf, topic.get(), &last_seq));
    if (topics_by_id.size() <= topic->id.value()) topics_by_id.resize(topic->id.value() + 1);
    topics_by_id[topic->id.value()] = topic.get();
    topics.emplace(name, std::move(topic));
  }
  return last_seq;
}

Result<TopicInfo> Log::CreateTopic(const std::string& name, uint32_t partitions) {
  CAIRN_RETURN_IF_ERROR(ValidateTopicName(name));
  if (partitions == 0 || partitions > kMaxPartitions) {
    return Status::InvalidArgument("partitions must be 1-4096", "partitions");
  }
  std::lock_guard create_lock(rep_->create_topic_mu);
  if (TopicState* existing = rep_->FindTopic(name)) {
    if (existing->partitions != partitions) {
      return Status::Conflict("topic " + name + " exists with " +
                              std::to_string(existing->partitions) + " partitions");
    }
    return Describe(*existing);
  }
  if (rep_->upstream != nullptr) {
    CAIRN_ASSIGN_OR_RETURN(const uint32_t upstream_partitions,
                           rep_->upstream->CreateTopic(name, partitions));
    if (upstream_partitions != partitions) {
      return Status::Conflict("topic " + name + " exists upstream with " +
                              std::to_string(upstream_partitions) + " partitions");
    }
  }
  auto topic = std::make_unique<TopicState>();
  topic->name = name;
  {
    std::shared_lock lock(rep_->topics_mu);
    topic->id = TopicId(static_cast<uint32_t>(rep_->topics_by_id.size()));
  }
  topic->partitions = partitions;
  topic->high_water = std::make_unique<std::atomic<uint64_t>[]>(partitions);
  std::string value;
  bytes::PutBigEndian32(&value, topic->id.value());
  bytes::PutBigEndian32(&value, partitions);
  WriteBatch batch;
  batch.Put(rep_->topics_cf, name, value);
  CAIRN_RETURN_IF_ERROR(store_->Write(batch, /*durable=*/true));
  TopicInfo info = Describe(*topic);
  {
    std::unique_lock lock(rep_->topics_mu);
    rep_->topics_by_id.push_back(topic.get());
    rep_->topics.emplace(name, std::move(topic));
  }
  spdlog::info("created topic {} with {} partitions", name, partitions);
  return info;
}

std::vector<TopicInfo> Log::Topics() const {
  std::vector<TopicInfo> out;
  for (TopicState* t : rep_->AllTopics()) out.push_back(Describe(*t));
  return out;
}

Result<TopicInfo> Log::GetTopic(std::string_view name) const {
  TopicState* t = rep_->FindTopic(name);
  if (!t) return Status::NotFound("topic " + std::string(name) + " does not exist");
  return Describe(*t);
}

}  // namespace cairn
