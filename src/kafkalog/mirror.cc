// The Kafka log's reader (see mirror.h).
#include "kafkalog/mirror.h"

#include <spdlog/spdlog.h>

#include <thread>
#include <vector>

#include "base/bytes.h"
#include "kafkalog/records.h"

namespace cairn::kafkalog {

namespace {

// Most events one Log::Replicate writes, and most records one Poll takes.
constexpr size_t kApplyBatch = 10'000;
// A partition with this many buffered events that cannot be applied yet is paused until it is
// down to kResumeBelow: the buffer waits for another partition's older events, and must not
// grow without bound meanwhile.
constexpr size_t kPauseAbove = 50'000;
constexpr size_t kResumeBelow = 10'000;

bool FindHeader(const void* record, std::string_view name, std::string_view* value) {
  rd_kafka_headers_t* headers = nullptr;
  if (rd_kafka_message_headers(static_cast<const rd_kafka_message_t*>(record), &headers) !=
      RD_KAFKA_RESP_ERR_NO_ERROR) {
    return false;
  }
  const void* data = nullptr;
  size_t size = 0;
  if (rd_kafka_header_get_last(headers, std::string(name).c_str(), &data, &size) !=
      RD_KAFKA_RESP_ERR_NO_ERROR) {
    return false;
  }
  *value = data == nullptr ? std::string_view() : std::string_view(static_cast<const char*>(data), size);
  return true;
}

}  // namespace

std::string PositionKey(std::string_view topic, int32_t partition) {
  std::string key(topic);
  key.push_back('\0');
  bytes::PutBigEndian32(&key, static_cast<uint32_t>(partition));
  return key;
}

void PutPosition(WriteBatch* batch, Family* positions, std::string_view topic, int32_t partition,
                 int64_t next_offset) {
  std::string value;
  bytes::PutBigEndian64(&value, static_cast<uint64_t>(next_offset));
  batch->Put(positions, PositionKey(topic, partition), value);
}

namespace {
constexpr std::string_view kClusterSeqKey("\0cluster-seq", 12);
}  // namespace

void PutClusterSeq(WriteBatch* batch, Family* positions, Seq seq) {
  std::string value;
  bytes::PutBigEndian64(&value, seq.value());
  batch->Put(positions, kClusterSeqKey, value);
}

Result<Family*> OpenPositions(Store* store) {
  return store->OpenFamily("kafka_positions", FamilyKind::kPointLookup);
}

Mirror::Mirror(const KafkaLogOptions& options, Log* log, Family* positions)
    : options_(options), log_(log), positions_(positions) {}

Mirror::~Mirror() {
  if (consumer_) rd_kafka_consumer_close(consumer_.get());
}

Status Mirror::Connect() {
  if (consumer_) return Status::Ok();
  CAIRN_ASSIGN_OR_RETURN(std::optional<std::string> stored,
                         log_->store()->Get(positions_, kClusterSeqKey));
  if (stored && stored->size() == 8) cluster_seq_ = bytes::GetBigEndian64(*stored);
  std::map<std::string, std::string> settings = options_.settings;
  settings["bootstrap.servers"] = options_.brokers;
  settings.try_emplace("socket.nagle.disable", "true");
  settings["group.id"] = "cairn-" + options_.cluster + "-" + options_.node;
  settings["enable.auto.commit"] = "false";
  settings["enable.auto.offset.store"] = "false";
  settings["isolation.level"] = "read_committed";  // records of aborted transactions stay unseen
  settings["enable.partition.eof"] = "true";
  settings["auto.offset.reset"] = "earliest";
  settings.try_emplace("fetch.wait.max.ms", "20");  // a replica's lag, when the writer is idle
  CAIRN_ASSIGN_OR_RETURN(consumer_, NewClient(RD_KAFKA_CONSUMER, settings));
  rd_kafka_poll_set_consumer(consumer_.get());
  return Status::Ok();
}

Status Mirror::SyncTopics() {
  CAIRN_ASSIGN_OR_RETURN(const auto topics,
                         ClusterTopics(consumer_.get(), static_cast<int>(options_.timeout.count())));
  PartitionList added(rd_kafka_topic_partition_list_new(0));
  for (const auto& [name, partitions] : topics) {
    Result<TopicInfo> local = log_->GetTopic(name);
    if (!local.ok()) local = log_->CreateTopic(name, partitions);
    CAIRN_RETURN_IF_ERROR(local.status());
    if (local->partitions != partitions) {
      return Status::Corruption("topic " + name + " has " + std::to_string(partitions) +
                                " partitions on the Kafka cluster and " +
                                std::to_string(local->partitions) + " here");
    }
    for (uint32_t p = 0; p < partitions; ++p) {
      const PartitionName key{name, static_cast<int32_t>(p)};
      if (assigned_.contains(key)) continue;
      CAIRN_ASSIGN_OR_RETURN(std::optional<std::string> stored,
                             log_->store()->Get(positions_, PositionKey(name, key.second)));
      const int64_t from = stored && stored->size() == 8
                               ? static_cast<int64_t>(bytes::GetBigEndian64(*stored))
                               : RD_KAFKA_OFFSET_BEGINNING;
      rd_kafka_topic_partition_list_add(added.get(), name.c_str(), key.second)->offset = from;
      assigned_[key] = from < 0 ? 0 : from;
      at_end_[key] = false;
    }
  }
  if (added->cnt == 0) return Status::Ok();
  Error error(rd_kafka_incremental_assign(consumer_.get(), added.get()));
  if (error) return Status::IOError(std::string("kafka: assign: ") + rd_kafka_error_string(error.get()));
  return Status::Ok();
}

Status Mirror::Poll(int timeout_ms) {
  for (size_t taken = 0; taken < kApplyBatch; ++taken) {
    rd_kafka_message_t* message =
        rd_kafka_consumer_poll(consumer_.get(), taken == 0 ? timeout_ms : 0);
    if (message == nullptr) break;
    Status s = Status::Ok();
    if (message->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
      const PartitionName key{rd_kafka_topic_name(message->rkt), message->partition};
      at_end_[key] = true;
      assigned_[key] = std::max(assigned_[key], message->offset);
    } else if (message->err != RD_KAFKA_RESP_ERR_NO_ERROR) {
      // The client retries by itself (a broker down, a leader moving): say so and go on.
      spdlog::warn("kafka log: reading: {}", rd_kafka_message_errstr(message));
    } else {
      s = Take(*message);
    }
    rd_kafka_message_destroy(message);
    CAIRN_RETURN_IF_ERROR(s);
  }
  return Status::Ok();
}

Status Mirror::Take(const rd_kafka_message_t& message) {
  const std::string topic = rd_kafka_topic_name(message.rkt);
  const PartitionName key{topic, message.partition};
  assigned_[key] = message.offset + 1;
  at_end_[key] = false;
  std::string_view ignored;
  if (!FindHeader(&message, "cairn.seq", &ignored)) {
    if (!foreign_topics_[topic]) {
      foreign_topics_[topic] = true;
      spdlog::warn("kafka log: topic {} holds records no Cairn writer wrote (no cairn.seq "
                   "header); they are not events of this log and are skipped", topic);
    }
    return Status::Ok();
  }
  const std::string_view value(static_cast<const char*>(message.payload), message.len);
  CAIRN_ASSIGN_OR_RETURN(ReplicatedEvent event, DecodeRecord(topic, value, &message, FindHeader));
  cluster_seq_ = std::max(cluster_seq_, event.seq.value());
  if (event.seq.value() <= log_->LastSeq().value()) return CheckApplied(event);
  const uint64_t seq = event.seq.value();
  // The first record with a seq wins: a later one with the same seq is a retried send.
  if (buffer_.try_emplace(seq, Buffered{std::move(event), message.partition, message.offset})
          .second) {
    ++buffered_[key];
  }
  return Status::Ok();
}

Status Mirror::CheckApplied(const ReplicatedEvent& event) const {
  Result<Event> local = log_->ReadEvent(event.event.id);
  if (local.ok() && local->seq == event.seq) return Status::Ok();
  if (!local.ok() && local.status().code() != ErrorCode::kNotFound) return local.status();
  return Status::Corruption(
      "the Kafka cluster's event " + event.event.id + " (seq " +
      std::to_string(event.seq.value()) + ") is not in this node's log at that seq: the data "
      "dir holds another log than the cluster's (another --cluster, or a cluster that was "
      "wiped); give this node an empty data dir");
}

Status Mirror::ApplyReady() {
  while (!buffer_.empty() && buffer_.begin()->first == log_->LastSeq().value() + 1) {
    std::vector<ReplicatedEvent> events;
    std::map<PartitionName, int64_t> next_offsets;
    uint64_t next = buffer_.begin()->first;
    while (!buffer_.empty() && buffer_.begin()->first == next && events.size() < kApplyBatch) {
      auto node = buffer_.extract(buffer_.begin());
      Buffered& b = node.mapped();
      const PartitionName key{b.event.topic, b.partition};
      next_offsets[key] = b.offset + 1;
      --buffered_[key];
      events.push_back(std::move(b.event));
      ++next;
    }
    WriteBatch positions;
    for (const auto& [key, offset] : next_offsets) {
      PutPosition(&positions, positions_, key.first, key.second, offset);
    }
    PutClusterSeq(&positions, positions_, events.back().seq);
    const size_t n = events.size();
    CAIRN_RETURN_IF_ERROR(log_->Replicate(std::move(events), std::move(positions)));
    replicated_ += n;
    for (const auto& [key, offset] : next_offsets) unreported_[key] = offset;
  }
  ReportProgress();
  return Status::Ok();
}

void Mirror::ReportProgress() {
  const auto now = std::chrono::steady_clock::now();
  if (unreported_.empty() || now - last_report_ < std::chrono::seconds(1)) return;
  last_report_ = now;
  PartitionList offsets(rd_kafka_topic_partition_list_new(static_cast<int>(unreported_.size())));
  for (const auto& [key, offset] : unreported_) {
    rd_kafka_topic_partition_list_add(offsets.get(), key.first.c_str(), key.second)->offset = offset;
  }
  unreported_.clear();
  // Asynchronous, for lag reporting only: a failure is harmless (the positions that count are
  // the local ones) and is not waited for.
  rd_kafka_commit(consumer_.get(), offsets.get(), /*async=*/1);
}

void Mirror::Throttle() {
  PartitionList pause(rd_kafka_topic_partition_list_new(0));
  PartitionList resume(rd_kafka_topic_partition_list_new(0));
  for (const auto& [key, count] : buffered_) {
    bool& paused = paused_[key];
    if (!paused && count > kPauseAbove) {
      rd_kafka_topic_partition_list_add(pause.get(), key.first.c_str(), key.second);
      paused = true;
    } else if (paused && count < kResumeBelow) {
      rd_kafka_topic_partition_list_add(resume.get(), key.first.c_str(), key.second);
      paused = false;
    }
  }
  if (pause->cnt > 0) rd_kafka_pause_partitions(consumer_.get(), pause.get());
  if (resume->cnt > 0) rd_kafka_resume_partitions(consumer_.get(), resume.get());
}

Status Mirror::CatchUp() {
  CAIRN_RETURN_IF_ERROR(Connect());
  CAIRN_RETURN_IF_ERROR(SyncTopics());
  const int timeout_ms = static_cast<int>(options_.timeout.count());
  // Each partition's end now: every record a writer committed before this call lies below it.
  std::map<PartitionName, int64_t> ends;
  for (const auto& [key, next] : assigned_) {
    int64_t low = 0, high = 0;
    CAIRN_RETURN_IF_ERROR(FromKafka(
        rd_kafka_query_watermark_offsets(consumer_.get(), key.first.c_str(), key.second, &low,
                                         &high, timeout_ms),
        "high-water mark of " + key.first + "/" + std::to_string(key.second)));
    ends[key] = high;
  }
  const auto deadline = std::chrono::steady_clock::now() + options_.timeout;
  for (;;) {
    CAIRN_RETURN_IF_ERROR(Poll(50));
    CAIRN_RETURN_IF_ERROR(ApplyReady());
    Throttle();
    bool done = true;
    for (const auto& [key, end] : ends) {
      // A transaction's commit marker takes an offset no record has: reaching the partition's
      // end (EOF) counts as well.
      if (assigned_[key] < end && !at_end_[key]) done = false;
    }
    if (done) break;
    if (std::chrono::steady_clock::now() > deadline) {
      return Status(ErrorCode::kTimeout, "kafka log: catching up with the cluster took longer than " +
                                             std::to_string(options_.timeout.count()) + " ms");
    }
  }
  if (!buffer_.empty()) {
    return Status::Corruption("kafka log: the cluster holds events from seq " +
                              std::to_string(buffer_.begin()->first) + " on, but not seq " +
                              std::to_string(log_->LastSeq().value() + 1));
  }
  return Status::Ok();
}

void Mirror::Run(const std::atomic<bool>& stop,
                 const std::function<void(const Status&)>& report) {
  auto last_sync = std::chrono::steady_clock::time_point();
  while (!stop.load(std::memory_order_acquire)) {
    Status s = Connect();
    // New topics are found by asking for the cluster's topics now and then.
    if (s.ok() && std::chrono::steady_clock::now() - last_sync > std::chrono::seconds(1)) {
      s = SyncTopics();
      last_sync = std::chrono::steady_clock::now();
    }
    if (s.ok()) s = Poll(100);
    if (s.ok()) s = ApplyReady();
    if (s.ok()) Throttle();
    report(s);
    if (!s.ok()) std::this_thread::sleep_for(std::chrono::milliseconds(500));
  }
}

}  // namespace cairn::kafkalog
