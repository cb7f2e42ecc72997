// The order domain (DESIGN.md §3): the seed's order service rebuilt on Cairn's log and engine.
//
//   commands ──Parse*──► typed commands ──OrderService──► Decide(command, state) ──► events
//                                              │  one Log::Append: events + write-model state
//                                              ▼  + idempotency record, atomically
//   log ──engine──► OrderProjections(): "orders" (views + indexes), "order_stats", "order_search"
//                                              ▼
//                        OrderQueries: order by id, list, dashboard, search (read models only)
//
// Who calls what: the HTTP layer parses a request body with Parse*(), hands the command to
// OrderService, and answers queries with OrderQueries; it passes the authenticated Actor in, and
// maps ErrorCode to HTTP status (kInvalidArgument 400 with field(), kPermissionDenied 403,
// kNotFound 404, kConflict 409, kRuleViolation 422).
//
// Authorization lives here, not in the HTTP layer, so every caller gets it:
// - an admin may do everything, including acting for another user (CreateOrder.userId,
//   ListQuery.user_id);
// - anyone else acts as its own user: it creates orders for itself, may pay its own orders, and
//   sees only its own orders; another user's order is kNotFound (never revealed);
// - approve, ship and cancel are admin-only (kPermissionDenied), as in DESIGN.md §4;
// - the dashboard is admin-only.
//
// Money is int64 minor units (KRW has none: 12000 is ₩12,000; USD 1234 is $12.34); every sum
// and product is overflow-checked. Timestamps are microseconds since the Unix epoch, UTC.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "cairn/domain_spec.h"
#include "cairn/log.h"
#include "cairn/projection.h"
#include "cairn/status.h"
#include "cairn/types.h"

