// Cairn's log on a Kafka cluster (or Redpanda): the cluster is where events become durable and
// shared, and each node's local log (include/cairn/log.h) is its mirror, so the engine, the
// read models, the HTTP API and the CLI run unchanged on either. `cairn serve --log kafka://...`.
//
// One writer per cluster, any number of read replicas:
// - The writer publishes each group of appends in one Kafka transaction (transactional.id
//   "cairn-<cluster>") before writing it locally; an append is acknowledged only after its
//   transaction committed. Taking over (BecomeWriter) calls init_transactions, which fences the
//   previous writer (its next publish fails and its log turns read-only), then reads every
//   topic to its end into the local log before it takes an append: expected versions and
//   idempotent ids are then checked against complete streams.
// - A replica (StartReplica) refuses appends with kNotWriter (HTTP 421 naming the writer) and
//   copies what the writer committed into its local log, in the writer's seq order.
//
// Records: topics and partitions 1:1 with Cairn's (the partition is murmur2 of the stream key,
// as Kafka's Java client chooses it); key = the stream key; value = the seed service's event
// envelope {"type","aggregateId","version","timestamp","data"}; headers eventType, aggregateId
// and version as the seed wrote them, plus cairn.* headers with what Cairn keeps besides: the
// writer's seq (the order across topics and partitions that projections rely on), event id,
// stream, timestamp in µs and metadata. See src/kafkalog/records.h.
//
// Thread-safety: the methods may be called from any thread; BecomeWriter, StartReplica and
// Stop are meant for the thread that starts and stops the node.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "cairn/log.h"
#include "cairn/status.h"

namespace cairn {

struct KafkaLogOptions {
  // Bootstrap brokers, "host:port[,host:port...]". Required.
  std::string brokers;
  // Names the writer's transactional.id ("cairn-<cluster>") and the consumer groups that report
  // replication lag. Nodes of one deployment share it. Default: "cairn".
  std::string cluster = "cairn";
  // This node's name in its consumer group ("cairn-<cluster>-<node>"), which Kafka tools show
  // with the node's lag. Default: the host name.
  std::string node;
  // A replica's answer to a write names this URL (the writer's HTTP address). Default: none.
  std::string writer_url;
  // How long one transaction, one metadata call or one catch-up step may take. Default: 30 s.
  std::chrono::milliseconds timeout{30'000};
  // More librdkafka settings for both clients (name -> value), e.g. security.protocol.
  std::map<std::string, std::string> settings;
};

// Parses "kafka://host:port[,host:port...]" into `brokers`. kInvalidArgument otherwise.
Result<std::string> ParseKafkaLogUrl(std::string_view url);

class KafkaLog final : public LogUpstream {
 public:
  // Connects to the cluster (checked with one metadata request within options.timeout).
  static Result<std::shared_ptr<KafkaLog>> Connect(KafkaLogOptions options);
  ~KafkaLog() override;
  KafkaLog(const KafkaLog&) = delete;
  KafkaLog& operator=(const KafkaLog&) = delete;

  // Makes this node the cluster's writer for `log` (opened with this KafkaLog as its
  // LogOptions::upstream): refuses appends (kBusy) while it fences the previous writer and
  // replicates every committed event, then accepts appends. When the local log goes beyond
  // the cluster's (an existing RocksDB log moving onto Kafka), it first publishes the rest,
  // creating its topics there. Errors leave appends refused; kCorruption when the data dir
  // holds another log than the cluster's.
  Status BecomeWriter(Log* log);
  // Makes this node a read replica of `log`: refuses appends with kNotWriter from now on and
  // replicates in a background thread until Stop. Ok once that thread runs.
  Status StartReplica(Log* log);
  // Stops the replica thread (if any). Idempotent; the destructor calls it.
  void Stop();

  // LogUpstream (include/cairn/log.h). Publish runs one Kafka transaction per group and adds
  // each partition's next Kafka offset to the local batch. kBusy when the transaction was
  // aborted (nothing committed); kIOError when its outcome is unknown or the producer failed;
  // kNotWriter once another writer fenced this one (for good: Recover fails too).
  Status Publish(const std::vector<EventView>& events, WriteBatch* local_writes) override;
  Result<uint32_t> CreateTopic(const std::string& name, uint32_t partitions) override;
  Status Recover(Log* log) override;

  struct Stats {
    uint64_t transactions = 0;         // committed by this writer
    uint64_t aborted = 0;              // aborted (their appends failed with kBusy)
    uint64_t published = 0;            // events published by this writer
    uint64_t replicated = 0;           // events copied in from the cluster
    Seq replicated_seq;                // the last seq replicated (or written) locally
    bool fenced = false;               // another writer took over
    std::string last_error;            // the replica thread's last error, empty when none
  };
  Stats GetStats() const;

 private:
  struct Rep;
  // Publishes the local log's events after `after` (BecomeWriter).
  Status Upload(Seq after);
  explicit KafkaLog(std::unique_ptr<Rep> rep);
  std::unique_ptr<Rep> rep_;
};

}  // namespace cairn
