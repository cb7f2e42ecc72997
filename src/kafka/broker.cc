// See broker.h. Framing: every request is a big-endian int32 size, then that many bytes (api
// key, version, correlation id, client id, body); every response is a size, the correlation id,
// then the body. A size below the header's or above max_request_bytes, or a body its handler
// cannot parse, closes that connection only.
#include "kafka/broker.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <spdlog/spdlog.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <deque>
#include <mutex>

#include "base/bytes.h"
#include "kafka/handlers.h"
#include "kafka/protocol.h"
#include "kafka/wire.h"

namespace cairn::kafka {

// A client connection, owned by the loop thread.
struct Connection {
  int fd = -1;
  bool closed = false;
  std::string peer;
  std::string local_host;     // the address the client connected to
  std::string in;             // bytes read, not yet framed
  std::string out;            // responses framed, not yet written
  size_t out_written = 0;
  std::deque<std::shared_ptr<PendingResponse>> pending;  // in request order
  uint32_t interest = 0;      // the epoll events registered
};

// Work posted to the loop thread; shared with the log's callbacks so a late one is harmless.
struct Broker::Inbox {
  std::mutex mu;
  std::vector<std::function<void()>> work;  // GUARDED_BY(mu)
  int event_fd = -1;
  ~Inbox() {
    if (event_fd >= 0) close(event_fd);
  }
  void Signal() const {
    const uint64_t one = 1;
    [[maybe_unused]] ssize_t n = write(event_fd, &one, sizeof one);
  }
};

namespace {

constexpr size_t kRequestHeaderBytes = 8;  // api key, version, correlation id
constexpr uint64_t kListenTag = ~0ull;      // epoll data of the listening socket
constexpr uint64_t kInboxTag = ~0ull - 1;
constexpr uint64_t kLogTag = ~0ull - 2;


void DrainEventFd(int fd) {
  uint64_t value;
  [[maybe_unused]] ssize_t n = read(fd, &value, sizeof value);
}

std::string PeerName(const sockaddr_storage& addr) {
  char host[INET6_ADDRSTRLEN] = "?";
  int port = 0;
  if (addr.ss_family == AF_INET) {
    const auto* a = reinterpret_cast<const sockaddr_in*>(&addr);
    inet_ntop(AF_INET, &a->sin_addr, host, sizeof host);
    port = ntohs(a->sin_port);
  } else if (addr.ss_family == AF_INET6) {
    const auto* a = reinterpret_cast<const sockaddr_in6*>(&addr);
    inet_ntop(AF_INET6, &a->sin6_addr, host, sizeof host);
    port = ntohs(a->sin6_port);
  }
  return std::string(host) + ":" + std::to_string(port);
}

}  // namespace

Broker::Broker(Db* db, KafkaOptions options)
    : db_(db), options_(std::move(options)), inbox_(std::make_shared<Inbox>()) {}

Broker::~Broker() {
  Stop();
  for (int fd : {listen_fd_, epoll_fd_, log_event_fd_}) {
    if (fd >= 0) close(fd);
  }
}

Status Broker::Bind() {
  Store* store = db_->log().store();
  CAIRN_ASSIGN_OR_RETURN(Family* family, store->OpenFamily("kafka", FamilyKind::kOrdered));
  CAIRN_ASSIGN_OR_RETURN(ProducerStates producers, ProducerStates::Load(store, family));
  producers_.emplace(std::move(producers));
  groups_.emplace(store, family, options_.group_initial_delay,
                  [this](WriteBatch batch) { WriteDurably(std::move(batch), [](Status) {}); });
  CAIRN_RETURN_IF_ERROR(groups_->Load());
  next_group_tick_ = std::chrono::steady_clock::now();  // restored members' sessions run
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE;
  addrinfo* found = nullptr;
  const std::string port = std::to_string(options_.port);
  if (getaddrinfo(options_.host.c_str(), port.c_str(), &hints, &found) != 0 || !found) {
    return Status::InvalidArgument("--kafka host " + options_.host + " does not resolve");
  }
  std::unique_ptr<addrinfo, decltype(&freeaddrinfo)> owned(found, &freeaddrinfo);
  listen_fd_ = socket(found->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (listen_fd_ < 0) return Status::IOError(std::string("socket: ") + strerror(errno));
  const int yes = 1;
  setsockopt(listen_fd_, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof yes);
  if (bind(listen_fd_, found->ai_addr, found->ai_addrlen) != 0) {
    const int err = errno;
    if (err == EADDRINUSE) return Status::Busy("Kafka address " + options_.host + ":" + port + " is in use");
    return Status::IOError("bind " + options_.host + ":" + port + ": " + strerror(err));
  }
  if (listen(listen_fd_, 128) != 0) return Status::IOError(std::string("listen: ") + strerror(errno));
  sockaddr_storage bound{};
  socklen_t len = sizeof bound;
  getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&bound), &len);
  port_ = bound.ss_family == AF_INET6 ? ntohs(reinterpret_cast<sockaddr_in6*>(&bound)->sin6_port)
                                      : ntohs(reinterpret_cast<sockaddr_in*>(&bound)->sin_port);
  epoll_fd_ = epoll_create1(EPOLL_CLOEXEC);
  inbox_->event_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  log_event_fd_ = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (epoll_fd_ < 0 || inbox_->event_fd < 0 || log_event_fd_ < 0) {
    return Status::IOError(std::string("epoll/eventfd: ") + strerror(errno));
  }
  for (auto [fd, tag] : {std::pair{listen_fd_, kListenTag}, std::pair{inbox_->event_fd, kInboxTag},
                         std::pair{log_event_fd_, kLogTag}}) {
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.u64 = tag;
    epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, fd, &ev);
  }
  return Status::Ok();
}

