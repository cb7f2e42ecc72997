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
  auto answer = [&broker, reply](KafkaError error, int64_t id) {
    ResponseWriter w;
    w.Int32(0);  // throttle_time_ms
    w.Int16(int16_t(error));
    w.Int64(id);
    w.Int16(id < 0 ? -1 : 0);  // epoch
    broker.Complete(reply, w.Take());
  };
  if (transactional_id) {
    answer(KafkaError::kInvalidRequest, -1);
    return true;
  }
  auto [id, writes] = broker.producers().NewProducerId();
  broker.WriteDurably(std::move(writes), [answer, id = id](Status s) {
    if (!s.ok()) spdlog::error("kafka: could not persist producer id {}: {}", id, s.ToString());
    answer(s.ok() ? KafkaError::kNone : ErrorFor(s), s.ok() ? id : -1);
  });
  return true;
}

}  // namespace cairn::kafka
