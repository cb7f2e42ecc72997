// librdkafka handles and errors (see client.h).
#include "kafkalog/client.h"

namespace cairn::kafkalog {

Result<Handle> NewClient(rd_kafka_type_t type, const std::map<std::string, std::string>& settings,
                         void (*configure)(rd_kafka_conf_t*)) {
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  char errstr[512];
  for (const auto& [name, value] : settings) {
    if (rd_kafka_conf_set(conf, name.c_str(), value.c_str(), errstr, sizeof errstr) !=
        RD_KAFKA_CONF_OK) {
      rd_kafka_conf_destroy(conf);
      return Status::InvalidArgument("kafka setting " + name + "=" + value + ": " + errstr);
    }
  }
  if (configure != nullptr) configure(conf);
  rd_kafka_t* rk = rd_kafka_new(type, conf, errstr, sizeof errstr);
  if (rk == nullptr) {
    rd_kafka_conf_destroy(conf);  // rd_kafka_new takes it only on success
    return Status::InvalidArgument(std::string("kafka client: ") + errstr);
  }
  return Handle(rk);
}

Status FromKafka(rd_kafka_resp_err_t err, std::string_view context) {
  if (err == RD_KAFKA_RESP_ERR_NO_ERROR) return Status::Ok();
  return Status::IOError("kafka: " + std::string(context) + ": " + rd_kafka_err2str(err));
}

Result<std::map<std::string, uint32_t>> ClusterTopics(rd_kafka_t* rk, int timeout_ms) {
  const rd_kafka_metadata_t* md = nullptr;
  CAIRN_RETURN_IF_ERROR(
      FromKafka(rd_kafka_metadata(rk, /*all_topics=*/1, nullptr, &md, timeout_ms), "metadata"));
  std::map<std::string, uint32_t> topics;
  for (int i = 0; i < md->topic_cnt; ++i) {
    const rd_kafka_metadata_topic_t& t = md->topics[i];
    const std::string_view name(t.topic);
    if (t.err != RD_KAFKA_RESP_ERR_NO_ERROR || name.starts_with("__")) continue;
    topics.emplace(name, static_cast<uint32_t>(t.partition_cnt));
  }
  rd_kafka_metadata_destroy(md);
  return topics;
}

}  // namespace cairn::kafkalog
