// The web console: GET / and the console's files, embedded in the binary (console_assets.h),
// plus GET /api/whoami, which tells the console whose token it holds so it shows only the
// pages that token may use. The files need no token: everything they show comes from the API,
// which checks the token the user typed. Registered by HttpServer next to the API routes;
// paths that are not console files (every unknown /api/... among them) stay the JSON 404.
#include <regex>

#include "base/json_writer.h"
#include "http/api.h"
#include "http/console_assets.h"

namespace cairn::http {

namespace {

// Nothing loads from anywhere but this server; the console is never framed, never submits
// forms elsewhere and never leaks its URL (which may name an order) as a referrer.
constexpr const char* kContentSecurityPolicy =
    "default-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

// Whether If-None-Match (a list of entity tags, or "*") names `etag`.
bool NoneMatchHits(std::string_view if_none_match, std::string_view etag) {
  if (if_none_match == "*") return true;
  while (!if_none_match.empty()) {
    const size_t comma = if_none_match.find(',');
    std::string_view tag = if_none_match.substr(0, comma);
    while (!tag.empty() && tag.front() == ' ') tag.remove_prefix(1);
    while (!tag.empty() && tag.back() == ' ') tag.remove_suffix(1);
    if (tag.starts_with("W/")) tag.remove_prefix(2);  // weak comparison, as for GET
    if (tag == etag) return true;
    if (comma == std::string_view::npos) break;
    if_none_match.remove_prefix(comma + 1);
  }
  return false;
}

void ServeAsset(const ConsoleAsset& asset, const httplib::Request& req, httplib::Response& res) {
  // Revalidated on every load (a 304 is cheap): the files have fixed names, so a longer cache
  // would keep an upgraded server's console half old.
  res.set_header("Cache-Control", "no-cache");
  res.set_header("ETag", std::string(asset.etag));
  res.set_header("Content-Security-Policy", kContentSecurityPolicy);
  res.set_header("X-Content-Type-Options", "nosniff");
  res.set_header("Referrer-Policy", "no-referrer");
  if (NoneMatchHits(req.get_header_value("If-None-Match"), asset.etag)) {
    res.status = 304;
    return;
  }
  res.status = 200;
  res.set_content(asset.body.data(), asset.body.size(), std::string(asset.content_type));
}

std::string RegexEscape(std::string_view text) {
  static const std::regex kSpecial(R"([.^$|()\[\]{}*+?\\])");
  return std::regex_replace(std::string(text), kSpecial, R"(\$&)");
}

// GET /api/whoami: the caller's user and role, so the console shows only what it may use.
void WhoAmI(Api& api, const httplib::Request& req, httplib::Response& res) {
  std::optional<Actor> actor = Authenticate(api, req, res, kAnyRole);
  if (!actor) return;
  json::JsonWriter w;
  w.BeginObject().Key("user").String(actor->user_id).Key("role").String(RoleName(actor->role));
  SendJson(res, 200, w.EndObject().Take());
}

}  // namespace

void RegisterConsoleRoutes(httplib::Server& server, Api& api) {
  for (const ConsoleAsset& asset : ConsoleAssets()) {
    AddRoute(server, api, "GET", RegexEscape(asset.path), "/ (console)",
             [&asset](Api&, const httplib::Request& req, httplib::Response& res) {
               ServeAsset(asset, req, res);
             });
  }
  AddRoute(server, api, "GET", "/api/whoami", "/api/whoami", WhoAmI);
}

}  // namespace cairn::http
