// The import pipeline (src/interop/import.h) below the cli: lines checked on their own, the plan
// (duplicates, streams, the domain's checker, partition counts, append order) and a plan applied
// to a real data dir. tests/cli/cli_test.py runs the whole `cairn import` on the seed's capture.
#include <doctest/doctest.h>

#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "cairn/db.h"
#include "interop/import.h"
#include "interop/kafka_record.h"
#include "temp_dir.h"

namespace cairn::interop {
namespace {

struct Line {
  std::string id;
  std::string stream;
  uint64_t version = 1;
  std::string topic = "notes";
  std::string type = "NOTE_ADDED";
  std::string extra;  // more fields, each with a leading comma
};

// A Cairn event as `cairn export` writes it (fields the import does not need left out).
std::string CairnLine(const Line& l) {
  return R"({"id":")" + l.id + R"(","type":")" + l.type + R"(","topic":")" + l.topic +
         R"(","stream":")" + l.stream + R"(","version":)" + std::to_string(l.version) +
         R"(,"timestamp":"2026-11-02T10:00:00Z","data":{"n":1})" + l.extra + "}";
}

// A kcat record of the seed's shape for aggregate `id`.
std::string KcatLine(const std::string& type, const std::string& id, uint64_t version,
                     int64_t offset, const std::string& timestamp = "2026-11-01T14:33:00Z") {
  return R"({"topic":"order-events","partition":0,"offset":)" + std::to_string(offset) +
         R"(,"key":")" + id + R"(","payload":"{\"type\": \")" + type + R"(\", \"aggregateId\": \")" +
         id + R"(\", \"version\": )" + std::to_string(version) + R"(, \"timestamp\": \")" +
         timestamp + R"(\", \"data\": {\"n\": 1}}"})";
}

ImportInput Read(const std::vector<std::string>& lines, const ImportReadOptions& options = {}) {
  std::string text;
  for (const std::string& l : lines) text += l + "\n";
  FILE* in = fmemopen(text.data(), text.size(), "r");
  REQUIRE(in != nullptr);
  Result<ImportInput> input = ReadImportInput(in, options, nullptr);
  std::fclose(in);
  REQUIRE_MESSAGE(input.ok(), input.status().ToString());
  return std::move(*input);
}

ImportPlan Plan(const std::vector<std::string>& lines, const ImportTarget& target = {}) {
  Result<ImportPlan> plan = PlanImport(Read(lines), target);
  REQUIRE_MESSAGE(plan.ok(), plan.status().ToString());
  return std::move(*plan);
}

std::vector<std::string> AppendedIds(const ImportPlan& plan) {
  std::vector<std::string> ids;
  for (const ImportEvent& e : plan.appends) ids.push_back(e.event.id);
  return ids;
}

std::vector<std::string> Reasons(const ImportPlan& plan) {
  std::vector<std::string> reasons;
  for (const Rejection& r : plan.rejections) reasons.push_back(std::to_string(r.line) + ": " + r.reason);
  return reasons;
}

// Accepts every event but those of type BAD, and writes down what it was shown.
class FakeChecker : public StreamChecker {
 public:
  explicit FakeChecker(std::vector<std::string>* seen) : seen_(seen) {}
  void Load(const Event& stored) override { seen_->push_back("load " + stored.id); }
  Status Check(const NewEvent& event, StreamVersion version) override {
    seen_->push_back("check " + event.id + " v" + std::to_string(version.value()));
    if (event.type != "BAD") return Status::Ok();
    return Status::InvalidArgument("data.n must be 2", "data.n");
  }

 private:
  std::vector<std::string>* seen_;
};

ImportTarget FakeTarget(std::vector<std::string>* seen) {
  ImportTarget target;
  target.new_checker = [seen](std::string_view) { return std::make_unique<FakeChecker>(seen); };
  return target;
}

// ---- Step 1: lines on their own -------------------------------------------------------------

TEST_CASE("a Cairn event line keeps its id, metadata and the positions it recorded") {
  Result<ImportEvent> e = ParseImportLine(
      CairnLine({.id = "e1", .stream = "note-1", .version = 2,
                 .extra = R"(,"partition":5,"seq":42,"metadata":{"userId":"u7"})"}),
      9, {});
  REQUIRE_MESSAGE(e.ok(), e.status().ToString());
  CHECK(e->line == 9);
  CHECK_FALSE(e->from_kafka);
  CHECK(e->topic == "notes");
  CHECK(e->stream == "note-1");
  CHECK(e->version == 2);
  CHECK(e->event.id == "e1");
  CHECK(e->event.data == R"({"n":1})");
  CHECK(e->event.metadata.user_id == "u7");
  CHECK(e->source_partition == 5u);
  CHECK(e->seq == 42u);
}

