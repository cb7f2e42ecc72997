// `cairn import`: appends events read as NDJSON (stdin or --file) to a data dir. Each line is a
// Cairn event as `cairn export` writes it, or a Kafka record as `kcat -C -J` prints it
// (interop/kafka_record.h). Import is idempotent by event id: an event already in the dir is
// skipped, so an interrupted import can simply be run again.
//
// How it works, and what it promises:
// 1. Read the whole input and validate every line (bounded by memory: fine for the files this
//    is for). Checked: the JSON, the fields, the log's own rules (topic, stream, type, sizes),
//    per stream that versions continue the stream gaplessly (from its head in the dir), and for
//    Kafka records of the order domain that the data parses and applies in order (a projection
//    would otherwise stop at it).
// 2. If any line is rejected, nothing is written (exit 2), unless --skip-invalid: then the
//    valid lines are imported, minus those of a stream after its first rejected line (they
//    would leave a gap).
// 3. Append in the original global order: Cairn events by seq, Kafka records by timestamp, each
//    stream in version order, every append with the exact expected version. A Cairn export
//    imported into an empty dir gives an identical log (same ids, positions, seqs, bytes).
//    New topics get the partition count that reproduces the input's partitions under murmur2
//    (8 when that fits), or --partitions.
// 4. Sync the WAL once, then bring the read models up to date.
#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <queue>
#include <string>
#include <tuple>
#include <unordered_map>
#include <vector>

#include "cairn/orders.h"
#include "cli/commands.h"
#include "cli/offline.h"
#include "cli/progress.h"
#include "interop/kafka_record.h"
#include "log/event_json.h"

