// Unit tests of the order API's request parsers (src/http/order_requests.cc): each body becomes
// a validated command or an error naming its field; the list query string becomes a ListQuery.
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "cairn/orders.h"
#include "domain/domain_test_util.h"
#include "http/order_wire.h"

namespace cairn::http {
namespace {

using testing::Admin;
using testing::Customer;
using testing::Meta;

constexpr const char* kItem = R"({"productId":"p-1","name":"Keyboard","price":39000,"quantity":2})";
constexpr const char* kAddress =
    R"({"street":"282 Teheran-ro","city":"Seoul","zipCode":"03243","country":"KR"})";

std::string Body(std::string items = std::string("[") + kItem + "]",
                 std::string address = kAddress, std::string extra = "") {
  return R"({"items":)" + items + R"(,"shippingAddress":)" + address + extra + "}";
}
std::string WithItem(std::string item) { return Body("[" + item + "]"); }
std::string WithAddress(std::string address) { return Body(std::string("[") + kItem + "]", address); }

Result<CreateOrder> Create(const std::string& body, const Actor& actor = Customer("user-1")) {
  return ParseCreateOrder(body, Meta(actor));
}

struct BadBody {
  std::string body;
  std::string field;
  std::string message;  // expected message, or empty to skip the check
};

TEST_CASE("a valid create body becomes a command for the acting customer, in KRW") {
  Result<CreateOrder> c = Create(Body());
  REQUIRE_OK(c);
  CHECK(c->user_id == "user-1");
  CHECK(c->currency == "KRW");
  REQUIRE(c->items.size() == 1);
  CHECK(c->items[0] == OrderItem{"p-1", "Keyboard", 39000, 2});
  CHECK(c->shipping_address == ShippingAddress{"282 Teheran-ro", "Seoul", "03243", "KR", false});

  Result<CreateOrder> usd = Create(Body(std::string("[") + kItem + "]",
                                        R"({"street":"1 Main St","city":"Austin","zipCode":"78701","country":"US","express":true})",
                                        R"(,"currency":"USD","totalAmount":78000)"));
  REQUIRE_OK(usd);
  CHECK(usd->currency == "USD");
  CHECK(usd->shipping_address.express);
}

TEST_CASE("every create validation failure names its field") {
  const std::string long64 = std::string(65, 'x');
  const std::vector<BadBody> cases = {
      {R"({"shippingAddress":)" + std::string(kAddress) + "}", "items", "items is required"},
      {Body("{}"), "items", "items must be an array"},
      {Body("[]"), "items", "items must not be empty"},
      {Body("[1]"), "items[0]", "items[0] must be an object"},
      {WithItem(R"({"name":"K","price":1,"quantity":1})"), "items[0].productId",
       "items[0].productId is required"},
      {WithItem(R"({"productId":"","name":"K","price":1,"quantity":1})"), "items[0].productId",
       "items[0].productId must not be empty"},
      {WithItem(R"({"productId":")" + long64 + R"(","name":"K","price":1,"quantity":1})"),
       "items[0].productId", "items[0].productId must be at most 64 bytes"},
      {WithItem(R"({"productId":"p","price":1,"quantity":1})"), "items[0].name", ""},
      {WithItem(R"({"productId":"p","name":"","price":1,"quantity":1})"), "items[0].name", ""},
      {WithItem(R"({"productId":"p","name":")" + std::string(201, 'n') +
                R"(","price":1,"quantity":1})"),
       "items[0].name", "items[0].name must be at most 200 bytes"},
      {WithItem(R"({"productId":"p","name":"a\u0001b","price":1,"quantity":1})"),
       "items[0].name", "items[0].name must not contain control characters"},
      {WithItem(R"({"productId":"p","name":"K","quantity":1})"), "items[0].price",
       "items[0].price is required"},
      {WithItem(R"({"productId":"p","name":"K","price":"1000","quantity":1})"),
       "items[0].price", "items[0].price must be an integer"},
      {WithItem(R"({"productId":"p","name":"K","price":10.5,"quantity":1})"), "items[0].price",
       "items[0].price must be an integer, not a fraction"},
      {WithItem(R"({"productId":"p","name":"K","price":1e3,"quantity":1})"), "items[0].price",
       "items[0].price must be an integer, not a fraction"},
      {WithItem(R"({"productId":"p","name":"K","price":-1,"quantity":1})"), "items[0].price",
       "items[0].price must be at least 0"},
      {WithItem(R"({"productId":"p","name":"K","price":9223372036854775808,"quantity":1})"),
       "items[0].price", "items[0].price is out of range"},
      {WithItem(R"({"productId":"p","name":"K","price":1,"quantity":0})"), "items[0].quantity",
       "items[0].quantity must be between 1 and 1000000"},
      {WithItem(R"({"productId":"p","name":"K","price":1,"quantity":-2})"), "items[0].quantity",
       ""},
      {WithItem(R"({"productId":"p","name":"K","price":1,"quantity":1.5})"),
       "items[0].quantity", "items[0].quantity must be an integer, not a fraction"},
      {WithItem(R"({"productId":"p","name":"K","price":1,"quantity":1000001})"),
       "items[0].quantity", ""},
      {WithItem(R"({"productId":"p","name":"K","price":1,"quantity":1,"color":"red"})"),
       "items[0].color", "items[0].color is not a known field"},
      {WithItem(R"({"productId":"p","name":"K","price":4611686018427387904,"quantity":2})"),
       "items[0]", ""},
      {Body(R"([{"productId":"p","name":"K","price":4611686018427387904,"quantity":1},)"
            R"({"productId":"q","name":"L","price":4611686018427387904,"quantity":1}])"),
       "items", "items total is too large"},
      {R"({"items":[)" + std::string(kItem) + "]}", "shippingAddress",
       "shippingAddress is required"},
      {WithAddress("\"Seoul\""), "shippingAddress", "shippingAddress must be an object"},
      {WithAddress(R"({"city":"Seoul","zipCode":"1","country":"KR"})"),
       "shippingAddress.street", "shippingAddress.street is required"},
      {WithAddress(R"({"street":"","city":"Seoul","zipCode":"1","country":"KR"})"),
       "shippingAddress.street", "shippingAddress.street must not be empty"},
      {WithAddress(R"({"street":")" + std::string(201, 's') +
                   R"(","city":"Seoul","zipCode":"1","country":"KR"})"),
       "shippingAddress.street", ""},
      {WithAddress(R"({"street":"s","zipCode":"1","country":"KR"})"), "shippingAddress.city",
       ""},
      {WithAddress(R"({"street":"s","city":")" + std::string(101, 'c') +
                   R"(","zipCode":"1","country":"KR"})"),
       "shippingAddress.city", ""},
      {WithAddress(R"({"street":"s","city":"c","country":"KR"})"), "shippingAddress.zipCode",
       ""},
      {WithAddress(R"({"street":"s","city":"c","zipCode":12345,"country":"KR"})"),
       "shippingAddress.zipCode", "shippingAddress.zipCode must be a string"},
      {WithAddress(R"({"street":"s","city":"c","zipCode":"123456789012345678901","country":"KR"})"),
       "shippingAddress.zipCode", ""},
      {WithAddress(R"({"street":"s","city":"c","zipCode":"1"})"), "shippingAddress.country",
       "shippingAddress.country is required"},
      {WithAddress(R"({"street":"s","city":"c","zipCode":"1","country":"KR","express":"yes"})"),
       "shippingAddress.express", "shippingAddress.express must be true or false"},
      {WithAddress(R"({"street":"s","city":"c","zipCode":"1","country":"KR","floor":3})"),
       "shippingAddress.floor", "shippingAddress.floor is not a known field"},
      {Body(std::string("[") + kItem + "]", kAddress, R"(,"currency":"krw")"), "currency", ""},
      {Body(std::string("[") + kItem + "]", kAddress, R"(,"currency":"KRWX")"), "currency", ""},
      {Body(std::string("[") + kItem + "]", kAddress, R"(,"currency":5)"), "currency",
       "currency must be a string"},
      {Body(std::string("[") + kItem + "]", kAddress, R"(,"coupon":"X")"), "coupon",
       "coupon is not a known field"},
      {Body(std::string("[") + kItem + "]", kAddress, R"(,"items":[])"), "items",
       "items appears twice"},
      {Body(std::string("[") + kItem + "]", kAddress, R"(,"totalAmount":1)"), "totalAmount",
       "totalAmount 1 does not match the items' total 78000"},
      {Body(std::string("[") + kItem + "]", kAddress, R"(,"totalAmount":78000.0)"),
       "totalAmount", ""},
      {Body(std::string("[") + kItem + "]", kAddress, R"(,"userId":"")"), "userId",
       "userId must not be empty"},
  };
  for (const BadBody& bad : cases) {
    Result<CreateOrder> c = Create(bad.body, Admin());
    CAPTURE(bad.body);
    REQUIRE_FALSE(c.ok());
    CHECK(c.status().code() == ErrorCode::kInvalidArgument);
    CHECK(c.status().field() == bad.field);
    if (!bad.message.empty()) CHECK(c.status().message() == bad.message);
  }
}

