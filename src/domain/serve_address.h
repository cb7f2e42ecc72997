// The address file of a running `cairn serve`: <data>/serve.url holds the URL the server
// listens on, its pid and whether it accepts <data>/admin.token, so an offline command refused
// on a busy data dir can say exactly what to run instead. Written after the server binds,
// removed when it stops cleanly; a file left by a killed server is recognised as stale (its
// pid is gone or is no longer a `cairn serve`) and ignored.
#pragma once

#include <optional>
#include <string>

#include "cairn/status.h"

namespace cairn {

struct ServeAddress {
  std::string url;  // e.g. "http://127.0.0.1:8080" (a wildcard listen address becomes 127.0.0.1)
  long pid = 0;
  bool uses_admin_token_file = false;  // DATA/admin.token holds an admin token it accepts
};

// The URL local clients use for a server listening on host:port.
std::string LocalUrl(const std::string& host, int port);

// Writes <data_dir>/serve.url for this process (replacing the file atomically).
Status WriteServeAddress(const std::string& data_dir, const std::string& url,
                         bool uses_admin_token_file);
// Removes <data_dir>/serve.url if this process wrote it.
void RemoveServeAddress(const std::string& data_dir);
// The address of the server holding `data_dir`: nothing when there is no file, it is malformed,
// or its process is gone (or its pid now belongs to something other than `cairn serve`).
std::optional<ServeAddress> ReadServeAddress(const std::string& data_dir);

}  // namespace cairn
