// Fuzz target: the HTTP API end to end in one process: request parsing (cpp-httplib), routing
// with path parameters and query strings, authentication, every route's handler, the JSON error
// pages, over a real data dir (src/http, on the layers below). No socket: the bytes go through
// HttpServer::ServeBytesForTesting, as one keep-alive connection from 127.0.0.1.
//
// Not reached this way: the bodies written by content providers (the SSE frames of
// /api/stream, the early 413): cpp-httplib writes them only while its accept loop runs. The
// handlers that set them up are reached.
//
// Input: the raw bytes a client sends (one or more requests). The seeds carry the tokens below,
// so mutations reach the authenticated routes; orders fz1 (alice's, approved) and fz2 (alice's,
// created) exist, and new orders are named fz3, fz4, ...
//
// CAIRN_FUZZ_DUMP=1 writes every response to stderr (to see what a seed reaches).
//
// Properties: no crash and no undefined behaviour; no response is a 5xx other than 503 (busy,
// not ready) and 504 (a read-your-writes wait timed out): "never a 500 for bad input".
//
// The data dir lives under $TMPDIR (default /tmp) as cairn-fuzz-http-XXXXXX; it is replaced by
// a fresh one every kInputsPerDir inputs, so that it stays small (a consistency check replays
// the whole log) and removed at exit. Online backups may only go below it (backup_root).
#include <spdlog/spdlog.h>
#include <stdlib.h>

#include <atomic>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <string>
#include <string_view>

#include "cairn/db.h"
#include "cairn/orders.h"
#include "fuzz_util.h"
#include "http/auth.h"
#include "http/server.h"

namespace cairn {
namespace {

constexpr size_t kInputsPerDir = 5000;
constexpr std::string_view kTokens = R"([
  {"token": "fuzz-admin-token-0123456789", "user": "root", "role": "admin"},
  {"token": "fuzz-service-token-0123456789", "user": "billing", "role": "service"},
  {"token": "fuzz-alice-token-0123456789", "user": "alice", "role": "customer"}])";

std::string TempRoot() {
  const char* env = std::getenv("TMPDIR");
  return env != nullptr && *env != '\0' ? env : "/tmp";
}

// A data dir with two orders, the tokens and a server over them.
class Fixture {
 public:
  Fixture() {
    std::string pattern = TempRoot() + "/cairn-fuzz-http-XXXXXX";
    FUZZ_CHECK(mkdtemp(pattern.data()) != nullptr, "mkdtemp");
    dir_ = pattern;
    DbOptions options;
    options.store.sync = SyncMode::kNone;
    options.store.block_cache_bytes = 8u << 20;
    options.store.write_buffer_bytes = 4u << 20;
    options.orders.new_order_id = [this] { return "fz" + std::to_string(++orders_); };
    Result<std::unique_ptr<Db>> db = Db::Open(dir_ + "/data", options);
    FUZZ_CHECK(db.ok(), "the data dir opens");
    db_ = std::move(*db);
    Result<http::TokenTable> tokens = http::TokenTable::Parse(kTokens);
    FUZZ_CHECK(tokens.ok(), "the tokens parse");
    tokens_ = std::make_unique<http::TokenTable>(std::move(*tokens));
    CreateOrders();
    http::ServerOptions server_options;
    server_options.read_your_writes_timeout = std::chrono::milliseconds(5);
    server_options.stream_heartbeat = std::chrono::milliseconds(0);
    server_options.backup_root = dir_ + "/backups";  // nowhere else on this machine
    server_ = std::make_unique<http::HttpServer>(http::Services{db_.get(), tokens_.get()},
                                                 server_options);
  }
  ~Fixture() {
    server_.reset();
    db_.reset();
    std::error_code ignored;
    std::filesystem::remove_all(dir_, ignored);
  }

  http::HttpServer& server() { return *server_; }

 private:
  // fz1 approved, fz2 created, both alice's.
  void CreateOrders() {
    const Actor alice{"alice", Role::kCustomer};
    for (int i = 0; i < 2; ++i) {
      CreateOrder create;
      create.meta = CommandMeta{"", alice};
      create.user_id = "alice";
      create.items = {OrderItem{"p-1", "Keyboard", 39000, 1}};
      create.shipping_address = ShippingAddress{"1 Main St", "Seoul", "06236", "KR", false};
      FUZZ_CHECK(db_->orders().Handle(create).ok(), "a seed order is created");
    }
    ApproveOrder approve;
    approve.meta = CommandMeta{"", Actor{"root", Role::kAdmin}};
    approve.order_id = "fz1";
    FUZZ_CHECK(db_->orders().Handle(approve).ok(), "a seed order is approved");
  }

  std::string dir_;
  std::atomic<int> orders_{0};
  std::unique_ptr<Db> db_;
  std::unique_ptr<http::TokenTable> tokens_;
  std::unique_ptr<http::HttpServer> server_;
};

std::unique_ptr<Fixture>& CurrentFixture() {
  static std::unique_ptr<Fixture> fixture;
  return fixture;
}

Fixture& FixtureForNextInput() {
  static size_t inputs = 0;
  std::unique_ptr<Fixture>& fixture = CurrentFixture();
  if (!fixture || ++inputs % kInputsPerDir == 0) {
    fixture.reset();
    fixture = std::make_unique<Fixture>();
    // Registered after the first fixture made (and parsed) everything its threads use, so the
    // data dir closes at exit before any function-local static it needs is destroyed.
    static const int at_exit = std::atexit([] { CurrentFixture().reset(); });
    (void)at_exit;
  }
  return *fixture;
}

// The status of every response in `out`: each starts a line with "HTTP/1.1 ". (Bodies cannot
// fake one: JSON escapes line breaks, and no other body repeats the request.)
void CheckStatuses(std::string_view out) {
  constexpr std::string_view kStatusLine = "HTTP/1.1 ";
  for (size_t at = 0; (at = out.find(kStatusLine, at)) != std::string_view::npos;
       at += kStatusLine.size()) {
    if (at != 0 && out[at - 1] != '\n') continue;
    const std::string_view code = out.substr(at + kStatusLine.size(), 3);
    FUZZ_CHECK(code.size() == 3 && (code[0] != '5' || code == "503" || code == "504"),
               "no response is a 5xx other than 503 or 504");
  }
}

}  // namespace
}  // namespace cairn

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  spdlog::set_level(spdlog::level::off);
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  cairn::Fixture& fixture = cairn::FixtureForNextInput();
  const std::string out = fixture.server().ServeBytesForTesting(
      std::string_view(reinterpret_cast<const char*>(data), size));
  static const bool dump = std::getenv("CAIRN_FUZZ_DUMP") != nullptr;
  if (dump) std::fwrite(out.data(), 1, out.size(), stderr);
  cairn::CheckStatuses(out);
  return 0;
}
