// How interop's long work (reading an import, appending it, exporting) reports how far it got,
// to whoever shows it: the cli draws a bar or prints plain lines (cli/progress.h). Interop
// itself never prints.
#pragma once

#include <cstdint>
#include <functional>

namespace cairn::interop {

// `done` of `total` lines or events (total 0: unknown). Called now and then from the working
// thread; may be empty (no one is watching).
using ProgressFn = std::function<void(uint64_t done, uint64_t total)>;

// Calls `progress` when it is set.
inline void Report(const ProgressFn& progress, uint64_t done, uint64_t total) {
  if (progress) progress(done, total);
}

}  // namespace cairn::interop
