// What the fuzz targets (tests/fuzz/*_fuzz.cc) share: how a finding is reported. A target states
// the properties every input must keep (no crash, no undefined behaviour, and the round trips and
// status rules it checks with FUZZ_CHECK); the sanitizers and libFuzzer report any break.
#pragma once

#include <cstddef>
#include <cstdio>
#include <cstdlib>
#include <memory>

// Aborts with the failed property, so that libFuzzer saves the input as a crash and the replay
// test (replay_main.cc) fails on it.
#define FUZZ_CHECK(condition, what)                                                    \
  do {                                                                                 \
    if (!(condition)) {                                                                \
      std::fprintf(stderr, "fuzz property broken at %s:%d: %s\n", __FILE__, __LINE__, \
                   what);                                                              \
      std::abort();                                                                    \
    }                                                                                  \
  } while (0)

namespace cairn::fuzz {

// The one Fixture of a fuzz target process, made anew every `inputs_per_fixture` inputs (so its
// data dir stays small) and destroyed at exit. The exit hook is registered after the first
// fixture was made, so the fixture (its data dir, its server's threads) closes before any
// function-local static it uses (RocksDB's among them) is destroyed.
template <typename Fixture, size_t inputs_per_fixture>
Fixture& FixtureForNextInput() {
  static std::unique_ptr<Fixture> fixture;
  static size_t inputs = 0;
  if (!fixture || ++inputs % inputs_per_fixture == 0) {
    fixture.reset();
    fixture = std::make_unique<Fixture>();
    static const int at_exit = std::atexit([] { fixture.reset(); });
    (void)at_exit;
  }
  return *fixture;
}

}  // namespace cairn::fuzz
