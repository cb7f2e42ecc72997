// Running independent pieces of work on a few threads.
#pragma once

#include <cstddef>
#include <functional>

namespace cairn {

// Calls work(i) for every i in [0, n) on up to `threads` threads (the caller's included), each
// thread taking the next i not taken yet; returns when every call has.
void ForEachInParallel(size_t n, size_t threads, const std::function<void(size_t)>& work);

}  // namespace cairn
