// The order commands as typed values, and the one set of field checks every command passes
// (ValidateCommand) before anything is decided. Commands come from the HTTP layer's request
// parsers (src/http/order_wire.h) or are built in C++ by programs that embed Cairn; either way
// OrderService::Handle validates them again.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "cairn/orders/actor.h"
#include "cairn/orders/values.h"
#include "cairn/status.h"

namespace cairn {

// What every command carries besides its payload.
struct CommandMeta {
  // The client's Idempotency-Key: 1-64 printable ASCII characters, or empty for none. A command
  // whose (actor user, key) was already handled returns the original result without appending;
  // the same key with a different command is kConflict.
  std::string command_id;
  Actor actor;
};

struct CreateOrder {
  CommandMeta meta;
  std::string user_id;  // the order's owner; filled from meta.actor unless an admin set it
  std::vector<OrderItem> items;
  ShippingAddress shipping_address;
  std::string currency = std::string(kDefaultCurrency);
};
struct ApproveOrder {
  CommandMeta meta;
  std::string order_id;
};
struct ShipOrder {
  CommandMeta meta;
  std::string order_id;
  std::optional<std::string> tracking_number;
};
struct CompletePayment {
  CommandMeta meta;
  std::string order_id;
  std::string method;   // e.g. "card", "transfer"
  int64_t amount = 0;   // minor units; must equal the order's total
};
struct CancelOrder {
  CommandMeta meta;
  std::string order_id;
  std::optional<std::string> reason;
};
using OrderCommand = std::variant<CreateOrder, ApproveOrder, ShipOrder, CompletePayment, CancelOrder>;

// Checks the actor and the Idempotency-Key and builds the meta. Errors: kInvalidArgument
// ("Idempotency-Key" for a bad key), kUnauthenticated for an empty actor user id.
Result<CommandMeta> MakeCommandMeta(std::string_view idempotency_key, Actor actor);

// The field checks of every command: text lengths and characters, item counts, quantities,
// prices, the total's overflow, the currency code, the order id. kInvalidArgument with field()
// set, e.g. "items[0].price" or "shippingAddress.city"; kUnauthenticated for a meta without an
// acting user.
Status ValidateCommand(const OrderCommand& command);
// 1-64 bytes of [A-Za-z0-9_-]; kInvalidArgument naming "orderId".
Status ValidateOrderId(std::string_view order_id);

}  // namespace cairn
