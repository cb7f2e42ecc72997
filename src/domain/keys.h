// Tables and key layouts of the order domain's read models. Shared by the projections that
// write them and the queries that read them; internal to src/domain.
//
// Integers in keys are big-endian so byte order is numeric order. "NF(t)" is a creation time
// encoded newest-first: 8 bytes of ~(t with its sign bit flipped), so an ascending scan meets the
// newest order first and a [from, to) time range is one contiguous key range.
//
// Projection "orders" (topics order-events, payment-events, shipping-events):
//   views           orderId                                   -> OrderView JSON (the API's)
//   by_time         NF(createdAt) | orderId                   -> ""
//   by_user         userId | 0x00 | NF(createdAt) | orderId   -> ""
//   by_status       status | 0x00 | NF(createdAt) | orderId   -> ""
//   by_user_status  userId | 0x00 | status | 0x00 | NF | id   -> ""
//   counts          "all" | "status:<S>" | "user:<u>" | "user_status:<u>\0<S>" -> counter
// An order has exactly one entry in each index; a status change deletes the old status keys
// and writes the new ones in the same batch, and moves the counters.
//
// Projection "order_stats" (same topics):
//   orders   orderId                    -> {"s":status,"p":paid,"a":totalAmount,"c":currency,
//                                           "d":creation day}
//   totals   name                       -> counter
//   days     BE32(day ^ 0x80000000) | name -> counter, day = UTC days since 1970 of creation
// with names "orders", "status:<S>", "paid" (paid and not cancelled) and "revenue:<currency>"
// (Σ totalAmount of paid, not cancelled orders). Each order contributes to the counters of its
// creation day; a change subtracts its old contribution and adds its new one.
//
// Projection "order_search" (topic order-events):
//   terms    term | 0x00 | orderId      -> BE64 createdAt | userId
// terms: lowercased tokens of the order id, user id, item names and address (search_terms.h).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "cairn/orders/values.h"

namespace cairn::domain {

// Table names.
inline constexpr std::string_view kViews = "views";
inline constexpr std::string_view kByTime = "by_time";
inline constexpr std::string_view kByUser = "by_user";
inline constexpr std::string_view kByStatus = "by_status";
inline constexpr std::string_view kByUserStatus = "by_user_status";
inline constexpr std::string_view kCounts = "counts";
inline constexpr std::string_view kStatsOrders = "orders";
inline constexpr std::string_view kTotals = "totals";
inline constexpr std::string_view kDays = "days";
inline constexpr std::string_view kTerms = "terms";

inline constexpr size_t kTimeKeyBytes = 8;

// NF(t), see above.
std::string NewestFirst(int64_t created_at_us);

// The prefix an index key starts with (before NF): "" for by_time, "user\0", "STATUS\0",
// "user\0STATUS\0".
std::string UserPrefix(std::string_view user_id);
std::string StatusPrefix(OrderStatus status);
std::string UserStatusPrefix(std::string_view user_id, OrderStatus status);
// prefix | NF(created) | orderId.
std::string IndexKey(std::string_view prefix, int64_t created_at_us, std::string_view order_id);
// The orderId of an index key whose prefix is `prefix_size` bytes long.
std::string_view IndexKeyOrderId(std::string_view key, size_t prefix_size);
// The smallest key greater than every key starting with `prefix` ("" for the empty prefix:
// the end of the table).
std::string PrefixEnd(std::string_view prefix);

// Counter names of the "counts" table.
std::string CountAll();
std::string CountStatus(OrderStatus status);
std::string CountUser(std::string_view user_id);
std::string CountUserStatus(std::string_view user_id, OrderStatus status);

// Keys of the "days" table: DayKey(day) | name; DayKey(day) alone bounds a day range.
std::string DayKey(int64_t day);
std::string DayKey(int64_t day, std::string_view name);
// Counter names of "totals" and "days".
inline constexpr std::string_view kStatOrders = "orders";
inline constexpr std::string_view kStatPaid = "paid";
std::string StatStatus(OrderStatus status);
std::string StatRevenue(std::string_view currency);
inline constexpr std::string_view kStatStatusPrefix = "status:";
inline constexpr std::string_view kStatRevenuePrefix = "revenue:";

// Keys of the "terms" table.
std::string TermKey(std::string_view term, std::string_view order_id);
// TermKey into *key (its buffer reused).
void SetTermKey(std::string_view term, std::string_view order_id, std::string* key);
std::string TermValue(int64_t created_at_us, std::string_view user_id);

}  // namespace cairn::domain
