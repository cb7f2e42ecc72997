// The Kafka log (include/cairn/kafka_log.h) on librdkafka's mock cluster, in this process: the
// record format, a writer and a replica, a new writer catching up, and the failures a writer
// must survive (a refused transaction, being fenced, a local write failing after the commit).
#include <doctest/doctest.h>
#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

#include <chrono>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "cairn/kafka_log.h"
#include "kafkalog/records.h"
#include "log/log_test_util.h"

namespace cairn {
namespace {

using testing::TestLog;

constexpr int16_t kProduceApi = 0;
constexpr int16_t kEndTxnApi = 26;

// librdkafka's mock cluster: 3 brokers in this process, on real sockets.
class MockCluster {
 public:
  MockCluster() {
    char errstr[256];
    rd_kafka_conf_t* conf = rd_kafka_conf_new();
    rd_kafka_conf_set(conf, "log_level", "2", errstr, sizeof errstr);
    rk_ = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof errstr);
    REQUIRE(rk_ != nullptr);
    cluster_ = rd_kafka_mock_cluster_new(rk_, 3);
    REQUIRE(cluster_ != nullptr);
    CreateTopic("orders", 4);
    CreateTopic("payments", 2);
  }
  ~MockCluster() {
    rd_kafka_mock_cluster_destroy(cluster_);
    rd_kafka_destroy(rk_);
  }
  void CreateTopic(const char* name, int partitions) {
    REQUIRE(rd_kafka_mock_topic_create(cluster_, name, partitions, 3) == RD_KAFKA_RESP_ERR_NO_ERROR);
  }
  void FailNext(int16_t api, rd_kafka_resp_err_t error, size_t count = 1) {
    std::vector<rd_kafka_resp_err_t> errors(count, error);
    rd_kafka_mock_push_request_errors_array(cluster_, api, errors.size(), errors.data());
  }
  void SetLeader(const char* topic, int partition, int broker) {
    REQUIRE(rd_kafka_mock_partition_set_leader(cluster_, topic, partition, broker) ==
            RD_KAFKA_RESP_ERR_NO_ERROR);
  }
  void SetRtt(int broker, int ms) {
    REQUIRE(rd_kafka_mock_broker_set_rtt(cluster_, broker, ms) == RD_KAFKA_RESP_ERR_NO_ERROR);
  }
  KafkaLogOptions Options(std::string node) const {
    KafkaLogOptions options;
    options.brokers = rd_kafka_mock_cluster_bootstraps(cluster_);
    options.cluster = "test";
    options.node = std::move(node);
    options.writer_url = "http://writer.example:8080";
    options.timeout = std::chrono::seconds(20);
    return options;
  }

 private:
  rd_kafka_t* rk_ = nullptr;
  rd_kafka_mock_cluster_t* cluster_ = nullptr;
};

// A node: a KafkaLog and the local log that mirrors it.
struct Node {
  Node(const MockCluster& cluster, const std::string& name) {
    auto connected = KafkaLog::Connect(cluster.Options(name));
    REQUIRE_MESSAGE(connected.ok(), connected.status().ToString());
    kafka = *connected;
    LogOptions options;
    options.upstream = kafka;
    local = std::make_unique<TestLog>(options);
  }
  ~Node() { kafka->Stop(); }
  Log& log() { return *local->log; }

