// Bearer-token authentication: the table of tokens a server accepts and who each one is.
// Tokens come from `--tokens FILE` (JSON: [{"token", "user", "role"}]) or, without it, from one
// random admin token kept in <data>/admin.token (created with mode 0600 on first start).
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "cairn/orders.h"
#include "cairn/status.h"

namespace cairn::http {

// <data_dir>/admin.token: where a server without --tokens keeps its admin token.
std::string AdminTokenPath(const std::string& data_dir);

// The token of an `Authorization: Bearer <token>` header value; nullopt when the value is empty,
// names another scheme or carries no token.
std::optional<std::string_view> BearerToken(std::string_view authorization);

class TokenTable {
 public:
  // Parses a tokens file's JSON. Each token is at least 16 characters and appears once. Errors
  // name the entry ("[2].role") and never show a token.
  static Result<TokenTable> Parse(std::string_view json);
  // Parse() of the file at `path`; errors name the file (kNotFound when it cannot be read).
  static Result<TokenTable> LoadFile(const std::string& path);
  // Reads <data_dir>/admin.token, creating it (mode 0600, 32 random bytes as hex) if missing.
  // *created tells whether it was made now.
  static Result<TokenTable> LoadOrCreateAdminToken(const std::string& data_dir, bool* created);

  // Who `token` is; nullopt when unknown. Comparison does not leak where tokens differ.
  std::optional<Actor> Find(std::string_view token) const;
  size_t size() const { return entries_.size(); }

 private:
  struct Entry {
    std::string token;
    Actor actor;
  };
  std::vector<Entry> entries_;
};

}  // namespace cairn::http
