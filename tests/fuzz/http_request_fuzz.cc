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
// Speed (FUZZING.md has the numbers): the data dir lives in /dev/shm when there is one (else
// $TMPDIR, default /tmp) as cairn-fuzz-http-XXXXXX, so RocksDB's fsyncs cost nothing; it is
// replaced by a fresh one every kInputsPerDir inputs, so that it stays small, and removed at
// exit; the server over it is replaced every kInputsPerServer inputs (its metrics grow). Online
// backups may only go below it (backup_root). The rebuild, check and backup routes create and
// drop RocksDB column families (a few hundred ms each under ASan), so only the
// first kCostlyInputsPerProcess inputs that name them reach them; later ones are served with
// those words capitalised (a 404 for that request, the rest of the input runs as it is).
// The per-token rate limit is off: at this speed every input would otherwise be a 429.
#include <spdlog/spdlog.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cctype>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "cairn/db.h"
#include "cairn/orders.h"
#include "fuzz_fixture.h"
#include "fuzz_util.h"
#include "http/auth.h"
#include "http/server.h"

namespace cairn {
namespace {

constexpr size_t kInputsPerDir = 20000;
constexpr size_t kInputsPerServer = 100;
constexpr size_t kCostlyInputsPerProcess = 50;
// The path segments of the costly admin routes (POST /api/admin/check, /api/admin/rebuild,
// /api/admin/projections/{name}/rebuild, /api/admin/backup).
constexpr std::array<std::string_view, 3> kCostlyWords = {"check", "rebuild", "backup"};
constexpr std::string_view kTokens = R"([
  {"token": "fuzz-admin-token-0123456789", "user": "root", "role": "admin"},
  {"token": "fuzz-service-token-0123456789", "user": "billing", "role": "service"},
  {"token": "fuzz-alice-token-0123456789", "user": "alice", "role": "customer"}])";

// A data dir with two orders, the tokens and a server over them.
class Fixture {
 public:
  Fixture() {
    DbOptions options = fuzz::FixtureDbOptions();
    options.orders.new_order_id = [this] { return "fz" + std::to_string(++orders_); };
    Result<std::unique_ptr<Db>> db = Db::Open(dir_.path() + "/data", options);
    FUZZ_CHECK(db.ok(), "the data dir opens");
    db_ = std::move(*db);
    Result<http::TokenTable> tokens = http::TokenTable::Parse(kTokens);
    FUZZ_CHECK(tokens.ok(), "the tokens parse");
    tokens_ = std::make_unique<http::TokenTable>(std::move(*tokens));
    CreateOrders();
  }
  ~Fixture() {
    server_.reset();
    db_.reset();
  }

  // The server for the next input: a new one every kInputsPerServer inputs, so that its
  // request metrics (a histogram per route, method and status, all rendered by GET /metrics)
  // stay as small as a real server's.
  http::HttpServer& ServerForNextInput() {
    if (!server_ || ++inputs_ % kInputsPerServer == 0) {
      server_.reset();
      http::ServerOptions options;
      options.read_your_writes_timeout = std::chrono::milliseconds(5);
      options.stream_heartbeat = std::chrono::milliseconds(0);
      options.backup_root = dir_.path() + "/backups";  // nowhere else on this machine
      options.rate_limit_per_token = 0;
      server_ = std::make_unique<http::HttpServer>(http::Services{db_.get(), tokens_.get()},
                                                   options);
    }
    return *server_;
  }

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

  fuzz::FixtureDir dir_{"http"};
  std::atomic<int> orders_{0};
  std::unique_ptr<Db> db_;
  std::unique_ptr<http::TokenTable> tokens_;
  std::unique_ptr<http::HttpServer> server_;
  size_t inputs_ = 0;
};

int HexDigit(char c) {
  return std::isdigit(uint8_t(c)) ? c - '0' : std::tolower(uint8_t(c)) - 'a' + 10;
}

// `input` with %XX escapes decoded, as cpp-httplib decodes a path before routing.
std::string PercentDecoded(std::string_view input) {
  std::string out;
  out.reserve(input.size());
  for (size_t i = 0; i < input.size(); ++i) {
    if (input[i] == '%' && i + 2 < input.size() && std::isxdigit(uint8_t(input[i + 1])) &&
        std::isxdigit(uint8_t(input[i + 2]))) {
      out.push_back(char(HexDigit(input[i + 1]) * 16 + HexDigit(input[i + 2])));
      i += 2;
    } else {
      out.push_back(input[i]);
    }
  }
  return out;
}

bool NamesCostlyRoute(std::string_view input) {
  return std::any_of(kCostlyWords.begin(), kCostlyWords.end(), [&](std::string_view word) {
    return input.find(word) != std::string_view::npos;
  });
}

// Keeps the costly admin routes to kCostlyInputsPerProcess inputs (see the top of the file).
class CostlyRouteCap {
 public:
  // The bytes to serve for `input`: `input` while the budget lasts, then a copy with the
  // costly words capitalised; nullopt (the input is not served) when that copy still names
  // one through %XX escapes.
  std::optional<std::string> BytesToServe(std::string_view input) {
    if (!NamesCostlyRoute(PercentDecoded(input))) return std::string(input);
    if (served_ < kCostlyInputsPerProcess) {
      ++served_;
      return std::string(input);
    }
    std::string capitalised(input);
    for (std::string_view word : kCostlyWords) {
      for (size_t at = 0; (at = capitalised.find(word, at)) != std::string::npos; ++at) {
        capitalised[at] = char(std::toupper(uint8_t(capitalised[at])));
      }
    }
    if (NamesCostlyRoute(PercentDecoded(capitalised))) {
      ++skipped_;
      return std::nullopt;
    }
    ++capitalised_;
    return capitalised;
  }
  ~CostlyRouteCap() {
    std::fprintf(stderr,
                 "http_request: inputs naming check/rebuild/backup: %zu served, %zu served "
                 "capitalised, %zu not served\n",
                 served_, capitalised_, skipped_);
  }

 private:
  size_t served_ = 0;
  size_t capitalised_ = 0;
  size_t skipped_ = 0;
};

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
  static cairn::CostlyRouteCap cap;
  const std::optional<std::string> in =
      cap.BytesToServe(std::string_view(reinterpret_cast<const char*>(data), size));
  if (!in) return 0;
  cairn::Fixture& fixture = cairn::fuzz::FixtureForNextInput<cairn::Fixture, cairn::kInputsPerDir>();
  const std::string out = fixture.ServerForNextInput().ServeBytesForTesting(*in);
  static const bool dump = std::getenv("CAIRN_FUZZ_DUMP") != nullptr;
  if (dump) std::fwrite(out.data(), 1, out.size(), stderr);
  cairn::CheckStatuses(out);
  return 0;
}
