// The web console's files (web/), embedded in the binary at build time: tools/embed_assets.py
// generates their definition (console_assets.cc in the build dir) and console_routes.cc serves
// them. Internal to src/http.
#pragma once

#include <span>
#include <string_view>

namespace cairn::http {

struct ConsoleAsset {
  std::string_view path;          // URL path: "/" for index.html, else "/" + its path in web/
  std::string_view content_type;  // "text/javascript; charset=utf-8", ...
  std::string_view etag;          // a quoted hash of the bytes: "\"3f9a…\""
  std::string_view body;
};

// Every console file; the paths are distinct and none is under /api.
std::span<const ConsoleAsset> ConsoleAssets();

}  // namespace cairn::http
