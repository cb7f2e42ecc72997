// See event_json.h.
#include "log/event_json.h"

#include <simdjson.h>

#include "base/iso_time.h"

namespace cairn::json {
namespace {

constexpr std::string_view kAlphabet =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

// FormatIsoTime's range: 0000-01-01 .. 9999-12-31 (µs since the epoch).
constexpr int64_t kMinIsoMicros = -62'167'219'200'000'000;
constexpr int64_t kMaxIsoMicros = 253'402'300'799'999'999;

bool IsJsonSpace(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

void WriteFields(JsonWriter& w, const Event& e) {
  w.BeginObject();
  w.Key("id").String(e.id);
  w.Key("type").String(e.type);
  w.Key("topic").String(e.topic);
  w.Key("partition").Uint(e.partition.value());
  w.Key("offset").Uint(e.offset.value());
  w.Key("position").String(e.position().ToString());
  w.Key("seq").Uint(e.seq.value());
  w.Key("stream").String(e.stream);
  w.Key("version").Uint(e.version.value());
  if (e.timestamp_us >= kMinIsoMicros && e.timestamp_us <= kMaxIsoMicros) {
    w.Key("timestamp").String(FormatIsoTime(e.timestamp_us));
  } else {
    w.Key("timestamp").Int(e.timestamp_us);
  }
  w.Key("metadata").BeginObject();
  w.Key("commandId").String(e.metadata.command_id);
  w.Key("correlationId").String(e.metadata.correlation_id);
  w.Key("causationId").String(e.metadata.causation_id);
  w.Key("userId").String(e.metadata.user_id);
  w.EndObject();
  if (EmbedsAsJson(e.data)) {
    w.Key("data").Raw(e.data);
  } else {
    w.Key("dataBase64").String(Base64Encode(e.data));
  }
  w.EndObject();
}

Result<uint64_t> ReadUnsigned(Value v, std::string_view path, uint64_t min, uint64_t max) {
  CAIRN_ASSIGN_OR_RETURN(const int64_t n, ReadInt(v, path));
  if (n < 0 || uint64_t(n) < min || uint64_t(n) > max) {
    return FieldError(path, "must be between " + std::to_string(min) + " and " +
                                std::to_string(max));
  }
  return uint64_t(n);
}

Status ReadMetadata(Value v, EventMetadata* out) {
  CAIRN_ASSIGN_OR_RETURN(Object object, ReadObject(v, "metadata"));
  return ForEachField(object, "metadata", [&](std::string_view key, Value field) -> Status {
    std::string* slot = key == "commandId"       ? &out->command_id
                        : key == "correlationId" ? &out->correlation_id
                        : key == "causationId"   ? &out->causation_id
                        : key == "userId"        ? &out->user_id
                                                 : nullptr;
    if (!slot) return UnknownField("metadata", key);
    if (IsNull(field)) return Status::Ok();
    return Assign(ReadString(field, JoinPath("metadata", key)), slot);
  });
}

Result<int64_t> ReadTimestamp(Value v) {
  simdjson::ondemand::json_type type;
  if (v.type().get(type)) return FieldError("timestamp", "is malformed JSON");
  if (type == simdjson::ondemand::json_type::number) return ReadInt(v, "timestamp");
  Result<std::string> text = ReadString(v, "timestamp");
  if (!text.ok()) return FieldError("timestamp", "must be an ISO-8601 string or microseconds");
  CAIRN_ASSIGN_OR_RETURN(const ParsedTime parsed, ParseIsoTime(*text, "timestamp"));
  return parsed.micros;
}

// `data` embedded as JSON: its raw text, which must be one valid JSON value.
Status ReadEmbeddedData(Value v, std::string_view key, std::string* out) {
  CAIRN_ASSIGN_OR_RETURN(const std::string_view raw, RawJson(v, key));
  if (!IsValidJson(raw)) return FieldError(key, "is not valid JSON");
  out->assign(raw.data(), raw.size());
  return Status::Ok();
}

// The fields of one event object as ParseEventJson reads them, in any order: Read() takes each
// field, Finish() checks that the required ones came and that `position` agrees.
class EventFields {
 public:
  Status Read(std::string_view key, Value v) {
    if (key == "id") return ReadRequired(v, key, &seen_.id, &event().id);
    if (key == "type") return ReadRequired(v, key, &seen_.type, &event().type);
    if (key == "topic") return ReadRequired(v, key, &seen_.topic, &event().topic);
    if (key == "stream") return ReadRequired(v, key, &seen_.stream, &event().stream);
    if (key == "position") return Assign(ReadString(v, key), &position_);
    if (key == "partition" || key == "offset" || key == "seq") return ReadCoordinate(key, v);
    if (key == "version") return ReadVersion(v);
    if (key == "timestamp") {
      seen_.timestamp = true;
      return Assign(ReadTimestamp(v), &event().timestamp_us);
    }
    if (key == "metadata") return ReadMetadata(v, &event().metadata);
    if (key == "data" || key == "dataBase64") return ReadData(key, v);
    return UnknownField("", key);
  }

  Result<ParsedEvent> Finish() {
    if (!seen_.id) return MissingField("id");
    if (!seen_.type) return MissingField("type");
    if (!seen_.topic) return MissingField("topic");
    if (!seen_.stream) return MissingField("stream");
    if (!seen_.version) return MissingField("version");
    if (!seen_.timestamp) return MissingField("timestamp");
    if (!seen_.data) return MissingField("data");
    const Event& e = parsed_.event;
    if (position_ && parsed_.partition && parsed_.offset && *position_ != e.position().ToString()) {
      return FieldError("position", "does not match topic, partition and offset (" +
                                        e.position().ToString() + ")");
    }
    return std::move(parsed_);
  }

 private:
  Event& event() { return parsed_.event; }

  static Status ReadRequired(Value v, std::string_view key, bool* seen, std::string* out) {
    *seen = true;
    return Assign(ReadString(v, key), out);
  }

  // partition, offset or seq: kept both in the event and as "given in the JSON".
  Status ReadCoordinate(std::string_view key, Value v) {
    if (key == "partition") {
      CAIRN_ASSIGN_OR_RETURN(const uint64_t n, ReadUnsigned(v, key, 0, UINT32_MAX));
      parsed_.partition = uint32_t(n);
      event().partition = PartitionId(uint32_t(n));
      return Status::Ok();
    }
    CAIRN_ASSIGN_OR_RETURN(const uint64_t n, ReadUnsigned(v, key, 0, INT64_MAX));
    if (key == "offset") {
      parsed_.offset = n;
      event().offset = Offset(n);
    } else {
      parsed_.seq = n;
      event().seq = Seq(n);
    }
    return Status::Ok();
  }

  Status ReadVersion(Value v) {
    seen_.version = true;
    CAIRN_ASSIGN_OR_RETURN(const uint64_t n, ReadUnsigned(v, "version", 1, INT64_MAX));
    event().version = StreamVersion(n);
    return Status::Ok();
  }

  // Exactly one of data (embedded JSON) and dataBase64.
  Status ReadData(std::string_view key, Value v) {
    if (seen_.data) return FieldError(key, "cannot be given together with data / dataBase64");
    seen_.data = true;
    if (key == "data") return ReadEmbeddedData(v, key, &event().data);
    CAIRN_ASSIGN_OR_RETURN(const std::string encoded, ReadString(v, key));
    return Assign(Base64Decode(encoded, key), &event().data);
  }

  ParsedEvent parsed_;
  std::optional<std::string> position_;
  struct {
    bool id = false, type = false, topic = false, stream = false;
    bool version = false, timestamp = false, data = false;
  } seen_;
};

}  // namespace

bool IsValidJson(std::string_view text) {
  thread_local simdjson::dom::parser parser;
  simdjson::dom::element element;
  return !parser.parse(simdjson::padded_string(text)).get(element);
}

bool EmbedsAsJson(std::string_view data) {
  if (data.empty() || IsJsonSpace(data.front()) || IsJsonSpace(data.back())) return false;
  if (data.find_first_of("\r\n") != std::string_view::npos) return false;
  return IsValidJson(data);
}

std::string SeedRecordValue(const EventView& event, size_t* data_at) {
  JsonWriter w;
  w.BeginObject();
  w.Key("type").String(event.type());
  w.Key("aggregateId").String(StreamKey(event.stream()));
  w.Key("version").Uint(event.version().value());
  w.Key("timestamp").String(FormatIsoTime(event.timestamp_us()));
  w.Key("data");
  size_t at = std::string_view::npos;
  if (IsValidJson(event.data())) {
    at = w.str().size();
    w.Raw(event.data());
  } else {
    w.String(event.data());
  }
  w.EndObject();
  if (data_at != nullptr) *data_at = at;
  return w.Take();
}

Result<std::string> SeedRecordStringData(std::string_view value) {
  thread_local simdjson::dom::parser parser;
  simdjson::dom::element root;
  std::string_view data;
  if (parser.parse(simdjson::padded_string(value)).get(root) ||
      root["data"].get_string().get(data)) {
    return Status::Corruption("a record value has no string \"data\" field");
  }
  return std::string(data);
}

void WriteEvent(JsonWriter& w, const Event& event) { WriteFields(w, event); }
void WriteEvent(JsonWriter& w, const EventView& event) { WriteFields(w, event.ToEvent()); }

std::string EventToJson(const Event& event) {
  JsonWriter w;
  WriteFields(w, event);
  return w.Take();
}

std::string EventToJson(const EventView& event) { return EventToJson(event.ToEvent()); }

Result<std::string_view> RawJson(Value value, std::string_view path) {
  simdjson::ondemand::json_type type;
  if (value.type().get(type)) return FieldError(path, "is malformed JSON");
  std::string_view raw;
  simdjson::error_code error = simdjson::SUCCESS;
  if (type == simdjson::ondemand::json_type::object) {
    simdjson::ondemand::object object;
    error = value.get_object().get(object);
    if (!error) error = object.raw_json().get(raw);
  } else if (type == simdjson::ondemand::json_type::array) {
    simdjson::ondemand::array array;
    error = value.get_array().get(array);
    if (!error) error = array.raw_json().get(raw);
  } else {
    raw = value.raw_json_token();
  }
  if (error) return FieldError(path, "is malformed JSON");
  while (!raw.empty() && IsJsonSpace(raw.back())) raw.remove_suffix(1);
  return raw;
}

Result<ParsedEvent> ParseEventJson(std::string_view text) {
  Input input(text);
  CAIRN_ASSIGN_OR_RETURN(Object root, input.RootObject());
  EventFields fields;
  CAIRN_RETURN_IF_ERROR(ForEachField(root, "", [&](std::string_view key, Value v) {
    return fields.Read(key, v);
  }));
  CAIRN_RETURN_IF_ERROR(input.ExpectEnd());
  return fields.Finish();
}

std::string Base64Encode(std::string_view bytes) {
  std::string out;
  out.reserve((bytes.size() + 2) / 3 * 4);
  size_t i = 0;
  for (; i + 2 < bytes.size(); i += 3) {
    const uint32_t n = (uint32_t(uint8_t(bytes[i])) << 16) |
                       (uint32_t(uint8_t(bytes[i + 1])) << 8) | uint8_t(bytes[i + 2]);
    for (int shift = 18; shift >= 0; shift -= 6) out.push_back(kAlphabet[(n >> shift) & 63]);
  }
  const size_t rest = bytes.size() - i;
  if (rest > 0) {
    uint32_t n = uint32_t(uint8_t(bytes[i])) << 16;
    if (rest == 2) n |= uint32_t(uint8_t(bytes[i + 1])) << 8;
    out.push_back(kAlphabet[(n >> 18) & 63]);
    out.push_back(kAlphabet[(n >> 12) & 63]);
    out.push_back(rest == 2 ? kAlphabet[(n >> 6) & 63] : '=');
    out.push_back('=');
  }
  return out;
}

Result<std::string> Base64Decode(std::string_view text, std::string_view field) {
  const Status bad = FieldError(field, "is not valid base64");
  if (text.size() % 4 != 0) return bad;
  std::string out;
  out.reserve(text.size() / 4 * 3);
  for (size_t i = 0; i < text.size(); i += 4) {
    uint32_t n = 0;
    int padding = 0;
    for (size_t j = 0; j < 4; ++j) {
      const char c = text[i + j];
      if (c == '=' && i + 4 == text.size() && j >= 2) {
        ++padding;
        n <<= 6;
        continue;
      }
      if (padding > 0) return bad;
      const size_t v = kAlphabet.find(c);
      if (v == std::string_view::npos) return bad;
      n = (n << 6) | uint32_t(v);
    }
    out.push_back(char((n >> 16) & 0xff));
    if (padding < 2) out.push_back(char((n >> 8) & 0xff));
    if (padding < 1) out.push_back(char(n & 0xff));
  }
  // Only the canonical encoding (unused bits zero) decodes, so decoding is exactly reversible.
  if (Base64Encode(out) != text) return bad;
  return out;
}

}  // namespace cairn::json