TEST_CASE("more than 100 items is refused") {
  std::string items = "[";
  for (int i = 0; i < 101; ++i) items += (i ? "," : "") + std::string(kItem);
  Result<CreateOrder> c = Create(Body(items + "]"));
  CHECK(c.status().field() == "items");
  CHECK(c.status().message() == "items must have at most 100 items");
}

TEST_CASE("malformed, empty or non-object bodies are refused without a field") {
  for (const char* bad : {"", "not json", "[]", R"({"items":)", "{} {}", "null"}) {
    Result<CreateOrder> c = Create(bad);
    CAPTURE(bad);
    CHECK(c.status().code() == ErrorCode::kInvalidArgument);
    CHECK(c.status().field().empty());
  }
}

TEST_CASE("a customer may not create an order for another user; an admin may") {
  const std::string for_other = Body(std::string("[") + kItem + "]", kAddress, R"(,"userId":"user-2")");
  Result<CreateOrder> customer = Create(for_other, Customer("user-1"));
  CHECK(customer.status().code() == ErrorCode::kPermissionDenied);
  CHECK(customer.status().field() == "userId");

  const std::string for_self = Body(std::string("[") + kItem + "]", kAddress, R"(,"userId":"user-1")");
  CHECK_OK(Create(for_self, Customer("user-1")));

  Result<CreateOrder> admin = Create(for_other, Admin());
  REQUIRE_OK(admin);
  CHECK(admin->user_id == "user-2");
  Result<CreateOrder> admin_self = Create(Body(), Admin());
  REQUIRE_OK(admin_self);
  CHECK(admin_self->user_id == "admin-1");
}

