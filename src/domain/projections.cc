// The order domain's projections (tables and keys in keys.h). Each handler is deterministic:
// it reads only the event (data, timestamp, version) and its own tables. An event of another type
// is ignored; an order event that cannot be read or applied is an error naming the event, which
// stops the projection (state failed) rather than guessing.
#include <algorithm>
#include <any>
#include <array>
#include <map>
#include <unordered_map>
#include <utility>

#include "cairn/orders/events.h"
#include "cairn/orders/projections.h"
#include "cairn/orders/views.h"
#include "domain/keys.h"
#include "domain/search_terms.h"
#include "base/iso_time.h"
#include "base/json_reader.h"
#include "base/json_writer.h"

namespace cairn {
namespace {

using namespace domain;

// The message prefix naming an event: "event 1b2c… (ORDER_APPROVED, order-6415… v2): ".
std::string Describe(const EventView& e) {
  return "event " + std::string(e.id()) + " (" + std::string(e.type()) + ", " +
         std::string(e.stream()) + " v" + std::to_string(e.version().value()) + "): ";
}

Status EventError(const EventView& e, const Status& cause) {
  return Status(cause.code(), Describe(e) + cause.message(), cause.field());
}

// The order event in an event; nullopt for an event of another type.
using DecodedOrderEvent = Result<std::optional<OrderEvent>>;

// The order event in `e`; nullopt for an event of another type.
DecodedOrderEvent ReadOrderEvent(const EventView& e) {
  if (!IsOrderEventType(e.type())) return std::optional<OrderEvent>();
  Result<OrderEvent> event = ParseOrderEvent(e.type(), e.data(), e.timestamp_us());
  if (!event.ok()) return EventError(e, event.status());
  // Ids are parts of index keys, where 0x00 separates fields.
  const std::string& order_id = OrderIdOf(*event);
  const auto* created = std::get_if<OrderCreated>(&*event);
  if (order_id.empty() || order_id.find('\0') != std::string::npos ||
      (created && created->user_id.find('\0') != std::string::npos)) {
    return EventError(e, Status::InvalidArgument("orderId and userId must be non-empty and "
                                                 "without NUL characters", "orderId"));
  }
  return std::optional<OrderEvent>(std::move(event).value());
}

// The three projections read the same events: the engine decodes each once for all of them.
class OrderEventDecoder : public EventDecoder {
 public:
  std::any Decode(const EventView& event) const override { return ReadOrderEvent(event); }
};

// The order event in `e`, as the engine decoded it or else decoded now into *own.
const DecodedOrderEvent& OrderEventOf(const EventView& e, const ProjectionWriter& out,
                                      std::optional<DecodedOrderEvent>* own) {
  if (const std::any* decoded = out.Decoded(e)) {
    if (const auto* event = std::any_cast<DecodedOrderEvent>(decoded)) return *event;
  }
  return own->emplace(ReadOrderEvent(e));
}

// ---- "orders": views, indexes and their counters ----------------------------------------------

// What an order's index entries depend on.
struct IndexEntry {
  std::string user_id;
  OrderStatus status;
  int64_t created_at_us;
  std::string order_id;
  bool operator==(const IndexEntry&) const = default;
};

IndexEntry EntryOf(const OrderView& view) {
  return IndexEntry{view.user_id, view.status, view.created_at_us, view.order_id};
}

// (table, key) of every index entry of an order.
std::vector<std::pair<std::string_view, std::string>> IndexKeys(const IndexEntry& entry) {
  const auto key = [&](std::string_view prefix) {
    return IndexKey(prefix, entry.created_at_us, entry.order_id);
  };
  return {{kByTime, key("")},
          {kByUser, key(UserPrefix(entry.user_id))},
          {kByStatus, key(StatusPrefix(entry.status))},
          {kByUserStatus, key(UserStatusPrefix(entry.user_id, entry.status))}};
}

std::vector<std::string> CountKeys(const IndexEntry& entry) {
  return {CountAll(), CountStatus(entry.status), CountUser(entry.user_id),
          CountUserStatus(entry.user_id, entry.status)};
}

const auto kContains = [](const auto& list, const auto& item) {
  return std::find(list.begin(), list.end(), item) != list.end();
};

// Moves an order's index entries from `first` (nullopt: a new order) to `last`: entries only in
// `first` are deleted, entries only in `last` written, so an order is in exactly one status
// index at any time. (An entry of a state in between was written and deleted again: absent.)
void MoveIndexKeys(const std::optional<IndexEntry>& first, const IndexEntry& last,
                   ProjectionWriter& out) {
  if (first == last) return;
  const auto last_keys = IndexKeys(last);
  std::vector<std::pair<std::string_view, std::string>> first_keys;
  if (first) first_keys = IndexKeys(*first);
  for (const auto& [table, key] : first_keys) {
    if (!kContains(last_keys, std::pair(table, key))) out.Delete(table, key);
  }
  for (const auto& [table, key] : last_keys) {
    if (!kContains(first_keys, std::pair(table, key))) out.Put(table, key, "");
  }
}

// Adds to `counts` what one event moving an order from `before` to `after` does to the "counts"
// table: -1 for the counters it leaves, +1 for those it joins. A counter touched by a batch's
// events keeps its entry even when they cancel out (a counter key holding 0), as when each
// event is applied alone.
void CountMove(const std::optional<IndexEntry>& before, const IndexEntry& after,
               std::map<std::string, int64_t>& counts) {
  if (before == after) return;
  const auto after_counts = CountKeys(after);
  std::vector<std::string> before_counts;
  if (before) before_counts = CountKeys(*before);
  for (const std::string& name : before_counts) {
    if (!kContains(after_counts, name)) counts[name] -= 1;
  }
  for (const std::string& name : after_counts) {
    if (!kContains(before_counts, name)) counts[name] += 1;
  }
}

// The record an order's handler keeps in `table` at `order_id`, decoded; nullopt when there is
// none, kCorruption when it cannot be read.
template <typename Record>
Result<std::optional<Record>> LoadRecord(ProjectionWriter& out, std::string_view table,
                                         const std::string& order_id, std::string_view what,
                                         Result<Record> (*decode)(std::string_view)) {
  CAIRN_ASSIGN_OR_RETURN(std::optional<std::string> stored, out.Get(table, order_id));
  if (!stored.has_value()) return std::optional<Record>();
  Result<Record> decoded = decode(*stored);
  if (!decoded.ok()) {
    return Status::Corruption(std::string(what) + " of order " + order_id + " is unreadable: " +
                              decoded.status().message());
  }
  return std::optional<Record>(std::move(decoded).value());
}

// The orders a batch touches, each loaded once and written once: what the batch handlers of
// "orders" and "order_stats" share. `State` holds an order's decoded record and what the batch
// did to it so far.
template <typename State>
class TouchedOrders {
 public:
  // The order's state, loaded by `load` (a Result<State>(const std::string& order_id)) when the
  // batch first touches it.
  template <typename Load>
  Result<State*> Touch(const std::string& order_id, const Load& load) {
    auto it = orders_.find(order_id);
    if (it != orders_.end()) return &it->second;
    CAIRN_ASSIGN_OR_RETURN(State state, load(order_id));
    it = orders_.emplace(order_id, std::move(state)).first;
    order_.push_back(&*it);
    return &it->second;
  }
  // Applies each order event of `events` (decoded by the engine, see OrderEventOf) to its
  // order's state with `apply` (a
  // Status(State&, const OrderEvent&, const EventView&)), loading the state with `load` when the
  // batch first touches the order; events of other types are skipped. Fails at the first event
  // that cannot be read, loaded or applied.
  template <typename Load, typename Apply>
  std::optional<BatchFailure> ApplyEach(const std::vector<const EventView*>& events,
                                        const ProjectionWriter& out, const Load& load,
                                        const Apply& apply) {
    std::optional<DecodedOrderEvent> own;
    for (size_t i = 0; i < events.size(); ++i) {
      const EventView& e = *events[i];
      const DecodedOrderEvent& event = OrderEventOf(e, out, &own);
      if (!event.ok()) return BatchFailure{i, event.status()};
      if (!event->has_value()) continue;
      Result<State*> state = Touch(OrderIdOf(**event), load);
      if (!state.ok()) return BatchFailure{i, state.status()};
      Status applied = apply(**state, **event, e);
      if (!applied.ok()) return BatchFailure{i, EventError(e, applied)};
    }
    return std::nullopt;
  }
  // Every touched order in the order it was first touched.
  template <typename Visit>
  void ForEach(const Visit& visit) const {
    for (const auto* entry : order_) visit(entry->first, entry->second);
  }

