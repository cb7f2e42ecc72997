// Unit tests of bearer-token authentication (src/http/auth.cc): loading a tokens file, the
// admin token a server makes without one, and reading the Authorization header.
#include <doctest/doctest.h>

#include <sys/stat.h>

#include <fstream>
#include <sstream>
#include <string>

#include "domain/domain_test_util.h"
#include "http/auth.h"
#include "temp_dir.h"

namespace cairn::http {
namespace {

constexpr std::string_view kAdminToken = "admin-token-0123456789abcdef";
constexpr std::string_view kAliceToken = "alice-token-0123456789abcdef";

void WriteFile(const std::string& path, std::string_view text) {
  std::ofstream out(path, std::ios::binary);
  out << text;
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

// The error of parsing `json` as a tokens file (ok when it parses).
Status ParseError(const std::string& json) { return TokenTable::Parse(json).status(); }

TEST_CASE("a tokens file maps each token to its user and role") {
  Result<TokenTable> table = TokenTable::Parse(R"([
    {"token": "admin-token-0123456789abcdef", "user": "root", "role": "admin"},
    {"token": "service-token-0123456789abcdef", "user": "billing", "role": "service"},
    {"role": "customer", "user": "alice", "token": "alice-token-0123456789abcdef"}])");
  REQUIRE_OK(table);
  CHECK(table->size() == 3);
  std::optional<Actor> admin = table->Find(kAdminToken);
  REQUIRE(admin.has_value());
  CHECK(admin->user_id == "root");
  CHECK(admin->role == Role::kAdmin);
  CHECK(table->Find("service-token-0123456789abcdef")->role == Role::kService);
  std::optional<Actor> alice = table->Find(kAliceToken);
  REQUIRE(alice.has_value());
  CHECK(alice->user_id == "alice");
  CHECK(alice->role == Role::kCustomer);
}

TEST_CASE("a tokens file that is not a JSON array of objects is refused") {
  for (const char* bad : {"", "not json", "{}", R"({"token": "x"})", "[", "[] []", "null"}) {
    CAPTURE(bad);
    Status s = ParseError(bad);
    CHECK(s.code() == ErrorCode::kInvalidArgument);
    CHECK(s.message() == "tokens file must be a JSON array of {token, user, role}");
  }
  CHECK(ParseError("[]").message() == "tokens file has no tokens");
  CHECK(ParseError(R"([1])").field() == "[0]");
  CHECK(ParseError(R"([{"token": "admin-token-0123456789abcdef", "user": "root", "role": "admin"},
                       "alice"])")
            .field() == "[1]");
}

TEST_CASE("a token entry with a field of the wrong type names that field") {
  CHECK(ParseError(R"([{"token": 12345678901234567890, "user": "u", "role": "admin"}])").field() ==
        "[0].token");
  CHECK(ParseError(R"([{"token": "admin-token-0123456789abcdef", "user": 7, "role": "admin"}])")
            .field() == "[0].user");
  Status role = ParseError(R"([{"token": "admin-token-0123456789abcdef", "user": "u", "role": true}])");
  CHECK(role.field() == "[0].role");
  CHECK(role.message() == "[0].role must be a string");
  CHECK(ParseError(R"([{"token": "admin-token-0123456789abcdef", "user": "u", "role": "admin",
                        "scope": "all"}])")
            .field() == "[0].scope");
  CHECK(ParseError(R"([{"token": "admin-token-0123456789abcdef", "role": "admin"}])").field() ==
        "[0].user");
}

TEST_CASE("an unknown role is refused") {
  Status s = ParseError(R"([{"token": "admin-token-0123456789abcdef", "user": "u", "role": "root"}])");
  CHECK(s.code() == ErrorCode::kInvalidArgument);
  CHECK(s.field() == "[0].role");
  CHECK(s.message() == "[0].role must be customer, service or admin");
}

TEST_CASE("an empty or short token is refused") {
  for (const char* token : {"", "short", "fifteen-chars-x"}) {
    CAPTURE(token);
    Status s = ParseError(std::string(R"([{"token": ")") + token +
                          R"(", "user": "u", "role": "admin"}])");
    CHECK(s.field() == "[0].token");
    CHECK(s.message() == "[0].token must be at least 16 characters");
  }
  CHECK(ParseError(R"([{"user": "u", "role": "admin"}])").field() == "[0].token");
}

TEST_CASE("a token given twice is refused, without showing the token") {
  Status s = ParseError(R"([
    {"token": "alice-token-0123456789abcdef", "user": "alice", "role": "customer"},
    {"token": "admin-token-0123456789abcdef", "user": "root", "role": "admin"},
    {"token": "alice-token-0123456789abcdef", "user": "mallory", "role": "admin"}])");
  CHECK(s.code() == ErrorCode::kInvalidArgument);
  CHECK(s.field() == "[2].token");
  CHECK(s.message() == "[2].token is the token of [0] again");
  CHECK(s.message().find(kAliceToken) == std::string::npos);
}

