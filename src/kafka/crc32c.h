// CRC-32C (Castagnoli), the checksum of Kafka's record batch v2: over the bytes from the
// attributes field to the end of the batch. Used by record_batch.cc both ways.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

namespace cairn::kafka {

// CRC32C of `data`; Crc32c("123456789") == 0xE3069283.
uint32_t Crc32c(std::string_view data);

// The two implementations Crc32c picks between at run time, for tests that must check both on
// any machine: the table (always there) and SSE 4.2 (nothing when the CPU lacks it).
uint32_t Crc32cTableForTest(std::string_view data);
std::optional<uint32_t> Crc32cHardwareForTest(std::string_view data);

}  // namespace cairn::kafka
