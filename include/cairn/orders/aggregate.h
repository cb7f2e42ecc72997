// The Order aggregate (the write model): the state a command is decided on, the decision as a
// pure function (Decide), how an event changes the state (Evolve), who may run a command
// (Authorize), and the state's stored form. OrderService runs them; tests call them directly.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "cairn/orders/commands.h"
#include "cairn/orders/events.h"
#include "cairn/orders/values.h"
#include "cairn/status.h"

namespace cairn {

// What the command side needs to decide: the aggregate's state after `version` events.
struct OrderState {
  std::string order_id;
  std::string user_id;
  std::optional<OrderStatus> status;  // nullopt: no such order (version 0)
  PaymentStatus payment_status = PaymentStatus::kPending;
  int64_t total_amount = 0;
  std::string currency;
  uint64_t version = 0;  // stream version of the last event folded in
  bool exists() const { return status.has_value(); }
  bool operator==(const OrderState&) const = default;
};

// What a decision may depend on besides the command and the state. Decide stays pure.
struct DecideContext {
  std::string new_order_id;  // the id a CreateOrder gets
  int64_t now_us = 0;        // the time the command is handled (ORDER_SHIPPED's shippedAt)
};

// The events `command` produces on `state` (DESIGN.md §3's table), or why it may not:
// kNotFound (no such order), kRuleViolation naming the current state ("cannot ship order X:
// its status is CREATED, shipping needs APPROVED"), kRuleViolation with field "amount" when a
// payment does not match the total. Authorization is separate (Authorize).
Result<std::vector<OrderEvent>> Decide(const OrderCommand& command, const OrderState& state,
                                       const DecideContext& context);
// The state after `event`; version + 1. Applies events as facts (no rule checks): used to
// fold both freshly decided events and events read back from the log.
OrderState Evolve(OrderState state, const OrderEvent& event);
// Whether the command's actor may run it on this order (see include/cairn/orders.h):
// kPermissionDenied, or kNotFound for an order the actor may not see.
Status Authorize(const OrderCommand& command, const OrderState& state);

// The write model's value in family "write.order" (key = orderId): JSON, version included.
std::string EncodeOrderState(const OrderState& state);
Result<OrderState> DecodeOrderState(std::string_view bytes);

}  // namespace cairn