namespace cairn::cli {
namespace {

constexpr std::string_view kCommand = "import";
constexpr size_t kMaxRunEvents = 500;
constexpr size_t kMaxRunBytes = 4u << 20;
constexpr uint32_t kDefaultPartitions = 8;
constexpr uint32_t kMaxPartitions = 4096;

struct ImportFlags {
  std::string data;
  std::string file;
  std::string stream_prefix = "order";
  uint32_t partitions = 0;  // 0: inferred
  bool skip_invalid = false;
  bool dry_run = false;
  bool quiet = false;
};

// One valid line, on its way into the log.
struct Candidate {
  size_t line = 0;
  bool kafka = false;
  std::string topic;
  std::string stream;
  uint64_t version = 0;
  NewEvent event;
  std::optional<uint32_t> source_partition;  // the partition the input recorded
  std::optional<uint64_t> seq;               // Cairn events: the seq the input recorded
  std::string aggregate_id;                  // Kafka records
  enum class Fate { kNew, kSkipped, kRejected } fate = Fate::kNew;
};

struct Rejection {
  size_t line;
  std::string reason;
};

struct ImportState {
  std::vector<Candidate> candidates;
  std::vector<Rejection> rejections;
  size_t lines = 0;  // non-blank lines read
  void Reject(Candidate& c, std::string reason) {
    c.fate = Candidate::Fate::kRejected;
    rejections.push_back({c.line, std::move(reason)});
  }
};

// ---- 1. Reading and parsing ---------------------------------------------------------------

Result<Candidate> ParseLine(std::string_view text, size_t line, const ImportFlags& flags) {
  Candidate c;
  c.line = line;
  if (interop::IsKcatRecord(text)) {
    interop::KafkaRecordOptions options;
    options.stream_prefix = flags.stream_prefix;
    Result<interop::KafkaEvent> record = interop::ParseKcatRecord(text, options);
    if (!record.ok()) return Status::InvalidArgument("kcat record: " + record.status().message());
    c.kafka = true;
    c.topic = record->topic;
    c.stream = record->stream;
    c.version = record->version;
    c.event = std::move(record->event);
    c.source_partition = uint32_t(std::min<int64_t>(record->partition, UINT32_MAX));
    c.aggregate_id = record->aggregate_id;
    return c;
  }
  Result<json::ParsedEvent> parsed = json::ParseEventJson(text);
  if (!parsed.ok()) {
    const std::string& message = parsed.status().message();
    // The JSON readers call the whole document "body"; here it is one line.
    if (message.rfind("body ", 0) == 0) return Status::InvalidArgument("the line " + message.substr(5));
    return parsed.status();
  }
  Event& e = parsed->event;
  for (const Status& s : {ValidateTopicName(e.topic), ValidateStreamId(e.stream),
                          ValidateEventType(e.type)}) {
    if (!s.ok()) return s;
  }
  c.topic = std::move(e.topic);
  c.stream = std::move(e.stream);
  c.version = e.version.value();
  c.source_partition = parsed->partition;
  c.seq = parsed->seq;
  c.event.id = std::move(e.id);
  c.event.type = std::move(e.type);
  c.event.data = std::move(e.data);
  c.event.metadata = std::move(e.metadata);
  c.event.timestamp_us = e.timestamp_us;
  return c;
}

// What Log::Append would refuse in an event (its ValidateEvent in src/log/log.cc; there is no
// public dry run), checked here so that a bad line is a rejection before anything is written,
// not a failure halfway through the appends.
Status CheckAppendable(const NewEvent& e) {
  constexpr size_t kMaxEventIdBytes = 128;
  constexpr size_t kMaxMetadataFieldBytes = 1024;
  if (e.id.empty() || e.id.size() > kMaxEventIdBytes ||
      !std::all_of(e.id.begin(), e.id.end(), [](char c) { return c >= '!' && c <= '~'; })) {
    return json::FieldError("id", "must be 1-128 printable ASCII characters without spaces");
  }
  if (e.data.size() > LogOptions{}.max_event_bytes) {
    return json::FieldError("data", "is " + std::to_string(e.data.size()) +
                                        " bytes, over the log's limit of " +
                                        std::to_string(LogOptions{}.max_event_bytes));
  }
  const EventMetadata& m = e.metadata;
  for (const std::string* v : {&m.command_id, &m.correlation_id, &m.causation_id, &m.user_id}) {
    if (v->size() > kMaxMetadataFieldBytes) {
      return json::FieldError("metadata", "fields are limited to 1024 bytes");
    }
  }
  // The log reads 0 as "stamp with the time of the append": it cannot keep this one.
  if (e.timestamp_us == 0) {
    return json::FieldError("timestamp", "1970-01-01T00:00:00Z cannot be stored (0 means now)");
  }
  return Status::Ok();
}

// Reads every line of `in`. An unreadable input is an error; a bad line is a rejection.
Status ReadInput(FILE* in, const ImportFlags& flags, ImportState* state) {
  Progress progress("import: reading", "lines", flags.quiet);
  char* buffer = nullptr;
  size_t capacity = 0;
  size_t line = 0;
  for (;;) {
    errno = 0;
    const ssize_t length = getline(&buffer, &capacity, in);
    if (length < 0) break;
    ++line;
    std::string_view text(buffer, size_t(length));
    while (!text.empty() && (text.back() == '\n' || text.back() == '\r')) text.remove_suffix(1);
    if (text.find_first_not_of(" \t") == std::string_view::npos) continue;
    ++state->lines;
    Result<Candidate> c = ParseLine(text, line, flags);
    if (c.ok()) {
      if (Status s = CheckAppendable(c->event); !s.ok()) c = s;
    }
    if (c.ok()) {
      state->candidates.push_back(std::move(*c));
    } else {
      state->rejections.push_back({line, c.status().message()});
    }
    if (line % 1024 == 0) progress.Update(state->lines, 0);
  }
  const int read_error = errno;
  std::free(buffer);
  if (std::ferror(in)) return Status::IOError(std::string("reading the input failed: ") + std::strerror(read_error));
  return Status::Ok();
}

// ---- 2. Validation against the input and the dir -----------------------------------------

bool SameEvent(const Candidate& a, const Candidate& b) {
  return a.topic == b.topic && a.stream == b.stream && a.version == b.version &&
         a.event.type == b.event.type && a.event.data == b.event.data &&
         a.event.metadata == b.event.metadata && a.event.timestamp_us == b.event.timestamp_us;
}

// An id twice in the input: the same event again is skipped, another event is rejected.
void MarkInputDuplicates(ImportState* state) {
  std::unordered_map<std::string, size_t> first;
  for (size_t i = 0; i < state->candidates.size(); ++i) {
    Candidate& c = state->candidates[i];
    auto [it, inserted] = first.emplace(c.event.id, i);
    if (inserted) continue;
    const Candidate& original = state->candidates[it->second];
    if (SameEvent(original, c)) {
      c.fate = Candidate::Fate::kSkipped;
    } else {
      state->Reject(c, "event id " + c.event.id + " is also on line " +
                           std::to_string(original.line) + " with different content");
    }
  }
}

Status MarkStored(const Log& log, ImportState* state) {
  for (Candidate& c : state->candidates) {
    if (c.fate != Candidate::Fate::kNew) continue;
    Result<Event> stored = log.ReadEvent(c.event.id);
    if (stored.ok()) {
      c.fate = Candidate::Fate::kSkipped;
    } else if (stored.status().code() != ErrorCode::kNotFound) {
      return stored.status();
    }
  }
  return Status::Ok();
}

// Folds the order domain's view of one stream, to refuse Kafka records that cannot apply.
class OrderReplay {
 public:
  // Starts from the events the dir already holds for the stream.
  Status Load(const Log* log, const std::string& stream, uint64_t head) {
    if (!log || head == 0) return Status::Ok();
    Result<std::vector<Event>> events = log->ReadStream(stream, StreamVersion(1), head);
    if (!events.ok()) return events.status();
    for (const Event& e : *events) {
      if (!IsOrderEventType(e.type)) continue;
      Result<OrderEvent> parsed = ParseOrderEvent(e.type, e.data, e.timestamp_us);
      if (!parsed.ok() || !ApplyToView(view_, *parsed, e.timestamp_us, e.version.value()).ok()) {
        enabled_ = false;  // the dir's own history does not fold: do not judge what follows
        return Status::Ok();
      }
    }
    return Status::Ok();
  }
  // Why `c` cannot apply, or "" when it can.
  std::string Apply(const Candidate& c) {
    if (!enabled_ || !IsOrderEventType(c.event.type)) return "";
    Result<OrderEvent> parsed = ParseOrderEvent(c.event.type, c.event.data, c.event.timestamp_us);
    if (!parsed.ok()) return "payload.data: " + parsed.status().message();
    if (OrderIdOf(*parsed) != c.aggregate_id) {
      return "payload.data.orderId " + OrderIdOf(*parsed) + " is not the aggregateId " +
             c.aggregate_id;
    }
    Status applied = ApplyToView(view_, *parsed, c.event.timestamp_us, c.version);
    return applied.ok() ? "" : applied.message();
  }

