#!/usr/bin/env python3
"""End-to-end tests of Cairn's log on a Kafka cluster (suite kafkalog): the real `cairn serve
--log kafka://...` as writer, replica and standby on librdkafka's mock cluster (3 brokers,
replication factor 3, tests/kafkalog/mock_kafka in its own process), driven over HTTP; kcat
reads the cluster as the seed's consumers would.

usage: CAIRN_MOCK_KAFKA=build/tests/kafkalog/mock_kafka \\
         python3 tests/kafkalog/kafkalog_e2e_test.py build/cairn [-k NAME]
"""
import json
import os
import random
import shutil
import subprocess
import sys
import threading
import time
import unittest
import urllib.parse

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "http"))
import e2e_util  # noqa: E402
from e2e_util import ADMIN, ALICE, SERVICE, MockKafka, Server, order_body  # noqa: E402

ORDER_TOPICS = ("order-events", "payment-events", "shipping-events")
# Kafka API keys and error codes the fault test injects.
PRODUCE, FETCH = 0, 1
NOT_LEADER_OR_FOLLOWER, REQUEST_TIMED_OUT = 6, 7


def new_cluster():
    return MockKafka([(t, 4) for t in ORDER_TOPICS + ("ledger-events",)])


def node(name, cluster, role="writer", writer=None, data_of=None):
    """A `cairn serve` on `cluster`; `data_of`: reuse that server's data dir name."""
    args = ["--log", cluster.url, "--cluster", "shop", "--partitions", "4", "--role", role,
            "--resume-writes-seconds", "1"]
    if writer is not None:
        args += ["--writer-url", f"http://127.0.0.1:{writer.port}"]
    return Server(data_of or name, args=args)


def quoted(position):
    return urllib.parse.quote(position)


def wait_until(predicate, timeout=60, what="condition"):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if predicate():
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def last_seq(server):
    metrics = server.get("/metrics", None).body.decode()
    for line in metrics.splitlines():
        if line.startswith("cairn_log_last_seq "):
            return int(line.split()[1])
    raise AssertionError("no cairn_log_last_seq in /metrics")


def all_events(server, topic):
    """Every event of `topic` on `server`, partition by partition."""
    topics = {t["name"]: t for t in server.get("/api/topics", SERVICE).json["topics"]}
    events = []
    for p, hwm in enumerate(topics[topic]["highWaterMarks"]):
        offset = 0
        while offset < hwm:
            r = server.get(f"/api/topics/{topic}/partitions/{p}?fromOffset={offset}&limit=1000",
                           SERVICE)
            assert r.status == 200, r
            events += r.json["events"]
            offset += len(r.json["events"])
    return events


