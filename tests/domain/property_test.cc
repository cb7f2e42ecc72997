// Property test of the whole order domain: random command sequences over many orders (random
// users, actors, amounts, times, retries with Idempotency-Keys), checked step by step against a
// model of DESIGN.md §3 computed directly from the commands; then every read model (views, the
// list with every filter, the dashboard for every period, search) must equal what the model
// says, the write model too, and a full blue/green rebuild must give byte-identical tables.
//
// The seed is fixed so a failure reproduces; CAIRN_PROPERTY_SEED=<n> tries another one.
#include <doctest/doctest.h>

#include <algorithm>
#include <cstdlib>
#include <map>
#include <optional>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "cairn/orders.h"
#include "domain_test_util.h"
#include "base/iso_time.h"

namespace cairn {
namespace {

using testing::Admin;
using testing::Customer;
using testing::Harness;
using testing::kDay0;
using testing::kMinute;
using testing::Meta;

struct CatalogItem {
  const char* name;
  std::vector<std::string> words;  // its search terms
};
const std::vector<CatalogItem> kCatalog = {
    {"Keyboard", {"keyboard"}},     {"Mouse", {"mouse"}},
    {"27in Monitor", {"27in", "monitor"}}, {"Laptop Stand", {"laptop", "stand"}},
    {"USB Hub", {"usb", "hub"}},    {"무선 키보드", {"무선", "키보드"}},
};
const std::vector<std::string> kCities = {"Seoul", "Busan", "Incheon", "Daegu"};
constexpr int kUsers = 5;

// What DESIGN.md §3 says an order is after the commands that succeeded on it.
struct ModelOrder {
  std::string id;
  CreateOrder create;
  int64_t total = 0;
  int64_t created_at = 0;
  OrderStatus status = OrderStatus::kCreated;
  std::optional<PaymentDetails> payment;
  std::optional<std::string> tracking;
  std::optional<int64_t> shipped_at;
  std::optional<std::string> reason;
  std::vector<StatusChange> history;
  uint64_t version = 1;
  int64_t updated_at = 0;
};

OrderView Expected(const ModelOrder& m) {
  OrderView v;
  v.order_id = m.id;
  v.user_id = m.create.user_id;
  v.status = m.status;
  v.payment_status = m.payment ? PaymentStatus::kPaid : PaymentStatus::kPending;
  v.items = m.create.items;
  v.total_amount = m.total;
  v.currency = m.create.currency;
  v.shipping_address = m.create.shipping_address;
  v.estimated_delivery_us =
      m.created_at + (m.create.shipping_address.express ? 2 : 5) * json::kMicrosPerDay;
  v.tracking_number = m.tracking;
  v.shipped_at_us = m.shipped_at;
  v.payment = m.payment;
  v.cancellation_reason = m.reason;
  v.created_at_us = m.created_at;
  v.updated_at_us = m.updated_at;
  v.version = m.version;
  v.history = m.history;
  return v;
}

class Simulation {
 public:
  Simulation(Harness& h, uint64_t seed) : h_(h), rng_(seed) {}

  void Step() {
    now_ += Uniform(1, 180) * kMinute;
    h_.now = now_;
    if (orders_.empty() || Uniform(0, 99) < 30) return Create();
    if (last_keyed_ && Uniform(0, 99) < 5) return Repeat();
    ModelOrder& order = orders_[Uniform(0, orders_.size() - 1)];
    switch (Uniform(0, 3)) {
      case 0: return Approve(order);
      case 1: return Ship(order);
      case 2: return Pay(order);
      default: return Cancel(order);
    }
  }

  const std::vector<ModelOrder>& orders() const { return orders_; }
  int64_t now() const { return now_; }
  std::mt19937_64& rng() { return rng_; }
  uint64_t Uniform(uint64_t lo, uint64_t hi) {
    return std::uniform_int_distribution<uint64_t>(lo, hi)(rng_);
  }

 private:
  std::string RandomUser() { return "user-" + std::to_string(Uniform(0, kUsers - 1)); }

