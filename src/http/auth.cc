// See auth.h.
#include "http/auth.h"

#include <fcntl.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <sys/stat.h>
#include <unistd.h>

#include <random>

#include "base/json_reader.h"

namespace cairn::http {

namespace {

// Overwrites the bytes of `secret` (in a way the compiler keeps) and empties it.
void Wipe(std::string* secret) {
  OPENSSL_cleanse(secret->data(), secret->size());
  secret->clear();
}

// The file's bytes, read with read(2) into one string that the caller wipes (no stream
// buffers left holding a copy).
Result<std::string> ReadWholeFile(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return Status::NotFound("cannot read " + path);
  std::string text;
  struct stat st{};
  if (::fstat(fd, &st) == 0 && st.st_size > 0) text.reserve(static_cast<size_t>(st.st_size) + 1);
  char chunk[4096];
  ssize_t n;
  while ((n = ::read(fd, chunk, sizeof(chunk))) > 0) text.append(chunk, static_cast<size_t>(n));
  OPENSSL_cleanse(chunk, sizeof(chunk));
  ::close(fd);
  if (n < 0) {
    Wipe(&text);
    return Status::NotFound("cannot read " + path);
  }
  return text;
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
  std::string line = token + "\n";
  const bool written = ::write(fd, line.data(), line.size()) == static_cast<ssize_t>(line.size());
  Wipe(&line);
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
  simdjson::padded_string padded(text);
  Result<TokenTable> table = ParseEntries(padded);
  OPENSSL_cleanse(padded.data(), padded.size());
  return table;
}

Result<TokenTable> TokenTable::ParseEntries(const simdjson::padded_string& text) {
  simdjson::dom::parser parser;
  simdjson::dom::array entries;
  if (parser.parse(text).get_array().get(entries)) {
    return Status::InvalidArgument("tokens file must be a JSON array of {token, user, role}");
  }
  TokenTable table;
  for (simdjson::dom::element element : entries) {
    const std::string path = json::IndexPath("", table.entries_.size());  // "[i]"
    CAIRN_ASSIGN_OR_RETURN(auto entry, ParseEntry(element, path));
    CAIRN_RETURN_IF_ERROR(table.Add(&entry.first, std::move(entry.second), path));
  }
  if (table.entries_.empty()) return Status::InvalidArgument("tokens file has no tokens");
  return table;
}

Result<TokenTable> TokenTable::LoadFile(const std::string& path) {
  CAIRN_ASSIGN_OR_RETURN(std::string text, ReadWholeFile(path));
  Result<TokenTable> table = Parse(text);
  Wipe(&text);  // the digests are all the table keeps
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
    token = std::move(*existing);
    while (!token.empty() && (token.back() == '\n' || token.back() == '\r')) token.pop_back();
  } else {
    token = NewAdminToken();
    CAIRN_RETURN_IF_ERROR(WriteNewTokenFile(path, token));
    *created = true;
  }
  if (token.size() < 16) {
    Wipe(&token);
    return Status::InvalidArgument(path + " holds no valid token");
  }
  TokenTable table;
  CAIRN_RETURN_IF_ERROR(table.Add(&token, Actor{"admin", Role::kAdmin}, path));
  return table;
}

TokenTable::Digest TokenTable::DigestOf(std::string_view token) {
  Digest digest{};
  unsigned int size = 0;
  EVP_Digest(token.data(), token.size(), digest.data(), &size, EVP_sha256(), nullptr);
  return digest;
}

Status TokenTable::Add(std::string* token, Actor actor, const std::string& path) {
  const Digest digest = DigestOf(*token);
  Wipe(token);
  if (std::optional<size_t> earlier = Lookup(digest)) {
    return json::FieldError(path + ".token",
                            "is the token of [" + std::to_string(*earlier) + "] again");
  }
  entries_.push_back(Entry{digest, std::move(actor)});
  return Status::Ok();
}

std::optional<std::string_view> BearerToken(std::string_view authorization) {
  constexpr std::string_view kBearer = "Bearer ";
  if (authorization.size() <= kBearer.size() || !authorization.starts_with(kBearer)) {
    return std::nullopt;
  }
  return authorization.substr(kBearer.size());
}

std::optional<size_t> TokenTable::Lookup(std::string_view token) const {
  return Lookup(DigestOf(token));
}

std::optional<size_t> TokenTable::Lookup(const Digest& digest) const {
  // Every entry is compared, in constant time each, whether or not one matched already.
  std::optional<size_t> found;
  for (size_t i = 0; i < entries_.size(); ++i) {
    if (CRYPTO_memcmp(entries_[i].digest.data(), digest.data(), digest.size()) == 0) found = i;
  }
  return found;
}

std::optional<Actor> TokenTable::Find(std::string_view token) const {
  std::optional<size_t> entry = Lookup(token);
  if (!entry) return std::nullopt;
  return entries_[*entry].actor;
}

}  // namespace cairn::http
