// Unit tests of the Order aggregate: every rule of DESIGN.md §3's table (Decide), Evolve,
// Authorize, the write-model state encoding, and event data in the seed's shapes.
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "cairn/orders.h"
#include "domain_test_util.h"

namespace cairn {
namespace {

using testing::Admin;
using testing::Customer;
using testing::Meta;

constexpr int64_t kTotal = 128000;

OrderState StateWith(std::optional<OrderStatus> status, bool paid) {
  OrderState s;
  s.order_id = "o1";
  s.user_id = "user-1";
  s.status = status;
  s.payment_status = paid ? PaymentStatus::kPaid : PaymentStatus::kPending;
  s.total_amount = kTotal;
  s.currency = "KRW";
  s.version = status ? 3 : 0;
  return s;
}

Result<std::vector<OrderEvent>> Run(const OrderCommand& command, const OrderState& state) {
  return Decide(command, state, DecideContext{"new-order", 1'000});
}

bool Contains(std::string_view text, std::string_view part) {
  return text.find(part) != std::string_view::npos;
}

const std::vector<std::optional<OrderStatus>> kStates = {
    std::nullopt, OrderStatus::kCreated, OrderStatus::kApproved, OrderStatus::kShipped,
    OrderStatus::kCancelled};

// Checks Decide for `command` over every status, paid or not, against `allowed`.
template <typename Allowed>
void CheckRule(const OrderCommand& command, std::string_view event_type, Allowed allowed) {
  for (const auto& status : kStates) {
    for (bool paid : {false, true}) {
      if (!status && paid) continue;
      const OrderState state = StateWith(status, paid);
      Result<std::vector<OrderEvent>> events = Run(command, state);
      CAPTURE(status ? OrderStatusName(*status) : "none");
      CAPTURE(paid);
      if (allowed(status, paid)) {
        REQUIRE_OK(events);
        REQUIRE(events->size() == 1);
        CHECK(OrderEventType(events->front()) == event_type);
      } else if (!status) {
        CHECK(events.status().code() == ErrorCode::kNotFound);
      } else {
        CHECK(events.status().code() == ErrorCode::kRuleViolation);
        // The error names the state the order is in.
        const bool names_state = Contains(events.status().message(), OrderStatusName(*status)) ||
                                 (paid && Contains(events.status().message(), "PAID"));
        CHECK_MESSAGE(names_state, events.status().message());
      }
    }
  }
}

TEST_CASE("ORDER_CREATED is allowed only on a new stream") {
  CreateOrder create = testing::SampleCreate(Customer("user-1"));
  Result<std::vector<OrderEvent>> events = Run(create, StateWith(std::nullopt, false));
  REQUIRE_OK(events);
  const auto& created = std::get<OrderCreated>(events->front());
  CHECK(created.order_id == "new-order");
  CHECK(created.user_id == "user-1");
  CHECK(created.total_amount == testing::kSampleTotal);
  CHECK(created.currency == "KRW");
  CHECK(OrderEventTopic(events->front()) == "order-events");

  CHECK(Run(create, StateWith(OrderStatus::kCreated, false)).status().code() ==
        ErrorCode::kRuleViolation);
}

TEST_CASE("ORDER_APPROVED is allowed only in status CREATED") {
  CheckRule(ApproveOrder{Meta(Admin()), "o1"}, "ORDER_APPROVED",
            [](auto status, bool) { return status == OrderStatus::kCreated; });
}

TEST_CASE("ORDER_SHIPPED is allowed only in status APPROVED, paid or not") {
  CheckRule(ShipOrder{Meta(Admin()), "o1", "TRK-9"}, "ORDER_SHIPPED",
            [](auto status, bool) { return status == OrderStatus::kApproved; });
  Result<std::vector<OrderEvent>> events =
      Run(ShipOrder{Meta(Admin()), "o1", "TRK-9"}, StateWith(OrderStatus::kApproved, false));
  REQUIRE_OK(events);
  const auto& shipped = std::get<OrderShipped>(events->front());
  CHECK(shipped.shipped_at_us == 1'000);  // the command's time, from the context
  CHECK(shipped.tracking_number == "TRK-9");
  CHECK(OrderEventTopic(events->front()) == "shipping-events");
}

TEST_CASE("PAYMENT_COMPLETED is allowed when not cancelled, not yet paid, for the exact total") {
  CheckRule(CompletePayment{Meta(Admin()), "o1", "card", kTotal}, "PAYMENT_COMPLETED",
            [](auto status, bool paid) {
              return status && status != OrderStatus::kCancelled && !paid;
            });
  for (int64_t wrong : {kTotal - 1, kTotal + 1, int64_t{0}}) {
    Result<std::vector<OrderEvent>> events = Run(CompletePayment{Meta(Admin()), "o1", "card", wrong},
                                                 StateWith(OrderStatus::kCreated, false));
    CHECK(events.status().code() == ErrorCode::kRuleViolation);
    CHECK(events.status().field() == "amount");
  }
  Result<std::vector<OrderEvent>> events = Run(CompletePayment{Meta(Admin()), "o1", "card", kTotal},
                                               StateWith(OrderStatus::kShipped, false));
  REQUIRE_OK(events);
  CHECK(OrderEventTopic(events->front()) == "payment-events");
}

TEST_CASE("ORDER_CANCELLED is allowed only in status CREATED or APPROVED") {
  CheckRule(CancelOrder{Meta(Admin()), "o1", "changed my mind"}, "ORDER_CANCELLED",
            [](auto status, bool) {
              return status == OrderStatus::kCreated || status == OrderStatus::kApproved;
            });
}

TEST_CASE("a rule error names the order's current state") {
  Result<std::vector<OrderEvent>> events =
      Run(ShipOrder{Meta(Admin()), "o1", std::nullopt}, StateWith(OrderStatus::kCreated, false));
  CHECK(events.status().message() ==
        "cannot ship order o1: its status is CREATED, ship needs APPROVED");
}

TEST_CASE("Evolve folds events into the state, one version each") {
  OrderState s = Evolve(OrderState{}, OrderCreated{"o1", "user-1", {}, 500, {}, "USD"});
  CHECK(s.status == OrderStatus::kCreated);
  CHECK(s.version == 1);
  CHECK(s.total_amount == 500);
  CHECK(s.currency == "USD");
  s = Evolve(s, PaymentCompleted{"o1", "card", 500});
  CHECK(s.payment_status == PaymentStatus::kPaid);
  CHECK(s.status == OrderStatus::kCreated);  // payment does not change the status
  s = Evolve(s, OrderApproved{"o1"});
  CHECK(s.status == OrderStatus::kApproved);
  s = Evolve(s, OrderShipped{"o1", 5, std::nullopt});
  CHECK(s.status == OrderStatus::kShipped);
  CHECK(s.version == 4);
  CHECK(Evolve(StateWith(OrderStatus::kCreated, false), OrderCancelled{"o1", {}}).status ==
        OrderStatus::kCancelled);
}

TEST_CASE("approve, ship and cancel are for admins; pay for the owner or an admin") {
  const OrderState mine = StateWith(OrderStatus::kCreated, false);  // owned by user-1
  const CommandMeta owner = Meta(Customer("user-1"));
  const CommandMeta stranger = Meta(Customer("user-2"));
  CHECK(Authorize(ApproveOrder{owner, "o1"}, mine).code() == ErrorCode::kPermissionDenied);
  CHECK(Authorize(ShipOrder{owner, "o1", {}}, mine).code() == ErrorCode::kPermissionDenied);
  CHECK(Authorize(CancelOrder{owner, "o1", {}}, mine).code() == ErrorCode::kPermissionDenied);
  CHECK(Authorize(CompletePayment{owner, "o1", "card", kTotal}, mine).ok());
  for (const OrderCommand& c :
       std::vector<OrderCommand>{ApproveOrder{Meta(Admin()), "o1"},
                                 ShipOrder{Meta(Admin()), "o1", {}},
                                 CancelOrder{Meta(Admin()), "o1", {}},
                                 CompletePayment{Meta(Admin()), "o1", "card", kTotal}}) {
    CHECK(Authorize(c, mine).ok());
  }
  // Someone else's order does not exist for a customer.
  CHECK(Authorize(CompletePayment{stranger, "o1", "card", kTotal}, mine).code() ==
        ErrorCode::kNotFound);
  CHECK(Authorize(ApproveOrder{stranger, "o1"}, mine).code() == ErrorCode::kNotFound);
  // Creating for another user is for admins.
  CHECK(Authorize(testing::SampleCreate(Customer("user-1"), "user-2"), OrderState{}).code() ==
        ErrorCode::kPermissionDenied);
  CHECK(Authorize(testing::SampleCreate(Admin(), "user-2"), OrderState{}).ok());
}

TEST_CASE("the write-model state survives encoding") {
  for (const auto& status : kStates) {
    OrderState s = StateWith(status, status.has_value());
    Result<OrderState> decoded = DecodeOrderState(EncodeOrderState(s));
    REQUIRE_OK(decoded);
    CHECK(*decoded == s);
  }
  CHECK_FALSE(DecodeOrderState("not json").ok());
}

TEST_CASE("event data has the seed's shapes and reads back") {
  const OrderCreated created{"o1", "user-1", {{"p-1", "Keyboard", 39000, 2}}, 78000,
                             {"282 Teheran-ro", "Seoul", "03243", "KR", true}, "KRW"};
  CHECK(OrderEventData(created) ==
        R"({"orderId":"o1","userId":"user-1","items":[{"productId":"p-1","name":"Keyboard",)"
        R"("price":39000,"quantity":2}],"totalAmount":78000,"shippingAddress":{"street":)"
        R"("282 Teheran-ro","city":"Seoul","zipCode":"03243","country":"KR","express":true},)"
        R"("currency":"KRW"})");
  CHECK(OrderEventData(OrderApproved{"o1"}) == R"({"orderId":"o1"})");
  CHECK(OrderEventData(OrderShipped{"o1", 1'793'543'580'000'000, "TRK-1"}) ==
        R"({"orderId":"o1","shippedAt":"2026-11-01T14:33:00.000000Z","trackingNumber":"TRK-1"})");
  CHECK(OrderEventData(PaymentCompleted{"o1", "card", 78000}) ==
        R"({"orderId":"o1","method":"card","amount":78000})");
  CHECK(OrderEventData(OrderCancelled{"o1", std::nullopt}) == R"({"orderId":"o1"})");
  CHECK(OrderEventData(OrderCancelled{"o1", "why"}) == R"({"orderId":"o1","reason":"why"})");

  const std::vector<OrderEvent> events = {created, OrderApproved{"o1"},
                                          OrderShipped{"o1", 77, "TRK-1"},
                                          PaymentCompleted{"o1", "card", 78000},
                                          OrderCancelled{"o1", "why"}};
  for (const OrderEvent& e : events) {
    Result<OrderEvent> back = ParseOrderEvent(OrderEventType(e), OrderEventData(e), 0);
    REQUIRE_OK(back);
    CHECK(OrderEventData(*back) == OrderEventData(e));
    CHECK(IsOrderEventType(OrderEventType(e)));
  }
  CHECK_FALSE(IsOrderEventType("ORDER_DELETED"));
}

TEST_CASE("the seed's event data reads as is: no currency, second-precision shippedAt") {
  Result<OrderEvent> created = ParseOrderEvent(
      "ORDER_CREATED",
      R"({"orderId": "6415", "userId": "user-2", "items": [{"productId": "p-100", "name": "무선 키보드", "price": 39000, "quantity": 2}], "totalAmount": 78000, "shippingAddress": {"street": "282 Teheran-ro", "city": "Busan", "zipCode": "03243", "country": "KR", "express": false}})",
      0);
  REQUIRE_OK(created);
  CHECK(std::get<OrderCreated>(*created).currency == "KRW");
  CHECK(std::get<OrderCreated>(*created).items[0].name == "무선 키보드");

  Result<OrderEvent> shipped = ParseOrderEvent(
      "ORDER_SHIPPED",
      R"({"orderId": "ab10", "trackingNumber": "TRK-1006", "shippedAt": "2026-11-01T17:42:00Z"})",
      5);
  REQUIRE_OK(shipped);
  CHECK(std::get<OrderShipped>(*shipped).shipped_at_us == 1'793'554'920'000'000);

  Result<OrderEvent> no_time = ParseOrderEvent("ORDER_SHIPPED", R"({"orderId":"x"})", 42);
  REQUIRE_OK(no_time);
  CHECK(std::get<OrderShipped>(*no_time).shipped_at_us == 42);  // the event's timestamp
}

TEST_CASE("malformed event data is an error naming the field, never a crash") {
  CHECK(ParseOrderEvent("ORDER_APPROVED", "{}", 0).status().field() == "orderId");
  CHECK(ParseOrderEvent("ORDER_APPROVED", "garbage", 0).status().code() ==
        ErrorCode::kInvalidArgument);
  CHECK(ParseOrderEvent("ORDER_CREATED", R"({"orderId":"o","userId":"u","items":[]})", 0)
            .status()
            .field() == "totalAmount");
  CHECK(ParseOrderEvent("ORDER_CREATED",
                        R"({"orderId":"o","userId":"u","items":[{"productId":"p"}],"totalAmount":1})",
                        0)
            .status()
            .field() == "items[0].name");
  CHECK(ParseOrderEvent("PAYMENT_COMPLETED", R"({"orderId":"o","amount":1.5})", 0)
            .status()
            .field() == "amount");
  CHECK(ParseOrderEvent("ORDER_SHIPPED", R"({"orderId":"o","shippedAt":"soon"})", 0)
            .status()
            .field() == "shippedAt");
  CHECK(ParseOrderEvent("NOPE", "{}", 0).status().code() == ErrorCode::kInvalidArgument);
}

}  // namespace
}  // namespace cairn