void Broker::Start() {
  loop_thread_ = std::thread([this] { RunLoop(); });
  pthread_setname_np(loop_thread_.native_handle(), "cairn-kafka");
  watcher_thread_ = std::thread([this] { RunLogWatcher(); });
  pthread_setname_np(watcher_thread_.native_handle(), "cairn-kafka-wait");
  store_thread_ = std::thread([this] { RunStoreWriter(); });
  pthread_setname_np(store_thread_.native_handle(), "cairn-kafka-sync");
}

void Broker::Stop() {
  if (stopping_.exchange(true)) return;
  if (inbox_->event_fd >= 0) inbox_->Signal();
  if (loop_thread_.joinable()) loop_thread_.join();
  if (watcher_thread_.joinable()) watcher_thread_.join();
  {
    std::lock_guard lock(store_mu_);
    store_stop_ = true;
  }
  store_cv_.notify_one();
  if (store_thread_.joinable()) store_thread_.join();  // what was queued is written
  std::vector<std::shared_ptr<Connection>> open;
  for (auto& [fd, c] : connections_) open.push_back(c);
  for (auto& c : open) Close(*c, "the server is stopping");
  parked_.clear();
}

Broker::Poster Broker::poster() const {
  Poster p;
  p.inbox_ = inbox_;
  return p;
}

void Broker::Poster::operator()(std::function<void()> fn) const {
  {
    std::lock_guard lock(inbox_->mu);
    inbox_->work.push_back(std::move(fn));
  }
  inbox_->Signal();
}

// Appends wake parked Fetches: any append (Kafka, HTTP or a projection's) moves LastSeq.
void Broker::RunLogWatcher() {
  Log& log = db_->log();
  while (!stopping_.load()) {
    const Seq last = log.LastSeq();
    if (log.WaitForSeq(Seq(last.value() + 1), std::chrono::milliseconds(100))) {
      const uint64_t one = 1;
      [[maybe_unused]] ssize_t n = write(log_event_fd_, &one, sizeof one);
    }
  }
}

void Broker::WriteDurably(WriteBatch batch, std::function<void(Status)> done) {
  {
    std::lock_guard lock(store_mu_);
    store_queue_.emplace_back(std::move(batch), std::move(done));
  }
  store_cv_.notify_one();
}

void Broker::RunStoreWriter() {
  Store* store = db_->log().store();
  const Poster post = poster();
  for (;;) {
    std::deque<std::pair<WriteBatch, std::function<void(Status)>>> work;
    {
      std::unique_lock lock(store_mu_);
      store_cv_.wait(lock, [&] { return !store_queue_.empty() || store_stop_; });
      if (store_queue_.empty()) return;
      work.swap(store_queue_);
    }
    WriteBatch combined;
    for (auto& [batch, done] : work) combined.Append(batch);
    const Status s = store->Write(combined, /*durable=*/true);
    for (auto& [batch, done] : work) post([done = std::move(done), s] { done(s); });
  }
}

void Broker::RunLoop() {
  std::vector<epoll_event> events(256);
  while (!stopping_.load()) {
    const int n = epoll_wait(epoll_fd_, events.data(), int(events.size()), NextTimeoutMs());
    bool log_moved = false;
    for (int i = 0; i < n; ++i) {
      const uint64_t tag = events[i].data.u64;
      if (tag == kListenTag) {
        Accept();
      } else if (tag == kInboxTag) {
        DrainEventFd(inbox_->event_fd);
      } else if (tag == kLogTag) {
        DrainEventFd(log_event_fd_);
        log_moved = true;
      } else {
        auto it = connections_.find(int(tag));
        if (it == connections_.end()) continue;
        std::shared_ptr<Connection> c = it->second;
        if (events[i].events & (EPOLLERR | EPOLLHUP)) {
          Close(*c, "the peer closed the connection");
          continue;
        }
        if (events[i].events & EPOLLOUT) Flush(*c);
        if (!c->closed && (events[i].events & EPOLLIN)) OnReadable(c);
      }
    }
    DrainInbox();
    RetryParked(log_moved);
    if (next_group_tick_ && std::chrono::steady_clock::now() >= *next_group_tick_) {
      next_group_tick_ = groups_->Tick(std::chrono::steady_clock::now());
    }
    std::vector<std::weak_ptr<Connection>> resume;
    resume.swap(to_resume_);
    for (auto& weak : resume) {
      if (auto c = weak.lock(); c && !c->closed) ProcessFrames(c);
    }
  }
}

