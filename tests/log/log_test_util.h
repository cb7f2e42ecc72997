// Fixtures and checks shared by the log's unit tests (tests/log/*_test.cc): a Store and a Log on
// a temporary data dir, append requests, and "problem" probes that return "" when an invariant
// of the log holds (gapless offsets, seqs and stream versions) or the first violation found.
#pragma once

#include <doctest/doctest.h>

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include "cairn/log.h"
#include "cairn/status.h"
#include "cairn/store.h"
#include "cairn/types.h"
#include "temp_dir.h"

namespace cairn::testing {

inline StoreOptions FastStoreOptions() {
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

inline NewEvent Ev(std::string type = "TEST_EVENT", std::string data = "{}", std::string id = {}) {
  NewEvent e;
  e.id = std::move(id);
  e.type = std::move(type);
  e.data = std::move(data);
  return e;
}

// An append of `n` events to `stream`. With a non-empty `id_prefix` the events get ids
// "<prefix>-0", "<prefix>-1", ...; otherwise the log assigns them.
inline AppendRequest Req(std::string topic, std::string stream, size_t n,
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
inline AppendResult MustAppend(Log& log, AppendRequest req) {
  auto result = log.Append(std::move(req));
  REQUIRE_MESSAGE(result.ok(), result.status().ToString());
  return std::move(result).value();
}

inline Status StatusOf(const Status& status) { return status; }
template <typename T>
Status StatusOf(const Result<T>& result) {
  return result.status();
}

inline std::string CodeName(ErrorCode code) { return std::string(ErrorCodeName(code)); }

// Checks that `expr` (a Status or Result) failed with `want`.
#define CHECK_FAILS_WITH(expr, want)                                                       \
  do {                                                                                     \
    const ::cairn::Status check_status_ = ::cairn::testing::StatusOf(expr);                \
    CHECK_MESSAGE(::cairn::testing::CodeName(check_status_.code()) ==                      \
                      ::cairn::testing::CodeName(want),                                    \
                  "got: " << (check_status_.ok() ? std::string("ok")                       \
                                                 : check_status_.ToString()));             \
  } while (0)

inline bool Contains(std::string_view haystack, std::string_view needle) {
  return haystack.find(needle) != std::string_view::npos;
}

inline std::string FirstOf(const std::vector<std::string>& messages) {
  return messages.empty() ? std::string() : messages.front();
}

inline std::string Join(const std::vector<Position>& positions) {
  std::string out;
  for (const Position& p : positions) {
    out += p.ToString() + "#" + std::to_string(p.seq.value()) + " ";
  }
  return out;
}

// Everything an append could change in the log as a whole: the last seq and, per topic, the
// partition count and every partition's high-water mark (from both Topics() and HighWaterMark()).
inline std::string Describe(const Log& log) {
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
inline std::string StreamInPartition(const std::string& prefix, uint32_t partitions,
                              PartitionId partition) {
  for (int i = 0;; ++i) {
    std::string stream = prefix + "-" + std::to_string(i);
    if (PartitionForKey(StreamKey(stream), partitions) == partition) return stream;
  }
}

// Reads a whole partition page by page. Returns "" or what went wrong.
inline std::string ReadWholePartition(const Log& log, const std::string& topic, PartitionId partition,
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
inline std::string PartitionProblem(const Log& log, const std::string& topic, uint32_t partitions,
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
inline std::string TopicProblem(const Log& log, const std::string& topic) {
  auto info = log.GetTopic(topic);
  if (!info.ok()) return "GetTopic: " + info.status().ToString();
  for (uint32_t p = 0; p < info->partitions; ++p) {
    std::string problem = PartitionProblem(log, topic, info->partitions, PartitionId(p));
    if (!problem.empty()) return problem;
  }
  return {};
}

// "" when ScanInSeqOrder over every topic yields exactly seqs 1 .. n in order.
inline std::string SeqProblem(const Log& log, uint64_t n) {
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
inline std::string StreamProblem(const Log& log, const std::string& stream, uint64_t count) {
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
inline void SlowWriter(Log& log, std::chrono::milliseconds pause) {
  log.SetWriteFaultForTesting([pause] {
    std::this_thread::sleep_for(pause);
    return Status::Ok();
  });
}

inline Family* WriteFamily(Store& store) {
  auto family = store.OpenFamily("write.test", FamilyKind::kPointLookup);
  REQUIRE_MESSAGE(family.ok(), family.status().ToString());
  return *family;
}

inline std::optional<std::string> GetKey(const Store& store, Family* family, std::string_view key) {
  auto value = store.Get(family, key);
  REQUIRE_MESSAGE(value.ok(), value.status().ToString());
  return *value;
}

}  // namespace cairn::testing