TEST_CASE("a kcat line becomes its Kafka event, with the partition it was in") {
  Result<ImportEvent> e = ParseImportLine(KcatLine("ORDER_CREATED", "a1", 1, 3), 1, {});
  REQUIRE_MESSAGE(e.ok(), e.status().ToString());
  CHECK(e->from_kafka);
  CHECK(e->stream == "order-a1");
  CHECK(e->event.id == KafkaEventId("order-events", 0, 3));
  CHECK(e->source_partition == 0u);
  CHECK_FALSE(e->seq);
}

TEST_CASE("a line the log would refuse, or that an import cannot keep, is rejected up front") {
  ImportReadOptions small;
  small.log.max_event_bytes = 4;
  Result<ImportEvent> big = ParseImportLine(CairnLine({.id = "e1", .stream = "s"}), 1, small);
  REQUIRE_FALSE(big.ok());
  CHECK(big.status().field() == "data");

  Result<ImportEvent> no_id = ParseImportLine(CairnLine({.id = "", .stream = "s"}), 1, {});
  REQUIRE_FALSE(no_id.ok());
  CHECK(no_id.status().message() == "id is required (an import keeps every event's id)");

  Result<ImportEvent> long_id = ParseImportLine(CairnLine({.id = std::string(129, 'x'), .stream = "s"}), 1, {});
  REQUIRE_FALSE(long_id.ok());
  CHECK(long_id.status().field() == "id");

  std::string epoch = CairnLine({.id = "e1", .stream = "s"});
  epoch.replace(epoch.find("2026-11-02T10:00:00Z"), 20, "1970-01-01T00:00:00Z");
  Result<ImportEvent> zero = ParseImportLine(epoch, 1, {});
  REQUIRE_FALSE(zero.ok());
  CHECK(zero.status().message().find("0 means now") != std::string::npos);

  Result<ImportEvent> bad_topic = ParseImportLine(CairnLine({.id = "e1", .stream = "s", .topic = "a b"}), 1, {});
  REQUIRE_FALSE(bad_topic.ok());
  CHECK(bad_topic.status().field() == "topic");
}

TEST_CASE("a bad line says what kind of line it was read as") {
  Result<ImportEvent> kcat = ParseImportLine(R"({"topic":"t","payload":null})", 1, {});
  REQUIRE_FALSE(kcat.ok());
  CHECK(kcat.status().message() == "kcat record: payload is null (a tombstone)");
  Result<ImportEvent> garbage = ParseImportLine("garbage", 1, {});
  REQUIRE_FALSE(garbage.ok());
  CHECK(garbage.status().message().starts_with("the line "));
}

TEST_CASE("reading numbers lines from 1, skips blank ones and keeps every rejection") {
  ImportInput input = Read({CairnLine({.id = "e1", .stream = "s"}), "", "  ", "not json",
                            CairnLine({.id = "e2", .stream = "s", .version = 2})});
  CHECK(input.lines == 3);
  REQUIRE(input.events.size() == 2);
  CHECK(input.events[0].line == 1);
  CHECK(input.events[1].line == 5);
  REQUIRE(input.rejections.size() == 1);
  CHECK(input.rejections[0].line == 4);
}

