// The order events (DESIGN.md §3): their types, topics and data in the seed's shapes, so events
// exported from the seed's Kafka topics and events Cairn writes read the same way.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "cairn/orders/values.h"
#include "cairn/status.h"

namespace cairn {

inline constexpr std::string_view kOrderEventsTopic = "order-events";
inline constexpr std::string_view kPaymentEventsTopic = "payment-events";
inline constexpr std::string_view kShippingEventsTopic = "shipping-events";

struct OrderCreated {  // ORDER_CREATED on order-events
  std::string order_id;
  std::string user_id;
  std::vector<OrderItem> items;
  int64_t total_amount = 0;
  ShippingAddress shipping_address;
  std::string currency = std::string(kDefaultCurrency);  // absent in the seed's events: KRW
};
struct OrderApproved {  // ORDER_APPROVED on order-events
  std::string order_id;
};
struct OrderShipped {  // ORDER_SHIPPED on shipping-events
  std::string order_id;
  int64_t shipped_at_us = 0;  // "shippedAt"; the event's timestamp when absent
  std::optional<std::string> tracking_number;
};
struct PaymentCompleted {  // PAYMENT_COMPLETED on payment-events
  std::string order_id;
  std::string method;
  int64_t amount = 0;
};
struct OrderCancelled {  // ORDER_CANCELLED on order-events
  std::string order_id;
  std::optional<std::string> reason;
};
using OrderEvent =
    std::variant<OrderCreated, OrderApproved, OrderShipped, PaymentCompleted, OrderCancelled>;

std::string_view OrderEventType(const OrderEvent& event);   // "ORDER_CREATED", ...
std::string_view OrderEventTopic(const OrderEvent& event);  // per the table of DESIGN.md §3
const std::string& OrderIdOf(const OrderEvent& event);
// The event's data as the seed wrote it, e.g. {"orderId":…,"method":"card","amount":36000}.
std::string OrderEventData(const OrderEvent& event);
// Whether `type` is one of the five order event types.
bool IsOrderEventType(std::string_view type);
// Reads an event's data, tolerating the seed's variants (no currency: KRW; shippedAt with or
// without fraction; unknown fields ignored). `timestamp_us` fills shippedAt when it is absent.
// Errors: kInvalidArgument naming the field for missing or mistyped data, or an unknown type.
Result<OrderEvent> ParseOrderEvent(std::string_view type, std::string_view data,
                                   int64_t timestamp_us);

// "order-<orderId>".
std::string OrderStream(std::string_view order_id);

}  // namespace cairn
