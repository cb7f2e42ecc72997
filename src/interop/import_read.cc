// Step 1 of the import (import.h): each input line parsed and checked on its own.
#include <cerrno>
#include <cstdlib>
#include <cstring>

#include "base/parallel.h"
#include "interop/import.h"
#include "interop/kafka_record.h"
#include "log/event_json.h"

namespace cairn::interop {
namespace {

// Lines read before they are parsed, on two threads (parsing is most of the reading time).
constexpr size_t kBlockLines = 8192;
constexpr size_t kParseThreads = 2;

Result<ImportEvent> FromKcatRecord(std::string_view text, const ImportReadOptions& options) {
  KafkaRecordOptions kafka_options;
  kafka_options.stream_prefix = options.stream_prefix;
  Result<KafkaEvent> record = ParseKcatRecord(text, kafka_options);
  if (!record.ok()) {
    return Status::InvalidArgument("kcat record: " + record.status().message(),
                                   record.status().field());
  }
  ImportEvent e;
  e.from_kafka = true;
  e.topic = std::move(record->topic);
  e.stream = std::move(record->stream);
  e.version = record->version;
  e.event = std::move(record->event);
  e.source_partition = uint32_t(record->partition);  // ParseKcatRecord: at most INT32_MAX
  return e;
}

Result<ImportEvent> FromCairnEvent(std::string_view text) {
  Result<json::ParsedEvent> parsed = json::ParseEventJson(text);
  if (!parsed.ok()) {
    const std::string& message = parsed.status().message();
    // The JSON readers call the whole document "body"; here it is one line.
    if (message.rfind("body ", 0) == 0) {
      return Status::InvalidArgument("the line " + message.substr(5), parsed.status().field());
    }
    return parsed.status();
  }
  Event& stored = parsed->event;
  CAIRN_RETURN_IF_ERROR(ValidateTopicName(stored.topic));
  CAIRN_RETURN_IF_ERROR(ValidateStreamId(stored.stream));
  ImportEvent e;
  e.topic = std::move(stored.topic);
  e.stream = std::move(stored.stream);
  e.version = stored.version.value();
  e.source_partition = parsed->partition;
  e.seq = parsed->seq;
  e.event.id = std::move(stored.id);
  e.event.type = std::move(stored.type);
  e.event.data = std::move(stored.data);
  e.event.metadata = std::move(stored.metadata);
  e.event.timestamp_us = stored.timestamp_us;
  return e;
}

// What the log would refuse (checked here so that a bad line is a rejection before anything is
// written, not a failure halfway through the appends), and what an import needs beyond that.
Status CheckAppendable(const NewEvent& e, const LogOptions& log_options) {
  CAIRN_RETURN_IF_ERROR(ValidateNewEvent(e, log_options));
  // The log names an event without an id itself: a second run could not find it.
  if (e.id.empty()) return json::FieldError("id", "is required (an import keeps every event's id)");
  // The log reads 0 as "stamp with the time of the append": it cannot keep this one.
  if (e.timestamp_us == 0) {
    return json::FieldError("timestamp", "1970-01-01T00:00:00Z cannot be stored (0 means now)");
  }
  return Status::Ok();
}

// The line without its line break; empty when it holds only blanks.
std::string_view Trimmed(const char* buffer, size_t length) {
  std::string_view text(buffer, length);
  while (!text.empty() && (text.back() == '\n' || text.back() == '\r')) text.remove_suffix(1);
  if (text.find_first_not_of(" \t") == std::string_view::npos) return {};
  return text;
}

}  // namespace

Result<ImportEvent> ParseImportLine(std::string_view text, size_t line,
                                    const ImportReadOptions& options) {
  CAIRN_ASSIGN_OR_RETURN(ImportEvent e, IsKcatRecord(text) ? FromKcatRecord(text, options)
                                                           : FromCairnEvent(text));
  CAIRN_RETURN_IF_ERROR(CheckAppendable(e.event, options.log));
  e.line = line;
  return e;
}

Result<ImportInput> ReadImportInput(FILE* in, const ImportReadOptions& options,
                                    const ProgressFn& progress) {
  ImportInput input;
  // A block of non-blank lines: their text back to back, and (line number, end) of each.
  std::string text;
  std::vector<std::pair<size_t, size_t>> lines;
  std::vector<Result<ImportEvent>> parsed;
  const auto parse_block = [&] {
    parsed.assign(lines.size(), Status::Internal("not parsed"));
    ForEachInParallel(lines.size(), kParseThreads, [&](size_t i) {
      const size_t begin = i == 0 ? 0 : lines[i - 1].second;
      parsed[i] = ParseImportLine(std::string_view(text).substr(begin, lines[i].second - begin),
                                  lines[i].first, options);
    });
    for (size_t i = 0; i < lines.size(); ++i) {
      if (parsed[i].ok()) {
        input.events.push_back(std::move(*parsed[i]));
      } else {
        input.rejections.push_back({lines[i].first, parsed[i].status().message()});
      }
    }
    input.lines += lines.size();
    Report(progress, input.lines, 0);
    text.clear();
    lines.clear();
  };
  char* buffer = nullptr;
  size_t capacity = 0;
  size_t line = 0;
  for (;;) {
    errno = 0;
    const ssize_t length = getline(&buffer, &capacity, in);
    if (length < 0) break;
    ++line;
    const std::string_view trimmed = Trimmed(buffer, size_t(length));
    if (trimmed.empty()) continue;
    text.append(trimmed);
    lines.emplace_back(line, text.size());
    if (lines.size() == kBlockLines) parse_block();
  }
  const int read_error = errno;
  std::free(buffer);
  if (std::ferror(in)) {
    return Status::IOError(std::string("reading the input failed: ") + std::strerror(read_error));
  }
  if (!lines.empty()) parse_block();
  return input;
}

}  // namespace cairn::interop
