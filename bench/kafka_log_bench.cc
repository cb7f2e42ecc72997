// The Kafka log against the RocksDB log, same workload, same run: durable appends per second
// from T threads (one event per append, --sync always), and on the Kafka log how long a read
// replica takes to apply each acknowledged append (replica lag, p50/p99).
//
// The Kafka side runs on librdkafka's mock cluster (3 brokers, in this process): it measures
// what the Kafka log costs Cairn (the client, transactions, the mirror), not a real broker's
// speed, disks or network, and the brokers share this machine's cores with Cairn.
//
//   build/bench/kafka_log_bench [--appends N] [--threads T] [--rounds R] [--dir D]
#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "bench_util.h"
#include "cairn/kafka_log.h"
#include "cairn/log.h"
#include "cairn/store.h"

namespace cairn {
namespace {

using Clock = std::chrono::steady_clock;

struct Flags {
  size_t appends = 4000;
  size_t threads = 16;
  int rounds = 3;
  std::string dir = "/tmp";
};

struct Round {
  double appends_per_s = 0;
  double appends_per_txn = 0;
  double lag_p50_ms = 0, lag_p99_ms = 0;
};

// A Store and Log on a fresh dir, optionally with a Kafka log upstream.
struct Node {
  std::unique_ptr<Store> store;
  std::unique_ptr<Log> log;
  std::shared_ptr<KafkaLog> kafka;
  ~Node() {
    if (kafka) kafka->Stop();
    log.reset();
    store.reset();
  }
};

std::unique_ptr<Node> OpenNode(const std::string& dir, std::shared_ptr<KafkaLog> kafka) {
  auto node = std::make_unique<Node>();
  StoreOptions store_options;
  store_options.sync = SyncMode::kAlways;
  auto store = Store::Open(dir, store_options);
  if (!store.ok()) { std::fprintf(stderr, "%s\n", store.status().ToString().c_str()); std::exit(1); }
  node->store = std::move(*store);
  LogOptions options;
  options.upstream = kafka;
  auto log = Log::Open(node->store.get(), options);
  if (!log.ok()) { std::fprintf(stderr, "%s\n", log.status().ToString().c_str()); std::exit(1); }
  node->log = std::move(*log);
  node->kafka = std::move(kafka);
  return node;
}

void Check(const Status& s, const char* what) {
  if (!s.ok()) {
    std::fprintf(stderr, "%s: %s\n", what, s.ToString().c_str());
    std::exit(1);
  }
}

// T threads append `appends` events; returns appends/s and fills each seq's ack time.
double RunAppends(Log& log, const Flags& f, std::vector<Clock::time_point>* acked) {
  acked->assign(f.appends + 1, Clock::time_point());
  std::atomic<size_t> next{0};
  const auto start = Clock::now();
  std::vector<std::thread> threads;
  for (size_t t = 0; t < f.threads; ++t) {
    threads.emplace_back([&, t] {
      for (size_t i = next++; i < f.appends; i = next++) {
        AppendRequest req;
        req.topic = "orders";
        req.stream = "order-" + std::to_string(t) + "-" + std::to_string(i % 50);
        req.events.push_back(NewEvent{"", "ORDER_CREATED",
                                      "{\"orderId\":\"" + std::to_string(i) + "\",\"total\":1200}",
                                      {}, 0});
        auto r = log.Append(std::move(req));
        if (!r.ok()) { std::fprintf(stderr, "append: %s\n", r.status().ToString().c_str()); std::exit(1); }
        const uint64_t seq = r->positions.back().seq.value();
        if (seq < acked->size()) (*acked)[seq] = Clock::now();
      }
    });
  }
  for (auto& t : threads) t.join();
  return f.appends / std::chrono::duration<double>(Clock::now() - start).count();
}

Round RocksRound(const Flags& f, const std::string& root, int round) {
  auto node = OpenNode(root + "/rocks-" + std::to_string(round), nullptr);
  std::vector<Clock::time_point> acked;
  Round r;
  r.appends_per_s = RunAppends(*node->log, f, &acked);
  return r;
}

Round KafkaRound(const Flags& f, const std::string& root, int round) {
  char errstr[256];
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  rd_kafka_conf_set(conf, "log_level", "2", errstr, sizeof errstr);
  rd_kafka_t* rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof errstr);
  rd_kafka_mock_cluster_t* cluster = rd_kafka_mock_cluster_new(rk, 3);
  rd_kafka_mock_topic_create(cluster, "orders", 8, 3);
  KafkaLogOptions options;
  options.brokers = rd_kafka_mock_cluster_bootstraps(cluster);
  options.cluster = "bench";
  Round r;
  {
    options.node = "writer";
    auto writer_kafka = KafkaLog::Connect(options);
    Check(writer_kafka.status(), "connect");
    auto writer = OpenNode(root + "/kafka-w-" + std::to_string(round), *writer_kafka);
    Check((*writer_kafka)->BecomeWriter(writer->log.get()), "become writer");
    options.node = "replica";
    auto replica_kafka = KafkaLog::Connect(options);
    Check(replica_kafka.status(), "connect");
    auto replica = OpenNode(root + "/kafka-r-" + std::to_string(round), *replica_kafka);
    Check((*replica_kafka)->StartReplica(replica->log.get()), "start replica");

    // The replica side notes when each seq becomes readable there.
    std::vector<Clock::time_point> seen(f.appends + 1);
    std::thread watcher([&] {
      for (uint64_t seq = 1; seq <= f.appends; ++seq) {
        while (!replica->log->WaitForSeq(Seq(seq), std::chrono::seconds(60))) {
        }
        const auto now = Clock::now();
        for (uint64_t s = seq; s <= replica->log->LastSeq().value() && s <= f.appends; ++s) {
          seen[s] = now;
          seq = s;
        }
      }
    });
    std::vector<Clock::time_point> acked;
    r.appends_per_s = RunAppends(*writer->log, f, &acked);
    watcher.join();
    std::vector<double> lags;
    for (uint64_t seq = 1; seq <= f.appends; ++seq) {
      lags.push_back(std::max(0.0, std::chrono::duration<double, std::milli>(seen[seq] - acked[seq]).count()));
    }
    std::sort(lags.begin(), lags.end());
    r.lag_p50_ms = lags[lags.size() / 2];
    r.lag_p99_ms = lags[lags.size() * 99 / 100];
    const auto stats = (*writer_kafka)->GetStats();
    r.appends_per_txn = stats.transactions ? double(f.appends) / stats.transactions : 0;
  }
  rd_kafka_mock_cluster_destroy(cluster);
  rd_kafka_destroy(rk);
  return r;
}

int Main(int argc, char** argv) {
  Flags f;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string flag = argv[i];
    if (flag == "--appends") f.appends = std::stoul(argv[i + 1]);
    else if (flag == "--threads") f.threads = std::stoul(argv[i + 1]);
    else if (flag == "--rounds") f.rounds = std::stoi(argv[i + 1]);
    else if (flag == "--dir") f.dir = argv[i + 1];
    else { std::fprintf(stderr, "usage: kafka_log_bench [--appends N] [--threads T] [--rounds R] [--dir D]\n"); return 2; }
  }
  auto root = bench::MakeRoot(f.dir, "kafka-log-bench");
  Check(root.status(), "temp dir");
  std::printf("# kafka_log_bench %s | %s | %s | load %s | fs %s\n", bench::UtcNow().c_str(),
              bench::CpuModel().c_str(), bench::Kernel().c_str(), bench::LoadAverage().c_str(),
              bench::FilesystemName(*root).c_str());
  std::printf("# %zu durable appends (one event each) from %zu threads, %d rounds, median; Kafka "
              "on librdkafka's in-process mock cluster (3 brokers)\n", f.appends, f.threads, f.rounds);
  std::vector<double> rocks, kafka, per_txn, p50, p99;
  for (int round = 0; round < f.rounds; ++round) {
    const Round a = RocksRound(f, *root, round);
    const Round b = KafkaRound(f, *root, round);
    rocks.push_back(a.appends_per_s);
    kafka.push_back(b.appends_per_s);
    per_txn.push_back(b.appends_per_txn);
    p50.push_back(b.lag_p50_ms);
    p99.push_back(b.lag_p99_ms);
    std::printf("round %d: rocks %.0f/s  kafka %.0f/s (%.1f appends/transaction)  replica lag "
                "p50 %.1f ms p99 %.1f ms\n", round + 1, a.appends_per_s, b.appends_per_s,
                b.appends_per_txn, b.lag_p50_ms, b.lag_p99_ms);
  }
  const double r = bench::Median(rocks), k = bench::Median(kafka);
  std::printf("appends/s: rocksdb log %.0f, kafka log %.0f, ratio %.2fx; appends/transaction "
              "%.1f; replica lag p50 %.1f ms, p99 %.1f ms\n", r, k, k / r, bench::Median(per_txn),
              bench::Median(p50), bench::Median(p99));
  std::filesystem::remove_all(*root);
  return 0;
}

}  // namespace
}  // namespace cairn

int main(int argc, char** argv) { return cairn::Main(argc, argv); }
