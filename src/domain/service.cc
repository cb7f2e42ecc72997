// OrderService: the command side. One command = load the order's state from the write model,
// authorize, decide, and ONE Log::Append that carries the events, the new state and the
// idempotency record (no "publish, then save" dual write: all of it commits or none does).
#include <cstdio>

#include "cairn/orders/events.h"
#include "cairn/orders/service.h"
#include "base/json_reader.h"
#include "base/json_writer.h"
#include "base/clock.h"
#include "base/uuid.h"

namespace cairn {
namespace {

const CommandMeta& MetaOf(const OrderCommand& command) {
  return std::visit([](const auto& c) -> const CommandMeta& { return c.meta; }, command);
}

// FNV-1a, 64 bits, as 16 hex digits.
std::string HashHex(std::string_view bytes) {
  uint64_t hash = 0xcbf29ce484222325ULL;
  for (unsigned char c : bytes) {
    hash ^= c;
    hash *= 0x100000001b3ULL;
  }
  char out[17];
  std::snprintf(out, sizeof out, "%016llx", static_cast<unsigned long long>(hash));
  return out;
}

// A digest of what the command asks for (not who asks or its key), so a repeated
// Idempotency-Key can be told apart from a key reused for another command.
std::string Fingerprint(const OrderCommand& command) {
  json::JsonWriter out;
  out.BeginArray().Int(static_cast<int64_t>(command.index()));
  if (const auto* c = std::get_if<CreateOrder>(&command)) {
    out.Raw(OrderEventData(OrderCreated{"", c->user_id, c->items, 0, c->shipping_address,
                                        c->currency}));
  } else if (const auto* c = std::get_if<ShipOrder>(&command)) {
    out.String(c->order_id).String(c->tracking_number.value_or("\x01"));
  } else if (const auto* c = std::get_if<CompletePayment>(&command)) {
    out.String(c->order_id).String(c->method).Int(c->amount);
  } else if (const auto* c = std::get_if<CancelOrder>(&command)) {
    out.String(c->order_id).String(c->reason.value_or("\x01"));
  } else {
    out.String(std::get<ApproveOrder>(command).order_id);
  }
  return HashHex(out.EndArray().Take());
}

// Key of a command's record in "write.commands": Idempotency-Keys are scoped by user.
std::string CommandKey(const CommandMeta& meta) {
  std::string key = meta.actor.user_id;
  key.push_back('\0');
  key += meta.command_id;
  return key;
}

// The id of the n-th event (1-based) of a command. Derived from the Idempotency-Key, so two
// racing copies of one command produce the same ids and the log's own event-id idempotency
// lets only one of them append. Empty (the log assigns a UUID) without a key.
std::string EventId(const CommandMeta& meta, size_t n) {
  if (meta.command_id.empty()) return {};
  return "cmd-" + HashHex(meta.actor.user_id) + "-" + meta.command_id + "-" + std::to_string(n);
}

struct CommandRecord {
  std::string order_id;
  std::string fingerprint;
  std::string last_event_id;
  int64_t version = 0;
};

std::string EncodeRecord(const CommandRecord& r) {
  return json::JsonWriter()
      .BeginObject()
      .Key("orderId").String(r.order_id)
      .Key("fingerprint").String(r.fingerprint)
      .Key("lastEventId").String(r.last_event_id)
      .Key("version").Int(r.version)
      .EndObject()
      .Take();
}

Result<CommandRecord> DecodeRecord(std::string_view bytes) {
  json::Input input(bytes);
  CAIRN_ASSIGN_OR_RETURN(json::Object root, input.RootObject());
  CommandRecord r;
  CAIRN_RETURN_IF_ERROR(json::ForEachField(root, "", [&](std::string_view key,
                                                         json::Value v) -> Status {
    if (key == "orderId") return json::Assign(json::ReadString(v, key), &r.order_id);
    if (key == "fingerprint") return json::Assign(json::ReadString(v, key), &r.fingerprint);
    if (key == "lastEventId") return json::Assign(json::ReadString(v, key), &r.last_event_id);
    if (key == "version") return json::Assign(json::ReadInt(v, key), &r.version);
    return Status::Ok();
  }));
  return r;
}

// The append of `events` (all of one topic) to the order's stream, expecting `state`.
Result<AppendRequest> BuildAppend(const CommandMeta& meta, const OrderState& state,
                                  const std::string& order_id,
                                  const std::vector<OrderEvent>& events, int64_t now_us) {
  AppendRequest req;
  req.topic = std::string(OrderEventTopic(events.front()));
  req.stream = OrderStream(order_id);
  req.expected = state.version == 0 ? ExpectedVersion::NoStream()
                                    : ExpectedVersion::Exact(state.version);
  const std::string command_id = meta.command_id.empty() ? NewUuid() : meta.command_id;
  for (size_t i = 0; i < events.size(); ++i) {
    if (OrderEventTopic(events[i]) != req.topic) {
      return Status::Internal("a decision spans topics; one append has one topic");
    }
    NewEvent event;
    event.id = EventId(meta, i + 1);
    event.type = std::string(OrderEventType(events[i]));
    event.data = OrderEventData(events[i]);
    event.metadata = EventMetadata{command_id, command_id, "", meta.actor.user_id};
    event.timestamp_us = now_us;
    req.events.push_back(std::move(event));
  }
  return req;
}

}  // namespace

OrderService::OrderService(Log* log, OrderServiceOptions options, Family* states,
                           Family* commands)
    : log_(log), options_(std::move(options)), states_(states), commands_(commands) {}

Result<std::unique_ptr<OrderService>> OrderService::Open(Log* log, OrderServiceOptions options) {
  Store* store = log->store();
  CAIRN_ASSIGN_OR_RETURN(
      Family* states, store->OpenFamily(std::string(kOrderStateFamily), FamilyKind::kPointLookup));
  CAIRN_ASSIGN_OR_RETURN(
      Family* commands, store->OpenFamily(std::string(kCommandFamily), FamilyKind::kPointLookup));
  if (!options.clock) options.clock = NowMicros;
  if (!options.new_order_id) options.new_order_id = NewUuid;
  if (options.max_attempts < 1) options.max_attempts = 1;
  return std::unique_ptr<OrderService>(
      new OrderService(log, std::move(options), states, commands));
}

Result<OrderState> OrderService::Load(std::string_view order_id) const {
  CAIRN_RETURN_IF_ERROR(ValidateOrderId(order_id));
  OrderState state;
  state.order_id = std::string(order_id);
  CAIRN_ASSIGN_OR_RETURN(std::optional<std::string> stored, log_->store()->Get(states_, order_id));
  if (stored.has_value()) {
    Result<OrderState> decoded = DecodeOrderState(*stored);
    if (!decoded.ok()) {
      return Status::Corruption("write-model state of order " + std::string(order_id) +
                                " is unreadable: " + decoded.status().message());
    }
    state = std::move(decoded).value();
  }
  // Events appended to the stream without the service (an import, a raw append) are folded in
  // here; for orders the service wrote, the state is current and nothing is read.
  const std::string stream = OrderStream(order_id);
  CAIRN_ASSIGN_OR_RETURN(StreamVersion head, log_->StreamHead(stream));
  if (head.value() <= state.version) return state;
  CAIRN_ASSIGN_OR_RETURN(
      std::vector<Event> tail,
      log_->ReadStream(stream, StreamVersion(state.version + 1), head.value() - state.version));
  for (const Event& e : tail) {
    if (IsOrderEventType(e.type)) {
      Result<OrderEvent> event = ParseOrderEvent(e.type, e.data, e.timestamp_us);
      if (!event.ok()) {
        return Status::Corruption("event " + e.id + " of " + stream +
                                  " is unreadable: " + event.status().message());
      }
      state = Evolve(std::move(state), *event);
    }
    state.version = e.version.value();
  }
  return state;
}

Result<std::optional<CommandResult>> OrderService::FindHandled(
    const CommandMeta& meta, std::string_view fingerprint) const {
  if (meta.command_id.empty()) return std::optional<CommandResult>();
  CAIRN_ASSIGN_OR_RETURN(std::optional<std::string> stored,
                         log_->store()->Get(commands_, CommandKey(meta)));
  if (!stored.has_value()) return std::optional<CommandResult>();
  Result<CommandRecord> record = DecodeRecord(*stored);
  if (!record.ok()) return Status::Corruption("command record unreadable: " +
                                              record.status().message());
  if (record->fingerprint != fingerprint) {
    return Status(ErrorCode::kConflict,
                  "Idempotency-Key " + meta.command_id + " was already used for another command",
                  "Idempotency-Key");
  }
  CAIRN_ASSIGN_OR_RETURN(Event last, log_->ReadEvent(record->last_event_id));
  return std::optional<CommandResult>(CommandResult{
      record->order_id, StreamVersion(static_cast<uint64_t>(record->version)), last.position(),
      /*replayed=*/true});
}

Result<CommandResult> OrderService::Handle(const OrderCommand& command) {
  CAIRN_RETURN_IF_ERROR(ValidateCommand(command));
  const CommandMeta& meta = MetaOf(command);
  const std::string fingerprint = Fingerprint(command);
  CAIRN_ASSIGN_OR_RETURN(std::optional<CommandResult> handled, FindHandled(meta, fingerprint));
  if (handled.has_value()) return std::move(*handled);

  const bool create = std::holds_alternative<CreateOrder>(command);
  std::string order_id;
  for (int attempt = 1; attempt <= options_.max_attempts; ++attempt) {
    order_id = create ? options_.new_order_id()
                      : std::visit(
                            [](const auto& c) -> std::string {
                              if constexpr (requires { c.order_id; }) return c.order_id;
                              return {};
                            },
                            command);
    Result<std::optional<CommandResult>> done = Attempt(command, order_id, fingerprint);
    if (!done.ok()) {
      // A copy of this command (same key) may have committed since the check above, so that
      // this one saw its effect and was refused: the client gets the original result.
      Result<std::optional<CommandResult>> raced = FindHandled(meta, fingerprint);
      if (raced.ok() && raced->has_value()) return std::move(**raced);
      return done.status();
    }
    if (done->has_value()) return std::move(**done);
  }
  return Status::Conflict("order " + order_id + " kept changing while the command ran (" +
                          std::to_string(options_.max_attempts) + " attempts); try again");
}

// One load-decide-append round. nullopt: the stream moved since the load (try again).
Result<std::optional<CommandResult>> OrderService::Attempt(const OrderCommand& command,
                                                           const std::string& order_id,
                                                           std::string_view fingerprint) {
  const CommandMeta& meta = MetaOf(command);
  OrderState state;
  state.order_id = order_id;
  if (!std::holds_alternative<CreateOrder>(command)) {
    CAIRN_ASSIGN_OR_RETURN(state, Load(order_id));
  }
  CAIRN_RETURN_IF_ERROR(Authorize(command, state));
  const int64_t now = options_.clock();
  CAIRN_ASSIGN_OR_RETURN(std::vector<OrderEvent> events,
                         Decide(command, state, DecideContext{order_id, now}));

  CAIRN_ASSIGN_OR_RETURN(AppendRequest req, BuildAppend(meta, state, order_id, events, now));
  OrderState next = state;
  for (const OrderEvent& event : events) next = Evolve(std::move(next), event);
  req.state_writes.Put(states_, order_id, EncodeOrderState(next));
  if (!meta.command_id.empty()) {
    const CommandRecord record{order_id, std::string(fingerprint), req.events.back().id,
                               static_cast<int64_t>(next.version)};
    req.state_writes.Put(commands_, CommandKey(meta), EncodeRecord(record));
  }

  Result<AppendResult> appended = log_->Append(std::move(req));
  if (!appended.ok()) {
    if (appended.status().code() == ErrorCode::kConflict) return std::optional<CommandResult>();
    return appended.status();
  }
  if (appended->duplicate) {
    // A copy of this command with the same key won the race; answer with its result.
    CAIRN_ASSIGN_OR_RETURN(std::optional<CommandResult> original, FindHandled(meta, fingerprint));
    if (!original.has_value()) {
      return Status::Conflict("the events of this command already exist without its record");
    }
    return original;
  }
  return std::optional<CommandResult>(
      CommandResult{order_id, appended->version, appended->positions.back(), false});
}

}  // namespace cairn
