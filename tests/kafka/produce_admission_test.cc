// A Produce request against a log whose async appends are nearly all taken: a partition's
// batch is admitted whole or refused whole (Log::AppendAsyncAll), so a client's retry of a
// refused batch stores each record once. In-process: a Broker on a Db with a small
// LogOptions::max_pending_async, the log's writer held by its fault hook, and a raw socket.
#include <doctest/doctest.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "cairn/db.h"
#include "kafka/broker.h"
#include "kafka/record_batch.h"
#include "kafka/wire.h"
#include "temp_dir.h"

namespace cairn::kafka {
namespace {

using namespace std::chrono_literals;

constexpr char kTopic[] = "inventory-events";
constexpr size_t kMaxPending = 8;

// A data dir without domains, its Kafka listener, and a gate that holds the log's writer.
struct Listener {
  Listener() {
    DbOptions options;
    options.store.sync = SyncMode::kNone;
    options.log.max_pending_async = kMaxPending;
    options.domains = {};
    Result<std::unique_ptr<Db>> opened = Db::Open(dir.path() + "/data", options);
    REQUIRE_MESSAGE(opened.ok(), opened.status().ToString());
    db = std::move(*opened);
    REQUIRE(db->log().CreateTopic(kTopic, 1).ok());
    broker = std::make_unique<Broker>(db.get(), KafkaOptions{.port = 0});
    const Status bound = broker->Bind();
    REQUIRE_MESSAGE(bound.ok(), bound.ToString());
    broker->Start();
  }
  ~Listener() {
    if (holding) Release();  // a failed check must not leave the log's writer stuck
    broker->Stop();
    db->log().SetWriteFaultForTesting(nullptr);
  }
  // Holds every group write until Release; appends queue up behind it.
  void HoldWriter() {
    gate.lock();
    holding = true;
    db->log().SetWriteFaultForTesting([this] {
      std::lock_guard pass(gate);
      return Status::Ok();
    });
  }
  void Release() {
    holding = false;
    gate.unlock();
  }

  testing::TempDir dir;
  std::unique_ptr<Db> db;
  std::unique_ptr<Broker> broker;
  std::mutex gate;
  bool holding = false;
};

// A connected client socket whose reads give up after 10 s.
int Connect(int port) {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  REQUIRE(fd >= 0);
  timeval timeout{10, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(uint16_t(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  REQUIRE(connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
  return fd;
}

// A Produce v7 request (acks=all) of one batch of `keys.size()` keyed records to partition 0.
std::string ProduceRequest(int32_t correlation_id, const std::vector<std::string>& keys) {
  RecordBatch batch;
  batch.base_timestamp = 1'700'000'000'000;
  for (size_t i = 0; i < keys.size(); ++i) {
    batch.records.push_back(
        {.offset_delta = int32_t(i), .key = keys[i], .value = "{\"n\":" + std::to_string(i) + "}"});
  }
  std::string records;
  EncodeRecordBatch(batch, &records);
  WireWriter w;
  w.Int32(0);  // size, patched below
  w.Int16(0);  // Produce
  w.Int16(7);
  w.Int32(correlation_id);
  w.String("admission-test");
  w.NullableString(std::nullopt);  // transactional_id
  w.Int16(-1);                     // acks=all
  w.Int32(30'000);
  w.ArrayLength(1);
  w.String(kTopic);
  w.ArrayLength(1);
  w.Int32(0);
  w.Bytes(records);
  w.PatchInt32(0, int32_t(w.size() - 4));
  return w.Take();
}

struct ProduceAnswer {
  int16_t error = -1;
  int64_t base_offset = -1;
};

// Sends `request` and reads the Produce v7 response for its one partition.
ProduceAnswer Produce(int fd, const std::string& request) {
  REQUIRE(send(fd, request.data(), request.size(), MSG_NOSIGNAL) == ssize_t(request.size()));
  auto read_exactly = [fd](size_t n) {
    std::string out(n, '\0');
    for (size_t got = 0; got < n;) {
      const ssize_t r = recv(fd, out.data() + got, n - got, 0);
      REQUIRE_MESSAGE(r > 0, "no Produce response within 10 s");
      got += size_t(r);
    }
    return out;
  };
  const std::string size = read_exactly(4);
  const std::string frame = read_exactly(size_t(WireReader(size).Int32()));
  WireReader r(frame);
  r.Int32();          // correlation id
  r.ArrayLength();    // topics: one
  r.String();
  r.ArrayLength();    // partitions: one
  r.Int32();
  ProduceAnswer answer;
  answer.error = r.Int16();
  answer.base_offset = r.Int64();
  REQUIRE(r.ok());
  return answer;
}

std::vector<std::string> StreamsOfPartition(Log& log) {
  Result<std::vector<Event>> events = log.ReadPartition(kTopic, PartitionId(0), Offset(0), 100);
  REQUIRE(events.ok());
  std::vector<std::string> streams;
  for (const Event& e : *events) streams.push_back(e.stream);
  return streams;
}

TEST_CASE("a batch the log cannot take whole is refused whole with a retriable error, and its retry is stored once") {
  Listener l;
  l.HoldWriter();
  // Five appends in flight of the eight allowed: a five-stream batch fits only in part.
  std::atomic<int> held{0};
  for (int i = 0; i < 5; ++i) {
    AppendRequest hold;
    hold.topic = "holds";
    hold.stream = "hold-" + std::to_string(i);
    hold.events.push_back({.type = "HELD", .data = "{}"});
    REQUIRE(l.db->log().AppendAsync(std::move(hold), [&](Result<AppendResult> r) {
      CHECK(r.ok());
      ++held;
    }).ok());
  }
  const std::vector<std::string> keys = {"k0", "k1", "k2", "k3", "k4"};
  const int fd = Connect(l.broker->port());
  const ProduceAnswer refused = Produce(fd, ProduceRequest(1, keys));
  CHECK(refused.error == int16_t(KafkaError::kRequestTimedOut));  // retriable: clients send it again
  CHECK(refused.base_offset == -1);

  l.Release();
  for (auto deadline = std::chrono::steady_clock::now() + 10s;
       held < 5 && std::chrono::steady_clock::now() < deadline;) {
    std::this_thread::sleep_for(5ms);
  }
  REQUIRE(held == 5);
  CHECK(StreamsOfPartition(l.db->log()).empty());  // not one record of the refused batch

  const ProduceAnswer retried = Produce(fd, ProduceRequest(2, keys));
  CHECK(retried.error == 0);
  CHECK(retried.base_offset == 0);
  CHECK(StreamsOfPartition(l.db->log()) ==
        std::vector<std::string>{"inventory-k0", "inventory-k1", "inventory-k2", "inventory-k3",
                                 "inventory-k4"});
  close(fd);
}

}  // namespace
}  // namespace cairn::kafka
