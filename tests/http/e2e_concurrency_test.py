#!/usr/bin/env python3
"""End-to-end tests under concurrency (suite e2e): 32 clients creating at once lose no order, a
burst of new connections is served without resets, and concurrent commands on one order are
serialized.

usage: python3 tests/http/e2e_concurrency_test.py CAIRN [unittest args]
  e.g. python3 tests/http/e2e_concurrency_test.py build/cairn -k 32_clients
"""
import json
import sys
import threading

import e2e_util
from e2e_util import (SERVICE, ALICE, CUSTOMERS, order_body, Response, ApiTestCase, run_threads,
                       setUpModule, tearDownModule)
# setUpModule starts the server this file's tests share (e2e_util.main_server());
# tearDownModule stops it and checks its log holds no token.


class ConcurrencyTest(ApiTestCase):

    def test_32_clients_creating_at_once_lose_no_order(self):
        per_client = 8
        before = self.settled_total()  # and now the read models hold every order so far
        before_user = [self.total_orders(token=CUSTOMERS[i]) for i in range(32)]

        connected = threading.Barrier(32)

        def client(i):  # one keep-alive connection per client, as an HTTP client library keeps
            acked = []
            # Connect first (retrying a reset: see test_a_burst_of_32_new_connections...), then
            # create all at once on the open connections.
            for _ in range(10):
                conn = self.srv.connect()
                try:
                    conn.request("GET", "/healthz")
                    conn.getresponse().read()
                    break
                except ConnectionResetError:
                    conn.close()
            connected.wait()
            headers = {"Authorization": f"Bearer {CUSTOMERS[i]}", "Content-Type": "application/json"}
            try:
                for _ in range(per_client):
                    conn.request("POST", "/api/orders", json.dumps(order_body(quantity=i + 1)), headers)
                    raw = conn.getresponse()
                    r = Response(raw.status, raw.getheaders(), raw.read())
                    if r.status != 201:
                        return acked, r
                    acked.append(r.json)
            finally:
                conn.close()
            return acked, None

        results = run_threads(32, client)
        failures = [r for _, r in results if r is not None]
        self.assertEqual(failures, [], "creates refused under load")
        acked = [o for orders, _ in results for o in orders]
        self.assertEqual(len(acked), 32 * per_client)
        self.assertEqual(len({o["orderId"] for o in acked}), len(acked), "an orderId was reused")
        for i, (orders, _) in enumerate(results):
            last = orders[-1]["position"]
            self.assertEqual(self.total_orders(last, CUSTOMERS[i]), before_user[i] + per_client)
            for o in orders:
                v = self.view(o["orderId"], o["position"], CUSTOMERS[i])
                self.assertEqual((v["userId"], v["itemCount"], v["unitCount"]),
                                 (f"cust{i:02d}", 1, i + 1))
        self.assertEqual(self.total_orders(acked[-1]["position"]), before + len(acked))

    def test_a_burst_of_32_new_connections_is_served_without_resets(self):
        # 32 clients each opening a new connection per request (curl in a shell loop, a
        # serverless function): none may be reset before it gets an answer. (A connection reset
        # after the request was sent leaves the client not knowing whether its order exists.)
        resets = []
        per_client = 30

        def client(i):
            for _ in range(per_client):
                try:
                    r = self.srv.post("/api/orders", order_body(), CUSTOMERS[i])
                    self.assertEqual(r.status, 201, r)
                except ConnectionResetError as e:
                    resets.append(e)

        run_threads(32, client)
        self.assertEqual(len(resets), 0, f"{len(resets)} of {32 * per_client} requests on new "
                                         f"connections were reset: {resets[:1]}")

    def test_concurrent_commands_on_one_order_are_serialized(self):
        created = self.create(ALICE)
        oid = created["orderId"]
        pays = run_threads(12, lambda i: self.srv.post(
            f"/api/orders/{oid}/pay", {"method": "card", "amount": 12000}, ALICE))
        statuses = sorted(r.status for r in pays)
        self.assertEqual(statuses, [200] + [422] * 11, pays)

        # Approve and cancel racing: whatever wins, the stream has one event per 200.
        created = self.create(ALICE)
        oid = created["orderId"]
        actions = ["approve", "cancel"] * 6
        results = run_threads(12, lambda i: self.srv.post(f"/api/orders/{oid}/{actions[i]}"))
        self.assertTrue(all(r.status in (200, 422) for r in results), results)
        ok = [a for a, r in zip(actions, results) if r.status == 200]
        # Cancel is allowed from CREATED and APPROVED, so exactly one cancel wins whatever the
        # order; an approve wins only if it came first.
        self.assertEqual(ok.count("cancel"), 1, results)
        self.assertLessEqual(ok.count("approve"), 1, results)
        stream = self.srv.get(f"/api/streams/order-{oid}", SERVICE).json
        self.assertEqual(stream["version"], 1 + len(ok))
        last = max((r.json for r in results if r.status == 200), key=lambda j: j["version"])
        v = self.view(oid, last["position"])
        self.assertEqual(v["version"], 1 + len(ok))
        self.assertEqual(v["status"], "CANCELLED")


if __name__ == "__main__":
    sys.exit(e2e_util.main(__doc__))
