// OrderService, the command side: validates, authorizes and decides a command, then appends its
// events, the order's new state and the idempotency record in ONE Log::Append. Db::Open opens
// one (Db::orders()); the HTTP layer hands it the commands it parsed.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "cairn/log.h"
#include "cairn/orders/aggregate.h"
#include "cairn/orders/commands.h"
#include "cairn/status.h"
#include "cairn/types.h"

namespace cairn {

inline constexpr std::string_view kOrderStateFamily = "write.order";
inline constexpr std::string_view kCommandFamily = "write.commands";

// What a handled command answers: HTTP 201/200 {orderId, version, position}.
struct CommandResult {
  std::string order_id;
  StreamVersion version;  // of the order's stream after the command
  Position position;      // of the command's last event: the key to read-your-writes
  bool replayed = false;  // true when an Idempotency-Key repeat returned the original result
};

struct OrderServiceOptions {
  // Attempts at a command whose order changed between load and append (kConflict from the
  // log). Each attempt reloads the state and decides again. Default: 8.
  int max_attempts = 8;
  // The time commands are stamped with (µs since epoch). Default: the system clock.
  std::function<int64_t()> clock;
  // The id of a new order. Default: a random UUID.
  std::function<std::string()> new_order_id;
};

// Handles order commands. Thread-safe: any number of threads may call it at once; concurrent
// commands on one order are serialized by the log's expected-version check (retried, never
// lost). `log` must outlive the service.
class OrderService {
 public:
  // Opens the write-model families ("write.order", "write.commands") on the log's store.
  static Result<std::unique_ptr<OrderService>> Open(Log* log, OrderServiceOptions options = {});

  // Validates, authorizes, decides and appends `command`:
  // - loads the order's state from "write.order" (no replay; only events appended to the
  //   stream behind the service's back, e.g. by an import, are read and folded in);
  // - appends its events to the topic of each event, stream "order-<id>", with expected
  //   version = the loaded version (NoStream for a create), and in the same WriteBatch the new
  //   state and (with an Idempotency-Key) the command's record;
  // - on kConflict reloads and decides again, up to max_attempts, then answers kConflict.
  // Errors: those of ValidateCommand, Authorize, Decide and Log::Append.
  Result<CommandResult> Handle(const OrderCommand& command);

  // The order's current state (version 0 and no status when it does not exist).
  Result<OrderState> Load(std::string_view order_id) const;

 private:
  OrderService(Log* log, OrderServiceOptions options, Family* states, Family* commands);
  Result<std::optional<CommandResult>> FindHandled(const CommandMeta& meta,
                                                   std::string_view fingerprint) const;
  Result<std::optional<CommandResult>> Attempt(const OrderCommand& command,
                                               const std::string& order_id,
                                               std::string_view fingerprint);

  Log* log_;
  OrderServiceOptions options_;
  Family* states_;
  Family* commands_;
};

}  // namespace cairn
