// The on-disk envelope: format 3 round-trips every field, and a data dir written by a format 2
// build (tests/data/format2, with what that build exported) reads back identically, takes new
// appends, and is raised to format 4.
#include <doctest/doctest.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "base/bytes.h"
#include "log/envelope.h"
#include "log/event_json.h"
#include "log_test_util.h"

#ifndef CAIRN_TEST_DATA_DIR
#error "CAIRN_TEST_DATA_DIR must name tests/data"
#endif

namespace cairn {
namespace {

using namespace cairn::testing;

std::vector<std::string> ReadLines(const std::string& path) {
  std::ifstream in(path);
  REQUIRE_MESSAGE(in.good(), (std::string("cannot read ") + path));
  std::vector<std::string> lines;
  for (std::string line; std::getline(in, line);) {
    if (!line.empty()) lines.push_back(line);
  }
  return lines;
}

// Every event of the log in seq order, as `cairn export` prints it.
std::vector<std::string> ExportLines(const Log& log) {
  std::vector<std::string> lines;
  Status s = log.ScanInSeqOrder({}, Seq(0), SIZE_MAX, [&](const EventView& e) {
    lines.push_back(json::EventToJson(e));
    return true;
  });
  REQUIRE_MESSAGE(s.ok(), s.ToString());
  return lines;
}

// A copy of the format 2 fixture in a fresh temp dir, opened by this build.
struct Format2Dir {
  Format2Dir() {
    std::filesystem::copy(std::string(CAIRN_TEST_DATA_DIR) + "/format2/datadir", dir.path(),
                          std::filesystem::copy_options::recursive);
    Open();
  }
  void Open() {
    auto s = Store::Open(dir.path(), FastStoreOptions());
    REQUIRE_MESSAGE(s.ok(), s.status().ToString());
    store = std::move(s).value();
    auto l = Log::Open(store.get(), LogOptions{});
    REQUIRE_MESSAGE(l.ok(), l.status().ToString());
    log = std::move(l).value();
  }
  void Reopen() {
    log.reset();
    store.reset();
    Open();
  }
  uint32_t Format() {
    auto stored = store->Get(store->FindFamily("default"), "cairn.log.format");
    REQUIRE(stored.ok());
    REQUIRE(stored->has_value());
    return bytes::GetBigEndian32(**stored);
  }
  TempDir dir;
  std::unique_ptr<Store> store;
  std::unique_ptr<Log> log;
};

Event MakeEvent(std::string id, std::string data, EventMetadata metadata, int64_t ts) {
  Event e;
  e.id = std::move(id);
  e.type = "WidgetMade";
  e.topic = "widgets";
  e.partition = PartitionId(3);
  e.offset = Offset(77);
  e.seq = Seq(123456789);
  e.stream = "widget-42";
  e.version = StreamVersion(300);
  e.timestamp_us = ts;
  e.metadata = std::move(metadata);
  e.data = std::move(data);
  return e;
}

// Encodes `e` as the log's writer does and reads it back through an EventView.
Event RoundTrip(const Event& e) {
  NewEvent n{e.id, e.type, e.data, e.metadata, e.timestamp_us};
  std::string envelope;
  envelope::AppendHeader(&envelope, e.id, e.seq, e.version);
  envelope += envelope::EncodeBody(n, e.stream);
  CHECK(envelope::IsFormat3(envelope));
  CHECK(envelope::Verify(envelope));
  CHECK(envelope::SeqOf(envelope) == e.seq);
  return EventView(e.topic, e.partition, e.offset, envelope).ToEvent();
}

TEST_CASE("a format 3 envelope round-trips every field and every kind of id") {
  const EventMetadata full{"cmd-1", "corr-1", "cause-1", "user-1"};
  const EventMetadata partial{"", "corr-only", "", ""};
  for (const Event& e : {
           MakeEvent("0190a5f0-1234-7abc-8def-0123456789ab", R"({"a":1})", {}, 1'700'000'000'000'000),
           MakeEvent("0190A5F0-1234-7ABC-8DEF-0123456789AB", "", full, 0),  // upper case: text
           MakeEvent("caller-chosen-id", std::string(100'000, 'x'), partial, -5),
           MakeEvent("0190a5f0-1234-7abc-8def-0123456789a", "not json at all", full, 1),
       }) {
    CAPTURE(e.id);
    CHECK(RoundTrip(e) == e);
  }
}

TEST_CASE("a format 3 envelope stores a UUID id in 16 bytes and is smaller than format 2's") {
  const NewEvent n{"", "ORDER_CREATED", std::string(200, 'd'), {}, 1'700'000'000'000'000};
  std::string uuid_header, text_header;
  envelope::AppendHeader(&uuid_header, "0190a5f0-1234-7abc-8def-0123456789ab", Seq(1), StreamVersion(1));
  envelope::AppendHeader(&text_header, "caller-chosen-id", Seq(1), StreamVersion(1));
  CHECK(uuid_header.size() == 1 + 1 + 16 + 1 + 1);
  CHECK(text_header.size() == 1 + 1 + 1 + 16 + 1 + 1);
  const std::string body = envelope::EncodeBody(n, "order-0190a5f0-1234-7abc-8def-0123456789ab");
  // flags, timestamp, type and stream with their lengths, then the data.
  CHECK(body.size() == 1 + 8 + 1 + 13 + 1 + 42 + 200);
}

TEST_CASE("Verify refuses malformed envelopes of either format") {
  std::string envelope;
  envelope::AppendHeader(&envelope, "some-id", Seq(5), StreamVersion(2));
  envelope += envelope::EncodeBody(NewEvent{"", "T", "data", {"a", "b", "c", "d"}, 9}, "s-1");
  REQUIRE(envelope::Verify(envelope));
  // Every truncation inside the header or the fields fails; the data is the rest of the value,
  // so cutting into it only shortens the data.
  const size_t data_start = envelope.size() - 4;
  for (size_t n = 0; n < data_start; ++n) {
    CAPTURE(n);
    CHECK_FALSE(envelope::Verify(envelope.substr(0, n)));
  }
  std::string bad_form = envelope;
  bad_form[1] = 7;
  CHECK_FALSE(envelope::Verify(bad_form));
  CHECK_FALSE(envelope::Verify(""));
  CHECK_FALSE(envelope::Verify(std::string(64, '\0')));  // not a flatbuffers envelope either
}

// Found by tests/fuzz/envelope_fuzz.cc (UBSan: memcpy from a null pointer); its input is
// tests/fuzz/corpus/envelope/empty_value.
TEST_CASE("an empty or too short value is no envelope, and SeqOf reads it as seq 0") {
  for (std::string_view value : {std::string_view(), std::string_view("\x10\0\0", 3)}) {
    CHECK_FALSE(envelope::Verify(value));
    CHECK(envelope::SeqOf(value) == Seq(0));
  }
}

TEST_CASE("a data dir written by a format 2 build reads back exactly as that build exported it") {
  Format2Dir d;
  const std::vector<std::string> expected =
      ReadLines(std::string(CAIRN_TEST_DATA_DIR) + "/format2/export.ndjson");
  REQUIRE(expected.size() == 83);
  CHECK(ExportLines(*d.log) == expected);
  // Opened writable, the dir is raised to this build's format (4); its envelopes stay as they were.
  CHECK(d.Format() == 4);

  // By id, by position and by stream, every event is the same.
  Status s = d.log->ScanInSeqOrder({}, Seq(0), SIZE_MAX, [&](const EventView& e) {
    const std::string want = json::EventToJson(e);
    Result<Event> by_id = d.log->ReadEvent(e.id());
    CHECK_MESSAGE(by_id.ok(), by_id.status().ToString());
    if (by_id.ok()) CHECK(json::EventToJson(*by_id) == want);
    Result<Event> at = d.log->ReadAt(e.topic(), e.partition(), e.offset());
    REQUIRE(at.ok());
    CHECK(json::EventToJson(*at) == want);
    Result<std::vector<Event>> stream = d.log->ReadStream(e.stream(), e.version(), 1);
    REQUIRE(stream.ok());
    REQUIRE(stream->size() == 1);
    CHECK(json::EventToJson(stream->front()) == want);
    return true;
  });
  REQUIRE(s.ok());
}

TEST_CASE("a format 2 data dir takes new appends next to its old envelopes") {
  Format2Dir d;
  const std::vector<std::string> before = ExportLines(*d.log);
  REQUIRE(d.log->LastSeq() == Seq(83));

  // widget-1 holds two events written by the format 2 build.
  AppendRequest more;
  more.topic = "widgets";
  more.stream = "widget-1";
  more.expected = ExpectedVersion::Exact(2);
  more.events.push_back(NewEvent{"", "WidgetPolished", R"({"shine":9})", {"c", "", "", "u"}, 0});
  more.events.push_back(NewEvent{"0190a5f0-0000-7abc-8def-0123456789ab", "WidgetSold", "{}", {}, 0});
  Result<AppendResult> appended = d.log->Append(std::move(more));
  REQUIRE_MESSAGE(appended.ok(), appended.status().ToString());
  CHECK(appended->version == StreamVersion(4));
  CHECK(appended->positions.front().seq == Seq(84));

  // An id the format 2 build stored is still a duplicate.
  AppendRequest again;
  again.topic = "widgets";
  again.stream = "widget-1";
  again.events.push_back(NewEvent{"caller-chosen-id-1", "WidgetPainted", R"({"color":"blue"})", {}, 0});
  Result<AppendResult> repeat = d.log->Append(std::move(again));
  REQUIRE(repeat.ok());
  CHECK(repeat->duplicate);

  d.Reopen();
  const std::vector<std::string> after = ExportLines(*d.log);
  REQUIRE(after.size() == before.size() + 2);
  CHECK(std::vector<std::string>(after.begin(), after.begin() + before.size()) == before);
  Result<std::vector<Event>> stream = d.log->ReadStream("widget-1", StreamVersion(1), 10);
  REQUIRE(stream.ok());
  REQUIRE(stream->size() == 4);
  CHECK((*stream)[2].type == "WidgetPolished");
  CHECK((*stream)[2].metadata.command_id == "c");
  CHECK((*stream)[2].metadata.user_id == "u");
  CHECK((*stream)[3].id == "0190a5f0-0000-7abc-8def-0123456789ab");
  // The generated id of the new event finds it.
  Result<Event> by_id = d.log->ReadEvent((*stream)[2].id);
  REQUIRE(by_id.ok());
  CHECK(by_id->seq == Seq(84));
}

}  // namespace
}  // namespace cairn
