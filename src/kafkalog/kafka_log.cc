// KafkaLog (include/cairn/kafka_log.h): the writer's transactions, topic creation, taking over
// and recovering, and the replica thread. Reading the cluster is mirror.cc's job, the record
// format records.cc's.
#include "cairn/kafka_log.h"

#include <spdlog/spdlog.h>
#include <unistd.h>

#include <array>
#include <atomic>
#include <mutex>
#include <thread>

#include "base/bytes.h"
#include "kafkalog/client.h"
#include "kafkalog/mirror.h"
#include "kafkalog/records.h"

namespace cairn {

using kafkalog::Error;
using kafkalog::FromKafka;
using kafkalog::Handle;

namespace {

// What a produced record's delivery report said.
struct Delivery {
  rd_kafka_resp_err_t error = RD_KAFKA_RESP_ERR__IN_PROGRESS;
  int64_t offset = -1;
};

void OnDelivery(rd_kafka_t*, const rd_kafka_message_t* message, void*) {
  auto* delivery = static_cast<Delivery*>(message->_private);
  delivery->error = message->err;
  delivery->offset = message->offset;
}

void ConfigureProducer(rd_kafka_conf_t* conf) { rd_kafka_conf_set_dr_msg_cb(conf, OnDelivery); }

std::string HostName() {
  char name[256] = {};
  if (gethostname(name, sizeof name - 1) != 0) return "node";
  return name;
}

bool IsFencing(rd_kafka_resp_err_t code) {
  return code == RD_KAFKA_RESP_ERR__FENCED || code == RD_KAFKA_RESP_ERR_PRODUCER_FENCED ||
         code == RD_KAFKA_RESP_ERR_INVALID_PRODUCER_EPOCH ||
         code == RD_KAFKA_RESP_ERR_TRANSACTIONAL_ID_AUTHORIZATION_FAILED;
}

}  // namespace

Result<std::string> ParseKafkaLogUrl(std::string_view url) {
  constexpr std::string_view kScheme = "kafka://";
  if (!url.starts_with(kScheme) || url.size() == kScheme.size()) {
    return Status::InvalidArgument("a Kafka log is kafka://host:port[,host:port...], not " +
                                       std::string(url),
                                   "log");
  }
  std::string brokers(url.substr(kScheme.size()));
  if (!brokers.empty() && brokers.back() == '/') brokers.pop_back();
  return brokers;
}

struct KafkaLog::Rep {
  KafkaLogOptions options;
  Handle admin;     // metadata and topic creation
  Handle producer;  // the writer's transactional producer; null on a replica
  Log* log = nullptr;
  Family* positions = nullptr;
  std::atomic<bool> fenced{false};
  std::atomic<bool> writer{false};  // BecomeWriter succeeded

  std::thread replica;
  std::atomic<bool> stop{false};
  std::unique_ptr<kafkalog::Mirror> replica_mirror;  // the replica thread's

  std::atomic<uint64_t> transactions{0}, aborted{0}, published{0}, replicated{0};
  mutable std::mutex error_mu;
  std::string last_error;  // GUARDED_BY(error_mu)

