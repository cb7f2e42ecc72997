// See auth.h.
#include "http/auth.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fstream>
#include <random>
#include <sstream>

#include "base/json_reader.h"

namespace cairn::http {

namespace {

bool ConstantTimeEquals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  unsigned char diff = 0;
  for (size_t i = 0; i < a.size(); ++i) diff |= static_cast<unsigned char>(a[i] ^ b[i]);
  return diff == 0;
}

Result<std::string> ReadWholeFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Status::NotFound("cannot read " + path);
  std::stringstream buffer;
  buffer << in.rdbuf();
  return buffer.str();
}

// 32 random bytes as 64 hex digits.
std::string NewAdminToken() {
  std::random_device rd;
  static const char* kHex = "0123456789abcdef";
  std::string token;
  for (int i = 0; i < 32; ++i) {
    const unsigned byte = rd() & 0xff;
    token.push_back(kHex[byte >> 4]);
    token.push_back(kHex[byte & 0xf]);
  }
  return token;
}

// Creates `path` with mode 0600 holding `token` and a newline, synced. Fails if it exists.
Status WriteNewTokenFile(const std::string& path, const std::string& token) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL, 0600);
  if (fd < 0) return Status::IOError("cannot create " + path);
  const std::string line = token + "\n";
  const bool written = ::write(fd, line.data(), line.size()) == static_cast<ssize_t>(line.size());
  ::fsync(fd);
  ::close(fd);
  if (!written) return Status::IOError("cannot write " + path);
  return Status::Ok();
}

// One {token, user, role} entry of a tokens file; `path` is "[i]".
Result<std::pair<std::string, Actor>> ParseEntry(simdjson::dom::element element,
                                                 const std::string& path) {
  simdjson::dom::object object;
  if (element.get_object().get(object)) return json::FieldError(path, "must be an object");
  std::string_view token, user, role;
  for (auto field : object) {
    std::string_view* slot = field.key == "token" ? &token
                             : field.key == "user" ? &user
                             : field.key == "role" ? &role
                                                   : nullptr;
    if (!slot) return json::UnknownField(path, field.key);
    if (field.value.get_string().get(*slot)) {
      return json::FieldError(path + "." + std::string(field.key), "must be a string");
    }
  }
  if (token.size() < 16) return json::FieldError(path + ".token", "must be at least 16 characters");
  if (user.empty()) return json::MissingField(path + ".user");
  Result<Role> parsed = ParseRole(role);
  if (!parsed.ok()) return json::FieldError(path + ".role", "must be customer, service or admin");
  return std::pair(std::string(token), Actor{std::string(user), *parsed});
}

}  // namespace

Result<TokenTable> TokenTable::Parse(std::string_view text) {
  simdjson::dom::parser parser;
  simdjson::dom::array entries;
  if (parser.parse(simdjson::padded_string(text)).get_array().get(entries)) {
    return Status::InvalidArgument("tokens file must be a JSON array of {token, user, role}");
  }
  TokenTable table;
  for (simdjson::dom::element element : entries) {
    const std::string path = json::IndexPath("", table.entries_.size());  // "[i]"
    CAIRN_ASSIGN_OR_RETURN(auto entry, ParseEntry(element, path));
    for (size_t i = 0; i < table.entries_.size(); ++i) {
      if (table.entries_[i].token == entry.first) {
        return json::FieldError(path + ".token", "is the token of [" + std::to_string(i) + "] again");
      }
    }
    table.entries_.push_back(Entry{std::move(entry.first), std::move(entry.second)});
  }
  if (table.entries_.empty()) return Status::InvalidArgument("tokens file has no tokens");
  return table;
}

Result<TokenTable> TokenTable::LoadFile(const std::string& path) {
  CAIRN_ASSIGN_OR_RETURN(std::string text, ReadWholeFile(path));
  Result<TokenTable> table = Parse(text);
  if (!table.ok()) {
    return Status::InvalidArgument("tokens file " + path + ": " + table.status().message());
  }
  return table;
}

std::string AdminTokenPath(const std::string& data_dir) { return data_dir + "/admin.token"; }

Result<TokenTable> TokenTable::LoadOrCreateAdminToken(const std::string& data_dir, bool* created) {
  const std::string path = AdminTokenPath(data_dir);
  *created = false;
  Result<std::string> existing = ReadWholeFile(path);
  std::string token;
  if (existing.ok()) {
    token = *existing;
    while (!token.empty() && (token.back() == '\n' || token.back() == '\r')) token.pop_back();
  } else {
    token = NewAdminToken();
    CAIRN_RETURN_IF_ERROR(WriteNewTokenFile(path, token));
    *created = true;
  }
  if (token.size() < 16) return Status::InvalidArgument(path + " holds no valid token");
  TokenTable table;
  table.entries_.push_back(Entry{token, Actor{"admin", Role::kAdmin}});
  return table;
}

std::optional<std::string_view> BearerToken(std::string_view authorization) {
  constexpr std::string_view kBearer = "Bearer ";
  if (authorization.size() <= kBearer.size() || !authorization.starts_with(kBearer)) {
    return std::nullopt;
  }
  return authorization.substr(kBearer.size());
}

std::optional<Actor> TokenTable::Find(std::string_view token) const {
  std::optional<Actor> found;
  for (const Entry& e : entries_) {
    if (ConstantTimeEquals(e.token, token)) found = e.actor;
  }
  return found;
}

}  // namespace cairn::http
