// The wall clock, in the unit every stored timestamp uses.
#pragma once

#include <cstdint>

namespace cairn {

// Microseconds since the Unix epoch, UTC, now.
int64_t NowMicros();

}  // namespace cairn
