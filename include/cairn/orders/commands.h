// The order commands as typed values, and the one set of field checks every command passes
// (ValidateCommand) before anything is decided. Commands come from request bodies (Parse*) or
// are built in C++ by programs that embed Cairn; either way OrderService::Handle validates them
// again.
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

// Request bodies (DESIGN.md §4) to validated commands. Unknown fields, duplicate fields,
// wrong types, fractions where integers belong, out-of-range values and over-long strings are
// kInvalidArgument with field() set, e.g. "items[0].price" or "shippingAddress.city".
//
// CreateOrder body: {items: [{productId, name, price, quantity}], shippingAddress: {street,
// city, zipCode, country, express?}, currency?, userId?, totalAmount?}. userId: an admin may
// name any user; anyone else may only name itself (else kPermissionDenied, field "userId");
// absent means the actor. totalAmount, if sent, must equal Σ price × quantity. `country` is
// required (issue 5 lists it without "?"; DESIGN.md §4 marks it optional: the issue wins).
Result<CreateOrder> ParseCreateOrder(std::string_view body, CommandMeta meta);
// `order_id` comes from the URL path; `body` may be empty, "{}" or, per command:
// approve {}, ship {trackingNumber?}, pay {method, amount}, cancel {reason?}. null counts as
// absent for optional fields.
Result<ApproveOrder> ParseApproveOrder(std::string_view order_id, std::string_view body,
                                       CommandMeta meta);
Result<ShipOrder> ParseShipOrder(std::string_view order_id, std::string_view body,
                                 CommandMeta meta);
Result<CompletePayment> ParseCompletePayment(std::string_view order_id, std::string_view body,
                                             CommandMeta meta);
Result<CancelOrder> ParseCancelOrder(std::string_view order_id, std::string_view body,
                                     CommandMeta meta);

// The field checks of every command: text lengths and characters, item counts, quantities,
// prices, the total's overflow, the currency code, the order id. kInvalidArgument with field()
// set, e.g. "items[0].price" or "shippingAddress.city"; kUnauthenticated for a meta without an
// acting user.
Status ValidateCommand(const OrderCommand& command);
// 1-64 bytes of [A-Za-z0-9_-]; kInvalidArgument naming "orderId".
Status ValidateOrderId(std::string_view order_id);

}  // namespace cairn
