// Unit tests of the command side (OrderService) on a real Log: events and write-model state in
// one atomic append (the seed's dual write is gone), topics per event, authorization,
// idempotency keys (also under races), and concurrent commands on one order with no lost update.
#include <doctest/doctest.h>

#include <atomic>
#include <barrier>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "cairn/orders.h"
#include "domain_test_util.h"

namespace cairn {
namespace {

using testing::Admin;
using testing::Customer;
using testing::Harness;
using testing::kSampleTotal;
using testing::Meta;

std::vector<Event> StreamOf(Harness& h, const std::string& order_id) {
  auto events = h.log()->ReadStream(OrderStream(order_id), StreamVersion(1), 100);
  REQUIRE_OK(events);
  return *events;
}

OrderState StateOf(Harness& h, const std::string& order_id) {
  auto state = h.service().Load(order_id);
  REQUIRE_OK(state);
  return *state;
}

// The raw write-model value of an order (what is stored, without any catch-up).
std::optional<std::string> StoredState(Harness& h, const std::string& order_id) {
  Family* family = h.store()->FindFamily(std::string(kOrderStateFamily));
  REQUIRE(family != nullptr);
  auto value = h.store()->Get(family, order_id);
  REQUIRE_OK(value);
  return *value;
}

TEST_CASE("create appends ORDER_CREATED and stores the state in the same append") {
  Harness h(false);
  CreateOrder create = testing::SampleCreate(Customer("user-1"));
  create.meta.command_id = "key-1";
  auto result = h.Run(create);
  REQUIRE_OK(result);
  CHECK(result->version == StreamVersion(1));
  CHECK_FALSE(result->replayed);

  const std::vector<Event> events = StreamOf(h, result->order_id);
  REQUIRE(events.size() == 1);
  CHECK(events[0].type == "ORDER_CREATED");
  CHECK(events[0].topic == "order-events");
  CHECK(events[0].position() == result->position);
  CHECK(events[0].metadata.user_id == "user-1");
  CHECK(events[0].metadata.command_id == "key-1");
  CHECK(events[0].data.find(R"("totalAmount":103000)") != std::string::npos);

  auto stored = StoredState(h, result->order_id);
  REQUIRE(stored.has_value());
  auto state = DecodeOrderState(*stored);
  REQUIRE_OK(state);
  CHECK(state->status == OrderStatus::kCreated);
  CHECK(state->version == 1);
  CHECK(state->total_amount == kSampleTotal);
}

TEST_CASE("seed defect: no dual write - a failed append stores neither events nor state") {
  Harness h(false);
  const std::string id = h.Create("user-1");
  const Seq before = h.log()->LastSeq();
  const std::optional<std::string> state_before = StoredState(h, id);

  h.log()->SetWriteFaultForTesting([] { return Status::IOError("disk on fire"); });
  auto approve = h.Run(ApproveOrder{Meta(Admin()), id});
  CHECK(approve.status().code() == ErrorCode::kIOError);
  auto create = h.Run(testing::SampleCreate(Customer("user-1")));
  CHECK(create.status().code() == ErrorCode::kBusy);  // the log turned read-only
  h.log()->SetWriteFaultForTesting(nullptr);
  REQUIRE(h.log()->Resume().ok());

  CHECK(h.log()->LastSeq() == before);
  CHECK(StoredState(h, id) == state_before);  // the state did not move without its event
  CHECK(StateOf(h, id).version == 1);
  h.Approve(id);
  CHECK(StateOf(h, id).status == OrderStatus::kApproved);
  CHECK(StateOf(h, id).version == 2);
}

TEST_CASE("each event goes to its topic on the order's stream") {
  Harness h(false);
  const std::string id = h.Create("user-1");
  h.Pay(id);
  h.Approve(id);
  h.Ship(id);
  const std::string cancelled = h.Create("user-1");
  h.Cancel(cancelled);

  const std::vector<Event> events = StreamOf(h, id);
  REQUIRE(events.size() == 4);
  CHECK(events[0].type == "ORDER_CREATED");
  CHECK(events[1].type == "PAYMENT_COMPLETED");
  CHECK(events[1].topic == "payment-events");
  CHECK(events[2].type == "ORDER_APPROVED");
  CHECK(events[2].topic == "order-events");
  CHECK(events[3].type == "ORDER_SHIPPED");
  CHECK(events[3].topic == "shipping-events");
  for (const Event& e : events) CHECK(e.stream == "order-" + id);
  const OrderState state = StateOf(h, id);
  CHECK(state.status == OrderStatus::kShipped);
  CHECK(state.payment_status == PaymentStatus::kPaid);
  CHECK(state.version == 4);

  const std::vector<Event> cancel_events = StreamOf(h, cancelled);
  REQUIRE(cancel_events.size() == 2);
  CHECK(cancel_events[1].type == "ORDER_CANCELLED");
  CHECK(cancel_events[1].data == R"({"orderId":")" + cancelled + R"(","reason":"changed my mind"})");
}

TEST_CASE("a command refused by a rule appends nothing") {
  Harness h(false);
  const std::string id = h.Create("user-1");
  const Seq before = h.log()->LastSeq();
  auto ship = h.Run(ShipOrder{Meta(Admin()), id, std::nullopt});
  CHECK(ship.status().code() == ErrorCode::kRuleViolation);
  auto pay = h.Run(CompletePayment{Meta(Admin()), id, "card", kSampleTotal + 1});
  CHECK(pay.status().field() == "amount");
  auto missing = h.Run(ApproveOrder{Meta(Admin()), "no-such-order"});
  CHECK(missing.status().code() == ErrorCode::kNotFound);
  CHECK(h.log()->LastSeq() == before);
}

TEST_CASE("customers pay their own orders, cannot touch others', and cannot approve") {
  Harness h(false);
  const std::string mine = h.Create("user-1");
  const std::string theirs = h.Create("user-2");
  const Seq before = h.log()->LastSeq();
  CHECK(h.Run(CompletePayment{Meta(Customer("user-1")), theirs, "card", kSampleTotal})
            .status()
            .code() == ErrorCode::kNotFound);
  CHECK(h.Run(ApproveOrder{Meta(Customer("user-1")), mine}).status().code() ==
        ErrorCode::kPermissionDenied);
  CHECK(h.Run(testing::SampleCreate(Customer("user-1"), "user-2")).status().code() ==
        ErrorCode::kPermissionDenied);
  CHECK(h.log()->LastSeq() == before);
  CHECK_OK(h.Run(CompletePayment{Meta(Customer("user-1")), mine, "card", kSampleTotal}));
}

TEST_CASE("a repeated Idempotency-Key returns the original result and appends nothing") {
  Harness h(false);
  CreateOrder create = testing::SampleCreate(Customer("user-1"));
  create.meta.command_id = "create-1";
  auto first = h.Run(create);
  REQUIRE_OK(first);
  const Seq after_first = h.log()->LastSeq();
  auto again = h.Run(create);
  REQUIRE_OK(again);
  CHECK(again->replayed);
  CHECK(again->order_id == first->order_id);
  CHECK(again->version == first->version);
  CHECK(again->position == first->position);
  CHECK(h.log()->LastSeq() == after_first);

  // A repeat of an approve still answers with the original result after the order moved on.
  ApproveOrder approve{Meta(Admin(), "approve-1"), first->order_id};
  auto approved = h.Run(approve);
  REQUIRE_OK(approved);
  h.Pay(first->order_id);
  auto approved_again = h.Run(approve);
  REQUIRE_OK(approved_again);
  CHECK(approved_again->replayed);
  CHECK(approved_again->position == approved->position);
  CHECK(approved_again->version == StreamVersion(2));
}

TEST_CASE("an Idempotency-Key reused for another command is a conflict; keys are per user") {
  Harness h(false);
  CreateOrder create = testing::SampleCreate(Customer("user-1"));
  create.meta.command_id = "k";
  auto first = h.Run(create);
  REQUIRE_OK(first);
  CreateOrder different = create;
  different.items[0].quantity = 5;
  auto reused = h.Run(different);
  CHECK(reused.status().code() == ErrorCode::kConflict);
  CHECK(reused.status().field() == "Idempotency-Key");

  CreateOrder other_user = testing::SampleCreate(Customer("user-2"));
  other_user.meta.command_id = "k";
  auto second = h.Run(other_user);
  REQUIRE_OK(second);
  CHECK_FALSE(second->replayed);
  CHECK(second->order_id != first->order_id);
}

TEST_CASE("racing copies of one command with the same key append once") {
  Harness h(false);
  constexpr int kThreads = 16;
  CreateOrder create = testing::SampleCreate(Customer("user-1"));
  create.meta.command_id = "race-create";
  std::vector<Result<CommandResult>> results(kThreads, Status::Internal("not run"));
  std::barrier start(kThreads);
  std::vector<std::thread> threads;
  for (int i = 0; i < kThreads; ++i) {
    threads.emplace_back([&, i] {
      start.arrive_and_wait();
      results[i] = h.service().Handle(create);
    });
  }
  for (auto& t : threads) t.join();
  std::set<std::string> order_ids;
  for (const auto& r : results) {
    REQUIRE_OK(r);
    order_ids.insert(r->order_id);
    CHECK(r->position == results[0]->position);
  }
  CHECK(order_ids.size() == 1);
  CHECK(h.log()->LastSeq() == Seq(1));

  // The same for a command on an existing order.
  const std::string id = *order_ids.begin();
  threads.clear();
  for (int i = 0; i < kThreads; ++i) {
    threads.emplace_back([&, i] {
      start.arrive_and_wait();
      results[i] = h.service().Handle(ApproveOrder{Meta(Admin(), "race-approve"), id});
    });
  }
  for (auto& t : threads) t.join();
  for (const auto& r : results) {
    REQUIRE_OK(r);
    CHECK(r->position == results[0]->position);
  }
  CHECK(StreamOf(h, id).size() == 2);
}

TEST_CASE("concurrent commands on one order are all kept: no lost update") {
  Harness h(false);
  constexpr int kOrders = 40;
  std::vector<std::string> ids;
  for (int i = 0; i < kOrders; ++i) ids.push_back(h.Create("user-" + std::to_string(i % 3)));

  // For every order at once: one thread approves while another pays.
  std::atomic<int> failures{0};
  std::barrier start(2 * kOrders);
  std::vector<std::thread> threads;
  for (const std::string& id : ids) {
    threads.emplace_back([&, id] {
      start.arrive_and_wait();
      if (!h.service().Handle(ApproveOrder{Meta(Admin()), id}).ok()) ++failures;
    });
    threads.emplace_back([&, id] {
      start.arrive_and_wait();
      if (!h.service().Handle(CompletePayment{Meta(Admin()), id, "card", kSampleTotal}).ok()) {
        ++failures;
      }
    });
  }
  for (auto& t : threads) t.join();
  CHECK(failures == 0);
  for (const std::string& id : ids) {
    const OrderState state = StateOf(h, id);
    CHECK(state.status == OrderStatus::kApproved);
    CHECK(state.payment_status == PaymentStatus::kPaid);
    CHECK(state.version == 3);
    CHECK(StreamOf(h, id).size() == 3);
  }
}

TEST_CASE("ship racing cancel: exactly one wins, the other is told the new state") {
  Harness h(false);
  for (int round = 0; round < 20; ++round) {
    const std::string id = h.Create("user-1");
    h.Approve(id);
    Result<CommandResult> ship = Status::Internal("");
    Result<CommandResult> cancel = Status::Internal("");
    std::barrier start(2);
    std::thread a([&] {
      start.arrive_and_wait();
      ship = h.service().Handle(ShipOrder{Meta(Admin()), id, std::nullopt});
    });
    std::thread b([&] {
      start.arrive_and_wait();
      cancel = h.service().Handle(CancelOrder{Meta(Admin()), id, std::nullopt});
    });
    a.join();
    b.join();
    CHECK(ship.ok() != cancel.ok());
    const Status& loser = ship.ok() ? cancel.status() : ship.status();
    CHECK(loser.code() == ErrorCode::kRuleViolation);
    CHECK(loser.message().find(ship.ok() ? "SHIPPED" : "CANCELLED") != std::string::npos);
    CHECK(StreamOf(h, id).size() == 3);
    CHECK(StateOf(h, id).status == (ship.ok() ? OrderStatus::kShipped : OrderStatus::kCancelled));
  }
}

TEST_CASE("orders whose events were appended without the service load from their stream") {
  Harness h(false);
  AppendRequest req;
  req.topic = "order-events";
  req.stream = "order-imported-1";
  req.expected = ExpectedVersion::NoStream();
  req.events.push_back(NewEvent{
      "", "ORDER_CREATED",
      R"({"orderId": "imported-1", "userId": "user-9", "items": [{"productId": "p", "name": "n", "price": 1000, "quantity": 3}], "totalAmount": 3000, "shippingAddress": {"street": "s", "city": "c", "zipCode": "z", "country": "KR", "express": true}})",
      {}, 0});
  REQUIRE_OK(h.log()->Append(std::move(req)));
  CHECK_FALSE(StoredState(h, "imported-1").has_value());

  OrderState state = StateOf(h, "imported-1");
  CHECK(state.status == OrderStatus::kCreated);
  CHECK(state.user_id == "user-9");
  CHECK(state.total_amount == 3000);
  CHECK(state.currency == "KRW");
  CHECK(state.version == 1);

  auto pay = h.Run(CompletePayment{Meta(Customer("user-9")), "imported-1", "card", 3000});
  REQUIRE_OK(pay);
  CHECK(pay->version == StreamVersion(2));
  CHECK(StoredState(h, "imported-1").has_value());  // from now on the state is stored
}

}  // namespace
}  // namespace cairn
