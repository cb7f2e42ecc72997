// Unit tests of readiness (src/http/readiness.cc, GET /readyz): the verdicts on projection
// statuses over a clock the test moves, then a real server whose projection is stalled on
// purpose, watched flipping to 503 and back to 200.
#include <doctest/doctest.h>

#include <condition_variable>
#include <mutex>
#include <string>
#include <thread>

#include "cairn/db.h"
#include "cairn/orders.h"
#include "domain/domain_test_util.h"
#include "http/readiness.h"
#include "http/server.h"
#include "temp_dir.h"

namespace cairn::http {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

struct FakeClock {
  std::chrono::steady_clock::time_point now{};
  Readiness::Clock fn() {
    return [this] { return now; };
  }
};

ProjectionStatus Projection(std::string name, uint64_t checkpoint, uint64_t lag,
                        ProjectionState state = ProjectionState::kRunning) {
  ProjectionStatus s;
  s.name = std::move(name);
  s.checkpoint = Seq(checkpoint);
  s.lag_events = lag;
  s.state = state;
  return s;
}

ReadinessOptions Options(uint64_t max_lag, milliseconds stall_after) {
  ReadinessOptions o;
  o.max_lag_events = max_lag;
  o.stall_after = stall_after;
  return o;
}

TEST_CASE("projections that keep up, or have nothing to do, are ready") {
  FakeClock clock;
  Readiness readiness(Options(100, seconds(30)), clock.fn());
  CHECK(readiness.Observe({Projection("orders", 5, 0), Projection("stats", 5, 3)}, std::nullopt).ready);
  clock.now += seconds(3600);  // idle for an hour: nothing waits, so nothing is stalled
  CHECK(readiness.Observe({Projection("orders", 5, 0), Projection("stats", 8, 0)}, std::nullopt).ready);
}

TEST_CASE("a projection whose checkpoint stands still while events wait is stalled, until it moves") {
  FakeClock clock;
  Readiness readiness(Options(0, seconds(30)), clock.fn());
  CHECK(readiness.Observe({Projection("orders", 5, 0)}, std::nullopt).ready);
  clock.now += seconds(10);
  CHECK(readiness.Observe({Projection("orders", 5, 2)}, std::nullopt).ready);  // events arrive
  clock.now += seconds(29);
  CHECK(readiness.Observe({Projection("orders", 5, 4)}, std::nullopt).ready);  // 29 s: not yet
  clock.now += seconds(1);
  ReadinessVerdict stalled = readiness.Observe({Projection("orders", 5, 4)}, std::nullopt);
  CHECK_FALSE(stalled.ready);
  REQUIRE(stalled.reasons.size() == 1);
  CHECK(stalled.reasons[0] ==
        "projection orders is stalled: 4 events waiting, checkpoint 5 unchanged for 30.0 s");
  clock.now += seconds(1);
  CHECK(readiness.Observe({Projection("orders", 6, 3)}, std::nullopt).ready);  // it moved
}

TEST_CASE("a projection that moves but stays further behind than the bound is not ready") {
  FakeClock clock;
  Readiness readiness(Options(100, seconds(30)), clock.fn());
  ReadinessVerdict behind = readiness.Observe({Projection("orders", 5, 101)}, std::nullopt);
  CHECK_FALSE(behind.ready);
  REQUIRE(behind.reasons.size() == 1);
  CHECK(behind.reasons[0] == "projection orders is 101 events behind the log (the bound is 100)");
  CHECK(readiness.Observe({Projection("orders", 7, 100)}, std::nullopt).ready);
}

TEST_CASE("a failed projection and a read-only log are not ready, each with its reason") {
  FakeClock clock;
  Readiness readiness(Options(100, seconds(30)), clock.fn());
  ProjectionStatus failed = Projection("orders", 5, 1, ProjectionState::kFailed);
  failed.failed_at = Position{"order-events", PartitionId(3), Offset(17), Seq(6)};
  ReadinessVerdict verdict =
      readiness.Observe({failed, Projection("stats", 6, 0)}, std::string("disk full"));
  CHECK_FALSE(verdict.ready);
  REQUIRE(verdict.reasons.size() == 2);
  CHECK(verdict.reasons[0] == "the log is read-only: disk full");
  CHECK(verdict.reasons[1] == "projection orders failed at order-events/3/17 (GET "
                              "/api/admin/projections has the error)");
}

// A domain whose one projection ("gate", on topic gate-events) blocks in its handler while the
// test holds it, and fails on an event of type BAD.
class Gate {
 public:
  DomainSpec Domain() {
    ProjectionSpec spec;
    spec.name = "gate";
    spec.topics = {"gate-events"};
    spec.tables = {"seen"};
    spec.handler = [this](const EventView& event, ProjectionWriter& out) -> Status {
      std::unique_lock lock(mu_);
      cv_.wait(lock, [this] { return !held_; });
      if (event.type() == "BAD") return Status::InvalidArgument("a BAD event");
      out.Put("seen", event.id(), "");
      return Status::Ok();
    };
    DomainSpec domain;
    domain.name = "gate";
    domain.projections = {spec};
    return domain;
  }
  void Hold() {
    std::lock_guard lock(mu_);
    held_ = true;
  }
  void Release() {
    {
      std::lock_guard lock(mu_);
      held_ = false;
    }
    cv_.notify_all();
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  bool held_ = false;
};

struct Reply {
  int status = 0;
  std::string body;
};

Reply GetReadyz(HttpServer& server) {
  const std::string out = server.ServeBytesForTesting("GET /readyz HTTP/1.1\r\nHost: x\r\n\r\n");
  Reply reply;
  if (out.size() > 12) reply.status = std::stoi(out.substr(9, 3));
  const size_t body = out.find("\r\n\r\n");
  if (body != std::string::npos) reply.body = out.substr(body + 4);
  return reply;
}

// Polls /readyz until its status is `status` (or 10 s pass); returns the last reply.
Reply WaitForReadyz(HttpServer& server, int status) {
  Reply reply;
  for (int i = 0; i < 500; ++i) {
    reply = GetReadyz(server);
    if (reply.status == status) break;
    std::this_thread::sleep_for(milliseconds(20));
  }
  return reply;
}

// Appends one event to gate-events; returns its seq.
Seq AppendGateEvent(Db& db, std::string type) {
  AppendRequest req;
  req.topic = "gate-events";
  req.stream = "gate-1";
  req.events.push_back(NewEvent{.type = std::move(type), .data = "{}"});
  Result<AppendResult> appended = db.log().Append(std::move(req));
  REQUIRE_OK(appended);
  return appended->positions.back().seq;
}

struct GateServer {
  explicit GateServer(Gate& gate) {
    DbOptions options;
    options.store.sync = SyncMode::kNone;
    options.domains = {OrderDomain(), gate.Domain()};
    Result<std::unique_ptr<Db>> opened = Db::Open(dir.path() + "/data", options);
    REQUIRE_OK(opened);
    db = std::move(*opened);
    Result<TokenTable> parsed = TokenTable::Parse(
        R"([{"token": "admin-token-0123456789abcdef", "user": "root", "role": "admin"}])");
    REQUIRE_OK(parsed);
    tokens = std::make_unique<TokenTable>(std::move(*parsed));
    ServerOptions server_options;
    server_options.readiness = Options(5, milliseconds(300));
    server = std::make_unique<HttpServer>(Services{db.get(), tokens.get()}, server_options);
  }
  testing::TempDir dir;
  std::unique_ptr<Db> db;
  std::unique_ptr<TokenTable> tokens;
  std::unique_ptr<HttpServer> server;
};

TEST_CASE("a stalled projection turns /readyz to 503 with the reason, and back to 200 once it moves") {
  Gate gate;
  GateServer s(gate);
  const Seq first = AppendGateEvent(*s.db, "OK");
  REQUIRE(s.db->engine().WaitForSeq("gate", first, seconds(10)).ok());
  CHECK(WaitForReadyz(*s.server, 200).status == 200);

  gate.Hold();
  AppendGateEvent(*s.db, "OK");
  Reply stalled = WaitForReadyz(*s.server, 503);
  INFO(stalled.body);
  CHECK(stalled.status == 503);
  CHECK(stalled.body.find("projection gate is stalled: 1 events waiting") != std::string::npos);
  CHECK(stalled.body.find(R"("code":"not_ready")") != std::string::npos);

  gate.Release();
  CHECK(WaitForReadyz(*s.server, 200).body == "{\"status\":\"ready\"}\n");
}

TEST_CASE("a projection more events behind than the bound is not ready until it catches up") {
  Gate gate;
  GateServer s(gate);
  gate.Hold();
  for (int i = 0; i < 8; ++i) AppendGateEvent(*s.db, "OK");  // 8 waiting: over 5
  Reply behind = WaitForReadyz(*s.server, 503);
  INFO(behind.body);
  CHECK(behind.status == 503);
  CHECK(behind.body.find("events behind the log (the bound is 5)") != std::string::npos);
  gate.Release();
  CHECK(WaitForReadyz(*s.server, 200).status == 200);
}

TEST_CASE("a failed projection makes /readyz 503, naming where it stopped") {
  Gate gate;
  GateServer s(gate);
  AppendGateEvent(*s.db, "BAD");
  Reply failed = WaitForReadyz(*s.server, 503);
  INFO(failed.body);
  CHECK(failed.status == 503);
  CHECK(failed.body.find("projection gate failed at gate-events/") != std::string::npos);
}

}  // namespace
}  // namespace cairn::http
