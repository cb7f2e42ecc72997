// Unit tests of the partitioned log (src/log) through its public API only (include/cairn/log.h and
// store.h): topics, append positions, expected versions, idempotency, atomicity with state writes,
// group commit under concurrency, reopen, the read paths, waits, the write fault hook, and the few
// Store contracts the log relies on. Every test runs on its own temporary data dir.
#include <doctest/doctest.h>

#include <atomic>
#include <barrier>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include "cairn/log.h"
#include "cairn/status.h"
#include "cairn/store.h"
#include "cairn/types.h"
#include "base/bytes.h"
#include "base/uuid.h"
#include "log/envelope.h"
#include "temp_dir.h"

namespace cairn {
namespace {

using namespace std::chrono_literals;
using testing::TempDir;
using Clock = std::chrono::steady_clock;

// ---------------------------------------------------------------------------------------------
// Fixtures and helpers


StoreOptions FastStoreOptions() {
  StoreOptions options;
  options.sync = SyncMode::kNone;
  return options;
}

// A Store and a Log open on a fresh temp dir. Members are destroyed log first, then store, then
// the directory.
struct TestLog {
  explicit TestLog(LogOptions log_opts = LogOptions{},
                   StoreOptions store_opts = FastStoreOptions())
      : store_options(store_opts), log_options(log_opts) {
    Open();
  }

  void Open() {
    auto opened_store = Store::Open(dir.path(), store_options);
    REQUIRE_MESSAGE(opened_store.ok(), opened_store.status().ToString());
    store = std::move(opened_store).value();
    auto opened_log = Log::Open(store.get(), log_options);
    REQUIRE_MESSAGE(opened_log.ok(), opened_log.status().ToString());
    log = std::move(opened_log).value();
  }
  void Close() {
    log.reset();
    store.reset();
  }
  void Reopen() {
    Close();
    Open();
  }

