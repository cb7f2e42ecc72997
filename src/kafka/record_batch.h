// Kafka's record batch, magic v2: the unit Produce carries in and Fetch carries out. Decoding
// checks the CRC32C and the lengths and undoes compression; encoding writes uncompressed batches
// with their CRC. Called by the Produce and Fetch handlers and by the raw-socket tests.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
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

// A record to encode, by views (Fetch builds them from stored events without copying).
struct HeaderView {
  std::string_view key;
  std::optional<std::string_view> value;
};
struct RecordView {
  int64_t timestamp = 0;  // ms since the epoch
  int64_t offset = 0;
  std::optional<std::string_view> key;
  std::optional<std::string_view> value;
  std::span<const HeaderView> headers;
};

// Writes one uncompressed batch in place at the end of `*out`, a record at a time; Finish()
// fills in the header (count, deltas, timestamps, length, CRC). Producer fields are -1.
class RecordBatchWriter {
 public:
  // `base_timestamp`: the header's; nothing: the first record's time.
  RecordBatchWriter(std::string* out, int64_t base_offset,
                    std::optional<int64_t> base_timestamp = std::nullopt);
  // REQUIRES: records come in offset order, from base_offset on.
  void Add(const RecordView& record);
  size_t records() const { return count_; }
  void Finish();

 private:
  std::string* out_;
  size_t start_;
  int64_t base_offset_;
  std::optional<int64_t> base_timestamp_;
  int64_t max_timestamp_ = 0;
  int64_t last_offset_ = 0;
  size_t count_ = 0;
};

// Appends `batch` uncompressed to `out`: its base offset, base timestamp and records, with the
// length, deltas, max timestamp and CRC computed (attributes 0, producer fields -1).
void EncodeRecordBatch(const RecordBatch& batch, std::string* out);

}  // namespace cairn::kafka
