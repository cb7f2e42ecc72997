// Fuzz target: a Kafka Produce request's record set (src/kafka/record_batch.h), the largest
// input a Kafka client hands the listener: batch headers, CRC32C, compression, varint records
// and headers.
//
// Input: the record set's bytes, as they follow the partition index in a Produce request.
//
// Properties: no crash and no undefined behaviour in DecodeRecordSet on any input, with a
// decompression bound; a record set it accepts re-encodes (EncodeRecordBatch, what Fetch writes)
// to batches that decode again to the same records: keys, values and headers.
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "fuzz_util.h"
#include "kafka/record_batch.h"

namespace cairn::kafka {
namespace {

constexpr size_t kMaxDecompressed = 1u << 20;

bool SameContent(const Record& a, const Record& b) {
  return a.key == b.key && a.value == b.value && a.headers == b.headers;
}

}  // namespace
}  // namespace cairn::kafka

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace cairn::kafka;
  const std::string_view in(reinterpret_cast<const char*>(data), size);
  std::vector<RecordBatch> batches;
  if (DecodeRecordSet(in, kMaxDecompressed, &batches)) return 0;  // refused with a code
  std::string again;
  for (const RecordBatch& batch : batches) EncodeRecordBatch(batch, &again);
  std::vector<RecordBatch> decoded;
  FUZZ_CHECK(!DecodeRecordSet(again, kMaxDecompressed, &decoded),
             "a re-encoded record set decodes");
  FUZZ_CHECK(decoded.size() == batches.size(), "as many batches after re-encoding");
  for (size_t b = 0; b < batches.size(); ++b) {
    FUZZ_CHECK(decoded[b].records.size() == batches[b].records.size(),
               "as many records after re-encoding");
    for (size_t r = 0; r < batches[b].records.size(); ++r) {
      FUZZ_CHECK(SameContent(decoded[b].records[r], batches[b].records[r]),
                 "the same keys, values and headers after re-encoding");
    }
  }
  return 0;
}
