// Unit tests of the order read models (OrderProjections on the Engine) and OrderQueries: the
// lifecycle as the order screen sees it, one test per seed defect of DESIGN.md §3 proving it is
// gone, list filters and paging, the dashboard, search, and malformed events.
#include <doctest/doctest.h>

#include <algorithm>
#include <chrono>
#include <set>
#include <string>
#include <vector>

#include "cairn/orders.h"
#include "domain_test_util.h"
#include "base/iso_time.h"

namespace cairn {
namespace {

using namespace std::chrono_literals;
using testing::Admin;
using testing::Customer;
using testing::Harness;
using testing::kDay;
using testing::kDay0;
using testing::kMinute;
using testing::kSampleTotal;
using testing::Meta;

std::vector<std::string> IdsOf(const std::vector<std::string>& views) {
  std::vector<std::string> ids;
  for (const std::string& json : views) {
    auto view = ParseOrderView(json);
    REQUIRE_OK(view);
    ids.push_back(view->order_id);
  }
  return ids;
}

OrderPage List(Harness& h, ListQuery query, const Actor& actor = Admin()) {
  auto page = h.queries().ListOrders(query, actor);
  REQUIRE_OK(page);
  return *page;
}

// Every index key of the "orders" projection that ends with `order_id`, per table.
std::map<std::string, int> IndexEntriesOf(Harness& h, const std::string& order_id) {
  std::map<std::string, int> entries;
  const testing::Tables tables = testing::DumpReadModels(h.engine());
  for (const char* table : {"orders.by_time", "orders.by_user", "orders.by_status",
                            "orders.by_user_status"}) {
    for (const auto& [key, value] : tables.at(table)) {
      if (key.size() >= order_id.size() &&
          key.compare(key.size() - order_id.size(), order_id.size(), order_id) == 0) {
        ++entries[table];
      }
    }
  }
  return entries;
}

TEST_CASE("lifecycle create -> approve -> pay -> ship, as the order screen sees it") {
  Harness h;
  const int64_t created_at = h.now;
  const std::string id = h.Create("user-1", /*express=*/true);
  h.Approve(id);
  h.Pay(id);
  h.Ship(id, "TRK-42");
  h.CatchUp();

  const OrderView view = h.View(id);
  CHECK(view.status == OrderStatus::kShipped);
  CHECK(view.payment_status == PaymentStatus::kPaid);
  CHECK(view.user_id == "user-1");
  CHECK(view.total_amount == kSampleTotal);
  CHECK(view.currency == "KRW");
  CHECK(view.version == 4);
  CHECK(view.created_at_us == created_at);
  CHECK(view.estimated_delivery_us == created_at + 2 * kDay);
  CHECK(view.tracking_number == "TRK-42");
  CHECK(view.shipped_at_us == created_at + 3 * kMinute);
  REQUIRE(view.payment.has_value());
  CHECK(view.payment->method == "card");
  CHECK(view.payment->amount == kSampleTotal);
  CHECK(view.payment->paid_at_us == created_at + 2 * kMinute);
  CHECK(view.history == std::vector<StatusChange>{{OrderStatus::kCreated, created_at},
                                                  {OrderStatus::kApproved, created_at + kMinute},
                                                  {OrderStatus::kShipped, created_at + 3 * kMinute}});
  auto json = h.queries().GetOrder(id, Customer("user-1"));
  REQUIRE_OK(json);
  CHECK(json->find(R"("itemCount":2,"unitCount":3,"formattedTotal":"₩103,000")") !=
        std::string::npos);
}

TEST_CASE("the read models are byte-identical however the log is cut into batches") {
  // Applied one command at a time, then rebuilt in one batch: the batch handlers load and write
  // each order once per batch, and must still leave a counter that went up and down again (user
  // 1's created orders, user 4's revenue) holding 0, as one event at a time does.
  Harness h;
  const auto step = [&h] { h.CatchUp(); };
  const std::string approved = h.Create("user-1");
  step();
  h.Approve(approved);
  step();
  const std::string cancelled = h.Create("user-2");
  step();
  h.Cancel(cancelled);
  step();
  const std::string shipped = h.Create("user-3");
  step();
  h.Approve(shipped);
  step();
  h.Pay(shipped);
  step();
  h.Ship(shipped);
  step();
  const std::string refunded = h.Create("user-4");
  step();
  h.Approve(refunded);
  step();
  h.Pay(refunded);
  step();
  h.Cancel(refunded);
  step();
  h.Create("user-5");
  step();

  const testing::Tables live = testing::DumpReadModels(h.engine());
  testing::Rebuild(h.engine());
  const testing::Tables rebuilt = testing::DumpReadModels(h.engine());
  CHECK_MESSAGE(live == rebuilt, testing::FirstDifference(live, rebuilt));
  auto report = h.engine().Check(CheckOptions{});
  REQUIRE_OK(report);
  CHECK(report->consistent);
}

TEST_CASE("lifecycle create -> cancel") {
  Harness h;
  const std::string id = h.Create("user-1");
  h.Cancel(id, "customer request");
  h.CatchUp();
  const OrderView view = h.View(id);
  CHECK(view.status == OrderStatus::kCancelled);
  CHECK(view.cancellation_reason == "customer request");
  CHECK(view.history.size() == 2);
  CHECK(List(h, {.status = OrderStatus::kCancelled}).total == 1);
  CHECK(List(h, {.status = OrderStatus::kCreated}).total == 0);
}

TEST_CASE("seed defect: the status index moves an order, never duplicates it") {
  Harness h;
  const std::string id = h.Create("user-1");
  h.CatchUp();
  h.Approve(id);
  h.CatchUp();
  h.Pay(id);  // no status change: the index must not grow
  h.CatchUp();
  h.Ship(id);
  h.CatchUp();

  const auto entries = IndexEntriesOf(h, id);
  CHECK(entries.at("orders.by_time") == 1);
  CHECK(entries.at("orders.by_user") == 1);
  CHECK(entries.at("orders.by_status") == 1);
  CHECK(entries.at("orders.by_user_status") == 1);
  for (OrderStatus status : kAllOrderStatuses) {
    const OrderPage page = List(h, {.status = status});
    const uint64_t expected = status == OrderStatus::kShipped ? 1 : 0;
    CHECK(page.total == expected);
    CHECK(page.orders.size() == expected);
    const OrderPage own = List(h, {.status = status}, Customer("user-1"));
    CHECK(own.total == expected);
    CHECK(own.orders.size() == expected);
  }
  CHECK(List(h, {}).total == 1);
}

TEST_CASE("seed defect: filters apply before paging, newest first, with the total") {
  Harness h;
  std::vector<std::string> cancelled;  // oldest first
  for (int i = 0; i < 30; ++i) {
    const std::string id = h.Create(i % 2 ? "user-1" : "user-2");
    if (i % 3 == 0) {
      h.Cancel(id);
      cancelled.push_back(id);
    }
  }
  h.CatchUp();
  std::reverse(cancelled.begin(), cancelled.end());  // newest first

  std::vector<std::string> seen;
  for (uint32_t page = 1; page <= 3; ++page) {
    const OrderPage p = List(h, {.status = OrderStatus::kCancelled, .page = page, .limit = 4});
    CHECK(p.total == 10);
    CHECK(p.page == page);
    CHECK(p.limit == 4);
    CHECK(p.orders.size() == (page < 3 ? 4u : 2u));
    for (const std::string& id : IdsOf(p.orders)) seen.push_back(id);
  }
  CHECK(seen == cancelled);
  CHECK(List(h, {.status = OrderStatus::kCancelled, .page = 4, .limit = 4}).orders.empty());

  // User and status together; a customer's list is its own.
  const OrderPage own = List(h, {.status = OrderStatus::kCancelled, .limit = 100}, Customer("user-1"));
  CHECK(own.total == 5);
  for (const std::string& json : own.orders) {
    CHECK(ParseOrderView(json)->user_id == "user-1");
  }
  CHECK(List(h, {.user_id = "user-2", .limit = 100}).total == 15);
  CHECK(List(h, {.limit = 7}).orders.size() == 7);
  CHECK(List(h, {.limit = 7}).total == 30);
}

TEST_CASE("the list is newest first and filters by creation date") {
  Harness h;
  std::vector<std::string> ids;
  for (int day = 0; day < 5; ++day) {
    h.now = kDay0 + day * kDay + 12 * 60 * kMinute;
    ids.push_back(h.Create("user-1"));
  }
  h.CatchUp();
  CHECK(IdsOf(List(h, {}).orders) ==
        std::vector<std::string>{ids[4], ids[3], ids[2], ids[1], ids[0]});

  // The ranges ?dateFrom=2026-11-02&dateTo=2026-11-03 asks for (a date covers its whole day;
  // tests/http/order_requests_test.cc checks that conversion): [day 1, day 3).
  ListQuery range{.created_from_us = kDay0 + kDay, .created_to_us = kDay0 + 3 * kDay};
  OrderPage page = List(h, range);
  CHECK(page.total == 2);
  CHECK(IdsOf(page.orders) == std::vector<std::string>{ids[2], ids[1]});

  range.created_to_us = kDay0 + 2 * kDay + 12 * 60 * kMinute + 1;  // to 2026-11-03T12:00:00Z
  page = List(h, range);
  CHECK(IdsOf(page.orders) == std::vector<std::string>{ids[2], ids[1]});
  range.created_to_us = kDay0 + 2 * kDay + (12 * 60 - 1) * kMinute + 59 * 1'000'000 + 1;
  CHECK(IdsOf(List(h, range).orders) == std::vector<std::string>{ids[1]});  // to 11:59:59

  ListQuery with_status{.status = OrderStatus::kCreated, .created_from_us = kDay0 + 3 * kDay};
  CHECK(IdsOf(List(h, with_status).orders) == std::vector<std::string>{ids[4], ids[3]});
  CHECK(List(h, {.created_from_us = kDay0 + 10 * kDay}).total == 0);
  CHECK(List(h, {.created_from_us = kDay0 + 3 * kDay, .created_to_us = kDay0 + 2 * kDay}).total == 0);
}

TEST_CASE("list paging is checked and named") {
  Harness h;
  CHECK(h.queries().ListOrders({.limit = 0}, Admin()).status().field() == "limit");
  CHECK(h.queries().ListOrders({.page = 0}, Admin()).status().field() == "page");
}

TEST_CASE("seed defect: customers cannot read others' orders") {
  Harness h;
  const std::string mine = h.Create("user-1");
  const std::string theirs = h.Create("user-2");
  h.CatchUp();
  CHECK_OK(h.queries().GetOrder(mine, Customer("user-1")));
  auto other = h.queries().GetOrder(theirs, Customer("user-1"));
  auto missing = h.queries().GetOrder("no-such-order", Customer("user-1"));
  CHECK(other.status().code() == ErrorCode::kNotFound);
  CHECK(missing.status().code() == ErrorCode::kNotFound);
  CHECK_OK(h.queries().GetOrder(theirs, Admin()));

  CHECK(IdsOf(List(h, {}, Customer("user-1")).orders) == std::vector<std::string>{mine});
  CHECK(h.queries().ListOrders({.user_id = "user-2"}, Customer("user-1")).status().code() ==
        ErrorCode::kPermissionDenied);
  CHECK(IdsOf(List(h, {.user_id = "user-2"}, Admin()).orders) == std::vector<std::string>{theirs});

  auto search = h.queries().Search("teheran", 10, Customer("user-1"));
  REQUIRE_OK(search);
  CHECK(IdsOf(search->results) == std::vector<std::string>{mine});
  CHECK(h.queries().GetDashboard(DashboardPeriod::kAll, h.now, Customer("user-1")).status().code() ==
        ErrorCode::kPermissionDenied);
}

TEST_CASE("seed defect: revenue counts paid orders only, and not cancelled ones") {
  Harness h;
  const std::string paid = h.Create("user-1");
  h.Pay(paid);
  const std::string paid_shipped = h.Create("user-1");
  h.Approve(paid_shipped);
  h.Pay(paid_shipped);
  h.Ship(paid_shipped);
  const std::string unpaid = h.Create("user-2");
  h.Approve(unpaid);
  const std::string paid_then_cancelled = h.Create("user-2");
  h.Pay(paid_then_cancelled);
  h.Cancel(paid_then_cancelled);
  const std::string cancelled = h.Create("user-2");
  h.Cancel(cancelled);
  h.CatchUp();

  auto dashboard = h.queries().GetDashboard(DashboardPeriod::kAll, h.now, Admin());
  REQUIRE_OK(dashboard);
  CHECK(dashboard->current.orders == 5);
  CHECK(dashboard->current.paid_orders == 2);
  CHECK(dashboard->current.Revenue("KRW") == 2 * kSampleTotal);
  CHECK(dashboard->current.by_status[int(OrderStatus::kCreated)] == 1);
  CHECK(dashboard->current.by_status[int(OrderStatus::kApproved)] == 1);
  CHECK(dashboard->current.by_status[int(OrderStatus::kShipped)] == 1);
  CHECK(dashboard->current.by_status[int(OrderStatus::kCancelled)] == 2);
  // Its JSON: tests/http/order_responses_test.cc.
  CHECK(dashboard->current.revenue_by_currency ==
        std::vector<std::pair<std::string, int64_t>>{{"KRW", 206000}});
}

TEST_CASE("the dashboard answers today, 7d, 30d and all with trends from per-day buckets") {
  Harness h;
  // Orders per day before "now" (day 40): days 40 (today) x3, 38 x2, 35 x1, 30 x4, 5 x1.
  const std::vector<std::pair<int, int>> plan = {{5, 1}, {30, 4}, {35, 1}, {38, 2}, {40, 3}};
  for (const auto& [day, count] : plan) {
    for (int i = 0; i < count; ++i) {
      h.now = kDay0 + day * kDay + (8 * 60 + i) * kMinute;
      const std::string id = h.Create("user-1");
      h.Pay(id);
    }
  }
  h.CatchUp();
  const int64_t now = kDay0 + 40 * kDay + 20 * 60 * kMinute;
  auto figures = [&](DashboardPeriod period) {
    auto d = h.queries().GetDashboard(period, now, Admin());
    REQUIRE_OK(d);
    return *d;
  };
  const Dashboard today = figures(DashboardPeriod::kToday);
  CHECK(today.current.orders == 3);
  CHECK(today.current.Revenue("KRW") == 3 * kSampleTotal);
  REQUIRE(today.previous.has_value());
  CHECK(today.previous->orders == 0);
  CHECK(today.from_us == kDay0 + 40 * kDay);
  CHECK(today.to_us == kDay0 + 41 * kDay);

  const Dashboard week = figures(DashboardPeriod::k7Days);  // days 34..40, previous 27..33
  CHECK(week.current.orders == 6);
  CHECK(week.previous->orders == 4);
  CHECK(week.current.Revenue("KRW") == 618000);
  CHECK(week.previous->Revenue("KRW") == 412000);
  CHECK(week.from_us == kDay0 + 34 * kDay);

  const Dashboard month = figures(DashboardPeriod::k30Days);  // days 11..40, previous -19..10
  CHECK(month.current.orders == 10);
  CHECK(month.previous->orders == 1);
  const Dashboard all = figures(DashboardPeriod::kAll);
  CHECK(all.current.orders == 11);
  CHECK_FALSE(all.previous.has_value());
  CHECK(all.period == DashboardPeriod::kAll);
  CHECK_FALSE(all.from_us.has_value());
  CHECK(ParseDashboardPeriod("7d").ok());
  CHECK(ParseDashboardPeriod("week").status().field() == "period");
}

// Writes `json` as the stored view of `order_id`, behind the engine's back, as a data dir
// written before a view field changed holds it.
void StoreViewBehindTheEngine(Harness& h, const std::string& order_id, const std::string& json) {
  auto status = h.engine().GetStatus(std::string(kOrdersProjection));
  REQUIRE_OK(status);
  auto views = h.store()->OpenFamily("rm.orders." + std::to_string(status->generation) + ".views",
                                     FamilyKind::kOrdered);
  REQUIRE_OK(views);
  WriteBatch batch;
  batch.Put(*views, order_id, json);
  REQUIRE(h.store()->Write(batch, false).ok());
}

TEST_CASE("views stored with the old itemCount read and update, and the check reports them") {
  Harness h;
  const std::string stale = h.Create("user-1");  // 2 lines: 2 + 1 pieces
  const std::string touched = h.Create("user-1");
  h.CatchUp();
  auto current = h.queries().GetOrder(stale, Admin());
  REQUIRE_OK(current);
  const std::string fields = R"("itemCount":2,"unitCount":3,)";
  REQUIRE(current->find(fields) != std::string::npos);
  // Before unitCount, itemCount was the sum of the quantities.
  std::string old = *current;
  old.replace(old.find(fields), fields.size(), R"("itemCount":3,)");
  StoreViewBehindTheEngine(h, stale, old);
  auto touched_json = h.queries().GetOrder(touched, Admin());
  REQUIRE_OK(touched_json);
  std::string touched_old = *touched_json;
  touched_old.replace(touched_old.find(fields), fields.size(), R"("itemCount":3,)");
  StoreViewBehindTheEngine(h, touched, touched_old);

  // Queries answer the stored JSON as it is; it still parses to the same view.
  CHECK(*h.queries().GetOrder(stale, Admin()) == old);
  CHECK(h.View(stale) == *ParseOrderView(*current));
  // The next event of an order rewrites its view in the new shape.
  h.Approve(touched);
  h.CatchUp();
  auto approved = h.queries().GetOrder(touched, Admin());
  REQUIRE_OK(approved);
  CHECK(approved->find(fields) != std::string::npos);

  // The check replays the log and reports the stale view as drift, without failing.
  auto report = h.engine().Check(CheckOptions{});
  REQUIRE_OK(report);
  CHECK_FALSE(report->consistent);
  CHECK(report->drifted == std::vector<std::string>{"orders"});
  REQUIRE(report->differences.size() == 1);
  CHECK(report->differences[0].table == "views");
  CHECK(report->differences[0].key == stale);
  CHECK(report->differences[0].actual == old);
  CHECK(report->differences[0].expected == *current);

  // A rebuild (here: the check's repair) writes every view in the new shape.
  CheckOptions repair;
  repair.repair = true;
  auto repaired = h.engine().Check(repair);
  REQUIRE_OK(repaired);
  CHECK(repaired->repaired == std::vector<std::string>{"orders"});
  CHECK(*h.queries().GetOrder(stale, Admin()) == *current);
  auto after = h.engine().Check(CheckOptions{});
  REQUIRE_OK(after);
  CHECK(after->consistent);
}

TEST_CASE("the dashboard lists each day of its period, oldest first, with orders and revenue") {
  Harness h;
  // Day 35: one paid order; day 38: one paid, one unpaid, one paid then cancelled; day 40
  // (today): one paid. Day 5 is older than any period's chart.
  const auto create_on = [&](int day, bool pay, bool cancel) {
    h.now = kDay0 + day * kDay + 9 * 60 * kMinute;
    const std::string id = h.Create("user-1");
    if (pay) h.Pay(id);
    if (cancel) h.Cancel(id);
  };
  create_on(5, true, false);
  create_on(35, true, false);
  create_on(38, true, false);
  create_on(38, false, false);
  create_on(38, true, true);
  create_on(40, true, false);
  h.CatchUp();
  const int64_t now = kDay0 + 40 * kDay + 20 * 60 * kMinute;
  const auto days_of = [&](DashboardPeriod period) {
    auto d = h.queries().GetDashboard(period, now, Admin());
    REQUIRE_OK(d);
    return *d;
  };

  const Dashboard week = days_of(DashboardPeriod::k7Days);  // days 34..40
  REQUIRE(week.days.size() == 7);
  const std::vector<uint64_t> orders = {0, 1, 0, 0, 3, 0, 1};
  const std::vector<int64_t> revenue = {0, kSampleTotal, 0, 0, kSampleTotal, 0, kSampleTotal};
  for (size_t i = 0; i < 7; ++i) {
    CAPTURE(i);
    CHECK(week.days[i].day == kDay0 / kDay + 34 + int64_t(i));
    CHECK(week.days[i].orders == orders[i]);
    CHECK(week.days[i].revenue == revenue[i]);
  }

  const Dashboard today = days_of(DashboardPeriod::kToday);
  REQUIRE(today.days.size() == 1);
  CHECK(today.days[0].orders == 1);
  CHECK(days_of(DashboardPeriod::k30Days).days.size() == 30);
  // all: the last 30 days, so day 5's order is counted in the totals but not charted.
  const Dashboard all = days_of(DashboardPeriod::kAll);
  REQUIRE(all.days.size() == 30);
  CHECK(all.days.front().day == kDay0 / kDay + 11);
  CHECK(all.days.back().day == kDay0 / kDay + 40);
  uint64_t charted = 0;
  for (const DashboardDay& day : all.days) charted += day.orders;
  CHECK(charted == 5);
  CHECK(all.current.orders == 6);
}

TEST_CASE("seed defect: estimatedDelivery comes from the event time, identical after a rebuild") {
  Harness h;
  const int64_t created_at = h.now;
  const std::string standard = h.Create("user-1", false);
  const std::string express = h.Create("user-1", true);
  h.Approve(standard);
  h.CatchUp();
  CHECK(h.View(standard).estimated_delivery_us == created_at + 5 * kDay);
  CHECK(h.View(express).estimated_delivery_us == created_at + kMinute + 2 * kDay);

  const testing::Tables before = testing::DumpReadModels(h.engine());
  testing::Rebuild(h.engine());
  const testing::Tables after = testing::DumpReadModels(h.engine());
  CHECK_MESSAGE(before == after, testing::FirstDifference(before, after));
}

TEST_CASE("search narrows later terms by lookup or by postings with the same results") {
  // "seoul mx" with 70 item terms starting with "mx" takes the postings path (too many terms to
  // look up); "busan mx5" looks the last term up for the few Busan orders.
  Harness h;
  CreateOrder many = testing::SampleCreate(Customer("user-1"));
  many.items.clear();
  for (int i = 1; i <= 70; ++i) {
    many.items.push_back(OrderItem{"p-" + std::to_string(i), "mx" + std::to_string(i), 1000, 1});
  }
  many.shipping_address.city = "Seoul";
  auto a = h.Run(many);
  REQUIRE_OK(a);
  CreateOrder one = testing::SampleCreate(Customer("user-2"));
  one.items = {OrderItem{"p-5", "mx5", 1000, 1}};
  one.shipping_address.city = "Busan";
  auto b = h.Run(one);
  REQUIRE_OK(b);
  h.CatchUp();
  auto ids = [&](std::string_view q) {
    auto results = h.queries().Search(q, 10, Admin());
    REQUIRE_MESSAGE(results.ok(), results.status().ToString());
    return IdsOf(results->results);
  };
  CHECK(ids("seoul mx") == std::vector<std::string>{a->order_id});
  CHECK(ids("busan mx") == std::vector<std::string>{b->order_id});
  CHECK(ids("busan mx5") == std::vector<std::string>{b->order_id});
  CHECK(ids("seoul mx70") == std::vector<std::string>{a->order_id});
  CHECK(ids("busan mx70").empty());
  CHECK(ids("mx5") == std::vector<std::string>{b->order_id, a->order_id});
  CHECK(ids("user-1 seoul mx7") == std::vector<std::string>{a->order_id});
}

TEST_CASE("search matches all terms in ids, users, item names and addresses") {
  Harness h;
  CreateOrder korean = testing::SampleCreate(Customer("user-1"));
  auto first = h.Run(korean);
  REQUIRE_OK(first);
  CreateOrder other = testing::SampleCreate(Customer("user-2"));
  other.items = {OrderItem{"p-400", "27in Monitor", 329000, 1}};
  other.shipping_address = ShippingAddress{"161 Gangnam-daero", "Busan", "06737", "KR", false};
  auto second = h.Run(other);
  REQUIRE_OK(second);
  h.CatchUp();
  const std::string a = first->order_id, b = second->order_id;

  auto ids = [&](std::string_view q, const Actor& actor = Admin(), uint32_t limit = 10) {
    auto results = h.queries().Search(q, limit, actor);
    REQUIRE_MESSAGE(results.ok(), results.status().ToString());
    return std::pair(IdsOf(results->results), results->total);
  };
  CHECK(ids("키보드").first == std::vector<std::string>{a});
  CHECK(ids("무선 키").first == std::vector<std::string>{a});  // prefix on the last term
  CHECK(ids("MONITOR busan").first == std::vector<std::string>{b});
  CHECK(ids("monitor seoul").first.empty());                // every term must match
  CHECK(ids("teheran").first == std::vector<std::string>{a});
  CHECK(ids("teheran-ro").first == std::vector<std::string>{a});
  CHECK(ids("06737").first == std::vector<std::string>{b});
  CHECK(ids("user-2").first == std::vector<std::string>{b});
  CHECK(ids(a).first == std::vector<std::string>{a});       // the whole id
  const auto has_a = [&](const std::vector<std::string>& found) {
    return std::find(found.begin(), found.end(), a) != found.end();
  };
  CHECK(has_a(ids(a.substr(0, 8)).first));  // its first part
  CHECK(has_a(ids(a.substr(0, 4)).first));  // a prefix of it
  auto both = ids("kr");
  CHECK(both.second == 2);
  CHECK(both.first == std::vector<std::string>{b, a});  // newest first
  auto limited = ids("kr", Admin(), 1);
  CHECK(limited.first.size() == 1);
  CHECK(limited.second == 2);
  CHECK(ids("kr", Customer("user-2")).first == std::vector<std::string>{b});

  CHECK(h.queries().Search("", 10, Admin()).status().field() == "q");
  CHECK(h.queries().Search("  ,, ", 10, Admin()).status().field() == "q");
  CHECK(h.queries().Search("a b c d e f g h i", 10, Admin()).status().field() == "q");
  CHECK(h.queries().Search(std::string(257, 'a'), 10, Admin()).status().field() == "q");
  CHECK(h.queries().Search("kr", 0, Admin()).status().field() == "limit");
  CHECK(h.queries().Search("kr", 101, Admin()).status().field() == "limit");
}

TEST_CASE("events of other types on the order topics are ignored") {
  Harness h;
  const std::string id = h.Create("user-1");
  AppendRequest req;
  req.topic = "order-events";
  req.stream = "order-" + id;
  req.events.push_back(NewEvent{"", "ORDER_NOTE_ADDED", R"({"note":"hi"})", {}, 0});
  REQUIRE_OK(h.log()->Append(std::move(req)));
  h.CatchUp();
  CHECK(h.View(id).status == OrderStatus::kCreated);
  h.Approve(id);  // the service folds past the foreign event, too
  h.CatchUp();
  CHECK(h.View(id).version == 3);
}

TEST_CASE("a malformed order event fails the projections with the event named, no crash") {
  Harness h;
  const std::string id = h.Create("user-1");
  AppendRequest req;
  req.topic = "order-events";
  req.stream = "order-" + id;
  req.events.push_back(NewEvent{"bad-event-1", "ORDER_APPROVED", R"({"order":"x"})", {}, 0});
  REQUIRE_OK(h.log()->Append(std::move(req)));
  CHECK_FALSE(h.engine().CatchUp().ok());
  auto status = h.engine().GetStatus("orders");
  REQUIRE_OK(status);
  CHECK(status->state == ProjectionState::kFailed);
  CHECK(status->error.find("bad-event-1") != std::string::npos);
  CHECK(status->error.find("orderId") != std::string::npos);
}

TEST_CASE("an event for an order that was never created fails the projection") {
  Harness h;
  AppendRequest req;
  req.topic = "payment-events";
  req.stream = "order-ghost";
  req.events.push_back(NewEvent{"ghost-pay", "PAYMENT_COMPLETED",
                                R"({"orderId":"ghost","method":"card","amount":5})", {}, 0});
  REQUIRE_OK(h.log()->Append(std::move(req)));
  CHECK_FALSE(h.engine().CatchUp().ok());
  auto status = h.engine().GetStatus("orders");
  REQUIRE_OK(status);
  CHECK(status->state == ProjectionState::kFailed);
  CHECK(status->error.find("never created") != std::string::npos);
}

TEST_CASE("read-your-writes: waiting for the command's position makes the write visible") {
  Harness h(false);
  EngineOptions options;  // threads on
  auto engine = Engine::Open(h.log(), OrderProjections(), options);
  REQUIRE_OK(engine);
  OrderQueries queries(**engine);
  auto created = h.Run(testing::SampleCreate(Customer("user-1")));
  REQUIRE_OK(created);
  for (const char* projection : {"orders", "order_stats", "order_search"}) {
    Status s = (*engine)->WaitForSeq(projection, created->position.seq, 10s);
    REQUIRE_MESSAGE(s.ok(), s.ToString());
  }
  CHECK_OK(queries.GetOrder(created->order_id, Customer("user-1")));
  auto search = queries.Search("teheran", 5, Customer("user-1"));
  REQUIRE_OK(search);
  CHECK(search->total == 1);
  (*engine)->Stop();
}

}  // namespace
}  // namespace cairn