  TempDir dir;
  StoreOptions store_options;
  LogOptions log_options;
  std::unique_ptr<Store> store;
  std::unique_ptr<Log> log;
};

NewEvent Ev(std::string type = "TEST_EVENT", std::string data = "{}", std::string id = {}) {
  NewEvent e;
  e.id = std::move(id);
  e.type = std::move(type);
  e.data = std::move(data);
  return e;
}

// An append of `n` events to `stream`. With a non-empty `id_prefix` the events get ids
// "<prefix>-0", "<prefix>-1", ...; otherwise the log assigns them.
AppendRequest Req(std::string topic, std::string stream, size_t n,
                  ExpectedVersion expected = ExpectedVersion::Any(),
                  const std::string& id_prefix = {}) {
  AppendRequest req;
  req.topic = std::move(topic);
  req.stream = std::move(stream);
  req.expected = expected;
  for (size_t i = 0; i < n; ++i) {
    req.events.push_back(Ev("TEST_EVENT", "{\"i\":" + std::to_string(i) + "}",
                            id_prefix.empty() ? std::string() : id_prefix + "-" + std::to_string(i)));
  }
  return req;
}

// Appends and requires success.
AppendResult MustAppend(Log& log, AppendRequest req) {
  auto result = log.Append(std::move(req));
  REQUIRE_MESSAGE(result.ok(), result.status().ToString());
  return std::move(result).value();
}

Status StatusOf(const Status& status) { return status; }
template <typename T>
Status StatusOf(const Result<T>& result) {
  return result.status();
}

std::string CodeName(ErrorCode code) { return std::string(ErrorCodeName(code)); }

// Checks that `expr` (a Status or Result) failed with `want`.
#define CHECK_FAILS_WITH(expr, want)                                                   \
  do {                                                                                 \
    const ::cairn::Status check_status_ = StatusOf(expr);                              \
    CHECK_MESSAGE(CodeName(check_status_.code()) == CodeName(want),                    \
                  "got: " << (check_status_.ok() ? std::string("ok")                   \
                                                 : check_status_.ToString()));         \
  } while (0)

bool Contains(std::string_view haystack, std::string_view needle) {
  return haystack.find(needle) != std::string_view::npos;
}

std::string FirstOf(const std::vector<std::string>& messages) {
  return messages.empty() ? std::string() : messages.front();
}

std::string Join(const std::vector<Position>& positions) {
  std::string out;
  for (const Position& p : positions) {
    out += p.ToString() + "#" + std::to_string(p.seq.value()) + " ";
  }
  return out;
}

// Everything an append could change in the log as a whole: the last seq and, per topic, the
// partition count and every partition's high-water mark (from both Topics() and HighWaterMark()).
std::string Describe(const Log& log) {
  std::string out = "last_seq=" + std::to_string(log.LastSeq().value());
  for (const TopicInfo& topic : log.Topics()) {
    out += " " + topic.name + "(" + std::to_string(topic.partitions) + "):[";
    for (const PartitionInfo& info : topic.partition_info) {
      out += std::to_string(info.partition.value()) + "=" +
             std::to_string(info.high_water_mark.value()) + "/" +
             std::to_string(log.HighWaterMark(topic.name, info.partition).value()) + ",";
    }
    out += "]";
  }
  return out;
}

// A stream id of the form "<prefix>-<n>" whose events land in `partition` of a topic with
// `partitions` partitions.
std::string StreamInPartition(const std::string& prefix, uint32_t partitions,
                              PartitionId partition) {
  for (int i = 0;; ++i) {
    std::string stream = prefix + "-" + std::to_string(i);
    if (PartitionForKey(StreamKey(stream), partitions) == partition) return stream;
  }
}

// Reads a whole partition page by page. Returns "" or what went wrong.
std::string ReadWholePartition(const Log& log, const std::string& topic, PartitionId partition,
                               std::vector<Event>* out) {
  uint64_t from = 0;
  for (;;) {
    auto page = log.ReadPartition(topic, partition, Offset(from), 1000);
    if (!page.ok()) return "ReadPartition: " + page.status().ToString();
    if (page->empty()) return {};
    for (Event& e : *page) out->push_back(std::move(e));
    from = out->back().offset.value() + 1;
  }
}

// "" when partition `partition` of `topic` holds offsets 0 .. hwm-1 in order, seqs increase with
// offsets, every event sits in its stream's partition and each stream's versions go up by one;
// otherwise the first problem found.
std::string PartitionProblem(const Log& log, const std::string& topic, uint32_t partitions,
                             PartitionId partition) {
  std::vector<Event> events;
  std::string error = ReadWholePartition(log, topic, partition, &events);
  if (!error.empty()) return error;
  const std::string where = topic + "/" + std::to_string(partition.value());
  uint64_t hwm = log.HighWaterMark(topic, partition).value();
  if (events.size() != hwm) {
    return where + ": read " + std::to_string(events.size()) + " events, high-water mark " +
           std::to_string(hwm);
  }
  uint64_t previous_seq = 0;
  std::map<std::string, uint64_t> last_version;
  for (size_t i = 0; i < events.size(); ++i) {
    const Event& e = events[i];
    const std::string at = where + " index " + std::to_string(i) + ": ";
    if (e.offset.value() != i) return at + "offset " + std::to_string(e.offset.value());
    if (e.topic != topic || e.partition != partition) return at + "event of " + e.position().ToString();
    if (e.seq.value() <= previous_seq) {
      return at + "seq " + std::to_string(e.seq.value()) + " after " + std::to_string(previous_seq);
    }
    previous_seq = e.seq.value();
    if (PartitionForKey(StreamKey(e.stream), partitions) != partition) {
      return at + "stream " + e.stream + " does not belong to this partition";
    }
    uint64_t& version = last_version[e.stream];
    if (e.version.value() != version + 1) {
      return at + "stream " + e.stream + " version " + std::to_string(e.version.value()) +
             " after " + std::to_string(version);
    }
    version = e.version.value();
  }
  return {};
}

// "" when every partition of `topic` is gapless (see PartitionProblem).
std::string TopicProblem(const Log& log, const std::string& topic) {
  auto info = log.GetTopic(topic);
  if (!info.ok()) return "GetTopic: " + info.status().ToString();
  for (uint32_t p = 0; p < info->partitions; ++p) {
    std::string problem = PartitionProblem(log, topic, info->partitions, PartitionId(p));
    if (!problem.empty()) return problem;
  }
  return {};
}

// "" when ScanInSeqOrder over every topic yields exactly seqs 1 .. n in order.
std::string SeqProblem(const Log& log, uint64_t n) {
  std::vector<uint64_t> seqs;
  Status status = log.ScanInSeqOrder({}, Seq(0), n + 100, [&](const EventView& e) {
    seqs.push_back(e.seq().value());
    return true;
  });
  if (!status.ok()) return "ScanInSeqOrder: " + status.ToString();
  if (seqs.size() != n) {
    return "scanned " + std::to_string(seqs.size()) + " events, expected " + std::to_string(n);
  }
  for (size_t i = 0; i < seqs.size(); ++i) {
    if (seqs[i] != i + 1) {
      return "index " + std::to_string(i) + " has seq " + std::to_string(seqs[i]);
    }
  }
  if (log.LastSeq().value() != n) return "LastSeq " + std::to_string(log.LastSeq().value());
  return {};
}

// "" when `stream` holds versions 1 .. count (ReadStream and StreamHead agree).
std::string StreamProblem(const Log& log, const std::string& stream, uint64_t count) {
  auto events = log.ReadStream(stream, StreamVersion(1), 1'000'000);
  if (!events.ok()) return "ReadStream: " + events.status().ToString();
  if (events->size() != count) {
    return stream + ": " + std::to_string(events->size()) + " events, expected " +
           std::to_string(count);
  }
  for (size_t i = 0; i < events->size(); ++i) {
    const Event& e = (*events)[i];
    if (e.stream != stream || e.version.value() != i + 1) {
      return stream + " index " + std::to_string(i) + ": " + e.stream + " version " +
             std::to_string(e.version.value());
    }
  }
  auto head = log.StreamHead(stream);
  if (!head.ok()) return "StreamHead: " + head.status().ToString();
  if (head->value() != count) return stream + ": head " + std::to_string(head->value());
  return {};
}

// Makes the group-commit writer pause before every WriteBatch (the fault hook returning Ok), so
// that concurrent appends queue up behind it and share groups.
void SlowWriter(Log& log, std::chrono::milliseconds pause) {
  log.SetWriteFaultForTesting([pause] {
    std::this_thread::sleep_for(pause);
    return Status::Ok();
  });
}

Family* WriteFamily(Store& store) {
  auto family = store.OpenFamily("write.test", FamilyKind::kPointLookup);
  REQUIRE_MESSAGE(family.ok(), family.status().ToString());
  return *family;
}

std::optional<std::string> GetKey(const Store& store, Family* family, std::string_view key) {
  auto value = store.Get(family, key);
  REQUIRE_MESSAGE(value.ok(), value.status().ToString());
  return *value;
}

// ---------------------------------------------------------------------------------------------
// Topics

TEST_CASE("a created topic is listed with its partition count and zero high-water marks") {
  TestLog t;
  auto created = t.log->CreateTopic("payments", 3);
  REQUIRE_MESSAGE(created.ok(), created.status().ToString());
  CHECK(created->name == "payments");
  CHECK(created->partitions == 3);
  REQUIRE(t.log->CreateTopic("orders", 5).ok());

  std::vector<TopicInfo> topics = t.log->Topics();
  REQUIRE(topics.size() == 2);
  CHECK(topics[0].name == "orders");  // sorted by name
  CHECK(topics[0].partitions == 5);
  CHECK(topics[1].name == "payments");
  CHECK(topics[1].partitions == 3);
  CHECK(topics[0].id != topics[1].id);
  for (const TopicInfo& topic : topics) {
    REQUIRE(topic.partition_info.size() == topic.partitions);
    for (uint32_t p = 0; p < topic.partitions; ++p) {
      CHECK(topic.partition_info[p].partition.value() == p);
      CHECK(topic.partition_info[p].high_water_mark.value() == 0);
    }
  }

  auto fetched = t.log->GetTopic("orders");
  REQUIRE(fetched.ok());
  CHECK(fetched->partitions == 5);
  CHECK(fetched->id == topics[0].id);
  CHECK(fetched->partition_info.size() == 5);
}

TEST_CASE("creating an existing topic with the same partition count returns it") {
  TestLog t;
  auto first = t.log->CreateTopic("orders", 4);
  REQUIRE(first.ok());
  auto again = t.log->CreateTopic("orders", 4);
  REQUIRE_MESSAGE(again.ok(), again.status().ToString());
  CHECK(again->name == "orders");
  CHECK(again->partitions == 4);
  CHECK(again->id == first->id);
  CHECK(t.log->Topics().size() == 1);
}

TEST_CASE("creating an existing topic with another partition count is a conflict") {
  TestLog t;
  REQUIRE(t.log->CreateTopic("orders", 4).ok());
  CHECK_FAILS_WITH(t.log->CreateTopic("orders", 5), ErrorCode::kConflict);
  auto topic = t.log->GetTopic("orders");
  REQUIRE(topic.ok());
  CHECK(topic->partitions == 4);
}

TEST_CASE("a topic name that is empty or contains '/' or a space is invalid") {
  TestLog t;
  for (const char* name : {"", "bad/topic", "has space", "tab\tname", "new\nline"}) {
    CAPTURE(name);
    CHECK_FAILS_WITH(t.log->CreateTopic(name, 2), ErrorCode::kInvalidArgument);
    CHECK_FAILS_WITH(ValidateTopicName(name), ErrorCode::kInvalidArgument);
  }
  CHECK(t.log->Topics().empty());
  CHECK(ValidateTopicName("order-events").ok());
  CHECK(ValidateTopicName("shipping_events.v2").ok());
}

TEST_CASE("a topic needs between 1 and 4096 partitions") {
  TestLog t;
  CHECK_FAILS_WITH(t.log->CreateTopic("zero", 0), ErrorCode::kInvalidArgument);
  CHECK_FAILS_WITH(t.log->CreateTopic("too-many", 4097), ErrorCode::kInvalidArgument);
  CHECK(t.log->Topics().empty());

  auto one = t.log->CreateTopic("one", 1);
  CHECK_MESSAGE(one.ok(), one.status().ToString());
  auto most = t.log->CreateTopic("most", 4096);
  REQUIRE_MESSAGE(most.ok(), most.status().ToString());
  CHECK(most->partitions == 4096);
  auto fetched = t.log->GetTopic("most");
  REQUIRE(fetched.ok());
  CHECK(fetched->partition_info.size() == 4096);
}

TEST_CASE("GetTopic of an unknown topic is not found") {
  TestLog t;
  CHECK_FAILS_WITH(t.log->GetTopic("nope"), ErrorCode::kNotFound);
}

TEST_CASE("appending to an unknown topic creates it with the default partition count") {
  LogOptions options;
  options.default_partitions = 3;
  TestLog t(options);
  AppendResult result = MustAppend(*t.log, Req("fresh", "order-42", 1));
  auto topic = t.log->GetTopic("fresh");
  REQUIRE_MESSAGE(topic.ok(), topic.status().ToString());
  CHECK(topic->partitions == 3);
  REQUIRE(result.positions.size() == 1);
  CHECK(result.positions[0].partition == PartitionForKey("42", 3));
  CHECK(t.log->HighWaterMark("fresh", result.positions[0].partition).value() == 1);
}

TEST_CASE("with auto-create off, appending to an unknown topic is not found and writes nothing") {
  LogOptions options;
  options.auto_create_topics = false;
  TestLog t(options);
  CHECK_FAILS_WITH(t.log->Append(Req("unknown", "order-1", 2, ExpectedVersion::Any(), "e")),
                   ErrorCode::kNotFound);
  CHECK(t.log->Topics().empty());
  CHECK(t.log->LastSeq().value() == 0);
  auto head = t.log->StreamHead("order-1");
  REQUIRE(head.ok());
  CHECK(head->value() == 0);
  CHECK_FAILS_WITH(t.log->ReadEvent("e-0"), ErrorCode::kNotFound);

  // An explicitly created topic still takes appends.
  REQUIRE(t.log->CreateTopic("known", 2).ok());
  AppendResult result = MustAppend(*t.log, Req("known", "order-1", 1));
  CHECK(result.version.value() == 1);
  CHECK(result.positions[0].seq.value() == 1);
}

// ---------------------------------------------------------------------------------------------
// Append positions

TEST_CASE("an append returns the topic, the stream's partition, offset 0, seq 1 and version 1") {
  TestLog t;
  REQUIRE(t.log->CreateTopic("orders", 8).ok());
  AppendResult result = MustAppend(*t.log, Req("orders", "order-6415", 1));
  CHECK_FALSE(result.duplicate);
  CHECK(result.version.value() == 1);
  REQUIRE(result.positions.size() == 1);
  const Position& position = result.positions[0];
  CHECK(position.topic == "orders");
  CHECK(position.partition == PartitionForKey(StreamKey("order-6415"), 8));
  CHECK(position.partition == PartitionForKey("6415", 8));
  CHECK(position.offset.value() == 0);
  CHECK(position.seq.value() == 1);
  CHECK(t.log->LastSeq().value() == 1);
  CHECK(t.log->HighWaterMark("orders", position.partition).value() == 1);
}

TEST_CASE("Position::ToString is topic/partition/offset") {
  Position position{"order-events", PartitionId(3), Offset(17), Seq(99)};
  CHECK(position.ToString() == "order-events/3/17");
}

TEST_CASE("a multi-event append gets consecutive offsets and seqs in one partition") {
  TestLog t;
  REQUIRE(t.log->CreateTopic("orders", 8).ok());
  const PartitionId partition = PartitionForKey(StreamKey("order-abc"), 8);
  AppendResult first = MustAppend(*t.log, Req("orders", "order-abc", 3));
  CHECK(first.version.value() == 3);
  REQUIRE(first.positions.size() == 3);
  for (uint64_t i = 0; i < 3; ++i) {
    CHECK(first.positions[i].topic == "orders");
    CHECK(first.positions[i].partition == partition);
    CHECK(first.positions[i].offset.value() == i);
    CHECK(first.positions[i].seq.value() == i + 1);
  }
  AppendResult second = MustAppend(*t.log, Req("orders", "order-abc", 2));
  CHECK(second.version.value() == 5);
  REQUIRE(second.positions.size() == 2);
  CHECK(second.positions[0].offset.value() == 3);
  CHECK(second.positions[1].offset.value() == 4);
  CHECK(second.positions[0].seq.value() == 4);
  CHECK(second.positions[1].seq.value() == 5);
  CHECK(t.log->HighWaterMark("orders", partition).value() == 5);
  CHECK(StreamProblem(*t.log, "order-abc", 5) == "");
}

TEST_CASE("offsets are gapless per partition and seqs are gapless across topics") {
  TestLog t;
  REQUIRE(t.log->CreateTopic("orders", 2).ok());
  REQUIRE(t.log->CreateTopic("payments", 1).ok());
  const std::string in0 = StreamInPartition("order", 2, PartitionId(0));
  const std::string also0 = StreamInPartition("order-x", 2, PartitionId(0));
  const std::string in1 = StreamInPartition("order", 2, PartitionId(1));

  CHECK(MustAppend(*t.log, Req("orders", in0, 1)).positions[0].offset.value() == 0);
  CHECK(MustAppend(*t.log, Req("orders", in1, 1)).positions[0].offset.value() == 0);
  AppendResult pay = MustAppend(*t.log, Req("payments", "payment-1", 1));
  CHECK(pay.positions[0].offset.value() == 0);
  CHECK(pay.positions[0].seq.value() == 3);
  // Another stream in partition 0 continues that partition's offsets.
  AppendResult other = MustAppend(*t.log, Req("orders", also0, 2));
  CHECK(other.positions[0].offset.value() == 1);
  CHECK(other.positions[1].offset.value() == 2);
  CHECK(other.positions[1].seq.value() == 5);

  CHECK(t.log->HighWaterMark("orders", PartitionId(0)).value() == 3);
  CHECK(t.log->HighWaterMark("orders", PartitionId(1)).value() == 1);
  CHECK(t.log->HighWaterMark("payments", PartitionId(0)).value() == 1);
  CHECK(t.log->HighWaterMark("nope", PartitionId(0)).value() == 0);
  CHECK(TopicProblem(*t.log, "orders") == "");
  CHECK(TopicProblem(*t.log, "payments") == "");
  CHECK(SeqProblem(*t.log, 5) == "");
}

TEST_CASE("an event without an id gets a version 8 UUID that holds its position") {
  TestLog t;
  AppendResult result = MustAppend(*t.log, Req("orders", "order-1", 2));
  auto events = t.log->ReadStream("order-1", StreamVersion(1), 10);
  REQUIRE(events.ok());
  REQUIRE(events->size() == 2);
  for (const Event& e : *events) {
    CHECK(e.id.size() == 36);
    CHECK(std::count(e.id.begin(), e.id.end(), '-') == 4);
    CHECK(e.id[14] == '8');  // version 8: the position, not an entry in the ids family
    auto by_id = t.log->ReadEvent(e.id);
    REQUIRE_MESSAGE(by_id.ok(), by_id.status().ToString());
    CHECK(by_id->position() == e.position());
    CHECK(by_id->id == e.id);
    // The id alone finds the event: no entry in the ids family.
    Family* ids = t.store->FindFamily("ids");
    REQUIRE(ids != nullptr);
    CHECK_FALSE(t.store->Get(ids, e.id)->has_value());
  }
  CHECK((*events)[0].id != (*events)[1].id);
  CHECK(result.positions[1] == (*events)[1].position());
}

TEST_CASE("positional event ids round-trip every position that fits and refuse the rest") {
  struct Case {
    uint32_t topic;
    uint32_t partition;
    uint64_t offset;
  };
  for (const Case c : {Case{0, 0, 0}, Case{1, 7, 123456789}, Case{65535, 4095, (uint64_t{1} << 40) - 1},
                       Case{300, 0, uint64_t{1} << 20}, Case{2, 1, 255}}) {
    CAPTURE(c.topic);
    CAPTURE(c.offset);
    auto id = envelope::PositionalEventId(TopicId(c.topic), PartitionId(c.partition), Offset(c.offset));
    REQUIRE(id.has_value());
    CHECK(id->size() == 36);
    CHECK((*id)[14] == '8');
    CHECK(std::string_view("89ab").find((*id)[19]) != std::string_view::npos);
    auto key = envelope::PositionalEventIdKey(*id);
    REQUIRE(key.has_value());
    CHECK(*key == envelope::LogKey(TopicId(c.topic), PartitionId(c.partition), Offset(c.offset)));
    // The random bits make two ids for one position differ.
    CHECK(*id != *envelope::PositionalEventId(TopicId(c.topic), PartitionId(c.partition), Offset(c.offset)));
  }
  CHECK_FALSE(envelope::PositionalEventId(TopicId(65536), PartitionId(0), Offset(0)).has_value());
  CHECK_FALSE(envelope::PositionalEventId(TopicId(0), PartitionId(0), Offset(uint64_t{1} << 40)).has_value());
  // Other ids are not positional: a version 7 UUID, upper case, no dashes, anything else.
  CHECK_FALSE(envelope::PositionalEventIdKey(NewUuid()).has_value());
  CHECK_FALSE(envelope::PositionalEventIdKey("0190A1B2-C3D4-8E5F-8A6B-7C8D9E0F1A2B").has_value());
  CHECK_FALSE(envelope::PositionalEventIdKey("0190a1b2c3d48e5f8a6b7c8d9e0f1a2b").has_value());
  CHECK_FALSE(envelope::PositionalEventIdKey("order-1-created").has_value());
  CHECK_FALSE(envelope::PositionalEventIdKey("").has_value());
}

TEST_CASE("re-appending an event under the id the log generated for it is a duplicate") {
  TestLog t;
  AppendResult first = MustAppend(*t.log, Req("orders", "order-1", 1));
  auto stored = t.log->ReadAt("orders", first.positions[0].partition, first.positions[0].offset);
  REQUIRE(stored.ok());
  // A client that read the event and sends it again with its id (a retry through another
  // path, a re-import) must not store it twice.
  AppendRequest again = Req("orders", "order-1", 1);
  again.events[0].id = stored->id;
  AppendResult second = MustAppend(*t.log, std::move(again));
  CHECK(second.duplicate);
  CHECK(second.positions == first.positions);
  CHECK(t.log->LastSeq().value() == 1);
}

TEST_CASE("an append mixing caller ids and events without ids is a conflict when retried") {
  TestLog t;
  auto mixed_append = [] {
    AppendRequest req = Req("orders", "order-1", 2);
    req.events[0].id = "mixed-0";  // events[1] has no id: the log names it
    return req;
  };
  AppendRequest mixed = mixed_append();
  AppendRequest retry = mixed_append();
  AppendResult first = MustAppend(*t.log, std::move(mixed));
  CHECK_FALSE(first.duplicate);
  // The id-less event cannot be recognised, so the retry is neither new nor a duplicate.
  CHECK_FAILS_WITH(t.log->Append(std::move(retry)), ErrorCode::kConflict);
  CHECK(t.log->LastSeq().value() == 2);
  auto head = t.log->StreamHead("order-1");
  REQUIRE(head.ok());
  CHECK(head->value() == 2);
}

TEST_CASE("a caller's version 8 id that only looks like another event's position is its own event") {
  TestLog t;
  AppendResult first = MustAppend(*t.log, Req("orders", "order-1", 1));
  auto stored = t.log->ReadAt("orders", first.positions[0].partition, first.positions[0].offset);
  REQUIRE(stored.ok());
  // Same position bits, different random bits: another event entirely (e.g. from another store).
  std::string lookalike = stored->id;
  lookalike[35] = lookalike[35] == '0' ? '1' : '0';
  AppendRequest other = Req("orders", "order-2", 1);
  other.events[0].id = lookalike;
  AppendResult second = MustAppend(*t.log, std::move(other));
  CHECK_FALSE(second.duplicate);
  CHECK(t.log->LastSeq().value() == 2);
  auto by_lookalike = t.log->ReadEvent(lookalike);
  REQUIRE_MESSAGE(by_lookalike.ok(), by_lookalike.status().ToString());
  CHECK(by_lookalike->stream == "order-2");
  auto by_original = t.log->ReadEvent(stored->id);
  REQUIRE(by_original.ok());
  CHECK(by_original->stream == "order-1");
}

TEST_CASE("NewUuid makes version 7 UUIDs that sort in the order they were made") {
  // Keys made from them reach the memtables in order (cheap inserts); the order must hold
  // within one millisecond and across threads, not only across milliseconds.
  constexpr int kThreads = 4;
  constexpr int kPerThread = 5000;
  std::vector<std::vector<std::string>> made(kThreads);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&made, t] {
      for (int i = 0; i < kPerThread; ++i) made[t].push_back(NewUuid());
    });
  }
  for (auto& th : threads) th.join();
  std::set<std::string> all;
  for (const auto& ids : made) {
    for (size_t i = 0; i < ids.size(); ++i) {
      const std::string& id = ids[i];
      REQUIRE(id.size() == 36);
      CHECK(id[14] == '7');                                  // version
      CHECK(std::string_view("89ab").find(id[19]) != std::string_view::npos);  // variant 10
      if (i > 0) CHECK(ids[i - 1] < id);                     // in order within a thread
      all.insert(id);
    }
  }
  CHECK(all.size() == size_t{kThreads} * kPerThread);  // unique
  // Across threads: an id made after another one finished sorts after it.
  const std::string before = NewUuid();
  std::string after;
  std::thread([&after] { after = NewUuid(); }).join();
  CHECK(before < after);
}

