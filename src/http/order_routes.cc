// The order API (DESIGN.md §4): commands map onto OrderService, queries onto OrderQueries.
// Authorization and validation live in the domain, the JSON shapes in order_wire.h; this file
// maps HTTP onto them.
#include "base/clock.h"
#include "http/api.h"
#include "http/order_wire.h"

namespace cairn::http {

namespace {

constexpr std::initializer_list<Role> kAdminOnly = {Role::kAdmin};
constexpr std::initializer_list<Role> kOwnerOrAdmin = {Role::kCustomer, Role::kAdmin};

// Runs one command built by `parse` and answers `success_status` with its result.
template <typename Parse>
void HandleCommand(Api& api, const httplib::Request& req, httplib::Response& res,
                   std::initializer_list<Role> roles, int success_status, Parse parse) {
  std::optional<Actor> actor = Authenticate(api, req, res, roles);
  if (!actor) return;
  if (!RequireJsonBody(req, res, /*required=*/false)) return;
  Result<CommandMeta> meta = MakeCommandMeta(req.get_header_value("Idempotency-Key"), *actor);
  if (!meta.ok()) return SendError(res, meta.status());
  auto command = parse(std::move(*meta));
  if (!command.ok()) return SendError(res, command.status());
  Result<CommandResult> result = api.db().orders().Handle(OrderCommand(std::move(*command)));
  if (!result.ok()) return SendError(res, result.status());
  if (result->replayed) res.set_header("Idempotent-Replayed", "true");
  SendJson(res, success_status, CommandResultToJson(*result));
}

// A command on the order named by the path, parsed by `parse(order_id, body, meta)`.
template <typename Parse>
Handler OrderCommandRoute(std::initializer_list<Role> roles, Parse parse) {
  return [roles, parse](Api& api, const httplib::Request& req, httplib::Response& res) {
    HandleCommand(api, req, res, roles, 200, [&](CommandMeta meta) {
      return parse(req.matches[1].str(), req.body, std::move(meta));
    });
  };
}

std::optional<std::string> Param(const httplib::Request& req, const char* name) {
  if (!req.has_param(name)) return std::nullopt;
  return req.get_param_value(name);
}

// POST /api/orders: 201 {orderId, version, position}
void CreateOrderRoute(Api& api, const httplib::Request& req, httplib::Response& res) {
  HandleCommand(api, req, res, kAnyRole, 201,
                [&](CommandMeta meta) { return ParseCreateOrder(req.body, std::move(meta)); });
}

// GET /api/orders/{id}: the order view, to its owner or an admin.
void GetOrder(Api& api, const httplib::Request& req, httplib::Response& res) {
  std::optional<Actor> actor = Authenticate(api, req, res, kOwnerOrAdmin);
  if (!actor || !WaitForAfter(api, req, res, {kOrdersProjection})) return;
  Result<std::string> view = api.db().queries().GetOrder(req.matches[1].str(), *actor);
  if (!view.ok()) return SendError(res, view.status());
  SendJson(res, 200, std::move(*view));
}

// GET /api/orders?status=&dateFrom=&dateTo=&userId=&page=&limit=
void ListOrders(Api& api, const httplib::Request& req, httplib::Response& res) {
  std::optional<Actor> actor = Authenticate(api, req, res, kOwnerOrAdmin);
  if (!actor) return;
  ListParams params{Param(req, "status"), Param(req, "dateFrom"), Param(req, "dateTo"),
                    Param(req, "userId"), Param(req, "page"),     Param(req, "limit")};
  Result<ListQuery> query = ParseListQuery(params);
  if (!query.ok()) return SendError(res, query.status());
  if (!WaitForAfter(api, req, res, {kOrdersProjection})) return;
  Result<OrderPage> page = api.db().queries().ListOrders(*query, *actor);
  if (!page.ok()) return SendError(res, page.status());
  SendJson(res, 200, OrderPageToJson(*page));
}

// GET /api/dashboard?period=today|7d|30d|all (admin)
void GetDashboard(Api& api, const httplib::Request& req, httplib::Response& res) {
  std::optional<Actor> actor = Authenticate(api, req, res, kAdminOnly);
  if (!actor) return;
  Result<DashboardPeriod> period =
      ParseDashboardPeriod(req.has_param("period") ? req.get_param_value("period") : "all");
  if (!period.ok()) return SendError(res, period.status());
  if (!WaitForAfter(api, req, res, {kOrderStatsProjection})) return;
  Result<Dashboard> dashboard = api.db().queries().GetDashboard(*period, NowMicros(), *actor);
  if (!dashboard.ok()) return SendError(res, dashboard.status());
  SendJson(res, 200, DashboardToJson(*dashboard));
}

// GET /api/search?q=&limit=
void Search(Api& api, const httplib::Request& req, httplib::Response& res) {
  std::optional<Actor> actor = Authenticate(api, req, res, kOwnerOrAdmin);
  if (!actor) return;
  Result<uint64_t> limit = ParseUintParam(req, "limit", 20, 1, kMaxQueryLimit);
  if (!limit.ok()) return SendError(res, limit.status());
  if (!WaitForAfter(api, req, res, {kOrderSearchProjection, kOrdersProjection})) return;
  Result<SearchResults> results = api.db().queries().Search(
      req.get_param_value("q"), static_cast<uint32_t>(*limit), *actor);
  if (!results.ok()) return SendError(res, results.status());
  SendJson(res, 200, SearchResultsToJson(*results));
}

}  // namespace

void RegisterOrderRoutes(httplib::Server& server, Api& api) {
  const std::string order = "/api/orders/([^/]+)";
  AddRoute(server, api, "POST", "/api/orders", "/api/orders", CreateOrderRoute);
  AddRoute(server, api, "POST", order + "/approve", "/api/orders/{id}/approve",
           OrderCommandRoute(kAdminOnly, ParseApproveOrder));
  AddRoute(server, api, "POST", order + "/ship", "/api/orders/{id}/ship",
           OrderCommandRoute(kAdminOnly, ParseShipOrder));
  // The owner or an admin: OrderService authorizes the owner.
  AddRoute(server, api, "POST", order + "/pay", "/api/orders/{id}/pay",
           OrderCommandRoute(kOwnerOrAdmin, ParseCompletePayment));
  AddRoute(server, api, "POST", order + "/cancel", "/api/orders/{id}/cancel",
           OrderCommandRoute(kAdminOnly, ParseCancelOrder));
  AddRoute(server, api, "GET", order, "/api/orders/{id}", GetOrder);
  AddRoute(server, api, "GET", "/api/orders", "/api/orders", ListOrders);
  AddRoute(server, api, "GET", "/api/dashboard", "/api/dashboard", GetDashboard);
  AddRoute(server, api, "GET", "/api/search", "/api/search", Search);
}

}  // namespace cairn::http
