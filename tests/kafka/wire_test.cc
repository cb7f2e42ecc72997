// Unit tests of the Kafka listener's codecs (src/kafka): CRC32C, the wire primitives, record
// batch v2 both ways with every codec Debian has, and the record-to-event mapping's refusals.
#include <doctest/doctest.h>
#include <lz4frame.h>
#include <snappy-c.h>
#include <zlib.h>
#include <zstd.h>

#include <limits>

#include "kafka/compression.h"
#include "kafka/crc32c.h"
#include "kafka/mapping.h"
#include "kafka/record_batch.h"
#include "kafka/wire.h"

namespace cairn::kafka {
namespace {

RecordBatch SampleBatch() {
  RecordBatch b;
  b.base_offset = 42;
  b.base_timestamp = 1'700'000'000'000;
  b.max_timestamp = b.base_timestamp + 7;
  for (int i = 0; i < 3; ++i) {
    Record r;
    r.offset_delta = i;
    r.timestamp_delta = i * 3 - 1;
    r.key = "key-" + std::to_string(i);
    r.value = std::string(size_t(60 + i * 70), char('a' + i));  // lengths across 64 and 128
    r.headers = {{"eventType", "Thing"}, {"empty", std::nullopt}};
    b.records.push_back(r);
  }
  b.records[1].key.reset();
  b.last_offset_delta = 2;
  return b;
}

// The body after the CRC of an encoded batch, re-encoded with `codec` compression.
std::string Compressed(const RecordBatch& batch, Codec codec) {
  std::string plain_batch;
  EncodeRecordBatch(batch, &plain_batch);
  const std::string records = plain_batch.substr(kBatchHeaderBytes);
  std::string packed;
  switch (codec) {
    case Codec::kGzip: {
      uLongf n = compressBound(uLong(records.size()));
      packed.resize(n);
      REQUIRE(compress(reinterpret_cast<Bytef*>(packed.data()), &n,
                       reinterpret_cast<const Bytef*>(records.data()), uLong(records.size())) == Z_OK);
      packed.resize(n);
      break;
    }
    case Codec::kSnappy: {
      size_t n = snappy_max_compressed_length(records.size());
      packed.resize(n);
      REQUIRE(snappy_compress(records.data(), records.size(), packed.data(), &n) == SNAPPY_OK);
      packed.resize(n);
      break;
    }
    case Codec::kLz4: {
      packed.resize(LZ4F_compressFrameBound(records.size(), nullptr));
      const size_t n = LZ4F_compressFrame(packed.data(), packed.size(), records.data(), records.size(), nullptr);
      REQUIRE(!LZ4F_isError(n));
      packed.resize(n);
      break;
    }
    case Codec::kZstd: {
      packed.resize(ZSTD_compressBound(records.size()));
      const size_t n = ZSTD_compress(packed.data(), packed.size(), records.data(), records.size(), 3);
      REQUIRE(!ZSTD_isError(n));
      packed.resize(n);
      break;
    }
    case Codec::kNone: packed = records;
  }
  // Rebuild the header with the codec bit, the new length and CRC.
  std::string header = plain_batch.substr(0, kBatchHeaderBytes);
  header[kBatchPrefixBytes + 4] = 0;
  header[kBatchPrefixBytes + 5] = char(codec);
  std::string out = header + packed;
  WireWriter w;
  w.Raw(out);
  w.PatchInt32(8, int32_t(out.size() - 12));
  w.PatchInt32(kBatchPrefixBytes, int32_t(Crc32c(std::string_view(w.str()).substr(kBatchPrefixBytes + 4))));
  return w.Take();
}

TEST_CASE("crc32c of the check string is the published value") {
  CHECK(Crc32c("123456789") == 0xE3069283u);
  CHECK(Crc32c("") == 0u);
  // The hardware path (8 bytes a step) and the tail agree with the table on odd lengths.
  CHECK(Crc32c(std::string(1000, 'x')) == Crc32c(std::string(1000, 'x')));
}

TEST_CASE("the table and the SSE 4.2 crc32c agree on the check string and on every length") {
  CHECK(Crc32cTableForTest("123456789") == 0xE3069283u);
  CHECK(Crc32cTableForTest("") == 0u);
  const std::optional<uint32_t> hardware = Crc32cHardwareForTest("123456789");
  if (!hardware) {
    MESSAGE("this CPU has no SSE 4.2: only the table path is checked");
    return;
  }
  CHECK(*hardware == 0xE3069283u);
  std::string bytes;
  for (int i = 0; i < 100; ++i) bytes.push_back(char(i * 37 + 11));
  for (size_t n = 0; n <= bytes.size(); ++n) {  // every tail length after 8-byte steps
    const std::string_view prefix = std::string_view(bytes).substr(0, n);
    CHECK(Crc32cHardwareForTest(prefix) == Crc32cTableForTest(prefix));
    CHECK(Crc32c(prefix) == Crc32cTableForTest(prefix));
  }
}

TEST_CASE("zigzag varints round-trip at every byte boundary and at the int64 extremes") {
  const int64_t values[] = {0, -1, 1, 63, -64, 64, -65, 8191, 8192,
                            std::numeric_limits<int64_t>::max(), std::numeric_limits<int64_t>::min()};
  WireWriter w;
  for (int64_t v : values) w.Varint(v);
  WireReader r(w.str());
  for (int64_t v : values) CHECK(r.Varint() == v);
  CHECK(r.ok());
  CHECK(r.remaining() == 0);
  WireWriter one;
  one.Varint(64);
  CHECK(one.str() == std::string("\x80\x01", 2));
}

TEST_CASE("a reader that runs out fails and stays failed") {
  WireReader r(std::string_view("\x00\x05" "abc", 5));
  CHECK(r.String().empty());
  CHECK_FALSE(r.ok());
  CHECK(r.Int32() == 0);
  WireReader lying(std::string_view("\x7f\xff\xff\xff", 4));
  CHECK_FALSE(lying.ArrayLength(4).has_value());
  CHECK_FALSE(lying.ok());
}

TEST_CASE("a record batch round-trips with null keys, null header values and timestamp deltas") {
  const RecordBatch b = SampleBatch();
  std::string bytes;
  EncodeRecordBatch(b, &bytes);
  std::vector<RecordBatch> out;
  REQUIRE_FALSE(DecodeRecordSet(bytes, 1 << 20, &out).has_value());
  REQUIRE(out.size() == 1);
  CHECK(out[0].base_offset == 42);
  CHECK(out[0].base_timestamp == b.base_timestamp);
  CHECK(out[0].records == b.records);
}

TEST_CASE("every codec Debian has decodes to the same records") {
  const RecordBatch b = SampleBatch();
  for (Codec codec : {Codec::kGzip, Codec::kSnappy, Codec::kLz4, Codec::kZstd}) {
    CAPTURE(int(codec));
    std::vector<RecordBatch> out;
    REQUIRE_FALSE(DecodeRecordSet(Compressed(b, codec), 1 << 20, &out).has_value());
    REQUIRE(out.size() == 1);
    CHECK(out[0].records == b.records);
  }
}

TEST_CASE("a flipped byte is a CRC mismatch and an unknown codec is unsupported") {
  std::string bytes;
  EncodeRecordBatch(SampleBatch(), &bytes);
  std::string flipped = bytes;
  flipped.back() ^= 1;
  std::vector<RecordBatch> out;
  auto error = DecodeRecordSet(flipped, 1 << 20, &out);
  REQUIRE(error.has_value());
  CHECK(error->code == KafkaError::kCorruptMessage);
  std::string codec7 = Compressed(SampleBatch(), Codec::kNone);
  codec7[kBatchPrefixBytes + 5] = 7;
  WireWriter w;
  w.Raw(codec7);
  w.PatchInt32(kBatchPrefixBytes, int32_t(Crc32c(std::string_view(codec7).substr(kBatchPrefixBytes + 4))));
  error = DecodeRecordSet(w.str(), 1 << 20, &out);
  REQUIRE(error.has_value());
  CHECK(error->code == KafkaError::kUnsupportedCompressionType);
}

TEST_CASE("a batch whose length runs past the bytes sent is corrupt") {
  std::string bytes;
  EncodeRecordBatch(SampleBatch(), &bytes);
  std::vector<RecordBatch> out;
  auto error = DecodeRecordSet(std::string_view(bytes).substr(0, bytes.size() - 3), 1 << 20, &out);
  REQUIRE(error.has_value());
  CHECK(error->code == KafkaError::kCorruptMessage);
}

TEST_CASE("a decompression bomb past the limit is refused") {
  RecordBatch b = SampleBatch();
  b.records[0].value = std::string(1 << 20, 'z');
  std::vector<RecordBatch> out;
  auto error = DecodeRecordSet(Compressed(b, Codec::kZstd), 64 * 1024, &out);
  REQUIRE(error.has_value());
  CHECK(error->code == KafkaError::kCorruptMessage);
}

TEST_CASE("a keyed record maps to its stream only on murmur2's partition") {
  RecordBatch b = SampleBatch();
  Record r;
  r.key = "6415";
  r.value = "{}";
  const int32_t right = int32_t(PartitionForKey("6415", 8).value());
  ProducedEvent pe;
  REQUIRE_FALSE(RecordToEvent("order-events", right, 8, b, r, &pe).has_value());
  CHECK(pe.stream == "order-6415");
  CHECK(pe.event.type == kDefaultEventType);
  auto error = RecordToEvent("order-events", (right + 1) % 8, 8, b, r, &pe);
  REQUIRE(error.has_value());
  CHECK(error->code == KafkaError::kInvalidRecord);
  CHECK(error->message.find("murmur2") != std::string::npos);
}

TEST_CASE("a null key lands on a stream of the partition it was produced to") {
  RecordBatch b = SampleBatch();
  Record r;
  r.value = "x";
  for (int32_t p = 0; p < 8; ++p) {
    ProducedEvent pe;
    REQUIRE_FALSE(RecordToEvent("things", p, 8, b, r, &pe).has_value());
    CHECK(PartitionForKey(StreamKey(pe.stream), 8).value() == uint32_t(p));
    CHECK(pe.event.metadata.user_id == kKafkaNullKeyWriter);
  }
}

TEST_CASE("a tombstone and a key that is no stream id are invalid records") {
  RecordBatch b = SampleBatch();
  Record tombstone;
  tombstone.key = "k";
  ProducedEvent pe;
  CHECK(RecordToEvent("t", int32_t(PartitionForKey("k", 1).value()), 1, b, tombstone, &pe)->code ==
        KafkaError::kInvalidRecord);
  Record slash;
  slash.key = "a/b";
  slash.value = "v";
  CHECK(RecordToEvent("t", 0, 1, b, slash, &pe)->code == KafkaError::kInvalidRecord);
}

}  // namespace
}  // namespace cairn::kafka
