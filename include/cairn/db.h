// The front door for programs that embed Cairn: Db::Open opens a data dir with everything that
// runs on it (the store, the log, the projection engine and the order domain's command
// service and queries) in the right order, and the destructor closes them in reverse. The
// `cairn` binary, the benchmarks and the crash tests all open data dirs through it.
//
//   cairn::DbOptions options;                        // sync always, 8 partitions, ...
//   auto db = cairn::Db::Open("./data", options);
//   if (!db.ok()) { /* e.g. kBusy: "data dir ./data is in use by `cairn serve` (pid 42) at … */ }
//   auto created = (*db)->orders().Handle(cairn::CreateOrder{...});
//
// Thread-safety: the parts it hands out are thread-safe; Open and the destructor are not.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "cairn/domain_spec.h"
#include "cairn/engine.h"
#include "cairn/log.h"
#include "cairn/orders.h"
#include "cairn/status.h"
#include "cairn/store.h"

namespace cairn {

struct DbOptions {
  // The data dir's store: durability (sync, default kAlways), create_if_missing (default
  // true), read_only (default false), cache sizes.
  StoreOptions store;
  // The log: default partition count of new topics (8), limits, group commit.
  LogOptions log;
  // The engine: batch size; start_threads (default true) runs every projection on its own
  // thread; tools set it false and call Engine::CatchUp.
  EngineOptions engine;
  // The order service: clock and id source (tests).
  OrderServiceOptions orders;
  // The domains the engine runs, their projections, owned topics and import rules.
  // Default: the order domain alone.
  std::vector<DomainSpec> domains = {OrderDomain()};
  // Create the domains' owned topics (with log.default_partitions) when they do not exist yet,
  // so a subscriber can wait for their first event. Ignored when read-only. Default: true.
  bool create_owned_topics = true;
};

class Db {
 public:
  // Opens (or creates) the data dir at `path`. Errors: kNotFound when there is no data dir and
  // store.create_if_missing is false; kBusy when another process holds it, whose message names
  // the `cairn serve` holding it (pid and URL) when there is one; kCorruption for a data dir
  // written by a newer Cairn; kIOError from the disk.
  static Result<std::unique_ptr<Db>> Open(const std::string& path, DbOptions options);
  // Stops the projections, then closes the log and the store.
  ~Db();
  Db(const Db&) = delete;
  Db& operator=(const Db&) = delete;

  const std::string& path() const { return path_; }
  Store& store() const { return *store_; }
  Log& log() const { return *log_; }
  Engine& engine() const { return *engine_; }
  // REQUIRES: the order domain is among options.domains and the dir is not read-only (a
  // read-only dir takes no commands).
  OrderService& orders() const { return *orders_; }
  const OrderQueries& queries() const { return *queries_; }
  const std::vector<DomainSpec>& domains() const { return domains_; }

  // Whether a domain owns `topic` (DomainSpec::owned_topics): raw appends to it are refused.
  bool IsOwnedTopic(std::string_view topic) const;
  // The rules of the domain that checks `stream`, or nullptr when none does.
  std::unique_ptr<StreamChecker> NewStreamChecker(std::string_view stream) const;

 private:
  Db() = default;
  std::string path_;
  std::vector<DomainSpec> domains_;
  std::unique_ptr<Store> store_;
  std::unique_ptr<Log> log_;
  std::unique_ptr<Engine> engine_;
  std::unique_ptr<OrderService> orders_;
  std::unique_ptr<OrderQueries> queries_;
};

// Whether `path` holds a data dir (a RocksDB CURRENT file).
bool IsDataDir(const std::string& path);
// Whether a new data dir may be created at `path`: it does not exist, is an empty directory,
// or holds only what a creation killed before it finished leaves (RocksDB writes CURRENT last:
// without it, LOCK, IDENTITY, MANIFEST-*, OPTIONS-*, *.dbtmp, LOG* and WAL files are
// leftovers that the next creation overwrites).
bool CanCreateDataDirAt(const std::string& path);

}  // namespace cairn
