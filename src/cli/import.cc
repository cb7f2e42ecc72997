// `cairn import`: appends events read as NDJSON (stdin or --file) to a data dir, each line a
// Cairn event as `cairn export` writes it or a Kafka record as `kcat -C -J` prints it. The
// pipeline (reading, checking, planning, appending) is interop/import.h; this file adds the
// flags, the data dir's opening, and what the operator sees: progress, one stderr line per
// rejected line, the counts, the exit code.
//
// Every line is checked before anything is written. If any is rejected nothing is written (exit
// 2), unless --skip-invalid: then the valid lines are imported, minus those of a stream after
// its first rejected line. The dir is opened to plan against it when it exists, and created
// only to write; the read models are brought up to date at the end.
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <memory>
#include <string>

#include "cairn/log.h"
#include "cli/commands.h"
#include "cli/offline.h"
#include "cli/progress.h"
#include "interop/import.h"

namespace cairn::cli {
namespace {

constexpr std::string_view kCommand = "import";

struct ImportFlags {
  std::string data;
  std::string file;
  std::string stream_prefix = "order";
  uint32_t partitions = 0;  // 0: inferred
  bool skip_invalid = false;
  bool dry_run = false;
  bool quiet = false;
};

// How the import opens the dir: created when missing, and its appends unsynced (ApplyImport
// syncs the WAL once at the end).
OfflineOptions OpenOptions() {
  OfflineOptions options;
  options.has_url_mode = false;
  options.sync = SyncMode::kNone;
  options.create_if_missing = true;
  return options;
}

Result<interop::ImportInput> ReadInput(const ImportFlags& flags) {
  FILE* in = stdin;
  if (!flags.file.empty() && flags.file != "-") {
    in = std::fopen(flags.file.c_str(), "rb");
    if (!in) return Status::IOError("cannot read " + flags.file + ": " + std::strerror(errno));
  }
  interop::ImportReadOptions options;
  options.stream_prefix = flags.stream_prefix;
  options.log = OfflineDbOptions(OpenOptions()).log;
  Progress progress("import: reading", "lines", flags.quiet);
  Result<interop::ImportInput> input = interop::ReadImportInput(
      in, options, [&](uint64_t done, uint64_t total) { progress.Update(done, total); });
  if (in != stdin) std::fclose(in);
  return input;
}

// The data dir when it exists; nullptr when it does not yet (it is created only to write).
Result<std::unique_ptr<Db>> OpenIfExists(const std::string& data) {
  if (IsDataDir(data)) return OpenOffline(kCommand, data, OpenOptions());
  if (!CanCreateDataDirAt(data)) {
    return Status::InvalidArgument(data +
                                   " is neither empty nor a Cairn data dir; refusing to write into it");
  }
  return std::unique_ptr<Db>();
}

// The plan against the dir, or against an empty one with the domains it will be opened with.
Result<interop::ImportPlan> Plan(const ImportFlags& flags, interop::ImportInput input,
                                 const Db* dir) {
  interop::ImportTarget target;
  target.partitions = flags.partitions;
  if (dir) {
    target.log = &dir->log();
    target.new_checker = [dir](std::string_view stream) { return dir->NewStreamChecker(stream); };
  } else {
    target.new_checker = interop::CheckersOf(OfflineDbOptions(OpenOptions()).domains);
  }
  return interop::PlanImport(std::move(input), target);
}

void PrintRejections(const interop::ImportPlan& plan) {
  for (const interop::Rejection& r : plan.rejections) {
    std::fprintf(stderr, "cairn import: line %zu: %s\n", r.line, r.reason.c_str());
  }
}

void PrintCounts(const char* verb, uint64_t imported, uint64_t skipped, size_t rejected) {
  std::fprintf(stderr, "import: %s %llu, skipped %llu, rejected %zu\n", verb,
               static_cast<unsigned long long>(imported), static_cast<unsigned long long>(skipped),
               rejected);
}

int RefuseRejected(const interop::ImportPlan& plan) {
  std::fprintf(stderr,
               "cairn import: nothing imported: %zu of %zu lines rejected; fix them, or pass "
               "--skip-invalid to import the rest\n",
               plan.rejections.size(), plan.lines);
  PrintCounts("imported", 0, plan.skipped, plan.rejections.size());
  return kExitError;
}

int PrintDryRun(const interop::ImportPlan& plan) {
  for (const auto& [topic, partitions] : plan.new_topics) {
    std::fprintf(stderr, "import: would create topic %s with %u partitions\n", topic.c_str(),
                 partitions);
  }
  PrintCounts("would import", plan.appends.size(), plan.skipped, plan.rejections.size());
  return kExitOk;
}

// Writes the plan into `dir` (created now when null) and brings the read models up to date.
int Write(const ImportFlags& flags, std::unique_ptr<Db> dir, const interop::ImportPlan& plan) {
  if (!dir) {
    Result<std::unique_ptr<Db>> created = OpenOffline(kCommand, flags.data, OpenOptions());
    if (!created.ok()) return Fail(kCommand, created.status());
    dir = std::move(*created);
  }
  Progress progress(std::string(kCommand), "events", flags.quiet);
  interop::ApplyCallbacks callbacks;
  callbacks.topic_created = [&](const std::string& topic, uint32_t partitions) {
    if (flags.quiet) return;
    std::fprintf(stderr, "import: created topic %s with %u partitions\n", topic.c_str(), partitions);
  };
  callbacks.appended = [&](uint64_t done, uint64_t total) { progress.Update(done, total); };
  Result<interop::ImportCounts> counts = interop::ApplyImport(*dir, plan, callbacks);
  progress.Finish();
  if (!counts.ok()) return Fail(kCommand, counts.status());
  Status caught_up = CatchUpWithProgress(*dir, kCommand, flags.quiet);
  if (!caught_up.ok()) {
    return Fail(kCommand, "the events were imported, but bringing the read models up to date "
                          "failed: " + caught_up.ToString());
  }
  PrintCounts("imported", counts->imported, plan.skipped + counts->skipped, plan.rejections.size());
  return kExitOk;
}

int RunImport(const ImportFlags& flags) {
  if (flags.data.empty()) return Fail(kCommand, "--data DIR is required");
  Result<interop::ImportInput> input = ReadInput(flags);
  if (!input.ok()) return Fail(kCommand, input.status());
  Result<std::unique_ptr<Db>> dir = OpenIfExists(flags.data);
  if (!dir.ok()) return Fail(kCommand, dir.status());
  Result<interop::ImportPlan> plan = Plan(flags, std::move(*input), dir->get());
  if (!plan.ok()) return Fail(kCommand, plan.status());

  PrintRejections(*plan);
  if (!plan->rejections.empty() && !flags.skip_invalid) return RefuseRejected(*plan);
  if (flags.dry_run) return PrintDryRun(*plan);
  if (plan->appends.empty()) {
    PrintCounts("imported", 0, plan->skipped, plan->rejections.size());
    return kExitOk;
  }
  return Write(flags, std::move(*dir), *plan);
}

}  // namespace

void AddImportCommand(CLI::App& app, CommandRunner* run) {
  auto flags = std::make_shared<ImportFlags>();
  CLI::App* cmd = app.add_subcommand(
      "import",
      "Append events from NDJSON (cairn export, or kcat -C -J) to a data dir; idempotent by event id");
  cmd->add_option("--data", flags->data, "Data dir to import into (created if missing)")
      ->type_name("DIR");
  cmd->add_option("-f,--file", flags->file, "Read FILE instead of stdin")->type_name("FILE");
  cmd->add_option("--stream-prefix", flags->stream_prefix,
                  "Kafka records: stream = PREFIX-<aggregateId> (default: order)")
      ->type_name("PREFIX");
  cmd->add_option("--partitions", flags->partitions,
                  "Partitions of topics this import creates (default: as the input's partitions "
                  "imply, else 8)")
      ->type_name("N")
      ->check(CLI::Range(1u, kMaxPartitions));
  cmd->add_flag("--skip-invalid", flags->skip_invalid,
                "Import the valid lines even when some are rejected");
  cmd->add_flag("--dry-run", flags->dry_run, "Validate and count, write nothing");
  cmd->add_flag("-q,--quiet", flags->quiet, "No progress on stderr (rejections and counts still)");
  cmd->footer(
      "Each line is a Cairn event (as `cairn export` writes it) or a kcat -J record. Every line\n"
      "is validated before anything is written; with any line rejected nothing is written\n"
      "(exit 2) unless --skip-invalid. Rejections go to stderr as \"line N: reason\", then\n"
      "\"import: imported N, skipped N, rejected N\". Events already in the dir are skipped.\n\n"
      "Exit status: 0 imported, 2 error or rejected lines (without --skip-invalid).\n\n"
      "Examples:\n"
      "  cairn import --data ./data < events.ndjson\n"
      "  kcat -b kafka:9092 -C -J -e -t order-events -t payment-events -t shipping-events \\\n"
      "      | cairn import --data ./data\n"
      "  cairn import --data ./data --file capture.jsonl --dry-run\n"
      "  cairn export --data ./old | cairn import --data ./new\n");
  cmd->callback([flags, run] { *run = [flags] { return RunImport(*flags); }; });
}

}  // namespace cairn::cli
