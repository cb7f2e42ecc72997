// See data_dir.h.
#include "cli/data_dir.h"

#include <filesystem>

#include "cairn/orders.h"

namespace cairn::cli {

DataDir::~DataDir() {
  if (engine) engine->Stop();
  engine.reset();
  if (log) log->Close();
  log.reset();
  store.reset();
}

Result<std::unique_ptr<DataDir>> OpenDataDir(const std::string& path,
                                             const DataDirOptions& options) {
  if (!options.create_if_missing && !std::filesystem::exists(path + "/CURRENT")) {
    return Status::NotFound("no Cairn data dir at " + path);
  }
  auto dir = std::make_unique<DataDir>();
  StoreOptions store_options;
  store_options.sync = options.sync;
  store_options.create_if_missing = options.create_if_missing;
  store_options.read_only = options.read_only;
  Result<std::unique_ptr<Store>> store = Store::Open(path, store_options);
  if (!store.ok()) return store.status();
  dir->store = std::move(*store);
  LogOptions log_options;
  log_options.default_partitions = options.partitions;
  Result<std::unique_ptr<Log>> log = Log::Open(dir->store.get(), log_options);
  if (!log.ok()) return log.status();
  dir->log = std::move(*log);
  EngineOptions engine_options;
  engine_options.start_threads = options.start_projection_threads;
  Result<std::unique_ptr<Engine>> engine =
      Engine::Open(dir->log.get(), OrderProjections(), engine_options);
  if (!engine.ok()) return engine.status();
  dir->engine = std::move(*engine);
  return dir;
}

}  // namespace cairn::cli
