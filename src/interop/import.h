// The import pipeline behind `cairn import`: NDJSON lines, each a Cairn event as the export
// writes it (log/event_json.h) or a Kafka record as `kcat -C -J` prints it (kafka_record.h),
// appended to a data dir. Idempotent by event id: an event already in the dir is skipped, so an
// interrupted import can simply be run again. Nothing here prints: the cli shows the progress,
// the rejections and the counts.
//
// Three steps, each the caller's to run, so it can decide in between (dry run, rejected lines):
// 1. ReadImportInput reads the whole input and checks each line on its own: the JSON, the
//    fields, the log's rules (ValidateNewEvent) and the import's own (an id, a timestamp).
//    Bounded by memory: fine for the files this is for.
// 2. PlanImport checks the lines against each other and the dir: an id twice, events already
//    stored, per stream that versions continue the stream's head gaplessly and that the
//    domain's StreamChecker accepts them in version order (else a projection would stop at
//    one). It drops a stream's events after its first rejected one (they would leave a gap)
//    and orders the rest: Cairn events by seq, Kafka records by timestamp, each stream in
//    version order. New topics get the partition count that reproduces the input's
//    partitions under murmur2 (8 when that fits). A Cairn export planned into an empty dir
//    reproduces the log exactly (same ids, positions, seqs, bytes).
// 3. ApplyImport creates the topics, appends with the exact expected versions and syncs the
//    WAL once at the end.
#pragma once

#include <cstdint>
#include <cstdio>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "cairn/db.h"
#include "cairn/domain_spec.h"
#include "cairn/log.h"
#include "cairn/status.h"
#include "interop/progress.h"

namespace cairn::interop {

// Partitions of a new topic when the input does not imply another count.
inline constexpr uint32_t kDefaultImportPartitions = 8;

struct ImportReadOptions {
  // Kafka records: streams are "<stream_prefix>-<aggregateId>" (KafkaRecordOptions).
  std::string stream_prefix = "order";
  // The limits of the log the events go into (max_event_bytes). Default: LogOptions' defaults.
  LogOptions log;
};

// One valid line, on its way into the log.
struct ImportEvent {
  size_t line = 0;          // 1-based, counting blank lines
  bool from_kafka = false;  // a kcat record; else a Cairn event
  std::string topic;
  std::string stream;
  uint64_t version = 0;  // >= 1
  NewEvent event;        // id non-empty, timestamp non-zero
  std::optional<uint32_t> source_partition;  // the partition the input recorded
  std::optional<uint64_t> seq;               // Cairn events: the seq the input recorded
};

struct Rejection {
  size_t line = 0;
  std::string reason;  // "stream order-1 would have a gap: version 3 after version 1"
};

// Every line of an input, checked on its own.
struct ImportInput {
  std::vector<ImportEvent> events;
  std::vector<Rejection> rejections;
  size_t lines = 0;  // non-blank lines read
};

// Step 1 for one line (`line` is its number, for the messages): kInvalidArgument saying what is
// wrong with it ("kcat record: payload.version is required (or header version)").
Result<ImportEvent> ParseImportLine(std::string_view text, size_t line,
                                    const ImportReadOptions& options);

// Step 1: reads `in` to its end, reporting the lines read now and then to `progress`. A bad
// line is a rejection; kIOError only when the input cannot be read.
Result<ImportInput> ReadImportInput(FILE* in, const ImportReadOptions& options,
                                    const ProgressFn& progress);

// The domain rules for a stream (Db::NewStreamChecker); nullptr: none.
using StreamCheckerSource = std::function<std::unique_ptr<StreamChecker>(std::string_view stream)>;

// The checkers Db::NewStreamChecker gives on a Db opened with `domains`: for a data dir that
// does not exist yet, so that its first import is checked like any other.
StreamCheckerSource CheckersOf(std::vector<DomainSpec> domains);

// What an import is planned against.
struct ImportTarget {
  // The data dir's log; nullptr for a dir that does not exist yet (it holds nothing).
  const Log* log = nullptr;
  // The rules of the domains that run (or will run) on the dir. Empty: no domain checks.
  StreamCheckerSource new_checker;
  // Partitions of the topics the import creates; 0: as the input's partitions imply, else 8.
  uint32_t partitions = 0;
};

struct ImportPlan {
  size_t lines = 0;                   // non-blank lines read
  std::vector<Rejection> rejections;  // every rejected line, in line order
  uint64_t skipped = 0;               // events already in the dir, or twice in the input
  // Topics the dir does not have yet, with the partition count to create them with.
  std::map<std::string, uint32_t> new_topics;
  // The events to append, in the order to append them.
  std::vector<ImportEvent> appends;
};

// Step 2. Errors only when the dir cannot be read.
Result<ImportPlan> PlanImport(ImportInput input, const ImportTarget& target);

struct ApplyCallbacks {
  // After each topic created, in name order.
  std::function<void(const std::string& topic, uint32_t partitions)> topic_created;
  // Events appended so far, of plan.appends.size().
  ProgressFn appended;
};

struct ImportCounts {
  uint64_t imported = 0;
  uint64_t skipped = 0;  // found stored while appending (another writer got there first)
};

// Step 3, into `db` (opened with any SyncMode: the WAL is synced once at the end), the dir the
// plan was made against. The appends are queued many at once (the log writes hundreds per
// group), so nothing else may append to the plan's streams between PlanImport and the end of
// ApplyImport: `cairn import` holds the dir's lock all along. (Should another writer take a
// stream's next versions anyway, that run fails with kConflict, but a later run of the stream
// already queued would be stacked on the other writer's events.) A failed append stops the
// queueing; the message names its line and says how many events were imported, and running the
// import again skips those.
Result<ImportCounts> ApplyImport(Db& db, const ImportPlan& plan, const ApplyCallbacks& callbacks);

}  // namespace cairn::interop
