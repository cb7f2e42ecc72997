// InitProducerId v0-1: a new idempotent producer id with epoch 0. Transactions are not
// supported: a transactional id is refused with INVALID_REQUEST.
#include <spdlog/spdlog.h>

#include "kafka/handlers.h"

namespace cairn::kafka {

bool HandleInitProducerId(Broker& broker, const Request& req, const Reply& reply) {
  WireReader r(req.body);
  const std::optional<std::string> transactional_id = r.NullableString();
  r.Int32();  // transaction_timeout_ms
  if (!r.ok()) return false;
  KafkaError error = KafkaError::kNone;
  int64_t id = -1;
  if (transactional_id) {
    error = KafkaError::kInvalidRequest;
  } else if (Result<int64_t> created = broker.producers().NewProducerId(); created.ok()) {
    id = *created;
  } else {
    spdlog::error("kafka: could not persist a new producer id: {}", created.status().ToString());
    error = ErrorFor(created.status());
  }
  ResponseWriter w;
  w.Int32(0);  // throttle_time_ms
  w.Int16(int16_t(error));
  w.Int64(id);
  w.Int16(id < 0 ? -1 : 0);  // epoch
  broker.Complete(reply, w.Take());
  return true;
}

}  // namespace cairn::kafka
