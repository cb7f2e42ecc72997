// What the fuzz targets (tests/fuzz/*_fuzz.cc) share: how a finding is reported. A target states
// the properties every input must keep (no crash, no undefined behaviour, and the round trips and
// status rules it checks with FUZZ_CHECK); the sanitizers and libFuzzer report any break.
#pragma once

#include <cstdio>
#include <cstdlib>

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
