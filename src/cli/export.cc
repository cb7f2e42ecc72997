// `cairn export`: writes the log as NDJSON, one event per line in seq order (the order the
// projections apply them), every envelope field included (json/event_json.h). What `cairn
// import` reads back into an identical log.
//
// --topic keeps only some topics; --from starts at an event, inclusive: a seq number ("1200")
// or a position ("order-events/3/17": that event's seq). The export covers what was committed
// when it started. With -o FILE the file appears only once complete (written beside it, then
// renamed), so a failed export leaves nothing half-written.
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "base/parse.h"
#include "cli/commands.h"
#include "cli/offline.h"
#include "cli/progress.h"
#include "log/event_json.h"

namespace cairn::cli {
namespace {

constexpr std::string_view kCommand = "export";
constexpr size_t kFlushBytes = 1u << 20;
constexpr size_t kCursorBatch = 4096;

struct ExportFlags {
  std::string data;
  std::vector<std::string> topics;
  std::string from;
  std::string output;
  bool quiet = false;
};

std::string TopicNames(const Log& log) {
  std::string names;
  for (const TopicInfo& t : log.Topics()) names += (names.empty() ? "" : ", ") + t.name;
  return names.empty() ? "none yet" : names;
}

// The first seq to export (inclusive): 1 without --from.
Result<uint64_t> ResolveFrom(const Log& log, const std::string& from) {
  if (from.empty()) return uint64_t{1};
  if (std::optional<uint64_t> seq = ParseNumber<uint64_t>(from)) return std::max<uint64_t>(*seq, 1);
  Result<Position> position = ParsePosition(from, "--from");
  if (!position.ok()) {
    return Status::InvalidArgument(
        "--from must be a seq number or a position topic/partition/offset, not '" + from + "'");
  }
  Result<Event> event = log.ReadAt(position->topic, position->partition, position->offset);
  if (!event.ok()) {
    return Status::NotFound("--from: no event at " + from + " (" + event.status().message() + ")");
  }
  return event->seq.value();
}

// Events the export will write, for the progress bar.
Result<uint64_t> CountEvents(const Log& log, const std::vector<std::string>& topics, Seq after,
                             Seq last) {
  if (topics.empty()) return last.value() > after.value() ? last.value() - after.value() : 0;
  uint64_t total = 0;
  for (const std::string& topic : topics) {
    Result<TopicInfo> info = log.GetTopic(topic);
    if (!info.ok()) return info.status();
    Result<std::vector<Offset>> starts = log.OffsetsAfterSeq(topic, after);
    if (!starts.ok()) return starts.status();
    for (const PartitionInfo& p : info->partition_info) {
      const uint64_t start = p.partition.value() < starts->size()
                                 ? (*starts)[p.partition.value()].value()
                                 : p.high_water_mark.value();
      if (p.high_water_mark.value() > start) total += p.high_water_mark.value() - start;
    }
  }
  return total;
}

// Where the lines go: stdout, or a temporary file renamed to -o FILE at the end.
class Output {
 public:
  Status Open(const std::string& path) {
    path_ = path;
    if (path.empty()) {
      file_ = stdout;
      return Status::Ok();
    }
    temp_ = path + ".partial-" + std::to_string(getpid());
    file_ = std::fopen(temp_.c_str(), "wbx");
    if (!file_) return Status::IOError("cannot create " + temp_ + ": " + std::strerror(errno));
    return Status::Ok();
  }
  ~Output() {
    if (!temp_.empty() && file_) {
      std::fclose(file_);
      std::remove(temp_.c_str());
    }
  }
  Status Write(std::string& buffer) {
    if (!buffer.empty() && std::fwrite(buffer.data(), 1, buffer.size(), file_) != buffer.size()) {
      return Status::IOError(std::string("writing ") + Name() + " failed: " + std::strerror(errno));
    }
    buffer.clear();
    return Status::Ok();
  }
  Status Commit() {
    if (std::fflush(file_) != 0 || std::ferror(file_)) {
      return Status::IOError(std::string("writing ") + Name() + " failed: " + std::strerror(errno));
    }
    if (temp_.empty()) return Status::Ok();
    const bool synced = fsync(fileno(file_)) == 0;
    const bool closed = std::fclose(file_) == 0;
    file_ = nullptr;
    if (!synced || !closed || std::rename(temp_.c_str(), path_.c_str()) != 0) {
      const std::string error = std::strerror(errno);
      std::remove(temp_.c_str());
      return Status::IOError("writing " + path_ + " failed: " + error);
    }
    temp_.clear();
    return Status::Ok();
  }