TEST_CASE("an event without a timestamp gets the time of the append") {
  TestLog t;
  auto now_us = [] {
    return std::chrono::duration_cast<std::chrono::microseconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
  };
  const int64_t before = now_us();
  MustAppend(*t.log, Req("orders", "order-1", 1, ExpectedVersion::Any(), "ts"));
  const int64_t after = now_us();
  auto event = t.log->ReadEvent("ts-0");
  REQUIRE(event.ok());
  CHECK(event->timestamp_us >= before);
  CHECK(event->timestamp_us <= after);
}

// ---------------------------------------------------------------------------------------------
// Expected version

TEST_CASE("expected version any accepts a new and an existing stream") {
  TestLog t;
  CHECK(MustAppend(*t.log, Req("orders", "order-1", 1, ExpectedVersion::Any())).version.value() == 1);
  CHECK(MustAppend(*t.log, Req("orders", "order-1", 2, ExpectedVersion::Any())).version.value() == 3);
  CHECK(StreamProblem(*t.log, "order-1", 3) == "");
}

TEST_CASE("expected version no_stream succeeds on a new stream and fails when it exists") {
  TestLog t;
  Family* family = WriteFamily(*t.store);
  CHECK(MustAppend(*t.log, Req("orders", "order-abc", 1, ExpectedVersion::NoStream()))
            .version.value() == 1);
  const std::string before = Describe(*t.log);

  AppendRequest req = Req("orders", "order-abc", 2, ExpectedVersion::NoStream(), "late");
  req.state_writes.Put(family, "order-abc", "state");
  auto result = t.log->Append(std::move(req));
  REQUIRE_FALSE(result.ok());
  CHECK_FAILS_WITH(result, ErrorCode::kConflict);
  CHECK_MESSAGE(Contains(result.status().message(), "1"), result.status().message());
  CHECK(Describe(*t.log) == before);
  CHECK(StreamProblem(*t.log, "order-abc", 1) == "");
  CHECK_FAILS_WITH(t.log->ReadEvent("late-0"), ErrorCode::kNotFound);
  CHECK_FALSE(GetKey(*t.store, family, "order-abc").has_value());
}

TEST_CASE("expected version exists fails when the stream does not exist and writes nothing") {
  TestLog t;
  Family* family = WriteFamily(*t.store);
  REQUIRE(t.log->CreateTopic("orders", 4).ok());
  const std::string before = Describe(*t.log);

  AppendRequest req = Req("orders", "order-abc", 1, ExpectedVersion::Exists(), "early");
  req.state_writes.Put(family, "order-abc", "state");
  auto result = t.log->Append(std::move(req));
  REQUIRE_FALSE(result.ok());
  CHECK_FAILS_WITH(result, ErrorCode::kConflict);
  CHECK_MESSAGE(Contains(result.status().message(), "0"), result.status().message());
  CHECK(Describe(*t.log) == before);
  CHECK(StreamProblem(*t.log, "order-abc", 0) == "");
  CHECK_FAILS_WITH(t.log->ReadEvent("early-0"), ErrorCode::kNotFound);
  CHECK_FALSE(GetKey(*t.store, family, "order-abc").has_value());

  MustAppend(*t.log, Req("orders", "order-abc", 1));
  CHECK(MustAppend(*t.log, Req("orders", "order-abc", 1, ExpectedVersion::Exists()))
            .version.value() == 2);
}

TEST_CASE("append with a stale expected version fails and writes nothing") {
  TestLog t;
  Family* family = WriteFamily(*t.store);
  MustAppend(*t.log, Req("orders", "order-abc", 3));
  const std::string before = Describe(*t.log);

  AppendRequest req = Req("orders", "order-abc", 2, ExpectedVersion::Exact(2), "stale");
  req.state_writes.Put(family, "order-abc", "state-after-2");
  auto result = t.log->Append(std::move(req));
  REQUIRE_FALSE(result.ok());
  CHECK_FAILS_WITH(result, ErrorCode::kConflict);
  // The form documented on Log::Append: "stream S is at version V, expected E".
  CHECK(result.status().message() == "stream order-abc is at version 3, expected 2");
  CHECK(result.status().ToString() == "conflict: stream order-abc is at version 3, expected 2");
  CHECK(Describe(*t.log) == before);
  CHECK(StreamProblem(*t.log, "order-abc", 3) == "");
  CHECK_FAILS_WITH(t.log->ReadEvent("stale-0"), ErrorCode::kNotFound);
  CHECK_FAILS_WITH(t.log->ReadEvent("stale-1"), ErrorCode::kNotFound);
  CHECK_FALSE(GetKey(*t.store, family, "order-abc").has_value());
}

TEST_CASE("expected versions hold when the writer's cache of stream heads starts over") {
  LogOptions options;
  options.max_cached_stream_heads = 3;  // 10 streams: the cache is dropped again and again
  TestLog t(options);
  for (int round = 1; round <= 4; ++round) {
    for (int k = 0; k < 10; ++k) {
      const std::string stream = "order-" + std::to_string(k);
      MustAppend(*t.log, Req("orders", stream, 1, ExpectedVersion::Exact(round - 1)));
      auto stale = t.log->Append(Req("orders", stream, 1, ExpectedVersion::Exact(round - 1)));
      CHECK_FAILS_WITH(stale, ErrorCode::kConflict);
    }
  }
  for (int k = 0; k < 10; ++k) CHECK(StreamProblem(*t.log, "order-" + std::to_string(k), 4) == "");
}

TEST_CASE("an exact expected version ahead of the stream fails and writes nothing") {
  TestLog t;
  MustAppend(*t.log, Req("orders", "order-abc", 1));
  const std::string before = Describe(*t.log);
  auto result = t.log->Append(Req("orders", "order-abc", 1, ExpectedVersion::Exact(7)));
  CHECK_FAILS_WITH(result, ErrorCode::kConflict);
  CHECK_MESSAGE(Contains(result.status().message(), "7"), result.status().message());
  CHECK(Describe(*t.log) == before);
  CHECK(StreamProblem(*t.log, "order-abc", 1) == "");
}

TEST_CASE("append with an exact expected version equal to the head succeeds") {
  TestLog t;
  CHECK(MustAppend(*t.log, Req("orders", "order-abc", 2, ExpectedVersion::Exact(0)))
            .version.value() == 2);
  CHECK(MustAppend(*t.log, Req("orders", "order-abc", 1, ExpectedVersion::Exact(2)))
            .version.value() == 3);
  CHECK(MustAppend(*t.log, Req("orders", "order-abc", 3, ExpectedVersion::Exact(3)))
            .version.value() == 6);
  CHECK(StreamProblem(*t.log, "order-abc", 6) == "");
}

TEST_CASE("exact expected version 0 behaves as no_stream") {
  TestLog t;
  MustAppend(*t.log, Req("orders", "order-abc", 1, ExpectedVersion::Exact(0)));
  const std::string before = Describe(*t.log);
  CHECK_FAILS_WITH(t.log->Append(Req("orders", "order-abc", 1, ExpectedVersion::Exact(0))),
                   ErrorCode::kConflict);
  CHECK(Describe(*t.log) == before);
}

TEST_CASE("a conflict message names the expectation that failed") {
  TestLog t;
  MustAppend(*t.log, Req("orders", "order-abc", 1));
  auto no_stream = t.log->Append(Req("orders", "order-abc", 1, ExpectedVersion::NoStream()));
  CHECK(no_stream.status().message() == "stream order-abc is at version 1, expected no_stream");
  auto exists = t.log->Append(Req("orders", "order-new", 1, ExpectedVersion::Exists()));
  CHECK(exists.status().message() == "stream order-new is at version 0, expected exists");
}

TEST_CASE("Status::ToString is the code's name and the message") {
  CHECK(Status::Conflict("stream s is at version 3, expected 2").ToString() ==
        "conflict: stream s is at version 3, expected 2");
  CHECK(CodeName(ErrorCode::kInvalidArgument) == "invalid_argument");
  CHECK(Status::InvalidArgument("bad", "items[0].price").field() == "items[0].price");
  CHECK(Status::Ok().ok());
  std::set<std::string> names;
  for (int c = static_cast<int>(ErrorCode::kOk); c <= static_cast<int>(ErrorCode::kInternal); ++c) {
    names.insert(CodeName(static_cast<ErrorCode>(c)));
  }
  CHECK(names.size() == static_cast<size_t>(ErrorCode::kInternal) + 1);
  CHECK(names.count("") == 0);
}

TEST_CASE("ExpectedVersion::Accepts and ToString follow the four kinds") {
  CHECK(ExpectedVersion::Any().Accepts(StreamVersion(0)));
  CHECK(ExpectedVersion::Any().Accepts(StreamVersion(5)));
  CHECK(ExpectedVersion::NoStream().Accepts(StreamVersion(0)));
  CHECK_FALSE(ExpectedVersion::NoStream().Accepts(StreamVersion(1)));
  CHECK_FALSE(ExpectedVersion::Exists().Accepts(StreamVersion(0)));
  CHECK(ExpectedVersion::Exists().Accepts(StreamVersion(1)));
  CHECK(ExpectedVersion::Exact(3).Accepts(StreamVersion(3)));
  CHECK_FALSE(ExpectedVersion::Exact(3).Accepts(StreamVersion(2)));
  CHECK_FALSE(ExpectedVersion::Exact(3).Accepts(StreamVersion(4)));
  CHECK(ExpectedVersion::Exact(0).Accepts(StreamVersion(0)));
  CHECK_FALSE(ExpectedVersion::Exact(0).Accepts(StreamVersion(1)));
  CHECK(ExpectedVersion::Any().ToString() == "any");
  CHECK(ExpectedVersion::NoStream().ToString() == "no_stream");
  CHECK(ExpectedVersion::Exists().ToString() == "exists");
  CHECK(ExpectedVersion::Exact(12).ToString() == "12");
}

// ---------------------------------------------------------------------------------------------
// Idempotency

TEST_CASE("appending the same event ids again is acknowledged as a duplicate and writes nothing") {
  TestLog t;
  Family* family = WriteFamily(*t.store);
  AppendResult original = MustAppend(*t.log, Req("orders", "order-1", 3, ExpectedVersion::Any(), "evt"));
  MustAppend(*t.log, Req("orders", "order-2", 1));  // something after it
  const std::string before = Describe(*t.log);

  AppendRequest retry = Req("orders", "order-1", 3, ExpectedVersion::Any(), "evt");
  retry.state_writes.Put(family, "dup", "must-not-appear");
  AppendResult again = MustAppend(*t.log, std::move(retry));
  CHECK(again.duplicate);
  CHECK(again.version.value() == original.version.value());
  CHECK(Join(again.positions) == Join(original.positions));
  CHECK(Describe(*t.log) == before);
  CHECK(StreamProblem(*t.log, "order-1", 3) == "");
  CHECK_FALSE(GetKey(*t.store, family, "dup").has_value());
}

TEST_CASE("retrying an append with its original expected version is acknowledged as a duplicate") {
  TestLog t;
  AppendResult created =
      MustAppend(*t.log, Req("orders", "order-1", 2, ExpectedVersion::NoStream(), "create"));
  AppendResult next =
      MustAppend(*t.log, Req("orders", "order-1", 1, ExpectedVersion::Exact(2), "next"));
  MustAppend(*t.log, Req("orders", "order-1", 1, ExpectedVersion::Exact(3)));
  const std::string before = Describe(*t.log);

  auto retry_created = t.log->Append(Req("orders", "order-1", 2, ExpectedVersion::NoStream(), "create"));
  REQUIRE_MESSAGE(retry_created.ok(), retry_created.status().ToString());
  CHECK(retry_created->duplicate);
  CHECK(retry_created->version.value() == 2);
  CHECK(Join(retry_created->positions) == Join(created.positions));

  auto retry_next = t.log->Append(Req("orders", "order-1", 1, ExpectedVersion::Exact(2), "next"));
  REQUIRE_MESSAGE(retry_next.ok(), retry_next.status().ToString());
  CHECK(retry_next->duplicate);
  CHECK(retry_next->version.value() == 3);
  CHECK(Join(retry_next->positions) == Join(next.positions));

  CHECK(Describe(*t.log) == before);
  CHECK(StreamProblem(*t.log, "order-1", 4) == "");
}

TEST_CASE("an append whose event ids are only partly stored is a conflict and writes nothing") {
  TestLog t;
  Family* family = WriteFamily(*t.store);
  AppendRequest first;
  first.topic = "orders";
  first.stream = "order-1";
  first.events = {Ev("A", "{}", "id-a"), Ev("B", "{}", "id-b")};
  MustAppend(*t.log, std::move(first));
  const std::string before = Describe(*t.log);

  AppendRequest overlap;
  overlap.topic = "orders";
  overlap.stream = "order-1";
  overlap.events = {Ev("B", "{}", "id-b"), Ev("C", "{}", "id-c")};
  overlap.state_writes.Put(family, "order-1", "state");
  CHECK_FAILS_WITH(t.log->Append(std::move(overlap)), ErrorCode::kConflict);
  CHECK(Describe(*t.log) == before);
  CHECK(StreamProblem(*t.log, "order-1", 2) == "");
  CHECK_FAILS_WITH(t.log->ReadEvent("id-c"), ErrorCode::kNotFound);
  CHECK_FALSE(GetKey(*t.store, family, "order-1").has_value());

  // The id that was refused is still free.
  AppendRequest fresh;
  fresh.topic = "orders";
  fresh.stream = "order-1";
  fresh.events = {Ev("C", "{}", "id-c")};
  AppendResult result = MustAppend(*t.log, std::move(fresh));
  CHECK_FALSE(result.duplicate);
  CHECK(result.version.value() == 3);
}

