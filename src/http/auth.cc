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

}  // namespace

Result<TokenTable> TokenTable::Parse(std::string_view text) {
  simdjson::dom::parser parser;
  simdjson::dom::array entries;
  if (parser.parse(simdjson::padded_string(text)).get_array().get(entries)) {
    return Status::InvalidArgument("tokens file must be a JSON array of {token, user, role}");
  }
  TokenTable table;
  size_t i = 0;
  for (simdjson::dom::element element : entries) {
    const std::string path = json::IndexPath("", i++);  // "[i]"
    simdjson::dom::object object;
    if (element.get_object().get(object)) return json::FieldError(path, "must be an object");
    Entry entry;
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
    table.entries_.push_back(Entry{std::string(token), Actor{std::string(user), *parsed}});
  }
  if (table.entries_.empty()) return Status::InvalidArgument("tokens file has no tokens");
  return table;
}

Result<TokenTable> TokenTable::LoadFile(const std::string& path) {
  Result<std::string> text = ReadWholeFile(path);
  if (!text.ok()) return text.status();
  Result<TokenTable> table = Parse(*text);
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
    std::random_device rd;
    static const char* kHex = "0123456789abcdef";
    for (int i = 0; i < 32; ++i) {
      const unsigned byte = rd() & 0xff;
      token.push_back(kHex[byte >> 4]);
      token.push_back(kHex[byte & 0xf]);
    }
    const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL, 0600);
    if (fd < 0) return Status::IOError("cannot create " + path);
    const std::string line = token + "\n";
    const bool written = ::write(fd, line.data(), line.size()) == static_cast<ssize_t>(line.size());
    ::fsync(fd);
    ::close(fd);
    if (!written) return Status::IOError("cannot write " + path);
    *created = true;
  }
  if (token.size() < 16) return Status::InvalidArgument(path + " holds no valid token");
  TokenTable table;
  table.entries_.push_back(Entry{token, Actor{"admin", Role::kAdmin}});
  return table;
}

std::optional<Actor> TokenTable::Find(std::string_view token) const {
  std::optional<Actor> found;
  for (const Entry& e : entries_) {
    if (ConstantTimeEquals(e.token, token)) found = e.actor;
  }
  return found;
}

}  // namespace cairn::http