  // A random actor for a command on `order`: usually an admin, else its owner or a stranger.
  Actor RandomActor(const ModelOrder& order) {
    const uint64_t pick = Uniform(0, 9);
    if (pick < 7) return Admin();
    if (pick < 9) return Customer(order.create.user_id);
    return Customer(order.create.user_id == "user-0" ? "user-1" : "user-0");
  }

  // The key of a command: every other command carries one.
  std::string RandomKey() {
    return Uniform(0, 1) ? "k-" + std::to_string(next_key_++) : std::string();
  }

  void Expect(const Result<CommandResult>& result, ErrorCode code) {
    CAPTURE(result.status().ToString());
    REQUIRE(result.status().code() == code);
  }

  // Applies the outcome of a command the model allows.
  void Remember(const OrderCommand& command, const Result<CommandResult>& result,
                ModelOrder& order) {
    REQUIRE_MESSAGE(result.ok(), result.status().ToString());
    ++order.version;
    CHECK(result->version.value() == order.version);
    order.updated_at = now_;
    if (!std::visit([](const auto& c) { return c.meta.command_id.empty(); }, command)) {
      last_keyed_ = std::pair(command, *result);
    }
  }

  void Create() {
    CreateOrder c;
    const std::string user = RandomUser();
    c.meta = Meta(Uniform(0, 3) ? Customer(user) : Admin(), RandomKey());
    c.user_id = user;
    for (uint64_t i = 0, n = Uniform(1, 3); i < n; ++i) {
      const CatalogItem& item = kCatalog[Uniform(0, kCatalog.size() - 1)];
      c.items.push_back(OrderItem{"p-" + std::to_string(i), item.name,
                                  static_cast<int64_t>(Uniform(0, 500)) * 100,
                                  static_cast<int64_t>(Uniform(1, 4))});
    }
    c.shipping_address = ShippingAddress{std::to_string(Uniform(1, 999)) + " Teheran-ro",
                                         kCities[Uniform(0, kCities.size() - 1)],
                                         std::to_string(Uniform(10000, 99999)), "KR",
                                         Uniform(0, 2) == 0};
    c.currency = Uniform(0, 4) ? "KRW" : "USD";
    Result<CommandResult> result = h_.Run(c);
    REQUIRE_MESSAGE(result.ok(), result.status().ToString());
    ModelOrder order;
    order.id = result->order_id;
    order.create = c;
    order.total = *OrderTotal(c.items);
    order.created_at = order.updated_at = now_;
    order.history = {{OrderStatus::kCreated, now_}};
    if (!c.meta.command_id.empty()) last_keyed_ = std::pair(OrderCommand(c), *result);
    orders_.push_back(std::move(order));
  }

  // Re-sends the last command that carried a key: the original result, nothing new.
  void Repeat() {
    const Seq before = h_.log()->LastSeq();
    Result<CommandResult> again = h_.Run(last_keyed_->first);
    REQUIRE_MESSAGE(again.ok(), again.status().ToString());
    CHECK(again->replayed);
    CHECK(again->order_id == last_keyed_->second.order_id);
    CHECK(again->position == last_keyed_->second.position);
    CHECK(h_.log()->LastSeq() == before);
  }

  // The code a command by `actor` gets before any rule: admin-only commands and strangers.
  std::optional<ErrorCode> Denied(const Actor& actor, const ModelOrder& order, bool admin_only) {
    if (actor.is_admin()) return std::nullopt;
    if (actor.user_id != order.create.user_id) return ErrorCode::kNotFound;
    if (admin_only) return ErrorCode::kPermissionDenied;
    return std::nullopt;
  }

  void Approve(ModelOrder& order) {
    const Actor actor = RandomActor(order);
    const ApproveOrder command{Meta(actor, RandomKey()), order.id};
    Result<CommandResult> result = h_.Run(command);
    if (auto denied = Denied(actor, order, true)) return Expect(result, *denied);
    if (order.status != OrderStatus::kCreated) return Expect(result, ErrorCode::kRuleViolation);
    Remember(command, result, order);
    order.status = OrderStatus::kApproved;
    order.history.push_back({OrderStatus::kApproved, now_});
  }