 private:
  const char* Name() const { return temp_.empty() ? "stdout" : path_.c_str(); }
  std::string path_;
  std::string temp_;
  FILE* file_ = nullptr;
};

int RunExport(const ExportFlags& flags) {
  if (flags.data.empty()) return Fail(kCommand, "--data DIR is required");
  if (!flags.output.empty() && std::filesystem::exists(flags.output)) {
    return Fail(kCommand, flags.output + " already exists; export does not overwrite files");
  }
  OfflineOptions open_options;
  open_options.has_url_mode = false;
  Result<std::unique_ptr<Db>> dir = OpenOffline(kCommand, flags.data, open_options);
  if (!dir.ok()) return Fail(kCommand, dir.status());
  const Log& log = (*dir)->log();
  for (const std::string& topic : flags.topics) {
    if (!log.GetTopic(topic).ok()) {
      return Fail(kCommand, "no topic " + topic + " (topics: " + TopicNames(log) + ")");
    }
  }
  Result<uint64_t> first = ResolveFrom(log, flags.from);
  if (!first.ok()) return Fail(kCommand, first.status());
  const Seq after(*first - 1);
  const Seq last = log.LastSeq();
  Result<uint64_t> total = CountEvents(log, flags.topics, after, last);
  if (!total.ok()) return Fail(kCommand, total.status());

  Output out;
  if (Status s = out.Open(flags.output); !s.ok()) return Fail(kCommand, s);
  Result<std::unique_ptr<LogCursor>> cursor = log.OpenCursor(flags.topics, after);
  if (!cursor.ok()) return Fail(kCommand, cursor.status());
  Progress progress(std::string(kCommand), "events", flags.quiet);
  std::string buffer;
  buffer.reserve(kFlushBytes + 64 * 1024);
  uint64_t written = 0;
  bool reached_end = false;
  Status failure;
  while (!reached_end && failure.ok()) {
    Result<size_t> consumed = (*cursor)->Next(kCursorBatch, [&](const EventView& event) {
      if (event.seq() > last) {
        reached_end = true;
        return false;
      }
      buffer += json::EventToJson(event);
      buffer += '\n';
      ++written;
      return true;
    });
    if (!consumed.ok()) {
      failure = consumed.status();
      break;
    }
    if (*consumed == 0) reached_end = true;
    if (buffer.size() >= kFlushBytes || reached_end) failure = out.Write(buffer);
    progress.Update(written, *total);
  }
  if (failure.ok()) failure = out.Commit();
  progress.Finish();
  if (!failure.ok()) return Fail(kCommand, failure);
  if (!flags.quiet) {
    std::fprintf(stderr, "export: %s events%s in %s\n", GroupDigits(written).c_str(),
                 flags.output.empty() ? "" : (" to " + flags.output).c_str(),
                 FormatDuration(progress.Elapsed()).c_str());
  }
  return kExitOk;
}

}  // namespace

void AddExportCommand(CLI::App& app, CommandRunner* run) {
  auto flags = std::make_shared<ExportFlags>();
  CLI::App* cmd = app.add_subcommand(
      "export", "Write the log as NDJSON on stdout: one event per line, in seq order");
  cmd->add_option("--data", flags->data, "Data dir to export (needs exclusive access)")
      ->type_name("DIR");
  cmd->add_option("--topic", flags->topics, "Export only this topic (repeatable; default: all)")
      ->type_name("TOPIC");
  cmd->add_option("--from", flags->from,
                  "Start at this event, inclusive: a seq number or a position topic/partition/offset")
      ->type_name("POSITION");
  cmd->add_option("-o,--output", flags->output,
                  "Write to FILE instead of stdout (created only once complete)")
      ->type_name("FILE");
  cmd->add_flag("-q,--quiet", flags->quiet, "No progress and no summary on stderr");
  cmd->footer(
      "Each line: {id, type, topic, partition, offset, position, seq, stream, version, timestamp,\n"
      "metadata: {commandId, correlationId, causationId, userId}, data} -- data is the payload\n"
      "when it is JSON, else \"dataBase64\". `cairn import` reads it back.\n\n"
      "Exit status: 0 exported, 2 error.\n\n"
      "Examples:\n"
      "  cairn export --data ./data > events.ndjson\n"
      "  cairn export --data ./data --topic payment-events --from order-events/3/17 | head\n"
      "  cairn export --data ./data --from 120000 -o tail.ndjson\n"
      "  cairn export --data ./old | cairn import --data ./new\n");
  cmd->callback([flags, run] { *run = [flags] { return RunExport(*flags); }; });
}

}  // namespace cairn::cli
