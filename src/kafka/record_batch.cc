// See record_batch.h. Layout (all big-endian; records use zigzag varints):
//   base_offset i64 | batch_length i32 | partition_leader_epoch i32 | magic i8 | crc u32 |
//   attributes i16 | last_offset_delta i32 | base_timestamp i64 | max_timestamp i64 |
//   producer_id i64 | producer_epoch i16 | base_sequence i32 | record_count i32 | records
// The CRC32C covers attributes to the end of the batch.
#include "kafka/record_batch.h"

#include <algorithm>
#include <cstring>

#include "base/bytes.h"

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

size_t VarintSize(int64_t v) {
  uint64_t u = bytes::ZigZagEncode(v);
  size_t n = 1;
  while (u >= 0x80) {
    u >>= 7;
    ++n;
  }
  return n;
}

size_t VarBytesSize(const std::optional<std::string_view>& b) {
  return b ? VarintSize(int64_t(b->size())) + b->size() : VarintSize(-1);
}

// Writers into a buffer already sized by the *Size functions above: Fetch encodes every record
// this way, so a record costs one resize of the response instead of a push_back per byte.
char* WriteVarint(char* p, int64_t v) {
  uint64_t u = bytes::ZigZagEncode(v);
  while (u >= 0x80) {
    *p++ = char((u & 0x7f) | 0x80);
    u >>= 7;
  }
  *p++ = char(u);
  return p;
}

char* WriteVarBytes(char* p, const std::optional<std::string_view>& b) {
  if (!b) return WriteVarint(p, -1);
  p = WriteVarint(p, int64_t(b->size()));
  std::memcpy(p, b->data(), b->size());
  return p + b->size();
}

// A record: its length (a varint) first, so the body's size is computed, not measured.
void EncodeRecord(const RecordView& r, int64_t timestamp_delta, int64_t offset_delta, std::string* out) {
  size_t body = 1 + VarintSize(timestamp_delta) + VarintSize(offset_delta) + VarBytesSize(r.key) +
                VarBytesSize(r.value) + VarintSize(int64_t(r.headers.size()));
  for (const HeaderView& h : r.headers) body += VarBytesSize(h.key) + VarBytesSize(h.value);
  const size_t at = out->size();
  out->resize(at + VarintSize(int64_t(body)) + body);
  char* p = WriteVarint(out->data() + at, int64_t(body));
  *p++ = 0;  // attributes
  p = WriteVarint(p, timestamp_delta);
  p = WriteVarint(p, offset_delta);
  p = WriteVarBytes(p, r.key);
  p = WriteVarBytes(p, r.value);
  p = WriteVarint(p, int64_t(r.headers.size()));
  for (const HeaderView& h : r.headers) {
    p = WriteVarBytes(p, h.key);
    p = WriteVarBytes(p, h.value);
  }
}

void PatchBigEndian(std::string* out, size_t at, uint64_t v, size_t n) {
  for (size_t i = 0; i < n; ++i) (*out)[at + i] = char(v >> (8 * (n - 1 - i)));
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

RecordBatchWriter::RecordBatchWriter(std::string* out, int64_t base_offset,
                                     std::optional<int64_t> base_timestamp)
    : out_(out), start_(out->size()), base_offset_(base_offset), base_timestamp_(base_timestamp) {
  out_->append(kBatchHeaderBytes, '\0');
}

void RecordBatchWriter::Add(const RecordView& record) {
  if (!base_timestamp_) base_timestamp_ = record.timestamp;
  max_timestamp_ = count_ == 0 ? record.timestamp : std::max(max_timestamp_, record.timestamp);
  last_offset_ = record.offset;
  EncodeRecord(record, record.timestamp - *base_timestamp_, record.offset - base_offset_, out_);
  ++count_;
}

void RecordBatchWriter::Finish() {
  std::string& o = *out_;
  const size_t s = start_;
  PatchBigEndian(&o, s, uint64_t(base_offset_), 8);
  PatchBigEndian(&o, s + 8, o.size() - s - 12, 4);                   // batch_length
  PatchBigEndian(&o, s + 12, uint32_t(-1), 4);                       // partition_leader_epoch
  o[s + 16] = 2;                                                     // magic
  PatchBigEndian(&o, s + 21, 0, 2);                                  // attributes
  PatchBigEndian(&o, s + 23, uint64_t(last_offset_ - base_offset_), 4);
  PatchBigEndian(&o, s + 27, uint64_t(base_timestamp_.value_or(0)), 8);
  PatchBigEndian(&o, s + 35, uint64_t(max_timestamp_), 8);
  PatchBigEndian(&o, s + 43, uint64_t(-1), 8);                       // producer_id
  PatchBigEndian(&o, s + 51, uint16_t(-1), 2);                       // producer_epoch
  PatchBigEndian(&o, s + 53, uint32_t(-1), 4);                       // base_sequence
  PatchBigEndian(&o, s + 57, count_, 4);
  const uint32_t crc = Crc32c(std::string_view(o).substr(s + kBatchPrefixBytes + 4));
  PatchBigEndian(&o, s + kBatchPrefixBytes, crc, 4);
}

void EncodeRecordBatch(const RecordBatch& batch, std::string* out) {
  RecordBatchWriter w(out, batch.base_offset, batch.base_timestamp);
  for (const Record& r : batch.records) {
    std::vector<HeaderView> headers;
    for (const RecordHeader& h : r.headers) headers.push_back({h.key, h.value});
    RecordView view{batch.base_timestamp + r.timestamp_delta, batch.base_offset + r.offset_delta,
                    r.key, r.value, headers};
    w.Add(view);
  }
  w.Finish();
}

}  // namespace cairn::kafka
