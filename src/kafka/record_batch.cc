// See record_batch.h. Layout (all big-endian; records use zigzag varints):
//   base_offset i64 | batch_length i32 | partition_leader_epoch i32 | magic i8 | crc u32 |
//   attributes i16 | last_offset_delta i32 | base_timestamp i64 | max_timestamp i64 |
//   producer_id i64 | producer_epoch i16 | base_sequence i32 | record_count i32 | records
// The CRC32C covers attributes to the end of the batch.
#include "kafka/record_batch.h"

#include "kafka/compression.h"
#include "kafka/crc32c.h"
#include "kafka/wire.h"

namespace cairn::kafka {
namespace {

constexpr int16_t kCodecMask = 0x07;
constexpr int16_t kTransactionalBit = 0x10;
constexpr int16_t kControlBit = 0x20;

std::optional<std::string> ReadVarBytes(WireReader& r) {
  const int64_t n = r.Varint();
  if (n < 0 || !r.ok()) return std::nullopt;
  return std::string(r.Take(size_t(n)));
}

bool ReadRecord(WireReader& batch_reader, Record* out) {
  const int64_t length = batch_reader.Varint();
  if (!batch_reader.ok() || length < 0 || size_t(length) > batch_reader.remaining()) return false;
  WireReader r(batch_reader.Take(size_t(length)));
  r.Int8();  // record attributes: unused
  out->timestamp_delta = r.Varint();
  out->offset_delta = int32_t(r.Varint());
  out->key = ReadVarBytes(r);
  out->value = ReadVarBytes(r);
  const int64_t headers = r.Varint();
  if (!r.ok() || headers < 0 || size_t(headers) > r.remaining()) return false;
  for (int64_t i = 0; i < headers; ++i) {
    RecordHeader h;
    std::optional<std::string> key = ReadVarBytes(r);
    if (!key) return false;
    h.key = std::move(*key);
    h.value = ReadVarBytes(r);
    out->headers.push_back(std::move(h));
  }
  return r.ok() && r.remaining() == 0;
}

std::optional<BatchError> Corrupt(std::string message) {
  return BatchError{KafkaError::kCorruptMessage, std::move(message)};
}

std::optional<BatchError> ReadRecords(std::string_view bytes, int32_t count, RecordBatch* batch) {
  WireReader r(bytes);
  if (count < 0 || size_t(count) > bytes.size()) return Corrupt("record count exceeds the batch");
  batch->records.resize(size_t(count));
  for (Record& record : batch->records) {
    if (!ReadRecord(r, &record)) return Corrupt("a record's lengths do not add up");
  }
  if (r.remaining() != 0) return Corrupt("bytes after the batch's last record");
  return std::nullopt;
}

// One batch whose length field says it is `body` (after base_offset and batch_length).
std::optional<BatchError> DecodeBatch(int64_t base_offset, std::string_view body,
                                      size_t max_decompressed_bytes, RecordBatch* batch) {
  WireReader r(body);
  batch->base_offset = base_offset;
  batch->partition_leader_epoch = r.Int32();
  const int8_t magic = r.Int8();
  const uint32_t crc = uint32_t(r.Int32());
  if (!r.ok() || magic != 2) return Corrupt("record batch magic must be 2");
  if (Crc32c(r.rest()) != crc) return Corrupt("record batch CRC32C mismatch");
  batch->attributes = r.Int16();
  batch->last_offset_delta = r.Int32();
  batch->base_timestamp = r.Int64();
  batch->max_timestamp = r.Int64();
  batch->producer_id = r.Int64();
  batch->producer_epoch = r.Int16();
  batch->base_sequence = r.Int32();
  const int32_t count = r.Int32();
  if (!r.ok()) return Corrupt("record batch header is truncated");
  if (batch->attributes & (kTransactionalBit | kControlBit)) {
    return BatchError{KafkaError::kInvalidRecord, "transactional and control batches are not supported"};
  }
  const Codec codec = Codec(batch->attributes & kCodecMask);
  if (codec == Codec::kNone) return ReadRecords(r.rest(), count, batch);
  if (int(codec) > int(Codec::kZstd)) {
    return BatchError{KafkaError::kUnsupportedCompressionType, "unknown compression codec"};
  }
  std::optional<std::string> plain = Decompress(codec, r.rest(), max_decompressed_bytes);
  if (!plain) return Corrupt("compressed records do not decompress (or exceed the size limit)");
  return ReadRecords(*plain, count, batch);
}

void PutVarBytes(WireWriter& w, const std::optional<std::string>& b) {
  if (!b) {
    w.Varint(-1);
    return;
  }
  w.Varint(int64_t(b->size()));
  w.Raw(*b);
}

void EncodeRecord(const Record& record, std::string* out) {
  WireWriter body;
  body.Int8(0);
  body.Varint(record.timestamp_delta);
  body.Varint(record.offset_delta);
  PutVarBytes(body, record.key);
  PutVarBytes(body, record.value);
  body.Varint(int64_t(record.headers.size()));
  for (const RecordHeader& h : record.headers) {
    body.Varint(int64_t(h.key.size()));
    body.Raw(h.key);
    PutVarBytes(body, h.value);
  }
  WireWriter length;
  length.Varint(int64_t(body.size()));
  out->append(length.str());
  out->append(body.str());
}

}  // namespace

std::optional<BatchError> DecodeRecordSet(std::string_view in, size_t max_decompressed_bytes,
                                          std::vector<RecordBatch>* out) {
  WireReader r(in);
  while (r.remaining() > 0) {
    const int64_t base_offset = r.Int64();
    const int32_t length = r.Int32();
    if (!r.ok() || length < int32_t(kBatchHeaderBytes - 12) || size_t(length) > r.remaining()) {
      return Corrupt("record batch length does not match the bytes sent");
    }
    RecordBatch batch;
    std::optional<BatchError> error =
        DecodeBatch(base_offset, r.Take(size_t(length)), max_decompressed_bytes, &batch);
    if (error) return error;
    out->push_back(std::move(batch));
  }
  return std::nullopt;
}

void EncodeRecordBatch(const RecordBatch& batch, std::string* out) {
  WireWriter w;
  w.Int64(batch.base_offset);
  w.Int32(0);  // batch_length, patched below
  w.Int32(batch.partition_leader_epoch);
  w.Int8(2);
  w.Int32(0);  // crc, patched below
  const size_t crc_from = w.size();
  w.Int16(int16_t(batch.attributes & ~kCodecMask));
  w.Int32(batch.last_offset_delta);
  w.Int64(batch.base_timestamp);
  w.Int64(batch.max_timestamp);
  w.Int64(batch.producer_id);
  w.Int16(batch.producer_epoch);
  w.Int32(batch.base_sequence);
  w.Int32(int32_t(batch.records.size()));
  for (const Record& record : batch.records) EncodeRecord(record, &w.str());
  w.PatchInt32(8, int32_t(w.size() - 12));
  w.PatchInt32(crc_from - 4, int32_t(Crc32c(std::string_view(w.str()).substr(crc_from))));
  out->append(w.str());
}

}  // namespace cairn::kafka
