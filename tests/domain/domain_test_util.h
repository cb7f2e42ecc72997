// Shared fixtures of the order-domain tests: a temporary data dir with a Store, Log,
// OrderService (on a fake clock), Engine with OrderProjections() (threads off: CatchUp() applies)
// and OrderQueries; sample commands; small JSON probes for asserting on views.
#pragma once

#include <doctest/doctest.h>

#include <atomic>
#include <filesystem>
#include <map>
#include <memory>
#include <ostream>
#include <string>
#include <string_view>
#include <vector>

#include "cairn/engine.h"
#include "cairn/log.h"
#include "cairn/orders.h"
#include "cairn/status.h"
#include "cairn/store.h"
#include "base/iso_time.h"
#include "temp_dir.h"

namespace cairn {

inline std::ostream& operator<<(std::ostream& os, ErrorCode code) {
  return os << ErrorCodeName(code);
}
inline std::ostream& operator<<(std::ostream& os, OrderStatus status) {
  return os << OrderStatusName(status);
}
inline std::ostream& operator<<(std::ostream& os, PaymentStatus status) {
  return os << PaymentStatusName(status);
}

namespace testing {

// Fails the test with the status's text when it is not ok.
#define REQUIRE_OK(expr)                                             \
  do {                                                               \
    const auto& cairn_result_ = (expr);                              \
    REQUIRE_MESSAGE(cairn_result_.ok(), cairn_result_.status().ToString()); \
  } while (0)
#define CHECK_OK(expr)                                               \
  do {                                                               \
    const auto& cairn_result_ = (expr);                              \
    CHECK_MESSAGE(cairn_result_.ok(), cairn_result_.status().ToString()); \
  } while (0)

// A Status from either a Status or a Result.
inline const Status& StatusOf(const Status& s) { return s; }
template <typename T>
const Status& StatusOf(const Result<T>& r) {
  return r.status();
}

// 2026-11-01T00:00:00Z, the day of the seed's sample.
inline constexpr int64_t kDay0 = 1'793'491'200LL * 1'000'000;
inline constexpr int64_t kMinute = 60LL * 1'000'000;
inline constexpr int64_t kDay = json::kMicrosPerDay;


inline Actor Customer(std::string user) { return Actor{std::move(user), Role::kCustomer}; }
inline Actor Admin() { return Actor{"admin-1", Role::kAdmin}; }

inline CommandMeta Meta(const Actor& actor, std::string key = {}) {
  return CommandMeta{std::move(key), actor};
}

inline CreateOrder SampleCreate(const Actor& actor, std::string user_id = {}) {
  CreateOrder c;
  c.meta = Meta(actor);
  c.user_id = user_id.empty() ? actor.user_id : user_id;
  c.items = {OrderItem{"p-100", "무선 키보드", 39000, 2}, OrderItem{"p-200", "Mechanical Mouse", 25000, 1}};
  c.shipping_address = ShippingAddress{"282 Teheran-ro", "Seoul", "03243", "KR", false};
  return c;
}
inline constexpr int64_t kSampleTotal = 39000 * 2 + 25000;

// Everything a domain test needs, on a temporary data dir. The service's clock reads `now`,
// which each command advances by one minute unless a test sets it.
class Harness {
 public:
  explicit Harness(bool with_engine = true) {
    StoreOptions store_options;
    store_options.sync = SyncMode::kNone;
    auto store = Store::Open(dir_.path(), store_options);
    REQUIRE_OK(store);
    store_ = std::move(store).value();
    auto log = Log::Open(store_.get(), LogOptions{});
    REQUIRE_OK(log);
    log_ = std::move(log).value();
    OrderServiceOptions options;
    options.clock = [this] { return now.fetch_add(kMinute); };
    auto service = OrderService::Open(log_.get(), std::move(options));
    REQUIRE_OK(service);
    service_ = std::move(service).value();
    if (with_engine) OpenEngine();
  }
  ~Harness() {
    if (engine_) engine_->Stop();
    engine_.reset();
    log_->Close();
  }

