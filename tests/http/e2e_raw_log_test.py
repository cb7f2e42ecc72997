#!/usr/bin/env python3
"""End-to-end tests of the raw log API (suite e2e): topics, appends to streams, stream and
partition reads, Idempotency-Keys, the domain topics that raw appends may not write, and raw
events the order projections cannot read.

usage: python3 tests/http/e2e_raw_log_test.py CAIRN [unittest args]
  e.g. python3 tests/http/e2e_raw_log_test.py build/cairn -k Poison
"""
import random
import sys
import time
import urllib.parse

import e2e_util
from e2e_util import (ADMIN, SERVICE, ALICE, order_body, Server, ApiTestCase, read_all_positions,
                       setUpModule, tearDownModule)
# setUpModule starts the server this file's tests share (e2e_util.main_server());
# tearDownModule stops it and checks its log holds no token.


class RawLogTest(ApiTestCase):

    def test_topics_appends_and_reads(self):
        name = e2e_util.TopicName("inventory")
        r = self.srv.post("/api/topics", {"name": name, "partitions": 3}, SERVICE)
        # On the Kafka log the mock cluster made the topic up front (it cannot create topics),
        # and the server mirrors every topic of its cluster: it exists already.
        self.assertEqual(r.status, 200 if e2e_util.ON_KAFKA else 201, r)
        self.assertEqual(r.json, {"name": name, "partitions": 3})
        r = self.srv.post("/api/topics", {"name": name, "partitions": 3}, SERVICE)
        self.assertEqual(r.status, 200, r)  # creating it again is a no-op
        topics = {t["name"]: t for t in self.srv.get("/api/topics", SERVICE).json["topics"]}
        self.assertEqual(topics[name]["partitions"], 3)
        self.assertEqual(topics[name]["highWaterMarks"], [0, 0, 0])
        for t in ("order-events", "payment-events", "shipping-events"):
            self.assertIn(t, topics)

        stream = "sku-4711"
        path = f"/api/streams/{stream}"
        r = self.srv.post(path, {"topic": name, "expectedVersion": "no_stream", "events": [
            {"id": "evt-recv-1", "type": "RECEIVED", "data": {"qty": 10},
             "metadata": {"correlationId": "c-1", "userId": "billing"}},
            {"type": "RESERVED", "data": {"qty": 2}}]}, SERVICE)
        self.assertEqual(r.status, 201, r)
        self.assertEqual(r.json["version"], 2)
        self.assertEqual(r.json["duplicate"], False)
        self.assertEqual(len(r.json["positions"]), 2)
        self.assertEqual(r.json["position"], r.json["positions"][-1])
        topic, partition, offset = r.json["positions"][0].rsplit("/", 2)
        self.assertEqual(topic, name)
        self.assertEqual(r.json["positions"][1], f"{name}/{partition}/{int(offset) + 1}")

        r = self.srv.post(path, {"topic": name, "expectedVersion": 2, "events": [
            {"type": "SHIPPED", "data": {"qty": 2}}]}, SERVICE)
        self.assertEqual(r.status, 201, r)
        self.assertEqual(r.json["version"], 3)
        r = self.srv.post(path, {"topic": name, "expectedVersion": "exists", "events": [
            {"type": "COUNTED", "data": [1, 2, 3]}]}, ADMIN)
        self.assertEqual(r.status, 201, r)
        # Appending an event id again is acknowledged with the original position, writes nothing.
        with self.nothing_written():
            dup = self.srv.post(path, {"topic": name, "events": [
                {"id": "evt-recv-1", "type": "RECEIVED", "data": {"qty": 10}}]}, SERVICE)
            self.assertEqual(dup.status, 200, dup)
            self.assertEqual(dup.json["duplicate"], True)
            self.assertEqual(dup.json["position"], f"{name}/{partition}/{offset}")

        s = self.assertStatus(self.srv.get(path, SERVICE), 200)
        self.assertEqual(s["stream"], stream)
        self.assertEqual(s["version"], 4)
        self.assertEqual([(e["type"], e["version"]) for e in s["events"]],
                         [("RECEIVED", 1), ("RESERVED", 2), ("SHIPPED", 3), ("COUNTED", 4)])
        first = s["events"][0]
        self.assertEqual(set(first), {"id", "type", "topic", "partition", "offset", "position",
                                      "seq", "stream", "version", "timestamp", "metadata", "data"})
        self.assertEqual(first["id"], "evt-recv-1")
        self.assertEqual(first["data"], {"qty": 10})
        self.assertEqual(s["events"][3]["data"], [1, 2, 3])
        self.assertEqual(first["metadata"]["correlationId"], "c-1")
        self.assertEqual(first["position"], f"{name}/{first['partition']}/{first['offset']}")
        self.assertRegex(first["timestamp"], r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$")
        seqs = [e["seq"] for e in s["events"]]
        self.assertEqual(seqs, sorted(seqs))
        part = self.assertStatus(self.srv.get(f"{path}?fromVersion=2&limit=2", SERVICE), 200)
        self.assertEqual([e["version"] for e in part["events"]], [2, 3])

        p = self.assertStatus(self.srv.get(
            f"/api/topics/{name}/partitions/{partition}?fromOffset=0&limit=1000", SERVICE), 200)
        self.assertEqual(p["topic"], name)
        self.assertEqual(p["partition"], int(partition))
        self.assertEqual(p["highWaterMark"], 4)  # one stream, one partition: offsets 0..3
        self.assertEqual([e["offset"] for e in p["events"]], [0, 1, 2, 3])
        self.assertEqual([e["id"] for e in p["events"]][0], "evt-recv-1")
        p = self.srv.get(f"/api/topics/{name}/partitions/{partition}?fromOffset=2&limit=1", SERVICE).json
        self.assertEqual([e["offset"] for e in p["events"]], [2])
        p = self.srv.get(f"/api/topics/{name}/partitions/{partition}?fromOffset=10", SERVICE).json
        self.assertEqual(p["events"], [])
        hwms = {t["name"]: t for t in self.srv.get("/api/topics", SERVICE).json["topics"]}
        self.assertEqual(sum(hwms[name]["highWaterMarks"]), 4)

    def test_raw_appends_to_a_domain_topic_are_403_and_write_nothing(self):
        # The order topics belong to the orders domain (its DomainSpec): only its commands
        # write them, even for an admin.
        for topic, token in [("order-events", SERVICE), ("payment-events", SERVICE),
                             ("shipping-events", ADMIN)]:
            with self.subTest(topic=topic), self.nothing_written():
                r = self.srv.post(f"/api/streams/order-{random.randrange(1 << 40)}", {
                    "topic": topic, "events": [{"type": "ORDER_APPROVED",
                                                "data": {"orderId": "x"}}]}, token)
                self.assertError(r, 403, field="topic", code="permission_denied",
                                 message=f"^topic {topic} is written only by the commands of "
                                         "the orders domain$")

    def test_an_idempotency_key_on_a_raw_append_appends_once(self):
        path = f"/api/streams/retry-{random.randrange(1 << 40)}"
        body = {"topic": "ledger-events", "events": [{"type": "PING", "data": {}}]}
        key = {"Idempotency-Key": f"raw-{random.randrange(1 << 40)}"}
        first = self.srv.post(path, body, SERVICE, headers=key)
        self.assertEqual(first.status, 201, first)
        second = self.srv.post(path, body, SERVICE, headers=key)
        self.assertEqual(second.status, 200, second)
        self.assertEqual(second.json["position"], first.json["position"])
        self.assertEqual(self.srv.get(path, SERVICE).json["version"], 1)

    def test_a_partition_read_sees_every_order_event_once(self):
        created = [self.create(ALICE)["position"] for _ in range(5)]
        topics = {t["name"]: t for t in self.srv.get("/api/topics", SERVICE).json["topics"]}
        all_positions = read_all_positions(self, "order-events", topics["order-events"])
        for position in created:
            self.assertIn(position, all_positions)


# =========================================================================================
# Raw appends that the order projections cannot read
# =========================================================================================

class PoisonEventTest(ApiTestCase):
    """A service may append raw events; one that is not a readable order event on an order topic
    must be refused or survived, never leave the order read models failed (and every later
    read-your-writes query a 500)."""

    def test_an_unreadable_order_event_does_not_stop_the_order_read_models(self):
        server = Server("poison")
        problems = []
        try:
            stream = f"order-{random.randrange(1 << 40)}"
            r = server.post(f"/api/streams/{stream}", {"topic": "order-events", "events": [
                {"type": "ORDER_CREATED", "data": {"x": 1}}]}, SERVICE)
            self.assertIn(r.status, (201, 400, 403, 422), r)
            if r.status == 201:
                problems.append(f"POST /api/streams/{stream} with an ORDER_CREATED lacking "
                                f"orderId on order-events was accepted: {r.status}")
            created = server.post("/api/orders", order_body(), ALICE)
            self.assertEqual(created.status, 201, created)
            r = server.get(f"/api/orders/{created.json['orderId']}?after="
                           + urllib.parse.quote(created.json["position"]), ALICE)
            if r.status != 200:
                problems.append(f"GET /api/orders/{{id}}?after=<its position> of the next order "
                                f"answers {r.status} {r.body[:200]!r}")
            states = {p["name"]: p["state"] for p in
                      server.get("/api/admin/projections").json["projections"]}
            if "failed" in states.values():
                problems.append(f"projection states: {states}")
            r = server.post("/api/admin/rebuild")
            self.assertEqual(r.status, 202, r)
            deadline = time.time() + 30
            job = r.json["job"]
            while job["state"] == "running" and time.time() < deadline:
                time.sleep(0.1)
                job = server.get(f"/api/admin/jobs/{job['id']}").json["job"]
            if job["state"] != "done":
                problems.append(f"a rebuild cannot repair it: {job}")
            report = server.post("/api/admin/check").json
            if states and "failed" in states.values() and report.get("consistent"):
                problems.append(f"POST /api/admin/check says consistent while the order "
                                f"projections are failed and miss the next order: {report}")
            if problems:
                self.fail("\n  " + "\n  ".join(problems))
        finally:
            server.kill()


if __name__ == "__main__":
    sys.exit(e2e_util.main(__doc__))
