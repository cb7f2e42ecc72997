#!/usr/bin/env python3
"""End-to-end tests of the order API (suite e2e): the order lifecycle create, pay, approve, ship
and cancel with read-your-writes, list filters before paging, and Idempotency-Keys.

usage: python3 tests/http/e2e_orders_test.py CAIRN [unittest args]
  e.g. python3 tests/http/e2e_orders_test.py build/cairn -k Idempotency
"""
import random
import sys
import time
import urllib.parse

import e2e_util
from e2e_util import (ADMIN, SERVICE, ALICE, BOB, order_body, ApiTestCase, run_threads,
                       setUpModule, tearDownModule)
# setUpModule starts the server this file's tests share (e2e_util.main_server());
# tearDownModule stops it and checks its log holds no token.


class OrderLifecycleTest(ApiTestCase):

    def test_create_pay_approve_ship_with_read_your_writes(self):
        created = self.create(ALICE, order_body(price=6000, quantity=2))
        self.assertEqual(set(created), {"orderId", "version", "position"})
        order_id = created["orderId"]
        self.assertEqual(created["version"], 1)
        self.assertRegex(created["position"], r"^order-events/\d+/\d+$")

        v = self.view(order_id, created["position"], ALICE)
        self.assertEqual(v["orderId"], order_id)
        self.assertEqual(v["userId"], "alice")
        self.assertEqual((v["status"], v["paymentStatus"]), ("CREATED", "PENDING"))
        self.assertEqual(v["totalAmount"], 12000)
        self.assertEqual(v["currency"], "KRW")
        self.assertEqual(v["itemCount"], 1)  # item lines, as the seed counted them
        self.assertEqual(v["unitCount"], 2)  # pieces
        self.assertEqual(v["formattedTotal"], "₩12,000")
        self.assertEqual(v["version"], 1)
        self.assertEqual(v["items"], order_body()["items"])
        self.assertEqual(v["shippingAddress"]["city"], "Seoul")
        for key in ("createdAt", "updatedAt", "estimatedDelivery"):
            self.assertRegex(v[key], r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$", key)
        self.assertEqual(days_between(v["createdAt"], v["estimatedDelivery"]), 5)
        self.assertEqual([h["status"] for h in v["history"]], ["CREATED"])

        dashboard = lambda after: self.assertStatus(self.srv.get(
            "/api/dashboard?period=all&after=" + urllib.parse.quote(after)), 200)
        revenue_before = dashboard(created["position"])["revenue"]
        paid = self.command(order_id, "pay", {"method": "card", "amount": 12000}, ALICE)
        self.assertEqual(dashboard(paid["position"])["revenue"], revenue_before + 12000)
        self.assertEqual(paid["version"], 2)
        self.assertRegex(paid["position"], r"^payment-events/\d+/\d+$")
        v = self.view(order_id, paid["position"], ALICE)
        self.assertEqual((v["status"], v["paymentStatus"]), ("CREATED", "PAID"))
        self.assertEqual(v["payment"]["method"], "card")
        self.assertEqual(v["payment"]["amount"], 12000)

        approved = self.command(order_id, "approve")
        self.assertEqual(approved["version"], 3)
        self.assertEqual(self.view(order_id, approved["position"])["status"], "APPROVED")

        shipped = self.command(order_id, "ship", {"trackingNumber": "CJ-1234567890"})
        self.assertEqual(shipped["version"], 4)
        self.assertRegex(shipped["position"], r"^shipping-events/\d+/\d+$")
        v = self.view(order_id, shipped["position"], ALICE)
        self.assertEqual((v["status"], v["paymentStatus"]), ("SHIPPED", "PAID"))
        self.assertEqual(v["trackingNumber"], "CJ-1234567890")
        self.assertEqual(v["version"], 4)
        self.assertEqual([h["status"] for h in v["history"]], ["CREATED", "APPROVED", "SHIPPED"])

        # The status index moved the order (the seed kept it under CREATED too).
        after = urllib.parse.quote(shipped["position"])
        shipped_list = self.srv.get(f"/api/orders?status=SHIPPED&limit=100&after={after}", ALICE).json
        created_list = self.srv.get(f"/api/orders?status=CREATED&limit=100&after={after}", ALICE).json
        self.assertIn(order_id, [o["orderId"] for o in shipped_list["orders"]])
        self.assertNotIn(order_id, [o["orderId"] for o in created_list["orders"]])

        # The log holds the four events, one stream, on the seed's topics.
        stream = self.assertStatus(self.srv.get(f"/api/streams/order-{order_id}", SERVICE), 200)
        self.assertEqual(stream["stream"], f"order-{order_id}")
        self.assertEqual(stream["version"], 4)
        self.assertEqual([(e["type"], e["topic"], e["version"]) for e in stream["events"]],
                         [("ORDER_CREATED", "order-events", 1),
                          ("PAYMENT_COMPLETED", "payment-events", 2),
                          ("ORDER_APPROVED", "order-events", 3),
                          ("ORDER_SHIPPED", "shipping-events", 4)])
        self.assertEqual([e["position"] for e in stream["events"]],
                         [created["position"], paid["position"], approved["position"],
                          shipped["position"]])
        self.assertEqual(stream["events"][0]["data"]["totalAmount"], 12000)
        self.assertEqual(stream["events"][0]["metadata"]["userId"], "alice")

    def test_cancel_with_reason_and_express_delivery(self):
        created = self.create(BOB, order_body(price=500, quantity=3, express=True))
        v = self.view(created["orderId"], created["position"], BOB)
        self.assertEqual(days_between(v["createdAt"], v["estimatedDelivery"]), 2)
        cancelled = self.command(created["orderId"], "cancel", {"reason": "changed my mind"})
        v = self.view(created["orderId"], cancelled["position"], BOB)
        self.assertEqual(v["status"], "CANCELLED")
        self.assertEqual(v.get("cancellationReason"), "changed my mind")
        self.assertEqual([h["status"] for h in v["history"]], ["CREATED", "CANCELLED"])

    def test_every_write_is_visible_to_the_next_read_with_after(self):
        # Read-your-writes must hold on every try, not most: no 404 right after a 201.
        for i in range(15):
            created = self.create(ALICE, order_body(name=f"Ryw Widget {i}"))
            order_id, position = created["orderId"], created["position"]
            self.assertEqual(self.view(order_id, position, ALICE)["orderId"], order_id)
            r = self.srv.get(f"/api/orders/{order_id}", ALICE, headers={"X-Cairn-After": position})
            self.assertEqual(r.status, 200, r)
        quoted = urllib.parse.quote(position)
        listed = self.assertStatus(self.srv.get(f"/api/orders?limit=1&after={quoted}", ALICE), 200)
        self.assertEqual(listed["orders"][0]["orderId"], order_id)  # newest first
        found = self.assertStatus(
            self.srv.get(f"/api/search?q=Ryw+Widget+14&after={quoted}", ALICE), 200)
        self.assertIn(order_id, [o["orderId"] for o in found["results"]])
        dash = self.assertStatus(self.srv.get(f"/api/dashboard?period=today&after={quoted}"), 200)
        self.assertGreaterEqual(dash["total"], 15)
        self.assertIn("byStatus", dash)

    def test_list_filters_apply_before_paging_newest_first(self):
        user = f"pager-{random.randrange(1 << 30)}"
        ids = []
        for i in range(5):
            created = self.create(ADMIN, order_body(userId=user, price=100 * (i + 1), quantity=1))
            ids.append(created["orderId"])
        cancelled = self.command(ids[1], "cancel")
        q = f"&userId={user}&after=" + urllib.parse.quote(cancelled["position"])
        pages = [self.assertStatus(self.srv.get(f"/api/orders?limit=2&page={p}{q}"), 200)
                 for p in (1, 2, 3)]
        self.assertEqual([p["total"] for p in pages], [5, 5, 5])
        self.assertEqual([(p["page"], p["limit"]) for p in pages], [(1, 2), (2, 2), (3, 2)])
        listed = [o["orderId"] for p in pages for o in p["orders"]]
        self.assertEqual(listed, list(reversed(ids)))
        today = time.strftime("%Y-%m-%d", time.gmtime())
        for dates, total in [(f"&dateFrom={today}", 5), (f"&dateTo={today}", 5),
                             ("&dateTo=2000-01-01", 0), ("&dateFrom=2999-01-01", 0)]:
            r = self.assertStatus(self.srv.get(f"/api/orders?limit=100{dates}{q}"), 200)
            self.assertEqual(r["total"], total, dates)
            self.assertEqual(len(r["orders"]), total, dates)
        created_only = self.assertStatus(
            self.srv.get(f"/api/orders?status=CREATED&limit=2&page=2{q}"), 200)
        self.assertEqual(created_only["total"], 4)
        self.assertEqual([o["orderId"] for o in created_only["orders"]], [ids[2], ids[0]])

    def test_idempotency_key_returns_the_same_order_once(self):
        key = f"create-{random.randrange(1 << 40)}"
        before = self.settled_total(ALICE)
        first = self.srv.post("/api/orders", order_body(), ALICE, headers={"Idempotency-Key": key})
        second = self.srv.post("/api/orders", order_body(), ALICE, headers={"Idempotency-Key": key})
        self.assertEqual(first.status, 201, first)
        self.assertIn(second.status, (200, 201), second)
        self.assertEqual(second.json["orderId"], first.json["orderId"])
        self.assertEqual(second.json["position"], first.json["position"])
        self.assertEqual(second.header("Idempotent-Replayed"), "true")
        self.assertEqual(self.total_orders(first.json["position"], ALICE), before + 1)
        # The key is scoped by user: bob's identical request is another order.
        bob = self.srv.post("/api/orders", order_body(), BOB, headers={"Idempotency-Key": key})
        self.assertEqual(bob.status, 201, bob)
        self.assertNotEqual(bob.json["orderId"], first.json["orderId"])
        # A key on an action too: paying twice with one key is one payment, not a 422.
        pay_key = {"Idempotency-Key": key + "-pay"}
        pay = {"method": "card", "amount": 12000}
        p1 = self.srv.post(f"/api/orders/{first.json['orderId']}/pay", pay, ALICE, headers=pay_key)
        p2 = self.srv.post(f"/api/orders/{first.json['orderId']}/pay", pay, ALICE, headers=pay_key)
        self.assertEqual(p1.status, 200, p1)
        self.assertEqual(p2.status, 200, p2)
        self.assertEqual(p2.json, p1.json)

    def test_concurrent_requests_with_one_idempotency_key_create_one_order(self):
        key = f"race-{random.randrange(1 << 40)}"
        before = self.settled_total(BOB)
        results = run_threads(8, lambda i: self.srv.post(
            "/api/orders", order_body(), BOB, headers={"Idempotency-Key": key}))
        for r in results:
            self.assertIn(r.status, (200, 201), r)
        self.assertEqual(len({r.json["orderId"] for r in results}), 1, results)
        position = results[0].json["position"]
        self.assertEqual(self.total_orders(position, BOB), before + 1)


def days_between(a, b):
    parse = lambda s: time.mktime(time.strptime(s[:19], "%Y-%m-%dT%H:%M:%S"))
    return round((parse(b) - parse(a)) / 86400, 6)


if __name__ == "__main__":
    sys.exit(e2e_util.main(__doc__))
