// A Kafka cluster for the Kafka log's end-to-end tests: librdkafka's mock cluster (in this
// process, on real sockets) with topics made up front, driven over stdin.
//
//   mock_kafka [--brokers N] [--topic NAME:PARTITIONS]...
//
// Prints "bootstrap HOST:PORT,..." once the cluster listens, then reads one command a line and
// answers "ok" or "error <why>":
//   create TOPIC PARTITIONS       a topic (replication factor min(3, brokers))
//   down BROKER | up BROKER       take a broker down or bring it back
//   leader TOPIC PARTITION BROKER move a partition's leader
//   error API_KEY ERROR [COUNT]   the next COUNT (1) requests of API_KEY fail with ERROR
// It exits at the end of stdin (so it dies with the test that started it).
#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <sstream>
#include <string>
#include <vector>

namespace {

int brokers = 3;

std::string Create(rd_kafka_mock_cluster_t* cluster, const std::string& topic, int partitions) {
  const int replication = brokers < 3 ? brokers : 3;
  const rd_kafka_resp_err_t err =
      rd_kafka_mock_topic_create(cluster, topic.c_str(), partitions, replication);
  return err ? std::string("error ") + rd_kafka_err2str(err) : "ok";
}

std::string Run(rd_kafka_mock_cluster_t* cluster, const std::string& line) {
  std::istringstream in(line);
  std::string command;
  in >> command;
  rd_kafka_resp_err_t err = RD_KAFKA_RESP_ERR_NO_ERROR;
  if (command == "create") {
    std::string topic;
    int partitions = 0;
    if (!(in >> topic >> partitions)) return "error usage: create TOPIC PARTITIONS";
    return Create(cluster, topic, partitions);
  } else if (command == "down" || command == "up") {
    int broker = 0;
    if (!(in >> broker)) return "error usage: down|up BROKER";
    err = command == "down" ? rd_kafka_mock_broker_set_down(cluster, broker)
                            : rd_kafka_mock_broker_set_up(cluster, broker);
  } else if (command == "leader") {
    std::string topic;
    int partition = 0, broker = 0;
    if (!(in >> topic >> partition >> broker)) return "error usage: leader TOPIC PARTITION BROKER";
    err = rd_kafka_mock_partition_set_leader(cluster, topic.c_str(), partition, broker);
  } else if (command == "error") {
    int api_key = 0, code = 0, count = 1;
    if (!(in >> api_key >> code)) return "error usage: error API_KEY ERROR [COUNT]";
    in >> count;
    std::vector<rd_kafka_resp_err_t> errors(count, static_cast<rd_kafka_resp_err_t>(code));
    rd_kafka_mock_push_request_errors_array(cluster, static_cast<int16_t>(api_key), errors.size(),
                                            errors.data());
  } else {
    return "error unknown command " + command;
  }
  return err ? std::string("error ") + rd_kafka_err2str(err) : "ok";
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::pair<std::string, int>> topics;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "--brokers" && i + 1 < argc) {
      brokers = std::atoi(argv[++i]);
    } else if (arg == "--topic" && i + 1 < argc) {
      const std::string spec = argv[++i];
      const size_t colon = spec.rfind(':');
      if (colon == std::string::npos) {
        std::cerr << "--topic NAME:PARTITIONS, not " << spec << "\n";
        return 2;
      }
      topics.emplace_back(spec.substr(0, colon), std::atoi(spec.c_str() + colon + 1));
    } else {
      std::cerr << "usage: mock_kafka [--brokers N] [--topic NAME:PARTITIONS]...\n";
      return 2;
    }
  }
  char errstr[512];
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  rd_kafka_conf_set(conf, "log_level", "3", errstr, sizeof errstr);
  rd_kafka_t* rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof errstr);
  if (rk == nullptr) {
    std::cerr << errstr << "\n";
    return 1;
  }
  rd_kafka_mock_cluster_t* cluster = rd_kafka_mock_cluster_new(rk, brokers);
  if (cluster == nullptr) {
    std::cerr << "could not start the mock cluster\n";
    return 1;
  }
  for (const auto& [topic, partitions] : topics) {
    const std::string result = Create(cluster, topic, partitions);
    if (result != "ok") {
      std::cerr << "topic " << topic << ": " << result << "\n";
      return 1;
    }
  }
  std::cout << "bootstrap " << rd_kafka_mock_cluster_bootstraps(cluster) << std::endl;
  std::string line;
  while (std::getline(std::cin, line)) {
    if (line.empty()) continue;
    std::cout << Run(cluster, line) << std::endl;
  }
  rd_kafka_mock_cluster_destroy(cluster);
  rd_kafka_destroy(rk);
  return 0;
}
