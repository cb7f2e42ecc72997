// order_bench: the order domain on Cairn. Prints the machine, then one line per workload.
// Benchmarks never assert a time: targets are printed, not checked.
//
//   create_order_64w   64 threads calling OrderService::Handle(CreateOrder), SyncMode::kAlways,
//                      against the log's own rate for 64 threads appending one event of the same
//                      size to a new stream (Log::Append, expected no_stream) on the same disk,
//                      in the same run. Cairn's command path adds validation, the decision, the
//                      write-model state and the idempotency record to each append.
//   project_orders     Engine::CatchUp of the three order projections over the loaded log.
//   query_*            latency (p50/p99) of OrderQueries over --orders orders (default 1M):
//                      order by id, list pages, dashboard periods, search.
//
// Usage: order_bench [--dir D] [--commands N] [--orders M] [--samples S] [--rounds R] [--quick]
#include <sys/utsname.h>
#include <unistd.h>

#include <spdlog/spdlog.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cinttypes>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <functional>
#include <latch>
#include <memory>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "cairn/db.h"
#include "cairn/engine.h"
#include "cairn/log.h"
#include "cairn/orders.h"
#include "cairn/store.h"
#include "base/iso_time.h"
#include "bench_util.h"

namespace cairn {
namespace {

using Clock = std::chrono::steady_clock;

constexpr int kWriters = 64;
constexpr int kLoadWriters = 16;
constexpr int kUsers = 10'000;
constexpr int64_t kLoadDays = 60;
const char* const kCities[] = {"Seoul", "Busan", "Incheon", "Daegu", "Gwangju"};
const char* const kItems[] = {"Keyboard", "Mechanical Mouse", "27in Monitor", "USB-C Hub",
                              "Laptop Stand", "무선 키보드"};

struct Flags {
  std::string dir = "/tmp";
  uint64_t commands = 20'000;  // per side per round of create_order_64w
  uint64_t orders = 1'000'000;
  uint64_t samples = 2'000;  // per query workload
  int rounds = 3;
  std::string command;
};

void Die(const Status& s, const char* what) {
  std::fprintf(stderr, "order_bench: %s: %s\n", what, s.ToString().c_str());
  std::exit(1);
}
template <typename T>
T Must(Result<T> r, const char* what) {
  if (!r.ok()) Die(r.status(), what);
  return std::move(r).value();
}

double Seconds(Clock::duration d) { return std::chrono::duration<double>(d).count(); }

// ---- Header ---------------------------------------------------------------------------------

void PrintHeader(const Flags& f) {
  char date[32];
  const std::time_t now = std::time(nullptr);
  std::strftime(date, sizeof date, "%Y-%m-%dT%H:%M:%SZ", std::gmtime(&now));
  struct utsname u{};
  uname(&u);
  std::printf("# order_bench %s\n# command     %s\n", date, f.command.c_str());
  std::printf("# machine     %ld cpus, %s, %s %s\n", sysconf(_SC_NPROCESSORS_ONLN),
              bench::CpuModel().c_str(), u.sysname, u.release);
  std::printf("# disk        %s (%s)\n", f.dir.c_str(), bench::FilesystemName(f.dir).c_str());
#ifdef NDEBUG
  std::printf("# build       asserts off\n");
#else
  std::printf("# build       asserts on\n");
#endif
  std::printf("# work        create: %" PRIu64 " commands per side per round, %d rounds, median; "
              "queries: %" PRIu64 " orders, %" PRIu64 " samples each\n",
              f.commands, f.rounds, f.orders, f.samples);
  std::fflush(stdout);
}

// ---- A data dir ---------------------------------------------------------------------------

// A fresh data dir under `root`, opened through the front door with the order domain and its
// topics (8 partitions) but no projection threads: the create workloads time the command path
// alone, and BenchQueries catches the projections up itself. Removed when done.
class BenchDir {
 public:
  BenchDir(const std::string& root, SyncMode sync, OrderServiceOptions options = {}) {
    std::string pattern = root + "/cairn-order-bench-XXXXXX";
    if (!mkdtemp(pattern.data())) Die(Status::IOError("mkdtemp"), "data dir");
    path_ = pattern;
    DbOptions db_options;
    db_options.store.sync = sync;
    db_options.engine.start_threads = false;
    db_options.orders = std::move(options);
    db_ = Must(Db::Open(path_, std::move(db_options)), "open data dir");
  }
  ~BenchDir() {
    db_.reset();
    std::error_code ignored;
    std::filesystem::remove_all(path_, ignored);
  }
  BenchDir(const BenchDir&) = delete;
  BenchDir& operator=(const BenchDir&) = delete;

