// Unit tests of the order API's response JSON (src/http/order_responses.cc): command results,
// order pages, search results and the dashboard, built from typed results.
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "cairn/orders.h"
#include "domain/domain_test_util.h"
#include "http/order_wire.h"

namespace cairn::http {
namespace {

using testing::kDay;
using testing::kDay0;
using testing::kSampleTotal;

// Figures of `orders` orders, `paid` of them paid at kSampleTotal each, in KRW.
DashboardFigures Figures(uint64_t orders, uint64_t paid) {
  DashboardFigures f;
  f.orders = orders;
  f.by_status[static_cast<int>(OrderStatus::kCreated)] = orders;
  f.paid_orders = paid;
  if (paid > 0) f.revenue_by_currency = {{"KRW", static_cast<int64_t>(paid) * kSampleTotal}};
  return f;
}

TEST_CASE("a command result answers its order id, version and position") {
  const CommandResult result{"6415", StreamVersion(3),
                             Position{"order-events", PartitionId(2), Offset(17)}, false};
  CHECK(CommandResultToJson(result) ==
        R"({"orderId":"6415","version":3,"position":"order-events/2/17"})");
}

TEST_CASE("a page and search results hold the stored views as they are") {
  const OrderPage page{{R"({"orderId":"b"})", R"({"orderId":"a"})"}, 12, 2, 2};
  CHECK(OrderPageToJson(page) ==
        R"({"orders":[{"orderId":"b"},{"orderId":"a"}],"total":12,"page":2,"limit":2})");
  CHECK(OrderPageToJson(OrderPage{}) == R"({"orders":[],"total":0,"page":1,"limit":20})");
  const SearchResults results{{R"({"orderId":"a"})"}, 5};
  CHECK(SearchResultsToJson(results) == R"({"results":[{"orderId":"a"}],"total":5})");
}

TEST_CASE("the dashboard shows counts by status and revenue of paid, not cancelled orders") {
  Dashboard dashboard;
  dashboard.to_us = kDay0 + kDay;
  dashboard.current.orders = 5;
  dashboard.current.by_status[int(OrderStatus::kCreated)] = 1;
  dashboard.current.by_status[int(OrderStatus::kApproved)] = 1;
  dashboard.current.by_status[int(OrderStatus::kShipped)] = 1;
  dashboard.current.by_status[int(OrderStatus::kCancelled)] = 2;
  dashboard.current.paid_orders = 2;
  dashboard.current.revenue_by_currency = {{"KRW", 2 * kSampleTotal}};
  const std::string json = DashboardToJson(dashboard);
  CHECK(json.find(R"("total":5,"byStatus":{"CREATED":1,"APPROVED":1,"SHIPPED":1,"CANCELLED":2},)"
                  R"("paidOrders":2,"revenue":206000,"currency":"KRW","formattedRevenue":"₩206,000",)"
                  R"("revenueByCurrency":{"KRW":206000})") != std::string::npos);
}

TEST_CASE("the dashboard's trends compare with the previous period, null without one") {
  Dashboard week;
  week.period = DashboardPeriod::k7Days;
  week.from_us = kDay0 + 34 * kDay;
  week.to_us = kDay0 + 41 * kDay;
  week.current = Figures(6, 6);
  week.previous = Figures(4, 4);
  CHECK(DashboardToJson(week).find(
            R"("trends":{"orders":{"current":6,"previous":4,"changePercent":50.0},)"
            R"("revenue":{"current":618000,"previous":412000,"changePercent":50.0}})") !=
        std::string::npos);
  CHECK(DashboardToJson(week).find(
            R"("period":{"name":"7d","from":"2026-12-05T00:00:00.000000Z",)"
            R"("to":"2026-12-12T00:00:00.000000Z"})") != std::string::npos);

  Dashboard all;
  all.period = DashboardPeriod::kAll;
  all.to_us = kDay0 + 41 * kDay;
  all.current = Figures(11, 11);
  CHECK(DashboardToJson(all).find(R"("period":{"name":"all","from":null,)") != std::string::npos);
  CHECK(DashboardToJson(all).find(
            R"("trends":{"orders":{"current":11,"previous":null,"changePercent":null})") !=
        std::string::npos);

  Dashboard from_nothing = week;
  from_nothing.previous = Figures(0, 0);
  CHECK(DashboardToJson(from_nothing).find(
            R"("orders":{"current":6,"previous":0,"changePercent":null})") != std::string::npos);
}

TEST_CASE("the dashboard lists its days with their date, orders and KRW revenue") {
  Dashboard week;
  week.period = DashboardPeriod::k7Days;
  for (int64_t i = 0; i < 7; ++i) {
    week.days.push_back({kDay0 / kDay + 34 + i, i == 1 ? 1u : 0u, i == 1 ? kSampleTotal : 0});
  }
  const std::string json = DashboardToJson(week);
  CHECK(json.find(R"("days":[{"date":"2026-12-05","orders":0,"revenue":0},)"
                  R"({"date":"2026-12-06","orders":1,"revenue":103000},)") != std::string::npos);
  CHECK(json.find(R"({"date":"2026-12-11","orders":0,"revenue":0}]})") != std::string::npos);
}

TEST_CASE("revenue in other currencies shows only in revenueByCurrency") {
  Dashboard dashboard;
  dashboard.current.orders = 2;
  dashboard.current.paid_orders = 2;
  dashboard.current.revenue_by_currency = {{"KRW", 12000}, {"USD", 1234}};
  const std::string json = DashboardToJson(dashboard);
  CHECK(json.find(R"("revenue":12000,"currency":"KRW","formattedRevenue":"₩12,000",)"
                  R"("revenueByCurrency":{"KRW":12000,"USD":1234})") != std::string::npos);
}

}  // namespace
}  // namespace cairn::http
