// Kafka's record batch, magic v2: the unit Produce carries in and Fetch carries out. Decoding
// checks the CRC32C and the lengths and undoes compression; encoding writes uncompressed batches
// with their CRC. Called by the Produce and Fetch handlers and by the raw-socket tests.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "kafka/protocol.h"

namespace cairn::kafka {

struct RecordHeader {
  std::string key;
  std::optional<std::string> value;
  bool operator==(const RecordHeader&) const = default;
};

struct Record {
  int64_t timestamp_delta = 0;
  int32_t offset_delta = 0;
  std::optional<std::string> key;    // null key: nullopt
  std::optional<std::string> value;  // null value (a tombstone): nullopt
  std::vector<RecordHeader> headers;
  bool operator==(const Record&) const = default;
};

// The 61-byte header's fields and the records, decompressed.
struct RecordBatch {
  int64_t base_offset = 0;
  int32_t partition_leader_epoch = -1;
  int16_t attributes = 0;
  int32_t last_offset_delta = 0;
  int64_t base_timestamp = 0;  // ms since the epoch
  int64_t max_timestamp = 0;
  int64_t producer_id = -1;
  int16_t producer_epoch = -1;
  int32_t base_sequence = -1;
  std::vector<Record> records;
};

inline constexpr size_t kBatchHeaderBytes = 61;
// Bytes from base_offset through magic: what precedes the CRC'd part of the header.
inline constexpr size_t kBatchPrefixBytes = 17;

struct BatchError {
  KafkaError code;
  std::string message;
};

// Decodes the batches of one partition's record set (a Produce request's `records`). Errors:
// kCorruptMessage (bad CRC, lengths that do not add up, magic other than 2, record count that
// disagrees), kUnsupportedCompressionType (a codec Cairn cannot decode), kInvalidRecord (a
// control or transactional batch). `max_decompressed_bytes` bounds each batch's records.
std::optional<BatchError> DecodeRecordSet(std::string_view in, size_t max_decompressed_bytes,
                                          std::vector<RecordBatch>* out);

// Appends `batch` (records uncompressed, attributes' codec bits ignored) to `out`, with its
// length, last_offset_delta and CRC computed.
void EncodeRecordBatch(const RecordBatch& batch, std::string* out);

}  // namespace cairn::kafka
