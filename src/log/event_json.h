// The JSON form of a stored event (DESIGN.md §4 "raw event"), shared by everything that shows
// events to the outside: `cairn export` (one per NDJSON line), `cairn import` (reads it back),
// the HTTP stream/partition reads and the SSE `data:` lines.
//
//   {"id":…, "type":…, "topic":…, "partition":2, "offset":17, "position":"order-events/2/17",
//    "seq":42, "stream":"order-6415…", "version":3, "timestamp":"2026-11-01T14:33:00.000000Z",
//    "metadata":{"commandId":…, "correlationId":…, "causationId":…, "userId":…},
//    "data":{…}}
//
// Lossless: `data` is embedded as JSON when the stored bytes are one valid JSON value with no
// leading or trailing whitespace and no CR or LF (so a line stays one line); any other payload
// is written as "dataBase64":"…" instead of "data". ParseEventJson reverses both exactly, so
// export → import reproduces every byte. `timestamp` is an ISO-8601 string (microseconds, UTC)
// for years 0000-9999, otherwise the integer microseconds since the epoch.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "cairn/log.h"
#include "cairn/status.h"
#include "base/json_reader.h"
#include "base/json_writer.h"

namespace cairn::json {

// Writes the event as one JSON object value onto `w` (e.g. inside an array).
void WriteEvent(JsonWriter& w, const Event& event);
void WriteEvent(JsonWriter& w, const EventView& event);
// The event as one line of JSON (no trailing newline).
std::string EventToJson(const Event& event);
std::string EventToJson(const EventView& event);

// Whether `data` is embedded as JSON (true) or written as dataBase64 (false); see above.
bool EmbedsAsJson(std::string_view data);

// The value the seed service's Kafka producer wrote for an event:
// {"type","aggregateId","version","timestamp","data"}, aggregateId the stream key and data
// embedded as JSON when it is JSON (IsValidJson), else as a string. When `data_at` is given it
// receives where the embedded data starts in the value (npos when data went in as a string):
// the data is then exactly value[*data_at, size - 1). For the Kafka listener's Fetch and the
// Kafka log's records.
std::string SeedRecordValue(const EventView& event, size_t* data_at = nullptr);
// The data of a SeedRecordValue whose data went in as a JSON string. kCorruption otherwise.
Result<std::string> SeedRecordStringData(std::string_view value);

// An event read back from its JSON form. The log assigns partition, offset and seq again on
// append; the values found in the JSON are kept here for callers that want to compare.
struct ParsedEvent {
  Event event;  // partition, offset and seq are 0 when absent from the JSON
  std::optional<uint32_t> partition;
  std::optional<uint64_t> offset;
  std::optional<uint64_t> seq;
};

// Parses one event object. Required: id, type, topic, stream, version (>= 1), timestamp, and
// exactly one of data / dataBase64. Optional: partition, offset, seq, position (which must then
// agree with topic/partition/offset), metadata (missing fields are empty). Unknown fields,
// malformed JSON, data that is not valid JSON and bad base64 are kInvalidArgument naming the
// field.
Result<ParsedEvent> ParseEventJson(std::string_view text);

// Base64 (RFC 4648, standard alphabet, with padding).
std::string Base64Encode(std::string_view bytes);
// Reverses Base64Encode; anything else (bad length, characters or padding) is
// kInvalidArgument "<field> is not valid base64" naming `field`.
Result<std::string> Base64Decode(std::string_view text, std::string_view field);

// Whether `text` is exactly one valid JSON value (full validation, UTF-8 included).
bool IsValidJson(std::string_view text);

// The raw text of `value` as it appears in the document (objects and arrays from their opening
// to their closing bracket, scalars without trailing whitespace). Consumes `value`. The text is
// not validated beyond what skipping it needs: use IsValidJson when it matters.
Result<std::string_view> RawJson(simdjson::ondemand::value value, std::string_view path);

}  // namespace cairn::json