TEST_CASE("an event id refused with a failed append can be appended later") {
  TestLog t;
  MustAppend(*t.log, Req("orders", "order-1", 1));
  CHECK_FAILS_WITH(t.log->Append(Req("orders", "order-1", 1, ExpectedVersion::Exact(5), "retry")),
                   ErrorCode::kConflict);
  AppendResult result =
      MustAppend(*t.log, Req("orders", "order-1", 1, ExpectedVersion::Exact(1), "retry"));
  CHECK_FALSE(result.duplicate);
  CHECK(result.version.value() == 2);
  auto event = t.log->ReadEvent("retry-0");
  REQUIRE(event.ok());
  CHECK(event->version.value() == 2);
}

TEST_CASE("concurrent appends of the same event ids write them once") {
  TestLog t;
  REQUIRE(t.log->CreateTopic("orders", 4).ok());
  SlowWriter(*t.log, 2ms);
  constexpr int kThreads = 8;
  constexpr int kRounds = 20;
  struct Outcome {
    bool ok = false;
    bool duplicate = false;
    std::string positions;
    std::string error;
  };
  std::vector<std::vector<Outcome>> outcomes(kRounds, std::vector<Outcome>(kThreads));
  std::barrier start(kThreads);
  std::vector<std::thread> threads;
  for (int i = 0; i < kThreads; ++i) {
    threads.emplace_back([&, i] {
      for (int round = 0; round < kRounds; ++round) {
        start.arrive_and_wait();
        auto result = t.log->Append(Req("orders", "order-" + std::to_string(round), 2,
                                        ExpectedVersion::Any(), "same-" + std::to_string(round)));
        Outcome& out = outcomes[round][i];
        out.ok = result.ok();
        if (result.ok()) {
          out.duplicate = result->duplicate;
          out.positions = Join(result->positions);
        } else {
          out.error = result.status().ToString();
        }
      }
    });
  }
  for (std::thread& thread : threads) thread.join();

  for (int round = 0; round < kRounds; ++round) {
    CAPTURE(round);
    int written = 0;
    for (const Outcome& out : outcomes[round]) {
      CHECK_MESSAGE(out.ok, out.error);
      if (out.ok && !out.duplicate) ++written;
      CHECK(out.positions == outcomes[round][0].positions);
    }
    CHECK(written == 1);
    CHECK(StreamProblem(*t.log, "order-" + std::to_string(round), 2) == "");
  }
  CHECK(SeqProblem(*t.log, 2 * kRounds) == "");
  CHECK(TopicProblem(*t.log, "orders") == "");
}

// ---------------------------------------------------------------------------------------------
// State writes

TEST_CASE("state writes are visible after a successful append") {
  TestLog t;
  Family* family = WriteFamily(*t.store);
  AppendRequest req = Req("orders", "order-1", 1);
  req.state_writes.Put(family, "order-1", "{\"status\":\"CREATED\"}");
  req.state_writes.Put(family, "order-1/extra", "x");
  MustAppend(*t.log, std::move(req));
  CHECK(GetKey(*t.store, family, "order-1") == std::optional<std::string>("{\"status\":\"CREATED\"}"));
  CHECK(GetKey(*t.store, family, "order-1/extra") == std::optional<std::string>("x"));

  AppendRequest update = Req("orders", "order-1", 1, ExpectedVersion::Exact(1));
  update.state_writes.Put(family, "order-1", "{\"status\":\"APPROVED\"}");
  update.state_writes.Delete(family, "order-1/extra");
  MustAppend(*t.log, std::move(update));
  CHECK(GetKey(*t.store, family, "order-1") == std::optional<std::string>("{\"status\":\"APPROVED\"}"));
  CHECK_FALSE(GetKey(*t.store, family, "order-1/extra").has_value());
}

TEST_CASE("state writes are not applied when the append fails") {
  TestLog t;
  Family* family = WriteFamily(*t.store);
  AppendRequest good = Req("orders", "order-1", 1);
  good.state_writes.Put(family, "order-1", "v1");
  MustAppend(*t.log, std::move(good));

  AppendRequest conflict = Req("orders", "order-1", 1, ExpectedVersion::NoStream());
  conflict.state_writes.Put(family, "order-1", "v2");
  conflict.state_writes.Put(family, "other", "x");
  CHECK_FAILS_WITH(t.log->Append(std::move(conflict)), ErrorCode::kConflict);

  AppendRequest invalid = Req("orders", "order-1", 0);  // no events
  invalid.state_writes.Put(family, "order-1", "v3");
  CHECK_FAILS_WITH(t.log->Append(std::move(invalid)), ErrorCode::kInvalidArgument);

  CHECK(GetKey(*t.store, family, "order-1") == std::optional<std::string>("v1"));
  CHECK_FALSE(GetKey(*t.store, family, "other").has_value());
}

// ---------------------------------------------------------------------------------------------
// Bad input

TEST_CASE("an append without events is invalid and writes nothing") {
  TestLog t;
  REQUIRE(t.log->CreateTopic("orders", 2).ok());
  const std::string before = Describe(*t.log);
  CHECK_FAILS_WITH(t.log->Append(Req("orders", "order-1", 0)), ErrorCode::kInvalidArgument);
  CHECK(Describe(*t.log) == before);
  CHECK(StreamProblem(*t.log, "order-1", 0) == "");
}

TEST_CASE("an event type that is empty, over 128 bytes or not printable ASCII is invalid") {
  TestLog t;
  REQUIRE(t.log->CreateTopic("orders", 2).ok());
  const std::string before = Describe(*t.log);
  const std::vector<std::string> bad = {"", std::string(129, 'T'), "BAD\nTYPE",
                                        std::string("NUL\0TYPE", 8), "CAF\xC3\x89"};
  for (const std::string& type : bad) {
    CAPTURE(type);
    CHECK_FAILS_WITH(ValidateEventType(type), ErrorCode::kInvalidArgument);
    AppendRequest req = Req("orders", "order-1", 2);
    req.events[1].type = type;  // one bad event fails the whole append
    CHECK_FAILS_WITH(t.log->Append(std::move(req)), ErrorCode::kInvalidArgument);
  }
  CHECK(Describe(*t.log) == before);

  CHECK(ValidateEventType("ORDER_CREATED").ok());
  CHECK(ValidateEventType(std::string(128, 'T')).ok());
  AppendRequest longest = Req("orders", "order-1", 1);
  longest.events[0].type = std::string(128, 'T');
  CHECK(MustAppend(*t.log, std::move(longest)).version.value() == 1);
}

TEST_CASE("a stream id that is empty, contains '/' or a space, or is over 256 bytes is invalid") {
  TestLog t;
  REQUIRE(t.log->CreateTopic("orders", 2).ok());
  const std::string before = Describe(*t.log);
  const std::vector<std::string> bad = {"",         "order/1",          "order 1",
                                        "order\t1", std::string(257, 's'), "order-\xC3\xA9",
                                        std::string("order\0one", 9)};
  for (const std::string& stream : bad) {
    CAPTURE(stream);
    CHECK_FAILS_WITH(ValidateStreamId(stream), ErrorCode::kInvalidArgument);
    CHECK_FAILS_WITH(t.log->Append(Req("orders", stream, 1)), ErrorCode::kInvalidArgument);
  }
  CHECK(Describe(*t.log) == before);

  CHECK(ValidateStreamId("order-6415").ok());
  CHECK(ValidateStreamId(std::string(256, 's')).ok());
  CHECK(MustAppend(*t.log, Req("orders", std::string(256, 's'), 1)).version.value() == 1);
}

TEST_CASE("an append to an invalid topic name is invalid and creates no topic") {
  TestLog t;
  for (const char* topic : {"", "bad/topic", "has space"}) {
    CAPTURE(topic);
    CHECK_FAILS_WITH(t.log->Append(Req(topic, "order-1", 1)), ErrorCode::kInvalidArgument);
  }
  CHECK(t.log->Topics().empty());
  CHECK(t.log->LastSeq().value() == 0);
}

TEST_CASE("event data over max_event_bytes is too large and writes nothing") {
  LogOptions options;
  options.max_event_bytes = 64;
  TestLog t(options);
  REQUIRE(t.log->CreateTopic("orders", 2).ok());
  const std::string before = Describe(*t.log);

  AppendRequest req = Req("orders", "order-1", 2, ExpectedVersion::Any(), "big");
  req.events[1].data = std::string(65, 'x');
  CHECK_FAILS_WITH(t.log->Append(std::move(req)), ErrorCode::kTooLarge);
  CHECK(Describe(*t.log) == before);
  CHECK_FAILS_WITH(t.log->ReadEvent("big-0"), ErrorCode::kNotFound);

  AppendRequest at_limit = Req("orders", "order-1", 1);
  at_limit.events[0].data = std::string(64, 'x');
  CHECK(MustAppend(*t.log, std::move(at_limit)).version.value() == 1);
}

TEST_CASE("more events than max_events_per_append is too large and writes nothing") {
  LogOptions options;
  options.max_events_per_append = 4;
  TestLog t(options);
  REQUIRE(t.log->CreateTopic("orders", 2).ok());
  const std::string before = Describe(*t.log);
  CHECK_FAILS_WITH(t.log->Append(Req("orders", "order-1", 5)), ErrorCode::kTooLarge);
  CHECK(Describe(*t.log) == before);
  CHECK(MustAppend(*t.log, Req("orders", "order-1", 4)).version.value() == 4);
}

// ---------------------------------------------------------------------------------------------
// Concurrency and group commit

TEST_CASE("16 concurrent writers leave gapless offsets, seqs and stream versions") {
  StoreOptions store_options = FastStoreOptions();
  LogOptions log_options;
  // With fsync on every group, leaders wait briefly to gather the writers the last group
  // released: the gathering path must keep every contract too.
  SUBCASE("sync always, gathering groups") { store_options.sync = SyncMode::kAlways; }
  SUBCASE("sync always, no gathering") {
    store_options.sync = SyncMode::kAlways;
    log_options.max_group_wait_us = 0;
  }
  SUBCASE("no sync") {}
  TestLog t(log_options, store_options);
  REQUIRE(t.log->CreateTopic("orders", 8).ok());
  SUBCASE("at full speed") {}
  SUBCASE("with a slow writer, so that groups are large") { SlowWriter(*t.log, 1ms); }
  constexpr int kThreads = 16;
  constexpr int kAppendsPerThread = 100;
  constexpr int kStreams = 64;
  struct Acked {
    std::string stream;
    std::vector<Position> positions;
    uint64_t version = 0;
  };
  std::vector<std::vector<Acked>> acked(kThreads);
  std::vector<std::vector<std::string>> errors(kThreads);
  std::vector<std::thread> threads;
  for (int i = 0; i < kThreads; ++i) {
    threads.emplace_back([&, i] {
      for (int j = 0; j < kAppendsPerThread; ++j) {
        std::string stream = "order-" + std::to_string((i * 31 + j * 7) % kStreams);
        size_t n = 1 + static_cast<size_t>((i + j) % 3);
        auto result = t.log->Append(Req("orders", stream, n));
        if (!result.ok()) {
          errors[i].push_back(result.status().ToString());
          continue;
        }
        acked[i].push_back({stream, result->positions, result->version.value()});
      }
    });
  }
  for (std::thread& thread : threads) thread.join();

  uint64_t total = 0;
  std::map<std::string, uint64_t> per_stream;
  for (int i = 0; i < kThreads; ++i) {
    CHECK_MESSAGE(errors[i].empty(), FirstOf(errors[i]));
    for (const Acked& a : acked[i]) {
      total += a.positions.size();
      per_stream[a.stream] += a.positions.size();
    }
  }
  CHECK(t.log->LastSeq().value() == total);
  CHECK(TopicProblem(*t.log, "orders") == "");
  CHECK(SeqProblem(*t.log, total) == "");
  uint64_t hwm_sum = 0;
  for (uint32_t p = 0; p < 8; ++p) hwm_sum += t.log->HighWaterMark("orders", PartitionId(p)).value();
  CHECK(hwm_sum == total);
  for (const auto& [stream, count] : per_stream) {
    CHECK(StreamProblem(*t.log, stream, count) == "");
  }

  // Every acknowledged position holds the acknowledged event.
  std::string problem;
  std::set<uint64_t> seqs;
  for (int i = 0; i < kThreads && problem.empty(); ++i) {
    for (const Acked& a : acked[i]) {
      for (size_t k = 0; k < a.positions.size(); ++k) {
        const Position& pos = a.positions[k];
        seqs.insert(pos.seq.value());
        auto event = t.log->ReadAt(pos.topic, pos.partition, pos.offset);
        const uint64_t want_version = a.version - a.positions.size() + 1 + k;
        if (!event.ok() || event->seq != pos.seq || event->stream != a.stream ||
            event->version.value() != want_version) {
          problem = "position " + pos.ToString() + " does not hold " + a.stream + " version " +
                    std::to_string(want_version);
          break;
        }
      }
      if (!problem.empty()) break;
    }
  }
  CHECK(problem == "");
  CHECK(seqs.size() == total);
}