class KafkaLogTest(unittest.TestCase):

    def setUp(self):
        self.cluster = new_cluster()
        self.servers = []

    def tearDown(self):
        for s in self.servers:
            s.kill()
        self.cluster.close()

    def start(self, name, *args, **kw):
        # Each test's nodes get their own data dirs: a node's dir belongs to one cluster.
        server = node(f"{self._testMethodName[5:30]}-{name}", *args, **kw)
        self.servers.append(server)
        return server

    def create_orders(self, server, n):
        orders = []
        for i in range(n):
            r = server.post("/api/orders", order_body(price=1000 + i), ALICE)
            self.assertEqual(r.status, 201, r)
            orders.append(r.json)
        return orders

    def assert_same_views(self, writer, replica, orders, after):
        for o in orders:
            path = f"/api/orders/{o['orderId']}?after={quoted(after)}"
            mine = writer.get(path, ADMIN)
            theirs = replica.get(path, ADMIN)
            self.assertEqual(mine.status, 200, mine)
            self.assertEqual(theirs.status, 200, theirs)
            self.assertEqual(theirs.json, mine.json)

    def test_a_replica_serves_the_writers_views_and_sends_commands_to_the_writer(self):
        writer = self.start("writer", self.cluster)
        replica = self.start("replica", self.cluster, role="replica", writer=writer)
        orders = self.create_orders(writer, 6)
        paid = writer.post(f"/api/orders/{orders[0]['orderId']}/pay",
                           {"amount": 2 * 1000, "method": "card"}, ALICE)
        self.assertEqual(paid.status, 200, paid)
        after = paid.json["position"]
        self.assert_same_views(writer, replica, orders, after)
        listed_w = writer.get(f"/api/orders?limit=100&after={quoted(after)}", ADMIN).json
        listed_r = replica.get(f"/api/orders?limit=100&after={quoted(after)}", ADMIN).json
        self.assertEqual(listed_r, listed_w)

        # A command sent to the replica is refused with the writer's URL, and writes nothing.
        before = last_seq(replica)
        r = replica.post("/api/orders", order_body(), ALICE)
        self.assertEqual(r.status, 421, r)
        self.assertEqual(r.json["error"]["code"], "not_writer", r)
        self.assertEqual(r.json["error"]["writer"], f"http://127.0.0.1:{writer.port}", r)
        r = replica.post(f"/api/streams/x-{random.randrange(1 << 30)}",
                         {"topic": "ledger-events", "events": [{"type": "X", "data": {}}]}, SERVICE)
        self.assertEqual(r.status, 421, r)
        self.assertEqual(last_seq(replica), before)

        # What each node did, in /metrics.
        def metric(server, name):
            for line in server.get("/metrics", None).body.decode().splitlines():
                if line.startswith(name + " "):
                    return int(line.split()[1])
            raise AssertionError(f"no {name} in /metrics")
        self.assertGreaterEqual(metric(writer, "cairn_kafka_log_transactions_total"), 7)
        self.assertEqual(metric(writer, "cairn_kafka_log_fenced"), 0)
        wait_until(lambda: metric(replica, "cairn_kafka_log_replicated_events_total") ==
                   last_seq(writer), what="the replica's counter to count every event")
        self.assertEqual(replica.get("/readyz", None).status, 200)

        # The consistency check (replay vs. live read models) holds on both nodes.
        for server in (writer, replica):
            report = server.post("/api/admin/check", None, ADMIN)
            self.assertEqual(report.status, 200, report)
            self.assertIs(report.json["consistent"], True, report.json)
            self.assertGreater(report.json["keysCompared"], 0, report.json)

    def test_kcat_reads_the_records_as_the_seed_producer_wrote_them(self):
        if shutil.which("kcat") is None:
            self.skipTest("kcat is not installed (tools/setup installs it)")
        writer = self.start("writer", self.cluster)
        orders = self.create_orders(writer, 4)
        out = subprocess.run(["kcat", "-b", self.cluster.bootstrap, "-C", "-t", "order-events",
                              "-e", "-J", "-q"], capture_output=True, text=True, timeout=60)
        self.assertEqual(out.returncode, 0, out.stderr)
        records = [json.loads(line) for line in out.stdout.splitlines() if line.strip()]
        self.assertEqual(len(records), len(orders))
        by_key = {r["key"]: r for r in records}
        events = {e["stream"].split("-", 1)[1]: e for e in all_events(writer, "order-events")}
        for o in orders:
            record = by_key[o["orderId"]]
            event = events[o["orderId"]]
            # The partition Cairn chose (murmur2 of the key, as the Java client would).
            self.assertEqual(record["partition"], event["partition"])
            headers = dict(zip(record["headers"][::2], record["headers"][1::2]))
            self.assertEqual(headers["eventType"], "ORDER_CREATED")
            self.assertEqual(headers["aggregateId"], o["orderId"])
            self.assertEqual(headers["version"], "1")
            payload = json.loads(record["payload"])
            self.assertEqual(set(payload), {"type", "aggregateId", "version", "timestamp", "data"})
            self.assertEqual(payload["type"], "ORDER_CREATED")
            self.assertEqual(payload["aggregateId"], o["orderId"])
            self.assertEqual(payload["data"], event["data"])
            self.assertRegex(payload["timestamp"], r"^\d{4}-\d\d-\d\dT")

    def test_no_acknowledged_append_is_lost_or_duplicated_under_broker_faults(self):
        writer = self.start("writer", self.cluster)
        replica = self.start("replica", self.cluster, role="replica", writer=writer)
        acked = {}  # event id -> position
        lock = threading.Lock()
        stop = threading.Event()
        refused = []

        def load(worker):
            i = 0
            while not stop.is_set():
                event_id = f"w{worker}-{i}"
                r = writer.post(f"/api/streams/acct-{worker}-{i % 5}", {
                    "topic": "ledger-events",
                    "events": [{"id": event_id, "type": "MOVED", "data": {"i": i}}]}, SERVICE,
                    timeout=60)
                if r.status in (200, 201):
                    with lock:
                        acked[event_id] = r.json["position"]
                else:
                    refused.append(r.status)
                i += 1

        threads = [threading.Thread(target=load, args=(w,)) for w in range(4)]
        for t in threads:
            t.start()
        try:
            time.sleep(1)
            self.cluster.command("down 2")
            time.sleep(1.5)
            self.cluster.command("up 2")
            for p in range(4):
                self.cluster.command(f"leader ledger-events {p} {1 + (p + 1) % 3}")
            time.sleep(1)
            self.cluster.command(f"error {PRODUCE} {NOT_LEADER_OR_FOLLOWER} 3")
            self.cluster.command(f"error {FETCH} {REQUEST_TIMED_OUT} 3")
            time.sleep(1.5)
        finally:
            stop.set()
            for t in threads:
                t.join()
        self.assertGreater(len(acked), 20, f"too few appends went through ({refused[:5]})")
        # Refusals are only ever the retriable kind (503), never a 5xx of another sort.
        self.assertEqual(set(refused) - {503}, set(), refused[:10])
        wait_until(lambda: last_seq(replica) == last_seq(writer), what="the replica to catch up")
        for server in (writer, replica):
            ids = [e["id"] for e in all_events(server, "ledger-events")]
            self.assertEqual(len(ids), len(set(ids)), "an event is stored twice")
            missing = set(acked) - set(ids)
            self.assertEqual(missing, set(), "acknowledged appends are missing")
        self.assertEqual(all_events(replica, "ledger-events"), all_events(writer, "ledger-events"))

    def test_a_killed_writer_restarts_and_a_standby_takes_over_with_every_acknowledged_write(self):
        writer = self.start("writer", self.cluster)
        replica = self.start("replica", self.cluster, role="replica", writer=writer)
        acked = []
        stop = threading.Event()

        def load():
            while not stop.is_set():
                try:
                    r = writer.post("/api/orders", order_body(), ALICE, timeout=10)
                except OSError:
                    return  # the writer was killed
                if r.status == 201:
                    acked.append(r.json)

        t = threading.Thread(target=load)
        t.start()
        time.sleep(2)
        writer.kill()
        stop.set()
        t.join()
        self.assertGreater(len(acked), 0)

        # Restarted on its own data dir: every acknowledged order is there.
        writer.start()
        last = acked[-1]["position"]
        for o in acked:
            v = writer.get(f"/api/orders/{o['orderId']}?after={quoted(last)}", ADMIN)
            self.assertEqual(v.status, 200, v)

        # A standby on an empty data dir takes over once the writer is gone: it reads the
        # cluster to its end first, so it has every order and goes on from there.
        writer.kill()
        standby = self.start("standby", self.cluster)
        for o in acked:
            v = standby.get(f"/api/orders/{o['orderId']}?after={quoted(last)}", ADMIN)
            self.assertEqual(v.status, 200, v)
        new = standby.post("/api/orders", order_body(price=4242), ALICE)
        self.assertEqual(new.status, 201, new)
        # The replica follows the new writer without a restart.
        v = replica.get(f"/api/orders/{new.json['orderId']}?after={quoted(new.json['position'])}",
                        ADMIN)
        self.assertEqual(v.status, 200, v)
        self.assertEqual(v.json["totalAmount"], 2 * 4242)


if __name__ == "__main__":
    sys.exit(e2e_util.main(__doc__))