  Log& log() { return db_->log(); }
  OrderService& orders() { return db_->orders(); }
  Engine& engine() { return db_->engine(); }
  const OrderQueries& queries() { return db_->queries(); }

 private:
  std::string path_;
  std::unique_ptr<Db> db_;
};

CreateOrder SampleCreate(std::mt19937_64& rng) {
  const std::string user = "user-" + std::to_string(rng() % kUsers);
  CreateOrder c;
  c.meta = CommandMeta{"", Actor{user, Role::kCustomer}};
  c.user_id = user;
  for (uint64_t i = 0, n = 1 + rng() % 3; i < n; ++i) {
    c.items.push_back(OrderItem{"p-" + std::to_string(100 + rng() % 400),
                                kItems[rng() % std::size(kItems)],
                                static_cast<int64_t>(1 + rng() % 500) * 1000,
                                static_cast<int64_t>(1 + rng() % 3)});
  }
  c.shipping_address = ShippingAddress{std::to_string(1 + rng() % 999) + " Teheran-ro",
                                       kCities[rng() % std::size(kCities)],
                                       std::to_string(10000 + rng() % 90000), "KR", rng() % 3 == 0};
  return c;
}

// Runs `work(thread, i)` for i in [0, per_thread) on `threads` threads; returns the seconds taken.
double RunParallel(int threads, uint64_t per_thread, const std::function<void(int, uint64_t)>& work) {
  std::latch ready(threads + 1);
  std::vector<std::thread> pool;
  for (int t = 0; t < threads; ++t) {
    pool.emplace_back([&, t] {
      ready.arrive_and_wait();
      for (uint64_t i = 0; i < per_thread; ++i) work(t, i);
    });
  }
  ready.arrive_and_wait();
  const auto start = Clock::now();
  for (auto& th : pool) th.join();
  return Seconds(Clock::now() - start);
}

// ---- create_order_64w ------------------------------------------------------------------------

double LogAppendRate(const Flags& f) {
  BenchDir dir(f.dir, SyncMode::kAlways);
  std::mt19937_64 rng(1);
  const CreateOrder sample = SampleCreate(rng);
  const std::string data = OrderEventData(
      OrderCreated{"6415479c-65dc-4f50-bf63-af83bd0561e6", sample.user_id, sample.items, 0,
                   sample.shipping_address, "KRW"});
  const uint64_t per_thread = f.commands / kWriters;
  sync();
  const double seconds = RunParallel(kWriters, per_thread, [&](int t, uint64_t i) {
    AppendRequest req;
    req.topic = std::string(kOrderEventsTopic);
    req.stream = "order-" + std::to_string(t) + "-" + std::to_string(i);
    req.expected = ExpectedVersion::NoStream();
    req.events.push_back(NewEvent{"", "ORDER_CREATED", data, {}, 0});
    Must(dir.log().Append(std::move(req)), "append");
  });
  return static_cast<double>(per_thread * kWriters) / seconds;
}

double CreateOrderRate(const Flags& f) {
  BenchDir dir(f.dir, SyncMode::kAlways);
  const uint64_t per_thread = f.commands / kWriters;
  std::vector<std::vector<CreateOrder>> commands(kWriters);
  for (int t = 0; t < kWriters; ++t) {
    std::mt19937_64 rng(t + 1);
    for (uint64_t i = 0; i < per_thread; ++i) {
      commands[t].push_back(SampleCreate(rng));
      commands[t].back().meta.command_id = "bench-" + std::to_string(t) + "-" + std::to_string(i);
    }
  }
  sync();
  const double seconds = RunParallel(kWriters, per_thread, [&](int t, uint64_t i) {
    Must(dir.orders().Handle(commands[t][i]), "create order");
  });
  return static_cast<double>(per_thread * kWriters) / seconds;
}

double Median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

void BenchCreate(const Flags& f) {
  std::vector<double> orders, log;
  for (int round = 0; round < f.rounds; ++round) {
    if (round % 2 == 0) {
      log.push_back(LogAppendRate(f));
      orders.push_back(CreateOrderRate(f));
    } else {
      orders.push_back(CreateOrderRate(f));
      log.push_back(LogAppendRate(f));
    }
  }
  const double o = Median(orders), l = Median(log);
  std::printf("create_order_64w     orders %9.0f cmd/s   log %9.0f ev/s   ratio %5.2fx   "
              "(target >= 0.5x)\n", o, l, o / l);
  std::fflush(stdout);
}

// ---- The 1M-order data set and its queries --------------------------------------------------

struct Dataset {
  std::vector<std::string> ids;
  std::vector<std::string> users;
  int64_t now_us = 0;
};

// Creates `orders` orders spread over kLoadDays days ending now, and moves them through the
// lifecycle: ~60% approved, ~50% paid, ~25% shipped, ~10% cancelled.
Dataset Load(BenchDir& dir, std::atomic<int64_t>& clock, uint64_t orders) {
  Dataset data;
  data.ids.resize(orders);
  data.users.resize(orders);
  const uint64_t per_thread = orders / kLoadWriters;
  const double seconds = RunParallel(kLoadWriters, per_thread, [&](int t, uint64_t i) {
    thread_local std::mt19937_64 rng(static_cast<uint64_t>(t) * 7919 + 17);
    const uint64_t n = static_cast<uint64_t>(t) * per_thread + i;
    CreateOrder c = SampleCreate(rng);
    const std::string id = Must(dir.orders().Handle(c), "create").order_id;
    data.ids[n] = id;
    data.users[n] = c.user_id;
    const Actor admin{"admin", Role::kAdmin};
    const int64_t total = *OrderTotal(c.items);
    const uint64_t fate = rng() % 100;
    if (fate < 10) {
      Must(dir.orders().Handle(CancelOrder{{"", admin}, id, std::nullopt}), "cancel");
      return;
    }
    if (fate < 60) Must(dir.orders().Handle(CompletePayment{{"", admin}, id, "card", total}), "pay");
    if (fate < 70) {
      Must(dir.orders().Handle(ApproveOrder{{"", admin}, id}), "approve");
      if (fate < 35) Must(dir.orders().Handle(ShipOrder{{"", admin}, id, "TRK"}), "ship");
    }
  });
  data.ids.resize(per_thread * kLoadWriters);
  data.users.resize(per_thread * kLoadWriters);
  data.now_us = clock.load();
  std::printf("# loaded      %zu orders, %" PRIu64 " events in %.1f s (sync none, %d threads)\n",
              data.ids.size(), dir.log().LastSeq().value(), seconds, kLoadWriters);
  std::fflush(stdout);
  return data;
}

void PrintLatency(const char* name, std::vector<double> micros) {
  std::sort(micros.begin(), micros.end());
  const auto at = [&](double q) { return micros[static_cast<size_t>(q * (micros.size() - 1))]; };
  std::printf("%-20s p50 %9.1f us   p99 %9.1f us   (n=%zu)\n", name, at(0.50), at(0.99),
              micros.size());
  std::fflush(stdout);
}

template <typename Query>
void Measure(const char* name, uint64_t samples, Query query) {
  std::vector<double> micros;
  micros.reserve(samples);
  for (uint64_t i = 0; i < samples; ++i) {
    const auto start = Clock::now();
    query(i);
    micros.push_back(Seconds(Clock::now() - start) * 1e6);
  }
  PrintLatency(name, std::move(micros));
}

// Catches the three order projections up over everything loaded, timed.
void ProjectOrders(BenchDir& dir) {
  const auto project_start = Clock::now();
  if (Status s = dir.engine().CatchUp(); !s.ok()) Die(s, "catch up");
  const double project_seconds = Seconds(Clock::now() - project_start);
  std::printf("project_orders       %9.0f ev/s   (3 projections, %" PRIu64 " events, %.1f s)\n",
              static_cast<double>(dir.log().LastSeq().value()) / project_seconds,
              dir.log().LastSeq().value(), project_seconds);
}

// One latency line per query shape; `start` is when the load's clock began.
void MeasureQueries(const OrderQueries& queries, const Dataset& data, const Flags& f,
                    int64_t start) {
  const Actor admin{"admin", Role::kAdmin};
  std::mt19937_64 rng(42);
  const auto pick = [&] { return rng() % data.ids.size(); };
  const auto need = [](const auto& r, const char* what) {
    if (!r.ok()) Die(r.status(), what);
  };
  Measure("query_order_by_id", f.samples, [&](uint64_t) {
    need(queries.GetOrder(data.ids[pick()], admin), "get order");
  });
  Measure("query_order_owner", f.samples, [&](uint64_t) {
    const uint64_t n = pick();
    need(queries.GetOrder(data.ids[n], Actor{data.users[n], Role::kCustomer}), "get own order");
  });
  Measure("query_list_newest", f.samples, [&](uint64_t) {
    need(queries.ListOrders(ListQuery{}, admin), "list");
  });
  Measure("query_list_status", f.samples, [&](uint64_t i) {
    ListQuery q;
    q.status = kAllOrderStatuses[i % 4];
    need(queries.ListOrders(q, admin), "list by status");
  });
  Measure("query_list_user", f.samples, [&](uint64_t) {
    need(queries.ListOrders(ListQuery{}, Actor{data.users[pick()], Role::kCustomer}), "list own");
  });
  Measure("query_list_page_50", f.samples, [&](uint64_t) {
    ListQuery q;
    q.page = 50;
    need(queries.ListOrders(q, admin), "list page 50");
  });
  Measure("query_list_1d_range", std::max<uint64_t>(f.samples / 10, 10), [&](uint64_t i) {
    ListQuery q;
    q.created_from_us = start + static_cast<int64_t>(i % kLoadDays) * json::kMicrosPerDay;
    q.created_to_us = *q.created_from_us + json::kMicrosPerDay;
    need(queries.ListOrders(q, admin), "list range");
  });
  for (DashboardPeriod period : {DashboardPeriod::kToday, DashboardPeriod::k7Days,
                                 DashboardPeriod::k30Days, DashboardPeriod::kAll}) {
    const std::string name = "query_dashboard_" + std::string(DashboardPeriodName(period));
    Measure(name.c_str(), f.samples, [&](uint64_t) {
      need(queries.GetDashboard(period, data.now_us, admin), "dashboard");
    });
  }
  Measure("query_search_user", std::max<uint64_t>(f.samples / 10, 10), [&](uint64_t) {
    need(queries.Search(data.users[pick()] + " keyboard", 20, admin), "search");
  });
}

void BenchQueries(const Flags& f) {
  // Commands are stamped by a clock that covers kLoadDays days over the load.
  const int64_t today = json::DayOf(std::time(nullptr) * json::kMicrosPerSecond);
  const int64_t start = (today - kLoadDays) * json::kMicrosPerDay;
  std::atomic<int64_t> clock{start};
  const int64_t step = std::max<int64_t>(1, kLoadDays * json::kMicrosPerDay / (f.orders * 2));
  OrderServiceOptions options;
  options.clock = [&clock, step] { return clock.fetch_add(step); };
  BenchDir dir(f.dir, SyncMode::kNone, std::move(options));
  const Dataset data = Load(dir, clock, f.orders);
  ProjectOrders(dir);
  MeasureQueries(dir.queries(), data, f, start);
}

Flags ParseFlags(int argc, char** argv) {
  Flags f;
  for (int i = 0; i < argc; ++i) f.command += (i ? " " : "") + std::string(argv[i]);
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    const auto next = [&]() -> std::string {
      if (i + 1 >= argc) {
        std::fprintf(stderr, "order_bench: %s needs a value\n", arg.c_str());
        std::exit(2);
      }
      return argv[++i];
    };
    if (arg == "--dir") f.dir = next();
    else if (arg == "--commands") f.commands = std::stoull(next());
    else if (arg == "--orders") f.orders = std::stoull(next());
    else if (arg == "--samples") f.samples = std::stoull(next());
    else if (arg == "--rounds") f.rounds = std::stoi(next());
    else if (arg == "--quick") f.commands = 2'000, f.orders = 20'000, f.samples = 200, f.rounds = 1;
    else {
      std::fprintf(stderr,
                   "usage: order_bench [--dir D] [--commands N] [--orders M] [--samples S] "
                   "[--rounds R] [--quick]\n");
      std::exit(2);
    }
  }
  f.commands = std::max<uint64_t>(f.commands, kWriters);
  f.orders = std::max<uint64_t>(f.orders, kLoadWriters);
  f.rounds = std::max(f.rounds, 1);
  return f;
}

}  // namespace
}  // namespace cairn

int main(int argc, char** argv) {
  spdlog::set_level(spdlog::level::warn);
  const cairn::Flags flags = cairn::ParseFlags(argc, argv);
  cairn::PrintHeader(flags);
  cairn::BenchCreate(flags);
  cairn::BenchQueries(flags);
  return 0;
}