TEST_CASE("order ids from the path are checked") {
  for (const std::string& bad : {std::string(), std::string("a b"), std::string("x/y"),
                                 std::string(65, 'a'), std::string("ü")}) {
    Result<ApproveOrder> c = ParseApproveOrder(bad, "", Meta(Admin()));
    CHECK(c.status().field() == "orderId");
  }
  CHECK_OK(ParseApproveOrder("6415479c-65dc-4f50-bf63-af83bd0561e6", "", Meta(Admin())));
  CHECK_OK(ParseApproveOrder("o_1", " {} ", Meta(Admin())));
}

TEST_CASE("approve, ship, pay and cancel bodies name their bad fields") {
  const CommandMeta meta = Meta(Admin());
  CHECK(ParseApproveOrder("o1", R"({"force":true})", meta).status().field() == "force");
  CHECK(ParseApproveOrder("o1", "[]", meta).status().code() == ErrorCode::kInvalidArgument);

  Result<ShipOrder> ship = ParseShipOrder("o1", R"({"trackingNumber":"TRK-1"})", meta);
  REQUIRE_OK(ship);
  CHECK(ship->tracking_number == "TRK-1");
  Result<ShipOrder> untracked = ParseShipOrder("o1", R"({"trackingNumber":null})", meta);
  REQUIRE_OK(untracked);
  CHECK_FALSE(untracked->tracking_number.has_value());
  CHECK(ParseShipOrder("o1", R"({"trackingNumber":5})", meta).status().field() ==
        "trackingNumber");
  CHECK(ParseShipOrder("o1", R"({"trackingNumber":""})", meta).status().field() ==
        "trackingNumber");
  CHECK(ParseShipOrder("o1", R"({"trackingNumber":")" + std::string(65, 't') + "\"}", meta)
            .status()
            .field() == "trackingNumber");

  Result<CompletePayment> pay = ParseCompletePayment("o1", R"({"method":"card","amount":500})", meta);
  REQUIRE_OK(pay);
  CHECK(pay->amount == 500);
  CHECK(ParseCompletePayment("o1", R"({"amount":500})", meta).status().field() == "method");
  CHECK(ParseCompletePayment("o1", R"({"method":"card"})", meta).status().field() == "amount");
  CHECK(ParseCompletePayment("o1", "", meta).status().field() == "method");
  CHECK(ParseCompletePayment("o1", R"({"method":"card","amount":5.5})", meta).status().message() ==
        "amount must be an integer, not a fraction");
  CHECK(ParseCompletePayment("o1", R"({"method":"card","amount":-5})", meta).status().field() ==
        "amount");
  CHECK(ParseCompletePayment("o1", R"({"method":"","amount":5})", meta).status().field() ==
        "method");
  CHECK(ParseCompletePayment("o1", R"({"method":"card","amount":5,"tip":1})", meta)
            .status()
            .field() == "tip");

  Result<CancelOrder> cancel = ParseCancelOrder("o1", R"({"reason":"line one\nline two"})", meta);
  REQUIRE_OK(cancel);
  CHECK(cancel->reason == "line one\nline two");
  CHECK(ParseCancelOrder("o1", R"({"reason":"bell\u0007"})", meta).status().field() == "reason");
  CHECK(ParseCancelOrder("o1", R"({"reason":")" + std::string(501, 'r') + "\"}", meta)
            .status()
            .field() == "reason");
  CHECK_OK(ParseCancelOrder("o1", "", meta));
}

