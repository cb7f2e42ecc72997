// The log's input checks (include/cairn/log.h): topic names, stream ids, event types and whole
// events. Log::Append and CreateTopic run them; the HTTP layer and the importer call them too, so
// bad input is refused before it is queued.
#include <algorithm>
#include <string>

#include "cairn/log.h"

namespace cairn {
namespace {

constexpr size_t kMaxTypeBytes = 128;
constexpr size_t kMaxStreamBytes = 256;
constexpr size_t kMaxTopicBytes = 249;

bool AllBytesIn(std::string_view s, char lo, char hi) {
  return std::all_of(s.begin(), s.end(), [&](char c) { return c >= lo && c <= hi; });
}

}  // namespace

Status ValidateTopicName(std::string_view topic) {
  if (topic.empty() || topic.size() > kMaxTopicBytes) {
    return Status::InvalidArgument("topic name must be 1-249 characters", "topic");
  }
  for (char c : topic) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '.' || c == '_' || c == '-';
    if (!ok) {
      return Status::InvalidArgument(
          "topic name may contain only letters, digits, '.', '_' and '-': '" + std::string(topic) +
              "'",
          "topic");
    }
  }
  return Status::Ok();
}

Status ValidateStreamId(std::string_view stream) {
  if (stream.empty() || stream.size() > kMaxStreamBytes) {
    return Status::InvalidArgument("stream id must be 1-256 characters", "stream");
  }
  if (!AllBytesIn(stream, '!', '~') || stream.find('/') != std::string_view::npos) {
    return Status::InvalidArgument(
        "stream id may contain only printable ASCII without spaces or '/'", "stream");
  }
  return Status::Ok();
}

Status ValidateEventType(std::string_view type) {
  if (type.empty() || type.size() > kMaxTypeBytes) {
    return Status::InvalidArgument("event type must be 1-128 characters", "type");
  }
  if (!AllBytesIn(type, ' ', '~')) {
    return Status::InvalidArgument("event type may contain only printable ASCII", "type");
  }
  return Status::Ok();
}

Status ValidateNewEvent(const NewEvent& e, const LogOptions& options) {
  if (Status s = ValidateEventType(e.type); !s.ok()) {
    return Status::InvalidArgument(s.message(), "type");
  }
  if (e.data.size() > options.max_event_bytes) {
    return Status::TooLarge("event data is " + std::to_string(e.data.size()) +
                                " bytes, over the limit of " +
                                std::to_string(options.max_event_bytes),
                            "data");
  }
  if (e.id.size() > kMaxEventIdBytes || !AllBytesIn(e.id, '!', '~')) {
    return Status::InvalidArgument("event id must be at most 128 printable ASCII characters", "id");
  }
  const auto& m = e.metadata;
  for (const std::string* v : {&m.command_id, &m.correlation_id, &m.causation_id, &m.user_id}) {
    if (v->size() > kMaxMetadataFieldBytes) {
      return Status::TooLarge("metadata fields are limited to 1024 bytes", "metadata");
    }
  }
  return Status::Ok();
}

}  // namespace cairn
