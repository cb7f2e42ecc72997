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
  explicit OrderStreamChecker(std::string stream) : stream_(std::move(stream)) {}

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
    if (!Names(OrderIdOf(*parsed))) {
      return Status::InvalidArgument("data.orderId " + OrderIdOf(*parsed) +
                                         " is not the aggregateId " + std::string(StreamKey(stream_)),
                                     "data.orderId");
    }
    Status applied = ApplyToView(view_, *parsed, event.timestamp_us, version.value());
    if (!applied.ok()) return Status::InvalidArgument(applied.message(), "type");
    return Status::Ok();
  }

 private:
  // Whether the stream is the order's: its key is the order id ("order-<id>", or another
  // prefix an import chose), or, imported without a prefix, the stream is the id itself.
  bool Names(std::string_view order_id) const {
    return StreamKey(stream_) == order_id || stream_ == order_id;
  }

  std::string stream_;
  bool enabled_ = true;
  std::optional<OrderView> view_;
};

}  // namespace

DomainSpec OrderDomain() {
  DomainSpec spec;
  spec.name = std::string(kOrderDomainName);
  spec.projections = OrderProjections();
  spec.owned_topics = {std::string(kOrderEventsTopic), std::string(kPaymentEventsTopic),
                       std::string(kShippingEventsTopic)};
  spec.new_checker = [](std::string_view stream) -> std::unique_ptr<StreamChecker> {
    return std::make_unique<OrderStreamChecker>(std::string(stream));
  };
  return spec;
}

}  // namespace cairn
