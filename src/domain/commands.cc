// The one set of field checks (ValidateCommand) every command passes before anything is
// decided, whether it was parsed from a request body (src/http/order_requests.cc) or built in C++.
#include <algorithm>

#include "cairn/orders/commands.h"

namespace cairn {
namespace {

bool IsControl(unsigned char c) { return c < 0x20 || c == 0x7F; }

// A text field of `min`..`max` bytes without control characters (tabs and newlines allowed
// only when `multiline`).
Status CheckText(std::string_view value, const std::string& field, size_t min, size_t max,
                 bool multiline = false) {
  if (value.size() < min) {
    return Status::InvalidArgument(field + " must not be empty", field);
  }
  if (value.size() > max) {
    return Status::InvalidArgument(field + " must be at most " + std::to_string(max) + " bytes",
                                   field);
  }
  for (unsigned char c : value) {
    if (IsControl(c) && !(multiline && (c == '\n' || c == '\t'))) {
      return Status::InvalidArgument(field + " must not contain control characters", field);
    }
  }
  return Status::Ok();
}

Status CheckCurrency(std::string_view currency) {
  const bool ok = currency.size() == 3 && std::all_of(currency.begin(), currency.end(),
                                                      [](char c) { return c >= 'A' && c <= 'Z'; });
  if (ok) return Status::Ok();
  return Status::InvalidArgument("currency must be a 3-letter ISO 4217 code such as KRW",
                                 "currency");
}

Status CheckItem(const OrderItem& item, size_t index) {
  const std::string path = "items[" + std::to_string(index) + "]";
  CAIRN_RETURN_IF_ERROR(CheckText(item.product_id, path + ".productId", 1, kMaxIdBytes));
  CAIRN_RETURN_IF_ERROR(CheckText(item.name, path + ".name", 1, kMaxItemNameBytes));
  if (item.price < 0) {
    return Status::InvalidArgument(path + ".price must be at least 0", path + ".price");
  }
  if (item.quantity < 1 || item.quantity > kMaxItemQuantity) {
    return Status::InvalidArgument(
        path + ".quantity must be between 1 and " + std::to_string(kMaxItemQuantity),
        path + ".quantity");
  }
  return Status::Ok();
}

Status CheckAddress(const ShippingAddress& address) {
  CAIRN_RETURN_IF_ERROR(CheckText(address.street, "shippingAddress.street", 1, kMaxStreetBytes));
  CAIRN_RETURN_IF_ERROR(CheckText(address.city, "shippingAddress.city", 1, kMaxCityBytes));
  CAIRN_RETURN_IF_ERROR(
      CheckText(address.zip_code, "shippingAddress.zipCode", 1, kMaxZipCodeBytes));
  return CheckText(address.country, "shippingAddress.country", 1, kMaxCountryBytes);
}

Status CheckMeta(const CommandMeta& meta) {
  if (meta.actor.user_id.empty()) {
    return Status(ErrorCode::kUnauthenticated, "the command has no acting user");
  }
  if (meta.command_id.empty()) return Status::Ok();
  const bool printable = std::all_of(meta.command_id.begin(), meta.command_id.end(),
                                     [](char c) { return c >= '!' && c <= '~'; });
  if (meta.command_id.size() > kMaxCommandIdBytes || !printable) {
    return Status::InvalidArgument("Idempotency-Key must be 1-64 printable ASCII characters",
                                   "Idempotency-Key");
  }
  return Status::Ok();
}

Status CheckCreate(const CreateOrder& c) {
  CAIRN_RETURN_IF_ERROR(CheckText(c.user_id, "userId", 1, kMaxIdBytes));
  if (c.items.empty()) return Status::InvalidArgument("items must not be empty", "items");
  if (c.items.size() > kMaxOrderItems) {
    return Status::InvalidArgument(
        "items must have at most " + std::to_string(kMaxOrderItems) + " items", "items");
  }
  for (size_t i = 0; i < c.items.size(); ++i) CAIRN_RETURN_IF_ERROR(CheckItem(c.items[i], i));
  CAIRN_RETURN_IF_ERROR(OrderTotal(c.items).status());
  CAIRN_RETURN_IF_ERROR(CheckAddress(c.shipping_address));
  return CheckCurrency(c.currency);
}

Status CheckPayment(const CompletePayment& c) {
  CAIRN_RETURN_IF_ERROR(ValidateOrderId(c.order_id));
  CAIRN_RETURN_IF_ERROR(CheckText(c.method, "method", 1, kMaxPaymentMethodBytes));
  if (c.amount < 0) return Status::InvalidArgument("amount must be at least 0", "amount");
  return Status::Ok();
}

const CommandMeta& MetaOf(const OrderCommand& command) {
  return std::visit([](const auto& c) -> const CommandMeta& { return c.meta; }, command);
}

}  // namespace

Status ValidateOrderId(std::string_view order_id) {
  const bool ok = !order_id.empty() && order_id.size() <= kMaxIdBytes &&
                  std::all_of(order_id.begin(), order_id.end(), [](char c) {
                    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                           (c >= '0' && c <= '9') || c == '-' || c == '_';
                  });
  if (ok) return Status::Ok();
  return Status::InvalidArgument("orderId must be 1-64 characters of A-Z, a-z, 0-9, '-' and '_'",
                                 "orderId");
}

Status ValidateCommand(const OrderCommand& command) {
  CAIRN_RETURN_IF_ERROR(CheckMeta(MetaOf(command)));
  if (const auto* c = std::get_if<CreateOrder>(&command)) return CheckCreate(*c);
  if (const auto* c = std::get_if<CompletePayment>(&command)) return CheckPayment(*c);
  if (const auto* c = std::get_if<ShipOrder>(&command)) {
    CAIRN_RETURN_IF_ERROR(ValidateOrderId(c->order_id));
    if (!c->tracking_number) return Status::Ok();
    return CheckText(*c->tracking_number, "trackingNumber", 1, kMaxTrackingNumberBytes);
  }
  if (const auto* c = std::get_if<CancelOrder>(&command)) {
    CAIRN_RETURN_IF_ERROR(ValidateOrderId(c->order_id));
    if (!c->reason) return Status::Ok();
    return CheckText(*c->reason, "reason", 0, kMaxCancelReasonBytes, /*multiline=*/true);
  }
  return ValidateOrderId(std::get<ApproveOrder>(command).order_id);
}

Result<CommandMeta> MakeCommandMeta(std::string_view idempotency_key, Actor actor) {
  CommandMeta meta{std::string(idempotency_key), std::move(actor)};
  CAIRN_RETURN_IF_ERROR(CheckMeta(meta));
  return meta;
}

}  // namespace cairn
