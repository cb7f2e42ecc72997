// See serve_address.h.
#include "domain/serve_address.h"

#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <system_error>

namespace cairn {

namespace {
constexpr const char* kFileName = "serve.url";
// The third field: where the server's tokens come from.
constexpr const char* kAdminTokenFile = "admin-token";
constexpr const char* kTokensFile = "tokens-file";

std::filesystem::path AddressPath(const std::string& data_dir) {
  return std::filesystem::path(data_dir) / kFileName;
}
}  // namespace

std::string LocalUrl(const std::string& host, int port) {
  const bool wildcard = host.empty() || host == "0.0.0.0" || host == "::" || host == "[::]";
  const bool ipv6 = !wildcard && host.find(':') != std::string::npos && host.front() != '[';
  const std::string shown = wildcard ? "127.0.0.1" : ipv6 ? "[" + host + "]" : host;
  return "http://" + shown + ":" + std::to_string(port);
}

Status WriteServeAddress(const std::string& data_dir, const std::string& url,
                         bool uses_admin_token_file) {
  const std::filesystem::path path = AddressPath(data_dir);
  const std::filesystem::path temp = path.string() + ".tmp";
  {
    std::ofstream out(temp, std::ios::trunc);
    out << url << ' ' << getpid() << ' ' << (uses_admin_token_file ? kAdminTokenFile : kTokensFile)
        << '\n';
    if (!out.flush()) {
      return Status::IOError("cannot write " + temp.string() + ": " + std::strerror(errno));
    }
  }
  std::error_code ec;
  std::filesystem::rename(temp, path, ec);
  if (ec) return Status::IOError("cannot write " + path.string() + ": " + ec.message());
  return Status::Ok();
}

void RemoveServeAddress(const std::string& data_dir) {
  std::optional<ServeAddress> address = ReadServeAddress(data_dir);
  if (!address || address->pid != getpid()) return;
  std::error_code ec;
  std::filesystem::remove(AddressPath(data_dir), ec);
}

std::optional<ServeAddress> ReadServeAddress(const std::string& data_dir) {
  std::ifstream in(AddressPath(data_dir));
  ServeAddress address;
  std::string tokens;
  if (!(in >> address.url >> address.pid >> tokens) || address.pid <= 0) return std::nullopt;
  if (address.url.rfind("http://", 0) != 0) return std::nullopt;
  address.uses_admin_token_file = tokens == kAdminTokenFile;
  // Signal 0 only checks that the process exists (EPERM: it exists, run by someone else).
  if (kill(static_cast<pid_t>(address.pid), 0) != 0 && errno != EPERM) return std::nullopt;
  // A pid can be reused after a kill -9: it must still be a `cairn serve`.
  std::ifstream cmdline("/proc/" + std::to_string(address.pid) + "/cmdline");
  const std::string args((std::istreambuf_iterator<char>(cmdline)), std::istreambuf_iterator<char>());
  if (cmdline.is_open() && args.find(std::string("serve") + '\0') == std::string::npos) {
    return std::nullopt;
  }
  return address;
}

}  // namespace cairn