TEST_CASE("a tokens file is read from disk, and its errors name the file") {
  testing::TempDir dir;
  const std::string good = dir.path() + "/tokens.json";
  WriteFile(good, R"([{"token": "alice-token-0123456789abcdef", "user": "alice", "role": "customer"}])");
  Result<TokenTable> table = TokenTable::LoadFile(good);
  REQUIRE_OK(table);
  CHECK(table->Find(kAliceToken)->user_id == "alice");

  const std::string bad = dir.path() + "/bad.json";
  WriteFile(bad, R"([{"token": "alice-token-0123456789abcdef", "user": "alice", "role": "boss"}])");
  Status s = TokenTable::LoadFile(bad).status();
  CHECK(s.code() == ErrorCode::kInvalidArgument);
  CHECK(s.message() == "tokens file " + bad + ": [0].role must be customer, service or admin");
  CHECK(TokenTable::LoadFile(dir.path() + "/missing.json").status().code() == ErrorCode::kNotFound);
}

TEST_CASE("without a tokens file an admin token is created once, mode 0600, and then reused") {
  testing::TempDir dir;
  bool created = false;
  Result<TokenTable> first = TokenTable::LoadOrCreateAdminToken(dir.path(), &created);
  REQUIRE_OK(first);
  CHECK(created);
  const std::string path = AdminTokenPath(dir.path());
  CHECK(path == dir.path() + "/admin.token");
  struct stat st{};
  REQUIRE(::stat(path.c_str(), &st) == 0);
  CHECK((st.st_mode & 0777) == 0600);
  const std::string line = ReadFile(path);
  REQUIRE(line.size() == 65);  // 32 random bytes as hex, and a newline
  CHECK(line.back() == '\n');
  const std::string token = line.substr(0, 64);
  CHECK(token.find_first_not_of("0123456789abcdef") == std::string::npos);
  std::optional<Actor> admin = first->Find(token);
  REQUIRE(admin.has_value());
  CHECK(admin->user_id == "admin");
  CHECK(admin->is_admin());

  Result<TokenTable> again = TokenTable::LoadOrCreateAdminToken(dir.path(), &created);
  REQUIRE_OK(again);
  CHECK_FALSE(created);
  CHECK(again->size() == 1);
  CHECK(again->Find(token).has_value());
  CHECK(ReadFile(path) == line);
}

TEST_CASE("an admin.token file without a valid token is refused") {
  testing::TempDir dir;
  WriteFile(AdminTokenPath(dir.path()), "too-short\n");
  bool created = true;
  Status s = TokenTable::LoadOrCreateAdminToken(dir.path(), &created).status();
  CHECK(s.code() == ErrorCode::kInvalidArgument);
  CHECK_FALSE(created);
}

TEST_CASE("the bearer token is read from the Authorization header, and only from Bearer") {
  CHECK_FALSE(BearerToken("").has_value());                        // no header
  CHECK_FALSE(BearerToken("Basic YWxpY2U6c2VjcmV0").has_value());  // another scheme
  CHECK_FALSE(BearerToken("Bearer").has_value());
  CHECK_FALSE(BearerToken("Bearer ").has_value());                 // no token
  CHECK_FALSE(BearerToken("Bearer\talice").has_value());
  CHECK(BearerToken("Bearer alice-token-0123456789abcdef") == kAliceToken);
}

TEST_CASE("a bearer token finds its actor; an unknown one finds nobody") {
  Result<TokenTable> table = TokenTable::Parse(
      R"([{"token": "alice-token-0123456789abcdef", "user": "alice", "role": "customer"}])");
  REQUIRE_OK(table);
  const std::optional<std::string_view> right = BearerToken("Bearer alice-token-0123456789abcdef");
  REQUIRE(right.has_value());
  std::optional<Actor> alice = table->Find(*right);
  REQUIRE(alice.has_value());
  CHECK(alice->user_id == "alice");
  CHECK(alice->role == Role::kCustomer);

  CHECK_FALSE(table->Find(*BearerToken("Bearer alice-token-0123456789abcdeX")).has_value());
  CHECK_FALSE(table->Find(*BearerToken("Bearer alice-token-0123456789abcde")).has_value());
  CHECK_FALSE(table->Find(*BearerToken("Bearer " + std::string(kAdminToken))).has_value());
}

TEST_CASE("a token is looked up by its digest: each entry has its own index, near misses find none") {
  Result<TokenTable> table = TokenTable::Parse(R"([
    {"token": "admin-token-0123456789abcdef", "user": "root", "role": "admin"},
    {"token": "alice-token-0123456789abcdef", "user": "alice", "role": "customer"}])");
  REQUIRE_OK(table);
  CHECK(table->Lookup(kAdminToken) == 0u);
  CHECK(table->Lookup(kAliceToken) == 1u);
  CHECK(table->actor(1).user_id == "alice");
  const std::string alice(kAliceToken);
  for (const std::string& near : {alice + "x", alice.substr(1), alice.substr(0, alice.size() - 1),
                                  std::string(alice.size(), 'a'), std::string()}) {
    CAPTURE(near);
    CHECK_FALSE(table->Lookup(near).has_value());
  }
}

}  // namespace
}  // namespace cairn::http
