// Embedding Cairn: a program that opens a data dir through the front door (cairn::Db), places
// an order through the order domain's command service, reads it back from the read model with
// read-your-writes, and appends and reads a raw event of its own topic. It uses only the public
// API (include/cairn/); meson builds it and the `examples` test runs it, so the README's
// "Embed Cairn in your program" section is proven by CI.
//
// usage: embed_orders DATA_DIR      (created when missing; prints what it did, exits 0)
#include <chrono>
#include <cstdio>
#include <string>

#include "cairn/db.h"

namespace {

// Prints `what` failed with the status and ends the program.
[[noreturn]] void Fail(const char* what, const cairn::Status& status) {
  std::fprintf(stderr, "%s: %s\n", what, status.ToString().c_str());
  std::exit(1);
}

cairn::CreateOrder SampleOrder() {
  cairn::CreateOrder create;
  create.meta.actor = cairn::Actor{"user-42", cairn::Role::kCustomer};
  create.user_id = create.meta.actor.user_id;
  create.items.push_back(cairn::OrderItem{"p-1", "Trail map", 1250, 2});
  create.shipping_address = cairn::ShippingAddress{"1 Cairn Road", "Fort William", "PH33", "GB"};
  return create;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s DATA_DIR\n", argv[0]);
    return 2;
  }
  // Defaults: sync=always (an append returns once it is on disk), 8 partitions per topic, the
  // order domain's projections running on their own threads.
  auto db = cairn::Db::Open(argv[1], cairn::DbOptions{});
  if (!db.ok()) Fail("open", db.status());

  // The command side: validate, decide, append the events and the order's state atomically.
  auto created = (*db)->orders().Handle(SampleOrder());
  if (!created.ok()) Fail("create order", created.status());
  std::printf("created order %s at %s\n", created->order_id.c_str(),
              created->position.ToString().c_str());

  // Read-your-writes: wait until the "orders" projection has applied the command's events.
  const std::string projection(cairn::kOrdersProjection);
  cairn::Status caught_up = (*db)->engine().WaitForSeq(projection, created->position.seq,
                                                       std::chrono::seconds(10));
  if (!caught_up.ok()) Fail("wait for the projection", caught_up);
  auto view = (*db)->queries().GetOrder(created->order_id, cairn::Actor{"user-42"});
  if (!view.ok()) Fail("read the order", view.status());
  std::printf("order view: %s\n", view->c_str());

  // The log itself: any topic that no domain owns takes raw events.
  cairn::AppendRequest append;
  append.topic = "audit";
  append.stream = "audit-" + created->order_id;
  append.expected = cairn::ExpectedVersion::NoStream();
  append.events.push_back(cairn::NewEvent{"", "ORDER_REVIEWED", R"({"by":"embed_orders"})"});
  auto appended = (*db)->log().Append(std::move(append));
  if (!appended.ok()) Fail("append", appended.status());
  auto stream = (*db)->log().ReadStream("audit-" + created->order_id, cairn::StreamVersion(1), 10);
  if (!stream.ok()) Fail("read the stream", stream.status());
  std::printf("stream audit-%s holds %zu event(s), the first %s\n", created->order_id.c_str(),
              stream->size(), stream->front().type.c_str());
  return 0;  // ~Db stops the projections, then closes the log and the store.
}
