// Fuzz target: the order API's request parsers (src/http/order_wire.h), i.e. the JSON bodies of
// POST /api/orders, /approve, /ship, /pay and /cancel and the query string of GET /api/orders.
//
// Input: byte 0 picks the parser (create, approve, ship, pay, cancel, list), byte 1 the actor
// (even: customer user-1, odd: an admin); the rest is the body, or for the list its six
// parameters (status, dateFrom, dateTo, userId, page, limit), one per line, a missing line
// being an absent parameter.
//
// Properties: no crash and no undefined behaviour on any input; a command the parser accepts
// is decided without error on the state it needs (a new stream, or an order it may act on);
// every event decided is stored as data that reads back to the same data (OrderEventData ->
// ParseOrderEvent); the view it leads to is valid JSON and reads back to the same view.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "base/json_reader.h"
#include "cairn/orders.h"
#include "fuzz_util.h"
#include "http/order_wire.h"
#include "log/event_json.h"

namespace cairn {
namespace {

constexpr int64_t kNow = 1'793'491'200LL * 1'000'000;  // 2026-11-01T00:00:00Z
constexpr std::string_view kOrderId = "fuzz-order-1";

Actor ActorOf(uint8_t byte) {
  return byte % 2 == 0 ? Actor{"user-1", Role::kCustomer} : Actor{"admin-1", Role::kAdmin};
}

// An order of user-1 just created: what approve, ship, pay and cancel are decided on.
struct Existing {
  OrderState state;
  std::optional<OrderView> view;
};

Existing CreatedOrder() {
  CreateOrder create;
  create.meta = CommandMeta{"", Actor{"user-1", Role::kCustomer}};
  create.user_id = "user-1";
  create.items = {OrderItem{"p-1", "Keyboard", 39000, 2}};
  create.shipping_address = ShippingAddress{"1 Main St", "Seoul", "06236", "KR", false};
  Existing e;
  auto events = Decide(create, OrderState{}, DecideContext{std::string(kOrderId), kNow});
  FUZZ_CHECK(events.ok() && events->size() == 1, "the sample order is created");
  e.state = Evolve(e.state, (*events)[0]);
  FUZZ_CHECK(ApplyToView(e.view, (*events)[0], kNow, 1).ok(), "the sample order has a view");
  return e;
}

// Every property of the module comment that concerns decided events and their view.
void CheckDecided(const OrderCommand& command, Existing existing) {
  Result<std::vector<OrderEvent>> events =
      Decide(command, existing.state, DecideContext{std::string(kOrderId), kNow + 1});
  if (std::holds_alternative<CreateOrder>(command)) {
    FUZZ_CHECK(events.ok(), "a parsed create is decided on a new stream");
  }
  if (!events.ok()) return;  // a rule of the order's state (422), not a parser matter
  uint64_t version = existing.state.version;
  for (const OrderEvent& event : *events) {
    const std::string data = OrderEventData(event);
    FUZZ_CHECK(json::IsValidJson(data), "event data is one JSON value");
    Result<OrderEvent> read = ParseOrderEvent(OrderEventType(event), data, kNow + 1);
    FUZZ_CHECK(read.ok(), "event data reads back");
    FUZZ_CHECK(OrderEventData(*read) == data, "event data reads back unchanged");
    existing.state = Evolve(existing.state, event);
    FUZZ_CHECK(ApplyToView(existing.view, event, kNow + 1, ++version).ok(),
               "a decided event applies to the view");
  }
  const std::string view = existing.view->ToJson();
  FUZZ_CHECK(json::IsValidJson(view), "the view is one JSON value");
  Result<OrderView> parsed = ParseOrderView(view);
  FUZZ_CHECK(parsed.ok() && *parsed == *existing.view, "the view reads back unchanged");
}

// The list's six parameters, one per line.
http::ListParams ListParamsOf(std::string_view text) {
  http::ListParams p;
  std::optional<std::string>* slots[] = {&p.status, &p.date_from, &p.date_to,
                                         &p.user_id, &p.page, &p.limit};
  for (std::optional<std::string>* slot : slots) {
    if (text.empty()) break;
    const size_t end = text.find('\n');
    *slot = std::string(text.substr(0, end));
    text = end == std::string_view::npos ? std::string_view() : text.substr(end + 1);
  }
  return p;
}

void CheckList(std::string_view text) {
  Result<ListQuery> query = http::ParseListQuery(ListParamsOf(text));
  if (!query.ok()) return;
  FUZZ_CHECK(query->page >= 1 && query->limit >= 1, "page and limit are at least 1");
}

template <typename Command>
void CheckCommand(const Result<Command>& parsed, const Existing& existing) {
  if (!parsed.ok()) {
    FUZZ_CHECK(parsed.status().code() != ErrorCode::kInternal, "bad input is never internal");
    return;
  }
  CheckDecided(OrderCommand(*parsed), existing);
}

}  // namespace
}  // namespace cairn

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace cairn;
  if (size < 2) return 0;
  static const Existing existing = CreatedOrder();
  const CommandMeta meta{"", ActorOf(data[1])};
  const std::string_view body(reinterpret_cast<const char*>(data) + 2, size - 2);
  switch (data[0] % 6) {
    case 0: CheckCommand(http::ParseCreateOrder(body, meta), Existing{}); break;
    case 1: CheckCommand(http::ParseApproveOrder(kOrderId, body, meta), existing); break;
    case 2: CheckCommand(http::ParseShipOrder(kOrderId, body, meta), existing); break;
    case 3: CheckCommand(http::ParseCompletePayment(kOrderId, body, meta), existing); break;
    case 4: CheckCommand(http::ParseCancelOrder(kOrderId, body, meta), existing); break;
    default: CheckList(body);
  }
  return 0;
}
