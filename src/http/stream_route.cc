// GET /api/stream: the live event stream as Server-Sent Events. Each event is
//   id: <topic/partition/offset>\nevent: <type>\ndata: <raw event JSON>\n\n
// from `now` (default), `beginning`, or after the position in Last-Event-ID, so a client that
// reconnects resumes without loss or duplicates. A comment line is sent when idle (heartbeat).
// Each subscriber holds a worker thread: the number is capped (ServerOptions::max_streams).
#include <sstream>

#include "base/parse.h"
#include "http/api.h"
#include "log/event_json.h"

namespace cairn::http {

namespace {

constexpr size_t kEventsPerChunk = 256;
constexpr auto kWaitSlice = std::chrono::milliseconds(250);

std::vector<std::string> SplitTopics(const std::string& text) {
  std::vector<std::string> topics;
  std::stringstream in(text);
  std::string topic;
  while (std::getline(in, topic, ',')) {
    if (!topic.empty()) topics.push_back(topic);
  }
  return topics;
}

// The seq the stream starts after, from Last-Event-ID or ?from=.
Result<Seq> StartingPoint(const Api& api, const httplib::Request& req) {
  const std::string last_id = req.get_header_value("Last-Event-ID");
  if (!last_id.empty()) {
    CAIRN_ASSIGN_OR_RETURN(Position position, ParsePosition(last_id, "Last-Event-ID"));
    Result<Event> event =
        api.db().log().ReadAt(position.topic, position.partition, position.offset);
    if (!event.ok()) {
      return Status::InvalidArgument("Last-Event-ID names no event in the log", "Last-Event-ID");
    }
    return event->seq;
  }
  const std::string from = req.has_param("from") ? req.get_param_value("from") : "now";
  if (from == "now") return api.db().log().LastSeq();
  if (from == "beginning") return Seq(0);
  return Status::InvalidArgument("from must be now or beginning", "from");
}

// Decrements the subscriber count when the stream ends, however it ends.
struct StreamSlot {
  Api* api;
  ~StreamSlot() { api->metrics.SetStreamSubscribers(--api->open_streams); }
};

struct StreamState {
  std::unique_ptr<LogCursor> cursor;
  std::shared_ptr<StreamSlot> slot;
  std::chrono::steady_clock::time_point last_write;
};

// kNotFound naming the first of `topics` the log does not have.
Status CheckTopicsExist(const Log& log, const std::vector<std::string>& topics) {
  for (const std::string& topic : topics) {
    if (!log.GetTopic(topic).ok()) return Status::NotFound("topic " + topic + " does not exist");
  }
  return Status::Ok();
}

// One of ServerOptions::max_streams subscriber slots, or nullptr when all are taken.
std::shared_ptr<StreamSlot> TakeSlot(Api& api) {
  if (api.open_streams.fetch_add(1) >= static_cast<int64_t>(api.options.max_streams)) {
    api.open_streams.fetch_sub(1);
    return nullptr;
  }
  api.metrics.SetStreamSubscribers(api.open_streams.load());
  return std::shared_ptr<StreamSlot>(new StreamSlot{&api});
}

// The SSE frames of the next events after the cursor, at most kEventsPerChunk; empty when the
// cursor is at the end.
Result<std::string> NextFrames(LogCursor& cursor) {
  std::string chunk;
  CAIRN_RETURN_IF_ERROR(cursor.Next(kEventsPerChunk, [&](const EventView& e) {
    const Event event = e.ToEvent();
    chunk += "id: " + event.position().ToString() + "\nevent: " + event.type +
             "\ndata: " + json::EventToJson(event) + "\n\n";
    return true;
  }).status());
  return chunk;
}

// The content provider's one step: sends the next events, a heartbeat when idle for
// stream_heartbeat, or waits a slice for the next append. false ends the stream (the subscriber
// went away or the cursor failed).
bool SendNext(Api& api, StreamState& state, httplib::DataSink& sink) {
  if (api.stopping.load()) {
    sink.done();
    return true;
  }
  Result<std::string> chunk = NextFrames(*state.cursor);
  if (!chunk.ok()) return false;
  const auto now = std::chrono::steady_clock::now();
  if (chunk->empty()) {
    if (now - state.last_write >= api.options.stream_heartbeat) {
      *chunk = ": heartbeat\n\n";  // keeps proxies and clients from timing out
    } else if (!sink.is_writable()) {
      return false;  // the subscriber went away: free its slot now
    } else {
      // Woken by the next append; the slice bounds how long shutdown waits for us.
      Log& log = api.db().log();
      log.WaitForSeq(Seq(log.LastSeq().value() + 1), kWaitSlice);
      return true;
    }
  }
  state.last_write = now;
  return sink.write(chunk->data(), chunk->size());
}

// GET /api/stream?topics=a,b&from=now|beginning (Last-Event-ID resumes)
void OpenStream(Api& api, const httplib::Request& req, httplib::Response& res) {
  if (!Authenticate(api, req, res, {Role::kService, Role::kAdmin})) return;
  std::vector<std::string> topics = SplitTopics(req.get_param_value("topics"));
  if (Status s = CheckTopicsExist(api.db().log(), topics); !s.ok()) return SendError(res, s);
  Result<Seq> after = StartingPoint(api, req);
  if (!after.ok()) return SendError(res, after.status());
  std::shared_ptr<StreamSlot> slot = TakeSlot(api);
  if (!slot) {
    return SendError(res, 503, "busy",
                     "too many open streams (" + std::to_string(api.options.max_streams) +
                         "); retry later");
  }
  Result<std::unique_ptr<LogCursor>> opened = api.db().log().OpenCursor(topics, *after);
  if (!opened.ok()) return SendError(res, opened.status());
  auto state = std::make_shared<StreamState>();
  state->cursor = std::move(*opened);
  state->slot = std::move(slot);
  state->last_write = std::chrono::steady_clock::now();

  res.set_header("Cache-Control", "no-cache");
  res.set_header("X-Accel-Buffering", "no");
  res.set_chunked_content_provider(
      "text/event-stream",
      [&api, state](size_t, httplib::DataSink& sink) { return SendNext(api, *state, sink); });
}

}  // namespace

void RegisterStreamRoute(httplib::Server& server, Api& api) {
  AddRoute(server, api, "GET", "/api/stream", "/api/stream", OpenStream);
}

}  // namespace cairn::http
