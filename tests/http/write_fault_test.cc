// Unit tests of the server on a disk that refuses writes (the log's test fault hook,
// Log::SetWriteFaultForTesting): the command that met the failure is a 500, every command after
// it a 503 naming the failure, reads go on, /healthz and /readyz say why; once the disk takes
// writes again the server resumes writing by itself and nothing acknowledged is lost.
// (tests/http/e2e_disk_full_test.py does the same with a real full disk.)
#include <doctest/doctest.h>

#include <chrono>
#include <memory>
#include <string>
#include <thread>

#include "cairn/db.h"
#include "cairn/orders.h"
#include "domain/domain_test_util.h"
#include "http/server.h"
#include "temp_dir.h"

namespace cairn::http {
namespace {

using std::chrono::milliseconds;

constexpr std::string_view kCustomer = "customer-token-0123456789abcdef";
constexpr std::string_view kOrderBody =
    R"({"items":[{"productId":"p-1","name":"Pen","price":2500,"quantity":2}],)"
    R"("shippingAddress":{"street":"1 Main St","city":"Seoul","zipCode":"04524",)"
    R"("country":"KR","express":false}})";

struct Reply {
  int status = 0;
  std::string body;
  bool Has(std::string_view text) const { return body.find(text) != std::string::npos; }
};

// A served data dir with the order domain and a running server (for its watch thread, which
// resumes writes every 50 ms while the log is read-only).
struct FaultServer {
  FaultServer() {
    DbOptions options;
    options.store.sync = SyncMode::kNone;
    Result<std::unique_ptr<Db>> opened = Db::Open(dir.path() + "/data", options);
    REQUIRE_OK(opened);
    db = std::move(*opened);
    Result<TokenTable> parsed = TokenTable::Parse(
        R"([{"token": ")" + std::string(kCustomer) + R"(", "user": "u1", "role": "customer"}])");
    REQUIRE_OK(parsed);
    tokens = std::make_unique<TokenTable>(std::move(*parsed));
    ServerOptions server_options;
    server_options.port = 0;
    server_options.resume_writes_every = milliseconds(50);
    server = std::make_unique<HttpServer>(Services{db.get(), tokens.get()}, server_options);
    const Status bound = server->Bind();
    REQUIRE_MESSAGE(bound.ok(), bound.ToString());
    runner = std::thread([this] { server->Run(); });
  }
  ~FaultServer() {
    db->log().SetWriteFaultForTesting(nullptr);
    server->Stop();
    runner.join();
  }

  Reply Send(std::string_view method, const std::string& path, std::string_view body = {}) {
    std::string raw = std::string(method) + " " + path + " HTTP/1.1\r\nHost: x\r\n" +
                      "Authorization: Bearer " + std::string(kCustomer) + "\r\n";
    if (!body.empty()) {
      raw += "Content-Type: application/json\r\nContent-Length: " + std::to_string(body.size()) +
             "\r\n";
    }
    raw += "Connection: close\r\n\r\n" + std::string(body);
    const std::string out = server->ServeBytesForTesting(raw);
    Reply reply;
    if (out.size() > 12) reply.status = std::stoi(out.substr(9, 3));
    const size_t start = out.find("\r\n\r\n");
    if (start != std::string::npos) reply.body = out.substr(start + 4);
    return reply;
  }
  Reply CreateOrder() { return Send("POST", "/api/orders", kOrderBody); }
  // Polls `path` until it answers `status` (or 10 s pass); returns the last reply.
  Reply WaitFor(const std::string& path, int status) {
    Reply reply;
    for (int i = 0; i < 500; ++i) {
      reply = Send("GET", path);
      if (reply.status == status) break;
      std::this_thread::sleep_for(milliseconds(20));
    }
    return reply;
  }

  testing::TempDir dir;
  std::unique_ptr<Db> db;
  std::unique_ptr<TokenTable> tokens;
  std::unique_ptr<HttpServer> server;
  std::thread runner;
};

std::string FieldOf(const Reply& created, const std::string& name) {
  const size_t at = created.body.find("\"" + name + "\":\"");
  REQUIRE(at != std::string::npos);
  const size_t start = at + name.size() + 4;
  return created.body.substr(start, created.body.find('"', start) - start);
}

// The order's view path, read after its creation was projected (read-your-writes).
std::string ViewPath(const Reply& created) {
  return "/api/orders/" + FieldOf(created, "orderId") + "?after=" + FieldOf(created, "position");
}

TEST_CASE("a failed log write makes the server read-only: 500 once, then 503 with the reason") {
  FaultServer s;
  const Reply before = s.CreateOrder();
  REQUIRE(before.status == 201);
  const Seq seq_before = s.db->log().LastSeq();

  s.db->log().SetWriteFaultForTesting([] { return Status::IOError("injected: no space left"); });
  const Reply failed = s.CreateOrder();
  INFO(failed.body);
  CHECK(failed.status == 500);
  CHECK(failed.Has("injected: no space left"));
  const Reply refused = s.CreateOrder();
  INFO(refused.body);
  CHECK(refused.status == 503);
  CHECK(refused.Has("the log is read-only: a write failed at "));
  CHECK(refused.Has("injected: no space left"));
  CHECK(s.db->log().LastSeq() == seq_before);  // nothing acknowledged, nothing written

  // Reads go on; liveness stays 200 and says why writes are off; readiness is 503.
  CHECK(s.Send("GET", ViewPath(before)).status == 200);
  const Reply health = s.Send("GET", "/healthz");
  INFO(health.body);
  CHECK(health.status == 200);
  CHECK(health.Has(R"("status":"read_only")"));
  CHECK(health.Has("injected: no space left"));
  const Reply ready = s.WaitFor("/readyz", 503);
  INFO(ready.body);
  CHECK(ready.Has("the log is read-only: a write failed at "));

  // While the disk still refuses, the server's attempts to resume fail and it stays read-only.
  std::this_thread::sleep_for(milliseconds(200));
  CHECK(s.CreateOrder().status == 503);
}

TEST_CASE("once the disk takes writes again the server resumes writing and nothing is lost") {
  FaultServer s;
  const Reply first = s.CreateOrder();
  REQUIRE(first.status == 201);
  s.db->log().SetWriteFaultForTesting([] { return Status::IOError("injected: no space left"); });
  CHECK(s.CreateOrder().status == 500);
  CHECK(s.CreateOrder().status == 503);

  s.db->log().SetWriteFaultForTesting(nullptr);
  const Reply health = s.WaitFor("/healthz", 200);
  CHECK(s.WaitFor("/readyz", 200).status == 200);
  Reply after;
  for (int i = 0; i < 100 && after.status != 201; ++i) {
    after = s.CreateOrder();
    if (after.status != 201) std::this_thread::sleep_for(milliseconds(20));
  }
  INFO(after.body);
  REQUIRE(after.status == 201);
  CHECK(s.Send("GET", "/healthz").body == "{\"status\":\"ok\"}\n");
  CHECK(s.Send("GET", ViewPath(first)).status == 200);
  CHECK(s.Send("GET", ViewPath(after)).status == 200);
  // Both orders, no event of a failed command, no gap: seqs 1 and 2.
  CHECK(s.db->log().LastSeq() == Seq(2));
  const Status caught_up = s.db->engine().CatchUp();
  REQUIRE_MESSAGE(caught_up.ok(), caught_up.ToString());
  Result<CheckReport> check = s.db->engine().Check(CheckOptions{});
  REQUIRE_OK(check);
  CHECK(check->consistent);
}

}  // namespace
}  // namespace cairn::http