namespace cairn {

class Engine;

// ---- Actors --------------------------------------------------------------------------------

enum class Role { kCustomer, kService, kAdmin };
// "customer", "service", "admin".
std::string_view RoleName(Role role);
Result<Role> ParseRole(std::string_view text);

// Who is acting: the authenticated user and role (from the bearer token, never from the body).
struct Actor {
  std::string user_id;
  Role role = Role::kCustomer;
  bool is_admin() const { return role == Role::kAdmin; }
};

// ---- Values --------------------------------------------------------------------------------

enum class OrderStatus { kCreated, kApproved, kShipped, kCancelled };
// "CREATED", "APPROVED", "SHIPPED", "CANCELLED".
std::string_view OrderStatusName(OrderStatus status);
// Parses a status name (as above); anything else is kInvalidArgument naming `field`.
Result<OrderStatus> ParseOrderStatus(std::string_view text, std::string_view field);
inline constexpr OrderStatus kAllOrderStatuses[] = {OrderStatus::kCreated, OrderStatus::kApproved,
                                                    OrderStatus::kShipped, OrderStatus::kCancelled};

enum class PaymentStatus { kPending, kPaid };
// "PENDING", "PAID".
std::string_view PaymentStatusName(PaymentStatus status);

struct OrderItem {
  std::string product_id;
  std::string name;
  int64_t price = 0;     // minor units per piece, >= 0
  int64_t quantity = 0;  // pieces, >= 1
  bool operator==(const OrderItem&) const = default;
};

struct ShippingAddress {
  std::string street;
  std::string city;
  std::string zip_code;
  std::string country;
  bool express = false;  // estimatedDelivery = creation + 2 days if express, else + 5
  bool operator==(const ShippingAddress&) const = default;
};

inline constexpr std::string_view kDefaultCurrency = "KRW";

// Limits enforced by the Validate*/Parse* functions (string lengths are in bytes).
inline constexpr size_t kMaxOrderItems = 100;
inline constexpr int64_t kMaxItemQuantity = 1'000'000;
inline constexpr size_t kMaxIdBytes = 64;          // orderId, userId, productId
inline constexpr size_t kMaxItemNameBytes = 200;
inline constexpr size_t kMaxStreetBytes = 200;
inline constexpr size_t kMaxCityBytes = 100;
inline constexpr size_t kMaxZipCodeBytes = 20;
inline constexpr size_t kMaxCountryBytes = 64;
inline constexpr size_t kMaxTrackingNumberBytes = 64;
inline constexpr size_t kMaxPaymentMethodBytes = 32;
inline constexpr size_t kMaxCancelReasonBytes = 500;
inline constexpr size_t kMaxCommandIdBytes = 64;   // the Idempotency-Key

// Σ price × quantity with overflow checks. kInvalidArgument naming "items[i]" (the product
// overflows) or "items" (the sum overflows).
Result<int64_t> OrderTotal(const std::vector<OrderItem>& items);
// Σ quantity (the view's itemCount). REQUIRES: items validated (no overflow possible then).
int64_t ItemCount(const std::vector<OrderItem>& items);

// Minor units of one major unit's exponent: 0 for KRW and JPY, 2 for most others.
int CurrencyExponent(std::string_view currency);
// "₩12,000" (KRW), "$1,234.56" (USD), "€1,234.56" (EUR), "¥12,000" (JPY), "£1.00" (GBP);
// any other code as "CHF 1,234.56" with the exponent of CurrencyExponent.
std::string FormatMoney(int64_t minor_units, std::string_view currency);

// ---- Commands ------------------------------------------------------------------------------

// What every command carries besides its payload.
struct CommandMeta {
  // The client's Idempotency-Key: 1-64 printable ASCII characters, or empty for none. A command
  // whose (actor user, key) was already handled returns the original result without appending;
  // the same key with a different command is kConflict.
  std::string command_id;
  Actor actor;
};

struct CreateOrder {
  CommandMeta meta;
  std::string user_id;  // the order's owner; filled from meta.actor unless an admin set it
  std::vector<OrderItem> items;
  ShippingAddress shipping_address;
  std::string currency = std::string(kDefaultCurrency);
};
struct ApproveOrder {
  CommandMeta meta;
  std::string order_id;
};
struct ShipOrder {
  CommandMeta meta;
  std::string order_id;
  std::optional<std::string> tracking_number;
};
struct CompletePayment {
  CommandMeta meta;
  std::string order_id;
  std::string method;   // e.g. "card", "transfer"
  int64_t amount = 0;   // minor units; must equal the order's total
};
struct CancelOrder {
  CommandMeta meta;
  std::string order_id;
  std::optional<std::string> reason;
};
using OrderCommand = std::variant<CreateOrder, ApproveOrder, ShipOrder, CompletePayment, CancelOrder>;

// Checks the actor and the Idempotency-Key and builds the meta. Errors: kInvalidArgument
// ("Idempotency-Key" for a bad key), kUnauthenticated for an empty actor user id.
Result<CommandMeta> MakeCommandMeta(std::string_view idempotency_key, Actor actor);

// Request bodies (DESIGN.md §4) to validated commands. Unknown fields, duplicate fields,
// wrong types, fractions where integers belong, out-of-range values and over-long strings are
// kInvalidArgument with field() set, e.g. "items[0].price" or "shippingAddress.city".
//
// CreateOrder body: {items: [{productId, name, price, quantity}], shippingAddress: {street,
// city, zipCode, country, express?}, currency?, userId?, totalAmount?}. userId: an admin may
// name any user; anyone else may only name itself (else kPermissionDenied, field "userId");
// absent means the actor. totalAmount, if sent, must equal Σ price × quantity. `country` is
// required (issue 5 lists it without "?"; DESIGN.md §4 marks it optional: the issue wins).
Result<CreateOrder> ParseCreateOrder(std::string_view body, CommandMeta meta);
// `order_id` comes from the URL path; `body` may be empty, "{}" or, per command:
// approve {}, ship {trackingNumber?}, pay {method, amount}, cancel {reason?}. null counts as
// absent for optional fields.
Result<ApproveOrder> ParseApproveOrder(std::string_view order_id, std::string_view body,
                                       CommandMeta meta);
Result<ShipOrder> ParseShipOrder(std::string_view order_id, std::string_view body,
                                 CommandMeta meta);
Result<CompletePayment> ParseCompletePayment(std::string_view order_id, std::string_view body,
                                             CommandMeta meta);
Result<CancelOrder> ParseCancelOrder(std::string_view order_id, std::string_view body,
                                     CommandMeta meta);

// The field checks the Parse* functions end with, for commands built in C++. OrderService
// runs them again on every command it handles.
Status ValidateCommand(const OrderCommand& command);
// 1-64 bytes of [A-Za-z0-9_-]; kInvalidArgument naming "orderId".
Status ValidateOrderId(std::string_view order_id);

// ---- Events (data shapes are the seed's, DESIGN.md §3) -------------------------------------

inline constexpr std::string_view kOrderEventsTopic = "order-events";
inline constexpr std::string_view kPaymentEventsTopic = "payment-events";
inline constexpr std::string_view kShippingEventsTopic = "shipping-events";

struct OrderCreated {  // ORDER_CREATED on order-events
  std::string order_id;
  std::string user_id;
  std::vector<OrderItem> items;
  int64_t total_amount = 0;
  ShippingAddress shipping_address;
  std::string currency = std::string(kDefaultCurrency);  // absent in the seed's events: KRW
};
struct OrderApproved {  // ORDER_APPROVED on order-events
  std::string order_id;
};
struct OrderShipped {  // ORDER_SHIPPED on shipping-events
  std::string order_id;
  int64_t shipped_at_us = 0;  // "shippedAt"; the event's timestamp when absent
  std::optional<std::string> tracking_number;
};
struct PaymentCompleted {  // PAYMENT_COMPLETED on payment-events
  std::string order_id;
  std::string method;
  int64_t amount = 0;
};
struct OrderCancelled {  // ORDER_CANCELLED on order-events
  std::string order_id;
  std::optional<std::string> reason;
};
using OrderEvent =
    std::variant<OrderCreated, OrderApproved, OrderShipped, PaymentCompleted, OrderCancelled>;

std::string_view OrderEventType(const OrderEvent& event);   // "ORDER_CREATED", ...
std::string_view OrderEventTopic(const OrderEvent& event);  // per the table of DESIGN.md §3
const std::string& OrderIdOf(const OrderEvent& event);
// The event's data as the seed wrote it, e.g. {"orderId":…,"method":"card","amount":36000}.
std::string OrderEventData(const OrderEvent& event);
// Whether `type` is one of the five order event types.
bool IsOrderEventType(std::string_view type);
// Reads an event's data, tolerating the seed's variants (no currency: KRW; shippedAt with or
// without fraction; unknown fields ignored). `timestamp_us` fills shippedAt when it is absent.
// Errors: kInvalidArgument naming the field for missing or mistyped data, or an unknown type.
Result<OrderEvent> ParseOrderEvent(std::string_view type, std::string_view data,
                                   int64_t timestamp_us);

// "order-<orderId>".
std::string OrderStream(std::string_view order_id);

// ---- The Order aggregate (write model) ----------------------------------------------------

// What the command side needs to decide: the aggregate's state after `version` events.
struct OrderState {
  std::string order_id;
  std::string user_id;
  std::optional<OrderStatus> status;  // nullopt: no such order (version 0)
  PaymentStatus payment_status = PaymentStatus::kPending;
  int64_t total_amount = 0;
  std::string currency;
  uint64_t version = 0;  // stream version of the last event folded in
  bool exists() const { return status.has_value(); }
  bool operator==(const OrderState&) const = default;
};

// What a decision may depend on besides the command and the state. Decide stays pure.
struct DecideContext {
  std::string new_order_id;  // the id a CreateOrder gets
  int64_t now_us = 0;        // the time the command is handled (ORDER_SHIPPED's shippedAt)
};

// The events `command` produces on `state` (DESIGN.md §3's table), or why it may not:
// kNotFound (no such order), kRuleViolation naming the current state ("cannot ship order X:
// its status is CREATED, shipping needs APPROVED"), kRuleViolation with field "amount" when a
// payment does not match the total. Authorization is separate (Authorize).
Result<std::vector<OrderEvent>> Decide(const OrderCommand& command, const OrderState& state,
                                       const DecideContext& context);
// The state after `event`; version + 1. Applies events as facts (no rule checks): used to
// fold both freshly decided events and events read back from the log.
OrderState Evolve(OrderState state, const OrderEvent& event);
// Whether the command's actor may run it on this order (see the top of this file):
// kPermissionDenied, or kNotFound for an order the actor may not see.
Status Authorize(const OrderCommand& command, const OrderState& state);

// The write model's value in family "write.order" (key = orderId): JSON, version included.
std::string EncodeOrderState(const OrderState& state);
Result<OrderState> DecodeOrderState(std::string_view bytes);

// ---- The command side ----------------------------------------------------------------------

inline constexpr std::string_view kOrderStateFamily = "write.order";
inline constexpr std::string_view kCommandFamily = "write.commands";

// What a handled command answers: HTTP 201/200 {orderId, version, position}.
struct CommandResult {
  std::string order_id;
  StreamVersion version;  // of the order's stream after the command
  Position position;      // of the command's last event: the key to read-your-writes
  bool replayed = false;  // true when an Idempotency-Key repeat returned the original result
  // {"orderId":…,"version":3,"position":"order-events/2/17"}
  std::string ToJson() const;
};

struct OrderServiceOptions {
  // Attempts at a command whose order changed between load and append (kConflict from the
  // log). Each attempt reloads the state and decides again. Default: 8.
  int max_attempts = 8;
  // The time commands are stamped with (µs since epoch). Default: the system clock.
  std::function<int64_t()> clock;
  // The id of a new order. Default: a random UUID.
  std::function<std::string()> new_order_id;
};

// Handles order commands. Thread-safe: any number of threads may call it at once; concurrent
// commands on one order are serialized by the log's expected-version check (retried, never
// lost). `log` must outlive the service.
class OrderService {
 public:
  // Opens the write-model families ("write.order", "write.commands") on the log's store.
  static Result<std::unique_ptr<OrderService>> Open(Log* log, OrderServiceOptions options = {});

