// librdkafka handles for the Kafka log: owning pointers, configuration from settings, and
// librdkafka errors as Statuses. Used by kafka_log.cc and mirror.cc only.
#pragma once

#include <librdkafka/rdkafka.h>

#include <map>
#include <memory>
#include <string>
#include <string_view>

#include "cairn/status.h"

namespace cairn::kafkalog {

struct HandleDeleter {
  void operator()(rd_kafka_t* rk) const { rd_kafka_destroy(rk); }
};
using Handle = std::unique_ptr<rd_kafka_t, HandleDeleter>;

struct ErrorDeleter {
  void operator()(rd_kafka_error_t* e) const { rd_kafka_error_destroy(e); }
};
using Error = std::unique_ptr<rd_kafka_error_t, ErrorDeleter>;

struct PartitionListDeleter {
  void operator()(rd_kafka_topic_partition_list_t* l) const {
    rd_kafka_topic_partition_list_destroy(l);
  }
};
using PartitionList = std::unique_ptr<rd_kafka_topic_partition_list_t, PartitionListDeleter>;

// A client of `type` with `settings` applied in order; `configure` may add callbacks to the
// configuration before the client is created. kInvalidArgument naming a bad setting.
Result<Handle> NewClient(rd_kafka_type_t type, const std::map<std::string, std::string>& settings,
                         void (*configure)(rd_kafka_conf_t*) = nullptr);

// kOk for RD_KAFKA_RESP_ERR_NO_ERROR, else kIOError "kafka: <context>: <librdkafka's text>".
Status FromKafka(rd_kafka_resp_err_t err, std::string_view context);

// The topics of the cluster (name -> partition count), internal ones ("__...") left out.
Result<std::map<std::string, uint32_t>> ClusterTopics(rd_kafka_t* rk, int timeout_ms);

}  // namespace cairn::kafkalog
