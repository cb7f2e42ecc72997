// See kafka_record.h. A line is read in two steps: ReadKcatLine walks the JSON once (simdjson
// On-Demand reads each value once, in order) into a KcatLine of what was there; then each
// event field is taken from the payload or its fallback, with an error naming where it was
// looked for.
#include "interop/kafka_record.h"

#include <cstdint>
#include <limits>
#include <optional>
#include <vector>

#include "base/iso_time.h"
#include "base/json_reader.h"
#include "base/parse.h"
#include "interop/name_uuid.h"
#include "log/event_json.h"

namespace cairn::interop {
namespace {

// kcat's flat [name, value, …] array; a null stays nullopt.
using Headers = std::vector<std::optional<std::string>>;

// The seed's event JSON inside the payload.
struct Payload {
  std::optional<std::string> type;
  std::optional<std::string> aggregate_id;
  std::optional<uint64_t> version;
  std::optional<int64_t> timestamp_us;
  std::optional<std::string> data;
};

// One kcat line as read, before anything is required of it.
struct KcatLine {
  std::optional<std::string> topic, key;
  std::optional<int64_t> partition, offset, ts;
  Headers headers;
  bool has_payload = false;
  Payload payload;
};

// ---- Reading the JSON -----------------------------------------------------------------------

Status ReadVersion(json::Value v, std::string_view path, std::optional<uint64_t>* out) {
  CAIRN_ASSIGN_OR_RETURN(const int64_t version, json::ReadInt(v, path));
  if (version < 1) return json::FieldError(path, "must be at least 1");
  *out = uint64_t(version);
  return Status::Ok();
}

Status ReadTimestamp(json::Value v, std::string_view path, std::optional<int64_t>* out) {
  CAIRN_ASSIGN_OR_RETURN(const std::string text, json::ReadString(v, path));
  CAIRN_ASSIGN_OR_RETURN(const json::ParsedTime time, json::ParseIsoTime(text, path));
  *out = time.micros;
  return Status::Ok();
}

// The data exactly as the producer wrote it, which must be valid JSON.
Status ReadData(json::Value v, std::string_view path, std::optional<std::string>* out) {
  CAIRN_ASSIGN_OR_RETURN(const std::string_view raw, json::RawJson(v, path));
  if (!json::IsValidJson(raw)) return json::FieldError(path, "is not valid JSON");
  *out = std::string(raw);
  return Status::Ok();
}

Status ReadPayloadFields(json::Object& object, Payload* p) {
  return json::ForEachField(object, "payload", [&](std::string_view key, json::Value v) -> Status {
    const std::string path = json::JoinPath("payload", key);
    if (key == "type") return json::Assign(json::ReadString(v, path), &p->type);
    if (key == "aggregateId") return json::Assign(json::ReadString(v, path), &p->aggregate_id);
    if (key == "version") return ReadVersion(v, path, &p->version);
    if (key == "timestamp") return ReadTimestamp(v, path, &p->timestamp_us);
    if (key == "data") return ReadData(v, path, &p->data);
    return Status::Ok();  // other fields of the producer's envelope are not part of the event
  });
}

// The payload as kcat prints it: a string holding the producer's JSON.
Status ParsePayloadText(std::string_view text, Payload* p) {
  json::Input input(text);
  Result<json::Object> root = input.RootObject();
  if (!root.ok()) {
    return json::FieldError("payload", "is not a JSON object (" + root.status().message() + ")");
  }
  CAIRN_RETURN_IF_ERROR(ReadPayloadFields(*root, p));
  return input.ExpectEnd();
}

// A string payload, or the JSON object itself (tools other than kcat embed it).
Status ReadPayload(json::Value v, Payload* p) {
  if (json::IsNull(v)) return json::FieldError("payload", "is null (a tombstone)");
  simdjson::ondemand::json_type type;
  if (v.type().get(type)) return json::FieldError("payload", "is malformed JSON");
  if (type == simdjson::ondemand::json_type::object) {
    json::Object object;
    if (v.get_object().get(object)) return json::FieldError("payload", "is malformed JSON");
    return ReadPayloadFields(object, p);
  }
  CAIRN_ASSIGN_OR_RETURN(const std::string text, json::ReadString(v, "payload"));
  return ParsePayloadText(text, p);
}

Status ReadHeaders(json::Value v, Headers* headers) {
  if (json::IsNull(v)) return Status::Ok();
  CAIRN_ASSIGN_OR_RETURN(json::Array array, json::ReadArray(v, "headers"));
  Status read = json::ForEachElement(array, "headers", [&](size_t i, json::Value h) -> Status {
    if (json::IsNull(h)) {
      headers->emplace_back();
      return Status::Ok();
    }
    CAIRN_ASSIGN_OR_RETURN(std::string text, json::ReadString(h, json::IndexPath("headers", i)));
    headers->emplace_back(std::move(text));
    return Status::Ok();
  });
  CAIRN_RETURN_IF_ERROR(read);
  if (headers->size() % 2 != 0) {
    return json::FieldError("headers", "must be [name, value, …] pairs, not " +
                                           std::to_string(headers->size()) + " elements");
  }
  return Status::Ok();
}

Result<KcatLine> ReadKcatLine(std::string_view text) {
  json::Input input(text);
  CAIRN_ASSIGN_OR_RETURN(json::Object root, input.RootObject());
  KcatLine line;
  Status read = json::ForEachField(root, "", [&](std::string_view field, json::Value v) -> Status {
    if (field == "topic") return json::Assign(json::ReadString(v, field), &line.topic);
    if (field == "partition") return json::Assign(json::ReadInt(v, field), &line.partition);
    if (field == "offset") return json::Assign(json::ReadInt(v, field), &line.offset);
    if (field == "ts") return json::Assign(json::ReadInt(v, field), &line.ts);
    if (field == "key") {
      if (json::IsNull(v)) return Status::Ok();
      return json::Assign(json::ReadString(v, field), &line.key);
    }
    if (field == "headers") return ReadHeaders(v, &line.headers);
    if (field == "payload") {
      line.has_payload = true;
      return ReadPayload(v, &line.payload);
    }
    return Status::Ok();  // tstype, broker, ... of this kcat version
  });
  CAIRN_RETURN_IF_ERROR(read);
  CAIRN_RETURN_IF_ERROR(input.ExpectEnd());
  return line;
}

// ---- Mapping to an event ----------------------------------------------------------------------

// Where the record was: a topic Cairn can hold, a Kafka partition number and an offset.
Status CheckPosition(const KcatLine& line) {
  if (!line.has_payload) return json::MissingField("payload");
  if (!line.topic) return json::MissingField("topic");
  if (!line.partition || *line.partition < 0) {
    return json::FieldError("partition", "is required (>= 0)");
  }
  if (*line.partition > std::numeric_limits<int32_t>::max()) {
    return json::FieldError("partition", "is out of range (a Kafka partition is at most 2147483647)");
  }
  if (!line.offset || *line.offset < 0) return json::FieldError("offset", "is required (>= 0)");
  if (Status s = ValidateTopicName(*line.topic); !s.ok()) return json::FieldError("topic", s.message());
  return Status::Ok();
}

std::optional<std::string> HeaderValue(const Headers& headers, std::string_view name) {
  for (size_t i = 0; i + 1 < headers.size(); i += 2) {
    if (headers[i] && *headers[i] == name && headers[i + 1]) return headers[i + 1];
  }
  return std::nullopt;
}

Result<std::string> EventTypeOf(const KcatLine& line) {
  std::string path = "payload.type";
  std::optional<std::string> type = line.payload.type;
  if (!type && (type = HeaderValue(line.headers, "eventType"))) path = "headers.eventType";
  if (!type) return json::FieldError("payload.type", "is required (or header eventType)");
  if (Status s = ValidateEventType(*type); !s.ok()) return json::FieldError(path, s.message());
  return *type;
}

Result<std::string> AggregateIdOf(const KcatLine& line) {
  if (line.payload.aggregate_id) return *line.payload.aggregate_id;
  if (std::optional<std::string> header = HeaderValue(line.headers, "aggregateId")) return *header;
  if (line.key) return *line.key;
  return json::FieldError("payload.aggregateId", "is required (or header aggregateId, or a key)");
}

Result<std::string> StreamOf(const std::string& aggregate_id, const KafkaRecordOptions& options) {
  std::string stream = options.stream_prefix.empty() ? aggregate_id
                                                     : options.stream_prefix + "-" + aggregate_id;
  if (Status s = ValidateStreamId(stream); !s.ok()) {
    return json::FieldError("payload.aggregateId", "gives stream '" + stream + "': " + s.message());
  }
  return stream;
}

Result<uint64_t> VersionOf(const KcatLine& line) {
  if (line.payload.version) return *line.payload.version;
  const std::optional<std::string> header = HeaderValue(line.headers, "version");
  if (!header) return json::FieldError("payload.version", "is required (or header version)");
  const std::optional<uint64_t> version = ParseNumber<uint64_t>(*header);
  if (!version || *version < 1) {
    return json::FieldError("headers.version", "must be a number >= 1, not '" + *header + "'");
  }
  return *version;
}

Result<int64_t> TimestampOf(const KcatLine& line) {
  if (line.payload.timestamp_us) return *line.payload.timestamp_us;
  if (!line.ts || *line.ts <= 0) {
    return json::FieldError("payload.timestamp", "is required (or a record ts)");
  }
  if (*line.ts > std::numeric_limits<int64_t>::max() / 1000) {
    return json::FieldError("ts", "is out of range (milliseconds since the epoch)");
  }
  return *line.ts * 1000;
}

}  // namespace

std::string KafkaEventId(std::string_view topic, int64_t partition, int64_t offset) {
  return Uuid5(kKafkaImportNamespace,
               std::string(topic) + '/' + std::to_string(partition) + '/' + std::to_string(offset));
}

bool IsKcatRecord(std::string_view line) {
  json::Input input(line);
  Result<json::Object> root = input.RootObject();
  if (!root.ok()) return false;
  bool found = false;
  Status s = json::ForEachField(*root, "", [&](std::string_view key, json::Value) {
    found |= key == "payload";
    return Status::Ok();
  });
  return s.ok() && found;
}

Result<KafkaEvent> ParseKcatRecord(std::string_view text, const KafkaRecordOptions& options) {
  CAIRN_ASSIGN_OR_RETURN(KcatLine line, ReadKcatLine(text));
  CAIRN_RETURN_IF_ERROR(CheckPosition(line));
  KafkaEvent out;
  out.topic = *line.topic;
  out.partition = *line.partition;
  out.offset = *line.offset;
  CAIRN_ASSIGN_OR_RETURN(out.event.type, EventTypeOf(line));
  CAIRN_ASSIGN_OR_RETURN(out.aggregate_id, AggregateIdOf(line));
  CAIRN_ASSIGN_OR_RETURN(out.stream, StreamOf(out.aggregate_id, options));
  CAIRN_ASSIGN_OR_RETURN(out.version, VersionOf(line));
  if (!line.payload.data) return json::FieldError("payload.data", "is required");
  out.event.data = std::move(*line.payload.data);
  CAIRN_ASSIGN_OR_RETURN(out.event.timestamp_us, TimestampOf(line));
  out.event.id = KafkaEventId(out.topic, out.partition, out.offset);
  return out;
}

}  // namespace cairn::interop
