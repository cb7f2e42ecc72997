// A fresh directory for one test, shared by the C++ test suites.
#pragma once

#include <doctest/doctest.h>

#include <stdlib.h>  // mkdtemp, getenv

#include <filesystem>
#include <string>

namespace cairn::testing {

// Where temporary data dirs go: $TMPDIR when set, else /tmp.
inline std::string TempRoot() {
  const char* env = std::getenv("TMPDIR");
  return env != nullptr && *env != '\0' ? env : "/tmp";
}

// A fresh directory under TempRoot(), removed with everything in it when the test ends.
class TempDir {
 public:
  TempDir() {
    std::string pattern = TempRoot() + "/cairn-test-XXXXXX";
    char* made = mkdtemp(pattern.data());
    REQUIRE_MESSAGE(made != nullptr, "mkdtemp failed");
    path_ = made;
  }
  ~TempDir() {
    std::error_code ignored;
    std::filesystem::remove_all(path_, ignored);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

}  // namespace cairn::testing
