// Unit tests of the log's reads: by stream, by id, by position and by partition (including the
// index entries older data dirs hold), that every field round-trips, and that no reader sees part
// of an append.
#include <doctest/doctest.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <map>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "cairn/log.h"
#include "cairn/status.h"
#include "cairn/store.h"
#include "cairn/types.h"
#include "log/envelope.h"
#include "log_test_util.h"

namespace cairn {
namespace {

using namespace std::chrono_literals;
using namespace testing;

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
    // An envelope can be re-read from its bytes and position.
    in_seq.push_back(
        EventView(view.topic(), view.partition(), view.offset(), view.envelope()).ToEvent());
    return true;
  });
  REQUIRE(status.ok());
  REQUIRE(in_seq.size() == 2);
  check_event(in_seq[0], want[0]);
  check_event(in_seq[1], want[1]);
}

}  // namespace
}  // namespace cairn
