// `cairn export`: writes the log as NDJSON (interop/export.h), one event per line in seq order,
// what `cairn import` reads back into an identical log. This file adds the flags, the progress
// and the summary.
//
// --topic keeps only some topics; --from starts at an event, inclusive: a seq number ("1200")
// or a position ("order-events/3/17": that event's seq). The export covers what was committed
// when it started. With -o FILE the file appears only once complete.
#include <cstdio>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "base/parse.h"
#include "cli/commands.h"
#include "cli/offline.h"
#include "cli/progress.h"
#include "interop/export.h"

namespace cairn::cli {
namespace {

constexpr std::string_view kCommand = "export";

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

Status CheckTopics(const Log& log, const std::vector<std::string>& topics) {
  for (const std::string& topic : topics) {
    if (!log.GetTopic(topic).ok()) {
      return Status::NotFound("no topic " + topic + " (topics: " + TopicNames(log) + ")");
    }
  }
  return Status::Ok();
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

// What to export, from the flags.
Result<interop::ExportPlan> Plan(const Log& log, const ExportFlags& flags) {
  CAIRN_RETURN_IF_ERROR(CheckTopics(log, flags.topics));
  CAIRN_ASSIGN_OR_RETURN(const uint64_t first, ResolveFrom(log, flags.from));
  return interop::PlanExport(log, flags.topics, Seq(first - 1));
}

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
  Result<interop::ExportPlan> plan = Plan(log, flags);
  if (!plan.ok()) return Fail(kCommand, plan.status());

  interop::ExportOutput out;
  if (Status s = out.Open(flags.output); !s.ok()) return Fail(kCommand, s);
  Progress progress(std::string(kCommand), "events", flags.quiet);
  Result<uint64_t> written = interop::WriteExport(
      log, *plan, out, [&](uint64_t done, uint64_t total) { progress.Update(done, total); });
  progress.Finish();
  if (!written.ok()) return Fail(kCommand, written.status());
  if (!flags.quiet) {
    std::fprintf(stderr, "export: %s events%s in %s\n", GroupDigits(*written).c_str(),
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
