// The order domain's small value types: roles, statuses, money totals and money formatting.
#include <array>

#include "cairn/orders/actor.h"
#include "cairn/orders/values.h"

namespace cairn {

std::string_view RoleName(Role role) {
  switch (role) {
    case Role::kCustomer: return "customer";
    case Role::kService: return "service";
    case Role::kAdmin: return "admin";
  }
  return "customer";
}

Result<Role> ParseRole(std::string_view text) {
  for (Role role : {Role::kCustomer, Role::kService, Role::kAdmin}) {
    if (RoleName(role) == text) return role;
  }
  return Status::InvalidArgument("role must be customer, service or admin", "role");
}

std::string_view OrderStatusName(OrderStatus status) {
  switch (status) {
    case OrderStatus::kCreated: return "CREATED";
    case OrderStatus::kApproved: return "APPROVED";
    case OrderStatus::kShipped: return "SHIPPED";
    case OrderStatus::kCancelled: return "CANCELLED";
  }
  return "CREATED";
}

Result<OrderStatus> ParseOrderStatus(std::string_view text, std::string_view field) {
  for (OrderStatus status : kAllOrderStatuses) {
    if (OrderStatusName(status) == text) return status;
  }
  return Status::InvalidArgument(
      std::string(field) + " must be one of CREATED, APPROVED, SHIPPED, CANCELLED",
      std::string(field));
}

std::string_view PaymentStatusName(PaymentStatus status) {
  return status == PaymentStatus::kPaid ? "PAID" : "PENDING";
}

Result<int64_t> OrderTotal(const std::vector<OrderItem>& items) {
  int64_t total = 0;
  for (size_t i = 0; i < items.size(); ++i) {
    int64_t line;
    if (__builtin_mul_overflow(items[i].price, items[i].quantity, &line)) {
      return Status::InvalidArgument(
          "items[" + std::to_string(i) + "] price × quantity is too large",
          "items[" + std::to_string(i) + "]");
    }
    if (__builtin_add_overflow(total, line, &total)) {
      return Status::InvalidArgument("items total is too large", "items");
    }
  }
  return total;
}

int64_t ItemCount(const std::vector<OrderItem>& items) {
  return static_cast<int64_t>(items.size());
}

int64_t UnitCount(const std::vector<OrderItem>& items) {
  int64_t count = 0;
  for (const OrderItem& item : items) count += item.quantity;
  return count;
}

namespace {

struct CurrencyFormat {
  std::string_view code;
  std::string_view symbol;
  int exponent;
};
constexpr std::array<CurrencyFormat, 6> kKnownCurrencies = {{
    {"KRW", "\xE2\x82\xA9", 0},  // ₩
    {"JPY", "\xC2\xA5", 0},      // ¥
    {"USD", "$", 2},
    {"EUR", "\xE2\x82\xAC", 2},  // €
    {"GBP", "\xC2\xA3", 2},      // £
    {"CNY", "CN\xC2\xA5", 2},    // CN¥
}};

const CurrencyFormat* FindCurrency(std::string_view code) {
  for (const CurrencyFormat& format : kKnownCurrencies) {
    if (format.code == code) return &format;
  }
  return nullptr;
}

// "1,234,567" for 1234567.
std::string GroupThousands(uint64_t value) {
  std::string digits = std::to_string(value);
  std::string out;
  out.reserve(digits.size() + digits.size() / 3);
  for (size_t i = 0; i < digits.size(); ++i) {
    if (i > 0 && (digits.size() - i) % 3 == 0) out.push_back(',');
    out.push_back(digits[i]);
  }
  return out;
}

}  // namespace

int CurrencyExponent(std::string_view currency) {
  const CurrencyFormat* format = FindCurrency(currency);
  return format ? format->exponent : 2;
}

std::string FormatMoney(int64_t minor_units, std::string_view currency) {
  const CurrencyFormat* format = FindCurrency(currency);
  const int exponent = format ? format->exponent : 2;
  // Magnitude as unsigned so INT64_MIN has one too.
  const uint64_t magnitude =
      minor_units < 0 ? ~static_cast<uint64_t>(minor_units) + 1 : static_cast<uint64_t>(minor_units);
  uint64_t scale = 1;
  for (int i = 0; i < exponent; ++i) scale *= 10;

  std::string out = minor_units < 0 ? "-" : "";
  if (format) {
    out += format->symbol;
  } else {
    out += currency;
    out += ' ';
  }
  out += GroupThousands(magnitude / scale);
  if (exponent > 0) {
    std::string fraction = std::to_string(magnitude % scale);
    out += '.';
    out += std::string(static_cast<size_t>(exponent) - fraction.size(), '0') + fraction;
  }
  return out;
}

}  // namespace cairn