  std::shared_ptr<KafkaLog> kafka;
  std::unique_ptr<TestLog> local;
};

// Connects `name` to `cluster` and reopens `local`'s data dir with it as the log's upstream:
// a node restarted on its own dir.
std::shared_ptr<KafkaLog> ReopenOver(TestLog& local, const MockCluster& cluster,
                                     const std::string& name) {
  auto connected = KafkaLog::Connect(cluster.Options(name));
  REQUIRE_MESSAGE(connected.ok(), connected.status().ToString());
  local.log_options.upstream = *connected;
  local.Reopen();
  return *connected;
}

AppendRequest Request(const std::string& topic, const std::string& stream, const std::string& data,
                      ExpectedVersion expected = ExpectedVersion::Any()) {
  AppendRequest req;
  req.topic = topic;
  req.stream = stream;
  req.expected = expected;
  NewEvent e;
  e.type = "THING_HAPPENED";
  e.data = data;
  e.metadata.user_id = "tester";
  req.events.push_back(std::move(e));
  return req;
}

// Appends `n` events over both topics and several streams; returns the last seq.
Seq AppendMixed(Log& log, int n, int first = 0) {
  Seq last(0);
  for (int i = first; i < first + n; ++i) {
    const std::string topic = i % 3 == 0 ? "payments" : "orders";
    auto appended = log.Append(Request(topic, "order-" + std::to_string(i % 7),
                                       "{\"n\":" + std::to_string(i) + "}"));
    REQUIRE_MESSAGE(appended.ok(), appended.status().ToString());
    last = appended->positions.back().seq;
  }
  return last;
}

bool WaitForSeq(Log& log, Seq seq) {
  return log.WaitForSeq(seq, std::chrono::seconds(30));
}

// Every event of both logs, topic by topic and partition by partition.
void RequireSameEvents(Log& a, Log& b) {
  REQUIRE(a.LastSeq() == b.LastSeq());
  for (const TopicInfo& topic : a.Topics()) {
    for (uint32_t p = 0; p < topic.partitions; ++p) {
      auto left = a.ReadPartition(topic.name, PartitionId(p), Offset(0), 100'000);
      auto right = b.ReadPartition(topic.name, PartitionId(p), Offset(0), 100'000);
      REQUIRE(left.ok());
      REQUIRE(right.ok());
      CHECK(*left == *right);
    }
  }
}

TEST_CASE("a record carries every field of an event and reads back byte for byte") {
  TestLog source;
  AppendRequest req = Request("orders", "order-1", "{\"total\": 12000}");
  req.events[0].metadata = EventMetadata{"cmd-1", "corr-1", "cause-1", "alice"};
  req.events.push_back(NewEvent{"", "NOTE_ADDED", "not json at all \"quoted\"", {}, 0});
  REQUIRE(source.log->Append(std::move(req)).ok());
  int checked = 0;
  REQUIRE(source.log->ScanPartition("orders", PartitionForKey("1", 8), Offset(0), Offset(10),
                                    [&](const EventView& view) {
    const kafkalog::Record record = kafkalog::EncodeRecord(view);
    CHECK(record.key == "1");
    auto lookup = [](const void* r, std::string_view name, std::string_view* value) {
      for (const auto& [k, v] : static_cast<const kafkalog::Record*>(r)->headers) {
        if (k == name) {
          *value = v;
          return true;
        }
      }
      return false;
    };
    auto decoded = kafkalog::DecodeRecord("orders", record.value, &record, lookup);
    REQUIRE_MESSAGE(decoded.ok(), decoded.status().ToString());
    CHECK(decoded->seq == view.seq());
    CHECK(decoded->version == view.version());
    CHECK(decoded->stream == view.stream());
    CHECK(decoded->event.id == view.id());
    CHECK(decoded->event.type == view.type());
    CHECK(decoded->event.data == view.data());
    CHECK(decoded->event.timestamp_us == view.timestamp_us());
    CHECK(decoded->event.metadata == view.metadata());
    ++checked;
    return true;
  }).ok());
  CHECK(checked == 2);
}

TEST_CASE("a record that no Cairn writer wrote is refused, naming the header it lacks") {
  kafkalog::Record record;
  record.value = "{}";
  auto none = [](const void*, std::string_view, std::string_view*) { return false; };
  auto decoded = kafkalog::DecodeRecord("orders", record.value, &record, none);
  REQUIRE_FALSE(decoded.ok());
  CHECK(decoded.status().code() == ErrorCode::kCorruption);
  CHECK(decoded.status().message().find("cairn.seq") != std::string::npos);
}

TEST_CASE("a writer's appends reach a replica in seq order, every field equal") {
  MockCluster cluster;
  Node writer(cluster, "writer");
  REQUIRE(writer.kafka->BecomeWriter(&writer.log()).ok());
  const Seq last = AppendMixed(writer.log(), 60);
  Node replica(cluster, "replica");
  REQUIRE(replica.kafka->StartReplica(&replica.log()).ok());
  REQUIRE(WaitForSeq(replica.log(), last));
  RequireSameEvents(writer.log(), replica.log());
  // Appends after the replica started arrive too.
  const Seq more = AppendMixed(writer.log(), 20, 60);
  REQUIRE(WaitForSeq(replica.log(), more));
  RequireSameEvents(writer.log(), replica.log());
  CHECK(writer.kafka->GetStats().transactions == 80);
}

TEST_CASE("a replica applies a payment after its order even when the payment arrives first") {
  MockCluster cluster;
  Node writer(cluster, "writer");
  REQUIRE(writer.kafka->BecomeWriter(&writer.log()).ok());
  // Orders' partitions lead on broker 1, which answers 400 ms late; payments' on broker 2.
  for (int p = 0; p < 4; ++p) cluster.SetLeader("orders", p, 1);
  for (int p = 0; p < 2; ++p) cluster.SetLeader("payments", p, 2);
  Seq last;
  for (int i = 0; i < 10; ++i) {
    const std::string stream = "order-" + std::to_string(i);
    REQUIRE(writer.log().Append(Request("orders", stream, "{\"created\":true}")).ok());
    auto paid = writer.log().Append(Request("payments", stream, "{\"paid\":true}"));
    REQUIRE(paid.ok());
    last = paid->positions[0].seq;
  }
  cluster.SetRtt(1, 400);
  Node replica(cluster, "replica");
  REQUIRE(replica.kafka->StartReplica(&replica.log()).ok());
  REQUIRE(WaitForSeq(replica.log(), last));
  RequireSameEvents(writer.log(), replica.log());
  // In seq order: each stream's order event (version 1) before its payment (version 2).
  std::vector<std::string> order;
  REQUIRE(replica.log().ScanInSeqOrder({}, Seq(0), 100, [&](const EventView& e) {
    order.push_back(std::string(e.topic()) + ":" + std::string(e.stream()));
    return true;
  }).ok());
  REQUIRE(order.size() == 20);
  for (size_t i = 0; i < order.size(); i += 2) {
    CHECK(order[i].starts_with("orders:"));
    CHECK(order[i + 1].starts_with("payments:"));
  }
  cluster.SetRtt(1, 0);
}

TEST_CASE("a replica refuses appends with not_writer, naming the writer's URL") {
  MockCluster cluster;
  Node replica(cluster, "replica");
  REQUIRE(replica.kafka->StartReplica(&replica.log()).ok());
  auto appended = replica.log().Append(Request("orders", "order-1", "{}"));
  REQUIRE_FALSE(appended.ok());
  CHECK(appended.status().code() == ErrorCode::kNotWriter);
  CHECK(appended.status().field() == "http://writer.example:8080");
  CHECK(replica.log().LastSeq() == Seq(0));
}

TEST_CASE("a new writer reads the cluster to its end before it takes appends") {
  MockCluster cluster;
  Seq last;
  std::string stored_id;
  {
    Node first(cluster, "first");
    REQUIRE(first.kafka->BecomeWriter(&first.log()).ok());
    last = AppendMixed(first.log(), 30);
    auto stream = first.log().ReadStream("order-3", StreamVersion(1), 1);
    REQUIRE(stream.ok());
    stored_id = stream->at(0).id;
  }
  Node second(cluster, "second");
  REQUIRE(second.kafka->BecomeWriter(&second.log()).ok());
  CHECK(second.log().LastSeq() == last);
  // Expected versions are checked against the complete stream...
  auto head = second.log().StreamHead("order-3");
  REQUIRE(head.ok());
  auto stale = second.log().Append(
      Request("orders", "order-3", "{}", ExpectedVersion::Exact(head->value() - 1)));
  CHECK(stale.status().code() == ErrorCode::kConflict);
  auto next = second.log().Append(
      Request("orders", "order-3", "{}", ExpectedVersion::Exact(head->value())));
  REQUIRE(next.ok());
  CHECK(next->positions[0].seq == Seq(last.value() + 1));
  // ...and ids the first writer stored are found: a repeat is a duplicate.
  AppendRequest repeat = Request("orders", "order-3", "{}");
  repeat.events[0].id = stored_id;
  auto duplicate = second.log().Append(std::move(repeat));
  REQUIRE(duplicate.ok());
  CHECK(duplicate->duplicate);
}

TEST_CASE("a restarted writer publishes nothing again and goes on from its seq") {
  MockCluster cluster;
  TestLog local;
  Seq last;
  {
    auto kafka = ReopenOver(local, cluster, "writer");
    REQUIRE(kafka->BecomeWriter(local.log.get()).ok());
    last = AppendMixed(*local.log, 12);
    kafka->Stop();
  }
  auto kafka = ReopenOver(local, cluster, "writer");
  REQUIRE(kafka->BecomeWriter(local.log.get()).ok());
  CHECK(kafka->GetStats().published == 0);
  CHECK(kafka->GetStats().replicated == 0);
  const Seq next = AppendMixed(*local.log, 1, 12);
  CHECK(next == Seq(last.value() + 1));
  Node replica(cluster, "replica");
  REQUIRE(replica.kafka->StartReplica(&replica.log()).ok());
  REQUIRE(WaitForSeq(replica.log(), next));
  RequireSameEvents(*local.log, replica.log());
  kafka->Stop();
}

TEST_CASE("a transaction the cluster refuses fails its appends as busy and writes nothing") {
  MockCluster cluster;
  Node writer(cluster, "writer");
  REQUIRE(writer.kafka->BecomeWriter(&writer.log()).ok());
  const Seq before = AppendMixed(writer.log(), 3);
  cluster.FailNext(kProduceApi, RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE);
  auto refused = writer.log().Append(Request("orders", "order-9", "{}"));
  REQUIRE_FALSE(refused.ok());
  CHECK(refused.status().code() == ErrorCode::kBusy);
  CHECK(writer.log().LastSeq() == before);
  CHECK_FALSE(writer.log().ReadOnlyReason().has_value());
  // The next append takes the seq the refused one would have had, here and on a replica.
  auto next = writer.log().Append(Request("orders", "order-9", "{}"));
  REQUIRE_MESSAGE(next.ok(), next.status().ToString());
  CHECK(next->positions[0].seq == Seq(before.value() + 1));
  Node replica(cluster, "replica");
  REQUIRE(replica.kafka->StartReplica(&replica.log()).ok());
  REQUIRE(WaitForSeq(replica.log(), next->positions[0].seq));
  RequireSameEvents(writer.log(), replica.log());
}

TEST_CASE("a fenced writer fails the append with not_writer and takes no more") {
  MockCluster cluster;
  Node writer(cluster, "writer");
  REQUIRE(writer.kafka->BecomeWriter(&writer.log()).ok());
  AppendMixed(writer.log(), 2);
  // What the coordinator answers once a newer writer ran init_transactions (the mock cluster
  // does not fence by itself).
  cluster.FailNext(kEndTxnApi, RD_KAFKA_RESP_ERR_PRODUCER_FENCED);
  auto fenced = writer.log().Append(Request("orders", "order-1", "{}"));
  REQUIRE_FALSE(fenced.ok());
  CHECK(fenced.status().code() == ErrorCode::kNotWriter);
  CHECK(writer.kafka->GetStats().fenced);
  REQUIRE(writer.log().ReadOnlyReason().has_value());
  CHECK(writer.log().Append(Request("orders", "order-1", "{}")).status().code() == ErrorCode::kBusy);
  // Resuming does not make it a writer again: only a restart (as a replica, or as the writer
  // that fences the other) does.
  CHECK(writer.log().Resume().code() == ErrorCode::kNotWriter);
}

TEST_CASE("a group committed to Kafka whose local write failed is recovered from Kafka") {
  MockCluster cluster;
  Node writer(cluster, "writer");
  REQUIRE(writer.kafka->BecomeWriter(&writer.log()).ok());
  const Seq before = AppendMixed(writer.log(), 3);
  bool fail = true;
  writer.log().SetWriteFaultForTesting(
      [&] { return fail ? Status::IOError("injected: the disk refused") : Status::Ok(); });
  auto failed = writer.log().Append(Request("orders", "order-5", "{\"lost\":false}"));
  REQUIRE_FALSE(failed.ok());
  CHECK(failed.status().code() == ErrorCode::kIOError);
  CHECK(writer.log().LastSeq() == before);
  fail = false;
  REQUIRE(writer.log().Resume().ok());
  // The event Kafka committed is here now, with the seq it was published with; nothing is
  // written twice and the log goes on after it.
  CHECK(writer.log().LastSeq() == Seq(before.value() + 1));
  auto stream = writer.log().ReadStream("order-5", StreamVersion(1), 10);
  REQUIRE(stream.ok());
  REQUIRE_FALSE(stream->empty());
  CHECK(stream->back().data == "{\"lost\":false}");
  auto next = writer.log().Append(Request("orders", "order-5", "{}"));
  REQUIRE(next.ok());
  CHECK(next->positions[0].seq == Seq(before.value() + 2));
  Node replica(cluster, "replica");
  REQUIRE(replica.kafka->StartReplica(&replica.log()).ok());
  REQUIRE(WaitForSeq(replica.log(), next->positions[0].seq));
  RequireSameEvents(writer.log(), replica.log());
}

TEST_CASE("a RocksDB log moves onto an empty cluster when it starts as the cluster's writer") {
  MockCluster cluster;
  TestLog local;
  REQUIRE(local.log->CreateTopic("orders", 4).ok());
  REQUIRE(local.log->CreateTopic("payments", 2).ok());
  const Seq before = AppendMixed(*local.log, 25);
  // The same data dir, now with the Kafka log as its upstream.
  auto kafka = ReopenOver(local, cluster, "writer");
  REQUIRE(kafka->BecomeWriter(local.log.get()).ok());
  CHECK(kafka->GetStats().published == before.value());
  const Seq after = AppendMixed(*local.log, 5, 25);
  CHECK(after == Seq(before.value() + 5));
  Node replica(cluster, "replica");
  REQUIRE(replica.kafka->StartReplica(&replica.log()).ok());
  REQUIRE(WaitForSeq(replica.log(), after));
  RequireSameEvents(*local.log, replica.log());
  kafka->Stop();
}

TEST_CASE("a data dir that holds another log than the cluster's is refused, not mixed in") {
  MockCluster cluster;
  {
    Node other(cluster, "other");
    REQUIRE(other.kafka->BecomeWriter(&other.log()).ok());
    AppendMixed(other.log(), 4);
  }
  MockCluster second;
  Node writer(second, "writer");
  REQUIRE(writer.kafka->BecomeWriter(&writer.log()).ok());
  AppendMixed(writer.log(), 4);
  // A node whose dir was filled from the first cluster, pointed at the second.
  TestLog local;
  auto first_kafka = ReopenOver(local, cluster, "again");
  REQUIRE(first_kafka->BecomeWriter(local.log.get()).ok());
  REQUIRE(local.log->LastSeq() == Seq(4));
  first_kafka->Stop();
  auto second_kafka = ReopenOver(local, second, "again");
  Status s = second_kafka->BecomeWriter(local.log.get());
  CHECK(s.code() == ErrorCode::kCorruption);
  CHECK(s.message().find("another log than the cluster's") != std::string::npos);
  CHECK(local.log->Append(Request("orders", "order-1", "{}")).status().code() == ErrorCode::kBusy);
  second_kafka->Stop();
}

}  // namespace
}  // namespace cairn