void Broker::Accept() {
  for (;;) {
    sockaddr_storage addr{};
    socklen_t len = sizeof addr;
    const int fd = accept4(listen_fd_, reinterpret_cast<sockaddr*>(&addr), &len,
                           SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) return;  // EAGAIN, or an error that the next accept will show again
    if (connections_.size() >= options_.max_connections) {
      spdlog::warn("kafka: refused {}: {} connections open (--kafka-max-connections)", PeerName(addr),
                   connections_.size());
      close(fd);
      continue;
    }
    const int yes = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &yes, sizeof yes);
    sockaddr_storage local{};
    socklen_t local_len = sizeof local;
    getsockname(fd, reinterpret_cast<sockaddr*>(&local), &local_len);
    const std::string local_name = PeerName(local);
    Adopt(fd, PeerName(addr), local_name.substr(0, local_name.rfind(':')));
  }
}

void Broker::Adopt(int fd, std::string peer, std::string local_host) {
  auto c = std::make_shared<Connection>();
  c->fd = fd;
  c->peer = std::move(peer);
  c->local_host = std::move(local_host);
  connections_[fd] = c;
  epoll_event ev{};
  ev.events = c->interest = EPOLLIN;
  ev.data.u64 = uint64_t(fd);
  epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, fd, &ev);
}

Result<int> Broker::ConnectForTesting() {
  int fds[2];
  if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) != 0) {
    return Status::IOError(std::string("socketpair: ") + strerror(errno));
  }
  fcntl(fds[0], F_SETFL, fcntl(fds[0], F_GETFL) | O_NONBLOCK);
  poster()([this, fd = fds[0]] { Adopt(fd, "socketpair", options_.host); });
  return fds[1];
}

void Broker::OnReadable(const std::shared_ptr<Connection>& c) {
  char buf[64 * 1024];
  for (;;) {
    const ssize_t n = read(c->fd, buf, sizeof buf);
    if (n > 0) {
      c->in.append(buf, size_t(n));
      if (c->in.size() > options_.max_request_bytes + 4) break;  // frame what we have first
      continue;
    }
    if (n == 0) {
      ProcessFrames(c);
      if (!c->closed) Close(*c, "the peer closed the connection");
      return;
    }
    if (errno == EINTR) continue;
    if (errno == EAGAIN || errno == EWOULDBLOCK) break;
    Close(*c, strerror(errno));
    return;
  }
  ProcessFrames(c);
}

void Broker::ProcessFrames(const std::shared_ptr<Connection>& c) {
  size_t at = 0;
  while (!c->closed && c->pending.size() < options_.max_in_flight && c->in.size() - at >= 4) {
    const int32_t size = int32_t(bytes::GetBigEndian32(std::string_view(c->in).substr(at)));
    if (size < int32_t(kRequestHeaderBytes) + 2 || size_t(size) > options_.max_request_bytes) {
      Close(*c, "a request frame of " + std::to_string(size) + " bytes (limit " +
                    std::to_string(options_.max_request_bytes) + ")");
      return;
    }
    if (c->in.size() - at < 4 + size_t(size)) break;
    const std::string frame = c->in.substr(at + 4, size_t(size));
    at += 4 + size_t(size);
    if (!HandleFrame(c, frame)) {
      if (!c->closed) Close(*c, "a malformed request");
      return;
    }
  }
  if (c->closed) return;
  c->in.erase(0, at);
  UpdateInterest(*c);
}

bool Broker::HandleFrame(const std::shared_ptr<Connection>& c, std::string_view frame) {
  WireReader r(frame);
  Request req;
  req.api_key = r.Int16();
  req.api_version = r.Int16();
  req.correlation_id = r.Int32();
  req.client_id = r.NullableString();
  req.local_host = c->local_host;
  if (!r.ok()) return false;
  auto slot = std::make_shared<PendingResponse>();
  slot->correlation_id = req.correlation_id;
  c->pending.push_back(slot);
  Reply reply{c, slot};
  const std::optional<ApiRange> api = FindApi(req.api_key);
  if (!api || req.api_version < api->min_version || req.api_version > api->max_version) {
    spdlog::debug("kafka: {} sent api key {} v{}, which Cairn does not speak", c->peer, req.api_key,
                  req.api_version);
    Complete(reply, UnsupportedVersionBody(req.api_key));
    return true;
  }
  if (IsFlexible(req.api_key, req.api_version)) r.SkipTaggedFields();
  if (!r.ok()) return false;
  req.body = r.rest();
  if (req.api_key == int16_t(ApiKey::kJoinGroup) && !next_group_tick_) {
    next_group_tick_ = std::chrono::steady_clock::now();  // groups' timers run while they have members
  }
  return Dispatch(*this, req, reply);
}

