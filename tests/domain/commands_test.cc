// Unit tests of the commands' validation (ValidateCommand, MakeCommandMeta, ValidateOrderId) and
// the order values: money totals are overflow-checked; money formatting; status and role names.
// The request bodies' parsers are tested in tests/http/order_requests_test.cc.
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

TEST_CASE("the Idempotency-Key and the acting user are checked") {
  CHECK_OK(MakeCommandMeta("", Customer("u")));
  CHECK_OK(MakeCommandMeta("key-1_!~", Customer("u")));
  for (const std::string& bad : {std::string("has space"), std::string(65, 'k'),
                                 std::string("ключ")}) {
    Result<CommandMeta> meta = MakeCommandMeta(bad, Customer("u"));
    CHECK(meta.status().field() == "Idempotency-Key");
  }
  CHECK(MakeCommandMeta("k", Actor{"", Role::kAdmin}).status().code() ==
        ErrorCode::kUnauthenticated);
}

TEST_CASE("order ids are 1-64 characters of letters, digits, '-' and '_'") {
  for (const std::string& bad : {std::string(), std::string("a b"), std::string("x/y"),
                                 std::string(65, 'a'), std::string("ü")}) {
    CHECK(ValidateOrderId(bad).field() == "orderId");
  }
  CHECK(ValidateOrderId("6415479c-65dc-4f50-bf63-af83bd0561e6").ok());
  CHECK(ValidateOrderId("o_1").ok());
  CHECK(ValidateCommand(ApproveOrder{Meta(Admin()), "x/y"}).field() == "orderId");
}

TEST_CASE("commands built in C++ go through the same validation") {
  CreateOrder c = testing::SampleCreate(Customer("u1"));
  CHECK(ValidateCommand(c).ok());
  c.items.clear();
  CHECK(ValidateCommand(c).field() == "items");
  c = testing::SampleCreate(Customer("u1"));
  c.items[1].quantity = 0;
  CHECK(ValidateCommand(c).field() == "items[1].quantity");
  c = testing::SampleCreate(Customer("u1"));
  c.currency = "";
  CHECK(ValidateCommand(c).field() == "currency");
  CHECK(ValidateCommand(CompletePayment{Meta(Admin()), "o1", "card", -1}).field() == "amount");
}

TEST_CASE("order totals are exact integers with overflow checks") {
  Result<int64_t> total = OrderTotal({{"a", "A", 39000, 2}, {"b", "B", 25000, 2}});
  REQUIRE_OK(total);
  CHECK(*total == 128000);
  CHECK(ItemCount({{"a", "A", 39000, 2}, {"b", "B", 25000, 3}}) == 2);  // lines, as the seed
  CHECK(UnitCount({{"a", "A", 39000, 2}, {"b", "B", 25000, 3}}) == 5);
  CHECK(ItemCount({}) == 0);
  CHECK(OrderTotal({{"a", "A", INT64_MAX, 1}}).ok());
  CHECK(OrderTotal({{"a", "A", INT64_MAX, 2}}).status().field() == "items[0]");
  CHECK(OrderTotal({{"a", "A", INT64_MAX, 1}, {"b", "B", 1, 1}}).status().field() == "items");
}

TEST_CASE("money is formatted per currency") {
  CHECK(FormatMoney(12000, "KRW") == "₩12,000");
  CHECK(FormatMoney(0, "KRW") == "₩0");
  CHECK(FormatMoney(999, "KRW") == "₩999");
  CHECK(FormatMoney(1234567, "KRW") == "₩1,234,567");
  CHECK(FormatMoney(123456, "USD") == "$1,234.56");
  CHECK(FormatMoney(5, "USD") == "$0.05");
  CHECK(FormatMoney(100, "EUR") == "€1.00");
  CHECK(FormatMoney(100, "GBP") == "£1.00");
  CHECK(FormatMoney(12000, "JPY") == "¥12,000");
  CHECK(FormatMoney(123456, "CHF") == "CHF 1,234.56");
  CHECK(FormatMoney(-1500, "USD") == "-$15.00");
  CHECK(FormatMoney(INT64_MIN, "KRW") == "-₩9,223,372,036,854,775,808");
  CHECK(CurrencyExponent("KRW") == 0);
  CHECK(CurrencyExponent("USD") == 2);
  CHECK(CurrencyExponent("XYZ") == 2);
}

TEST_CASE("statuses and roles parse from their names only") {
  for (OrderStatus s : kAllOrderStatuses) {
    Result<OrderStatus> parsed = ParseOrderStatus(OrderStatusName(s), "status");
    REQUIRE_OK(parsed);
    CHECK(*parsed == s);
  }
  CHECK(ParseOrderStatus("created", "status").status().field() == "status");
  CHECK(ParseOrderStatus("PAID", "status").status().field() == "status");
  CHECK(*ParseRole("admin") == Role::kAdmin);
  CHECK_FALSE(ParseRole("root").ok());
}

}  // namespace
}  // namespace cairn