  void OpenEngine() {
    EngineOptions options;
    options.start_threads = false;
    auto engine = Engine::Open(log_.get(), OrderProjections(), options);
    REQUIRE_OK(engine);
    engine_ = std::move(engine).value();
    queries_ = std::make_unique<OrderQueries>(*engine_);
  }

  // Applies every committed event to the projections.
  void CatchUp() {
    Status s = engine_->CatchUp();
    REQUIRE_MESSAGE(s.ok(), s.ToString());
  }

  Result<CommandResult> Run(OrderCommand command) { return service_->Handle(command); }

  // Creates an order for `user` (as that customer) and returns its id.
  std::string Create(const std::string& user, bool express = false) {
    CreateOrder c = SampleCreate(Customer(user));
    c.shipping_address.express = express;
    auto result = service_->Handle(c);
    REQUIRE_OK(result);
    return result->order_id;
  }
  void Approve(const std::string& id) { REQUIRE_OK(Run(ApproveOrder{Meta(Admin()), id})); }
  void Ship(const std::string& id, std::string tracking = "TRK-1") {
    REQUIRE_OK(Run(ShipOrder{Meta(Admin()), id, std::move(tracking)}));
  }
  void Pay(const std::string& id, int64_t amount = kSampleTotal) {
    REQUIRE_OK(Run(CompletePayment{Meta(Admin()), id, "card", amount}));
  }
  void Cancel(const std::string& id, std::string reason = "changed my mind") {
    REQUIRE_OK(Run(CancelOrder{Meta(Admin()), id, std::move(reason)}));
  }

  // The view of `id` as an admin sees it (after CatchUp).
  OrderView View(const std::string& id) {
    auto json = queries_->GetOrder(id, Admin());
    REQUIRE_OK(json);
    auto view = ParseOrderView(*json);
    REQUIRE_OK(view);
    return *view;
  }

  Store* store() { return store_.get(); }
  Log* log() { return log_.get(); }
  OrderService& service() { return *service_; }
  Engine& engine() { return *engine_; }
  OrderQueries& queries() { return *queries_; }
  const std::string& dir() const { return dir_.path(); }

  std::atomic<int64_t> now{kDay0 + 9 * 60 * kMinute};

 private:
  TempDir dir_;
  std::unique_ptr<Store> store_;
  std::unique_ptr<Log> log_;
  std::unique_ptr<OrderService> service_;
  std::unique_ptr<Engine> engine_;
  std::unique_ptr<OrderQueries> queries_;
};

// Every key and value of every table of the order projections' current generations.
using Tables = std::map<std::string, std::map<std::string, std::string>>;
inline Tables DumpReadModels(Engine& engine) {
  Tables tables;
  for (const ProjectionSpec& spec : OrderProjections()) {
    auto model = engine.Read(spec.name);
    REQUIRE_OK(model);
    for (const std::string& table : spec.tables) {
      auto& rows = tables[spec.name + "." + table];
      Status s = (*model)->Scan(table, "", "", [&](std::string_view key, std::string_view value) {
        rows.emplace(std::string(key), std::string(value));
        return true;
      });
      REQUIRE_MESSAGE(s.ok(), s.ToString());
    }
  }
  return tables;
}

// The first difference between two dumps, for messages ("" when equal).
inline std::string FirstDifference(const Tables& want, const Tables& got) {
  for (const auto& [table, rows] : want) {
    auto it = got.find(table);
    if (it == got.end()) return "missing table " + table;
    for (const auto& [key, value] : rows) {
      auto row = it->second.find(key);
      if (row == it->second.end()) return table + ": missing key " + key;
      if (row->second != value) return table + ": key " + key + ": " + value + " != " + row->second;
    }
    for (const auto& [key, value] : it->second) {
      if (!rows.count(key)) return table + ": extra key " + key;
    }
  }
  return want.size() == got.size() ? "" : "different table sets";
}

// Rebuilds every projection blue/green and waits for it.
inline void Rebuild(Engine& engine) {
  auto job = engine.StartRebuild({});
  REQUIRE_OK(job);
  auto done = engine.WaitForRebuild(*job);
  REQUIRE_OK(done);
  REQUIRE_MESSAGE(done->state == RebuildProgress::State::kDone, done->error);
}

}  // namespace testing
}  // namespace cairn
