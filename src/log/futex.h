// The bare futex the group-commit queue sleeps on (Log::Rep::wake_epoch): appenders wait on one
// word and a leader wakes its whole group with one call. Used only by append.cc.
#pragma once

#include <linux/futex.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>
#include <climits>
#include <cstdint>

namespace cairn {

// Sleeps while `word` holds `expected`; returns on a wake-up, a change or a signal (callers
// re-check). A bare futex rather than std::atomic::wait: libstdc++ spins and sched_yield()s
// before sleeping, and with dozens of appenders on two CPUs that spinning took ~5 % of all CPU.
inline void FutexWait(std::atomic<uint32_t>& word, uint32_t expected) {
  static_assert(sizeof(std::atomic<uint32_t>) == sizeof(uint32_t));
  syscall(SYS_futex, reinterpret_cast<uint32_t*>(&word), FUTEX_WAIT_PRIVATE, expected, nullptr,
          nullptr, 0);
}

// Wakes every thread sleeping in FutexWait on `word`.
inline void FutexWakeAll(std::atomic<uint32_t>& word) {
  syscall(SYS_futex, reinterpret_cast<uint32_t*>(&word), FUTEX_WAKE_PRIVATE, INT32_MAX, nullptr,
          nullptr, 0);
}

}  // namespace cairn
