#!/usr/bin/env python3
"""End-to-end tests of durability (suite e2e): SIGTERM under a load of creates exits 0, and
SIGKILL then a restart keeps every acknowledged order, with the read models agreeing.

usage: python3 tests/http/e2e_crash_test.py CAIRN [unittest args]
  e.g. python3 tests/http/e2e_crash_test.py build/cairn -k sigkill
"""
import http.client
import random
import signal
import sys
import threading
import time
import urllib.parse

import e2e_util
from e2e_util import (SERVICE, CUSTOMERS, order_body, Server, SseClient, ApiTestCase, run_threads)


class Load:
    """Clients creating orders as fast as they can; remembers every acknowledged (201) one."""

    def __init__(self, server, clients=8):
        self.server = server
        self.stopping = threading.Event()
        self.lock = threading.Lock()
        self.acked = []      # (token, create response)
        self.unexpected = []  # answers that are neither 201 nor a shutdown's refusal
        self.threads = [threading.Thread(target=self.work, args=(CUSTOMERS[i],))
                        for i in range(clients)]
        for t in self.threads:
            t.start()

    def work(self, token):
        while not self.stopping.is_set():
            try:
                r = self.server.request("POST", "/api/orders", order_body(), token, timeout=20)
            except (OSError, http.client.HTTPException):
                time.sleep(0.01)  # the server is gone (or going): keep trying until told to stop
                continue
            if r.status == 201:
                with self.lock:
                    self.acked.append((token, r.json))
            elif r.status != 503:
                with self.lock:
                    self.unexpected.append(r)

    def wait_for(self, count, timeout=60):
        deadline = time.time() + timeout
        while len(self.acked) < count and time.time() < deadline:
            time.sleep(0.02)

    def stop(self):
        self.stopping.set()
        for t in self.threads:
            t.join()


class DurabilityTest(ApiTestCase):

    def assert_all_present(self, server, acked):
        """Every acknowledged order is retrievable (after its own position) by its owner."""
        self.assertTrue(acked, "the load acknowledged nothing")
        missing = []

        def check(chunk):
            for token, o in chunk:
                r = server.get(f"/api/orders/{o['orderId']}?after={urllib.parse.quote(o['position'])}",
                               token)
                if r.status != 200 or r.json["orderId"] != o["orderId"]:
                    missing.append((o, r))

        chunks = [acked[i::4] for i in range(4)]
        run_threads(4, lambda i: check(chunks[i]))
        self.assertEqual(missing[:5], [], f"{len(missing)} of {len(acked)} acknowledged orders lost")
        by_user = {}
        for token, o in acked:
            by_user.setdefault(token, []).append(o)
        for token, orders in by_user.items():
            positions = {o["position"] for o in orders}
            self.assertEqual(len(positions), len(orders), "two orders acknowledged at one position")

    def assert_consistent(self, server):
        report = self.assertStatus(server.post("/api/admin/check"), 200)
        self.assertIs(report["consistent"], True, report)

    def test_sigterm_under_load_exits_0_and_keeps_every_acknowledged_order(self):
        server = Server("sigterm")
        load = None
        try:
            stream = SseClient(server, SERVICE, "order-events")
            load = Load(server)
            load.wait_for(100)
            code, seconds = server.stop()
            load.stop()
            stream.close()
            self.assertEqual(code, 0, server.current_log()[-3000:])
            self.assertLess(seconds, 10, "SIGTERM took too long")
            self.assertNotRegex(server.current_log(), r"\[(error|critical)\]")
            self.assertEqual(load.unexpected, [])
            server.start()
            self.assert_all_present(server, load.acked)
            self.assert_consistent(server)
        finally:
            if load:
                load.stop()
            server.kill()

    def test_sigkill_under_load_then_restart_keeps_every_acknowledged_order(self):
        server = Server("sigkill")
        acked = []
        try:
            for round_ in range(2):
                load = Load(server)
                load.wait_for(random.randint(60, 200))
                time.sleep(random.uniform(0, 0.3))
                server.signal(signal.SIGKILL)
                server.process.wait()
                load.stop()
                self.assertEqual(load.unexpected, [])
                acked += load.acked
                server.start()
                self.assert_all_present(server, acked)
            self.assert_consistent(server)
            # The log and the read models agree on the count as well.
            total = self.settled_total(server=server)
            topics = {t["name"]: t for t in server.get("/api/topics").json["topics"]}
            self.assertEqual(total, sum(topics["order-events"]["highWaterMarks"]))
            self.assertGreaterEqual(total, len(acked))
        finally:
            server.kill()


if __name__ == "__main__":
    sys.exit(e2e_util.main(__doc__))
