// The order view: everything the order screen shows, one per order, kept by the "orders"
// projection and answered by OrderQueries::GetOrder. ApplyToView is the one place that decides
// how an event changes it.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "cairn/orders/events.h"
#include "cairn/orders/values.h"
#include "cairn/status.h"

namespace cairn {

struct StatusChange {
  OrderStatus status;
  int64_t at_us = 0;
  bool operator==(const StatusChange&) const = default;
};
struct PaymentDetails {
  std::string method;
  int64_t amount = 0;
  int64_t paid_at_us = 0;
  bool operator==(const PaymentDetails&) const = default;
};

// Stored in the "orders" projection as the JSON the API returns (ToJson):
// {orderId, userId, status, paymentStatus, items, totalAmount, currency, itemCount, unitCount,
//  formattedTotal, shippingAddress, estimatedDelivery, trackingNumber?, shippedAt?, payment?
//  {method, amount, paidAt}, cancellationReason?, createdAt, updatedAt, version,
//  history: [{status, at}]} with ISO-8601 UTC timestamps with microseconds.
// The view's JSON stays in the domain, unlike the other response shapes (src/http/order_wire.h):
// it is what the read model stores, so the projection writes it and the queries answer it as is.
struct OrderView {
  std::string order_id;
  std::string user_id;
  OrderStatus status = OrderStatus::kCreated;
  PaymentStatus payment_status = PaymentStatus::kPending;
  std::vector<OrderItem> items;
  int64_t total_amount = 0;
  std::string currency = std::string(kDefaultCurrency);
  ShippingAddress shipping_address;
  int64_t estimated_delivery_us = 0;  // ORDER_CREATED's timestamp + 2 or 5 days
  std::optional<std::string> tracking_number;
  std::optional<int64_t> shipped_at_us;
  std::optional<PaymentDetails> payment;
  std::optional<std::string> cancellation_reason;
  int64_t created_at_us = 0;
  int64_t updated_at_us = 0;
  uint64_t version = 0;  // stream version of the last event applied
  std::vector<StatusChange> history;

  std::string ToJson() const;
  bool operator==(const OrderView&) const = default;
};
// Reads a view back (the derived itemCount, unitCount and formattedTotal are ignored, so a view
// stored before unitCount existed reads too).
Result<OrderView> ParseOrderView(std::string_view json);
// Applies one event with its log timestamp and stream version to a view, deterministically
// (only the event's own time is used). `view` is nullopt before ORDER_CREATED. kInvalidArgument
// for an event that cannot apply (ORDER_CREATED twice, another event before ORDER_CREATED).
Status ApplyToView(std::optional<OrderView>& view, const OrderEvent& event, int64_t timestamp_us,
                   uint64_t version);

}  // namespace cairn
