#!/usr/bin/env python3
"""End-to-end tests of the operations routes (suite e2e): /healthz, /metrics (never a token),
projection status, rebuild jobs and the consistency check.

usage: python3 tests/http/e2e_admin_test.py CAIRN [unittest args]
  e.g. python3 tests/http/e2e_admin_test.py build/cairn -k rebuild
"""
import random
import sys
import time

import e2e_util
from e2e_util import (ADMIN, SERVICE, ALICE, ALL_TOKENS, ApiTestCase, setUpModule, tearDownModule)
# setUpModule starts the server this file's tests share (e2e_util.main_server());
# tearDownModule stops it and checks its log holds no token.


class OperationsTest(ApiTestCase):

    def test_healthz(self):
        r = self.srv.get("/healthz", None)
        self.assertEqual(r.status, 200, r)

    def test_metrics_count_requests_and_lag_and_never_show_a_token(self):
        self.create(ALICE)
        self.srv.get("/api/orders", "Bearer-but-wrong-token-" + ADMIN[::-1])
        r = self.srv.get("/metrics", None)
        self.assertEqual(r.status, 200, r)
        self.assertTrue(r.header("Content-Type").startswith("text/plain"), r.headers)
        text = r.body.decode()
        self.assertRegex(text, r'(?m)^cairn_http_requests_total\{route="/api/orders",method="POST",'
                               r'status="201"\} [1-9]\d*$')
        self.assertRegex(text, r'(?m)^cairn_projection_lag_events\{projection="orders",'
                               r'topic="order-events",partition="\d+"\} \d+$')
        self.assertRegex(text, r"(?m)^# TYPE cairn_http_requests_total counter$")
        for token in ALL_TOKENS:
            self.assertNotIn(token, text)
            self.assertNotIn(token[::-1], text)

    def test_projections_rebuild_job_and_check(self):
        created = self.create(ALICE)
        self.view(created["orderId"], created["position"])
        r = self.srv.get("/api/admin/projections")
        projections = {p["name"]: p for p in self.assertStatus(r, 200)["projections"]}
        self.assertLessEqual({"orders", "order_stats", "order_search"}, set(projections))
        orders = projections["orders"]
        self.assertLessEqual({"name", "state", "generation", "checkpoint", "lag", "partitions"},
                             set(orders))
        self.assertIn(orders["state"], ("running", "catching_up"))
        self.assertTrue(orders["partitions"])
        self.assertLessEqual({"topic", "partition", "checkpoint", "highWaterMark", "lag"},
                             set(orders["partitions"][0]))

        r = self.srv.post("/api/admin/projections/orders/rebuild")
        self.assertEqual(r.status, 202, r)
        job = r.json["job"]
        self.assertEqual(job["projections"], ["orders"])
        self.assertIn(job["state"], ("running", "done"))
        self.assertEqual(r.header("Location"), f"/api/admin/jobs/{job['id']}")
        # The old generation serves while the new one builds.
        self.assertEqual(self.view(created["orderId"])["orderId"], created["orderId"])
        deadline = time.time() + 60
        while job["state"] == "running":
            self.assertLess(time.time(), deadline, f"rebuild job still running: {job}")
            time.sleep(0.1)
            job = self.assertStatus(self.srv.get(f"/api/admin/jobs/{job['id']}"), 200)["job"]
        self.assertEqual(job["state"], "done", job)
        after = {p["name"]: p for p in self.srv.get("/api/admin/projections").json["projections"]}
        self.assertGreater(after["orders"]["generation"], orders["generation"])
        v = self.view(created["orderId"])
        self.assertEqual((v["orderId"], v["status"]), (created["orderId"], "CREATED"))

        # A rebuild of every projection, then the check.
        r = self.srv.post("/api/admin/rebuild")
        self.assertEqual(r.status, 202, r)
        wait_job(self, self.srv, r.json["job"]["id"])
        report = self.assertStatus(self.srv.post("/api/admin/check"), 200)
        self.assertIs(report["consistent"], True, report)
        self.assertEqual(report["differencesTotal"], 0, report)
        self.assertGreater(report["keysCompared"], 0, report)


    def test_a_finished_rebuild_job_reports_every_event_done(self):
        # Events on a topic the projection does not read (ledger-events) are in the log too.
        r = self.srv.post(f"/api/streams/other-{random.randrange(1 << 40)}",
                          {"topic": "ledger-events", "events": [{"type": "X", "data": {}}]}, SERVICE)
        self.assertEqual(r.status, 201, r)
        self.create(ALICE)
        r = self.srv.post("/api/admin/projections/order_search/rebuild")
        self.assertEqual(r.status, 202, r)
        job = wait_job(self, self.srv, r.json["job"]["id"])
        self.assertEqual(job["eventsDone"], job["eventsTotal"], f"a done job at less than 100%: {job}")


def wait_job(test, server, job_id, timeout=90):
    deadline = time.time() + timeout
    while True:
        job = test.assertStatus(server.get(f"/api/admin/jobs/{job_id}"), 200)["job"]
        if job["state"] != "running":
            test.assertEqual(job["state"], "done", job)
            return job
        test.assertLess(time.time(), deadline, f"job still running: {job}")
        time.sleep(0.1)


if __name__ == "__main__":
    sys.exit(e2e_util.main(__doc__))
