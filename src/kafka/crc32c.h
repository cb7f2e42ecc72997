// CRC-32C (Castagnoli), the checksum of Kafka's record batch v2: over the bytes from the
// attributes field to the end of the batch. Used by record_batch.cc both ways.
#pragma once

#include <cstdint>
#include <string_view>

namespace cairn::kafka {

// CRC32C of `data`; Crc32c("123456789") == 0xE3069283.
uint32_t Crc32c(std::string_view data);

}  // namespace cairn::kafka
