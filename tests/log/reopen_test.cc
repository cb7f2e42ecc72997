// Unit tests of reopening a data dir: topics, high-water marks, the last seq, stream heads and
// stored ids come back, and the log's format marker is recorded, raised or refused.
#include <doctest/doctest.h>

#include <cstdint>
#include <map>
#include <optional>
#include <string>

#include "cairn/log.h"
#include "cairn/status.h"
#include "cairn/store.h"
#include "cairn/types.h"
#include "base/bytes.h"
#include "log_test_util.h"

namespace cairn {
namespace {

using namespace testing;

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

TEST_CASE("a stream's head is its last run in the stream index, never a stale `heads` entry") {
  TestLog t;
  MustAppend(*t.log, Req("orders", "order-1", 3));
  MustAppend(*t.log, Req("orders", "order-1", 2));
  MustAppend(*t.log, Req("orders", "order-2", 1));
  // This build keeps no `heads` family; format 3 builds wrote one, which is stale once a format 4
  // build has appended. A wrong entry there changes nothing.
  CHECK(t.store->FindFamily("heads") == nullptr);
  auto heads = t.store->OpenFamily("heads", FamilyKind::kPointLookup);
  REQUIRE(heads.ok());
  WriteBatch stale;
  std::string wrong;
  bytes::PutBigEndian64(&wrong, 99);
  stale.Put(*heads, "order-1", wrong);
  REQUIRE(t.store->Write(stale, true).ok());

  t.Reopen();  // an empty cache: every head is read from the stream index
  CHECK(t.log->StreamHead("order-1").value() == StreamVersion(5));
  CHECK(t.log->StreamHead("order-2").value() == StreamVersion(1));
  CHECK(t.log->StreamHead("order-3").value() == StreamVersion(0));
  auto conflict = t.log->Append(Req("orders", "order-1", 1, ExpectedVersion::Exact(99)));
  CHECK(conflict.status().code() == ErrorCode::kConflict);
  AppendResult next = MustAppend(*t.log, Req("orders", "order-1", 1, ExpectedVersion::Exact(5)));
  CHECK(next.version == StreamVersion(6));
  MustAppend(*t.log, Req("orders", "order-3", 1, ExpectedVersion::NoStream()));
  CHECK(StreamProblem(*t.log, "order-1", 6) == "");
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
  CHECK(format_of(t) == std::optional<uint32_t>(4));
  REQUIRE(t.log->Topics().size() == 1);

  // A dir from before the marker (format 1) opens and is raised to this build's format.
  set_format(t, std::nullopt);
  t.Reopen();
  CHECK(format_of(t) == std::optional<uint32_t>(4));
  CHECK(t.log->Topics().size() == 1);
  CHECK(t.log->HighWaterMark("orders", PartitionForKey("1", 8)).value() == 1);

  // A dir written by a newer build is refused with a message that says so.
  set_format(t, 5);
  t.Close();
  auto store = Store::Open(t.dir.path(), t.store_options);
  REQUIRE(store.ok());
  auto log = Log::Open(store->get(), t.log_options);
  REQUIRE_FALSE(log.ok());
  CHECK(log.status().code() == ErrorCode::kInvalidArgument);
  CHECK(log.status().message().find("newer Cairn (log format 5") != std::string::npos);
  CHECK(log.status().message().find(t.dir.path()) != std::string::npos);
}

}  // namespace
}  // namespace cairn
