// The order API's requests on the wire (order_wire.h): JSON bodies parsed strictly into typed
// commands, and the list query string into a ListQuery. The nested items and address share their
// readers with the domain's stored JSON (domain/order_json.h, in its strict mode).
#include <algorithm>

#include "base/iso_time.h"
#include "base/json_reader.h"
#include "domain/order_json.h"
#include "http/order_wire.h"

namespace cairn::http {
namespace {

using domain::Strictness;

// Parses an optional request body: empty (or only whitespace) means no fields; otherwise it
// must be one JSON object, each of whose fields goes to `visit`.
Status ParseOptionalBody(std::string_view body, const json::FieldVisitor& visit) {
  if (body.find_first_not_of(" \t\r\n") == std::string_view::npos) return Status::Ok();
  json::Input input(body);
  CAIRN_ASSIGN_OR_RETURN(json::Object root, input.RootObject());
  CAIRN_RETURN_IF_ERROR(json::ForEachField(root, "", visit));
  return input.ExpectEnd();
}

// Reads an optional string field: null or absent leaves it nullopt.
Status ReadOptionalString(json::Value value, std::string_view field,
                          std::optional<std::string>* out) {
  if (json::IsNull(value)) return Status::Ok();
  return json::Assign(json::ReadString(value, field), out);
}

// Returns the command after ValidateCommand, or the validation error.
template <typename Command>
Result<Command> Validated(Command command) {
  CAIRN_RETURN_IF_ERROR(ValidateCommand(OrderCommand(command)));
  return command;
}

// A create body's fields as sent, before the owner and the total are settled.
struct CreateBody {
  CreateOrder command;
  std::optional<std::string> user_id;
  std::optional<int64_t> total_amount;
};

Result<CreateBody> ReadCreateBody(std::string_view body) {
  json::Input input(body);
  CAIRN_ASSIGN_OR_RETURN(json::Object root, input.RootObject());
  CreateBody read;
  CreateOrder& c = read.command;
  bool has_items = false, has_address = false;
  CAIRN_RETURN_IF_ERROR(json::ForEachField(root, "", [&](std::string_view key,
                                                         json::Value v) -> Status {
    if (key == "items") {
      has_items = true;
      return domain::ReadItems(v, "items", Strictness::kRequest, &c.items);
    }
    if (key == "shippingAddress") {
      has_address = true;
      return domain::ReadAddress(v, "shippingAddress", Strictness::kRequest, &c.shipping_address);
    }
    if (key == "currency") {
      if (json::IsNull(v)) return Status::Ok();
      return json::Assign(json::ReadString(v, "currency"), &c.currency);
    }
    if (key == "userId") return ReadOptionalString(v, "userId", &read.user_id);
    if (key == "totalAmount") {
      return json::Assign(json::ReadInt(v, "totalAmount"), &read.total_amount);
    }
    return json::UnknownField("", key);
  }));
  CAIRN_RETURN_IF_ERROR(input.ExpectEnd());
  if (!has_items) return json::MissingField("items");
  if (!has_address) return json::MissingField("shippingAddress");
  return read;
}

// The order's owner: the named user if the actor may name it, else the actor.
Result<std::string> OwnerOf(const std::optional<std::string>& user_id, const Actor& actor) {
  if (user_id && *user_id != actor.user_id && !actor.is_admin()) {
    return Status(ErrorCode::kPermissionDenied, "only an admin may create orders for another user",
                  "userId");
  }
  return user_id.value_or(actor.user_id);
}

// A totalAmount the client sent must be the items' total. REQUIRES: the items are validated.
Status CheckClientTotal(const std::vector<OrderItem>& items, std::optional<int64_t> client_total) {
  if (!client_total) return Status::Ok();
  const int64_t total = *OrderTotal(items);
  if (*client_total == total) return Status::Ok();
  return Status::InvalidArgument("totalAmount " + std::to_string(*client_total) +
                                     " does not match the items' total " + std::to_string(total),
                                 "totalAmount");
}

// A number parameter of `min`..`max`, all digits.
Result<uint32_t> ParseBounded(std::string_view text, std::string_view field, uint32_t min,
                              uint32_t max) {
  const std::string message = std::string(field) + " must be an integer between " +
                              std::to_string(min) + " and " + std::to_string(max);
  if (text.empty() || text.size() > 9 ||
      !std::all_of(text.begin(), text.end(), [](char c) { return c >= '0' && c <= '9'; })) {
    return Status::InvalidArgument(message, std::string(field));
  }
  const uint32_t value = static_cast<uint32_t>(std::stoul(std::string(text)));
  if (value < min || value > max) return Status::InvalidArgument(message, std::string(field));
  return value;
}

// A parameter that is absent or empty counts as not given.
bool Given(const std::optional<std::string>& param) { return param && !param->empty(); }

}  // namespace

Result<CreateOrder> ParseCreateOrder(std::string_view body, CommandMeta meta) {
  CAIRN_ASSIGN_OR_RETURN(CreateBody read, ReadCreateBody(body));
  read.command.meta = std::move(meta);
  CAIRN_ASSIGN_OR_RETURN(read.command.user_id, OwnerOf(read.user_id, read.command.meta.actor));
  CAIRN_ASSIGN_OR_RETURN(CreateOrder command, Validated(std::move(read.command)));
  CAIRN_RETURN_IF_ERROR(CheckClientTotal(command.items, read.total_amount));
  return command;
}

Result<ApproveOrder> ParseApproveOrder(std::string_view order_id, std::string_view body,
                                       CommandMeta meta) {
  CAIRN_RETURN_IF_ERROR(ParseOptionalBody(
      body, [](std::string_view key, json::Value) { return json::UnknownField("", key); }));
  return Validated(ApproveOrder{std::move(meta), std::string(order_id)});
}

Result<ShipOrder> ParseShipOrder(std::string_view order_id, std::string_view body,
                                 CommandMeta meta) {
  ShipOrder command{std::move(meta), std::string(order_id), std::nullopt};
  CAIRN_RETURN_IF_ERROR(ParseOptionalBody(body, [&](std::string_view key, json::Value v) {
    if (key == "trackingNumber") {
      return ReadOptionalString(v, "trackingNumber", &command.tracking_number);
    }
    return json::UnknownField("", key);
  }));
  return Validated(std::move(command));
}

Result<CompletePayment> ParseCompletePayment(std::string_view order_id, std::string_view body,
                                             CommandMeta meta) {
  CompletePayment command{std::move(meta), std::string(order_id), {}, 0};
  bool has_method = false, has_amount = false;
  CAIRN_RETURN_IF_ERROR(ParseOptionalBody(body, [&](std::string_view key, json::Value v) {
    if (key == "method") {
      has_method = true;
      return json::Assign(json::ReadString(v, "method"), &command.method);
    }
    if (key == "amount") {
      has_amount = true;
      return json::Assign(json::ReadInt(v, "amount"), &command.amount);
    }
    return json::UnknownField("", key);
  }));
  if (!has_method) return json::MissingField("method");
  if (!has_amount) return json::MissingField("amount");
  return Validated(std::move(command));
}

Result<CancelOrder> ParseCancelOrder(std::string_view order_id, std::string_view body,
                                     CommandMeta meta) {
  CancelOrder command{std::move(meta), std::string(order_id), std::nullopt};
  CAIRN_RETURN_IF_ERROR(ParseOptionalBody(body, [&](std::string_view key, json::Value v) {
    if (key == "reason") return ReadOptionalString(v, "reason", &command.reason);
    return json::UnknownField("", key);
  }));
  return Validated(std::move(command));
}

Result<ListQuery> ParseListQuery(const ListParams& params) {
  ListQuery query;
  if (Given(params.status)) {
    CAIRN_RETURN_IF_ERROR(json::Assign(ParseOrderStatus(*params.status, "status"), &query.status));
  }
  if (Given(params.date_from)) {
    CAIRN_ASSIGN_OR_RETURN(json::ParsedTime from,
                           json::ParseIsoTime(*params.date_from, "dateFrom"));
    query.created_from_us = from.micros;
  }
  if (Given(params.date_to)) {
    CAIRN_ASSIGN_OR_RETURN(json::ParsedTime to, json::ParseIsoTime(*params.date_to, "dateTo"));
    // Inclusive for the user: a date covers its whole day, a time itself.
    query.created_to_us = to.micros + (to.date_only ? json::kMicrosPerDay : 1);
  }
  if (Given(params.user_id)) {
    if (params.user_id->size() > kMaxIdBytes) {
      return Status::InvalidArgument("userId must be at most 64 bytes", "userId");
    }
    query.user_id = *params.user_id;
  }
  if (Given(params.page)) {
    CAIRN_ASSIGN_OR_RETURN(query.page, ParseBounded(*params.page, "page", 1, kMaxListPage));
  }
  if (Given(params.limit)) {
    CAIRN_ASSIGN_OR_RETURN(query.limit, ParseBounded(*params.limit, "limit", 1, kMaxQueryLimit));
  }
  return query;
}

}  // namespace cairn::http