  void Ship(ModelOrder& order) {
    const Actor actor = RandomActor(order);
    std::optional<std::string> tracking;
    if (Uniform(0, 1)) tracking = "TRK-" + std::to_string(Uniform(1000, 9999));
    const ShipOrder command{Meta(actor, RandomKey()), order.id, tracking};
    Result<CommandResult> result = h_.Run(command);
    if (auto denied = Denied(actor, order, true)) return Expect(result, *denied);
    if (order.status != OrderStatus::kApproved) return Expect(result, ErrorCode::kRuleViolation);
    Remember(command, result, order);
    order.status = OrderStatus::kShipped;
    order.tracking = tracking;
    order.shipped_at = now_;
    order.history.push_back({OrderStatus::kShipped, now_});
  }

  void Pay(ModelOrder& order) {
    const Actor actor = RandomActor(order);
    const int64_t amount = Uniform(0, 9) ? order.total : order.total + 100;
    const std::string method = Uniform(0, 1) ? "card" : "transfer";
    const CompletePayment command{Meta(actor, RandomKey()), order.id, method, amount};
    Result<CommandResult> result = h_.Run(command);
    if (auto denied = Denied(actor, order, false)) return Expect(result, *denied);
    if (order.status == OrderStatus::kCancelled || order.payment || amount != order.total) {
      return Expect(result, ErrorCode::kRuleViolation);
    }
    Remember(command, result, order);
    order.payment = PaymentDetails{method, amount, now_};
  }

  void Cancel(ModelOrder& order) {
    const Actor actor = RandomActor(order);
    std::optional<std::string> reason;
    if (Uniform(0, 1)) reason = "reason " + std::to_string(Uniform(1, 9));
    const CancelOrder command{Meta(actor, RandomKey()), order.id, reason};
    Result<CommandResult> result = h_.Run(command);
    if (auto denied = Denied(actor, order, true)) return Expect(result, *denied);
    if (order.status != OrderStatus::kCreated && order.status != OrderStatus::kApproved) {
      return Expect(result, ErrorCode::kRuleViolation);
    }
    Remember(command, result, order);
    order.status = OrderStatus::kCancelled;
    order.reason = reason;
    order.history.push_back({OrderStatus::kCancelled, now_});
  }

