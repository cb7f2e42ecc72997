// Unit tests of the order view (ApplyToView, OrderView::ToJson, ParseOrderView): the fields the
// order screen needs, computed from the events alone.
#include <doctest/doctest.h>

#include <optional>
#include <string>

#include "cairn/orders.h"
#include "domain_test_util.h"

namespace cairn {
namespace {

using testing::kDay;
using testing::kDay0;
using testing::kMinute;

const int64_t kCreatedAt = kDay0 + 14 * 60 * kMinute + 33 * kMinute;  // 14:33

OrderCreated Created(bool express = false, std::string currency = "KRW") {
  return OrderCreated{"o1",
                      "user-2",
                      {{"p-100", "무선 키보드", 39000, 2}, {"p-200", "Mechanical Mouse", 25000, 2}},
                      128000,
                      {"282 Teheran-ro", "Busan", "03243", "KR", express},
                      std::move(currency)};
}

OrderView Apply(std::initializer_list<std::pair<OrderEvent, int64_t>> events) {
  std::optional<OrderView> view;
  uint64_t version = 0;
  for (const auto& [event, at] : events) {
    Status s = ApplyToView(view, event, at, ++version);
    REQUIRE_MESSAGE(s.ok(), s.ToString());
  }
  REQUIRE(view.has_value());
  return *view;
}

TEST_CASE("estimatedDelivery is the creation event's time + 5 days, or + 2 days express") {
  CHECK(Apply({{Created(false), kCreatedAt}}).estimated_delivery_us == kCreatedAt + 5 * kDay);
  CHECK(Apply({{Created(true), kCreatedAt}}).estimated_delivery_us == kCreatedAt + 2 * kDay);
  // Later events do not move it.
  const OrderView later = Apply({{Created(true), kCreatedAt},
                                 {OrderApproved{"o1"}, kCreatedAt + 3 * kDay}});
  CHECK(later.estimated_delivery_us == kCreatedAt + 2 * kDay);
}

TEST_CASE("the view of a created order has the screen's fields") {
  const OrderView view = Apply({{Created(), kCreatedAt}});
  CHECK(view.ToJson() ==
        R"({"orderId":"o1","userId":"user-2","status":"CREATED","paymentStatus":"PENDING",)"
        R"("items":[{"productId":"p-100","name":"무선 키보드","price":39000,"quantity":2},)"
        R"({"productId":"p-200","name":"Mechanical Mouse","price":25000,"quantity":2}],)"
        R"("totalAmount":128000,"currency":"KRW","itemCount":2,"unitCount":4,)"
        R"("formattedTotal":"₩128,000",)"
        R"("shippingAddress":{"street":"282 Teheran-ro","city":"Busan","zipCode":"03243",)"
        R"("country":"KR","express":false},"estimatedDelivery":"2026-11-06T14:33:00.000000Z",)"
        R"("createdAt":"2026-11-01T14:33:00.000000Z","updatedAt":"2026-11-01T14:33:00.000000Z",)"
        R"("version":1,"history":[{"status":"CREATED","at":"2026-11-01T14:33:00.000000Z"}]})");
}

TEST_CASE("a full lifecycle keeps history, payment and shipping details") {
  const OrderView view = Apply({{Created(), kCreatedAt},
                                {PaymentCompleted{"o1", "card", 128000}, kCreatedAt + 1 * kMinute},
                                {OrderApproved{"o1"}, kCreatedAt + 2 * kMinute},
                                {OrderShipped{"o1", kCreatedAt + 3 * kMinute, "TRK-1"},
                                 kCreatedAt + 3 * kMinute}});
  CHECK(view.status == OrderStatus::kShipped);
  CHECK(view.payment_status == PaymentStatus::kPaid);
  REQUIRE(view.payment.has_value());
  CHECK(*view.payment == PaymentDetails{"card", 128000, kCreatedAt + 1 * kMinute});
  CHECK(view.tracking_number == "TRK-1");
  CHECK(view.shipped_at_us == kCreatedAt + 3 * kMinute);
  CHECK(view.version == 4);
  CHECK(view.created_at_us == kCreatedAt);
  CHECK(view.updated_at_us == kCreatedAt + 3 * kMinute);
  CHECK(view.history == std::vector<StatusChange>{{OrderStatus::kCreated, kCreatedAt},
                                                  {OrderStatus::kApproved, kCreatedAt + 2 * kMinute},
                                                  {OrderStatus::kShipped, kCreatedAt + 3 * kMinute}});
  const std::string json = view.ToJson();
  CHECK(json.find(R"("payment":{"method":"card","amount":128000,"paidAt":"2026-11-01T14:34:00.000000Z"})") !=
        std::string::npos);
  CHECK(json.find(R"("trackingNumber":"TRK-1","shippedAt":"2026-11-01T14:36:00.000000Z")") !=
        std::string::npos);
}

TEST_CASE("a cancelled order keeps its reason") {
  const OrderView view = Apply({{Created(), kCreatedAt},
                                {OrderCancelled{"o1", "customer request"}, kCreatedAt + kMinute}});
  CHECK(view.status == OrderStatus::kCancelled);
  CHECK(view.cancellation_reason == "customer request");
  CHECK(view.ToJson().find(R"("cancellationReason":"customer request")") != std::string::npos);
}

TEST_CASE("other currencies are formatted in their own way") {
  OrderCreated usd = Created(false, "USD");
  usd.total_amount = 123456;
  CHECK(Apply({{usd, kCreatedAt}}).ToJson().find(R"("formattedTotal":"$1,234.56")") !=
        std::string::npos);
}

TEST_CASE("a view reads back from its JSON") {
  const OrderView view = Apply({{Created(true), kCreatedAt},
                                {PaymentCompleted{"o1", "transfer", 128000}, kCreatedAt + 7},
                                {OrderApproved{"o1"}, kCreatedAt + 8},
                                {OrderShipped{"o1", kCreatedAt + 9, std::nullopt}, kCreatedAt + 9}});
  Result<OrderView> back = ParseOrderView(view.ToJson());
  REQUIRE_OK(back);
  CHECK(*back == view);
  const OrderView cancelled = Apply({{Created(), kCreatedAt},
                                     {OrderCancelled{"o1", std::nullopt}, kCreatedAt + 1}});
  Result<OrderView> cancelled_back = ParseOrderView(cancelled.ToJson());
  REQUIRE_OK(cancelled_back);
  CHECK(*cancelled_back == cancelled);
}

TEST_CASE("an event before ORDER_CREATED, or a second ORDER_CREATED, is refused") {
  std::optional<OrderView> none;
  CHECK(ApplyToView(none, OrderApproved{"o1"}, kCreatedAt, 1).code() ==
        ErrorCode::kInvalidArgument);
  std::optional<OrderView> view;
  CHECK(ApplyToView(view, Created(), kCreatedAt, 1).ok());
  CHECK(ApplyToView(view, Created(), kCreatedAt, 2).code() == ErrorCode::kInvalidArgument);
}

}  // namespace
}  // namespace cairn
