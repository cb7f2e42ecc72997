// The order events: their types, topics and data JSON in the seed's shapes (DESIGN.md §3), so
// events imported from the seed's Kafka topics and events Cairn writes read the same way.
#include "cairn/orders/events.h"
#include "domain/order_json.h"
#include "base/iso_time.h"
#include "base/json_reader.h"
#include "base/json_writer.h"

namespace cairn {
namespace {

using domain::Strictness;

template <class... Ts>
struct Overloaded : Ts... {
  using Ts::operator()...;
};
// Spelled out for clang 14 (the fuzz build), which lacks C++20's deduction for aggregates.
template <class... Ts>
Overloaded(Ts...) -> Overloaded<Ts...>;

constexpr std::string_view kCreated = "ORDER_CREATED";
constexpr std::string_view kApproved = "ORDER_APPROVED";
constexpr std::string_view kShipped = "ORDER_SHIPPED";
constexpr std::string_view kPaid = "PAYMENT_COMPLETED";
constexpr std::string_view kCancelled = "ORDER_CANCELLED";

std::string CreatedData(const OrderCreated& e) {
  json::JsonWriter out;
  out.BeginObject().Key("orderId").String(e.order_id).Key("userId").String(e.user_id);
  out.Key("items");
  domain::WriteItems(out, e.items);
  out.Key("totalAmount").Int(e.total_amount).Key("shippingAddress");
  domain::WriteAddress(out, e.shipping_address);
  out.Key("currency").String(e.currency).EndObject();
  return out.Take();
}

std::string ShippedData(const OrderShipped& e) {
  json::JsonWriter out;
  out.BeginObject().Key("orderId").String(e.order_id);
  out.Key("shippedAt").String(json::FormatIsoTime(e.shipped_at_us));
  if (e.tracking_number) out.Key("trackingNumber").String(*e.tracking_number);
  return out.EndObject().Take();
}

// Reads an optional string: absent or null stays nullopt.
Status OptionalString(json::Value v, std::string_view field, std::optional<std::string>* out) {
  if (json::IsNull(v)) return Status::Ok();
  return json::Assign(json::ReadString(v, field), out);
}

// The fields of an event's data object, each handed to `visit` (after "orderId", which is
// read here and required for every order event).
Status ReadData(std::string_view data, std::string* order_id, const json::FieldVisitor& visit) {
  json::Input input(data);
  CAIRN_ASSIGN_OR_RETURN(json::Object root, input.RootObject());
  bool has_order_id = false;
  CAIRN_RETURN_IF_ERROR(json::ForEachField(root, "", [&](std::string_view key, json::Value v) {
    if (key == "orderId") {
      has_order_id = true;
      return json::Assign(json::ReadString(v, "orderId"), order_id);
    }
    return visit(key, v);
  }));
  if (!has_order_id) return json::MissingField("orderId");
  return Status::Ok();
}

Result<OrderEvent> ParseCreated(std::string_view data) {
  OrderCreated e;
  bool has_user = false, has_items = false, has_total = false;
  CAIRN_RETURN_IF_ERROR(ReadData(data, &e.order_id, [&](std::string_view key, json::Value v) {
    if (key == "userId") {
      has_user = true;
      return json::Assign(json::ReadString(v, "userId"), &e.user_id);
    }
    if (key == "items") {
      has_items = true;
      return domain::ReadItems(v, "items", Strictness::kStored, &e.items);
    }
    if (key == "totalAmount") {
      has_total = true;
      return json::Assign(json::ReadInt(v, "totalAmount"), &e.total_amount);
    }
    if (key == "shippingAddress") {
      return domain::ReadAddress(v, "shippingAddress", Strictness::kStored, &e.shipping_address);
    }
    if (key == "currency" && !json::IsNull(v)) {
      return json::Assign(json::ReadString(v, "currency"), &e.currency);
    }
    return Status::Ok();
  }));
  if (!has_user) return json::MissingField("userId");
  if (!has_items) return json::MissingField("items");
  if (!has_total) return json::MissingField("totalAmount");
  return OrderEvent(std::move(e));
}

Result<OrderEvent> ParseShipped(std::string_view data, int64_t timestamp_us) {
  OrderShipped e;
  e.shipped_at_us = timestamp_us;
  CAIRN_RETURN_IF_ERROR(ReadData(data, &e.order_id, [&](std::string_view key, json::Value v) {
    if (key == "trackingNumber") return OptionalString(v, "trackingNumber", &e.tracking_number);
    if (key == "shippedAt" && !json::IsNull(v)) {
      CAIRN_ASSIGN_OR_RETURN(std::string text, json::ReadString(v, "shippedAt"));
      CAIRN_ASSIGN_OR_RETURN(json::ParsedTime at, json::ParseIsoTime(text, "shippedAt"));
      e.shipped_at_us = at.micros;
    }
    return Status::Ok();
  }));
  return OrderEvent(std::move(e));
}

Result<OrderEvent> ParsePaid(std::string_view data) {
  PaymentCompleted e;
  bool has_amount = false;
  CAIRN_RETURN_IF_ERROR(ReadData(data, &e.order_id, [&](std::string_view key, json::Value v) {
    if (key == "method" && !json::IsNull(v)) {
      return json::Assign(json::ReadString(v, "method"), &e.method);
    }
    if (key == "amount") {
      has_amount = true;
      return json::Assign(json::ReadInt(v, "amount"), &e.amount);
    }
    return Status::Ok();
  }));
  if (!has_amount) return json::MissingField("amount");
  return OrderEvent(std::move(e));
}

}  // namespace

std::string_view OrderEventType(const OrderEvent& event) {
  return std::visit(Overloaded{
                        [](const OrderCreated&) { return kCreated; },
                        [](const OrderApproved&) { return kApproved; },
                        [](const OrderShipped&) { return kShipped; },
                        [](const PaymentCompleted&) { return kPaid; },
                        [](const OrderCancelled&) { return kCancelled; },
                    },
                    event);
}

std::string_view OrderEventTopic(const OrderEvent& event) {
  if (std::holds_alternative<PaymentCompleted>(event)) return kPaymentEventsTopic;
  if (std::holds_alternative<OrderShipped>(event)) return kShippingEventsTopic;
  return kOrderEventsTopic;
}

const std::string& OrderIdOf(const OrderEvent& event) {
  return std::visit([](const auto& e) -> const std::string& { return e.order_id; }, event);
}

std::string OrderEventData(const OrderEvent& event) {
  return std::visit(
      Overloaded{
          [](const OrderCreated& e) { return CreatedData(e); },
          [](const OrderApproved& e) {
            return json::JsonWriter().BeginObject().Key("orderId").String(e.order_id)
                .EndObject().Take();
          },
          [](const OrderShipped& e) { return ShippedData(e); },
          [](const PaymentCompleted& e) {
            return json::JsonWriter().BeginObject().Key("orderId").String(e.order_id)
                .Key("method").String(e.method).Key("amount").Int(e.amount)
                .EndObject().Take();
          },
          [](const OrderCancelled& e) {
            json::JsonWriter out;
            out.BeginObject().Key("orderId").String(e.order_id);
            if (e.reason) out.Key("reason").String(*e.reason);
            return out.EndObject().Take();
          },
      },
      event);
}

bool IsOrderEventType(std::string_view type) {
  return type == kCreated || type == kApproved || type == kShipped || type == kPaid ||
         type == kCancelled;
}

Result<OrderEvent> ParseOrderEvent(std::string_view type, std::string_view data,
                                   int64_t timestamp_us) {
  if (type == kCreated) return ParseCreated(data);
  if (type == kShipped) return ParseShipped(data, timestamp_us);
  if (type == kPaid) return ParsePaid(data);
  if (type == kApproved) {
    OrderApproved e;
    CAIRN_RETURN_IF_ERROR(ReadData(data, &e.order_id, [](std::string_view, json::Value) {
      return Status::Ok();
    }));
    return OrderEvent(std::move(e));
  }
  if (type == kCancelled) {
    OrderCancelled e;
    CAIRN_RETURN_IF_ERROR(ReadData(data, &e.order_id, [&](std::string_view key, json::Value v) {
      return key == "reason" ? OptionalString(v, "reason", &e.reason) : Status::Ok();
    }));
    return OrderEvent(std::move(e));
  }
  return Status::InvalidArgument("not an order event type: " + std::string(type), "type");
}

std::string OrderStream(std::string_view order_id) {
  return "order-" + std::string(order_id);
}

}  // namespace cairn
