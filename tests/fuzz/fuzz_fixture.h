// What the end-to-end fuzz targets' fixtures (http_request, kafka_request) share: a data dir of
// their own, quick to write and small.
#pragma once

#include <stdlib.h>  // mkdtemp, getenv

#include <filesystem>
#include <string>

#include "cairn/db.h"
#include "fuzz_util.h"

namespace cairn::fuzz {

// A fresh directory cairn-fuzz-<name>-XXXXXX, removed with everything in it when this goes:
// under /dev/shm when there is one (RocksDB's fsyncs and OPTIONS rewrites then cost nothing),
// else under $TMPDIR (default /tmp).
class FixtureDir {
 public:
  explicit FixtureDir(const std::string& name) {
    std::string pattern = Root() + "/cairn-fuzz-" + name + "-XXXXXX";
    FUZZ_CHECK(mkdtemp(pattern.data()) != nullptr, "mkdtemp");
    path_ = pattern;
  }
  ~FixtureDir() {
    std::error_code ignored;
    std::filesystem::remove_all(path_, ignored);
  }
  FixtureDir(const FixtureDir&) = delete;
  FixtureDir& operator=(const FixtureDir&) = delete;

  const std::string& path() const { return path_; }

 private:
  static std::string Root() {
    std::error_code ignored;
    if (std::filesystem::is_directory("/dev/shm", ignored)) return "/dev/shm";
    const char* env = std::getenv("TMPDIR");
    return env != nullptr && *env != '\0' ? env : "/tmp";
  }
  std::string path_;
};

// Options of a fixture's data dir: no fsync, and small caches and memtables (a process makes
// many fixtures, one after the other).
inline DbOptions FixtureDbOptions() {
  DbOptions options;
  options.store.sync = SyncMode::kNone;
  options.store.block_cache_bytes = 8u << 20;
  options.store.write_buffer_bytes = 4u << 20;
  return options;
}

}  // namespace cairn::fuzz