TEST_CASE("concurrent writers with the same exact expected version: exactly one wins each version") {
  TestLog t;
  REQUIRE(t.log->CreateTopic("orders", 4).ok());
  SlowWriter(*t.log, 2ms);
  constexpr int kThreads = 8;
  constexpr int kRounds = 40;
  struct Outcome {
    bool ok = false;
    ErrorCode code = ErrorCode::kOk;
    uint64_t version = 0;
    std::string error;
  };
  std::vector<std::vector<Outcome>> outcomes(kRounds, std::vector<Outcome>(kThreads));
  std::barrier start(kThreads);
  std::vector<std::thread> threads;
  for (int i = 0; i < kThreads; ++i) {
    threads.emplace_back([&, i] {
      for (int round = 0; round < kRounds; ++round) {
        start.arrive_and_wait();  // every thread has finished the previous round
        auto result = t.log->Append(Req("orders", "order-hot", 1,
                                        ExpectedVersion::Exact(static_cast<uint64_t>(round))));
        Outcome& out = outcomes[round][i];
        out.ok = result.ok();
        out.code = result.status().code();
        if (result.ok()) {
          out.version = result->version.value();
        } else {
          out.error = result.status().ToString();
        }
      }
    });
  }
  for (std::thread& thread : threads) thread.join();

  for (int round = 0; round < kRounds; ++round) {
    CAPTURE(round);
    int winners = 0;
    for (const Outcome& out : outcomes[round]) {
      if (out.ok) {
        ++winners;
        CHECK(out.version == static_cast<uint64_t>(round) + 1);
      } else {
        CHECK_MESSAGE(out.code == ErrorCode::kConflict, out.error);
      }
    }
    CHECK(winners == 1);
  }
  CHECK(StreamProblem(*t.log, "order-hot", kRounds) == "");
  CHECK(SeqProblem(*t.log, kRounds) == "");
  CHECK(TopicProblem(*t.log, "orders") == "");
  CHECK(t.log->GetStats().conflicts == static_cast<uint64_t>(kRounds * (kThreads - 1)));
}

TEST_CASE("a failing append in a group does not fail the others") {
  TestLog t;
  Family* family = WriteFamily(*t.store);
  REQUIRE(t.log->CreateTopic("orders", 8).ok());
  constexpr int kThreads = 16;
  constexpr int kRounds = 20;
  // Odd threads own a stream at version 3 and always expect version 1: stale every time.
  for (int i = 1; i < kThreads; i += 2) {
    MustAppend(*t.log, Req("orders", "bad-" + std::to_string(i), 3));
  }
  const uint64_t seeded = t.log->LastSeq().value();
  const uint64_t groups_before = t.log->GetStats().groups;
  SlowWriter(*t.log, 2ms);
  std::vector<std::vector<std::string>> unexpected(kThreads);
  std::barrier start(kThreads);
  std::vector<std::thread> threads;
  for (int i = 0; i < kThreads; ++i) {
    threads.emplace_back([&, i] {
      const bool good = i % 2 == 0;
      const std::string stream = (good ? "good-" : "bad-") + std::to_string(i);
      for (int round = 0; round < kRounds; ++round) {
        start.arrive_and_wait();
        AppendRequest req = Req("orders", stream, 2,
                                ExpectedVersion::Exact(good ? 2u * round : 1u));
        req.state_writes.Put(family, stream + "/" + std::to_string(round), "s");
        auto result = t.log->Append(std::move(req));
        if (good && !result.ok()) unexpected[i].push_back(result.status().ToString());
        if (!good && result.status().code() != ErrorCode::kConflict) {
          unexpected[i].push_back(result.ok() ? "stale append succeeded" : result.status().ToString());
        }
      }
    });
  }
  for (std::thread& thread : threads) thread.join();

  for (int i = 0; i < kThreads; ++i) {
    CAPTURE(i);
    CHECK_MESSAGE(unexpected[i].empty(), FirstOf(unexpected[i]));
    const bool good = i % 2 == 0;
    const std::string stream = (good ? "good-" : "bad-") + std::to_string(i);
    CHECK(StreamProblem(*t.log, stream, good ? 2 * kRounds : 3) == "");
    CHECK(GetKey(*t.store, family, stream + "/0").has_value() == good);
    CHECK(GetKey(*t.store, family, stream + "/" + std::to_string(kRounds - 1)).has_value() == good);
  }
  CHECK(SeqProblem(*t.log, seeded + (kThreads / 2) * kRounds * 2) == "");
  CHECK(TopicProblem(*t.log, "orders") == "");
  // Not a contract, a sign the test exercised what it means to: good and stale appends shared
  // WriteBatches.
  const uint64_t groups = t.log->GetStats().groups - groups_before;
  WARN_MESSAGE(groups < static_cast<uint64_t>((kThreads / 2) * kRounds),
               "no group held more than one successful append: " << groups << " groups");
}

