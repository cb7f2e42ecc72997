// Bearer-token authentication: the table of tokens a server accepts and who each one is.
// Tokens come from `--tokens FILE` (JSON: [{"token", "user", "role"}]) or, without it, from one
// random admin token kept in <data>/admin.token (created with mode 0600 on first start).
//
// The table holds tokens only as their SHA-256 digests: the text read from a file is wiped once
// hashed, so a memory dump or a core file does not hand out credentials. A presented token is
// hashed and its digest compared with every entry's in constant time (CRYPTO_memcmp).
#pragma once

#include <simdjson.h>

#include <array>
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

  // The entry of `token` (0 .. size() - 1); nullopt when unknown. Its time does not depend on
  // which entry matches, or on where a wrong token differs from a right one.
  std::optional<size_t> Lookup(std::string_view token) const;
  // Who `token` is; nullopt when unknown (Lookup, then actor()).
  std::optional<Actor> Find(std::string_view token) const;
  // REQUIRES: entry < size().
  const Actor& actor(size_t entry) const { return entries_[entry].actor; }
  size_t size() const { return entries_.size(); }

 private:
  using Digest = std::array<unsigned char, 32>;  // SHA-256
  struct Entry {
    Digest digest;
    Actor actor;
  };
  static Digest DigestOf(std::string_view token);
  static Result<TokenTable> ParseEntries(const simdjson::padded_string& text);
  std::optional<size_t> Lookup(const Digest& digest) const;
  // Adds `token` (wiping the string once hashed). kInvalidArgument naming `path` when the
  // table holds it already.
  Status Add(std::string* token, Actor actor, const std::string& path);
  std::vector<Entry> entries_;
};

}  // namespace cairn::http
