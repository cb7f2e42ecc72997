// Timestamps as they appear in Cairn's JSON: ISO-8601 in UTC with microseconds,
// "2026-11-01T14:33:00.000000Z". Used by the order views, the API and the importer (the seed's
// events carry "2026-11-01T14:33:00Z").
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "cairn/status.h"

namespace cairn::json {

inline constexpr int64_t kMicrosPerSecond = 1'000'000;
inline constexpr int64_t kMicrosPerDay = 86'400 * kMicrosPerSecond;

// "YYYY-MM-DDTHH:MM:SS.ffffffZ" for microseconds since the Unix epoch (UTC).
// REQUIRES: the year is within 0000..9999.
std::string FormatIsoTime(int64_t micros);

struct ParsedTime {
  int64_t micros = 0;      // since the Unix epoch, UTC
  bool date_only = false;  // the text was "YYYY-MM-DD" (micros is that day's midnight UTC)
};

// Parses "YYYY-MM-DD" or "YYYY-MM-DDTHH:MM[:SS[.fraction]][Z|±HH:MM|±HHMM]" (a missing offset
// means UTC; a fraction has 1-9 digits, truncated to microseconds). Anything else, or a date
// that does not exist (2026-02-30), is kInvalidArgument naming `field`.
Result<ParsedTime> ParseIsoTime(std::string_view text, std::string_view field);

// Days since 1970-01-01 of the UTC day holding `micros` (floor division: negative before 1970).
int64_t DayOf(int64_t micros);

}  // namespace cairn::json
