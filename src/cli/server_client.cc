// See server_client.h.
#include "cli/server_client.h"

#include <httplib.h>

#include <cstdlib>
#include <fstream>
#include <regex>
#include <sstream>

#include "base/json_reader.h"

namespace cairn::cli {
namespace {

ErrorCode CodeForHttpStatus(int status) {
  switch (status) {
    case 400: return ErrorCode::kInvalidArgument;
    case 401: return ErrorCode::kUnauthenticated;
    case 403: return ErrorCode::kPermissionDenied;
    case 404: return ErrorCode::kNotFound;
    case 409: return ErrorCode::kConflict;
    case 413: return ErrorCode::kTooLarge;
    case 422: return ErrorCode::kRuleViolation;
    case 429: return ErrorCode::kBusy;
    case 503: return ErrorCode::kBusy;
    case 504: return ErrorCode::kTimeout;
    default: return ErrorCode::kInternal;
  }
}

// The message of an {"error": {"code", "message", "field"}} body, or the body itself.
std::string ServerMessage(const std::string& body) {
  json::Input input(body);
  Result<json::Object> root = input.RootObject();
  std::string message, field;
  if (root.ok()) {
    Status s = json::ForEachField(*root, "", [&](std::string_view key, json::Value v) -> Status {
      if (key != "error") return Status::Ok();
      CAIRN_ASSIGN_OR_RETURN(json::Object error, json::ReadObject(v, "error"));
      return json::ForEachField(error, "error", [&](std::string_view k, json::Value e) -> Status {
        if (k == "message") return json::Assign(json::ReadString(e, k), &message);
        if (k == "field") {
          if (json::IsNull(e)) return Status::Ok();
          return json::Assign(json::ReadString(e, k), &field);
        }
        return Status::Ok();
      });
    });
    (void)s;
  }
  if (message.empty()) {
    message = body.substr(0, 200);
    while (!message.empty() && (message.back() == '\n' || message.back() == '\r')) message.pop_back();
  }
  if (!field.empty() && message.find(field) == std::string::npos) message += " (" + field + ")";
  return message;
}

Result<std::string> ReadTokenFile(const std::string& path) {
  std::ifstream in(path);
  if (!in) return Status::InvalidArgument("--token-file: cannot read " + path);
  std::stringstream text;
  text << in.rdbuf();
  std::string token = text.str();
  while (!token.empty() && std::isspace(static_cast<unsigned char>(token.back()))) token.pop_back();
  while (!token.empty() && std::isspace(static_cast<unsigned char>(token.front()))) token.erase(0, 1);
  if (token.empty()) return Status::InvalidArgument("--token-file: " + path + " is empty");
  return token;
}

}  // namespace

CLI::Option* AddServerFlags(CLI::App* command, ServerFlags* flags) {
  CLI::Option* url = command->add_option(
      "--url", flags->url,
      "Ask the running server at URL (e.g. http://127.0.0.1:8080) instead of opening --data");
  url->type_name("URL");
  command->add_option("--token", flags->token,
                      "Admin bearer token for --url (default: $CAIRN_TOKEN)")
      ->type_name("TOKEN");
  command->add_option("--token-file", flags->token_file,
                      "Read the admin token for --url from FILE (e.g. DATA/admin.token)")
      ->type_name("FILE");
  command->add_option("--cacert", flags->ca_cert,
                      "Verify an https:// --url against the CA certificates in FILE (PEM) instead "
                      "of the system's")
      ->check(CLI::ExistingFile)
      ->type_name("FILE");
  return url;
}

AdminClient::AdminClient(std::string url, std::string token, const std::string& ca_cert)
    : url_(std::move(url)), client_(std::make_unique<httplib::Client>(url_)) {
  client_->set_bearer_token_auth(token);
  if (!ca_cert.empty()) client_->set_ca_cert_path(ca_cert.c_str());
  client_->set_connection_timeout(std::chrono::seconds(5));
  client_->set_tcp_nodelay(true);
}

AdminClient::~AdminClient() = default;

Result<std::unique_ptr<AdminClient>> AdminClient::Connect(const ServerFlags& flags) {
  static const std::regex kUrl(R"(^(https?)://([A-Za-z0-9.\-]+|\[[0-9A-Fa-f:.]+\])(:[0-9]{1,5})?/?$)");
  std::string url = flags.url;
  if (!std::regex_match(url, kUrl)) {
    return Status::InvalidArgument("--url must look like http://127.0.0.1:8080, not '" + url + "'");
  }
  if (url.back() == '/') url.pop_back();
  std::string token = flags.token;
  if (token.empty() && !flags.token_file.empty()) {
    CAIRN_ASSIGN_OR_RETURN(token, ReadTokenFile(flags.token_file));
  }
  if (token.empty()) {
    if (const char* env = std::getenv("CAIRN_TOKEN")) token = env;
  }
  if (token.empty()) {
    return Status::InvalidArgument(
        "--url needs an admin token: pass --token TOKEN, --token-file FILE or set CAIRN_TOKEN");
  }
  std::unique_ptr<AdminClient> client(new AdminClient(url, token, flags.ca_cert));
  if (!client->client_->is_valid()) {
    return Status::InvalidArgument("cannot use --url " + url + " (is https supported by this build?)");
  }
  return client;
}

Result<HttpReply> AdminClient::Finish(const std::string& what, int status, std::string body,
                                      int error) {
  if (error != static_cast<int>(httplib::Error::Success)) {
    return Status::IOError("cannot reach the server at " + url_ + " (" +
                           httplib::to_string(static_cast<httplib::Error>(error)) + " error during " +
                           what + ")");
  }
  if (status >= 200 && status < 300) return HttpReply{status, std::move(body)};
  return Status(CodeForHttpStatus(status), "the server answered " + std::to_string(status) +
                                               " to " + what + ": " + ServerMessage(body));
}

Result<HttpReply> AdminClient::Post(const std::string& path, const std::string& body,
                                    std::chrono::seconds timeout) {
  client_->set_read_timeout(timeout);
  httplib::Result r = client_->Post(path, body.empty() ? "{}" : body, "application/json");
  if (!r) return Finish("POST " + path, 0, "", static_cast<int>(r.error()));
  return Finish("POST " + path, r->status, r->body, 0);
}

Result<HttpReply> AdminClient::Get(const std::string& path, std::chrono::seconds timeout) {
  client_->set_read_timeout(timeout);
  httplib::Result r = client_->Get(path);
  if (!r) return Finish("GET " + path, 0, "", static_cast<int>(r.error()));
  return Finish("GET " + path, r->status, r->body, 0);
}

}  // namespace cairn::cli
