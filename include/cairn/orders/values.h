// The order domain's values: statuses, items, shipping addresses, money, and the limits every
// command is validated against. Money is int64 minor units (KRW has none: 12000 is ₩12,000;
// USD 1234 is $12.34); every sum and product is overflow-checked.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "cairn/status.h"

namespace cairn {

enum class OrderStatus { kCreated, kApproved, kShipped, kCancelled };
// "CREATED", "APPROVED", "SHIPPED", "CANCELLED".
std::string_view OrderStatusName(OrderStatus status);
// Parses a status name (as above); anything else is kInvalidArgument naming `field`.
Result<OrderStatus> ParseOrderStatus(std::string_view text, std::string_view field);
inline constexpr OrderStatus kAllOrderStatuses[] = {OrderStatus::kCreated, OrderStatus::kApproved,
                                                    OrderStatus::kShipped, OrderStatus::kCancelled};

enum class PaymentStatus { kPending, kPaid };
// "PENDING", "PAID".
std::string_view PaymentStatusName(PaymentStatus status);

struct OrderItem {
  std::string product_id;
  std::string name;
  int64_t price = 0;     // minor units per piece, >= 0
  int64_t quantity = 0;  // pieces, >= 1
  bool operator==(const OrderItem&) const = default;
};

struct ShippingAddress {
  std::string street;
  std::string city;
  std::string zip_code;
  std::string country;
  bool express = false;  // estimatedDelivery = creation + 2 days if express, else + 5
  bool operator==(const ShippingAddress&) const = default;
};

inline constexpr std::string_view kDefaultCurrency = "KRW";

// Limits enforced by ValidateCommand and the request parsers (string lengths are in bytes).
inline constexpr size_t kMaxOrderItems = 100;
inline constexpr int64_t kMaxItemQuantity = 1'000'000;
inline constexpr size_t kMaxIdBytes = 64;          // orderId, userId, productId
inline constexpr size_t kMaxItemNameBytes = 200;
inline constexpr size_t kMaxStreetBytes = 200;
inline constexpr size_t kMaxCityBytes = 100;
inline constexpr size_t kMaxZipCodeBytes = 20;
inline constexpr size_t kMaxCountryBytes = 64;
inline constexpr size_t kMaxTrackingNumberBytes = 64;
inline constexpr size_t kMaxPaymentMethodBytes = 32;
inline constexpr size_t kMaxCancelReasonBytes = 500;
inline constexpr size_t kMaxCommandIdBytes = 64;   // the Idempotency-Key

// Σ price × quantity with overflow checks. kInvalidArgument naming "items[i]" (the product
// overflows) or "items" (the sum overflows).
Result<int64_t> OrderTotal(const std::vector<OrderItem>& items);
// The number of item lines: the view's itemCount, as the seed's read model counts it
// (items.length), so imported seed orders read as the seed showed them.
int64_t ItemCount(const std::vector<OrderItem>& items);
// Σ quantity: the view's unitCount. REQUIRES: items validated (no overflow possible then).
int64_t UnitCount(const std::vector<OrderItem>& items);

// Minor units of one major unit's exponent: 0 for KRW and JPY, 2 for most others.
int CurrencyExponent(std::string_view currency);
// "₩12,000" (KRW), "$1,234.56" (USD), "€1,234.56" (EUR), "¥12,000" (JPY), "£1.00" (GBP);
// any other code as "CHF 1,234.56" with the exponent of CurrencyExponent.
std::string FormatMoney(int64_t minor_units, std::string_view currency);

}  // namespace cairn