  // Validates, authorizes, decides and appends `command`:
  // - loads the order's state from "write.order" (no replay; only events appended to the
  //   stream behind the service's back, e.g. by an import, are read and folded in);
  // - appends its events to the topic of each event, stream "order-<id>", with expected
  //   version = the loaded version (NoStream for a create), and in the same WriteBatch the new
  //   state and (with an Idempotency-Key) the command's record;
  // - on kConflict reloads and decides again, up to max_attempts, then answers kConflict.
  // Errors: those of ValidateCommand, Authorize, Decide and Log::Append.
  Result<CommandResult> Handle(const OrderCommand& command);

  // The order's current state (version 0 and no status when it does not exist).
  Result<OrderState> Load(std::string_view order_id) const;

 private:
  OrderService(Log* log, OrderServiceOptions options, Family* states, Family* commands);
  Result<std::optional<CommandResult>> FindHandled(const CommandMeta& meta,
                                                   std::string_view fingerprint) const;
  Result<std::optional<CommandResult>> Attempt(const OrderCommand& command,
                                               const std::string& order_id,
                                               std::string_view fingerprint);

  Log* log_;
  OrderServiceOptions options_;
  Family* states_;
  Family* commands_;
};

// ---- Read models ---------------------------------------------------------------------------

inline constexpr std::string_view kOrdersProjection = "orders";          // views + indexes
inline constexpr std::string_view kOrderStatsProjection = "order_stats";  // dashboard
inline constexpr std::string_view kOrderSearchProjection = "order_search";

// The three projections of the order domain, for Engine::Open. Their tables and keys are
// described in src/domain/keys.h.
std::vector<ProjectionSpec> OrderProjections();

// The order domain as Db and the engine run it: OrderProjections(), the three order topics
// (owned: raw appends to them are refused), and a checker that refuses an imported event of an
// order stream that the projections could not apply.
DomainSpec OrderDomain();

struct StatusChange {
  OrderStatus status;
  int64_t at_us = 0;
  bool operator==(const StatusChange&) const = default;
};
struct PaymentDetails {
  std::string method;
  int64_t amount = 0;
  int64_t paid_at_us = 0;
  bool operator==(const PaymentDetails&) const = default;
};

// Everything the order screen shows. Stored in the "orders" projection as the JSON the API
// returns (ToJson):
// {orderId, userId, status, paymentStatus, items, totalAmount, currency, itemCount,
//  formattedTotal, shippingAddress, estimatedDelivery, trackingNumber?, shippedAt?, payment?
//  {method, amount, paidAt}, cancellationReason?, createdAt, updatedAt, version,
//  history: [{status, at}]} with ISO-8601 UTC timestamps with microseconds.
struct OrderView {
  std::string order_id;
  std::string user_id;
  OrderStatus status = OrderStatus::kCreated;
  PaymentStatus payment_status = PaymentStatus::kPending;
  std::vector<OrderItem> items;
  int64_t total_amount = 0;
  std::string currency = std::string(kDefaultCurrency);
  ShippingAddress shipping_address;
  int64_t estimated_delivery_us = 0;  // ORDER_CREATED's timestamp + 2 or 5 days
  std::optional<std::string> tracking_number;
  std::optional<int64_t> shipped_at_us;
  std::optional<PaymentDetails> payment;
  std::optional<std::string> cancellation_reason;
  int64_t created_at_us = 0;
  int64_t updated_at_us = 0;
  uint64_t version = 0;  // stream version of the last event applied
  std::vector<StatusChange> history;

