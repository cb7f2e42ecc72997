// See kafka_record.h.
#include "cli/kafka_record.h"

#include <array>
#include <charconv>
#include <cstring>
#include <optional>
#include <vector>

#include "base/parse.h"
#include "log/event_json.h"
#include "base/iso_time.h"
#include "base/json_reader.h"

namespace cairn::cli {
namespace {

// SHA-1 (FIPS 180-4), only for name-based UUIDs: not a security use.
std::array<uint8_t, 20> Sha1(std::string_view message) {
  uint32_t h[5] = {0x67452301, 0xEFCDAB89, 0x98BADCFE, 0x10325476, 0xC3D2E1F0};
  std::string data(message);
  const uint64_t bit_length = uint64_t(message.size()) * 8;
  data.push_back(char(0x80));
  while (data.size() % 64 != 56) data.push_back('\0');
  for (int i = 7; i >= 0; --i) data.push_back(char((bit_length >> (i * 8)) & 0xff));
  auto rotl = [](uint32_t x, int n) { return (x << n) | (x >> (32 - n)); };
  for (size_t chunk = 0; chunk < data.size(); chunk += 64) {
    uint32_t w[80];
    for (int i = 0; i < 16; ++i) {
      const auto* p = reinterpret_cast<const uint8_t*>(data.data() + chunk + i * 4);
      w[i] = (uint32_t(p[0]) << 24) | (uint32_t(p[1]) << 16) | (uint32_t(p[2]) << 8) | p[3];
    }
    for (int i = 16; i < 80; ++i) w[i] = rotl(w[i - 3] ^ w[i - 8] ^ w[i - 14] ^ w[i - 16], 1);
    uint32_t a = h[0], b = h[1], c = h[2], d = h[3], e = h[4];
    for (int i = 0; i < 80; ++i) {
      uint32_t f, k;
      if (i < 20) f = (b & c) | (~b & d), k = 0x5A827999;
      else if (i < 40) f = b ^ c ^ d, k = 0x6ED9EBA1;
      else if (i < 60) f = (b & c) | (b & d) | (c & d), k = 0x8F1BBCDC;
      else f = b ^ c ^ d, k = 0xCA62C1D6;
      const uint32_t t = rotl(a, 5) + f + e + k + w[i];
      e = d, d = c, c = rotl(b, 30), b = a, a = t;
    }
    h[0] += a, h[1] += b, h[2] += c, h[3] += d, h[4] += e;
  }
  std::array<uint8_t, 20> digest;
  for (int i = 0; i < 20; ++i) digest[i] = uint8_t(h[i / 4] >> (24 - (i % 4) * 8));
  return digest;
}

std::string UuidBytes(std::string_view text) {
  std::string bytes;
  for (size_t i = 0; i + 1 < text.size();) {
    if (text[i] == '-') {
      ++i;
      continue;
    }
    uint8_t byte = 0;
    std::from_chars(text.data() + i, text.data() + i + 2, byte, 16);
    bytes.push_back(char(byte));
    i += 2;
  }
  return bytes;
}

std::optional<std::string> HeaderValue(const std::vector<std::optional<std::string>>& headers,
                                       std::string_view name) {
  for (size_t i = 0; i + 1 < headers.size(); i += 2) {
    if (headers[i] && *headers[i] == name && headers[i + 1]) return headers[i + 1];
  }
  return std::nullopt;
}

// The seed's event JSON inside the payload.
struct Payload {
  std::optional<std::string> type;
  std::optional<std::string> aggregate_id;
  std::optional<uint64_t> version;
  std::optional<int64_t> timestamp_us;
  std::optional<std::string> data;
};

Status ReadPayloadFields(json::Object& object, Payload* p) {
  return json::ForEachField(object, "payload", [&](std::string_view key, json::Value v) -> Status {
    const std::string path = json::JoinPath("payload", key);
    if (key == "type") return json::Assign(json::ReadString(v, path), &p->type);
    if (key == "aggregateId") return json::Assign(json::ReadString(v, path), &p->aggregate_id);
    if (key == "version") {
      Result<int64_t> version = json::ReadInt(v, path);
      if (!version.ok()) return version.status();
      if (*version < 1) return json::FieldError(path, "must be at least 1");
      p->version = uint64_t(*version);
      return Status::Ok();
    }
    if (key == "timestamp") {
      Result<std::string> text = json::ReadString(v, path);
      if (!text.ok()) return text.status();
      Result<json::ParsedTime> time = json::ParseIsoTime(*text, path);
      if (!time.ok()) return time.status();
      p->timestamp_us = time->micros;
      return Status::Ok();
    }
    if (key == "data") {
      Result<std::string_view> raw = json::RawJson(v, path);
      if (!raw.ok()) return raw.status();
      if (!json::IsValidJson(*raw)) return json::FieldError(path, "is not valid JSON");
      p->data = std::string(*raw);
      return Status::Ok();
    }
    return Status::Ok();  // other fields of the producer's envelope are not part of the event
  });
}

Status ParsePayload(std::string_view text, Payload* p) {
  json::Input input(text);
  Result<json::Object> root = input.RootObject();
  if (!root.ok()) {
    return json::FieldError("payload", "is not a JSON object (" + root.status().message() + ")");
  }
  CAIRN_RETURN_IF_ERROR(ReadPayloadFields(*root, p));
  return input.ExpectEnd();
}

}  // namespace

std::string KafkaEventId(std::string_view topic, int64_t partition, int64_t offset) {
  std::string name = UuidBytes(kKafkaImportNamespace);
  name += topic;
  name += '/' + std::to_string(partition) + '/' + std::to_string(offset);
  std::array<uint8_t, 20> hash = Sha1(name);
  hash[6] = uint8_t((hash[6] & 0x0F) | 0x50);  // version 5
  hash[8] = uint8_t((hash[8] & 0x3F) | 0x80);  // RFC 4122 variant
  static const char* kHex = "0123456789abcdef";
  std::string id;
  for (int i = 0; i < 16; ++i) {
    if (i == 4 || i == 6 || i == 8 || i == 10) id.push_back('-');
    id.push_back(kHex[hash[i] >> 4]);
    id.push_back(kHex[hash[i] & 0xF]);
  }
  return id;
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

Result<KafkaEvent> ParseKcatRecord(std::string_view line, const KafkaRecordOptions& options) {
  json::Input input(line);
  Result<json::Object> root = input.RootObject();
  if (!root.ok()) return root.status();
  KafkaEvent out;
  std::optional<std::string> topic, key;
  std::optional<int64_t> partition, offset, ts;
  std::vector<std::optional<std::string>> headers;
  Payload payload;
  bool has_payload = false;
  Status s = json::ForEachField(*root, "", [&](std::string_view field, json::Value v) -> Status {
    if (field == "topic") return json::Assign(json::ReadString(v, field), &topic);
    if (field == "partition") return json::Assign(json::ReadInt(v, field), &partition);
    if (field == "offset") return json::Assign(json::ReadInt(v, field), &offset);
    if (field == "ts") return json::Assign(json::ReadInt(v, field), &ts);
    if (field == "key") {
      if (json::IsNull(v)) return Status::Ok();
      return json::Assign(json::ReadString(v, field), &key);
    }
    if (field == "headers") {
      if (json::IsNull(v)) return Status::Ok();
      Result<json::Array> array = json::ReadArray(v, field);
      if (!array.ok()) return array.status();
      return json::ForEachElement(*array, field, [&](size_t i, json::Value h) -> Status {
        if (json::IsNull(h)) {
          headers.emplace_back();
          return Status::Ok();
        }
        Result<std::string> text = json::ReadString(h, json::IndexPath(field, i));
        if (!text.ok()) return text.status();
        headers.emplace_back(std::move(*text));
        return Status::Ok();
      });
    }
    if (field == "payload") {
      has_payload = true;
      if (json::IsNull(v)) return json::FieldError("payload", "is null (a tombstone)");
      simdjson::ondemand::json_type type;
      if (v.type().get(type)) return json::FieldError("payload", "is malformed JSON");
      if (type == simdjson::ondemand::json_type::object) {  // a tool that embeds the JSON
        json::Object object;
        if (v.get_object().get(object)) return json::FieldError("payload", "is malformed JSON");
        return ReadPayloadFields(object, &payload);
      }
      Result<std::string> text = json::ReadString(v, "payload");
      if (!text.ok()) return text.status();
      return ParsePayload(*text, &payload);
    }
    return Status::Ok();  // tstype, broker, ... of this kcat version
  });
  if (!s.ok()) return s;
  CAIRN_RETURN_IF_ERROR(input.ExpectEnd());
  if (!has_payload) return json::MissingField("payload");
  if (!topic) return json::MissingField("topic");
  if (!partition || *partition < 0) return json::FieldError("partition", "is required (>= 0)");
  if (!offset || *offset < 0) return json::FieldError("offset", "is required (>= 0)");
  Status topic_ok = ValidateTopicName(*topic);
  if (!topic_ok.ok()) return json::FieldError("topic", topic_ok.message());

  out.topic = *topic;
  out.partition = *partition;
  out.offset = *offset;
  NewEvent& e = out.event;
  if (payload.type) e.type = *payload.type;
  else if (auto h = HeaderValue(headers, "eventType")) e.type = *h;
  else return json::FieldError("payload.type", "is required (or header eventType)");
  Status type_ok = ValidateEventType(e.type);
  if (!type_ok.ok()) return json::FieldError("payload.type", type_ok.message());

  if (payload.aggregate_id) out.aggregate_id = *payload.aggregate_id;
  else if (auto h = HeaderValue(headers, "aggregateId")) out.aggregate_id = *h;
  else if (key) out.aggregate_id = *key;
  else return json::FieldError("payload.aggregateId", "is required (or header aggregateId, or a key)");
  out.stream = options.stream_prefix.empty() ? out.aggregate_id
                                             : options.stream_prefix + "-" + out.aggregate_id;
  Status stream_ok = ValidateStreamId(out.stream);
  if (!stream_ok.ok()) {
    return json::FieldError("payload.aggregateId", "gives stream '" + out.stream + "': " +
                                                       stream_ok.message());
  }

  if (payload.version) {
    out.version = *payload.version;
  } else if (auto h = HeaderValue(headers, "version")) {
    const std::optional<uint64_t> version = ParseNumber<uint64_t>(*h);
    if (!version || *version < 1) {
      return json::FieldError("headers.version", "must be a number >= 1, not '" + *h + "'");
    }
    out.version = *version;
  } else {
    return json::FieldError("payload.version", "is required (or header version)");
  }

  if (!payload.data) return json::FieldError("payload.data", "is required");
  e.data = std::move(*payload.data);
  if (payload.timestamp_us) e.timestamp_us = *payload.timestamp_us;
  else if (ts && *ts > 0) e.timestamp_us = *ts * 1000;
  else return json::FieldError("payload.timestamp", "is required (or a record ts)");
  e.id = KafkaEventId(out.topic, out.partition, out.offset);
  return out;
}

}  // namespace cairn::cli
