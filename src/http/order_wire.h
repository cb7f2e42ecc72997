// The order API's wire shapes (DESIGN.md §4): request bodies and query strings in, response JSON
// out. The domain takes and answers typed values (include/cairn/orders/); this file is the one
// place that knows how they look on the wire, apart from the order view, whose JSON is what the
// read model stores (OrderView::ToJson, in the domain). Called by order_routes.cc; unit-tested in
// tests/http/.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "cairn/orders/commands.h"
#include "cairn/orders/queries.h"
#include "cairn/orders/service.h"
#include "cairn/status.h"

namespace cairn::http {

// ---- Request bodies to validated commands ----------------------------------------------------
//
// Unknown fields, duplicate fields, wrong types, fractions where integers belong, out-of-range
// values and over-long strings are kInvalidArgument with field() set, e.g. "items[0].price" or
// "shippingAddress.city". Each parser ends with ValidateCommand.
//
// CreateOrder body: {items: [{productId, name, price, quantity}], shippingAddress: {street,
// city, zipCode, country, express?}, currency?, userId?, totalAmount?}. userId: an admin may
// name any user; anyone else may only name itself (else kPermissionDenied, field "userId");
// absent means the actor. totalAmount, if sent, must equal Σ price × quantity. `country` is
// required (issue 5 lists it without "?"; DESIGN.md §4 marks it optional: the issue wins).
Result<CreateOrder> ParseCreateOrder(std::string_view body, CommandMeta meta);
// `order_id` comes from the URL path; `body` may be empty, "{}" or, per command:
// approve {}, ship {trackingNumber?}, pay {method, amount}, cancel {reason?}. null counts as
// absent for optional fields.
Result<ApproveOrder> ParseApproveOrder(std::string_view order_id, std::string_view body,
                                       CommandMeta meta);
Result<ShipOrder> ParseShipOrder(std::string_view order_id, std::string_view body,
                                 CommandMeta meta);
Result<CompletePayment> ParseCompletePayment(std::string_view order_id, std::string_view body,
                                             CommandMeta meta);
Result<CancelOrder> ParseCancelOrder(std::string_view order_id, std::string_view body,
                                     CommandMeta meta);

// ---- Query strings ---------------------------------------------------------------------------

// The query string of GET /api/orders, unparsed; absent parameters stay nullopt.
struct ListParams {
  std::optional<std::string> status, date_from, date_to, user_id, page, limit;
};
// Validates and converts: status a status name; dateFrom/dateTo ISO-8601 (a date-only dateTo
// includes that whole day; a timestamp dateTo is inclusive); page 1..kMaxListPage; limit
// 1..kMaxQueryLimit. An empty parameter counts as absent. Errors name the parameter ("status",
// "dateFrom", "page", ...).
Result<ListQuery> ParseListQuery(const ListParams& params);

// ---- Responses -------------------------------------------------------------------------------

// {"orderId":…,"version":3,"position":"order-events/2/17"}
std::string CommandResultToJson(const CommandResult& result);
// {"orders":[view…],"total":…,"page":…,"limit":…}; the views as stored.
std::string OrderPageToJson(const OrderPage& page);
// {"results":[view…],"total":…}
std::string SearchResultsToJson(const SearchResults& results);
// {total, byStatus:{CREATED:…}, paidOrders, revenue, currency, formattedRevenue,
//  revenueByCurrency:{KRW:…}, period:{name, from, to}, trends:{orders:{current, previous,
//  changePercent}, revenue:{…}}}. revenue is in KRW (the default currency; other currencies
//  appear only in revenueByCurrency); changePercent is null without a previous period or when
//  the previous value is 0.
std::string DashboardToJson(const Dashboard& dashboard);

}  // namespace cairn::http