TEST_CASE("lines read in blocks and parsed on two threads come out in input order") {
  // 20,000 lines: three blocks of 8,192 (the last one short), split between two threads; a
  // blank line and a rejected one in each block.
  std::vector<std::string> lines;
  std::vector<size_t> rejected;
  for (size_t i = 1; i <= 20'000; ++i) {
    if (i % 7'000 == 0) {
      lines.push_back("");
    } else if (i % 7'000 == 1'234) {
      lines.push_back("{\"broken");
      rejected.push_back(i);
    } else {
      lines.push_back(CairnLine({.id = "e" + std::to_string(i), .stream = "s-" + std::to_string(i)}));
    }
  }
  const ImportInput input = Read(lines);
  CHECK(input.lines == 20'000 - 2);
  REQUIRE(input.events.size() == 20'000 - 2 - rejected.size());
  size_t expected = 0;
  for (const ImportEvent& e : input.events) {
    ++expected;
    while (expected % 7'000 == 0 || expected % 7'000 == 1'234) ++expected;
    REQUIRE(e.line == expected);
    REQUIRE(e.event.id == "e" + std::to_string(expected));
  }
  REQUIRE(input.rejections.size() == rejected.size());
  for (size_t i = 0; i < rejected.size(); ++i) CHECK(input.rejections[i].line == rejected[i]);
}

// ---- Step 2: the plan ---------------------------------------------------------------------

TEST_CASE("each stream is appended in version order and streams interleave by recorded seq") {
  ImportPlan plan = Plan({
      CairnLine({.id = "b2", .stream = "s-b", .version = 2, .extra = R"(,"seq":4)"}),
      CairnLine({.id = "a1", .stream = "s-a", .version = 1, .extra = R"(,"seq":1)"}),
      CairnLine({.id = "b1", .stream = "s-b", .version = 1, .extra = R"(,"seq":2)"}),
      CairnLine({.id = "a2", .stream = "s-a", .version = 2, .extra = R"(,"seq":3)"}),
  });
  CHECK(plan.rejections.empty());
  CHECK(AppendedIds(plan) == std::vector<std::string>{"a1", "b1", "a2", "b2"});
}

TEST_CASE("without seqs Cairn events keep line order, and Kafka records follow by timestamp") {
  ImportPlan plan = Plan({
      KcatLine("ORDER_CREATED", "late", 1, 0, "2026-11-01T15:00:00Z"),
      KcatLine("ORDER_CREATED", "early", 1, 1, "2026-11-01T14:00:00Z"),
      CairnLine({.id = "n2", .stream = "s-2"}),
      CairnLine({.id = "n1", .stream = "s-1"}),
  });
  REQUIRE(plan.appends.size() == 4);
  CHECK(plan.appends[0].event.id == "n2");
  CHECK(plan.appends[1].event.id == "n1");
  CHECK(plan.appends[2].stream == "order-early");
  CHECK(plan.appends[3].stream == "order-late");
}

TEST_CASE("a gap, a repeated version and a clashing id are rejected, and the stream stops there") {
  ImportPlan plan = Plan({
      CairnLine({.id = "a1", .stream = "s-a", .version = 1}),
      CairnLine({.id = "a3", .stream = "s-a", .version = 3}),
      CairnLine({.id = "a4", .stream = "s-a", .version = 4}),
      CairnLine({.id = "b1", .stream = "s-b", .version = 1}),
      CairnLine({.id = "b1x", .stream = "s-b", .version = 1}),
      CairnLine({.id = "b1", .stream = "s-b", .version = 1}),  // the same event again: skipped
      CairnLine({.id = "a1", .stream = "s-c", .version = 1}),  // a1's id on another event
  });
  CHECK(Reasons(plan) == std::vector<std::string>{
                             "2: stream s-a would have a gap: version 3 after version 1",
                             "3: stream s-a cannot continue after rejected line 2",
                             "5: version 1 of stream s-b is also on line 4",
                             "7: event id a1 is also on line 1 with different content",
                         });
  CHECK(plan.skipped == 1);
  CHECK(AppendedIds(plan) == std::vector<std::string>{"a1", "b1"});
}

TEST_CASE("the domain's checker sees each stream's new events in version order") {
  std::vector<std::string> seen;
  ImportPlan plan = Plan({CairnLine({.id = "x2", .stream = "s-x", .version = 2}),
                          CairnLine({.id = "x1", .stream = "s-x", .version = 1})},
                         FakeTarget(&seen));
  CHECK(plan.rejections.empty());
  CHECK(seen == std::vector<std::string>{"check x1 v1", "check x2 v2"});
}

TEST_CASE("the checker's refusal is a rejection, in payload terms for a kcat record") {
  std::vector<std::string> seen;
  ImportPlan plan = Plan({CairnLine({.id = "x1", .stream = "s-x", .type = "BAD"}),
                          KcatLine("BAD", "k1", 1, 0),
                          KcatLine("ORDER_CREATED", "k1", 2, 1)},
                         FakeTarget(&seen));
  CHECK(Reasons(plan) == std::vector<std::string>{
                             "1: data.n must be 2",
                             "2: payload.data.n must be 2",
                             "3: stream order-k1 cannot continue after rejected line 2",
                         });
  CHECK(plan.appends.empty());
}

TEST_CASE("CheckersOf asks each domain in turn, and a stream no domain checks goes unchecked") {
  std::vector<std::string> seen;
  DomainSpec none;
  none.name = "none";
  DomainSpec notes;
  notes.name = "notes";
  notes.new_checker = [&seen](std::string_view stream) -> std::unique_ptr<StreamChecker> {
    if (!stream.starts_with("note-")) return nullptr;
    return std::make_unique<FakeChecker>(&seen);
  };
  ImportTarget target;
  target.new_checker = CheckersOf({none, notes});
  ImportPlan plan = Plan({CairnLine({.id = "n1", .stream = "note-1", .type = "BAD"}),
                          CairnLine({.id = "o1", .stream = "other-1", .type = "BAD"})},
                         target);
  CHECK(Reasons(plan) == std::vector<std::string>{"1: data.n must be 2"});
  CHECK(AppendedIds(plan) == std::vector<std::string>{"o1"});
}

std::vector<std::string> SeedLines() {
  std::vector<std::string> lines;
  FILE* in = std::fopen(CAIRN_SAMPLES_DIR "/seed-kafka-export.kcat.jsonl", "r");
  REQUIRE(in != nullptr);
  char* buffer = nullptr;
  size_t capacity = 0;
  for (ssize_t n; (n = getline(&buffer, &capacity, in)) > 0;) {
    lines.emplace_back(buffer, size_t(n) - (buffer[n - 1] == '\n' ? 1 : 0));
  }
  std::free(buffer);
  std::fclose(in);
  return lines;
}

TEST_CASE("the order domain's rules accept the seed's orders under any stream prefix, even none") {
  for (const std::string prefix : {"order", "shop", ""}) {
    CAPTURE(prefix);
    ImportReadOptions options;
    options.stream_prefix = prefix;
    ImportTarget target;
    target.new_checker = CheckersOf({OrderDomain()});
    Result<ImportPlan> plan = PlanImport(Read(SeedLines(), options), target);
    REQUIRE(plan.ok());
    CHECK(Reasons(*plan).empty());
    CHECK(plan->appends.size() == 78);
  }
  // An order event whose data names another order is refused, with or without a prefix.
  std::vector<std::string> lines = SeedLines();
  const std::string created = lines[0];
  // The first character of the order id after "orderId", inside the payload's data.
  const size_t at = created.find("6415479c", created.find("orderId"));
  REQUIRE(at != std::string::npos);
  lines = {created.substr(0, at) + "X" + created.substr(at + 1)};
  for (const std::string prefix : {"order", ""}) {
    CAPTURE(prefix);
    ImportReadOptions options;
    options.stream_prefix = prefix;
    ImportTarget target;
    target.new_checker = CheckersOf({OrderDomain()});
    Result<ImportPlan> plan = PlanImport(Read(lines, options), target);
    REQUIRE(plan.ok());
    REQUIRE(plan->rejections.size() == 1);
    CHECK(plan->rejections[0].reason.find("payload.data.orderId X") != std::string::npos);
  }
}

// A Cairn line of stream `stream` that recorded partition `partition`.
std::string InPartition(const std::string& id, const std::string& stream, uint32_t partition) {
  return CairnLine({.id = id, .stream = stream, .extra = ",\"partition\":" + std::to_string(partition)});
}

TEST_CASE("a new topic gets the partition count that reproduces the input's partitions") {
  std::vector<std::string> eight, three, none_fits;
  for (int i = 0; i < 12; ++i) {
    const std::string stream = "s-" + std::to_string(i);
    eight.push_back(InPartition("e" + std::to_string(i), stream, PartitionForKey(StreamKey(stream), 8).value()));
    three.push_back(InPartition("t" + std::to_string(i), stream, PartitionForKey(StreamKey(stream), 3).value()));
    none_fits.push_back(InPartition("n" + std::to_string(i), stream, i % 2 == 0 ? 5000 : 0));
  }
  CHECK(Plan(eight).new_topics == std::map<std::string, uint32_t>{{"notes", 8}});
  CHECK(Plan(three).new_topics == std::map<std::string, uint32_t>{{"notes", 3}});
  CHECK(Plan(none_fits).new_topics == std::map<std::string, uint32_t>{{"notes", 8}});
  ImportTarget flagged;
  flagged.partitions = 5;
  CHECK(Plan(three, flagged).new_topics == std::map<std::string, uint32_t>{{"notes", 5}});
  CHECK(Plan({CairnLine({.id = "x", .stream = "s"})}).new_topics ==
        std::map<std::string, uint32_t>{{"notes", 8}});
}

// ---- Against a data dir --------------------------------------------------------------------

std::unique_ptr<Db> OpenDb(const std::string& path) {
  DbOptions options;
  options.engine.start_threads = false;
  options.create_owned_topics = false;
  Result<std::unique_ptr<Db>> db = Db::Open(path, options);
  REQUIRE_MESSAGE(db.ok(), db.status().ToString());
  return std::move(*db);
}

TEST_CASE("a plan applied to a dir, then planned again, finds everything stored") {
  testing::TempDir dir;
  std::unique_ptr<Db> db = OpenDb(dir.path());
  const std::vector<std::string> lines = {CairnLine({.id = "a1", .stream = "s-a"}),
                                          CairnLine({.id = "a2", .stream = "s-a", .version = 2})};
  ImportTarget target;
  target.log = &db->log();
  ImportPlan first = Plan(lines, target);
  std::vector<std::string> created;
  uint64_t last_done = 0;
  ApplyCallbacks callbacks;
  callbacks.topic_created = [&](const std::string& topic, uint32_t n) {
    created.push_back(topic + "/" + std::to_string(n));
  };
  callbacks.appended = [&](uint64_t done, uint64_t) { last_done = done; };
  Result<ImportCounts> counts = ApplyImport(*db, first, callbacks);
  REQUIRE_MESSAGE(counts.ok(), counts.status().ToString());
  CHECK(counts->imported == 2);
  CHECK(created == std::vector<std::string>{"notes/8"});
  CHECK(last_done == 2);
  Result<Event> stored = db->log().ReadEvent("a2");
  REQUIRE(stored.ok());
  CHECK(stored->version.value() == 2);

  ImportPlan again = Plan(lines, target);
  CHECK(again.skipped == 2);
  CHECK(again.appends.empty());
  CHECK(again.new_topics.empty());
}

TEST_CASE("a failed append stops the import: its line is named and what went in is counted") {
  testing::TempDir dir;
  std::unique_ptr<Db> db = OpenDb(dir.path());
  ImportTarget target;
  target.log = &db->log();
  std::vector<std::string> lines = {CairnLine({.id = "b1", .stream = "s-b"})};
  for (int n = 0; n < 50; ++n) {
    const std::string n_text = std::to_string(n);
    lines.push_back(CairnLine({.id = "c" + n_text, .stream = "s-c" + n_text}));
  }
  ImportPlan plan = Plan(lines, target);
  REQUIRE(plan.appends.size() == 51);
  // Against the contract (import.h): another writer takes s-b's first version after planning.
  AppendRequest other;
  other.topic = "notes";
  other.stream = "s-b";
  other.events.push_back(NewEvent{.id = "foreign", .type = "NOTE_ADDED", .data = "{}"});
  REQUIRE(db->log().CreateTopic("notes", 8).ok());
  REQUIRE(db->log().Append(std::move(other)).ok());
  plan.new_topics.clear();

  Result<ImportCounts> counts = ApplyImport(*db, plan, {});
  REQUIRE_FALSE(counts.ok());
  CHECK(counts.status().code() == ErrorCode::kConflict);
  const std::string& message = counts.status().message();
  CHECK_MESSAGE(message.find("appending line 1 (stream s-b) failed") != std::string::npos, message);
  // The count it gives is what the log holds of the plan.
  size_t stored = 0;
  for (const ImportEvent& e : plan.appends) stored += db->log().ReadEvent(e.event.id).ok() ? 1 : 0;
  CHECK_MESSAGE(message.find("; " + std::to_string(stored) + " events were imported") !=
                    std::string::npos,
                message);
  CHECK_FALSE(db->log().ReadEvent("b1").ok());
  CHECK(db->log().ReadEvent("foreign").ok());
}

TEST_CASE("a stream the dir holds is continued from its head, its history loaded into the checker") {
  testing::TempDir dir;
  std::unique_ptr<Db> db = OpenDb(dir.path());
  ImportTarget target;
  target.log = &db->log();
  REQUIRE(ApplyImport(*db, Plan({CairnLine({.id = "a1", .stream = "s-a"})}, target), {}).ok());

  std::vector<std::string> seen;
  target.new_checker = FakeTarget(&seen).new_checker;
  ImportPlan plan = Plan({CairnLine({.id = "other", .stream = "s-a", .version = 1}),
                          CairnLine({.id = "a3", .stream = "s-a", .version = 3})},
                         target);
  CHECK(Reasons(plan) == std::vector<std::string>{
                             "1: stream s-a already has version 1 in this data dir, with another event id",
                             "2: stream s-a cannot continue after rejected line 1",
                         });
  CHECK(seen == std::vector<std::string>{"load a1"});
  seen.clear();
  ImportPlan next = Plan({CairnLine({.id = "a2", .stream = "s-a", .version = 2})}, target);
  CHECK(next.rejections.empty());
  CHECK(seen == std::vector<std::string>{"load a1", "check a2 v2"});
}

}  // namespace
}  // namespace cairn::interop