void Broker::Complete(const Reply& reply, std::string response) {
  reply.slot->response = std::move(response);
  reply.slot->ready = true;
  if (auto c = reply.connection.lock(); c && !c->closed) Flush(*c);
}

void Broker::CompleteSilently(const Reply& reply) {
  reply.slot->send = false;
  Complete(reply, {});
}

void Broker::Flush(Connection& c) {
  const bool was_full = c.pending.size() >= options_.max_in_flight;
  while (!c.pending.empty() && c.pending.front()->ready) {
    PendingResponse& r = *c.pending.front();
    if (r.send) {
      std::string header;
      bytes::PutBigEndian32(&header, uint32_t(r.response.size() - 4));
      bytes::PutBigEndian32(&header, uint32_t(r.correlation_id));
      r.response.replace(0, ResponseWriter::kHeaderBytes, header);
      if (c.out.empty()) {
        c.out = std::move(r.response);
      } else {
        c.out.append(r.response);
      }
    }
    c.pending.pop_front();
  }
  while (c.out_written < c.out.size()) {
    const ssize_t n = send(c.fd, c.out.data() + c.out_written, c.out.size() - c.out_written,
                           MSG_NOSIGNAL);
    if (n > 0) {
      c.out_written += size_t(n);
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) break;
    Close(c, n < 0 ? strerror(errno) : "send returned 0");
    return;
  }
  if (c.out_written == c.out.size()) {
    c.out.clear();
    c.out_written = 0;
  }
  if (was_full && c.pending.size() < options_.max_in_flight && !c.in.empty()) {
    if (auto it = connections_.find(c.fd); it != connections_.end()) to_resume_.push_back(it->second);
  }
  UpdateInterest(c);
}

void Broker::UpdateInterest(Connection& c) {
  uint32_t want = 0;
  if (c.pending.size() < options_.max_in_flight) want |= EPOLLIN;
  if (c.out_written < c.out.size()) want |= EPOLLOUT;
  if (want == c.interest) return;
  epoll_event ev{};
  ev.events = want;
  ev.data.u64 = uint64_t(c.fd);
  epoll_ctl(epoll_fd_, EPOLL_CTL_MOD, c.fd, &ev);
  c.interest = want;
}

void Broker::Close(Connection& c, std::string_view why) {
  if (c.closed) return;
  c.closed = true;
  spdlog::debug("kafka: closing {}: {}", c.peer, why);
  epoll_ctl(epoll_fd_, EPOLL_CTL_DEL, c.fd, nullptr);
  close(c.fd);
  connections_.erase(c.fd);  // may destroy c: nothing below touches it
}

void Broker::DrainInbox() {
  std::vector<std::function<void()>> work;
  {
    std::lock_guard lock(inbox_->mu);
    work.swap(inbox_->work);
  }
  for (auto& fn : work) fn();
}

void Broker::Park(const Reply& reply, std::chrono::steady_clock::time_point deadline,
                  std::function<bool(bool expired)> retry) {
  parked_.push_back(Parked{reply, deadline, std::move(retry)});
}

void Broker::RetryParked(bool log_moved) {
  if (parked_.empty()) return;
  const auto now = std::chrono::steady_clock::now();
  std::vector<Parked> still;
  std::vector<Parked> current;
  current.swap(parked_);
  for (Parked& p : current) {
    if (p.reply.connection.expired()) continue;
    const bool expired = now >= p.deadline;
    if ((expired || log_moved) && p.retry(expired)) continue;
    still.push_back(std::move(p));
  }
  for (Parked& p : parked_) still.push_back(std::move(p));  // parked by the retries themselves
  parked_.swap(still);
}

int Broker::NextTimeoutMs() const {
  if (parked_.empty() && !next_group_tick_) return 1000;
  auto next = std::chrono::steady_clock::now() + std::chrono::seconds(1);
  for (const Parked& p : parked_) next = std::min(next, p.deadline);
  if (next_group_tick_) next = std::min(next, *next_group_tick_);
  const auto wait = std::chrono::ceil<std::chrono::milliseconds>(next - std::chrono::steady_clock::now());
  return int(std::clamp<int64_t>(wait.count(), 0, 1000));
}

}  // namespace cairn::kafka
