// The Kafka log's reader: copies what Cairn writers committed to the cluster into the local log
// (Log::Replicate), in the writers' seq order. Every partition of every topic is assigned to one
// consumer (no consumer-group rebalances: each node holds everything); records arrive per
// partition in order, and a reorder buffer releases them by seq, so an event is applied only
// after every event the writer committed before it, whatever topic or partition it is in.
//
// Where each partition was read up to is kept in the local `kafka_positions` family, written
// in the same WriteBatch as the events (and by the writer's Publish): a restarted node goes on
// from there, and records already applied (seq <= Log::LastSeq) are skipped. The same positions
// are committed to the consumer group "cairn-<cluster>-<node>" for Kafka's lag tools only.
//
// Used by KafkaLog (kafka_log.cc): CatchUp when a node becomes the writer or recovers, Run on a
// replica. Not thread-safe: one thread drives a Mirror.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <utility>

#include "cairn/kafka_log.h"
#include "cairn/log.h"
#include "kafkalog/client.h"

namespace cairn::kafkalog {

// The key of a partition's read position in the positions family.
std::string PositionKey(std::string_view topic, int32_t partition);
// Adds "partition `partition` of `topic` is read up to `next_offset`" to `batch`.
void PutPosition(WriteBatch* batch, Family* positions, std::string_view topic, int32_t partition,
                 int64_t next_offset);
// Adds "the cluster holds every event up to seq `seq`" to `batch` (with the positions: a
// restarted node reads on from them, so it would not see those events again to learn it).
void PutClusterSeq(WriteBatch* batch, Family* positions, Seq seq);
// The positions family of the Kafka log in `store`.
Result<Family*> OpenPositions(Store* store);

class Mirror {
 public:
  Mirror(const KafkaLogOptions& options, Log* log, Family* positions);
  ~Mirror();

  // Replicates until every partition reached the end it had when CatchUp was called, within
  // options.timeout. kTimeout when it did not; kCorruption when the log cannot be continued
  // (a record missing between two seqs at the end).
  Status CatchUp();
  // Replicates until `stop`, reporting errors to `report` (and retrying after a pause).
  void Run(const std::atomic<bool>& stop, const std::function<void(const Status&)>& report);
  // Events applied to the local log by this mirror.
  uint64_t replicated() const { return replicated_; }
  // The last seq the cluster is known to hold: the highest stored with the positions
  // (PutClusterSeq) or read since. After CatchUp, the last seq the cluster holds.
  uint64_t cluster_seq() const { return cluster_seq_; }

 private:
  struct Buffered {
    ReplicatedEvent event;
    int32_t partition;
    int64_t offset;
  };
  using PartitionName = std::pair<std::string, int32_t>;

  Status Connect();
  // Creates the cluster's new topics locally and assigns their partitions at stored positions.
  Status SyncTopics();
  // Takes up to a batch of records (waiting at most `timeout_ms` for the first) into the buffer.
  Status Poll(int timeout_ms);
  // Takes one consumed record into the buffer (or skips it, if applied already).
  Status Take(const rd_kafka_message_t& message);
  // Ok when the local log holds `event` (a record read again after a restart) at its seq;
  // kCorruption when the data dir holds another log than the cluster.
  Status CheckApplied(const ReplicatedEvent& event) const;
  // Applies the buffered events that continue the log, in seq order, in batches.
  Status ApplyReady();
  // Commits the applied positions to the node's consumer group, at most once a second, so that
  // Kafka's tools show the node's lag. Only for reporting: the node restarts from its own.
  void ReportProgress();
  // Pauses partitions holding many buffered events that cannot be applied yet, resumes the rest.
  void Throttle();

  const KafkaLogOptions& options_;
  Log* log_;
  Family* positions_;
  Handle consumer_;
  std::map<PartitionName, int64_t> assigned_;  // partition -> next offset to consume
  std::map<PartitionName, bool> at_end_;       // partition -> reached its end (EOF) lately
  std::map<uint64_t, Buffered> buffer_;        // seq -> event not applied yet
  std::map<PartitionName, size_t> buffered_;   // partition -> its events in buffer_
  std::map<PartitionName, bool> paused_;
  std::map<std::string, bool> foreign_topics_;  // topics with records no Cairn writer wrote
  std::map<PartitionName, int64_t> unreported_;  // applied, not yet committed to the group
  std::chrono::steady_clock::time_point last_report_;
  uint64_t replicated_ = 0;
  uint64_t cluster_seq_ = 0;
};

}  // namespace cairn::kafkalog
