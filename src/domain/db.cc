// The front door (include/cairn/db.h): the one place that knows in which order a data dir's
// parts open and close.
#include "cairn/db.h"

#include <algorithm>
#include <filesystem>
#include <system_error>

#include "domain/serve_address.h"

namespace cairn {

namespace {

// kBusy from the store, worded for whoever opened the dir: who holds it, when we can tell.
Status BusyError(const std::string& path) {
  const std::optional<ServeAddress> server = ReadServeAddress(path);
  return Status::Busy("data dir " + path + " is in use by " +
                      (server ? "`cairn serve` (pid " + std::to_string(server->pid) + ") at " +
                                    server->url
                              : std::string("another process")));
}

std::vector<ProjectionSpec> AllProjections(const std::vector<DomainSpec>& domains) {
  std::vector<ProjectionSpec> all;
  for (const DomainSpec& d : domains) all.insert(all.end(), d.projections.begin(), d.projections.end());
  return all;
}

}  // namespace

bool IsDataDir(const std::string& path) {
  std::error_code ec;
  return std::filesystem::exists(std::filesystem::path(path) / "CURRENT", ec);
}

bool CanCreateDataDirAt(const std::string& path) {
  namespace fs = std::filesystem;
  std::error_code ec;
  if (!fs::exists(path, ec)) return true;
  if (!fs::is_directory(path, ec) || IsDataDir(path)) return false;
  for (const fs::directory_entry& entry : fs::directory_iterator(path, ec)) {
    const std::string name = entry.path().filename().string();
    const bool leftover = name == "LOCK" || name == "IDENTITY" || name.starts_with("MANIFEST-") ||
                          name.starts_with("OPTIONS-") || name.starts_with("LOG") ||
                          name.ends_with(".dbtmp") || name.ends_with(".log");
    if (!leftover || !entry.is_regular_file(ec)) return false;
  }
  return !ec;
}

Result<std::unique_ptr<Db>> Db::Open(const std::string& path, DbOptions options) {
  if (!options.store.create_if_missing && !IsDataDir(path)) {
    return Status::NotFound("no Cairn data dir at " + path);
  }
  std::unique_ptr<Db> db(new Db());
  db->path_ = path;
  db->domains_ = std::move(options.domains);
  Result<std::unique_ptr<Store>> store = Store::Open(path, options.store);
  if (!store.ok()) {
    return store.status().code() == ErrorCode::kBusy ? BusyError(path) : store.status();
  }
  db->store_ = std::move(*store);
  CAIRN_ASSIGN_OR_RETURN(db->log_, Log::Open(db->store_.get(), options.log));
  CAIRN_ASSIGN_OR_RETURN(db->engine_,
                         Engine::Open(db->log_.get(), AllProjections(db->domains_), options.engine));
  const bool writable = !options.store.read_only;
  if (writable && options.create_owned_topics) {
    for (const DomainSpec& d : db->domains_) {
      for (const std::string& topic : d.owned_topics) {
        if (db->log_->GetTopic(topic).ok()) continue;
        CAIRN_RETURN_IF_ERROR(
            db->log_->CreateTopic(topic, options.log.default_partitions).status());
      }
    }
  }
  const bool has_orders =
      std::any_of(db->domains_.begin(), db->domains_.end(),
                  [](const DomainSpec& d) { return d.name == kOrderDomainName; });
  if (writable && has_orders) {
    CAIRN_ASSIGN_OR_RETURN(db->orders_, OrderService::Open(db->log_.get(), std::move(options.orders)));
  }
  db->queries_ = std::make_unique<OrderQueries>(*db->engine_);
  return db;
}

Db::~Db() {
  // Projections read the log and write the store: they stop first. Closing the log wakes its
  // waiters; the store closes last (RocksDB syncs the WAL on close).
  queries_.reset();
  orders_.reset();
  if (engine_) engine_->Stop();
  engine_.reset();
  if (log_) log_->Close();
  log_.reset();
  store_.reset();
}

bool Db::IsOwnedTopic(std::string_view topic) const {
  for (const DomainSpec& d : domains_) {
    if (d.Owns(topic)) return true;
  }
  return false;
}

std::unique_ptr<StreamChecker> Db::NewStreamChecker(std::string_view stream) const {
  return cairn::NewStreamChecker(domains_, stream);
}

}  // namespace cairn