 private:
  bool enabled_ = true;
  std::optional<OrderView> view_;
};

// Per stream: versions must continue from the stream's head without gaps or repeats.
Status CheckStreams(const Log* log, ImportState* state) {
  std::map<std::string, std::vector<Candidate*>> streams;
  for (Candidate& c : state->candidates) {
    if (c.fate == Candidate::Fate::kNew) streams[c.stream].push_back(&c);
  }
  for (auto& [stream, events] : streams) {
    std::stable_sort(events.begin(), events.end(),
                     [](const Candidate* a, const Candidate* b) { return a->version < b->version; });
    uint64_t head = 0;
    if (log) {
      Result<StreamVersion> stored = log->StreamHead(stream);
      if (!stored.ok()) return stored.status();
      head = stored->value();
    }
    OrderReplay replay;
    CAIRN_RETURN_IF_ERROR(replay.Load(log, stream, head));
    uint64_t next = head + 1;
    const Candidate* broken_by = nullptr;
    const Candidate* previous = nullptr;
    for (Candidate* c : events) {
      if (broken_by) {
        state->Reject(*c, "stream " + stream + " cannot continue after rejected line " +
                              std::to_string(broken_by->line));
        continue;
      }
      std::string reason;
      if (c->version != next) {
        if (previous && previous->version == c->version) {
          reason = "version " + std::to_string(c->version) + " of stream " + stream +
                   " is also on line " + std::to_string(previous->line);
        } else if (c->version <= head) {
          reason = "stream " + stream + " already has version " + std::to_string(c->version) +
                   " in " + "this data dir, with another event id";
        } else {
          reason = "stream " + stream + " would have a gap: version " +
                   std::to_string(c->version) + " after version " + std::to_string(next - 1);
        }
      } else if (c->kafka) {
        reason = replay.Apply(*c);
      }
      if (!reason.empty()) {
        state->Reject(*c, std::move(reason));
        broken_by = c;
        continue;
      }
      previous = c;
      ++next;
    }
  }
  return Status::Ok();
}

// ---- 3. Topics and partitions ------------------------------------------------------------

// The partition count for a topic the dir does not have yet: --partitions, else 8 when it
// reproduces every partition the input recorded, else the smallest count that does, else 8.
uint32_t ChoosePartitions(const std::vector<const Candidate*>& events, uint32_t flag) {
  if (flag > 0) return flag;
  std::vector<std::pair<uint32_t, uint32_t>> hashes;  // (murmur2 & 0x7fffffff, partition)
  std::unordered_map<std::string_view, bool> seen;
  uint32_t min_count = 1;
  for (const Candidate* c : events) {
    if (!c->source_partition) continue;
    const std::string_view key = StreamKey(c->stream);
    if (!seen.emplace(key, true).second) continue;
    hashes.emplace_back(uint32_t(Murmur2(key)) & 0x7fffffff, *c->source_partition);
    min_count = std::max(min_count, *c->source_partition + 1);
  }
  auto fits = [&](uint32_t n) {
    if (n < min_count) return false;
    for (const auto& [hash, partition] : hashes) {
      if (hash % n != partition) return false;
    }
    return true;
  };
  if (hashes.empty() || fits(kDefaultPartitions)) return kDefaultPartitions;
  for (uint32_t n = min_count; n <= kMaxPartitions; ++n) {
    if (fits(n)) return n;
  }
  return kDefaultPartitions;
}

// Topics to create, with their partition count.
std::map<std::string, uint32_t> PlanTopics(const Log* log, const ImportState& state,
                                           const ImportFlags& flags) {
  std::map<std::string, std::vector<const Candidate*>> by_topic;
  for (const Candidate& c : state.candidates) {
    if (c.fate != Candidate::Fate::kNew) continue;
    if (log && log->GetTopic(c.topic).ok()) continue;
    by_topic[c.topic].push_back(&c);
  }
  std::map<std::string, uint32_t> plan;
  for (const auto& [topic, events] : by_topic) plan[topic] = ChoosePartitions(events, flags.partitions);
  return plan;
}

// ---- 4. Appending in order -----------------------------------------------------------------

// The events to append, in the order to append them: per stream in version order, streams
// interleaved by seq (Cairn events that all carry one), else by line (Cairn), then Kafka
// records by timestamp.
std::vector<const Candidate*> AppendOrder(const ImportState& state) {
  bool every_seq = true;
  std::map<std::string, std::vector<const Candidate*>> streams;
  for (const Candidate& c : state.candidates) {
    if (c.fate != Candidate::Fate::kNew) continue;
    streams[c.stream].push_back(&c);
    if (!c.kafka && !c.seq) every_seq = false;
  }
  using Key = std::tuple<int, int64_t, size_t>;
  auto key_of = [&](const Candidate* c) -> Key {
    if (c->kafka) return {1, c->event.timestamp_us, c->line};
    return {0, every_seq ? int64_t(*c->seq) : int64_t(c->line), c->line};
  };
  struct Head {
    Key key;
    std::vector<const Candidate*>* events;
    size_t next;
    bool operator>(const Head& o) const { return key > o.key; }
  };
  std::priority_queue<Head, std::vector<Head>, std::greater<Head>> heads;
  for (auto& [stream, events] : streams) {
    std::stable_sort(events.begin(), events.end(),
                     [](const Candidate* a, const Candidate* b) { return a->version < b->version; });
    heads.push(Head{key_of(events[0]), &events, 0});
  }
  std::vector<const Candidate*> order;
  while (!heads.empty()) {
    Head head = heads.top();
    heads.pop();
    order.push_back((*head.events)[head.next]);
    if (++head.next < head.events->size()) {
      head.key = key_of((*head.events)[head.next]);
      heads.push(head);
    }
  }
  return order;
}

struct AppendCounts {
  uint64_t imported = 0;
  uint64_t skipped = 0;
};

Status AppendAll(Log& log, const std::vector<const Candidate*>& order, bool quiet,
                 AppendCounts* counts) {
  Progress progress(std::string(kCommand), "events", quiet);
  for (size_t i = 0; i < order.size();) {
    const Candidate& first = *order[i];
    AppendRequest req;
    req.topic = first.topic;
    req.stream = first.stream;
    req.expected = ExpectedVersion::Exact(first.version - 1);
    size_t bytes = 0;
    size_t j = i;
    while (j < order.size() && order[j]->stream == first.stream && order[j]->topic == first.topic &&
           req.events.size() < kMaxRunEvents && bytes < kMaxRunBytes) {
      req.events.push_back(order[j]->event);
      bytes += order[j]->event.data.size();
      ++j;
    }
    const size_t n = req.events.size();
    Result<AppendResult> appended = log.Append(std::move(req));
    if (!appended.ok()) {
      return Status(appended.status().code(),
                    "appending line " + std::to_string(first.line) + " (stream " + first.stream +
                        ") failed: " + appended.status().message() + "; " +
                        std::to_string(counts->imported) +
                        " events were imported before it, and running the import again skips them");
    }
    (appended->duplicate ? counts->skipped : counts->imported) += n;
    i = j;
    progress.Update(i, order.size());
  }
  return Status::Ok();
}

// ---- The command ---------------------------------------------------------------------------

void PrintRejections(const ImportState& state) {
  std::vector<Rejection> sorted = state.rejections;
  std::stable_sort(sorted.begin(), sorted.end(),
                   [](const Rejection& a, const Rejection& b) { return a.line < b.line; });
  for (const Rejection& r : sorted) {
    std::fprintf(stderr, "cairn import: line %zu: %s\n", r.line, r.reason.c_str());
  }
}

void PrintCounts(const char* verb, uint64_t imported, uint64_t skipped, size_t rejected) {
  std::fprintf(stderr, "import: %s %llu, skipped %llu, rejected %zu\n", verb,
               static_cast<unsigned long long>(imported), static_cast<unsigned long long>(skipped),
               rejected);
}

int RunImport(const ImportFlags& flags) {
  if (flags.data.empty()) return Fail(kCommand, "--data DIR is required");
  FILE* in = stdin;
  if (!flags.file.empty() && flags.file != "-") {
    in = std::fopen(flags.file.c_str(), "rb");
    if (!in) return Fail(kCommand, "cannot read " + flags.file + ": " + std::strerror(errno));
  }
  ImportState state;
  Status read = ReadInput(in, flags, &state);
  if (in != stdin) std::fclose(in);
  if (!read.ok()) return Fail(kCommand, read);

  // The dir is opened only to validate against it when it exists, and created only to write.
  std::unique_ptr<Db> dir;
  OfflineOptions open_options;
  open_options.has_url_mode = false;
  open_options.sync = SyncMode::kNone;  // one WAL sync at the end (step 4)
  open_options.create_if_missing = true;
  if (IsDataDir(flags.data)) {
    Result<std::unique_ptr<Db>> opened = OpenOffline(kCommand, flags.data, open_options);
    if (!opened.ok()) return Fail(kCommand, opened.status());
    dir = std::move(*opened);
  } else if (std::error_code ec; std::filesystem::exists(flags.data, ec) &&
                                 (!std::filesystem::is_directory(flags.data, ec) ||
                                  !std::filesystem::is_empty(flags.data, ec))) {
    return Fail(kCommand, flags.data + " is neither empty nor a Cairn data dir; refusing to write into it");
  }
  const Log* log = dir ? &dir->log() : nullptr;

  MarkInputDuplicates(&state);
  if (log) {
    if (Status s = MarkStored(*log, &state); !s.ok()) return Fail(kCommand, s);
  }
  if (Status s = CheckStreams(log, &state); !s.ok()) return Fail(kCommand, s);

  uint64_t fresh = 0, skipped = 0;
  for (const Candidate& c : state.candidates) {
    if (c.fate == Candidate::Fate::kNew) ++fresh;
    if (c.fate == Candidate::Fate::kSkipped) ++skipped;
  }
  const size_t rejected = state.rejections.size();
  PrintRejections(state);
  if (rejected > 0 && !flags.skip_invalid) {
    std::fprintf(stderr,
                 "cairn import: nothing imported: %zu of %zu lines rejected; fix them, or pass "
                 "--skip-invalid to import the rest\n",
                 rejected, state.lines);
    PrintCounts("imported", 0, skipped, rejected);
    return kExitError;
  }
  const std::map<std::string, uint32_t> topics = PlanTopics(log, state, flags);
  if (flags.dry_run) {
    for (const auto& [topic, partitions] : topics) {
      std::fprintf(stderr, "import: would create topic %s with %u partitions\n", topic.c_str(), partitions);
    }
    PrintCounts("would import", fresh, skipped, rejected);
    return kExitOk;
  }
  if (fresh == 0) {
    PrintCounts("imported", 0, skipped, rejected);
    return kExitOk;
  }

  if (!dir) {
    Result<std::unique_ptr<Db>> created = OpenOffline(kCommand, flags.data, open_options);
    if (!created.ok()) return Fail(kCommand, created.status());
    dir = std::move(*created);
  }
  for (const auto& [topic, partitions] : topics) {
    Result<TopicInfo> made = dir->log().CreateTopic(topic, partitions);
    if (!made.ok()) return Fail(kCommand, made.status());
    if (!flags.quiet) {
      std::fprintf(stderr, "import: created topic %s with %u partitions\n", topic.c_str(), partitions);
    }
  }
  AppendCounts counts;
  Status appended = AppendAll(dir->log(), AppendOrder(state), flags.quiet, &counts);
  // Durability point of the import: the appends above were written to the WAL unsynced
  // (SyncMode::kNone, for speed); this one fsync makes all of them durable. A crash before it
  // loses only events that a second run imports again.
  Status synced = dir->store().SyncWal();
  if (!appended.ok()) return Fail(kCommand, appended);
  if (!synced.ok()) return Fail(kCommand, synced);
  Status caught_up = CatchUpWithProgress(*dir, kCommand, flags.quiet);
  if (!caught_up.ok()) {
    return Fail(kCommand, "the events were imported, but bringing the read models up to date "
                          "failed: " + caught_up.ToString());
  }
  PrintCounts("imported", counts.imported, skipped + counts.skipped, rejected);
  return kExitOk;
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
