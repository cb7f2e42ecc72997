// Opens a data dir with everything a command needs: the store, the log and the engine with the
// order domain's projections. Shared by `serve` and the offline tools.
#pragma once

#include <memory>
#include <string>

#include "cairn/engine.h"
#include "cairn/log.h"
#include "cairn/store.h"

namespace cairn::cli {

struct DataDirOptions {
  SyncMode sync = SyncMode::kAlways;
  uint32_t partitions = 8;  // default partition count of new topics
  bool create_if_missing = true;
  bool start_projection_threads = true;
  bool read_only = false;
};

struct DataDir {
  std::unique_ptr<Store> store;
  std::unique_ptr<Log> log;
  std::unique_ptr<Engine> engine;
  ~DataDir();  // stops the engine before the log and the store close
};

// Errors: kBusy when a running server holds the dir (the message names the --url alternative),
// kNotFound when the dir does not exist and create_if_missing is false.
Result<std::unique_ptr<DataDir>> OpenDataDir(const std::string& path, const DataDirOptions& options);

}  // namespace cairn::cli