TEST_CASE("list parameters are checked and named") {
  CHECK(ParseListQuery({.status = "DONE"}).status().field() == "status");
  CHECK(ParseListQuery({.date_from = "yesterday"}).status().field() == "dateFrom");
  CHECK(ParseListQuery({.date_to = "2026-02-30"}).status().field() == "dateTo");
  CHECK(ParseListQuery({.page = "0"}).status().field() == "page");
  CHECK(ParseListQuery({.page = "x"}).status().field() == "page");
  CHECK(ParseListQuery({.limit = "101"}).status().field() == "limit");
  CHECK(ParseListQuery({.limit = "0"}).status().field() == "limit");
  CHECK(ParseListQuery({.limit = "-1"}).status().field() == "limit");
  CHECK(ParseListQuery({.user_id = std::string(65, 'u')}).status().field() == "userId");
  auto defaults = ParseListQuery({.status = "", .page = ""});
  REQUIRE_OK(defaults);
  CHECK(defaults->page == 1);
  CHECK(defaults->limit == 20);
  CHECK_FALSE(defaults->status.has_value());
}

TEST_CASE("list parameters convert to a filter: a date covers its whole day, a time is inclusive") {
  using testing::kDay;
  using testing::kDay0;
  auto query = ParseListQuery({.status = "CREATED", .date_from = "2026-11-02",
                               .date_to = "2026-11-03", .user_id = "user-1", .page = "3",
                               .limit = "7"});
  REQUIRE_OK(query);
  CHECK(query->status == OrderStatus::kCreated);
  CHECK(query->created_from_us == kDay0 + kDay);
  CHECK(query->created_to_us == kDay0 + 3 * kDay);  // exclusive: the whole of Nov 3
  CHECK(query->user_id == "user-1");
  CHECK(query->page == 3);
  CHECK(query->limit == 7);

  auto until_noon = ParseListQuery({.date_to = "2026-11-03T12:00:00Z"});
  REQUIRE_OK(until_noon);
  CHECK(until_noon->created_to_us == kDay0 + 2 * kDay + 12 * 60 * testing::kMinute + 1);
  CHECK_FALSE(until_noon->created_from_us.has_value());
}

}  // namespace
}  // namespace cairn::http
