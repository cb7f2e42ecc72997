// `cairn serve`: opens the data dir, starts the projections and serves the HTTP API until
// SIGTERM or SIGINT; then it stops accepting, lets in-flight requests finish, stops the
// projections, syncs the WAL and exits 0.
#include <ext/stdio_filebuf.h>
#include <signal.h>
#include <spdlog/sinks/ostream_sink.h>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <charconv>
#include <memory>
#include <ostream>
#include <thread>

#include "base/parse.h"
#include "cairn/db.h"
#include "cairn/kafka_log.h"
#include "cli/commands.h"
#include "domain/serve_address.h"
#include "http/auth.h"
#include "http/server.h"
#include "kafka/broker.h"

namespace cairn::cli {

namespace {

struct ServeOptions {
  std::string data;
  std::string listen = "127.0.0.1:8080";
  std::string tokens;
  uint32_t partitions = 8;
  std::string sync = "always";
  size_t max_body_bytes = 1u << 20;
  size_t max_streams = 32;
  std::string log_level = "info";
  std::string kafka;  // HOST:PORT of the Kafka listener; empty: none
  kafka::KafkaOptions kafka_limits;
  int kafka_group_delay_ms = 3000;
  std::string tls_cert;
  std::string tls_key;
  uint32_t rate_limit = 2000;
  std::string backup_root;
  uint64_t ready_max_lag = 10'000;
  double ready_stall_seconds = 30;
  double resume_writes_seconds = 5;
  // The log on a Kafka cluster (README "Outgrowing one machine"); empty: the local log alone.
  std::string log_url;
  std::string cluster = "cairn";
  std::string role = "writer";  // or "replica"
  std::string writer_url;       // a replica's 421 answers name it
  std::string node;             // this node in Kafka's consumer groups; default: the host name
};

Result<std::pair<std::string, int>> ParseListen(const std::string& text, std::string_view flag) {
  const size_t colon = text.rfind(':');
  int port = -1;
  if (colon != std::string::npos) {
    port = ParseNumber<int>(std::string_view(text).substr(colon + 1)).value_or(-1);
  }
  if (colon == std::string::npos || colon == 0 || port < 0 || port > 65535) {
    return Status::InvalidArgument(std::string(flag) + " must be HOST:PORT, e.g. 127.0.0.1:8080");
  }
  return std::pair(text.substr(0, colon), port);
}

// The server's log on stderr. On a terminal: coloured lines, each written at once. Otherwise (a
// file, a pipe, journald) lines go through a 64 KiB buffer that is flushed every second and at
// once for warnings and errors, so the access log costs a copy per request, not a write(2) (a
// system call per request was a measurable share of a write request's CPU).
class ServeLog {
 public:
  ServeLog() {
    if (isatty(STDERR_FILENO)) {
      spdlog::set_default_logger(spdlog::stderr_color_mt("cairn"));
      return;
    }
    buffer_ = std::make_unique<__gnu_cxx::stdio_filebuf<char>>(dup(STDERR_FILENO), std::ios::out,
                                                              1 << 16);
    out_ = std::make_unique<std::ostream>(buffer_.get());
    auto logger = std::make_shared<spdlog::logger>(
        "cairn", std::make_shared<spdlog::sinks::ostream_sink_mt>(*out_));
    logger->flush_on(spdlog::level::warn);
    spdlog::set_default_logger(std::move(logger));
    spdlog::flush_every(std::chrono::seconds(1));
  }
  ServeLog(const ServeLog&) = delete;
  ServeLog& operator=(const ServeLog&) = delete;
  ~ServeLog() {
    if (!out_) return;
    Flush();
    spdlog::shutdown();  // stops the flusher thread (it does not flush)
    spdlog::set_default_logger(spdlog::stderr_color_mt("cairn"));
  }
  // Writes out what is buffered (after the lines a watcher waits for, like the listen address).
  static void Flush() { spdlog::default_logger()->flush(); }