  std::string ToJson() const;
  bool operator==(const OrderView&) const = default;
};
// Reads a view back (the derived itemCount and formattedTotal are ignored).
Result<OrderView> ParseOrderView(std::string_view json);
// Applies one event with its log timestamp and stream version to a view, deterministically
// (only the event's own time is used). `view` is nullopt before ORDER_CREATED. kInvalidArgument
// for an event that cannot apply (ORDER_CREATED twice, another event before ORDER_CREATED).
Status ApplyToView(std::optional<OrderView>& view, const OrderEvent& event, int64_t timestamp_us,
                   uint64_t version);

// ---- Queries -------------------------------------------------------------------------------

struct ListQuery {
  std::optional<OrderStatus> status;
  std::optional<int64_t> created_from_us;  // inclusive
  std::optional<int64_t> created_to_us;    // exclusive
  std::optional<std::string> user_id;
  uint32_t page = 1;    // 1 ..
  uint32_t limit = 20;  // 1 .. 100
};
// The query string of GET /api/orders, unparsed; absent parameters stay nullopt.
struct ListParams {
  std::optional<std::string> status, date_from, date_to, user_id, page, limit;
};
// Validates and converts: status a status name; dateFrom/dateTo ISO-8601 (a date-only dateTo
// includes that whole day; a timestamp dateTo is inclusive); page 1..1,000,000; limit 1..100.
// Errors name the parameter ("status", "dateFrom", "page", ...).
Result<ListQuery> ParseListQuery(const ListParams& params);

// One page of GET /api/orders. `orders` holds each view's JSON as stored.
struct OrderPage {
  std::vector<std::string> orders;
  uint64_t total = 0;  // orders matching the filters, over all pages
  uint32_t page = 1;
  uint32_t limit = 20;
  // {"orders":[…],"total":…,"page":…,"limit":…}
  std::string ToJson() const;
};

enum class DashboardPeriod { kToday, k7Days, k30Days, kAll };
// "today", "7d", "30d", "all"; anything else is kInvalidArgument naming "period".
Result<DashboardPeriod> ParseDashboardPeriod(std::string_view text);
std::string_view DashboardPeriodName(DashboardPeriod period);

// Counts over the orders created in a period. Periods are whole UTC days ending with the day
// of `now`: today = that day, 7d = it and the 6 before, 30d likewise; the previous period is the
// same number of days just before. `all` has no previous period.
struct DashboardFigures {
  uint64_t orders = 0;
  uint64_t by_status[4] = {0, 0, 0, 0};  // indexed by OrderStatus
  uint64_t paid_orders = 0;              // paid and not cancelled
  // Revenue: Σ totalAmount of orders that are paid and not cancelled, per currency.
  std::vector<std::pair<std::string, int64_t>> revenue_by_currency;  // sorted by currency
  int64_t Revenue(std::string_view currency) const;
};
// One day's orders and KRW revenue (as in DashboardFigures), for the dashboard's chart.
struct DashboardDay {
  int64_t day = 0;  // UTC days since 1970
  uint64_t orders = 0;
  int64_t revenue = 0;  // in KRW, the default currency
};
struct Dashboard {
  DashboardPeriod period = DashboardPeriod::kAll;
  std::optional<int64_t> from_us;  // start of the period (nullopt for all)
  int64_t to_us = 0;               // end of the period (exclusive): midnight after `now`
  DashboardFigures current;
  std::optional<DashboardFigures> previous;  // nullopt for all
  // Each day of the period, oldest first; for all, the last 30 days (today included).
  std::vector<DashboardDay> days;
  // {total, byStatus:{CREATED:…}, paidOrders, revenue, currency, formattedRevenue,
  //  revenueByCurrency:{KRW:…}, period:{name, from, to}, trends:{orders:{current, previous,
  //  changePercent}, revenue:{…}}, days:[{date:"2026-12-01", orders, revenue}]}. revenue is in
  //  KRW (the default currency; other currencies appear only in revenueByCurrency);
  //  changePercent is null without a previous period or when the previous value is 0.
  std::string ToJson() const;
};

struct SearchResults {
  std::vector<std::string> results;  // views' JSON, newest first, at most the limit
  uint64_t total = 0;                // every match
  // {"results":[…],"total":…}
  std::string ToJson() const;
};

// Answers the order queries from the read models only (never the log). Thread-safe. Each call
// takes the projections' current generation, so a rebuild switching generations is seamless.
// For read-your-writes the caller waits first (Engine::WaitForSeq) on the projections a query
// reads: GetOrder and ListOrders read "orders"; GetDashboard "order_stats"; Search
// "order_search" and "orders".
class OrderQueries {
 public:
  using ReadModelSource =
      std::function<Result<std::shared_ptr<const ReadModel>>(const std::string& projection)>;
  // Reads through engine.Read(). `engine` must outlive this object.
  explicit OrderQueries(const Engine& engine);
  // Reads through any source of read models (tests use an in-memory one).
  explicit OrderQueries(ReadModelSource source) : source_(std::move(source)) {}

  // The order's view JSON. kNotFound when it does not exist or belongs to another user and the
  // actor is not an admin.
  Result<std::string> GetOrder(std::string_view order_id, const Actor& actor) const;
  // Newest first (by creation time), filters applied before paging. A non-admin is limited to
  // its own orders; naming another user_id is kPermissionDenied (field "userId").
  Result<OrderPage> ListOrders(const ListQuery& query, const Actor& actor) const;
  // Admin only (else kPermissionDenied). `now_us` is the caller's clock.
  Result<Dashboard> GetDashboard(DashboardPeriod period, int64_t now_us, const Actor& actor) const;
  // Orders containing every term of `q` (the last term may be a prefix) in their id, user id,
  // item names or address; a non-admin's search covers only its own orders. `q`: 1-256 bytes
  // and at most 8 terms (field "q"); limit 1..100 (field "limit").
  Result<SearchResults> Search(std::string_view q, uint32_t limit, const Actor& actor) const;

 private:
  Result<std::shared_ptr<const ReadModel>> Read(std::string_view projection) const;
  ReadModelSource source_;
};

}  // namespace cairn
