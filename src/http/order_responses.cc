// The order API's responses on the wire (order_wire.h): the JSON of command results, order
// pages, search results and the dashboard. The order views inside pages and results are the
// JSON the read model stores, copied as they are.
#include "base/iso_time.h"
#include "base/json_writer.h"
#include "http/order_wire.h"

namespace cairn::http {
namespace {

// "key": null, or the value `write` writes.
template <typename T, typename Write>
void OptionalValue(json::JsonWriter& out, const std::optional<T>& value, Write write) {
  if (value) {
    write(*value);
  } else {
    out.Null();
  }
}

void WriteTrend(json::JsonWriter& out, std::string_view key, int64_t current,
                std::optional<int64_t> previous) {
  out.Key(key).BeginObject().Key("current").Int(current).Key("previous");
  OptionalValue(out, previous, [&](int64_t p) { out.Int(p); });
  out.Key("changePercent");
  if (previous && *previous != 0) {
    out.Fixed(100.0 * static_cast<double>(current - *previous) / static_cast<double>(*previous),
              1);
  } else {
    out.Null();
  }
  out.EndObject();
}

void WriteFigures(json::JsonWriter& out, const DashboardFigures& figures) {
  const int64_t revenue = figures.Revenue(kDefaultCurrency);
  out.Key("total").Uint(figures.orders).Key("byStatus").BeginObject();
  for (OrderStatus status : kAllOrderStatuses) {
    out.Key(OrderStatusName(status)).Uint(figures.by_status[static_cast<int>(status)]);
  }
  out.EndObject()
      .Key("paidOrders").Uint(figures.paid_orders)
      .Key("revenue").Int(revenue)
      .Key("currency").String(kDefaultCurrency)
      .Key("formattedRevenue").String(FormatMoney(revenue, kDefaultCurrency))
      .Key("revenueByCurrency").BeginObject();
  for (const auto& [code, amount] : figures.revenue_by_currency) out.Key(code).Int(amount);
  out.EndObject();
}

void WritePeriod(json::JsonWriter& out, const Dashboard& d) {
  out.Key("period").BeginObject().Key("name").String(DashboardPeriodName(d.period)).Key("from");
  OptionalValue(out, d.from_us, [&](int64_t from) { out.String(json::FormatIsoTime(from)); });
  out.Key("to").String(json::FormatIsoTime(d.to_us)).EndObject();
}

void WriteTrends(json::JsonWriter& out, const Dashboard& d) {
  std::optional<int64_t> previous_orders, previous_revenue;
  if (d.previous) {
    previous_orders = static_cast<int64_t>(d.previous->orders);
    previous_revenue = d.previous->Revenue(kDefaultCurrency);
  }
  out.Key("trends").BeginObject();
  WriteTrend(out, "orders", static_cast<int64_t>(d.current.orders), previous_orders);
  WriteTrend(out, "revenue", d.current.Revenue(kDefaultCurrency), previous_revenue);
  out.EndObject();
}

// "key": [view…], the views' JSON as stored.
void WriteViews(json::JsonWriter& out, std::string_view key,
                const std::vector<std::string>& views) {
  out.Key(key).BeginArray();
  for (const std::string& view : views) out.Raw(view);
  out.EndArray();
}

}  // namespace

std::string CommandResultToJson(const CommandResult& result) {
  return json::JsonWriter()
      .BeginObject()
      .Key("orderId").String(result.order_id)
      .Key("version").Uint(result.version.value())
      .Key("position").String(result.position.ToString())
      .EndObject()
      .Take();
}

std::string OrderPageToJson(const OrderPage& page) {
  json::JsonWriter out;
  out.BeginObject();
  WriteViews(out, "orders", page.orders);
  out.Key("total").Uint(page.total).Key("page").Uint(page.page).Key("limit").Uint(page.limit);
  return out.EndObject().Take();
}

std::string SearchResultsToJson(const SearchResults& results) {
  json::JsonWriter out;
  out.BeginObject();
  WriteViews(out, "results", results.results);
  out.Key("total").Uint(results.total);
  return out.EndObject().Take();
}

// days: [{date: "2026-12-01", orders, revenue}], oldest first.
void WriteDays(json::JsonWriter& out, const std::vector<DashboardDay>& days) {
  out.Key("days").BeginArray();
  for (const DashboardDay& day : days) {
    const std::string date = json::FormatIsoTime(day.day * json::kMicrosPerDay).substr(0, 10);
    out.BeginObject().Key("date").String(date).Key("orders").Uint(day.orders);
    out.Key("revenue").Int(day.revenue).EndObject();
  }
  out.EndArray();
}

std::string DashboardToJson(const Dashboard& dashboard) {
  json::JsonWriter out;
  out.BeginObject();
  WriteFigures(out, dashboard.current);
  WritePeriod(out, dashboard);
  WriteTrends(out, dashboard);
  WriteDays(out, dashboard.days);
  return out.EndObject().Take();
}

}  // namespace cairn::http
