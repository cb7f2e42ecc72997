// Records captured from Kafka with `kcat -C -J`, mapped to Cairn events (DESIGN.md §5), for the
// importer (interop/import.h). A kcat line looks like
//   {"topic":"order-events","partition":0,"offset":0,"tstype":"create","ts":1795638190190,
//    "broker":1,"headers":["eventType","ORDER_CREATED","aggregateId","6415…","version","1"],
//    "key":"6415…","payload":"{\"type\": …, \"aggregateId\": …, \"version\": 1,
//    \"timestamp\": \"2026-11-01T14:33:00Z\", \"data\": {…}}"}
// and maps to: type ← payload.type (header eventType); stream ← "<prefix>-" + payload.aggregateId
// (header aggregateId, then the record key); version ← payload.version (header version);
// data ← payload.data, byte for byte; timestamp ← payload.timestamp (ISO-8601), else ts (ms);
// topic kept; event id ← KafkaEventId(topic, partition, offset), so importing the same records
// again skips them. Headers are kcat's flat [name, value, name, value, …] array (a value may be
// null); the first pair with a name wins.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "cairn/log.h"
#include "cairn/status.h"

namespace cairn::interop {

// The namespace of KafkaEventId: uuid5(NAMESPACE_URL, "urn:cairn:kafka-import").
inline constexpr std::string_view kKafkaImportNamespace = "15d0c59c-7262-569d-a4d2-0e0a0ca710c7";

// A UUID (version 5) of "<topic>/<partition>/<offset>" in kKafkaImportNamespace, e.g.
// python3 -c 'import uuid; print(uuid.uuid5(uuid.UUID("15d0c59c-7262-569d-a4d2-0e0a0ca710c7"),
// "order-events/0/0"))' prints e62df1c1-a816-5852-87f4-841b04243050.
std::string KafkaEventId(std::string_view topic, int64_t partition, int64_t offset);

struct KafkaRecordOptions {
  // Streams are "<stream_prefix>-<aggregateId>"; empty: the aggregate id alone. Default: order.
  std::string stream_prefix = "order";
};

struct KafkaEvent {
  // Where the record was in Kafka. 0 <= partition <= INT32_MAX, offset >= 0.
  std::string topic;
  int64_t partition = 0;
  int64_t offset = 0;
  std::string aggregate_id;
  std::string stream;
  uint64_t version = 0;  // >= 1
  NewEvent event;        // id, type, data and timestamp set; metadata empty
};

// Whether `line` is a JSON object with a top-level "payload" field (a kcat -J record) rather
// than a Cairn event.
bool IsKcatRecord(std::string_view line);

// Maps one kcat -J line. kInvalidArgument whose message starts with the field it is about, also
// set as field(): "payload.version is required (or header version)", "payload is null (a
// tombstone)", "headers must be [name, value, …] pairs, not 3 elements".
Result<KafkaEvent> ParseKcatRecord(std::string_view line, const KafkaRecordOptions& options);

}  // namespace cairn::interop