 private:
  std::unique_ptr<__gnu_cxx::stdio_filebuf<char>> buffer_;
  std::unique_ptr<std::ostream> out_;
};

// Blocks SIGTERM and SIGINT in the calling thread and in every thread it starts later, so that
// only the thread that sigwait()s for them receives them. Call before any thread starts.
sigset_t BlockShutdownSignals() {
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  return signals;
}

// --log kafka://...: the cluster the log publishes to and mirrors; null without --log.
Result<std::shared_ptr<KafkaLog>> ConnectKafkaLog(const ServeOptions& o) {
  if (o.log_url.empty()) return std::shared_ptr<KafkaLog>();
  KafkaLogOptions options;
  CAIRN_ASSIGN_OR_RETURN(options.brokers, ParseKafkaLogUrl(o.log_url));
  options.cluster = o.cluster;
  options.node = o.node;
  options.writer_url = o.writer_url;
  return KafkaLog::Connect(std::move(options));
}

// The Kafka log's part of /readyz and /metrics.
void WireKafkaLog(std::shared_ptr<KafkaLog> kafka_log, http::Services* services) {
  services->upstream_problem = [kafka_log]() -> std::optional<std::string> {
    const KafkaLog::Stats stats = kafka_log->GetStats();
    if (stats.last_error.empty()) return std::nullopt;
    return "the Kafka log replica cannot copy from the cluster: " + stats.last_error;
  };
  services->upstream_metrics = [kafka_log] {
    const KafkaLog::Stats s = kafka_log->GetStats();
    std::string out;
    auto metric = [&out](std::string_view name, std::string_view help, uint64_t value) {
      out += fmt::format("# HELP {0} {1}\n# TYPE {0} {2}\n{0} {3}\n", name, help,
                         name.ends_with("_total") ? "counter" : "gauge", value);
    };
    metric("cairn_kafka_log_transactions_total", "Kafka transactions this writer committed",
           s.transactions);
    metric("cairn_kafka_log_aborted_total", "Kafka transactions aborted (their appends got 503)",
           s.aborted);
    metric("cairn_kafka_log_published_events_total", "Events this writer published to Kafka",
           s.published);
    metric("cairn_kafka_log_replicated_events_total", "Events copied in from the Kafka cluster",
           s.replicated);
    metric("cairn_kafka_log_fenced", "1 once another writer fenced this one", s.fenced ? 1 : 0);
    return out;
  };
}

Result<std::unique_ptr<Db>> OpenDb(const ServeOptions& o, SyncMode sync,
                                   std::shared_ptr<KafkaLog> kafka_log) {
  DbOptions db_options;
  db_options.store.sync = sync;
  db_options.log.default_partitions = o.partitions;
  db_options.log.upstream = kafka_log;
  CAIRN_ASSIGN_OR_RETURN(std::unique_ptr<Db> db, Db::Open(o.data, db_options));
  if (kafka_log) {
    Log* log = &db->log();
    CAIRN_RETURN_IF_ERROR(o.role == "replica" ? kafka_log->StartReplica(log)
                                              : kafka_log->BecomeWriter(log));
  }
  return db;
}

// --tokens, else the data dir's admin token (created on first start).
Result<http::TokenTable> LoadTokens(const ServeOptions& o) {
  if (!o.tokens.empty()) return http::TokenTable::LoadFile(o.tokens);
  bool created = false;
  Result<http::TokenTable> tokens = http::TokenTable::LoadOrCreateAdminToken(o.data, &created);
  if (tokens.ok()) {
    spdlog::info("{} admin token in {} (send it as Authorization: Bearer <token>)",
                 created ? "created an" : "using the", http::AdminTokenPath(o.data));
  }
  return tokens;
}

http::ServerOptions ServerOptionsOf(const ServeOptions& o, const std::pair<std::string, int>& listen) {
  http::ServerOptions options;
  options.host = listen.first;
  options.port = listen.second;
  options.max_body_bytes = o.max_body_bytes;
  options.max_streams = o.max_streams;
  options.tls_cert_file = o.tls_cert;
  options.tls_key_file = o.tls_key;
  options.rate_limit_per_token = o.rate_limit;
  options.backup_root = o.backup_root;
  options.readiness.max_lag_events = o.ready_max_lag;
  options.readiness.stall_after =
      std::chrono::milliseconds(static_cast<int64_t>(o.ready_stall_seconds * 1000));
  options.resume_writes_every =
      std::chrono::milliseconds(static_cast<int64_t>(o.resume_writes_seconds * 1000));
  return options;
}

// The Kafka listener (--kafka), bound but not started.
Result<std::unique_ptr<kafka::Broker>> BindKafka(const ServeOptions& o,
                                                 const std::pair<std::string, int>& listen, Db* db) {
  kafka::KafkaOptions options = o.kafka_limits;
  std::tie(options.host, options.port) = listen;
  options.group_initial_delay = std::chrono::milliseconds(o.kafka_group_delay_ms);
  auto broker = std::make_unique<kafka::Broker>(db, options);
  CAIRN_RETURN_IF_ERROR(broker->Bind());
  spdlog::info("kafka protocol on {}:{}", options.host, broker->port());
  return broker;
}

// The listener's committed offsets as the HTTP API shows them (admin route and /metrics).
std::vector<http::Services::ConsumerGroupOffset> ConsumerGroupsOf(kafka::Broker& broker) {
  std::vector<http::Services::ConsumerGroupOffset> out;
  for (const auto& o : broker.CommittedOffsets()) {
    out.push_back({o.group, o.topic, uint32_t(o.partition), o.offset});
  }
  return out;
}

bool IsLoopbackHost(const std::string& host) {
  return host == "localhost" || host.rfind("127.", 0) == 0 || host == "::1" || host == "[::1]";
}

// Plain HTTP beyond this machine sends every bearer token and every order in clear text.
void WarnIfPlainHttpOnNetwork(const ServeOptions& o, const std::string& host) {
  if (!o.tls_cert.empty() || IsLoopbackHost(host)) return;
  spdlog::warn("serving plain HTTP on {}, which is not a loopback address: bearer tokens and "
               "data cross the network unencrypted; pass --tls-cert and --tls-key (or put a TLS "
               "proxy on this machine and listen on 127.0.0.1)", o.listen);
}

// Waits for SIGTERM or SIGINT (blocked by BlockShutdownSignals), then stops the server.
std::thread StopOnSignal(http::HttpServer& server, sigset_t signals) {
  return std::thread([&server, signals] {
    int received = 0;
    sigwait(&signals, &received);
    spdlog::info("received {}, shutting down", received == SIGTERM ? "SIGTERM" : "SIGINT");
    ServeLog::Flush();
    server.Stop();
  });
}

// Serves until the server stops; the address file exists exactly as long as it serves.
void Serve(const ServeOptions& o, const std::string& host, http::HttpServer& server) {
  // For offline commands refused on this dir: they name this URL instead of a guess. Written
  // before the line below, which watchers wait for.
  std::string url = LocalUrl(host, server.port());
  if (!o.tls_cert.empty()) url.replace(0, url.find(':'), "https");
  if (Status s = WriteServeAddress(o.data, url, o.tokens.empty()); !s.ok()) {
    spdlog::warn("{} (offline commands will not name this server's URL)", s.ToString());
  }
  spdlog::info("cairn serving {} on {}://{}:{} (sync {})", o.data, o.tls_cert.empty() ? "http" : "https",
               host, server.port(), o.sync);
  ServeLog::Flush();
  server.Run();
  RemoveServeAddress(o.data);
}

int RunServe(const ServeOptions& o) {
  Result<SyncMode> sync = ParseSyncMode(o.sync);
  if (!sync.ok()) return Fail("serve", sync.status());
  Result<std::pair<std::string, int>> listen = ParseListen(o.listen, "--listen");
  if (!listen.ok()) return Fail("serve", listen.status());
  Result<std::pair<std::string, int>> kafka_listen = std::pair(std::string(), 0);
  if (!o.kafka.empty()) kafka_listen = ParseListen(o.kafka, "--kafka");
  if (!kafka_listen.ok()) return Fail("serve", kafka_listen.status());

  const sigset_t signals = BlockShutdownSignals();
  ServeLog log;  // after the mask: its flusher thread must not take the signals either
  spdlog::set_level(spdlog::level::from_str(o.log_level));  // CLI11 checked the name
  Result<std::shared_ptr<KafkaLog>> kafka_log = ConnectKafkaLog(o);
  if (!kafka_log.ok()) return Fail("serve", kafka_log.status());
  Result<std::unique_ptr<Db>> db = OpenDb(o, *sync, *kafka_log);
  if (!db.ok()) return Fail("serve", db.status());
  Result<http::TokenTable> tokens = LoadTokens(o);
  if (!tokens.ok()) return Fail("serve", tokens.status());

  http::Services services{db->get(), &*tokens};
  std::unique_ptr<kafka::Broker> broker;
  if (!o.kafka.empty()) {
    Result<std::unique_ptr<kafka::Broker>> bound = BindKafka(o, *kafka_listen, db->get());
    if (!bound.ok()) return Fail("serve", bound.status());
    broker = std::move(*bound);
    services.consumer_groups = [b = broker.get()] { return ConsumerGroupsOf(*b); };
  }
  if (*kafka_log) WireKafkaLog(*kafka_log, &services);
  WarnIfPlainHttpOnNetwork(o, listen->first);
  http::HttpServer server(services, ServerOptionsOf(o, *listen));
  if (Status s = server.Bind(); !s.ok()) return Fail("serve", s);
  if (broker) broker->Start();
  std::thread signal_thread = StopOnSignal(server, signals);
  Serve(o, listen->first, server);
  if (broker) broker->Stop();
  // Run() returned: in-flight requests are done. Wake the signal thread if we stopped for
  // another reason, then close projections, log and store (the WAL is synced on close).
  pthread_kill(signal_thread.native_handle(), SIGTERM);
  signal_thread.join();
  if (*kafka_log) (*kafka_log)->Stop();
  db->reset();
  spdlog::info("stopped cleanly");
  ServeLog::Flush();
  return kExitOk;
}

}  // namespace

void AddServeCommand(CLI::App& app, CommandRunner* run) {
  auto o = std::make_shared<ServeOptions>();
  CLI::App* cmd = app.add_subcommand("serve", "Serve the HTTP API on a data dir");
  cmd->footer(
      "Examples:\n"
      "  cairn serve --data ./data\n"
      "  cairn serve --data /var/lib/cairn --listen 0.0.0.0:8443 --tokens tokens.json \\\n"
      "      --tls-cert /etc/cairn/cert.pem --tls-key /etc/cairn/key.pem --sync batch\n"
      "Without --tokens, an admin token is created in DIR/admin.token on first start.\n");
  cmd->add_option("--data", o->data, "Data dir (created if missing)")->required();
  cmd->add_option("--listen", o->listen, "HOST:PORT to listen on")->capture_default_str();
  cmd->add_option("--tokens", o->tokens,
                  "JSON file of [{\"token\", \"user\", \"role\": customer|service|admin}]")
      ->check(CLI::ExistingFile);
  cmd->add_option("--partitions", o->partitions, "Partitions of topics created on first use")
      ->check(CLI::Range(1, 4096))
      ->capture_default_str();
  cmd->add_option("--sync", o->sync, "WAL durability: always, batch or none")
      ->check(CLI::IsMember({"always", "batch", "none"}))
      ->capture_default_str();
  cmd->add_option("--max-body", o->max_body_bytes, "Largest request body in bytes")
      ->check(CLI::Range(size_t{1024}, size_t{64} << 20))
      ->capture_default_str();
  cmd->add_option("--max-streams", o->max_streams, "Most concurrent /api/stream subscribers")
      ->check(CLI::Range(1, 1024))
      ->capture_default_str();
  cmd->add_option("--kafka", o->kafka,
                  "HOST:PORT for Kafka clients (off by default; see README \"Kafka clients\")");
  cmd->add_option("--kafka-max-connections", o->kafka_limits.max_connections,
                  "Most open Kafka connections")
      ->capture_default_str();
  cmd->add_option("--kafka-max-request", o->kafka_limits.max_request_bytes,
                  "Largest Kafka request in bytes")
      ->check(CLI::Range(size_t{1024}, size_t{256} << 20))
      ->capture_default_str();
  cmd->add_option("--kafka-max-in-flight", o->kafka_limits.max_in_flight,
                  "Unanswered Kafka requests read per connection")
      ->check(CLI::Range(1, 1024))
      ->capture_default_str();
  cmd->add_option("--kafka-group-delay", o->kafka_group_delay_ms,
                  "Milliseconds a new Kafka consumer group waits for more members")
      ->check(CLI::Range(0, 300'000))
      ->capture_default_str();
  cmd->add_option("--log", o->log_url,
                  "kafka://HOST:PORT[,HOST:PORT]: keep the log on this Kafka cluster, the local "
                  "data dir mirroring it (see README \"Outgrowing one machine\")")
      ->type_name("URL");
  cmd->add_option("--role", o->role,
                  "With --log: writer (fences the previous writer and takes commands) or replica "
                  "(serves queries; commands answer 421)")
      ->check(CLI::IsMember({"writer", "replica"}))
      ->capture_default_str();
  cmd->add_option("--cluster", o->cluster,
                  "With --log: the deployment's name (the writer's transactional.id is "
                  "cairn-NAME)")
      ->capture_default_str();
  cmd->add_option("--writer-url", o->writer_url,
                  "With --role replica: the writer's URL, named in the 421 answers to commands")
      ->type_name("URL");
  cmd->add_option("--node", o->node,
                  "With --log: this node's name in Kafka consumer groups (default: host name)");
  cmd->add_option("--log-level", o->log_level, "trace, debug, info, warn, error or off")
      ->check(CLI::IsMember({"trace", "debug", "info", "warn", "error", "off"}))
      ->capture_default_str();
  CLI::Option* cert = cmd->add_option("--tls-cert", o->tls_cert,
                                      "Serve HTTPS with this PEM certificate (chain); needs --tls-key")
                          ->check(CLI::ExistingFile)
                          ->type_name("FILE");
  CLI::Option* key = cmd->add_option("--tls-key", o->tls_key,
                                     "PEM private key of --tls-cert (keep it mode 0600)")
                         ->check(CLI::ExistingFile)
                         ->type_name("FILE");
  cert->needs(key);
  key->needs(cert);
  cmd->add_option("--rate-limit", o->rate_limit,
                  "Requests per second each token may make (and make at once); more are answered "
                  "429 with Retry-After; 0: no limit")
      ->check(CLI::Range(0, 10'000'000))
      ->capture_default_str();
  cmd->add_option("--ready-max-lag", o->ready_max_lag,
                  "GET /readyz fails while a projection is more events than this behind the log "
                  "(0: no bound)")
      ->capture_default_str();
  cmd->add_option("--ready-stall-seconds", o->ready_stall_seconds,
                  "GET /readyz fails when a projection with events waiting has not moved for "
                  "this long")
      ->check(CLI::Range(0.1, 86400.0))
      ->capture_default_str();
  cmd->add_option("--resume-writes-seconds", o->resume_writes_seconds,
                  "After a failed log write (a full disk, an I/O error) commands answer 503; "
                  "this often the server tries to write again (0: only a restart does)")
      ->check(CLI::Range(0.0, 86400.0))
      ->capture_default_str();
  cmd->add_option("--backup-root", o->backup_root,
                  "Online backups (cairn backup --url) only into new dirs below DIR "
                  "(default: anywhere the server can write)")
      ->type_name("DIR");
  cmd->callback([o, run] { *run = [o] { return RunServe(*o); }; });
}

}  // namespace cairn::cli
