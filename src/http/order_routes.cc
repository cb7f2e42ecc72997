// The order API (DESIGN.md §4): commands map onto OrderService, queries onto OrderQueries.
// Authorization and validation live in the domain; this file maps HTTP onto it.
#include <chrono>

#include "http/api.h"
#include "http/order_wire.h"
#include "base/clock.h"
#include "base/iso_time.h"

namespace cairn::http {

namespace {

constexpr std::string_view kOrderId = "([^/]+)";

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

std::optional<std::string> Param(const httplib::Request& req, const char* name) {
  if (!req.has_param(name)) return std::nullopt;
  return req.get_param_value(name);
}

}  // namespace

void RegisterOrderRoutes(httplib::Server& server, Api& api) {
  AddRoute(server, api, "POST", "/api/orders", "/api/orders", [&api](const auto& req, auto& res) {
    HandleCommand(api, req, res, kAnyRole, 201,
                  [&](CommandMeta meta) { return ParseCreateOrder(req.body, std::move(meta)); });
  });
  const std::string action = "/api/orders/" + std::string(kOrderId);
  AddRoute(server, api, "POST", action + "/approve", "/api/orders/{id}/approve",
           [&api](const auto& req, auto& res) {
             HandleCommand(api, req, res, {Role::kAdmin}, 200, [&](CommandMeta meta) {
               return ParseApproveOrder(req.matches[1].str(), req.body, std::move(meta));
             });
           });
  AddRoute(server, api, "POST", action + "/ship", "/api/orders/{id}/ship",
           [&api](const auto& req, auto& res) {
             HandleCommand(api, req, res, {Role::kAdmin}, 200, [&](CommandMeta meta) {
               return ParseShipOrder(req.matches[1].str(), req.body, std::move(meta));
             });
           });
  AddRoute(server, api, "POST", action + "/pay", "/api/orders/{id}/pay",
           [&api](const auto& req, auto& res) {
             // The owner or an admin: OrderService authorizes the owner.
             HandleCommand(api, req, res, {Role::kCustomer, Role::kAdmin}, 200, [&](CommandMeta meta) {
               return ParseCompletePayment(req.matches[1].str(), req.body, std::move(meta));
             });
           });
  AddRoute(server, api, "POST", action + "/cancel", "/api/orders/{id}/cancel",
           [&api](const auto& req, auto& res) {
             HandleCommand(api, req, res, {Role::kAdmin}, 200, [&](CommandMeta meta) {
               return ParseCancelOrder(req.matches[1].str(), req.body, std::move(meta));
             });
           });

  AddRoute(server, api, "GET", action, "/api/orders/{id}", [&api](const auto& req, auto& res) {
    std::optional<Actor> actor = Authenticate(api, req, res, {Role::kCustomer, Role::kAdmin});
    if (!actor || !WaitForAfter(api, req, res, {kOrdersProjection})) return;
    Result<std::string> view = api.db().queries().GetOrder(req.matches[1].str(), *actor);
    if (!view.ok()) return SendError(res, view.status());
    SendJson(res, 200, std::move(*view));
  });

  AddRoute(server, api, "GET", "/api/orders", "/api/orders", [&api](const auto& req, auto& res) {
    std::optional<Actor> actor = Authenticate(api, req, res, {Role::kCustomer, Role::kAdmin});
    if (!actor) return;
    ListParams params{Param(req, "status"), Param(req, "dateFrom"), Param(req, "dateTo"),
                      Param(req, "userId"), Param(req, "page"),     Param(req, "limit")};
    Result<ListQuery> query = ParseListQuery(params);
    if (!query.ok()) return SendError(res, query.status());
    if (!WaitForAfter(api, req, res, {kOrdersProjection})) return;
    Result<OrderPage> page = api.db().queries().ListOrders(*query, *actor);
    if (!page.ok()) return SendError(res, page.status());
    SendJson(res, 200, OrderPageToJson(*page));
  });

  AddRoute(server, api, "GET", "/api/dashboard", "/api/dashboard", [&api](const auto& req, auto& res) {
    std::optional<Actor> actor = Authenticate(api, req, res, {Role::kAdmin});
    if (!actor) return;
    Result<DashboardPeriod> period =
        ParseDashboardPeriod(req.has_param("period") ? req.get_param_value("period") : "all");
    if (!period.ok()) return SendError(res, period.status());
    if (!WaitForAfter(api, req, res, {kOrderStatsProjection})) return;
    Result<Dashboard> dashboard = api.db().queries().GetDashboard(*period, NowMicros(), *actor);
    if (!dashboard.ok()) return SendError(res, dashboard.status());
    SendJson(res, 200, DashboardToJson(*dashboard));
  });

  AddRoute(server, api, "GET", "/api/search", "/api/search", [&api](const auto& req, auto& res) {
    std::optional<Actor> actor = Authenticate(api, req, res, {Role::kCustomer, Role::kAdmin});
    if (!actor) return;
    Result<uint64_t> limit = ParseUintParam(req, "limit", 20, 1, kMaxQueryLimit);
    if (!limit.ok()) return SendError(res, limit.status());
    if (!WaitForAfter(api, req, res, {kOrderSearchProjection, kOrdersProjection})) return;
    Result<SearchResults> results = api.db().queries().Search(
        req.get_param_value("q"), static_cast<uint32_t>(*limit), *actor);
    if (!results.ok()) return SendError(res, results.status());
    SendJson(res, 200, SearchResultsToJson(*results));
  });
}

}  // namespace cairn::http
