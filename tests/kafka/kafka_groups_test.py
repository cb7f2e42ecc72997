#!/usr/bin/env python3
"""Consumer groups: the coordinator's answers over raw sockets (join/sync barrier, 22, 23, 25,
27, committed offsets), and two `kcat -G` members splitting a topic, one killed, the other
taking over, and a restart resuming from the committed offsets.

Usage: kafka_groups_test.py path/to/cairn [-k NAME]
"""
import os
import signal
import subprocess
import sys
import threading
import time
import unittest

import kafka_util as k
from kafka_util import (RawClient, array, error_of, heartbeat_v3, i16, i32, i64, join_v5,
                        read_join_v5, string, sync_v3)

FIND_COORDINATOR, JOIN, HEARTBEAT, LEAVE, SYNC, OFFSET_COMMIT, OFFSET_FETCH = 10, 11, 12, 13, 14, 8, 9
PARTITIONS = 4


def commit_v7(group, generation, member, offset=1):
    return (string(group) + i32(generation) + string(member) + string(None) +
            array([string("t") + array([i32(0) + i64(offset) + i32(-1) + string(None)])]))


def commit_error(r):
    r.i32(), r.i32(), r.string(), r.i32(), r.i32()
    return r.i16()


class CoordinatorTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.server = k.KafkaServer("coordinator", args=["--kafka-group-delay", "200"])
        c = RawClient(cls.server.kafka_port)  # topic "t", which the commits name, must exist
        c.call(k.METADATA, 4, k.metadata_v4(["t"]))
        c.close()

    @classmethod
    def tearDownClass(cls):
        assert cls.server.stop()[0] == 0

    def client(self):
        c = RawClient(self.server.kafka_port)
        self.addCleanup(c.close)
        return c

    def call_async(self, api, version, body):
        """Sends on a connection of its own; returns a function that waits for the answer."""
        c = self.client()
        out = {}

        def run():
            out["r"] = c.call(api, version, body)
        t = threading.Thread(target=run)
        t.start()

        def wait():
            t.join(15)
            return out["r"]
        return wait

    def test_find_coordinator_names_cairn_itself(self):
        r = self.client().call(FIND_COORDINATOR, 2, string("any-group") + k.i8(0))
        r.i32()
        self.assertEqual(r.i16(), 0)
        r.string()
        self.assertEqual((r.i32(), r.string(), r.i32()), (1, "127.0.0.1", self.server.kafka_port))

    def test_the_join_sync_barrier_and_its_errors(self):
        g = "barrier"
        a = read_join_v5(self.client().call(JOIN, 5, join_v5(g)))
        self.assertEqual((a["error"], a["generation"], a["leader"]), (0, 1, a["member"]))
        self.assertEqual(a["members"], [a["member"]])
        c = self.client()
        self.assertEqual(error_of(c.call(HEARTBEAT, 3, heartbeat_v3(g, 1, "nobody"))), 25)
        self.assertEqual(error_of(c.call(HEARTBEAT, 3, heartbeat_v3(g, 7, a["member"]))), 22)
        other_type = read_join_v5(c.call(JOIN, 5, join_v5(g, protocol_type="connect")))
        self.assertEqual(other_type["error"], 23)
        no_common = read_join_v5(c.call(JOIN, 5, join_v5(g, protocols=[("roundrobin", b"")])))
        self.assertEqual(no_common["error"], 23)
        r = c.call(SYNC, 3, sync_v3(g, 1, a["member"], [(a["member"], b"assignment-a")]))
        r.i32()
        self.assertEqual((r.i16(), r.kbytes()), (0, b"assignment-a"))
        self.assertEqual(error_of(c.call(HEARTBEAT, 3, heartbeat_v3(g, 1, a["member"]))), 0)

        b_join = self.call_async(JOIN, 5, join_v5(g))  # held until a rejoins
        deadline = time.time() + 5
        while error_of(c.call(HEARTBEAT, 3, heartbeat_v3(g, 1, a["member"]))) != 27:
            self.assertLess(time.time(), deadline, "no REBALANCE_IN_PROGRESS")
            time.sleep(0.05)
        # As Kafka: the ending generation may commit what it read while the rebalance gathers
        # members (librdkafka commits as its partitions are revoked), another may not.
        self.assertEqual(commit_error(c.call(OFFSET_COMMIT, 7, commit_v7(g, 1, a["member"]))), 0)
        self.assertEqual(commit_error(c.call(OFFSET_COMMIT, 7, commit_v7(g, 2, a["member"]))), 22)
        a2 = read_join_v5(c.call(JOIN, 5, join_v5(g, member=a["member"])))
        b = read_join_v5(b_join())
        self.assertEqual((a2["generation"], b["generation"]), (2, 2))
        # Joined but not yet assigned: nothing to commit for.
        self.assertEqual(commit_error(c.call(OFFSET_COMMIT, 7, commit_v7(g, 2, a["member"]))), 27)
        self.assertEqual(sorted(a2["members"]), sorted([a["member"], b["member"]]))
        self.assertEqual(b["members"], [])
        b_sync = self.call_async(SYNC, 3, sync_v3(g, 2, b["member"]))  # held until the leader's
        time.sleep(0.2)
        c.call(SYNC, 3, sync_v3(g, 2, a["member"], [(b["member"], b"for-b")]))
        r = b_sync()
        r.i32()
        self.assertEqual((r.i16(), r.kbytes()), (0, b"for-b"))
        self.assertEqual(error_of(c.call(LEAVE, 1, string(g) + string(b["member"]))), 0)
        self.assertEqual(error_of(c.call(HEARTBEAT, 3, heartbeat_v3(g, 2, b["member"]))), 25)

    def test_committed_offsets_are_minus_one_until_committed_and_keep_their_metadata(self):
        c = self.client()
        fetch = string("offsets-group") + array([string("t") + array([i32(0), i32(1)])])
        r = c.call(OFFSET_FETCH, 5, fetch)
        r.i32(), r.i32(), r.string(), r.i32()
        self.assertEqual((r.i32(), r.i64()), (0, -1))
        commit = (string("offsets-group") + i32(-1) + string("") + string(None) +
                  array([string("t") + array([i32(1) + i64(42) + i32(-1) + string("meta")])]))
        r = c.call(OFFSET_COMMIT, 7, commit)
        r.i32(), r.i32(), r.string(), r.i32(), r.i32()
        self.assertEqual(r.i16(), 0)
        r = c.call(OFFSET_FETCH, 5, fetch)
        r.i32(), r.i32(), r.string(), r.i32()
        r.i32(), r.i64(), r.i32(), r.string(), r.i16()
        self.assertEqual(r.i32(), 1)
        self.assertEqual(r.i64(), 42)
        r.i32()
        self.assertEqual((r.string(), r.i16()), ("meta", 0))

    def test_committed_offsets_and_their_lag_show_in_the_admin_api_and_metrics(self):
        c = self.client()
        c.call(k.METADATA, 4, k.metadata_v4(["lagging"]))
        records = [k.record(None, f"v{i}", offset_delta=i) for i in range(5)]
        c.call(k.PRODUCE, 7, k.produce_v7("lagging", 0, k.batch(records)))
        commit = (string("lag-group") + i32(-1) + string("") + string(None) +
                  array([string("lagging") + array([i32(0) + i64(2) + i32(-1) + string("")])]))
        c.call(OFFSET_COMMIT, 7, commit)
        r = self.server.get("/api/admin/consumer-groups", token=k.e2e_util.ADMIN)
        self.assertEqual(r.status, 200, r.body)
        mine = [g for g in r.json["groups"] if g["group"] == "lag-group"]
        self.assertEqual(mine, [{"group": "lag-group", "topic": "lagging", "partition": 0,
                                 "committed": 2, "highWaterMark": 5, "lag": 3}])
        metrics = self.server.get("/metrics").body.decode()
        self.assertIn('cairn_consumer_group_lag_events{group="lag-group",topic="lagging",partition="0"} 3',
                      metrics)


