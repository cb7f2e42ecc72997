// The Order aggregate: which events a command produces in a given state (Decide, the table of
// DESIGN.md §3), how an event changes the state (Evolve), who may run a command (Authorize),
// and the stored form of the state in the write model.
#include "cairn/orders/aggregate.h"
#include "base/json_reader.h"
#include "base/json_writer.h"

namespace cairn {
namespace {

using Events = std::vector<OrderEvent>;

Status NoSuchOrder(std::string_view order_id) {
  return Status::NotFound("order " + std::string(order_id) + " not found");
}

// "cannot ship order X: its status is CREATED, shipping needs APPROVED"
Status WrongStatus(const OrderState& state, std::string_view action, std::string_view needs) {
  return Status(ErrorCode::kRuleViolation,
                "cannot " + std::string(action) + " order " + state.order_id + ": its status is " +
                    std::string(OrderStatusName(*state.status)) + ", " + std::string(action) +
                    " needs " + std::string(needs));
}

Result<Events> DecideCreate(const CreateOrder& c, const OrderState& state,
                            const DecideContext& context) {
  if (state.exists()) {
    return Status(ErrorCode::kRuleViolation, "order " + state.order_id + " already exists");
  }
  CAIRN_ASSIGN_OR_RETURN(int64_t total, OrderTotal(c.items));
  return Events{OrderCreated{context.new_order_id, c.user_id, c.items, total,
                             c.shipping_address, c.currency}};
}

Result<Events> DecideApprove(const ApproveOrder& c, const OrderState& state) {
  if (state.status != OrderStatus::kCreated) return WrongStatus(state, "approve", "CREATED");
  return Events{OrderApproved{c.order_id}};
}

Result<Events> DecideShip(const ShipOrder& c, const OrderState& state,
                          const DecideContext& context) {
  if (state.status != OrderStatus::kApproved) return WrongStatus(state, "ship", "APPROVED");
  return Events{OrderShipped{c.order_id, context.now_us, c.tracking_number}};
}

Result<Events> DecidePay(const CompletePayment& c, const OrderState& state) {
  if (state.status == OrderStatus::kCancelled) {
    return Status(ErrorCode::kRuleViolation,
                  "cannot pay order " + state.order_id + ": its status is CANCELLED");
  }
  if (state.payment_status == PaymentStatus::kPaid) {
    return Status(ErrorCode::kRuleViolation,
                  "cannot pay order " + state.order_id + ": it is already PAID");
  }
  if (c.amount != state.total_amount) {
    return Status(ErrorCode::kRuleViolation,
                  "amount " + std::to_string(c.amount) + " does not match the order total " +
                      std::to_string(state.total_amount),
                  "amount");
  }
  return Events{PaymentCompleted{c.order_id, c.method, c.amount}};
}

Result<Events> DecideCancel(const CancelOrder& c, const OrderState& state) {
  if (state.status != OrderStatus::kCreated && state.status != OrderStatus::kApproved) {
    return WrongStatus(state, "cancel", "CREATED or APPROVED");
  }
  return Events{OrderCancelled{c.order_id, c.reason}};
}

}  // namespace

Result<std::vector<OrderEvent>> Decide(const OrderCommand& command, const OrderState& state,
                                       const DecideContext& context) {
  if (const auto* c = std::get_if<CreateOrder>(&command)) {
    return DecideCreate(*c, state, context);
  }
  if (!state.exists()) {
    return NoSuchOrder(std::visit(
        [](const auto& c) -> std::string_view {
          if constexpr (requires { c.order_id; }) return c.order_id;
          return {};
        },
        command));
  }
  if (const auto* c = std::get_if<ApproveOrder>(&command)) return DecideApprove(*c, state);
  if (const auto* c = std::get_if<ShipOrder>(&command)) return DecideShip(*c, state, context);
  if (const auto* c = std::get_if<CompletePayment>(&command)) return DecidePay(*c, state);
  return DecideCancel(std::get<CancelOrder>(command), state);
}

OrderState Evolve(OrderState state, const OrderEvent& event) {
  ++state.version;
  if (const auto* e = std::get_if<OrderCreated>(&event)) {
    state.order_id = e->order_id;
    state.user_id = e->user_id;
    state.status = OrderStatus::kCreated;
    state.payment_status = PaymentStatus::kPending;
    state.total_amount = e->total_amount;
    state.currency = e->currency;
  } else if (std::holds_alternative<OrderApproved>(event)) {
    state.status = OrderStatus::kApproved;
  } else if (std::holds_alternative<OrderShipped>(event)) {
    state.status = OrderStatus::kShipped;
  } else if (std::holds_alternative<PaymentCompleted>(event)) {
    state.payment_status = PaymentStatus::kPaid;
  } else if (std::holds_alternative<OrderCancelled>(event)) {
    state.status = OrderStatus::kCancelled;
  }
  return state;
}

Status Authorize(const OrderCommand& command, const OrderState& state) {
  const Actor& actor =
      std::visit([](const auto& c) -> const Actor& { return c.meta.actor; }, command);
  if (const auto* c = std::get_if<CreateOrder>(&command)) {
    if (c->user_id == actor.user_id || actor.is_admin()) return Status::Ok();
    return Status(ErrorCode::kPermissionDenied,
                  "only an admin may create orders for another user", "userId");
  }
  if (actor.is_admin()) return Status::Ok();
  // A non-admin learns nothing about orders that are not its own.
  if (!state.exists() || state.user_id != actor.user_id) return NoSuchOrder(state.order_id);
  if (std::holds_alternative<CompletePayment>(command)) return Status::Ok();
  return Status(ErrorCode::kPermissionDenied,
                "only an admin may approve, ship or cancel an order");
}

std::string EncodeOrderState(const OrderState& state) {
  json::JsonWriter out;
  out.BeginObject()
      .Key("orderId").String(state.order_id)
      .Key("userId").String(state.user_id)
      .Key("status");
  if (state.status) {
    out.String(OrderStatusName(*state.status));
  } else {
    out.Null();
  }
  out.Key("paymentStatus").String(PaymentStatusName(state.payment_status))
      .Key("totalAmount").Int(state.total_amount)
      .Key("currency").String(state.currency)
      .Key("version").Uint(state.version)
      .EndObject();
  return out.Take();
}

Result<OrderState> DecodeOrderState(std::string_view bytes) {
  json::Input input(bytes);
  CAIRN_ASSIGN_OR_RETURN(json::Object root, input.RootObject());
  OrderState state;
  int64_t version = 0;
  CAIRN_RETURN_IF_ERROR(json::ForEachField(root, "", [&](std::string_view key,
                                                         json::Value v) -> Status {
    if (key == "orderId") return json::Assign(json::ReadString(v, key), &state.order_id);
    if (key == "userId") return json::Assign(json::ReadString(v, key), &state.user_id);
    if (key == "totalAmount") return json::Assign(json::ReadInt(v, key), &state.total_amount);
    if (key == "currency") return json::Assign(json::ReadString(v, key), &state.currency);
    if (key == "version") return json::Assign(json::ReadInt(v, key), &version);
    if (key == "status") {
      if (json::IsNull(v)) return Status::Ok();
      CAIRN_ASSIGN_OR_RETURN(std::string name, json::ReadString(v, key));
      return json::Assign(ParseOrderStatus(name, key), &state.status);
    }
    if (key == "paymentStatus") {
      // Not CAIRN_ASSIGN_OR_RETURN: comparing its moved-to string trips GCC 12's
      // -Wmaybe-uninitialized.
      Result<std::string> name = json::ReadString(v, key);
      if (!name.ok()) return name.status();
      state.payment_status = *name == "PAID" ? PaymentStatus::kPaid : PaymentStatus::kPending;
      return Status::Ok();
    }
    return Status::Ok();
  }));
  if (version < 0) return Status::Corruption("order state has a negative version");
  state.version = static_cast<uint64_t>(version);
  return state;
}

}  // namespace cairn