  int timeout_ms() const { return static_cast<int>(options.timeout.count()); }
  std::map<std::string, std::string> ClientSettings() const {
    std::map<std::string, std::string> settings = options.settings;
    settings["bootstrap.servers"] = options.brokers;
    // Small requests answered at once (a transaction's EndTxn) must not wait for Nagle.
    settings.try_emplace("socket.nagle.disable", "true");
    return settings;
  }
  Status Attach(Log* target);
  // A new transactional producer, which fences any earlier one with the same transactional.id
  // (init_transactions) and completes or aborts its open transaction.
  Status StartProducer();
  // Replicates what the cluster holds beyond the local log (a fresh mirror, read to the end).
  // `cluster_seq`, if given, receives the last seq the cluster holds.
  Status CatchUp(uint64_t* cluster_seq = nullptr);
  // The Status of a transaction step's error. Marks the log fenced when it was.
  Status FromTransaction(rd_kafka_error_t* error, std::string_view step);
  // The steps of Publish: produce one record (its delivery report fills `delivery`), wait for
  // every delivery report, commit (retrying what librdkafka calls retriable).
  Status Produce(const EventView& event, Delivery* delivery);
  Status AwaitDeliveries(const std::vector<Delivery>& deliveries);
  Status Commit();
  // Aborts the open transaction after `why` and starts a fresh producer: kBusy when aborted
  // (nothing committed), kIOError when the abort failed (the outcome is unknown).
  Status Abort(const std::string& why);
  Status Fenced() const {
    return Status(ErrorCode::kNotWriter,
                  "another node became the writer of Kafka cluster " + options.cluster +
                      " and fenced this one; restart this node as a replica (--role replica)",
                  options.writer_url);
  }
};

KafkaLog::KafkaLog(std::unique_ptr<Rep> rep) : rep_(std::move(rep)) {}

KafkaLog::~KafkaLog() { Stop(); }

Result<std::shared_ptr<KafkaLog>> KafkaLog::Connect(KafkaLogOptions options) {
  if (options.brokers.empty()) return Status::InvalidArgument("no Kafka brokers given", "log");
  if (options.node.empty()) options.node = HostName();
  auto rep = std::make_unique<Rep>();
  rep->options = std::move(options);
  CAIRN_ASSIGN_OR_RETURN(rep->admin, kafkalog::NewClient(RD_KAFKA_PRODUCER, rep->ClientSettings()));
  Result<std::map<std::string, uint32_t>> topics =
      kafkalog::ClusterTopics(rep->admin.get(), rep->timeout_ms());
  if (!topics.ok()) {
    return Status::IOError("cannot reach the Kafka cluster at " + rep->options.brokers + ": " +
                           topics.status().message());
  }
  spdlog::info("kafka log: cluster {} at {} has {} topics", rep->options.cluster,
               rep->options.brokers, topics->size());
  return std::shared_ptr<KafkaLog>(new KafkaLog(std::move(rep)));
}

Status KafkaLog::Rep::Attach(Log* target) {
  if (target->options().upstream.get() == nullptr) {
    return Status::InvalidArgument("the log was not opened with this Kafka log as its upstream");
  }
  log = target;
  CAIRN_ASSIGN_OR_RETURN(positions, kafkalog::OpenPositions(target->store()));
  // The read positions belong to one cluster: a data dir is tied to the first it mirrors.
  char* id = rd_kafka_clusterid(admin.get(), timeout_ms());
  const std::string identity = std::string(id != nullptr ? id : "?") + " --cluster " + options.cluster;
  if (id != nullptr) rd_kafka_mem_free(admin.get(), id);
  constexpr std::string_view kIdentityKey("\0identity", 9);
  CAIRN_ASSIGN_OR_RETURN(std::optional<std::string> stored,
                         target->store()->Get(positions, kIdentityKey));
  if (stored.has_value() && *stored != identity) {
    return Status::Corruption("this data dir mirrors Kafka cluster " + *stored + ", not " +
                              identity + ": it holds another log than the cluster's; give this "
                              "node an empty data dir");
  }
  if (stored.has_value()) return Status::Ok();
  WriteBatch batch;
  batch.Put(positions, kIdentityKey, identity);
  return target->store()->Write(batch, /*durable=*/true);
}

Status KafkaLog::Rep::StartProducer() {
  producer.reset();
  std::map<std::string, std::string> settings = ClientSettings();
  settings["transactional.id"] = "cairn-" + options.cluster;
  settings["acks"] = "all";
  settings.try_emplace("linger.ms", "1");
  settings.try_emplace("transaction.timeout.ms", "60000");
  settings.try_emplace("queue.buffering.max.messages", "2000000");
  settings.try_emplace("queue.buffering.max.kbytes", "2097151");
  CAIRN_ASSIGN_OR_RETURN(producer,
                         kafkalog::NewClient(RD_KAFKA_PRODUCER, settings, ConfigureProducer));
  const auto deadline = std::chrono::steady_clock::now() + options.timeout;
  for (;;) {
    Error error(rd_kafka_init_transactions(producer.get(), timeout_ms()));
    if (!error) return Status::Ok();
    if (!rd_kafka_error_is_retriable(error.get()) || std::chrono::steady_clock::now() > deadline) {
      return FromTransaction(error.get(), "init_transactions");
    }
  }
}

Status KafkaLog::Rep::CatchUp(uint64_t* cluster_seq) {
  kafkalog::Mirror mirror(options, log, positions);
  Status s = mirror.CatchUp();
  if (cluster_seq != nullptr) *cluster_seq = mirror.cluster_seq();
  replicated.fetch_add(mirror.replicated(), std::memory_order_relaxed);
  if (s.ok() && mirror.replicated() > 0) {
    spdlog::info("kafka log: replicated {} events from the cluster, up to seq {}",
                 mirror.replicated(), log->LastSeq().value());
  }
  return s;
}

Status KafkaLog::Rep::FromTransaction(rd_kafka_error_t* error, std::string_view step) {
  const std::string text = "kafka: " + std::string(step) + ": " + rd_kafka_error_string(error);
  rd_kafka_resp_err_t code = rd_kafka_error_code(error);
  if (rd_kafka_error_is_fatal(error) && producer) {
    char reason[512];
    code = rd_kafka_fatal_error(producer.get(), reason, sizeof reason);
  }
  if (IsFencing(code)) {
    if (!fenced.exchange(true)) spdlog::error("kafka log: fenced by a newer writer ({})", text);
    return Fenced();
  }
  return Status::IOError(text);
}

Status KafkaLog::Rep::Abort(const std::string& why) {
  Error error(rd_kafka_abort_transaction(producer.get(), timeout_ms()));
  if (error) {
    Status s = FromTransaction(error.get(), "abort_transaction after " + why);
    if (s.code() == ErrorCode::kNotWriter) return s;
    return Status::IOError(s.message() + "; the transaction's outcome is unknown");
  }
  aborted.fetch_add(1, std::memory_order_relaxed);
  // After a refused record the idempotent producer's sequence numbers have a hole that
  // librdkafka 2.0.2 does not always mend by itself (the next transaction then fails with
  // OUT_OF_ORDER_SEQUENCE_NUMBER): a new producer starts a clean epoch. Nothing was committed,
  // so the local log needs no catching up.
  if (Status s = StartProducer(); !s.ok()) {
    return Status::IOError("kafka: a new producer after an aborted transaction: " + s.message());
  }
  return Status::Busy("the Kafka cluster refused a transaction (" + why +
                      "); nothing was written, retry");
}

Status KafkaLog::BecomeWriter(Log* log) {
  Rep& r = *rep_;
  log->RefuseAppends(Status::Busy("catching up with Kafka cluster " + r.options.cluster +
                                  " before taking appends; retry"));
  CAIRN_RETURN_IF_ERROR(r.Attach(log));
  CAIRN_RETURN_IF_ERROR(r.StartProducer());
  r.writer.store(true);
  uint64_t cluster_seq = 0;
  CAIRN_RETURN_IF_ERROR(r.CatchUp(&cluster_seq));
  // A data dir whose log goes beyond the cluster's (a RocksDB log moving onto Kafka, or an
  // upload cut short) publishes the rest first: replicas need every seq.
  if (log->LastSeq().value() > cluster_seq) CAIRN_RETURN_IF_ERROR(Upload(Seq(cluster_seq)));
  log->AcceptAppends();
  spdlog::info("kafka log: this node is the writer of cluster {} (transactional.id cairn-{}), "
               "at seq {}", r.options.cluster, r.options.cluster, log->LastSeq().value());
  return Status::Ok();
}

Status KafkaLog::Upload(Seq after) {
  Rep& r = *rep_;
  spdlog::info("kafka log: publishing the local log after seq {} (up to seq {}) to cluster {}",
               after.value(), r.log->LastSeq().value(), r.options.cluster);
  for (const TopicInfo& topic : r.log->Topics()) {
    CAIRN_ASSIGN_OR_RETURN(const uint32_t partitions, CreateTopic(topic.name, topic.partitions));
    if (partitions != topic.partitions) {
      return Status::Conflict("topic " + topic.name + " has " + std::to_string(topic.partitions) +
                              " partitions here and " + std::to_string(partitions) +
                              " on Kafka cluster " + r.options.cluster);
    }
  }
  // Stored events, copied out of the scan (its views live only in the callback).
  struct Copied {
    std::string topic;
    PartitionId partition;
    Offset offset;
    std::string envelope;
  };
  constexpr size_t kBatch = 2000;
  uint64_t uploaded = 0;
  for (Seq next = after; next < r.log->LastSeq();) {
    std::vector<Copied> batch;
    CAIRN_RETURN_IF_ERROR(r.log->ScanInSeqOrder({}, next, kBatch, [&](const EventView& e) {
      batch.push_back(Copied{std::string(e.topic()), e.partition(), e.offset(),
                             std::string(e.envelope())});
      next = e.seq();
      return true;
    }));
    if (batch.empty()) break;
    std::vector<EventView> views;
    views.reserve(batch.size());
    for (const Copied& c : batch) views.emplace_back(c.topic, c.partition, c.offset, c.envelope);
    WriteBatch read_positions;
    CAIRN_RETURN_IF_ERROR(Publish(views, &read_positions));
    CAIRN_RETURN_IF_ERROR(r.log->store()->Write(read_positions, /*durable=*/true));
    uploaded += batch.size();
  }
  spdlog::info("kafka log: published {} events of the local log to cluster {}", uploaded,
               r.options.cluster);
  return Status::Ok();
}

Status KafkaLog::StartReplica(Log* log) {
  Rep& r = *rep_;
  std::string message = "this node is a read replica of Kafka cluster " + r.options.cluster +
                        ": send writes to the writer";
  if (!r.options.writer_url.empty()) message += " at " + r.options.writer_url;
  log->RefuseAppends(Status(ErrorCode::kNotWriter, message, r.options.writer_url));
  CAIRN_RETURN_IF_ERROR(r.Attach(log));
  r.replica_mirror = std::make_unique<kafkalog::Mirror>(r.options, log, r.positions);
  r.replica = std::thread([&r] {
    uint64_t reported = 0;
    r.replica_mirror->Run(r.stop, [&](const Status& s) {
      const uint64_t now = r.replica_mirror->replicated();
      r.replicated.fetch_add(now - reported, std::memory_order_relaxed);
      reported = now;
      std::lock_guard lock(r.error_mu);
      if (!s.ok() && s.message() != r.last_error) spdlog::error("kafka log replica: {}", s.ToString());
      r.last_error = s.ok() ? std::string() : s.message();
    });
  });
  spdlog::info("kafka log: this node is a read replica of cluster {} at seq {}",
               r.options.cluster, log->LastSeq().value());
  return Status::Ok();
}

void KafkaLog::Stop() {
  Rep& r = *rep_;
  r.stop.store(true, std::memory_order_release);
  if (r.replica.joinable()) r.replica.join();
  r.replica_mirror.reset();
}

Status KafkaLog::Publish(const std::vector<EventView>& events, WriteBatch* local_writes) {
  Rep& r = *rep_;
  if (r.fenced.load()) return r.Fenced();
  if (!r.producer) return Status::IOError("kafka log: this node is not the writer");
  if (Error error{rd_kafka_begin_transaction(r.producer.get())}) {
    return r.FromTransaction(error.get(), "begin_transaction");
  }
  std::vector<Delivery> deliveries(events.size());
  for (size_t i = 0; i < events.size(); ++i) {
    if (Status s = r.Produce(events[i], &deliveries[i]); !s.ok()) {
      rd_kafka_flush(r.producer.get(), r.timeout_ms());  // earlier deliveries point into this frame
      return r.Abort(s.message());
    }
  }
  CAIRN_RETURN_IF_ERROR(r.AwaitDeliveries(deliveries));
  CAIRN_RETURN_IF_ERROR(r.Commit());
  // The cluster has the group: remember how far each partition is written, with the group
  // (one write per partition: a partition's later records have the higher offsets).
  std::map<std::pair<std::string_view, int32_t>, int64_t> next_offsets;
  for (size_t i = 0; i < events.size(); ++i) {
    next_offsets[{events[i].topic(), static_cast<int32_t>(events[i].partition().value())}] =
        deliveries[i].offset + 1;
  }
  for (const auto& [partition, next] : next_offsets) {
    kafkalog::PutPosition(local_writes, r.positions, partition.first, partition.second, next);
  }
  if (!events.empty()) kafkalog::PutClusterSeq(local_writes, r.positions, events.back().seq());
  r.transactions.fetch_add(1, std::memory_order_relaxed);
  r.published.fetch_add(events.size(), std::memory_order_relaxed);
  return Status::Ok();
}

Status KafkaLog::Rep::Produce(const EventView& event, Delivery* delivery) {
  const kafkalog::Record record = kafkalog::EncodeRecord(event);
  rd_kafka_headers_t* headers = rd_kafka_headers_new(record.headers.size());
  for (const auto& [name, value] : record.headers) {
    rd_kafka_header_add(headers, name.data(), static_cast<ssize_t>(name.size()), value.data(),
                        static_cast<ssize_t>(value.size()));
  }
  const std::string topic(event.topic());
  // rd_kafka_produceva, not the rd_kafka_producev macros: those use GNU statement expressions,
  // which clang's -Wpedantic (the fuzz build) refuses.
  std::array<rd_kafka_vu_t, 8> fields{};
  fields[0].vtype = RD_KAFKA_VTYPE_TOPIC;
  fields[0].u.cstr = topic.c_str();
  fields[1].vtype = RD_KAFKA_VTYPE_PARTITION;
  fields[1].u.i32 = static_cast<int32_t>(event.partition().value());
  fields[2].vtype = RD_KAFKA_VTYPE_KEY;
  fields[2].u.mem = {const_cast<char*>(record.key.data()), record.key.size()};
  fields[3].vtype = RD_KAFKA_VTYPE_VALUE;
  fields[3].u.mem = {const_cast<char*>(record.value.data()), record.value.size()};
  fields[4].vtype = RD_KAFKA_VTYPE_MSGFLAGS;
  fields[4].u.i = RD_KAFKA_MSG_F_COPY;
  fields[5].vtype = RD_KAFKA_VTYPE_HEADERS;
  fields[5].u.headers = headers;
  fields[6].vtype = RD_KAFKA_VTYPE_TIMESTAMP;
  fields[6].u.i64 = record.timestamp_ms;
  fields[7].vtype = RD_KAFKA_VTYPE_OPAQUE;
  fields[7].u.ptr = delivery;
  rd_kafka_error_t* error = rd_kafka_produceva(producer.get(), fields.data(), fields.size());
  if (error == nullptr) return Status::Ok();
  const rd_kafka_resp_err_t err = rd_kafka_error_code(error);
  rd_kafka_error_destroy(error);
  rd_kafka_headers_destroy(headers);  // produce takes them only on success
  return FromKafka(err, "produce");
}

Status KafkaLog::Rep::AwaitDeliveries(const std::vector<Delivery>& deliveries) {
  // Every delivery report (which names each record's offset) comes before the commit.
  if (rd_kafka_flush(producer.get(), timeout_ms()) != RD_KAFKA_RESP_ERR_NO_ERROR) {
    rd_kafka_purge(producer.get(), RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
    rd_kafka_flush(producer.get(), timeout_ms());
    return Abort("the records were not delivered in time");
  }
  for (const Delivery& d : deliveries) {
    if (d.error != RD_KAFKA_RESP_ERR_NO_ERROR) {
      return Abort(std::string("delivery: ") + rd_kafka_err2str(d.error));
    }
  }
  return Status::Ok();
}

Status KafkaLog::Rep::Commit() {
  const auto deadline = std::chrono::steady_clock::now() + options.timeout;
  for (;;) {
    Error error(rd_kafka_commit_transaction(producer.get(), timeout_ms()));
    if (!error) return Status::Ok();
    if (rd_kafka_error_txn_requires_abort(error.get())) {
      return Abort(std::string("commit: ") + rd_kafka_error_string(error.get()));
    }
    if (!rd_kafka_error_is_retriable(error.get()) || std::chrono::steady_clock::now() > deadline) {
      Status s = FromTransaction(error.get(), "commit_transaction");
      if (s.code() == ErrorCode::kNotWriter) return s;
      return Status::IOError(s.message() + "; the transaction's outcome is unknown");
    }
  }
}

Result<uint32_t> KafkaLog::CreateTopic(const std::string& name, uint32_t partitions) {
  Rep& r = *rep_;
  CAIRN_ASSIGN_OR_RETURN(const auto topics, kafkalog::ClusterTopics(r.admin.get(), r.timeout_ms()));
  if (auto it = topics.find(name); it != topics.end()) return it->second;
  if (!r.writer.load()) {
    return Status(ErrorCode::kNotWriter,
                  "topic " + name + " does not exist on Kafka cluster " + r.options.cluster +
                      ": only the writer creates topics",
                  r.options.writer_url);
  }
  char errstr[512];
  rd_kafka_NewTopic_t* topic = rd_kafka_NewTopic_new(name.c_str(), static_cast<int>(partitions),
                                                     -1, errstr, sizeof errstr);
  if (topic == nullptr) return Status::InvalidArgument(std::string("kafka topic: ") + errstr);
  rd_kafka_queue_t* queue = rd_kafka_queue_new(r.admin.get());
  rd_kafka_AdminOptions_t* admin_options =
      rd_kafka_AdminOptions_new(r.admin.get(), RD_KAFKA_ADMIN_OP_CREATETOPICS);
  rd_kafka_AdminOptions_set_request_timeout(admin_options, r.timeout_ms(), errstr, sizeof errstr);
  rd_kafka_CreateTopics(r.admin.get(), &topic, 1, admin_options, queue);
  rd_kafka_event_t* event = rd_kafka_queue_poll(queue, r.timeout_ms() + 1000);
  Status s = Status::IOError("no answer in time");
  if (event != nullptr) {
    s = FromKafka(rd_kafka_event_error(event), "create topic");
    if (const auto* result = rd_kafka_event_CreateTopics_result(event); s.ok() && result) {
      size_t n = 0;
      const rd_kafka_topic_result_t** results = rd_kafka_CreateTopics_result_topics(result, &n);
      if (n == 1 && rd_kafka_topic_result_error(results[0]) != RD_KAFKA_RESP_ERR_NO_ERROR &&
          rd_kafka_topic_result_error(results[0]) != RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS) {
        s = FromKafka(rd_kafka_topic_result_error(results[0]), "create topic");
      }
    }
    rd_kafka_event_destroy(event);
  }
  rd_kafka_AdminOptions_destroy(admin_options);
  rd_kafka_queue_destroy(queue);
  rd_kafka_NewTopic_destroy(topic);
  if (!s.ok()) {
    return Status::IOError("could not create topic " + name + " on Kafka cluster " +
                           r.options.cluster + " (" + s.message() + "); create it there with " +
                           std::to_string(partitions) + " partitions");
  }
  spdlog::info("kafka log: created topic {} with {} partitions on the cluster", name, partitions);
  return partitions;
}

Status KafkaLog::Recover(Log* log) {
  Rep& r = *rep_;
  if (r.fenced.load()) return r.Fenced();
  if (log != r.log) return Status::InvalidArgument("Recover of a log this Kafka log does not serve");
  // A new producer ends the failed one's transaction either way (init_transactions), so what
  // the cluster holds afterwards is final; catching up then gives the local log all of it.
  CAIRN_RETURN_IF_ERROR(r.StartProducer());
  CAIRN_RETURN_IF_ERROR(r.CatchUp());
  spdlog::warn("kafka log: recovered; the local log is at seq {}", log->LastSeq().value());
  return Status::Ok();
}

KafkaLog::Stats KafkaLog::GetStats() const {
  const Rep& r = *rep_;
  Stats s;
  s.transactions = r.transactions.load();
  s.aborted = r.aborted.load();
  s.published = r.published.load();
  s.replicated = r.replicated.load();
  s.replicated_seq = r.log ? r.log->LastSeq() : Seq(0);
  s.fenced = r.fenced.load();
  std::lock_guard lock(r.error_mu);
  s.last_error = r.last_error;
  return s;
}

}  // namespace cairn
