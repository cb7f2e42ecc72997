// The raw event-store API that replaces Kafka for other services (DESIGN.md §4): topics,
// appends to streams, stream and partition reads. Service and admin roles only.
#include <simdjson.h>

#include <charconv>

#include "base/parse.h"
#include "http/api.h"
#include "log/event_json.h"
#include "base/json_writer.h"

namespace cairn::http {

namespace {

constexpr std::initializer_list<Role> kServiceRoles = {Role::kService, Role::kAdmin};
constexpr size_t kMaxReadEvents = 1000;

std::string TopicsJson(const std::vector<TopicInfo>& topics) {
  json::JsonWriter w;
  w.BeginObject().Key("topics").BeginArray();
  for (const TopicInfo& t : topics) {
    w.BeginObject().Key("name").String(t.name).Key("partitions").Uint(t.partitions);
    w.Key("highWaterMarks").BeginArray();
    for (const PartitionInfo& p : t.partition_info) w.Uint(p.high_water_mark.value());
    w.EndArray().EndObject();
  }
  w.EndArray().EndObject();
  return w.Take();
}

Status FieldError(std::string field, std::string message) {
  return Status::InvalidArgument(field + " " + message, field);
}

// {name, partitions}
Result<std::pair<std::string, uint32_t>> ParseCreateTopic(const std::string& body) {
  simdjson::dom::parser parser;
  simdjson::dom::object object;
  if (parser.parse(body).get_object().get(object)) {
    return Status::InvalidArgument("the body must be a JSON object {name, partitions}");
  }
  std::string_view name;
  int64_t partitions = 0;
  bool has_name = false, has_partitions = false;
  for (auto field : object) {
    if (field.key == "name") {
      if (field.value.get_string().get(name)) return FieldError("name", "must be a string");
      has_name = true;
    } else if (field.key == "partitions") {
      if (field.value.get_int64().get(partitions)) return FieldError("partitions", "must be an integer");
      has_partitions = true;
    } else {
      return FieldError(std::string(field.key), "is not a known field");
    }
  }
  if (!has_name) return FieldError("name", "is required");
  if (!has_partitions) return FieldError("partitions", "is required");
  if (partitions < 1 || partitions > 4096) return FieldError("partitions", "must be 1-4096");
  return std::pair(std::string(name), static_cast<uint32_t>(partitions));
}

Result<ExpectedVersion> ParseExpectedVersion(simdjson::dom::element value) {
  std::string_view text;
  if (!value.get_string().get(text)) {
    if (text == "any") return ExpectedVersion::Any();
    if (text == "no_stream") return ExpectedVersion::NoStream();
    if (text == "exists") return ExpectedVersion::Exists();
  }
  int64_t number = 0;
  if (!value.get_int64().get(number) && number >= 0) {
    return ExpectedVersion::Exact(static_cast<uint64_t>(number));
  }
  return FieldError("expectedVersion", "must be \"any\", \"no_stream\", \"exists\" or a version >= 0");
}

Status ParseMetadata(simdjson::dom::element value, const std::string& path, EventMetadata* out) {
  simdjson::dom::object object;
  if (value.get_object().get(object)) return FieldError(path, "must be an object");
  for (auto field : object) {
    std::string* slot = field.key == "commandId"       ? &out->command_id
                        : field.key == "correlationId" ? &out->correlation_id
                        : field.key == "causationId"   ? &out->causation_id
                        : field.key == "userId"        ? &out->user_id
                                                       : nullptr;
    const std::string field_path = path + "." + std::string(field.key);
    if (!slot) return FieldError(field_path, "is not a known field");
    std::string_view text;
    if (field.value.get_string().get(text)) return FieldError(field_path, "must be a string");
    *slot = std::string(text);
  }
  return Status::Ok();
}

// {id?, type, data, metadata?}; data is stored as its minified JSON text.
Result<NewEvent> ParseNewEvent(simdjson::dom::element value, const std::string& path) {
  simdjson::dom::object object;
  if (value.get_object().get(object)) return FieldError(path, "must be an object");
  NewEvent event;
  bool has_data = false;
  for (auto field : object) {
    const std::string field_path = path + "." + std::string(field.key);
    std::string_view text;
    if (field.key == "id" || field.key == "type") {
      if (field.value.get_string().get(text)) return FieldError(field_path, "must be a string");
      (field.key == "id" ? event.id : event.type) = std::string(text);
    } else if (field.key == "data") {
      event.data = simdjson::minify(field.value);
      has_data = true;
    } else if (field.key == "metadata") {
      CAIRN_RETURN_IF_ERROR(ParseMetadata(field.value, field_path, &event.metadata));
    } else {
      return FieldError(field_path, "is not a known field");
    }
  }
  if (event.type.empty()) return FieldError(path + ".type", "is required");
  if (!has_data) return FieldError(path + ".data", "is required");
  return event;
}

// {topic, expectedVersion?, events: [...]}
Result<AppendRequest> ParseAppend(const std::string& body, std::string stream,
                                  const std::string& idempotency_key) {
  simdjson::dom::parser parser;
  simdjson::dom::object object;
  simdjson::error_code error = parser.parse(body).get_object().get(object);
  if (error) {
    return Status::InvalidArgument(std::string("the body must be a JSON object: ") +
                                   simdjson::error_message(error));
  }
  AppendRequest req;
  req.stream = std::move(stream);
  bool has_events = false;
  for (auto field : object) {
    if (field.key == "topic") {
      std::string_view topic;
      if (field.value.get_string().get(topic)) return FieldError("topic", "must be a string");
      req.topic = std::string(topic);
    } else if (field.key == "expectedVersion") {
      CAIRN_ASSIGN_OR_RETURN(req.expected, ParseExpectedVersion(field.value));
    } else if (field.key == "events") {
      simdjson::dom::array events;
      if (field.value.get_array().get(events)) return FieldError("events", "must be an array");
      size_t i = 0;
      for (simdjson::dom::element e : events) {
        CAIRN_ASSIGN_OR_RETURN(NewEvent event,
                               ParseNewEvent(e, "events[" + std::to_string(i++) + "]"));
        req.events.push_back(std::move(event));
      }
      has_events = true;
    } else {
      return FieldError(std::string(field.key), "is not a known field");
    }
  }
  if (req.topic.empty()) return FieldError("topic", "is required");
  if (!has_events) return FieldError("events", "is required");
  // With an Idempotency-Key, events without an id get one derived from it, so a retried
  // request is recognised by the log's event-id idempotency.
  if (!idempotency_key.empty()) {
    for (size_t i = 0; i < req.events.size(); ++i) {
      if (req.events[i].id.empty()) req.events[i].id = idempotency_key + "-" + std::to_string(i);
    }
  }
  return req;
}

// "the orders domain": who owns `topic`. REQUIRES: db.IsOwnedTopic(topic).
std::string OwnerOf(const Db& db, std::string_view topic) {
  for (const DomainSpec& domain : db.domains()) {
    if (domain.Owns(topic)) return "the " + domain.name + " domain";
  }
  return "a domain";
}

// {stream, version, position, positions: [...], duplicate}
std::string AppendResultJson(const std::string& stream, const AppendResult& result) {
  json::JsonWriter w;
  w.BeginObject().Key("stream").String(stream);
  w.Key("version").Uint(result.version.value());
  w.Key("position").String(result.positions.back().ToString());
  w.Key("positions").BeginArray();
  for (const Position& p : result.positions) w.String(p.ToString());
  w.EndArray().Key("duplicate").Bool(result.duplicate).EndObject();
  return w.Take();
}

// "events": [raw event…], the last field of a stream or partition read.
void WriteEvents(json::JsonWriter& w, const std::vector<Event>& events) {
  w.Key("events").BeginArray();
  for (const Event& e : events) w.Raw(json::EventToJson(e));
  w.EndArray();
}

// GET /api/topics
void ListTopics(Api& api, const httplib::Request& req, httplib::Response& res) {
  if (!Authenticate(api, req, res, kServiceRoles)) return;
  SendJson(res, 200, TopicsJson(api.db().log().Topics()));
}

// POST /api/topics {name, partitions}: 201 created, 200 when it already exists.
void CreateTopic(Api& api, const httplib::Request& req, httplib::Response& res) {
  if (!Authenticate(api, req, res, kServiceRoles) || !RequireJsonBody(req, res, true)) return;
  auto parsed = ParseCreateTopic(req.body);
  if (!parsed.ok()) return SendError(res, parsed.status());
  if (Status valid = ValidateTopicName(parsed->first); !valid.ok()) {
    return SendError(res, Status::InvalidArgument(valid.message(), "name"));
  }
  Log& log = api.db().log();
  const bool existed = log.GetTopic(parsed->first).ok();
  Result<TopicInfo> topic = log.CreateTopic(parsed->first, parsed->second);
  if (!topic.ok()) return SendError(res, topic.status());
  json::JsonWriter w;
  w.BeginObject().Key("name").String(topic->name).Key("partitions").Uint(topic->partitions).EndObject();
  SendJson(res, existed ? 200 : 201, w.Take());
}

// POST /api/streams/{stream} {topic, expectedVersion?, events}: 201 appended, 200 when every
// event id was there already.
void AppendToStream(Api& api, const httplib::Request& req, httplib::Response& res) {
  if (!Authenticate(api, req, res, kServiceRoles) || !RequireJsonBody(req, res, true)) return;
  const std::string key = req.get_header_value("Idempotency-Key");
  if (key.size() > 100) {
    return SendError(res, Status::InvalidArgument("Idempotency-Key is over 100 characters",
                                                  "Idempotency-Key"));
  }
  const std::string stream = req.matches[1].str();
  Result<AppendRequest> append = ParseAppend(req.body, stream, key);
  if (!append.ok()) return SendError(res, append.status());
  // A domain's topics are written only by its commands: a raw event there could break the
  // aggregates' rules and stop the domain's projections.
  if (api.db().IsOwnedTopic(append->topic)) {
    return SendError(res, 403, "permission_denied",
                     "topic " + append->topic + " is written only by the commands of " +
                         OwnerOf(api.db(), append->topic),
                     "topic");
  }
  Result<AppendResult> result = api.db().log().Append(std::move(*append));
  if (!result.ok()) return SendError(res, result.status());
  SendJson(res, result->duplicate ? 200 : 201, AppendResultJson(stream, *result));
}

// GET /api/streams/{stream}?fromVersion=&limit=
void ReadStream(Api& api, const httplib::Request& req, httplib::Response& res) {
  if (!Authenticate(api, req, res, kServiceRoles)) return;
  Result<uint64_t> from = ParseUintParam(req, "fromVersion", 1, 1, UINT64_MAX);
  if (!from.ok()) return SendError(res, from.status());
  Result<uint64_t> limit = ParseUintParam(req, "limit", 100, 1, kMaxReadEvents);
  if (!limit.ok()) return SendError(res, limit.status());
  const std::string stream = req.matches[1].str();
  Log& log = api.db().log();
  Result<StreamVersion> head = log.StreamHead(stream);
  if (!head.ok()) return SendError(res, head.status());
  if (head->value() == 0) {
    return SendError(res, Status::NotFound("stream " + stream + " has no events"));
  }
  Result<std::vector<Event>> events = log.ReadStream(stream, StreamVersion(*from), *limit);
  if (!events.ok()) return SendError(res, events.status());
  json::JsonWriter w;
  w.BeginObject().Key("stream").String(stream).Key("version").Uint(head->value());
  WriteEvents(w, *events);
  SendJson(res, 200, w.EndObject().Take());
}

// GET /api/topics/{topic}/partitions/{partition}?fromOffset=&limit=
void ReadPartition(Api& api, const httplib::Request& req, httplib::Response& res) {
  if (!Authenticate(api, req, res, kServiceRoles)) return;
  Log& log = api.db().log();
  const std::string topic = req.matches[1].str();
  Result<TopicInfo> info = log.GetTopic(topic);
  if (!info.ok()) return SendError(res, info.status());
  const std::string ptext = req.matches[2].str();
  const std::optional<uint32_t> number = ParseNumber<uint32_t>(ptext);
  if (!number || *number >= info->partitions) {
    return SendError(res, Status::NotFound("topic " + topic + " has no partition " + ptext));
  }
  const PartitionId partition(*number);
  Result<uint64_t> from = ParseUintParam(req, "fromOffset", 0, 0, UINT64_MAX);
  if (!from.ok()) return SendError(res, from.status());
  Result<uint64_t> limit = ParseUintParam(req, "limit", 100, 1, kMaxReadEvents);
  if (!limit.ok()) return SendError(res, limit.status());
  Result<std::vector<Event>> events = log.ReadPartition(topic, partition, Offset(*from), *limit);
  if (!events.ok()) return SendError(res, events.status());
  json::JsonWriter w;
  w.BeginObject().Key("topic").String(topic).Key("partition").Uint(*number);
  w.Key("highWaterMark").Uint(log.HighWaterMark(topic, partition).value());
  WriteEvents(w, *events);
  SendJson(res, 200, w.EndObject().Take());
}

}  // namespace

void RegisterLogRoutes(httplib::Server& server, Api& api) {
  AddRoute(server, api, "GET", "/api/topics", "/api/topics", ListTopics);
  AddRoute(server, api, "POST", "/api/topics", "/api/topics", CreateTopic);
  AddRoute(server, api, "POST", "/api/streams/([^/]+)", "/api/streams/{stream}", AppendToStream);
  AddRoute(server, api, "GET", "/api/streams/([^/]+)", "/api/streams/{stream}", ReadStream);
  AddRoute(server, api, "GET", "/api/topics/([^/]+)/partitions/([^/]+)",
           "/api/topics/{topic}/partitions/{partition}", ReadPartition);
}

}  // namespace cairn::http
