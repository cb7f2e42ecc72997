// The client side of bench/kafka_bench.sh: a librdkafka producer and consumer, and the raw
// RocksDB scan the consumer is compared with. One line of results per run on stdout, as
// "key=value" pairs the script reads.
//
//   kafka_client produce BROKER TOPIC RECORDS SIZE   acks=all, idempotent, murmur2 keys;
//                                                    records/s once every delivery report is in
//                                                    (idempotent, as a user of acks=all sets it and
//                                                    Java's client defaults: a retried batch is not
//                                                    written twice, so the log holds RECORDS events)
//   kafka_client consume BROKER TOPIC RECORDS        every partition from the beginning until
//                                                    RECORDS arrived (CRCs checked); records/s
//                                                    from the first record (as librdkafka's
//                                                    rdkafka_performance), connect time apart
//   kafka_client scan DATA_DIR                       the `log` family, read-only; records/s
#include <librdkafka/rdkafka.h>
#include <rocksdb/db.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

namespace {

using Clock = std::chrono::steady_clock;

double Seconds(Clock::time_point since) {
  return std::chrono::duration<double>(Clock::now() - since).count();
}

[[noreturn]] void Die(const std::string& what) {
  std::fprintf(stderr, "kafka_client: %s\n", what.c_str());
  std::exit(2);
}

rd_kafka_conf_t* Conf(const std::vector<std::pair<std::string, std::string>>& settings) {
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  char err[512];
  for (const auto& [k, v] : settings) {
    if (rd_kafka_conf_set(conf, k.c_str(), v.c_str(), err, sizeof err) != RD_KAFKA_CONF_OK) Die(err);
  }
  return conf;
}

std::atomic<long> delivered{0};
std::atomic<long> failed{0};

void OnDelivery(rd_kafka_t*, const rd_kafka_message_t* m, void*) {
  (m->err ? failed : delivered).fetch_add(1);
}

int Produce(const std::string& broker, const std::string& topic, long records, size_t size) {
  rd_kafka_conf_t* conf = Conf({{"bootstrap.servers", broker}, {"acks", "all"},
                                {"partitioner", "murmur2_random"}, {"linger.ms", "5"}, {"enable.idempotence", "true"},
                                {"queue.buffering.max.messages", "1000000"}});
  rd_kafka_conf_set_dr_msg_cb(conf, OnDelivery);
  char err[512];
  rd_kafka_t* rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof err);
  if (!rk) Die(err);
  const std::string value(size, 'v');
  const auto start = Clock::now();
  for (long i = 0; i < records; ++i) {
    const std::string key = "key-" + std::to_string(i % 100000);
    for (;;) {
      rd_kafka_resp_err_t e = rd_kafka_producev(
          rk, RD_KAFKA_V_TOPIC(topic.c_str()), RD_KAFKA_V_KEY(key.data(), key.size()),
          RD_KAFKA_V_VALUE(const_cast<char*>(value.data()), value.size()),
          RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_END);
      if (e == RD_KAFKA_RESP_ERR_NO_ERROR) break;
      if (e != RD_KAFKA_RESP_ERR__QUEUE_FULL) Die(rd_kafka_err2str(e));
      rd_kafka_poll(rk, 10);
    }
    rd_kafka_poll(rk, 0);
  }
  rd_kafka_flush(rk, 120'000);
  const double s = Seconds(start);
  rd_kafka_destroy(rk);
  std::printf("records=%ld delivered=%ld failed=%ld seconds=%.3f rate=%.0f\n", records, delivered.load(),
              failed.load(), s, double(delivered.load()) / s);
  return failed.load() == 0 ? 0 : 1;
}

int Consume(const std::string& broker, const std::string& topic, long records) {
  rd_kafka_conf_t* conf = Conf({{"bootstrap.servers", broker}, {"group.id", "kafka-bench"},
                                {"enable.auto.commit", "false"}, {"check.crcs", "true"},
                                {"fetch.max.bytes", "52428800"}});
  char err[512];
  rd_kafka_t* rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, err, sizeof err);
  if (!rk) Die(err);
  const rd_kafka_metadata_t* md = nullptr;
  rd_kafka_topic_t* t = rd_kafka_topic_new(rk, topic.c_str(), nullptr);
  if (rd_kafka_metadata(rk, 0, t, &md, 10'000) != RD_KAFKA_RESP_ERR_NO_ERROR) Die("no metadata");
  rd_kafka_topic_partition_list_t* parts = rd_kafka_topic_partition_list_new(16);
  for (int i = 0; i < md->topics[0].partition_cnt; ++i) {
    rd_kafka_topic_partition_list_add(parts, topic.c_str(), md->topics[0].partitions[i].id)->offset =
        RD_KAFKA_OFFSET_BEGINNING;
  }
  rd_kafka_metadata_destroy(md);
  rd_kafka_topic_destroy(t);
  const auto assigned = Clock::now();
  rd_kafka_assign(rk, parts);
  long got = 0;
  size_t bytes = 0;
  Clock::time_point start = assigned;
  while (got < records && Seconds(assigned) < 300) {
    rd_kafka_message_t* m = rd_kafka_consumer_poll(rk, 1000);
    if (!m) continue;
    if (!m->err) {
      if (got == 0) start = Clock::now();
      ++got;
      bytes += m->len;
    } else if (m->err != RD_KAFKA_RESP_ERR__PARTITION_EOF) {
      Die(rd_kafka_message_errstr(m));
    }
    rd_kafka_message_destroy(m);
  }
  const double s = Seconds(start);
  rd_kafka_topic_partition_list_destroy(parts);
  rd_kafka_consumer_close(rk);
  rd_kafka_destroy(rk);
  std::printf("records=%ld bytes=%zu seconds=%.3f rate=%.0f first_record_after=%.3f\n", got, bytes, s,
              double(got) / s, std::chrono::duration<double>(start - assigned).count());
  return got == records ? 0 : 1;
}

int Scan(const std::string& dir) {
  std::vector<std::string> families;
  rocksdb::Status s = rocksdb::DB::ListColumnFamilies(rocksdb::DBOptions(), dir, &families);
  if (!s.ok()) Die(s.ToString());
  std::vector<rocksdb::ColumnFamilyDescriptor> descriptors;
  for (const auto& name : families) descriptors.emplace_back(name, rocksdb::ColumnFamilyOptions());
  std::vector<rocksdb::ColumnFamilyHandle*> handles;
  rocksdb::DB* raw = nullptr;
  s = rocksdb::DB::OpenForReadOnly(rocksdb::DBOptions(), dir, descriptors, &handles, &raw);
  if (!s.ok()) Die(s.ToString());
  std::unique_ptr<rocksdb::DB> db(raw);
  rocksdb::ColumnFamilyHandle* log = nullptr;
  for (size_t i = 0; i < families.size(); ++i) {
    if (families[i] == "log") log = handles[i];
  }
  if (!log) Die("no log family in " + dir);
  rocksdb::ReadOptions options;
  options.fill_cache = false;
  const auto start = Clock::now();
  long n = 0;
  size_t bytes = 0;
  std::unique_ptr<rocksdb::Iterator> it(db->NewIterator(options, log));
  for (it->SeekToFirst(); it->Valid(); it->Next()) {
    ++n;
    bytes += it->value().size();
  }
  const double secs = Seconds(start);
  it.reset();
  for (auto* h : handles) db->DestroyColumnFamilyHandle(h);
  std::printf("records=%ld bytes=%zu seconds=%.3f rate=%.0f\n", n, bytes, secs, double(n) / secs);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  const std::vector<std::string> a(argv + 1, argv + argc);
  if (a.size() == 5 && a[0] == "produce") return Produce(a[1], a[2], std::atol(a[3].c_str()), std::stoul(a[4]));
  if (a.size() == 4 && a[0] == "consume") return Consume(a[1], a[2], std::atol(a[3].c_str()));
  if (a.size() == 2 && a[0] == "scan") return Scan(a[1]);
  std::fprintf(stderr,
               "usage: kafka_client produce BROKER TOPIC RECORDS SIZE | consume BROKER TOPIC RECORDS | "
               "scan DATA_DIR\n");
  return 2;
}
