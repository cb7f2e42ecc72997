// Cairn's Kafka listener: one epoll event loop thread that accepts connections, frames
// requests, dispatches them to the handlers (handlers.h) and writes each connection's responses
// in request order, however late each is completed (Produce after its appends are durable,
// Fetch when data arrives or its wait ends). `cairn serve --kafka HOST:PORT` runs one.
//
// Threads: the loop thread owns every connection and all handler state; Log::AppendAsync
// callbacks and the log watcher (which wakes parked Fetches on appends) reach it only through
// Post() and an eventfd.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <unordered_map>
#include <vector>

#include "cairn/db.h"
#include "cairn/status.h"
#include "kafka/groups.h"
#include "kafka/producer_state.h"

namespace cairn::kafka {

struct KafkaOptions {
  // Address to listen on. Default: 127.0.0.1:9092 (port 0: any free port). The address is
  // also what Metadata advertises, so clients reconnect to it.
  std::string host = "127.0.0.1";
  int port = 9092;
  // Open connections; one more is accepted and closed at once. Default: 256.
  size_t max_connections = 256;
  // Largest request frame, in bytes; a larger size prefix closes the connection. Default: 8 MiB.
  size_t max_request_bytes = 8u << 20;
  // Requests of one connection read but not yet answered; at the limit the listener stops
  // reading that connection until a response goes out (back-pressure, not an error).
  // Default: 64.
  size_t max_in_flight = 64;
  // Longest a Fetch may be held, whatever max_wait_ms the client asks. Default: 30 s.
  std::chrono::milliseconds max_fetch_wait{30'000};
  // Largest decompressed size of one produced batch. Default: 64 MiB.
  size_t max_decompressed_bytes = 64u << 20;
  // How long a new consumer group waits for more members before its first generation
  // (Kafka's group.initial.rebalance.delay.ms). Default: 3 s.
  std::chrono::milliseconds group_initial_delay{3000};
};

// One request as framed: its header, and the body the handler parses.
struct Request {
  int16_t api_key = 0;
  int16_t api_version = 0;
  int32_t correlation_id = 0;
  std::optional<std::string> client_id;
  std::string_view body;  // valid only while the handler runs
  std::string local_host;  // the address the client reached, which Metadata advertises
};

// A response in a connection's queue; sent once it and all before it are ready.
struct PendingResponse {
  int32_t correlation_id = 0;
  bool ready = false;
  bool send = true;  // false: a Produce with acks=0, which gets no response
  std::string response;  // from a ResponseWriter
};

struct Connection;
// Where a handler's answer goes. Copyable; outlives its connection harmlessly.
struct Reply {
  std::weak_ptr<Connection> connection;
  std::shared_ptr<PendingResponse> slot;
};

class Broker {
 public:
  // `db` must outlive the broker and be writable.
  Broker(Db* db, KafkaOptions options);
  ~Broker();
  Broker(const Broker&) = delete;
  Broker& operator=(const Broker&) = delete;

  // Loads the listener's state (the `kafka` family: producer ids and sequences, committed
  // offsets), then binds
  // and listens. Errors: kInvalidArgument (a host that does not resolve), kBusy (the address
  // is taken), kIOError.
  Status Bind();
  // The bound port (useful with port 0). REQUIRES: Bind() succeeded.
  int port() const { return port_; }
  // Starts the loop and watcher threads. REQUIRES: Bind() succeeded.
  void Start();
  // Closes every connection and stops the threads (responses not yet sent are dropped; appends
  // already queued still complete in the log). Idempotent.
  void Stop();

  // Test and fuzzing seam: a connection to the listener through a socketpair, bypassing
  // accept: returns the client's end (blocking), whose bytes the loop frames and answers as a
  // TCP client's. The caller closes it. REQUIRES: Start() ran.
  Result<int> ConnectForTesting();

  // Every consumer group's committed offsets (read from the store: thread-safe).
  std::vector<GroupCoordinator::GroupOffset> CommittedOffsets() const { return groups_->AllCommitted(); }

  // ---- For handlers, on the loop thread ----
  Db& db() const { return *db_; }
  Log& log() const { return db_->log(); }
  const KafkaOptions& options() const { return options_; }
  ProducerStates& producers() { return *producers_; }
  GroupCoordinator& groups() { return *groups_; }
  // Fills the reply's slot and sends what is ready of its connection. `response` was built
  // with a ResponseWriter (its first 8 bytes are left for the frame header).
  void Complete(const Reply& reply, std::string response);
  // Marks the reply done with nothing to send (acks=0).
  void CompleteSilently(const Reply& reply);
  // Writes `batch` durably (under --sync) on the broker's store thread, so the loop never
  // waits for an fsync, then calls `done` on the loop thread. Writes queued together share
  // one WriteBatch; they are applied in call order.
  void WriteDurably(WriteBatch batch, std::function<void(Status)> done);
  // Calls `retry(false)` after appends to the log and `retry(true)` once `deadline` passes,
  // until it returns true (it must when passed true). Dropped when the connection closes.
  void Park(const Reply& reply, std::chrono::steady_clock::time_point deadline,
            std::function<bool(bool expired)> retry);

  // ---- From any thread ----
  struct Inbox;
  // Runs work on the loop thread soon, from any thread; a copy may outlive the broker (an
  // AppendAsync callback holds one), and work posted after the loop stopped is dropped.
  class Poster {
   public:
    void operator()(std::function<void()> fn) const;

   private:
    friend class Broker;
    std::shared_ptr<Inbox> inbox_;
  };
  Poster poster() const;

 private:
  struct Parked {
    Reply reply;
    std::chrono::steady_clock::time_point deadline;
    std::function<bool(bool)> retry;
  };

  void RunLoop();
  void RunLogWatcher();
  void RunStoreWriter();
  void Accept();
  // Registers a connected, non-blocking `fd` as a connection (loop thread).
  void Adopt(int fd, std::string peer, std::string local_host);
  void OnReadable(const std::shared_ptr<Connection>& c);
  void ProcessFrames(const std::shared_ptr<Connection>& c);
  bool HandleFrame(const std::shared_ptr<Connection>& c, std::string_view frame);
  void Flush(Connection& c);
  void UpdateInterest(Connection& c);
  void Close(Connection& c, std::string_view why);
  void DrainInbox();
  void RetryParked(bool log_moved);
  int NextTimeoutMs() const;

  Db* db_;
  KafkaOptions options_;
  std::optional<ProducerStates> producers_;
  std::optional<GroupCoordinator> groups_;
  std::optional<std::chrono::steady_clock::time_point> next_group_tick_;
  int listen_fd_ = -1;
  int epoll_fd_ = -1;
  int log_event_fd_ = -1;  // the watcher signals appends here
  int port_ = 0;
  std::shared_ptr<Inbox> inbox_;
  std::atomic<bool> stopping_{false};
  std::thread loop_thread_;
  std::thread watcher_thread_;
  std::thread store_thread_;
  // The store thread's queue (WriteDurably).
  std::mutex store_mu_;
  std::condition_variable store_cv_;
  std::deque<std::pair<WriteBatch, std::function<void(Status)>>> store_queue_;  // GUARDED_BY(store_mu_)
  bool store_stop_ = false;                                                     // GUARDED_BY(store_mu_)
  // Loop-thread state.
  std::unordered_map<int, std::shared_ptr<Connection>> connections_;
  std::vector<Parked> parked_;
  std::vector<std::weak_ptr<Connection>> to_resume_;
};

}  // namespace cairn::kafka
