#!/usr/bin/env python3
"""kill -9 under acks=all produce load: after a restart every acknowledged record is there
exactly once, an idempotent producer's unanswered batch sent again lands exactly once, and
`cairn check` finds the projections in agreement with the log.

Usage: kafka_crash_test.py path/to/cairn [-k NAME]
"""
import random
import subprocess
import sys
import threading
import time
import unittest

import kafka_util as k
from kafka_util import FETCH, METADATA, PRODUCE, RawClient, batch, i32, record, string

PARTITIONS = 4
PLAIN, IDEMPOTENT = "crash-plain", "crash-idem"


def keys_by_partition(n=20):
    keys = {p: [] for p in range(PARTITIONS)}
    i = 0
    while min(len(v) for v in keys.values()) < n:
        key = f"key-{i}"
        keys[k.murmur2_partition(key, PARTITIONS)].append(key)
        i += 1
    return keys


KEYS = keys_by_partition()


class Load:
    """Producer threads until the server dies; what each had acknowledged."""

    def __init__(self, port):
        self.port = port
        self.acked = []               # plain values acknowledged
        self.sent = set()             # plain values ever sent
        self.idem_acked = []
        self.idem_unanswered = None   # (pid, seq, values) of the batch cut by the kill
        self.lock = threading.Lock()

    def plain(self, name):
        c = RawClient(self.port)
        n = 0
        try:
            while True:
                p = random.randrange(PARTITIONS)
                values = [f"{name}-{n + i}" for i in range(5)]
                n += 5
                records = [record(random.choice(KEYS[p]), v, offset_delta=i) for i, v in enumerate(values)]
                with self.lock:
                    self.sent.update(values)
                r = c.call(PRODUCE, 7, k.produce_v7(PLAIN, p, batch(records)))
                [(_, _, error, _)] = k.read_produce_v7(r)
                if error == 0:
                    with self.lock:
                        self.acked.extend(values)
        except (OSError, AssertionError):
            return  # the server died
        finally:
            c.close()

    def idempotent(self):
        c = RawClient(self.port)
        r = c.call(22, 1, string(None) + i32(60000))
        r.i32()
        assert r.i16() == 0
        pid = r.i64()
        seq = 0
        try:
            while True:
                values = [f"idem-{seq + i}" for i in range(4)]
                self.idem_unanswered = (pid, seq, values)
                error = self.send_idempotent(c, pid, seq, values)
                assert error == 0, error
                self.idem_acked.extend(values)
                self.idem_unanswered = None
                seq += 4
        except (OSError, AssertionError):
            return
        finally:
            c.close()

    @staticmethod
    def send_idempotent(c, pid, seq, values):
        records = [record(KEYS[0][i % len(KEYS[0])], v, offset_delta=i) for i, v in enumerate(values)]
        body = k.produce_v7(IDEMPOTENT, 0, batch(records, producer_id=pid, epoch=0, base_sequence=seq))
        [(_, _, error, _)] = k.read_produce_v7(c.call(PRODUCE, 7, body))
        return error


def read_values(port, topic):
    c = RawClient(port)
    values = []
    for p in range(PARTITIONS):
        offset = 0
        while True:
            r = c.call(FETCH, 11, k.fetch_v11(topic, p, offset))
            error, hwm, data = k.read_fetch_v11(r)[(topic, p)]
            assert error == 0, error
            for _, records in k.decode_batches(data):
                for rec in records:
                    values.append(rec["value"].decode())
                    offset = rec["offset"] + 1
            if offset >= hwm:
                break
    c.close()
    return values


class CrashTest(unittest.TestCase):
    def test_every_acknowledged_record_survives_kill_9_exactly_once(self):
        server = k.KafkaServer("crash", args=["--partitions", str(PARTITIONS)])
        c = RawClient(server.kafka_port)
        c.call(METADATA, 4, k.metadata_v4([PLAIN, IDEMPOTENT]))
        c.close()
        load = Load(server.kafka_port)
        threads = [threading.Thread(target=load.plain, args=(f"t{i}",)) for i in range(3)]
        threads.append(threading.Thread(target=load.idempotent))
        for t in threads:
            t.start()
        orders = 0
        deadline = time.time() + random.uniform(1.5, 3.0)
        while time.time() < deadline:  # the order domain writes beside the Kafka load
            if server.post("/api/orders", k.e2e_util.order_body(), token=k.e2e_util.ALICE).status == 201:
                orders += 1
        server.kill()
        for t in threads:
            t.join(30)
        self.assertGreater(len(load.acked), 0, "no acknowledged record before the kill")

        server.start()
        if load.idem_unanswered:  # the producer retries what it never heard back about
            pid, seq, values = load.idem_unanswered
            c = RawClient(server.kafka_port)
            self.assertEqual(Load.send_idempotent(c, pid, seq, values), 0)
            c.close()
            load.idem_acked.extend(values)
        plain = read_values(server.kafka_port, PLAIN)
        self.assertEqual(len(plain), len(set(plain)), "a plain record was written twice")
        self.assertLessEqual(set(plain), load.sent)
        self.assertEqual(set(load.acked) - set(plain), set(), "acknowledged records were lost")
        idem = read_values(server.kafka_port, IDEMPOTENT)
        self.assertEqual(sorted(idem), sorted(load.idem_acked), "idempotent records not exactly once")
        self.assertEqual(server.stop()[0], 0)

        check = subprocess.run([k.e2e_util.CAIRN, "check", "--data", server.data, "-q"],
                               capture_output=True, text=True, timeout=60)
        self.assertEqual(check.returncode, 0, check.stdout + check.stderr)
        print(f"{len(load.acked)} plain and {len(load.idem_acked)} idempotent records acknowledged, "
              f"{orders} orders, all there after kill -9", file=sys.stderr)


if __name__ == "__main__":
    sys.exit(k.main(__doc__))
