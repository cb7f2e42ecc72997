// Talking to a running `cairn serve` from the operator commands (`--url URL --token T`): the
// admin API of DESIGN.md §4 over cpp-httplib, with the bearer token, and the server's error
// bodies {"error": {"code", "message", "field"}} turned into one-line messages.
#pragma once

#include <CLI/CLI.hpp>

#include <chrono>
#include <memory>
#include <string>

#include "cairn/status.h"

namespace httplib {
class Client;
}

namespace cairn::cli {

// The flags every command that can work against a live server shares.
struct ServerFlags {
  std::string url;         // --url: http://host:port
  std::string token;       // --token, or env CAIRN_TOKEN
  std::string token_file;  // --token-file: a file holding the token (e.g. <data>/admin.token)
  std::string ca_cert;     // --cacert: CA certificates (PEM) to verify an https:// server by
};

// Registers --url, --token, --token-file and --cacert on `command`. Returns the --url option so a
// command can declare it exclusive with --data.
CLI::Option* AddServerFlags(CLI::App* command, ServerFlags* flags);

struct HttpReply {
  int status = 0;
  std::string body;
};

class AdminClient {
 public:
  // Checks the URL (http:// or https://, host, optional port, nothing after) and finds the
  // token (--token, then --token-file, then CAIRN_TOKEN). kInvalidArgument naming the flag.
  static Result<std::unique_ptr<AdminClient>> Connect(const ServerFlags& flags);
  ~AdminClient();

  const std::string& url() const { return url_; }

  // A request with a JSON body ("{}" when empty). `timeout` bounds the wait for the answer.
  // A 2xx reply is returned; anything else is a Status: kUnavailable-like kIOError when the
  // server cannot be reached, or the server's error (code mapped back, message kept).
  Result<HttpReply> Post(const std::string& path, const std::string& body,
                         std::chrono::seconds timeout = std::chrono::seconds(30));
  Result<HttpReply> Get(const std::string& path,
                        std::chrono::seconds timeout = std::chrono::seconds(30));

 private:
  AdminClient(std::string url, std::string token, const std::string& ca_cert);
  Result<HttpReply> Finish(const std::string& what, int status, std::string body, int error);

  std::string url_;
  std::unique_ptr<httplib::Client> client_;
};

}  // namespace cairn::cli
