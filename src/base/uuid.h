// UUIDs in their 36-character lower-case text form (RFC 9562): time-ordered ids for orders,
// commands and events, and the bit-level helpers the log's positional event ids are built on.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

namespace cairn {

// A time-ordered (version 7) UUID. Ids made by one process sort in the order they were made.
std::string NewUuid();

// The text form of the UUID whose 128 bits are `hi` then `lo`.
std::string UuidText(uint64_t hi, uint64_t lo);
// The same 36 characters written to `out`, without allocating (the log's scans decode an id
// per event).
void WriteUuidText(uint64_t hi, uint64_t lo, char (&out)[36]);
// The 128 bits of a UUID in UuidText's form (lower-case hex, dashes at 8, 13, 18, 23); nothing
// for any other text.
std::optional<std::pair<uint64_t, uint64_t>> ParseUuidText(std::string_view text);

// 64 random bits from a per-thread generator (not for secrets).
uint64_t RandomBits();

}  // namespace cairn