 private:
  std::unordered_map<std::string, State> orders_;
  std::vector<const std::pair<const std::string, State>*> order_;
};

struct ViewState {
  std::optional<OrderView> view;
  std::optional<IndexEntry> first;  // the index entry before the batch
};

std::optional<BatchFailure> ApplyOrders(const std::vector<const EventView*>& events,
                                        ProjectionWriter& out) {
  TouchedOrders<ViewState> orders;
  std::map<std::string, int64_t> counts;
  const auto load = [&out](const std::string& order_id) -> Result<ViewState> {
    CAIRN_ASSIGN_OR_RETURN(std::optional<OrderView> view,
                           LoadRecord(out, kViews, order_id, "the stored view", &ParseOrderView));
    ViewState state{std::move(view), std::nullopt};
    if (state.view) state.first = EntryOf(*state.view);
    return state;
  };
  std::optional<BatchFailure> failure = orders.ApplyEach(
      events, out, load, [&](ViewState& state, const OrderEvent& event, const EventView& e) {
        std::optional<IndexEntry> before;
        if (state.view) before = EntryOf(*state.view);
        CAIRN_RETURN_IF_ERROR(
            ApplyToView(state.view, event, e.timestamp_us(), e.version().value()));
        CountMove(before, EntryOf(*state.view), counts);
        return Status::Ok();
      });
  if (failure) return failure;
  orders.ForEach([&](const std::string& order_id, const ViewState& state) {
    out.Put(kViews, order_id, state.view->ToJson());
    MoveIndexKeys(state.first, EntryOf(*state.view), out);
  });
  for (const auto& [name, delta] : counts) out.AddCounter(kCounts, name, delta);
  return std::nullopt;
}

// ---- "order_stats": counters per status, revenue, per creation day ---------------------------

struct StatsRecord {
  OrderStatus status = OrderStatus::kCreated;
  bool paid = false;
  int64_t amount = 0;
  std::string currency;
  int64_t day = 0;
};

std::string EncodeStats(const StatsRecord& r) {
  return json::JsonWriter()
      .BeginObject()
      .Key("s").String(OrderStatusName(r.status))
      .Key("p").Bool(r.paid)
      .Key("a").Int(r.amount)
      .Key("c").String(r.currency)
      .Key("d").Int(r.day)
      .EndObject()
      .Take();
}

Result<StatsRecord> DecodeStats(std::string_view bytes) {
  json::Input input(bytes);
  CAIRN_ASSIGN_OR_RETURN(json::Object root, input.RootObject());
  StatsRecord r;
  CAIRN_RETURN_IF_ERROR(json::ForEachField(root, "", [&](std::string_view key,
                                                         json::Value v) -> Status {
    if (key == "s") {
      CAIRN_ASSIGN_OR_RETURN(std::string name, json::ReadString(v, key));
      return json::Assign(ParseOrderStatus(name, key), &r.status);
    }
    if (key == "p") return json::Assign(json::ReadBool(v, key), &r.paid);
    if (key == "a") return json::Assign(json::ReadInt(v, key), &r.amount);
    if (key == "c") return json::Assign(json::ReadString(v, key), &r.currency);
    if (key == "d") return json::Assign(json::ReadInt(v, key), &r.day);
    return Status::Ok();
  }));
  return r;
}

// A counter of "totals" and "days" (keys.h): "orders", "status:<S>", "paid" or
// "revenue:<currency>", held as its parts so that applying an event builds no string.
struct StatCounter {
  enum class Kind : uint8_t { kOrders, kStatus, kPaid, kRevenue };
  Kind kind = Kind::kOrders;
  OrderStatus status = OrderStatus::kCreated;  // kStatus
  std::string currency;                         // kRevenue
  auto operator<=>(const StatCounter&) const = default;

