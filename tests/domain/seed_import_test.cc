// The seed's own events project unchanged: the Kafka capture of the seed's producer
// (tests/data/seed-kafka-export.kcat.jsonl, `kcat -C -J` lines whose payload is the
// seed's event JSON) is appended to streams order-<aggregateId> in version order, and every
// projection must apply all 30 orders; the views, lists and dashboard must agree with a fold of
// the same events done here, and the command side must carry on from the imported streams.
#include <doctest/doctest.h>

#include <algorithm>
#include <fstream>
#include <map>
#include <string>
#include <vector>

#include "cairn/orders.h"
#include "domain_test_util.h"
#include "base/iso_time.h"
#include "base/json_reader.h"

#ifndef CAIRN_SAMPLES_DIR
#error "CAIRN_SAMPLES_DIR must name the directory of the seed's samples"
#endif

namespace cairn {
namespace {

using testing::Admin;
using testing::Customer;
using testing::Harness;

struct SeedEvent {
  std::string topic;
  std::string kafka_id;  // topic-partition-offset: a stable event id
  std::string type;
  std::string aggregate_id;
  int64_t version = 0;
  int64_t timestamp_us = 0;
  std::string data;  // the payload's "data", as raw JSON
};

// Reads the seed's payload JSON {type, aggregateId, version, timestamp, data}.
Status ReadPayload(std::string_view payload, SeedEvent* e) {
  json::Input input(payload);
  Result<json::Object> root = input.RootObject();
  if (!root.ok()) return root.status();
  return json::ForEachField(*root, "", [&](std::string_view key, json::Value v) -> Status {
    if (key == "type") return json::Assign(json::ReadString(v, key), &e->type);
    if (key == "aggregateId") return json::Assign(json::ReadString(v, key), &e->aggregate_id);
    if (key == "version") return json::Assign(json::ReadInt(v, key), &e->version);
    if (key == "timestamp") {
      Result<std::string> text = json::ReadString(v, key);
      if (!text.ok()) return text.status();
      Result<json::ParsedTime> at = json::ParseIsoTime(*text, key);
      if (!at.ok()) return at.status();
      e->timestamp_us = at->micros;
      return Status::Ok();
    }
    if (key == "data") {
      Result<json::Object> data = json::ReadObject(v, key);
      if (!data.ok()) return data.status();
      std::string_view raw;
      if (data->raw_json().get(raw)) return json::FieldError(key, "is malformed");
      e->data = std::string(raw);
    }
    return Status::Ok();
  });
}

// One kcat -J line: {topic, partition, offset, ..., payload: "<seed event JSON>"}.
SeedEvent ReadLine(const std::string& line) {
  SeedEvent e;
  std::string payload;
  int64_t partition = 0, offset = 0;
  json::Input input(line);
  Result<json::Object> root = input.RootObject();
  REQUIRE_OK(root);
  Status s = json::ForEachField(*root, "", [&](std::string_view key, json::Value v) -> Status {
    if (key == "topic") return json::Assign(json::ReadString(v, key), &e.topic);
    if (key == "partition") return json::Assign(json::ReadInt(v, key), &partition);
    if (key == "offset") return json::Assign(json::ReadInt(v, key), &offset);
    if (key == "payload") return json::Assign(json::ReadString(v, key), &payload);
    return Status::Ok();
  });
  REQUIRE_MESSAGE(s.ok(), s.ToString());
  Status p = ReadPayload(payload, &e);
  REQUIRE_MESSAGE(p.ok(), p.ToString());
  e.kafka_id = e.topic + "-" + std::to_string(partition) + "-" + std::to_string(offset);
  return e;
}

// The capture's events, each stream in version order (kcat prints topic after topic).
std::vector<SeedEvent> LoadSample() {
  std::ifstream in(std::string(CAIRN_SAMPLES_DIR) + "/seed-kafka-export.kcat.jsonl");
  REQUIRE_MESSAGE(in.good(), "cannot open the seed sample in " CAIRN_SAMPLES_DIR);
  std::vector<SeedEvent> events;
  for (std::string line; std::getline(in, line);) {
    if (!line.empty()) events.push_back(ReadLine(line));
  }
  std::stable_sort(events.begin(), events.end(), [](const SeedEvent& a, const SeedEvent& b) {
    return a.timestamp_us != b.timestamp_us ? a.timestamp_us < b.timestamp_us
                                            : a.version < b.version;
  });
  return events;
}

// Appends each event to order-<aggregateId> with its version as the expectation.
void Import(Harness& h, const std::vector<SeedEvent>& events, bool expect_duplicates) {
  for (const SeedEvent& e : events) {
    AppendRequest req;
    req.topic = e.topic;
    req.stream = OrderStream(e.aggregate_id);
    req.expected = ExpectedVersion::Exact(static_cast<uint64_t>(e.version - 1));
    req.events.push_back(NewEvent{"kafka-" + e.kafka_id, e.type, e.data, {}, e.timestamp_us});
    auto appended = h.log()->Append(std::move(req));
    if (expect_duplicates) {
      // A re-import is answered from the event ids (the expectation no longer holds).
      const bool skipped = appended.ok() ? appended->duplicate
                                         : appended.status().code() == ErrorCode::kConflict;
      CHECK(skipped);
      continue;
    }
    REQUIRE_MESSAGE(appended.ok(), appended.status().ToString());
    CHECK(appended->version.value() == static_cast<uint64_t>(e.version));
  }
}

// What each order is after its events, folded here without the projections.
struct Folded {
  std::string user;
  OrderStatus status = OrderStatus::kCreated;
  bool paid = false;
  int64_t total = 0;
};
std::map<std::string, Folded> Fold(const std::vector<SeedEvent>& events) {
  std::map<std::string, Folded> orders;
  for (const SeedEvent& e : events) {
    auto event = ParseOrderEvent(e.type, e.data, e.timestamp_us);
    REQUIRE_OK(event);
    Folded& f = orders[e.aggregate_id];
    if (const auto* c = std::get_if<OrderCreated>(&*event)) {
      f.user = c->user_id;
      f.total = c->total_amount;
    } else if (std::holds_alternative<OrderApproved>(*event)) {
      f.status = OrderStatus::kApproved;
    } else if (std::holds_alternative<OrderShipped>(*event)) {
      f.status = OrderStatus::kShipped;
    } else if (std::holds_alternative<PaymentCompleted>(*event)) {
      f.paid = true;
    } else {
      f.status = OrderStatus::kCancelled;
    }
  }
  return orders;
}

TEST_CASE("the seed's Kafka export projects unchanged: all 30 orders") {
  const std::vector<SeedEvent> events = LoadSample();
  REQUIRE(events.size() == 78);
  Harness h;
  Import(h, events, false);
  h.CatchUp();
  for (const ProjectionStatus& status : h.engine().Statuses()) {
    CHECK_MESSAGE(status.state != ProjectionState::kFailed, status.name, ": ", status.error);
    CHECK(status.checkpoint == Seq(78));
  }

  const std::map<std::string, Folded> orders = Fold(events);
  REQUIRE(orders.size() == 30);
  uint64_t by_status[4] = {0, 0, 0, 0};
  int64_t revenue = 0;
  for (const auto& [id, folded] : orders) {
    const OrderView view = h.View(id);
    CHECK(view.user_id == folded.user);
    CHECK(view.status == folded.status);
    CHECK(view.payment_status == (folded.paid ? PaymentStatus::kPaid : PaymentStatus::kPending));
    CHECK(view.total_amount == folded.total);
    CHECK(view.currency == "KRW");
    CHECK(OrderTotal(view.items).value() == view.total_amount);
    ++by_status[static_cast<int>(folded.status)];
    if (folded.paid && folded.status != OrderStatus::kCancelled) revenue += folded.total;
  }

  auto list = h.queries().ListOrders({.limit = 100}, Admin());
  REQUIRE_OK(list);
  CHECK(list->total == 30);
  CHECK(list->orders.size() == 30);
  auto dashboard = h.queries().GetDashboard(DashboardPeriod::kAll, testing::kDay0, Admin());
  REQUIRE_OK(dashboard);
  CHECK(dashboard->current.orders == 30);
  for (int s = 0; s < 4; ++s) CHECK(dashboard->current.by_status[s] == by_status[s]);
  CHECK(dashboard->current.Revenue("KRW") == revenue);

  // Per creation day, from the per-day buckets: "today" on the sample's last day, with the day
  // before as the previous period.
  std::map<int64_t, uint64_t> created_per_day;
  for (const SeedEvent& e : events) {
    if (e.type == "ORDER_CREATED") ++created_per_day[json::DayOf(e.timestamp_us)];
  }
  const int64_t last_day = created_per_day.rbegin()->first;
  auto today = h.queries().GetDashboard(DashboardPeriod::kToday,
                                        last_day * json::kMicrosPerDay + 1, Admin());
  REQUIRE_OK(today);
  CHECK(today->current.orders == created_per_day[last_day]);
  REQUIRE(today->previous.has_value());
  CHECK(today->previous->orders == created_per_day[last_day - 1]);
  auto week = h.queries().GetDashboard(DashboardPeriod::k7Days,
                                       last_day * json::kMicrosPerDay + 1, Admin());
  REQUIRE_OK(week);
  CHECK(week->current.orders == 30);
}

TEST_CASE("seed orders read as the seed's screen showed them, from event times") {
  Harness h;
  Import(h, LoadSample(), false);
  h.CatchUp();
  const OrderView cancelled = h.View("6415479c-65dc-4f50-bf63-af83bd0561e6");
  CHECK(cancelled.status == OrderStatus::kCancelled);
  CHECK(cancelled.cancellation_reason == "customer request");
  CHECK(cancelled.user_id == "user-2");
  CHECK(cancelled.items[0].name == "무선 키보드");
  auto json = h.queries().GetOrder("6415479c-65dc-4f50-bf63-af83bd0561e6", Customer("user-2"));
  REQUIRE_OK(json);
  // The seed's read model counts item lines (items.length): 2 lines of 2 pieces each.
  CHECK(json->find(R"("itemCount":2,"unitCount":4,"formattedTotal":"₩128,000")") !=
        std::string::npos);
  CHECK(json->find(R"("estimatedDelivery":"2026-11-06T14:33:00.000000Z")") != std::string::npos);
  CHECK(json->find(R"("createdAt":"2026-11-01T14:33:00.000000Z","updatedAt":"2026-11-01T14:38:00.000000Z")") !=
        std::string::npos);

  const OrderView shipped = h.View("ab1031d0-f646-41f4-8a09-7c976bf46c69");
  CHECK(shipped.status == OrderStatus::kShipped);
  CHECK(shipped.tracking_number == "TRK-1006");
  CHECK(shipped.shipped_at_us == json::ParseIsoTime("2026-11-01T17:42:00Z", "t")->micros);
  CHECK(shipped.payment_status == PaymentStatus::kPaid);
  CHECK(shipped.version == 4);

  auto search = h.queries().Search("키보드", 100, Admin());
  REQUIRE_OK(search);
  CHECK(search->total > 0);
}

TEST_CASE("re-importing the sample changes nothing; commands carry on from imported orders") {
  const std::vector<SeedEvent> events = LoadSample();
  Harness h;
  Import(h, events, false);
  Import(h, events, true);
  CHECK(h.log()->LastSeq() == Seq(78));
  h.CatchUp();

  // Pick an imported order still in CREATED and move it on through the service.
  const std::map<std::string, Folded> orders = Fold(events);
  auto open = std::find_if(orders.begin(), orders.end(), [](const auto& o) {
    return o.second.status == OrderStatus::kCreated && !o.second.paid;
  });
  REQUIRE(open != orders.end());
  const std::string id = open->first;
  auto state = h.service().Load(id);
  REQUIRE_OK(state);
  CHECK(state->status == OrderStatus::kCreated);
  auto pay = h.Run(CompletePayment{testing::Meta(Customer(open->second.user)), id, "card",
                                   open->second.total});
  REQUIRE_OK(pay);
  h.Approve(id);
  h.CatchUp();
  const OrderView view = h.View(id);
  CHECK(view.status == OrderStatus::kApproved);
  CHECK(view.payment_status == PaymentStatus::kPaid);
}

}  // namespace
}  // namespace cairn
