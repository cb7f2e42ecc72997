// OrderQueries, the query side: an order by id, the order list, the dashboard and search,
// answered from the read models of OrderProjections() only (never the log). Db::Open makes one
// (Db::queries()); the HTTP layer turns the typed results into response JSON.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "cairn/orders/actor.h"
#include "cairn/orders/projections.h"
#include "cairn/orders/values.h"
#include "cairn/projection.h"
#include "cairn/status.h"

namespace cairn {

class Engine;

inline constexpr uint32_t kMaxListPage = 1'000'000;  // the last page ListOrders serves
inline constexpr uint32_t kMaxQueryLimit = 100;      // most orders on a page or in search results

struct ListQuery {
  std::optional<OrderStatus> status;
  std::optional<int64_t> created_from_us;  // inclusive
  std::optional<int64_t> created_to_us;    // exclusive
  std::optional<std::string> user_id;
  uint32_t page = 1;    // 1 .. kMaxListPage
  uint32_t limit = 20;  // 1 .. kMaxQueryLimit
};
// One page of GET /api/orders. `orders` holds each view's JSON as stored.
struct OrderPage {
  std::vector<std::string> orders;
  uint64_t total = 0;  // orders matching the filters, over all pages
  uint32_t page = 1;
  uint32_t limit = 20;
};

enum class DashboardPeriod { kToday, k7Days, k30Days, kAll };
// "today", "7d", "30d", "all"; anything else is kInvalidArgument naming "period".
Result<DashboardPeriod> ParseDashboardPeriod(std::string_view text);
std::string_view DashboardPeriodName(DashboardPeriod period);

// Counts over the orders created in a period. Periods are whole UTC days ending with the day
// of `now`: today = that day, 7d = it and the 6 before, 30d likewise; the previous period is the
// same number of days just before. `all` has no previous period.
struct DashboardFigures {
  uint64_t orders = 0;
  uint64_t by_status[4] = {0, 0, 0, 0};  // indexed by OrderStatus
  uint64_t paid_orders = 0;              // paid and not cancelled
  // Revenue: Σ totalAmount of orders that are paid and not cancelled, per currency.
  std::vector<std::pair<std::string, int64_t>> revenue_by_currency;  // sorted by currency
  int64_t Revenue(std::string_view currency) const;
};
// One day's orders and KRW revenue (as in DashboardFigures), for the dashboard's chart.
struct DashboardDay {
  int64_t day = 0;  // UTC days since 1970
  uint64_t orders = 0;
  int64_t revenue = 0;  // in KRW, the default currency
};
struct Dashboard {
  DashboardPeriod period = DashboardPeriod::kAll;
  std::optional<int64_t> from_us;  // start of the period (nullopt for all)
  int64_t to_us = 0;               // end of the period (exclusive): midnight after `now`
  DashboardFigures current;
  std::optional<DashboardFigures> previous;  // nullopt for all
  // Each day of the period, oldest first; for all, the last 30 days (today included).
  std::vector<DashboardDay> days;
};

struct SearchResults {
  std::vector<std::string> results;  // views' JSON, newest first, at most the limit
  uint64_t total = 0;                // every match
};

// Answers the order queries from the read models only (never the log). Thread-safe. Each call
// takes the projections' current generation, so a rebuild switching generations is seamless.
// For read-your-writes the caller waits first (Engine::WaitForSeq) on the projections a query
// reads: GetOrder and ListOrders read "orders"; GetDashboard "order_stats"; Search
// "order_search" and "orders".
class OrderQueries {
 public:
  using ReadModelSource =
      std::function<Result<std::shared_ptr<const ReadModel>>(const std::string& projection)>;
  // Reads through engine.Read(). `engine` must outlive this object.
  explicit OrderQueries(const Engine& engine);
  // Reads through any source of read models (tests use an in-memory one).
  explicit OrderQueries(ReadModelSource source) : source_(std::move(source)) {}

  // The order's view JSON. kNotFound when it does not exist or belongs to another user and the
  // actor is not an admin.
  Result<std::string> GetOrder(std::string_view order_id, const Actor& actor) const;
  // Newest first (by creation time), filters applied before paging. A non-admin is limited to
  // its own orders; naming another user_id is kPermissionDenied (field "userId").
  Result<OrderPage> ListOrders(const ListQuery& query, const Actor& actor) const;
  // Admin only (else kPermissionDenied). `now_us` is the caller's clock.
  Result<Dashboard> GetDashboard(DashboardPeriod period, int64_t now_us, const Actor& actor) const;
  // Orders containing every term of `q` (the last term may be a prefix) in their id, user id,
  // item names or address; a non-admin's search covers only its own orders. `q`: 1-256 bytes
  // and at most 8 terms (field "q"); limit 1..100 (field "limit").
  Result<SearchResults> Search(std::string_view q, uint32_t limit, const Actor& actor) const;

 private:
  Result<std::shared_ptr<const ReadModel>> Read(std::string_view projection) const;
  ReadModelSource source_;
};

}  // namespace cairn
