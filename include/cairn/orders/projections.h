// The order domain's read models and its registration with Cairn: the three projections the
// engine runs, and OrderDomain(), which Db::Open registers by default (DbOptions::domains).
// Their tables and keys are described in src/domain/keys.h.
#pragma once

#include <string_view>
#include <vector>

#include "cairn/domain_spec.h"
#include "cairn/projection.h"

namespace cairn {

inline constexpr std::string_view kOrdersProjection = "orders";          // views + indexes
inline constexpr std::string_view kOrderStatsProjection = "order_stats";  // dashboard
inline constexpr std::string_view kOrderSearchProjection = "order_search";

// The three projections of the order domain, for Engine::Open.
std::vector<ProjectionSpec> OrderProjections();

// The order domain as Db and the engine run it: OrderProjections(), the three order topics
// (owned: raw appends to them are refused), and a checker that refuses an imported event of an
// order stream that the projections could not apply.
DomainSpec OrderDomain();
inline constexpr std::string_view kOrderDomainName = "orders";  // OrderDomain().name

}  // namespace cairn
