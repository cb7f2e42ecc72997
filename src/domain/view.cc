// The order view: what the "orders" projection stores per order and GET /api/orders/{id}
// returns. ApplyToView is the one place that decides how an event changes it.
#include "cairn/orders/views.h"
#include "domain/order_json.h"
#include "base/iso_time.h"
#include "base/json_reader.h"
#include "base/json_writer.h"

namespace cairn {
namespace {

using domain::Strictness;

constexpr int64_t kExpressDeliveryDays = 2;
constexpr int64_t kStandardDeliveryDays = 5;

void WriteTime(json::JsonWriter& out, std::string_view key, int64_t micros) {
  out.Key(key).String(json::FormatIsoTime(micros));
}

// (The field's name is rendered only for an error: parsed again with it.)
Status ReadTime(json::Value v, const json::Path& field, int64_t* out) {
  CAIRN_ASSIGN_OR_RETURN(std::string text, json::ReadString(v, field));
  Result<json::ParsedTime> parsed = json::ParseIsoTime(text, "");
  if (!parsed.ok()) return json::ParseIsoTime(text, field.str()).status();
  *out = parsed->micros;
  return Status::Ok();
}

Status ReadStatus(json::Value v, const json::Path& field, OrderStatus* out) {
  CAIRN_ASSIGN_OR_RETURN(std::string name, json::ReadString(v, field));
  Result<OrderStatus> status = ParseOrderStatus(name, "");
  if (!status.ok()) return ParseOrderStatus(name, field.str()).status();
  *out = *status;
  return Status::Ok();
}

Status ReadPayment(json::Value v, PaymentDetails* out) {
  CAIRN_ASSIGN_OR_RETURN(json::Object object, json::ReadObject(v, "payment"));
  return json::ForEachField(object, "payment", [&](std::string_view key, json::Value f) {
    if (key == "method") return json::Assign(json::ReadString(f, "payment.method"), &out->method);
    if (key == "amount") return json::Assign(json::ReadInt(f, "payment.amount"), &out->amount);
    if (key == "paidAt") return ReadTime(f, "payment.paidAt", &out->paid_at_us);
    return Status::Ok();
  });
}

Status ReadHistory(json::Value v, std::vector<StatusChange>* out) {
  CAIRN_ASSIGN_OR_RETURN(json::Array array, json::ReadArray(v, "history"));
  return json::ForEachElement(array, "history", [&](size_t index, json::Value e) {
    const std::string path = json::IndexPath("history", index);
    CAIRN_ASSIGN_OR_RETURN(json::Object object, json::ReadObject(e, path));
    StatusChange change{OrderStatus::kCreated, 0};
    CAIRN_RETURN_IF_ERROR(json::ForEachField(object, path, [&](std::string_view key,
                                                               json::Value f) {
      if (key == "status") return ReadStatus(f, json::Path(path, key), &change.status);
      if (key == "at") return ReadTime(f, json::Path(path, key), &change.at_us);
      return Status::Ok();
    }));
    out->push_back(change);
    return Status::Ok();
  });
}

// Reads one top-level field of a view into `view`.
Status ReadViewField(std::string_view key, json::Value v, OrderView& view) {
  if (key == "orderId") return json::Assign(json::ReadString(v, key), &view.order_id);
  if (key == "userId") return json::Assign(json::ReadString(v, key), &view.user_id);
  if (key == "status") return ReadStatus(v, key, &view.status);
  if (key == "paymentStatus") {
    // Not CAIRN_ASSIGN_OR_RETURN: comparing its moved-to string trips GCC 12's
    // -Wmaybe-uninitialized.
    Result<std::string> name = json::ReadString(v, key);
    if (!name.ok()) return name.status();
    view.payment_status = *name == "PAID" ? PaymentStatus::kPaid : PaymentStatus::kPending;
    return Status::Ok();
  }
  if (key == "items") return domain::ReadItems(v, key, Strictness::kStored, &view.items);
  if (key == "totalAmount") return json::Assign(json::ReadInt(v, key), &view.total_amount);
  if (key == "currency") return json::Assign(json::ReadString(v, key), &view.currency);
  if (key == "shippingAddress") {
    return domain::ReadAddress(v, key, Strictness::kStored, &view.shipping_address);
  }
  if (key == "estimatedDelivery") return ReadTime(v, key, &view.estimated_delivery_us);
  if (key == "trackingNumber") return json::Assign(json::ReadString(v, key), &view.tracking_number);
  if (key == "shippedAt") {
    view.shipped_at_us = 0;
    return ReadTime(v, key, &*view.shipped_at_us);
  }
  if (key == "payment") {
    view.payment.emplace();
    return ReadPayment(v, &*view.payment);
  }
  if (key == "cancellationReason") {
    return json::Assign(json::ReadString(v, key), &view.cancellation_reason);
  }
  if (key == "createdAt") return ReadTime(v, key, &view.created_at_us);
  if (key == "updatedAt") return ReadTime(v, key, &view.updated_at_us);
  if (key == "version") {
    int64_t version = 0;
    CAIRN_RETURN_IF_ERROR(json::Assign(json::ReadInt(v, key), &version));
    view.version = static_cast<uint64_t>(version);
    return Status::Ok();
  }
  if (key == "history") return ReadHistory(v, &view.history);
  return Status::Ok();  // derived (itemCount, unitCount, formattedTotal) or unknown
}

void ApplyCreated(std::optional<OrderView>& view, const OrderCreated& e, int64_t at) {
  view.emplace();
  view->order_id = e.order_id;
  view->user_id = e.user_id;
  view->items = e.items;
  view->total_amount = e.total_amount;
  view->currency = e.currency;
  view->shipping_address = e.shipping_address;
  const int64_t days = e.shipping_address.express ? kExpressDeliveryDays : kStandardDeliveryDays;
  // From the event's own time, never the wall clock: a rebuild gives the same answer.
  view->estimated_delivery_us = at + days * json::kMicrosPerDay;
  view->created_at_us = at;
  view->history.push_back(StatusChange{OrderStatus::kCreated, at});
}

void MoveTo(OrderView& view, OrderStatus status, int64_t at) {
  view.status = status;
  view.history.push_back(StatusChange{status, at});
}

}  // namespace

std::string OrderView::ToJson() const {
  json::JsonWriter out;
  out.BeginObject()
      .Key("orderId").String(order_id)
      .Key("userId").String(user_id)
      .Key("status").String(OrderStatusName(status))
      .Key("paymentStatus").String(PaymentStatusName(payment_status))
      .Key("items");
  domain::WriteItems(out, items);
  out.Key("totalAmount").Int(total_amount)
      .Key("currency").String(currency)
      .Key("itemCount").Int(ItemCount(items))
      .Key("unitCount").Int(UnitCount(items))
      .Key("formattedTotal").String(FormatMoney(total_amount, currency))
      .Key("shippingAddress");
  domain::WriteAddress(out, shipping_address);
  WriteTime(out, "estimatedDelivery", estimated_delivery_us);
  if (tracking_number) out.Key("trackingNumber").String(*tracking_number);
  if (shipped_at_us) WriteTime(out, "shippedAt", *shipped_at_us);
  if (payment) {
    out.Key("payment").BeginObject()
        .Key("method").String(payment->method)
        .Key("amount").Int(payment->amount);
    WriteTime(out, "paidAt", payment->paid_at_us);
    out.EndObject();
  }
  if (cancellation_reason) out.Key("cancellationReason").String(*cancellation_reason);
  WriteTime(out, "createdAt", created_at_us);
  WriteTime(out, "updatedAt", updated_at_us);
  out.Key("version").Uint(version).Key("history").BeginArray();
  for (const StatusChange& change : history) {
    out.BeginObject().Key("status").String(OrderStatusName(change.status));
    WriteTime(out, "at", change.at_us);
    out.EndObject();
  }
  out.EndArray().EndObject();
  return out.Take();
}

Result<OrderView> ParseOrderView(std::string_view json) {
  json::Input input(json);
  CAIRN_ASSIGN_OR_RETURN(json::Object root, input.RootObject());
  OrderView view;
  CAIRN_RETURN_IF_ERROR(json::ForEachField(
      root, "", [&](std::string_view key, json::Value v) { return ReadViewField(key, v, view); }));
  return view;
}

Status ApplyToView(std::optional<OrderView>& view, const OrderEvent& event, int64_t timestamp_us,
                   uint64_t version) {
  const bool created = std::holds_alternative<OrderCreated>(event);
  if (created == view.has_value()) {
    return Status::InvalidArgument(
        created ? "ORDER_CREATED for order " + OrderIdOf(event) + ", which already exists"
                : std::string(OrderEventType(event)) + " for order " + OrderIdOf(event) +
                      ", which was never created",
        "orderId");
  }
  if (const auto* e = std::get_if<OrderCreated>(&event)) {
    ApplyCreated(view, *e, timestamp_us);
  } else if (std::holds_alternative<OrderApproved>(event)) {
    MoveTo(*view, OrderStatus::kApproved, timestamp_us);
  } else if (const auto* e = std::get_if<OrderShipped>(&event)) {
    MoveTo(*view, OrderStatus::kShipped, timestamp_us);
    view->tracking_number = e->tracking_number;
    view->shipped_at_us = e->shipped_at_us;
  } else if (const auto* e = std::get_if<PaymentCompleted>(&event)) {
    view->payment_status = PaymentStatus::kPaid;
    view->payment = PaymentDetails{e->method, e->amount, timestamp_us};
  } else if (const auto* e = std::get_if<OrderCancelled>(&event)) {
    MoveTo(*view, OrderStatus::kCancelled, timestamp_us);
    view->cancellation_reason = e->reason;
  }
  view->updated_at_us = timestamp_us;
  view->version = version;
  return Status::Ok();
}

}  // namespace cairn