  Harness& h_;
  std::mt19937_64 rng_;
  int64_t now_ = kDay0;
  std::vector<ModelOrder> orders_;
  uint64_t next_key_ = 0;
  std::optional<std::pair<OrderCommand, CommandResult>> last_keyed_;
};

// ---- Comparing the read models with the model ---------------------------------------------

std::vector<std::string> NewestFirstIds(std::vector<const ModelOrder*> orders) {
  std::sort(orders.begin(), orders.end(), [](const ModelOrder* a, const ModelOrder* b) {
    return a->created_at != b->created_at ? a->created_at > b->created_at : a->id < b->id;
  });
  std::vector<std::string> ids;
  for (const ModelOrder* o : orders) ids.push_back(o->id);
  return ids;
}

// Every page of a list query, concatenated, checking the total on each page.
std::vector<std::string> ListAll(Harness& h, ListQuery query, const Actor& actor,
                                 uint64_t expected_total) {
  std::vector<std::string> ids;
  query.limit = 7;  // several pages
  for (query.page = 1;; ++query.page) {
    auto page = h.queries().ListOrders(query, actor);
    REQUIRE_MESSAGE(page.ok(), page.status().ToString());
    CHECK(page->total == expected_total);
    if (page->orders.empty()) break;
    for (const std::string& json : page->orders) ids.push_back(ParseOrderView(json)->order_id);
  }
  return ids;
}

void CheckViews(Harness& h, const Simulation& sim) {
  for (const ModelOrder& order : sim.orders()) {
    auto json = h.queries().GetOrder(order.id, Admin());
    REQUIRE_MESSAGE(json.ok(), json.status().ToString());
    auto view = ParseOrderView(*json);
    REQUIRE_OK(view);
    CHECK(*view == Expected(order));
    CHECK(*json == Expected(order).ToJson());
    auto own = h.queries().GetOrder(order.id, Customer(order.create.user_id));
    CHECK(own.ok());
    auto stranger = h.queries().GetOrder(order.id, Customer("stranger"));
    CHECK(stranger.status().code() == ErrorCode::kNotFound);

    auto state = h.service().Load(order.id);
    REQUIRE_OK(state);
    CHECK(state->status == order.status);
    CHECK(state->version == order.version);
    CHECK(state->payment_status == (order.payment ? PaymentStatus::kPaid : PaymentStatus::kPending));
  }
}

void CheckLists(Harness& h, Simulation& sim) {
  std::vector<std::optional<std::string>> users = {std::nullopt};
  for (int u = 0; u < kUsers; ++u) users.push_back("user-" + std::to_string(u));
  std::vector<std::optional<OrderStatus>> statuses = {std::nullopt};
  for (OrderStatus s : kAllOrderStatuses) statuses.push_back(s);
  // A few date ranges, including open-ended ones.
  std::vector<std::pair<std::optional<int64_t>, std::optional<int64_t>>> ranges = {
      {std::nullopt, std::nullopt}};
  for (int i = 0; i < 3; ++i) {
    const int64_t a = kDay0 + static_cast<int64_t>(sim.Uniform(0, 50)) * json::kMicrosPerDay / 2;
    const int64_t b = a + static_cast<int64_t>(sim.Uniform(1, 20)) * json::kMicrosPerDay;
    ranges.push_back({a, b});
    ranges.push_back({a, std::nullopt});
    ranges.push_back({std::nullopt, b});
  }
  for (const auto& user : users) {
    for (const auto& status : statuses) {
      for (const auto& [from, to] : ranges) {
        std::vector<const ModelOrder*> matching;
        for (const ModelOrder& o : sim.orders()) {
          if ((!user || o.create.user_id == *user) && (!status || o.status == *status) &&
              (!from || o.created_at >= *from) && (!to || o.created_at < *to)) {
            matching.push_back(&o);
          }
        }
        const ListQuery query{status, from, to, user, 1, 20};
        CAPTURE(user.value_or("*"));
        CAPTURE(status ? OrderStatusName(*status) : "*");
        const std::vector<std::string> want = NewestFirstIds(matching);
        CHECK(ListAll(h, query, Admin(), want.size()) == want);
        if (user) {
          ListQuery own = query;
          own.user_id.reset();
          CHECK(ListAll(h, own, Customer(*user), want.size()) == want);
        }
      }
    }
  }
}

void CheckDashboard(Harness& h, const Simulation& sim) {
  const int64_t today = json::DayOf(sim.now());
  for (DashboardPeriod period : {DashboardPeriod::kToday, DashboardPeriod::k7Days,
                                 DashboardPeriod::k30Days, DashboardPeriod::kAll}) {
    auto dashboard = h.queries().GetDashboard(period, sim.now(), Admin());
    REQUIRE_OK(dashboard);
    const int64_t days = period == DashboardPeriod::kToday ? 1
                         : period == DashboardPeriod::k7Days ? 7
                         : period == DashboardPeriod::k30Days ? 30
                                                              : 1'000'000;
    auto figures = [&](int64_t first_day, int64_t end_day) {
      DashboardFigures f;
      std::map<std::string, int64_t> revenue;
      for (const ModelOrder& o : sim.orders()) {
        const int64_t day = json::DayOf(o.created_at);
        if (day < first_day || day >= end_day) continue;
        ++f.orders;
        ++f.by_status[static_cast<int>(o.status)];
        if (o.payment && o.status != OrderStatus::kCancelled) {
          ++f.paid_orders;
          revenue[o.create.currency] += o.total;
        }
      }
      for (const auto& [currency, amount] : revenue) {
        if (amount) f.revenue_by_currency.emplace_back(currency, amount);
      }
      return f;
    };
    const auto check = [](const DashboardFigures& got, const DashboardFigures& want) {
      CHECK(got.orders == want.orders);
      for (int s = 0; s < 4; ++s) CHECK(got.by_status[s] == want.by_status[s]);
      CHECK(got.paid_orders == want.paid_orders);
      CHECK(got.revenue_by_currency == want.revenue_by_currency);
    };
    CAPTURE(DashboardPeriodName(period));
    check(dashboard->current, figures(today + 1 - days, today + 1));
    if (period == DashboardPeriod::kAll) {
      CHECK_FALSE(dashboard->previous.has_value());
    } else {
      REQUIRE(dashboard->previous.has_value());
      check(*dashboard->previous, figures(today + 1 - 2 * days, today + 1 - days));
    }
  }
}

void CheckSearch(Harness& h, const Simulation& sim) {
  for (const std::string& city : kCities) {
    for (const CatalogItem& item : kCatalog) {
      for (const std::string& word : item.words) {
        std::vector<const ModelOrder*> matching;
        for (const ModelOrder& o : sim.orders()) {
          if (o.create.shipping_address.city != city) continue;
          const bool has_word = std::any_of(o.create.items.begin(), o.create.items.end(),
                                            [&](const OrderItem& i) {
                                              for (const CatalogItem& c : kCatalog) {
                                                if (c.name == i.name &&
                                                    std::count(c.words.begin(), c.words.end(), word)) {
                                                  return true;
                                                }
                                              }
                                              return false;
                                            });
          if (has_word) matching.push_back(&o);
        }
        const std::string q = city + " " + word;
        CAPTURE(q);
        auto results = h.queries().Search(q, 100, Admin());
        REQUIRE_OK(results);
        CHECK(results->total == matching.size());
        std::vector<std::string> got;
        for (const std::string& json : results->results) got.push_back(ParseOrderView(json)->order_id);
        CHECK(got == NewestFirstIds(matching));
      }
    }
  }
  for (int u = 0; u < kUsers; ++u) {
    const std::string user = "user-" + std::to_string(u);
    uint64_t own = 0;
    for (const ModelOrder& o : sim.orders()) own += o.create.user_id == user;
    auto results = h.queries().Search("kr", 100, Customer(user));
    REQUIRE_OK(results);
    CHECK(results->total == own);
  }
}

void CheckEverything(Harness& h, Simulation& sim) {
  CheckViews(h, sim);
  CheckLists(h, sim);
  CheckDashboard(h, sim);
  CheckSearch(h, sim);
}

uint64_t Seed() {
  const char* env = std::getenv("CAIRN_PROPERTY_SEED");
  return env ? std::strtoull(env, nullptr, 10) : 20261101;
}

TEST_CASE("random command sequences: read models equal the model and a full rebuild") {
  const uint64_t seed = Seed();
  CAPTURE(seed);
  Harness h;
  Simulation sim(h, seed);
  constexpr int kSteps = 900;
  for (int step = 0; step < kSteps; ++step) {
    sim.Step();
    if (sim.Uniform(0, 60) == 0) h.CatchUp();  // apply in uneven batches
  }
  h.CatchUp();
  REQUIRE(sim.orders().size() > 150);
  CheckEverything(h, sim);

  const testing::Tables live = testing::DumpReadModels(h.engine());
  testing::Rebuild(h.engine());
  const testing::Tables rebuilt = testing::DumpReadModels(h.engine());
  CHECK_MESSAGE(live == rebuilt, testing::FirstDifference(live, rebuilt));
  CheckEverything(h, sim);

  auto report = h.engine().Check(CheckOptions{});
  REQUIRE_OK(report);
  CHECK(report->consistent);
}

}  // namespace
}  // namespace cairn