TEST_CASE("the writer never puts more than max_group_appends appends in one group") {
  LogOptions options;
  options.max_group_appends = 2;
  TestLog t(options);
  REQUIRE(t.log->CreateTopic("orders", 4).ok());
  SlowWriter(*t.log, 2ms);
  constexpr int kThreads = 8;
  constexpr int kAppendsPerThread = 10;
  const uint64_t groups_before = t.log->GetStats().groups;
  std::vector<std::string> errors(kThreads);
  std::vector<std::thread> threads;
  for (int i = 0; i < kThreads; ++i) {
    threads.emplace_back([&, i] {
      for (int j = 0; j < kAppendsPerThread; ++j) {
        auto r = t.log->Append(Req("orders", "order-" + std::to_string(i), 1));
        if (!r.ok()) errors[i] = r.status().ToString();
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  for (const std::string& e : errors) CHECK_MESSAGE(e.empty(), e);
  const uint64_t appends = kThreads * kAppendsPerThread;
  CHECK(t.log->GetStats().groups - groups_before >= appends / 2);
  CHECK(SeqProblem(*t.log, appends) == "");
  CHECK(TopicProblem(*t.log, "orders") == "");
  for (int i = 0; i < kThreads; ++i) {
    CHECK(StreamProblem(*t.log, "order-" + std::to_string(i), kAppendsPerThread) == "");
  }
}

// ---------------------------------------------------------------------------------------------
// Reopen

TEST_CASE("reopening restores topics, high-water marks, the last seq and stream heads") {
  TestLog t(LogOptions{}, StoreOptions{});  // default sync: always
  REQUIRE(t.log->CreateTopic("orders", 4).ok());
  REQUIRE(t.log->CreateTopic("empty", 2).ok());
  MustAppend(*t.log, Req("orders", "order-1", 3, ExpectedVersion::Any(), "o1"));
  MustAppend(*t.log, Req("orders", "order-2", 2));
  MustAppend(*t.log, Req("payments", "payment-1", 1));  // auto-created
  MustAppend(*t.log, Req("orders", "order-1", 1));
  const std::string before = Describe(*t.log);
  const auto topic_ids = [&] {
    std::map<std::string, uint32_t> ids;
    for (const TopicInfo& topic : t.log->Topics()) ids[topic.name] = topic.id.value();
    return ids;
  };
  const auto ids_before = topic_ids();

  t.Reopen();

  CHECK(Describe(*t.log) == before);
  CHECK(topic_ids() == ids_before);
  CHECK(t.log->LastSeq().value() == 7);
  CHECK(StreamProblem(*t.log, "order-1", 4) == "");
  CHECK(StreamProblem(*t.log, "order-2", 2) == "");
  CHECK(StreamProblem(*t.log, "payment-1", 1) == "");
  auto event = t.log->ReadEvent("o1-2");
  REQUIRE(event.ok());
  CHECK(event->version.value() == 3);
  CHECK(TopicProblem(*t.log, "orders") == "");
}

TEST_CASE("after reopening, appends continue offsets, seqs and versions without gaps") {
  TestLog t;
  REQUIRE(t.log->CreateTopic("orders", 4).ok());
  AppendResult first = MustAppend(*t.log, Req("orders", "order-1", 3));
  MustAppend(*t.log, Req("orders", "order-2", 2));
  const PartitionId partition = first.positions[0].partition;
  const uint64_t hwm = t.log->HighWaterMark("orders", partition).value();

  t.Reopen();

  CHECK_FAILS_WITH(t.log->Append(Req("orders", "order-1", 1, ExpectedVersion::Exact(2))),
                   ErrorCode::kConflict);
  CHECK_FAILS_WITH(t.log->Append(Req("orders", "order-1", 1, ExpectedVersion::NoStream())),
                   ErrorCode::kConflict);
  AppendResult next = MustAppend(*t.log, Req("orders", "order-1", 2, ExpectedVersion::Exact(3)));
  CHECK(next.version.value() == 5);
  CHECK(next.positions[0].partition == partition);
  CHECK(next.positions[0].offset.value() == hwm);
  CHECK(next.positions[1].offset.value() == hwm + 1);
  CHECK(next.positions[0].seq.value() == 6);
  CHECK(next.positions[1].seq.value() == 7);
  AppendResult fresh = MustAppend(*t.log, Req("orders", "order-3", 1, ExpectedVersion::NoStream()));
  CHECK(fresh.positions[0].seq.value() == 8);

  t.Reopen();
  MustAppend(*t.log, Req("orders", "order-2", 1, ExpectedVersion::Exact(2)));
  CHECK(TopicProblem(*t.log, "orders") == "");
  CHECK(SeqProblem(*t.log, 9) == "");
  CHECK(StreamProblem(*t.log, "order-1", 5) == "");
  CHECK(StreamProblem(*t.log, "order-2", 3) == "");
}

TEST_CASE("after reopening, a repeated append is still recognised as a duplicate") {
  TestLog t;
  AppendResult original = MustAppend(*t.log, Req("orders", "order-1", 2, ExpectedVersion::Any(), "k"));
  t.Reopen();
  const std::string before = Describe(*t.log);
  AppendResult again = MustAppend(*t.log, Req("orders", "order-1", 2, ExpectedVersion::Any(), "k"));
  CHECK(again.duplicate);
  CHECK(Join(again.positions) == Join(original.positions));
  CHECK(Describe(*t.log) == before);
}

// ---------------------------------------------------------------------------------------------
// Readers and atomic visibility

TEST_CASE("readers never see a partial append") {
  TestLog t;
  constexpr uint32_t kPartitions = 4;
  constexpr int kStreams = 5;
  constexpr int kAppends = 60;
  constexpr size_t kBatch = 10;
  REQUIRE(t.log->CreateTopic("orders", kPartitions).ok());
  SlowWriter(*t.log, 1ms);  // so that the reader runs many passes while the writer works
  std::atomic<bool> done{false};
  std::string writer_error;
  std::thread writer([&] {
    for (int i = 0; i < kAppends; ++i) {
      auto result = t.log->Append(Req("orders", "batch-" + std::to_string(i % kStreams), kBatch));
      if (!result.ok()) {
        writer_error = result.status().ToString();
        break;
      }
    }
    done = true;
  });

  std::vector<std::string> problems;
  int passes = 0;
  auto check_once = [&] {
    ++passes;
    for (uint32_t p = 0; p < kPartitions; ++p) {
      const uint64_t hwm = t.log->HighWaterMark("orders", PartitionId(p)).value();
      auto events = t.log->ReadPartition("orders", PartitionId(p), Offset(0), 1'000'000, 64u << 20);
      if (!events.ok()) {
        problems.push_back(events.status().ToString());
        continue;
      }
      if (events->size() < hwm) {
        problems.push_back("partition " + std::to_string(p) + ": high-water mark " +
                           std::to_string(hwm) + " but only " + std::to_string(events->size()) +
                           " events readable");
      }
      std::map<std::string, size_t> counts;
      for (const Event& e : *events) ++counts[e.stream];
      for (const auto& [stream, count] : counts) {
        if (count % kBatch != 0) {
          problems.push_back("partition read: " + stream + " has " + std::to_string(count));
        }
      }
    }
    for (int s = 0; s < kStreams; ++s) {
      const std::string stream = "batch-" + std::to_string(s);
      auto events = t.log->ReadStream(stream, StreamVersion(1), 1'000'000);
      if (!events.ok()) {
        problems.push_back(events.status().ToString());
      } else if (events->size() % kBatch != 0) {
        problems.push_back("stream read: " + stream + " has " + std::to_string(events->size()));
      }
    }
    std::map<std::string, size_t> counts;
    const uint64_t last = t.log->LastSeq().value();
    uint64_t scanned = 0;
    Status status = t.log->ScanInSeqOrder({"orders"}, Seq(0), 1'000'000, [&](const EventView& e) {
      ++counts[std::string(e.stream())];
      ++scanned;
      if (e.seq().value() != scanned) {
        problems.push_back("seq scan: seq " + std::to_string(e.seq().value()) + " at index " +
                           std::to_string(scanned - 1) + " (a gap a projection would skip)");
        return false;
      }
      return true;
    });
    if (!status.ok()) problems.push_back(status.ToString());
    if (scanned < last) {
      problems.push_back("LastSeq " + std::to_string(last) + " but scanned " + std::to_string(scanned));
    }
    for (const auto& [stream, count] : counts) {
      if (count % kBatch != 0) {
        problems.push_back("seq scan: " + stream + " has " + std::to_string(count));
      }
    }
  };
  while (!done && problems.empty()) check_once();
  writer.join();
  check_once();

  CHECK(writer_error == "");
  CHECK(passes >= 1);
  WARN_MESSAGE(passes > 2, "the reader ran only " << passes << " passes");
  CHECK_MESSAGE(problems.empty(), FirstOf(problems));
  CHECK(SeqProblem(*t.log, kAppends * kBatch) == "");
}

// ---------------------------------------------------------------------------------------------
// Reads

TEST_CASE("ReadStream reads from a version up to a limit") {
  TestLog t;
  MustAppend(*t.log, Req("orders", "order-1", 4));
  MustAppend(*t.log, Req("orders", "order-2", 1));  // another stream in between
  MustAppend(*t.log, Req("orders", "order-10", 2));  // one whose id extends this one's
  MustAppend(*t.log, Req("orders", "order-1", 6));

  auto versions = [&](uint64_t from, size_t limit) {
    std::vector<uint64_t> out;
    auto events = t.log->ReadStream("order-1", StreamVersion(from), limit);
    REQUIRE_MESSAGE(events.ok(), events.status().ToString());
    for (const Event& e : *events) {
      CHECK(e.stream == "order-1");
      out.push_back(e.version.value());
    }
    return out;
  };
  CHECK(versions(1, 100) == std::vector<uint64_t>{1, 2, 3, 4, 5, 6, 7, 8, 9, 10});
  CHECK(versions(0, 2) == std::vector<uint64_t>{1, 2});
  CHECK(versions(4, 3) == std::vector<uint64_t>{4, 5, 6});
  CHECK(versions(6, 2) == std::vector<uint64_t>{6, 7});
  CHECK(versions(9, 100) == std::vector<uint64_t>{9, 10});
  CHECK(versions(10, 1) == std::vector<uint64_t>{10});
  CHECK(versions(11, 100).empty());
}

TEST_CASE("the log records its format, raises an older data dir's and refuses a newer one") {
  const std::string key = "cairn.log.format";
  auto format_of = [&](TestLog& t) -> std::optional<uint32_t> {
    auto stored = t.store->Get(t.store->FindFamily("default"), key);
    REQUIRE(stored.ok());
    if (!stored->has_value()) return std::nullopt;
    return bytes::GetBigEndian32(**stored);
  };
  auto set_format = [&](TestLog& t, std::optional<uint32_t> format) {
    WriteBatch batch;
    if (format) {
      std::string value;
      bytes::PutBigEndian32(&value, *format);
      batch.Put(t.store->FindFamily("default"), key, value);
    } else {
      batch.Delete(t.store->FindFamily("default"), key);
    }
    REQUIRE(t.store->Write(batch, true).ok());
  };

  TestLog t;
  MustAppend(*t.log, Req("orders", "order-1", 1));
  CHECK(format_of(t) == std::optional<uint32_t>(2));
  REQUIRE(t.log->Topics().size() == 1);

  // A dir from before the marker (format 1) opens and is raised to this build's format.
  set_format(t, std::nullopt);
  t.Reopen();
  CHECK(format_of(t) == std::optional<uint32_t>(2));
  CHECK(t.log->Topics().size() == 1);
  CHECK(t.log->HighWaterMark("orders", PartitionForKey("1", 8)).value() == 1);

  // A dir written by a newer build is refused with a message that says so.
  set_format(t, 3);
  t.Close();
  auto store = Store::Open(t.dir.path(), t.store_options);
  REQUIRE(store.ok());
  auto log = Log::Open(store->get(), t.log_options);
  REQUIRE_FALSE(log.ok());
  CHECK(log.status().code() == ErrorCode::kInvalidArgument);
  CHECK(log.status().message().find("newer Cairn (log format 3") != std::string::npos);
  CHECK(log.status().message().find(t.dir.path()) != std::string::npos);
}

TEST_CASE("ReadStream reads index entries of one event each, as older data dirs hold them") {
  TestLog t;
  MustAppend(*t.log, Req("orders", "order-old", 1));
  // Rewrite that append's run entry in the form written before runs: the event's bare log key.
  Family* streams = t.store->FindFamily("streams");
  REQUIRE(streams != nullptr);
  const std::string key = envelope::StreamIndexKey("order-old", StreamVersion(1));
  auto run = t.store->Get(streams, key);
  REQUIRE(run.ok());
  REQUIRE(run->has_value());
  REQUIRE((*run)->size() == envelope::kLogKeySize + 4);
  WriteBatch rewrite;
  rewrite.Put(streams, key, (*run)->substr(0, envelope::kLogKeySize));
  REQUIRE(t.store->Write(rewrite, false).ok());
  MustAppend(*t.log, Req("orders", "order-old", 2));

  for (uint64_t from = 1; from <= 4; ++from) {
    CAPTURE(from);
    auto events = t.log->ReadStream("order-old", StreamVersion(from), 10);
    REQUIRE_MESSAGE(events.ok(), events.status().ToString());
    std::vector<uint64_t> versions;
    for (const Event& e : *events) versions.push_back(e.version.value());
    std::vector<uint64_t> want;
    for (uint64_t v = from; v <= 3; ++v) want.push_back(v);
    CHECK(versions == want);
  }
}

TEST_CASE("ReadStream of an unknown stream is empty and StreamHead is 0") {
  TestLog t;
  MustAppend(*t.log, Req("orders", "order-1", 2));
  auto events = t.log->ReadStream("order-404", StreamVersion(1), 10);
  REQUIRE_MESSAGE(events.ok(), events.status().ToString());
  CHECK(events->empty());
  auto head = t.log->StreamHead("order-404");
  REQUIRE(head.ok());
  CHECK(head->value() == 0);
  auto known = t.log->StreamHead("order-1");
  REQUIRE(known.ok());
  CHECK(known->value() == 2);
}

TEST_CASE("ReadEvent finds an event by id and is not found for an unknown id") {
  TestLog t;
  AppendResult result = MustAppend(*t.log, Req("orders", "order-1", 3, ExpectedVersion::Any(), "r"));
  auto event = t.log->ReadEvent("r-1");
  REQUIRE_MESSAGE(event.ok(), event.status().ToString());
  CHECK(event->id == "r-1");
  CHECK(event->stream == "order-1");
  CHECK(event->version.value() == 2);
  CHECK(event->position() == result.positions[1]);
  CHECK_FAILS_WITH(t.log->ReadEvent("r-3"), ErrorCode::kNotFound);
  CHECK_FAILS_WITH(t.log->ReadEvent("no-such-id"), ErrorCode::kNotFound);
}

TEST_CASE("ReadAt reads one event by position and is not found beyond the high-water mark") {
  TestLog t;
  REQUIRE(t.log->CreateTopic("orders", 2).ok());
  AppendResult result = MustAppend(*t.log, Req("orders", "order-1", 3, ExpectedVersion::Any(), "p"));
  const PartitionId partition = result.positions[0].partition;
  for (size_t i = 0; i < 3; ++i) {
    auto event = t.log->ReadAt("orders", partition, Offset(i));
    REQUIRE_MESSAGE(event.ok(), event.status().ToString());
    CHECK(event->id == "p-" + std::to_string(i));
    CHECK(event->offset.value() == i);
    CHECK(event->seq == result.positions[i].seq);
  }
  CHECK_FAILS_WITH(t.log->ReadAt("orders", partition, Offset(3)), ErrorCode::kNotFound);
  CHECK_FAILS_WITH(t.log->ReadAt("orders", PartitionId(1 - partition.value()), Offset(0)),
                   ErrorCode::kNotFound);
  CHECK_FAILS_WITH(t.log->ReadAt("nope", PartitionId(0), Offset(0)), ErrorCode::kNotFound);
}

TEST_CASE("ReadPartition reads from an offset, at most max_events") {
  TestLog t;
  REQUIRE(t.log->CreateTopic("orders", 1).ok());
  MustAppend(*t.log, Req("orders", "order-1", 4));
  MustAppend(*t.log, Req("orders", "order-2", 6));
  auto offsets = [&](uint64_t from, size_t max_events) {
    std::vector<uint64_t> out;
    auto events = t.log->ReadPartition("orders", PartitionId(0), Offset(from), max_events);
    REQUIRE_MESSAGE(events.ok(), events.status().ToString());
    for (const Event& e : *events) out.push_back(e.offset.value());
    return out;
  };
  CHECK(offsets(0, 3) == std::vector<uint64_t>{0, 1, 2});
  CHECK(offsets(3, 3) == std::vector<uint64_t>{3, 4, 5});
  CHECK(offsets(8, 10) == std::vector<uint64_t>{8, 9});
  CHECK(offsets(0, 100).size() == 10);
  CHECK(offsets(10, 10).empty());
  CHECK(offsets(1000, 10).empty());
}

TEST_CASE("ReadPartition returns at least one event when max_bytes is tiny") {
  TestLog t;
  REQUIRE(t.log->CreateTopic("orders", 1).ok());
  AppendRequest req = Req("orders", "order-1", 10);
  for (NewEvent& e : req.events) e.data = std::string(1000, 'd');
  MustAppend(*t.log, std::move(req));
  auto events = t.log->ReadPartition("orders", PartitionId(0), Offset(4), 100, 1);
  REQUIRE_MESSAGE(events.ok(), events.status().ToString());
  REQUIRE(events->size() >= 1);
  CHECK(events->size() < 6);
  CHECK((*events)[0].offset.value() == 4);
  auto some = t.log->ReadPartition("orders", PartitionId(0), Offset(0), 100, 3000);
  REQUIRE(some.ok());
  CHECK(some->size() >= 1);
  CHECK(some->size() < 10);
}

TEST_CASE("ScanPartition visits [from, to) in order and stops when the visitor returns false") {
  TestLog t;
  REQUIRE(t.log->CreateTopic("orders", 1).ok());
  MustAppend(*t.log, Req("orders", "order-1", 10));
  auto scan = [&](uint64_t from, uint64_t to, size_t stop_after) {
    std::vector<uint64_t> out;
    Status status = t.log->ScanPartition("orders", PartitionId(0), Offset(from), Offset(to),
                                         [&](const EventView& e) {
                                           out.push_back(e.offset().value());
                                           return out.size() < stop_after;
                                         });
    CHECK_MESSAGE(status.ok(), status.ToString());
    return out;
  };
  CHECK(scan(2, 5, 100) == std::vector<uint64_t>{2, 3, 4});
  CHECK(scan(0, 10, 3) == std::vector<uint64_t>{0, 1, 2});
  CHECK(scan(7, 1000, 100) == std::vector<uint64_t>{7, 8, 9});  // `to` clamped to the HWM
  CHECK(scan(5, 5, 100).empty());
  CHECK(scan(10, 20, 100).empty());
}

TEST_CASE("ScanInSeqOrder across two topics returns seq order, honouring after and limit") {
  TestLog t;
  REQUIRE(t.log->CreateTopic("alpha", 2).ok());
  REQUIRE(t.log->CreateTopic("beta", 3).ok());
  REQUIRE(t.log->CreateTopic("gamma", 1).ok());
  // seq:  1-2 alpha, 3 beta, 4 gamma, 5 alpha, 6-7 beta, 8 gamma, 9 alpha
  MustAppend(*t.log, Req("alpha", "a-1", 2));
  MustAppend(*t.log, Req("beta", "b-1", 1));
  MustAppend(*t.log, Req("gamma", "g-1", 1));
  MustAppend(*t.log, Req("alpha", "a-2", 1));
  MustAppend(*t.log, Req("beta", "b-2", 2));
  MustAppend(*t.log, Req("gamma", "g-1", 1));
  MustAppend(*t.log, Req("alpha", "a-1", 1));

  auto scan = [&](const std::vector<std::string>& topics, uint64_t after, size_t limit) {
    std::vector<std::string> out;
    Status status = t.log->ScanInSeqOrder(topics, Seq(after), limit, [&](const EventView& e) {
      out.push_back(std::string(e.topic()) + ":" + std::to_string(e.seq().value()));
      return true;
    });
    CHECK_MESSAGE(status.ok(), status.ToString());
    return out;
  };
  using V = std::vector<std::string>;
  CHECK(scan({"alpha", "beta"}, 0, 100) ==
        V{"alpha:1", "alpha:2", "beta:3", "alpha:5", "beta:6", "beta:7", "alpha:9"});
  CHECK(scan({"beta", "alpha"}, 0, 100) ==
        V{"alpha:1", "alpha:2", "beta:3", "alpha:5", "beta:6", "beta:7", "alpha:9"});
  CHECK(scan({"alpha", "beta"}, 3, 100) == V{"alpha:5", "beta:6", "beta:7", "alpha:9"});
  CHECK(scan({"alpha", "beta"}, 2, 2) == V{"beta:3", "alpha:5"});
  CHECK(scan({"alpha", "beta"}, 9, 100).empty());
  CHECK(scan({"gamma"}, 0, 100) == V{"gamma:4", "gamma:8"});
  CHECK(scan({}, 0, 100) == V{"alpha:1", "alpha:2", "beta:3", "gamma:4", "alpha:5", "beta:6",
                              "beta:7", "gamma:8", "alpha:9"});
  CHECK(scan({}, 6, 2) == V{"beta:7", "gamma:8"});

  int visited = 0;
  Status status = t.log->ScanInSeqOrder({}, Seq(0), 100, [&](const EventView&) {
    ++visited;
    return visited < 2;
  });
  CHECK(status.ok());
  CHECK(visited == 2);
}

// ---------------------------------------------------------------------------------------------
// Cursors

// Consumes up to `limit` events from `cursor`, returning "topic:seq" for each.
std::vector<std::string> Drain(LogCursor& cursor, size_t limit) {
  std::vector<std::string> out;
  auto consumed = cursor.Next(limit, [&](const EventView& e) {
    out.push_back(std::string(e.topic()) + ":" + std::to_string(e.seq().value()));
    return true;
  });
  REQUIRE_MESSAGE(consumed.ok(), consumed.status().ToString());
  CHECK(*consumed == out.size());
  return out;
}

TEST_CASE("a cursor visits committed events in seq order and continues where it stopped") {
  TestLog t;
  REQUIRE(t.log->CreateTopic("alpha", 2).ok());
  REQUIRE(t.log->CreateTopic("beta", 3).ok());
  MustAppend(*t.log, Req("alpha", "a-1", 2));  // 1-2
  MustAppend(*t.log, Req("other", "o-1", 1));  // 3
  MustAppend(*t.log, Req("beta", "b-1", 1));   // 4
  MustAppend(*t.log, Req("alpha", "a-2", 1));  // 5

  auto opened = t.log->OpenCursor({"alpha", "beta"}, Seq(0));
  REQUIRE_MESSAGE(opened.ok(), opened.status().ToString());
  LogCursor& cursor = **opened;
  using V = std::vector<std::string>;
  CHECK(cursor.last_seq().value() == 0);
  CHECK(Drain(cursor, 2) == V{"alpha:1", "alpha:2"});
  CHECK(cursor.last_seq().value() == 2);
  CHECK(Drain(cursor, 100) == V{"beta:4", "alpha:5"});
  CHECK(cursor.last_seq().value() == 5);
  CHECK(Drain(cursor, 100).empty());
  CHECK(cursor.last_seq().value() == 5);

  MustAppend(*t.log, Req("beta", "b-2", 2));   // 6-7
  MustAppend(*t.log, Req("other", "o-1", 1));  // 8
  MustAppend(*t.log, Req("alpha", "a-1", 1));  // 9
  CHECK(Drain(cursor, 100) == V{"beta:6", "beta:7", "alpha:9"});
  CHECK(cursor.last_seq().value() == 9);

  auto late = t.log->OpenCursor({"alpha", "beta"}, Seq(4));
  REQUIRE(late.ok());
  CHECK((*late)->last_seq().value() == 4);
  CHECK(Drain(**late, 100) == V{"alpha:5", "beta:6", "beta:7", "alpha:9"});
  auto all = t.log->OpenCursor({}, Seq(6));
  REQUIRE(all.ok());
  CHECK(Drain(**all, 100) == V{"beta:7", "other:8", "alpha:9"});
}

TEST_CASE("an event the cursor's visitor refuses is visited again by the next call") {
  TestLog t;
  MustAppend(*t.log, Req("alpha", "a-1", 3));
  auto opened = t.log->OpenCursor({"alpha"}, Seq(0));
  REQUIRE(opened.ok());
  LogCursor& cursor = **opened;

  std::vector<uint64_t> visited;
  auto consumed = cursor.Next(100, [&](const EventView& e) {
    visited.push_back(e.seq().value());
    return e.seq().value() < 2;  // refuses seq 2
  });
  REQUIRE(consumed.ok());
  CHECK(*consumed == 1);
  CHECK(visited == std::vector<uint64_t>{1, 2});
  CHECK(cursor.last_seq().value() == 1);

  visited.clear();
  consumed = cursor.Next(100, [&](const EventView& e) {
    visited.push_back(e.seq().value());
    return false;  // refuses the first it sees
  });
  REQUIRE(consumed.ok());
  CHECK(*consumed == 0);
  CHECK(visited == std::vector<uint64_t>{2});
  CHECK(cursor.last_seq().value() == 1);

  CHECK(Drain(cursor, 100) == std::vector<std::string>{"alpha:2", "alpha:3"});
}

TEST_CASE("a cursor over every topic picks up topics created after it was opened") {
  TestLog t;
  MustAppend(*t.log, Req("alpha", "a-1", 1));  // 1
  auto opened = t.log->OpenCursor({}, Seq(0));
  REQUIRE(opened.ok());
  LogCursor& cursor = **opened;
  CHECK(Drain(cursor, 100) == std::vector<std::string>{"alpha:1"});

  REQUIRE(t.log->CreateTopic("beta", 2).ok());
  MustAppend(*t.log, Req("beta", "b-1", 1));   // 2
  MustAppend(*t.log, Req("gamma", "g-1", 2));  // 3-4, auto-created
  MustAppend(*t.log, Req("alpha", "a-1", 1));  // 5
  CHECK(Drain(cursor, 100) ==
        std::vector<std::string>{"beta:2", "gamma:3", "gamma:4", "alpha:5"});

  // A named topic that does not exist yet is read once it does.
  auto named = t.log->OpenCursor({"delta"}, Seq(0));
  REQUIRE_MESSAGE(named.ok(), named.status().ToString());
  CHECK(Drain(**named, 100).empty());
  MustAppend(*t.log, Req("delta", "d-1", 1));  // 6
  CHECK(Drain(**named, 100) == std::vector<std::string>{"delta:6"});
}

TEST_CASE("a cursor reading during concurrent appends sees every seq exactly once, in order") {
  TestLog t;
  REQUIRE(t.log->CreateTopic("alpha", 8).ok());
  REQUIRE(t.log->CreateTopic("beta", 4).ok());
  constexpr int kThreads = 4;
  constexpr int kAppendsPerThread = 100;
  std::vector<uint64_t> written(kThreads, 0);
  std::vector<std::string> errors(kThreads);
  std::vector<std::thread> writers;
  for (int i = 0; i < kThreads; ++i) {
    writers.emplace_back([&, i] {
      for (int j = 0; j < kAppendsPerThread; ++j) {
        const size_t n = 1 + static_cast<size_t>(j % 3);
        auto r = t.log->Append(Req(j % 2 == 0 ? "alpha" : "beta",
                                   "s-" + std::to_string(i) + "x" + std::to_string(j % 13), n));
        if (!r.ok()) {
          errors[i] = r.status().ToString();
          return;
        }
        written[i] += n;
      }
    });
  }
  uint64_t total = 0;
  for (int i = 0; i < kThreads; ++i) {
    for (int j = 0; j < kAppendsPerThread; ++j) total += 1 + static_cast<uint64_t>(j % 3);
  }

  auto opened = t.log->OpenCursor({}, Seq(0));
  REQUIRE(opened.ok());
  LogCursor& cursor = **opened;
  std::vector<uint64_t> seen;
  std::string problem;
  const auto give_up = Clock::now() + 20s;
  while (seen.size() < total && problem.empty() && Clock::now() < give_up) {
    auto consumed = cursor.Next(37, [&](const EventView& e) {
      seen.push_back(e.seq().value());
      return true;
    });
    if (!consumed.ok()) {
      problem = consumed.status().ToString();
    } else if (*consumed == 0) {
      (void)t.log->WaitForSeq(Seq(cursor.last_seq().value() + 1), 100ms);
    }
  }
  for (std::thread& w : writers) w.join();
  for (const std::string& e : errors) CHECK_MESSAGE(e.empty(), e);
  CHECK(problem == "");
  REQUIRE(seen.size() == total);
  size_t first_bad = seen.size();
  for (size_t k = 0; k < seen.size(); ++k) {
    if (seen[k] != k + 1) {
      first_bad = k;
      break;
    }
  }
  CHECK_MESSAGE(first_bad == seen.size(),
                "index " << first_bad << " holds seq " << (first_bad < seen.size() ? seen[first_bad] : 0));
  CHECK(cursor.last_seq().value() == total);
}

TEST_CASE("OffsetsAfterSeq gives each partition's first offset with a later seq") {
  TestLog t;
  REQUIRE(t.log->CreateTopic("alpha", 2).ok());
  const std::string in0 = StreamInPartition("order", 2, PartitionId(0));
  const std::string in1 = StreamInPartition("order", 2, PartitionId(1));
  // seq 1-2: alpha/0 offsets 0-1; 3: other; 4: alpha/1 offset 0; 5-7: alpha/0 offsets 2-4;
  // 8: other; 9-10: alpha/1 offsets 1-2.
  std::vector<Position> alpha;
  auto add = [&](const std::string& topic, const std::string& stream, size_t n) {
    AppendResult r = MustAppend(*t.log, Req(topic, stream, n));
    if (topic == "alpha") alpha.insert(alpha.end(), r.positions.begin(), r.positions.end());
  };
  add("alpha", in0, 2);
  add("other", "x-1", 1);
  add("alpha", in1, 1);
  add("alpha", in0, 3);
  add("other", "x-1", 1);
  add("alpha", in1, 2);
  REQUIRE(t.log->LastSeq().value() == 10);

  for (uint64_t after = 0; after <= 10; ++after) {
    CAPTURE(after);
    std::vector<uint64_t> want(2);
    for (uint32_t p = 0; p < 2; ++p) {
      want[p] = t.log->HighWaterMark("alpha", PartitionId(p)).value();  // no later event yet
      for (const Position& pos : alpha) {
        if (pos.partition.value() == p && pos.seq.value() > after) {
          want[p] = std::min(want[p], pos.offset.value());
        }
      }
    }
    auto offsets = t.log->OffsetsAfterSeq("alpha", Seq(after));
    REQUIRE_MESSAGE(offsets.ok(), offsets.status().ToString());
    REQUIRE(offsets->size() == 2);
    CHECK((*offsets)[0].value() == want[0]);
    CHECK((*offsets)[1].value() == want[1]);
  }
  // Spot checks of the table above.
  auto at3 = t.log->OffsetsAfterSeq("alpha", Seq(3));
  REQUIRE(at3.ok());
  CHECK((*at3)[0].value() == 2);
  CHECK((*at3)[1].value() == 0);
  CHECK_FAILS_WITH(t.log->OffsetsAfterSeq("nope", Seq(0)), ErrorCode::kNotFound);
}

TEST_CASE("event fields round-trip through every read path") {
  TestLog t;
  REQUIRE(t.log->CreateTopic("orders", 4).ok());
  std::string binary = "{\"k\":\"v\"}";
  binary.push_back('\0');
  binary.push_back('\x01');
  binary.push_back('\x7f');
  binary.push_back('\x80');
  binary.push_back('\xff');
  binary.push_back('\0');
  binary += "tail";

  NewEvent first = Ev("ORDER_CREATED", binary, "7d444840-9dc0-11d1-b245-5ffdce74fad2");
  first.metadata = {"cmd-1", "corr-1", "cause-1", "user-1"};
  first.timestamp_us = 1'700'000'000'123'456;
  NewEvent second = Ev("ORDER_APPROVED", "", "second-id");
  second.metadata.correlation_id = "corr-2";  // the other metadata fields empty (not stored)
  second.timestamp_us = -5;  // before the epoch: still kept as given
  AppendRequest req;
  req.topic = "orders";
  req.stream = "order-rt";
  req.events = {first, second};
  AppendResult result = MustAppend(*t.log, std::move(req));

  std::vector<Event> want(2);
  const NewEvent* sources[] = {&first, &second};
  for (size_t i = 0; i < 2; ++i) {
    want[i].id = sources[i]->id;
    want[i].type = sources[i]->type;
    want[i].topic = "orders";
    want[i].partition = result.positions[i].partition;
    want[i].offset = result.positions[i].offset;
    want[i].seq = result.positions[i].seq;
    want[i].stream = "order-rt";
    want[i].version = StreamVersion(i + 1);
    want[i].timestamp_us = sources[i]->timestamp_us;
    want[i].metadata = sources[i]->metadata;
    want[i].data = sources[i]->data;
  }
  auto check_event = [](const Event& got, const Event& expected) {
    CHECK(got.id == expected.id);
    CHECK(got.type == expected.type);
    CHECK(got.topic == expected.topic);
    CHECK(got.partition == expected.partition);
    CHECK(got.offset == expected.offset);
    CHECK(got.seq == expected.seq);
    CHECK(got.stream == expected.stream);
    CHECK(got.version == expected.version);
    CHECK(got.timestamp_us == expected.timestamp_us);
    CHECK(got.metadata.command_id == expected.metadata.command_id);
    CHECK(got.metadata.correlation_id == expected.metadata.correlation_id);
    CHECK(got.metadata.causation_id == expected.metadata.causation_id);
    CHECK(got.metadata.user_id == expected.metadata.user_id);
    CHECK(got.data.size() == expected.data.size());
    CHECK(got.data == expected.data);
    CHECK(got == expected);
  };

  for (size_t i = 0; i < 2; ++i) {
    CAPTURE(i);
    auto by_id = t.log->ReadEvent(want[i].id);
    REQUIRE_MESSAGE(by_id.ok(), by_id.status().ToString());
    check_event(*by_id, want[i]);
    auto at = t.log->ReadAt("orders", want[i].partition, want[i].offset);
    REQUIRE_MESSAGE(at.ok(), at.status().ToString());
    check_event(*at, want[i]);
  }
  auto stream = t.log->ReadStream("order-rt", StreamVersion(1), 10);
  REQUIRE(stream.ok());
  REQUIRE(stream->size() == 2);
  check_event((*stream)[0], want[0]);
  check_event((*stream)[1], want[1]);
  auto partition = t.log->ReadPartition("orders", want[0].partition, Offset(0), 10);
  REQUIRE(partition.ok());
  REQUIRE(partition->size() == 2);
  check_event((*partition)[0], want[0]);
  check_event((*partition)[1], want[1]);

  std::vector<Event> viewed;
  Status status = t.log->ScanPartition("orders", want[0].partition, Offset(0), Offset(10),
                                       [&](const EventView& view) {
                                         const Event& w = want[viewed.size()];
                                         CHECK(view.id() == w.id);
                                         CHECK(view.type() == w.type);
                                         CHECK(view.topic() == w.topic);
                                         CHECK(view.partition() == w.partition);
                                         CHECK(view.offset() == w.offset);
                                         CHECK(view.seq() == w.seq);
                                         CHECK(view.stream() == w.stream);
                                         CHECK(view.version() == w.version);
                                         CHECK(view.timestamp_us() == w.timestamp_us);
                                         CHECK(std::string(view.data()) == w.data);
                                         viewed.push_back(view.ToEvent());
                                         return true;
                                       });
  REQUIRE(status.ok());
  REQUIRE(viewed.size() == 2);
  check_event(viewed[0], want[0]);
  check_event(viewed[1], want[1]);

  std::vector<Event> in_seq;
  status = t.log->ScanInSeqOrder({"orders"}, Seq(0), 10, [&](const EventView& view) {
    in_seq.push_back(EventView(view.envelope()).ToEvent());  // an envelope can be re-read
    return true;
  });
  REQUIRE(status.ok());
  REQUIRE(in_seq.size() == 2);
  check_event(in_seq[0], want[0]);
  check_event(in_seq[1], want[1]);
}

// ---------------------------------------------------------------------------------------------
// Waiting

TEST_CASE("WaitForSeq and WaitFor return true at once when the event is already there") {
  TestLog t;
  REQUIRE(t.log->CreateTopic("orders", 2).ok());
  AppendResult result = MustAppend(*t.log, Req("orders", "order-1", 2));
  const PartitionId partition = result.positions[0].partition;
  CHECK(t.log->WaitForSeq(Seq(0), 10s));
  CHECK(t.log->WaitForSeq(Seq(1), 10s));
  CHECK(t.log->WaitForSeq(Seq(2), 0ms));
  CHECK(t.log->WaitFor("orders", partition, Offset(0), 10s));
  CHECK(t.log->WaitFor("orders", partition, Offset(1), 0ms));
}

TEST_CASE("WaitForSeq and WaitFor return false after the timeout when nothing is appended") {
  TestLog t;
  REQUIRE(t.log->CreateTopic("orders", 2).ok());
  AppendResult result = MustAppend(*t.log, Req("orders", "order-1", 1));
  const PartitionId partition = result.positions[0].partition;
  const PartitionId other(1 - partition.value());
  CHECK_FALSE(t.log->WaitForSeq(Seq(2), 50ms));
  CHECK_FALSE(t.log->WaitFor("orders", partition, Offset(1), 50ms));
  CHECK_FALSE(t.log->WaitFor("orders", other, Offset(0), 50ms));
  CHECK_FALSE(t.log->WaitFor("unknown", PartitionId(0), Offset(0), 50ms));
}

TEST_CASE("a thread waiting in WaitForSeq is woken by an append") {
  TestLog t;
  MustAppend(*t.log, Req("orders", "order-1", 1));
  std::atomic<bool> appended{false};
  bool woke = false;
  bool condition_held = false;
  Clock::duration waited{};
  std::thread waiter([&] {
    const auto start = Clock::now();
    woke = t.log->WaitForSeq(Seq(3), 10s);
    waited = Clock::now() - start;
    condition_held = appended.load();
  });
  std::this_thread::sleep_for(50ms);
  MustAppend(*t.log, Req("orders", "order-2", 1));  // seq 2: not enough
  std::this_thread::sleep_for(20ms);
  appended = true;
  MustAppend(*t.log, Req("orders", "order-2", 1));  // seq 3
  waiter.join();
  CHECK(woke);
  CHECK(condition_held);  // not woken (as satisfied) by seq 2
  CHECK(waited < 5s);     // by the append, not by the 10 s timeout
}

TEST_CASE("a thread waiting in WaitFor is woken by an append to its partition") {
  TestLog t;
  REQUIRE(t.log->CreateTopic("orders", 2).ok());
  const std::string in0 = StreamInPartition("order", 2, PartitionId(0));
  const std::string in1 = StreamInPartition("order", 2, PartitionId(1));
  MustAppend(*t.log, Req("orders", in0, 1));
  std::atomic<bool> appended{false};
  bool woke = false;
  bool condition_held = false;
  Clock::duration waited{};
  std::thread waiter([&] {
    const auto start = Clock::now();
    woke = t.log->WaitFor("orders", PartitionId(0), Offset(2), 10s);
    waited = Clock::now() - start;
    condition_held = appended.load();
  });
  std::this_thread::sleep_for(50ms);
  MustAppend(*t.log, Req("orders", in1, 3));  // other partition
  MustAppend(*t.log, Req("orders", in0, 1));  // offset 1: not enough
  std::this_thread::sleep_for(20ms);
  appended = true;
  MustAppend(*t.log, Req("orders", in0, 1));  // offset 2
  waiter.join();
  CHECK(woke);
  CHECK(condition_held);
  CHECK(waited < 5s);
}

TEST_CASE("Close wakes waiters and makes later appends fail with shutting down") {
  TestLog t;
  MustAppend(*t.log, Req("orders", "order-1", 1));
  bool woke = true;
  Clock::duration waited{};
  std::thread waiter([&] {
    const auto start = Clock::now();
    woke = t.log->WaitForSeq(Seq(100), 10s);
    waited = Clock::now() - start;
  });
  std::this_thread::sleep_for(50ms);
  t.log->Close();
  waiter.join();
  CHECK_FALSE(woke);
  CHECK(waited < 5s);
  CHECK_FAILS_WITH(t.log->Append(Req("orders", "order-1", 1)), ErrorCode::kShuttingDown);
  CHECK(t.log->LastSeq().value() == 1);
}

// ---------------------------------------------------------------------------------------------
// Write fault hook

TEST_CASE("a write fault fails the appends of its group with the fault's error and writes nothing") {
  TestLog t;
  Family* family = WriteFamily(*t.store);
  REQUIRE(t.log->CreateTopic("orders", 4).ok());
  MustAppend(*t.log, Req("orders", "order-1", 2));
  const std::string before = Describe(*t.log);

  t.log->SetWriteFaultForTesting([] { return Status::IOError("injected disk failure"); });
  AppendRequest req = Req("orders", "order-1", 2, ExpectedVersion::Exact(2), "faulted");
  req.state_writes.Put(family, "order-1", "state");
  auto result = t.log->Append(std::move(req));
  REQUIRE_FALSE(result.ok());
  CHECK_FAILS_WITH(result, ErrorCode::kIOError);
  CHECK_MESSAGE(Contains(result.status().message(), "injected disk failure"),
                result.status().message());
  CHECK_FAILS_WITH(t.log->Append(Req("orders", "order-new", 1)), ErrorCode::kIOError);

  // Concurrent appends under the fault all fail, also when they share a group (the slow fault
  // makes them queue up behind the writer).
  t.log->SetWriteFaultForTesting([] {
    std::this_thread::sleep_for(5ms);
    return Status::IOError("injected disk failure");
  });
  constexpr int kThreads = 8;
  std::vector<std::string> outcomes(kThreads);
  std::barrier start(kThreads);
  std::vector<std::thread> threads;
  for (int i = 0; i < kThreads; ++i) {
    threads.emplace_back([&, i] {
      start.arrive_and_wait();
      auto r = t.log->Append(Req("orders", "order-c" + std::to_string(i), 1));
      outcomes[i] = r.ok() ? "ok" : CodeName(r.status().code());
    });
  }
  for (std::thread& thread : threads) thread.join();
  for (const std::string& outcome : outcomes) CHECK(outcome == CodeName(ErrorCode::kIOError));

  CHECK(Describe(*t.log) == before);
  CHECK(StreamProblem(*t.log, "order-1", 2) == "");
  CHECK(StreamProblem(*t.log, "order-new", 0) == "");
  CHECK_FAILS_WITH(t.log->ReadEvent("faulted-0"), ErrorCode::kNotFound);
  CHECK_FALSE(GetKey(*t.store, family, "order-1").has_value());
  t.log->SetWriteFaultForTesting(nullptr);
}

TEST_CASE("after the write fault is cleared appends work and offsets stay gapless") {
  TestLog t;
  REQUIRE(t.log->CreateTopic("orders", 4).ok());
  AppendResult first = MustAppend(*t.log, Req("orders", "order-1", 2));
  const PartitionId partition = first.positions[0].partition;

  t.log->SetWriteFaultForTesting([] { return Status::IOError("injected disk failure"); });
  CHECK_FAILS_WITH(t.log->Append(Req("orders", "order-1", 3, ExpectedVersion::Any(), "lost")),
                   ErrorCode::kIOError);
  CHECK_FAILS_WITH(t.log->Append(Req("orders", "order-2", 1)), ErrorCode::kIOError);
  t.log->SetWriteFaultForTesting(nullptr);

  AppendResult next =
      MustAppend(*t.log, Req("orders", "order-1", 1, ExpectedVersion::Exact(2), "lost"));
  CHECK_FALSE(next.duplicate);
  CHECK(next.version.value() == 3);
  CHECK(next.positions[0].partition == partition);
  CHECK(next.positions[0].offset.value() == 2);
  CHECK(next.positions[0].seq.value() == 3);

  // A fault that strikes once, under concurrent load.
  std::atomic<int> faults{0};
  t.log->SetWriteFaultForTesting([&]() -> Status {
    if (faults.fetch_add(1) == 0) return Status::IOError("injected once");
    return Status::Ok();
  });
  constexpr int kThreads = 8;
  std::vector<int> succeeded(kThreads, 0);
  std::vector<std::string> odd(kThreads);
  std::vector<std::thread> threads;
  for (int i = 0; i < kThreads; ++i) {
    threads.emplace_back([&, i] {
      for (int j = 0; j < 10; ++j) {
        auto r = t.log->Append(Req("orders", "order-t" + std::to_string(i), 1));
        if (r.ok()) {
          ++succeeded[i];
        } else if (r.status().code() != ErrorCode::kIOError) {
          odd[i] = r.status().ToString();
        }
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  t.log->SetWriteFaultForTesting(nullptr);

  uint64_t total = 3;
  for (int i = 0; i < kThreads; ++i) {
    CHECK_MESSAGE(odd[i].empty(), odd[i]);
    CHECK(StreamProblem(*t.log, "order-t" + std::to_string(i), succeeded[i]) == "");
    total += succeeded[i];
  }
  CHECK(total < 3 + kThreads * 10);  // the one faulted group lost something
  CHECK(TopicProblem(*t.log, "orders") == "");
  CHECK(SeqProblem(*t.log, total) == "");
}

// ---------------------------------------------------------------------------------------------
// Stats

TEST_CASE("stats count appends, events, duplicates and conflicts") {
  TestLog t;
  const Log::Stats zero = t.log->GetStats();
  CHECK(zero.appends == 0);
  CHECK(zero.events == 0);
  MustAppend(*t.log, Req("orders", "order-1", 3, ExpectedVersion::Any(), "s"));
  MustAppend(*t.log, Req("orders", "order-2", 1));
  MustAppend(*t.log, Req("orders", "order-1", 3, ExpectedVersion::Any(), "s"));  // duplicate
  CHECK_FAILS_WITH(t.log->Append(Req("orders", "order-1", 1, ExpectedVersion::NoStream())),
                   ErrorCode::kConflict);
  const Log::Stats stats = t.log->GetStats();
  CHECK(stats.appends == 2);
  CHECK(stats.events == 4);
  CHECK(stats.duplicates == 1);
  CHECK(stats.conflicts == 1);
  CHECK(stats.groups >= 1);
  CHECK(stats.groups <= 2);
}

// ---------------------------------------------------------------------------------------------
// Store

TEST_CASE("a second Store::Open on an open data dir is busy and names the directory") {
  TempDir dir;
  auto first = Store::Open(dir.path(), FastStoreOptions());
  REQUIRE_MESSAGE(first.ok(), first.status().ToString());
  auto second = Store::Open(dir.path(), FastStoreOptions());
  REQUIRE_FALSE(second.ok());
  CHECK_FAILS_WITH(second, ErrorCode::kBusy);
  CHECK_MESSAGE(Contains(second.status().message(), dir.path()), second.status().message());
}

TEST_CASE("ParseSyncMode accepts always, batch and none and refuses anything else") {
  auto always = ParseSyncMode("always");
  REQUIRE(always.ok());
  CHECK(*always == SyncMode::kAlways);
  auto batch = ParseSyncMode("batch");
  REQUIRE(batch.ok());
  CHECK(*batch == SyncMode::kBatch);
  auto none = ParseSyncMode("none");
  REQUIRE(none.ok());
  CHECK(*none == SyncMode::kNone);
  CHECK_FAILS_WITH(ParseSyncMode("sometimes"), ErrorCode::kInvalidArgument);
  CHECK_FAILS_WITH(ParseSyncMode(""), ErrorCode::kInvalidArgument);
  for (SyncMode mode : {SyncMode::kAlways, SyncMode::kBatch, SyncMode::kNone}) {
    auto parsed = ParseSyncMode(SyncModeName(mode));
    REQUIRE(parsed.ok());
    CHECK(*parsed == mode);
  }
}

}  // namespace
}  // namespace cairn

// ---- IndexedBatch: the projection batch ------------------------------------------------------

namespace cairn {

TEST_CASE("an IndexedBatch reads its own writes and commits the same effect as the operations in order") {
  TestLog t;
  auto views = t.store->OpenFamily("views", FamilyKind::kOrdered);
  auto counters = t.store->OpenFamily("counters", FamilyKind::kCounters);
  REQUIRE(views.ok());
  REQUIRE(counters.ok());
  {  // stored before the batch
    WriteBatch setup;
    setup.Put(*views, "kept", "old");
    setup.Put(*views, "deleted", "old");
    setup.AddCounter(*counters, "stored", 40);
    REQUIRE(t.store->Write(setup, false).ok());
  }
  auto counter = [&](const IndexedBatch& b, std::string_view key) {
    auto v = b.Get(*counters, key);
    REQUIRE(v.ok());
    return v->has_value() ? DecodeCounter(**v) : int64_t{-999};
  };

  IndexedBatch batch(t.store.get());
  batch.Put(*views, "new", "v1");
  batch.Put(*views, "new", "v2");  // the last Put wins
  batch.Delete(*views, "deleted");
  batch.AddCounter(*counters, "stored", 1);
  batch.AddCounter(*counters, "stored", 1);  // adds to the stored 40
  batch.AddCounter(*counters, "fresh", 5);
  batch.Put(*counters, "reset", EncodeCounter(100));
  batch.AddCounter(*counters, "reset", -1);  // a counter Put then added to
  batch.Delete(*counters, "gone");
  batch.AddCounter(*counters, "gone", 7);  // after a Delete, counts from 0

  CHECK(*batch.Get(*views, "new") == std::optional<std::string>("v2"));
  CHECK(*batch.Get(*views, "kept") == std::optional<std::string>("old"));  // from the database
  CHECK(!batch.Get(*views, "deleted")->has_value());
  CHECK(counter(batch, "stored") == 42);
  CHECK(counter(batch, "fresh") == 5);
  CHECK(counter(batch, "reset") == 99);
  CHECK(counter(batch, "gone") == 7);

  const int64_t expected_stored = 42;

  // Nothing reached the database before the commit.
  CHECK(!t.store->Get(*views, "new")->has_value());
  REQUIRE(batch.Commit(false).ok());
  CHECK(batch.Count() == 0);
  CHECK(*t.store->Get(*views, "new") == std::optional<std::string>("v2"));
  CHECK(!t.store->Get(*views, "deleted")->has_value());
  CHECK(*t.store->Get(*views, "kept") == std::optional<std::string>("old"));
  auto stored = [&](std::string_view key) { return DecodeCounter(**t.store->Get(*counters, key)); };
  CHECK(stored("stored") == expected_stored);
  CHECK(stored("fresh") == 5);
  CHECK(stored("reset") == 99);
  CHECK(stored("gone") == 7);
}

}  // namespace cairn
