// The order domain as it registers with Cairn (OrderDomain, include/cairn/orders.h): its
// projections, its three topics, and the import rules that keep its projections running.
#include "cairn/orders/events.h"
#include "cairn/orders/projections.h"
#include "cairn/orders/views.h"

namespace cairn {

namespace {

// Folds an order stream's view the way the "orders" projection will, so an imported event
// that would stop the projection (a payment before the order exists, a second
// ORDER_CREATED, data that does not parse) is refused before it is appended.
class OrderStreamChecker : public StreamChecker {
 public:
  explicit OrderStreamChecker(std::string order_id) : order_id_(std::move(order_id)) {}

  void Load(const Event& stored) override {
    if (!enabled_ || !IsOrderEventType(stored.type)) return;
    Result<OrderEvent> parsed = ParseOrderEvent(stored.type, stored.data, stored.timestamp_us);
    // The dir's own history does not fold: judge nothing that follows it.
    if (!parsed.ok() ||
        !ApplyToView(view_, *parsed, stored.timestamp_us, stored.version.value()).ok()) {
      enabled_ = false;
    }
  }

  Status Check(const NewEvent& event, StreamVersion version) override {
    if (!enabled_ || !IsOrderEventType(event.type)) return Status::Ok();
    Result<OrderEvent> parsed = ParseOrderEvent(event.type, event.data, event.timestamp_us);
    if (!parsed.ok()) {
      return Status::InvalidArgument("data: " + parsed.status().message(), "data");
    }
    if (OrderIdOf(*parsed) != order_id_) {
      return Status::InvalidArgument(
          "data.orderId " + OrderIdOf(*parsed) + " is not the aggregateId " + order_id_,
          "data.orderId");
    }
    Status applied = ApplyToView(view_, *parsed, event.timestamp_us, version.value());
    if (!applied.ok()) return Status::InvalidArgument(applied.message(), "type");
    return Status::Ok();
  }

 private:
  std::string order_id_;
  bool enabled_ = true;
  std::optional<OrderView> view_;
};

}  // namespace

DomainSpec OrderDomain() {
  DomainSpec spec;
  spec.name = "orders";
  spec.projections = OrderProjections();
  spec.owned_topics = {std::string(kOrderEventsTopic), std::string(kPaymentEventsTopic),
                       std::string(kShippingEventsTopic)};
  spec.new_checker = [](std::string_view stream) -> std::unique_ptr<StreamChecker> {
    return std::make_unique<OrderStreamChecker>(std::string(StreamKey(stream)));
  };
  return spec;
}

}  // namespace cairn
