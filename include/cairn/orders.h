// The order domain (DESIGN.md §3): the seed's order service rebuilt on Cairn's log and engine.
// This header includes the whole domain; each part has its own header in cairn/orders/:
//
//   actor.h      Role, Actor: who acts
//   values.h     statuses, items, addresses, money, limits
//   commands.h   typed commands, ValidateCommand
//   events.h     the five events in the seed's data shapes
//   aggregate.h  OrderState, Decide, Evolve, Authorize (the write model)
//   service.h    OrderService: the command side
//   projections.h  the read models' projections, OrderDomain() (the registration)
//   views.h      OrderView, ApplyToView
//   queries.h    OrderQueries: order by id, list, dashboard, search
//
//   typed commands ──OrderService──► Decide(command, state) ──► events
//                          │  one Log::Append: events + write-model state
//                          ▼  + idempotency record, atomically
//   log ──engine──► OrderProjections(): "orders" (views + indexes), "order_stats", "order_search"
//                          ▼
//          OrderQueries: order by id, list, dashboard, search (read models only)
//
// Who calls what: the HTTP layer parses a request body into a typed command
// (src/http/order_wire.h), hands it to OrderService, answers queries with OrderQueries and
// writes their typed results as JSON; it passes the authenticated Actor in, and
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

#include "cairn/orders/actor.h"
#include "cairn/orders/aggregate.h"
#include "cairn/orders/commands.h"
#include "cairn/orders/events.h"
#include "cairn/orders/projections.h"
#include "cairn/orders/queries.h"
#include "cairn/orders/service.h"
#include "cairn/orders/values.h"
#include "cairn/orders/views.h"