class RestartTest(unittest.TestCase):
    def test_a_stable_group_survives_a_restart_and_its_members_keep_heartbeating(self):
        server = k.KafkaServer("group-restart", args=["--kafka-group-delay", "100"])
        try:
            c = RawClient(server.kafka_port)
            a = read_join_v5(c.call(JOIN, 5, join_v5("kept")))
            c.call(SYNC, 3, sync_v3("kept", a["generation"], a["member"], [(a["member"], b"mine")]))
            c.close()
            self.assertEqual(server.stop()[0], 0)
            server.start()
            c = RawClient(server.kafka_port)
            self.assertEqual(error_of(c.call(HEARTBEAT, 3, heartbeat_v3("kept", a["generation"], a["member"]))), 0)
            r = c.call(SYNC, 3, sync_v3("kept", a["generation"], a["member"]))
            r.i32()
            self.assertEqual((r.i16(), r.kbytes()), (0, b"mine"))
            c.close()
        finally:
            server.stop()


class KcatGroupTest(unittest.TestCase):
    def setUp(self):
        self.server = k.KafkaServer("kcat-group", args=["--partitions", str(PARTITIONS),
                                                        "--kafka-group-delay", "300"])
        self.members = []

    def tearDown(self):
        for p, _, _ in self.members:
            if p.poll() is None:
                p.kill()
                p.wait()
        self.server.stop()

    def produce(self, keys):
        k.kcat(self.server, "-P", "-t", "grouped", "-K", ":", "-X", "partitioner=murmur2_random",
               input="".join(f"{key}:{key}\n" for key in keys))

    def member(self, name, reset="earliest"):
        out = os.path.join(k.e2e_util.ROOT, f"{name}.out")
        err = os.path.join(k.e2e_util.ROOT, f"{name}.err")
        cmd = ["kcat", "-b", self.server.bootstrap, "-u", "-G", "kcat-group", "grouped",
               "-f", "%p %o %k\\n", "-X", f"auto.offset.reset={reset}",
               "-X", "session.timeout.ms=3000", "-X", "heartbeat.interval.ms=300",
               "-X", "auto.commit.interval.ms=100", "-X", "check.crcs=true"]
        p = subprocess.Popen(cmd, stdout=open(out, "w"), stderr=open(err, "w"))
        self.members.append((p, out, err))
        return p, out, err

    @staticmethod
    def keys_read(out):
        with open(out) as f:
            return [line.split()[2] for line in f if line.strip()]

    def wait_for(self, what, condition, timeout=20):
        deadline = time.time() + timeout
        while not condition():
            if time.time() > deadline:
                raise AssertionError(f"timed out waiting for {what}")
            time.sleep(0.1)

    def test_two_members_split_the_partitions_one_dies_the_other_takes_over_and_a_restart_resumes(self):
        first = [f"a{i}" for i in range(40)]
        self.produce(first)
        a, a_out, a_err = self.member("a")
        b, b_out, b_err = self.member("b")
        self.wait_for("both members to read the first records",
                      lambda: set(self.keys_read(a_out) + self.keys_read(b_out)) == set(first))
        self.assertTrue(self.keys_read(a_out) and self.keys_read(b_out), "one member read nothing")
        self.assertEqual(sorted(self.keys_read(a_out) + self.keys_read(b_out)), sorted(first))

        a.send_signal(signal.SIGKILL)
        a.wait()
        second = [f"b{i}" for i in range(20)]
        self.produce(second)
        self.wait_for("the survivor to read every new record",
                      lambda: set(second) <= set(self.keys_read(b_out)))
        self.wait_for("the dead member's session to expire (the log is flushed every second)",
                      lambda: "missed its session timeout" in self.server.current_log())

        b.send_signal(signal.SIGTERM)  # commits and leaves
        b.wait(15)
        third = [f"c{i}" for i in range(10)]
        self.produce(third)
        self.server.stop()
        self.server.start()
        c, c_out, _ = self.member("c", reset="latest")  # only committed offsets can find `third`
        self.wait_for("a restarted group to resume", lambda: set(third) <= set(self.keys_read(c_out)))
        time.sleep(0.5)
        self.assertEqual(sorted(self.keys_read(c_out)), sorted(third))


if __name__ == "__main__":
    sys.exit(k.main(__doc__))