  std::string Name() const {
    switch (kind) {
      case Kind::kOrders: return std::string(kStatOrders);
      case Kind::kStatus: return StatStatus(status);
      case Kind::kPaid: return std::string(kStatPaid);
      case Kind::kRevenue: return StatRevenue(currency);
    }
    return {};
  }
};
// What a batch adds to each (creation day, counter).
using StatDeltas = std::map<std::pair<int64_t, StatCounter>, int64_t>;

// Adds to `deltas` what one event moving an order's record from `before` to `after` does: the
// counters `after` contributes to its creation day added, `before`'s removed, only counters
// that change. As with CountMove, a counter touched keeps its entry even when a batch's events
// cancel out.
void MoveContribution(const std::optional<StatsRecord>& before, const StatsRecord& after,
                      StatDeltas& deltas) {
  // This event's changes: at most four counters removed and four added.
  std::array<std::pair<std::pair<int64_t, StatCounter>, int64_t>, 8> changes;
  size_t count = 0;
  const auto contribute = [&](const StatsRecord& r, int64_t sign) {
    const auto add = [&](StatCounter counter, int64_t value) {
      std::pair<int64_t, StatCounter> key(r.day, std::move(counter));
      for (size_t i = 0; i < count; ++i) {
        if (changes[i].first == key) {
          changes[i].second += sign * value;
          return;
        }
      }
      changes[count++] = {std::move(key), sign * value};
    };
    using Kind = StatCounter::Kind;
    add({Kind::kOrders, OrderStatus::kCreated, {}}, 1);
    add({Kind::kStatus, r.status, {}}, 1);
    if (r.paid && r.status != OrderStatus::kCancelled) {
      add({Kind::kPaid, OrderStatus::kCreated, {}}, 1);
      add({Kind::kRevenue, OrderStatus::kCreated, r.currency}, r.amount);
    }
  };
  if (before) contribute(*before, -1);
  contribute(after, 1);
  for (size_t i = 0; i < count; ++i) {
    if (changes[i].second != 0) deltas[changes[i].first] += changes[i].second;
  }
}

// The record after `event`. kInvalidArgument for ORDER_CREATED twice or an event before it.
Status EvolveStats(std::optional<StatsRecord>& record, const OrderEvent& event,
                   int64_t timestamp_us) {
  const bool created = std::holds_alternative<OrderCreated>(event);
  if (created == record.has_value()) {
    return Status::InvalidArgument(created ? "order created twice" : "order was never created",
                                   "orderId");
  }
  if (const auto* e = std::get_if<OrderCreated>(&event)) {
    record = StatsRecord{OrderStatus::kCreated, false, e->total_amount, e->currency,
                         json::DayOf(timestamp_us)};
  } else if (std::holds_alternative<OrderApproved>(event)) {
    record->status = OrderStatus::kApproved;
  } else if (std::holds_alternative<OrderShipped>(event)) {
    record->status = OrderStatus::kShipped;
  } else if (std::holds_alternative<PaymentCompleted>(event)) {
    record->paid = true;
  } else if (std::holds_alternative<OrderCancelled>(event)) {
    record->status = OrderStatus::kCancelled;
  }
  return Status::Ok();
}

std::optional<BatchFailure> ApplyStats(const std::vector<const EventView*>& events,
                                       ProjectionWriter& out) {
  TouchedOrders<std::optional<StatsRecord>> orders;
  StatDeltas deltas;
  const auto load = [&out](const std::string& order_id) {
    return LoadRecord(out, kStatsOrders, order_id, "the stats record", &DecodeStats);
  };
  std::optional<BatchFailure> failure = orders.ApplyEach(
      events, out, load,
      [&](std::optional<StatsRecord>& record, const OrderEvent& event, const EventView& e) {
        const std::optional<StatsRecord> before = record;
        CAIRN_RETURN_IF_ERROR(EvolveStats(record, event, e.timestamp_us()));
        MoveContribution(before, *record, deltas);
        return Status::Ok();
      });
  if (failure) return failure;
  orders.ForEach([&](const std::string& order_id, const std::optional<StatsRecord>& record) {
    out.Put(kStatsOrders, order_id, EncodeStats(*record));
  });
  std::map<std::string, int64_t> totals;
  std::map<std::string, int64_t> days;
  for (const auto& [day_counter, delta] : deltas) {
    const std::string name = day_counter.second.Name();
    totals[name] += delta;
    days[DayKey(day_counter.first, name)] += delta;
  }
  for (const auto& [name, delta] : totals) out.AddCounter(kTotals, name, delta);
  for (const auto& [key, delta] : days) out.AddCounter(kDays, key, delta);
  return std::nullopt;
}

// ---- "order_search": an inverted index of terms -------------------------------------------

// The one event type the search indexes (the projection is given only these).
constexpr std::string_view kSearchedType = "ORDER_CREATED";

Status ApplySearch(const EventView& e, ProjectionWriter& out) {
  if (e.type() != kSearchedType) return Status::Ok();
  std::optional<DecodedOrderEvent> own;
  const DecodedOrderEvent& event = OrderEventOf(e, out, &own);
  if (!event.ok()) return event.status();
  const auto& created = std::get<OrderCreated>(**event);

  std::vector<std::string> terms;
  AddIndexTerms(created.order_id, &terms);
  AddIndexTerms(created.user_id, &terms);
  for (const OrderItem& item : created.items) AddIndexTerms(item.name, &terms);
  const ShippingAddress& address = created.shipping_address;
  for (const std::string* part : {&address.street, &address.city, &address.zip_code,
                                  &address.country}) {
    AddIndexTerms(*part, &terms);
  }
  std::sort(terms.begin(), terms.end());
  terms.erase(std::unique(terms.begin(), terms.end()), terms.end());
  const std::string value = TermValue(e.timestamp_us(), created.user_id);
  std::string key;
  for (const std::string& term : terms) {
    SetTermKey(term, created.order_id, &key);
    out.Put(kTerms, key, value);
  }
  return Status::Ok();
}

}  // namespace

std::vector<ProjectionSpec> OrderProjections() {
  const auto decoder = std::make_shared<const OrderEventDecoder>();
  const std::vector<std::string> all_topics = {std::string(kOrderEventsTopic),
                                               std::string(kPaymentEventsTopic),
                                               std::string(kShippingEventsTopic)};
  std::vector<ProjectionSpec> specs;
  specs.push_back(ProjectionSpec{
      std::string(kOrdersProjection), all_topics,
      {std::string(kViews), std::string(kByTime), std::string(kByUser), std::string(kByStatus),
       std::string(kByUserStatus), std::string(kCounts)},
      nullptr, ApplyOrders, decoder});
  specs.push_back(ProjectionSpec{std::string(kOrderStatsProjection), all_topics,
                                 {std::string(kStatsOrders), std::string(kTotals),
                                  std::string(kDays)},
                                 nullptr, ApplyStats, decoder});
  specs.push_back(ProjectionSpec{std::string(kOrderSearchProjection),
                                 {std::string(kOrderEventsTopic)},
                                 {std::string(kTerms)},
                                 ApplySearch, nullptr, decoder,
                                 {std::string(kSearchedType)}});
  return specs;
}

}  // namespace cairn
