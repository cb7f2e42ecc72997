// Fuzz target: the Kafka listener's request path end to end in one process: a connection's
// bytes framed by their size prefix (and its limit), each request header (api key, version,
// correlation id, client id, the flexible header's tagged fields), the check against the
// advertised ranges, and every handler's body decoder and action (src/kafka, over a real data
// dir with the order domain). The bytes reach the broker's epoll loop through a socketpair
// (Broker::ConnectForTesting), as a TCP client's would, and the input ends with the client
// closing its side.
//
// Input: the raw bytes a client sends on one connection (one or more size-prefixed requests).
// The seeds are connections captured from kcat 1.7.1 (librdkafka 2.0.2) and kafkajs 2.2.4 against
// `cairn serve --kafka` through a recording proxy: metadata, plain, idempotent and compressed
// produces, consumes from the beginning and the tail, offset queries, and both clients' group
// members (coordinator connection and fetch connection); between them every API Cairn speaks.
//
// Properties: no crash and no undefined behaviour; the listener answers with well-formed
// frames, each carrying the correlation id of a request sent, in the order they were sent
// (responses still pending when the client's side closes are dropped, and acks=0 produces get
// none, so the answers are a subsequence of the requests).
//
// The data dir lives in /dev/shm when there is one (else $TMPDIR, default /tmp) as
// cairn-fuzz-kafka-XXXXXX; it is replaced by a fresh one every kInputsPerDir inputs, so that it
// stays small, and removed at exit.
#include <spdlog/spdlog.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "base/bytes.h"
#include "cairn/db.h"
#include "fuzz_fixture.h"
#include "fuzz_util.h"
#include "kafka/broker.h"

namespace cairn::kafka {
namespace {

constexpr size_t kInputsPerDir = 5000;
constexpr size_t kMaxRequestBytes = 64u << 10;  // small, so the size limit is within reach

// A data dir with the order domain and a started listener on it.
class Fixture {
 public:
  Fixture() {
    DbOptions options = fuzz::FixtureDbOptions();
    options.log.default_partitions = 3;
    Result<std::unique_ptr<Db>> db = Db::Open(dir_.path() + "/data", options);
    FUZZ_CHECK(db.ok(), "the data dir opens");
    db_ = std::move(*db);
    KafkaOptions kafka;
    kafka.port = 0;
    kafka.max_request_bytes = kMaxRequestBytes;
    // Every frame of an input is read and dispatched before its end closes the connection.
    kafka.max_in_flight = 1u << 20;
    kafka.max_fetch_wait = std::chrono::milliseconds(5);
    kafka.group_initial_delay = std::chrono::milliseconds(1);
    broker_ = std::make_unique<Broker>(db_.get(), kafka);
    FUZZ_CHECK(broker_->Bind().ok(), "the listener binds");
    broker_->Start();
  }
  ~Fixture() {
    broker_->Stop();
    broker_.reset();
    db_.reset();
  }

  Broker& broker() { return *broker_; }

 private:
  fuzz::FixtureDir dir_{"kafka"};
  std::unique_ptr<Db> db_;
  std::unique_ptr<Broker> broker_;
};

// The correlation ids of the frames in `bytes` the listener will dispatch, framed by its rules:
// a size prefix, at least a request header, at most kMaxRequestBytes.
std::vector<int32_t> RequestIds(std::string_view bytes) {
  std::vector<int32_t> ids;
  while (bytes.size() >= 4) {
    const int32_t size = int32_t(bytes::GetBigEndian32(bytes));
    if (size < 10 || size_t(size) > kMaxRequestBytes || bytes.size() - 4 < size_t(size)) break;
    ids.push_back(int32_t(bytes::GetBigEndian32(bytes.substr(8))));
    bytes.remove_prefix(4 + size_t(size));
  }
  return ids;
}

// Sends `input` on a fresh connection, closes the sending side and returns what came back
// until the listener closed it.
std::string Exchange(Broker& broker, std::string_view input) {
  Result<int> fd = broker.ConnectForTesting();
  FUZZ_CHECK(fd.ok(), "a test connection opens");
  for (size_t at = 0; at < input.size();) {
    const ssize_t n = send(*fd, input.data() + at, input.size() - at, MSG_NOSIGNAL);
    if (n <= 0) break;  // the listener closed it: a malformed frame
    at += size_t(n);
  }
  shutdown(*fd, SHUT_WR);
  std::string out;
  char buf[64 * 1024];
  for (;;) {
    const ssize_t n = recv(*fd, buf, sizeof buf, 0);
    if (n <= 0) break;
    out.append(buf, size_t(n));
  }
  close(*fd);
  return out;
}

}  // namespace
}  // namespace cairn::kafka

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  spdlog::set_level(spdlog::level::off);  // each refused request logs a line
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace cairn::kafka;
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  Fixture& fixture = cairn::fuzz::FixtureForNextInput<Fixture, kInputsPerDir>();
  const std::string answered = Exchange(fixture.broker(), input);
  std::string_view answers = answered;
  const std::vector<int32_t> requests = RequestIds(input);
  size_t next = 0;
  while (!answers.empty()) {
    FUZZ_CHECK(answers.size() >= 8, "a response frame holds a size and a correlation id");
    const uint32_t frame = cairn::bytes::GetBigEndian32(answers);
    FUZZ_CHECK(frame >= 4 && answers.size() - 4 >= frame, "a response frame is whole");
    const int32_t id = int32_t(cairn::bytes::GetBigEndian32(answers.substr(4)));
    while (next < requests.size() && requests[next] != id) ++next;
    FUZZ_CHECK(next < requests.size(), "each response answers a request, in request order");
    ++next;
    answers.remove_prefix(4 + frame);
  }
  return 0;
}
