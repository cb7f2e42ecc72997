#!/usr/bin/env python3
"""The idempotent producer over raw sockets: InitProducerId, a replayed batch, a sequence gap,
an old epoch, an unknown producer id, and all of it across a restart.

Usage: kafka_idempotence_test.py path/to/cairn [-k NAME]
"""
import sys
import unittest

import kafka_util as k
from kafka_util import FETCH, LIST_OFFSETS, METADATA, PRODUCE, RawClient, batch, i32, record, string

PARTITIONS = 4
INIT_PRODUCER_ID = 22


def key_for(partition, prefix="key"):
    return k.key_for(partition, PARTITIONS, prefix)


class IdempotenceTest(unittest.TestCase):
    def setUp(self):
        self.server = k.KafkaServer(self.id().split(".")[-1], args=["--partitions", str(PARTITIONS)])
        self.connect()

    def tearDown(self):
        self.c.close()
        code, _ = self.server.stop()
        self.assertEqual(code, 0)

    def connect(self):
        self.c = RawClient(self.server.kafka_port)

    def restart(self):
        self.c.close()
        self.assertEqual(self.server.stop()[0], 0)
        self.server.start()
        self.connect()

    def init_producer(self, version=1):
        r = self.c.call(INIT_PRODUCER_ID, version, string(None) + i32(60000))
        r.i32()
        error, pid, epoch = r.i16(), r.i64(), r.i16()
        self.assertEqual(error, 0)
        self.assertEqual(epoch, 0)
        return pid

    def create(self, topic):
        self.c.call(METADATA, 4, k.metadata_v4([topic]))

    def produce(self, topic, partition, pid, seq, values, epoch=0, key=None):
        key = key or key_for(partition)
        records = [record(key, v, offset_delta=i) for i, v in enumerate(values)]
        r = self.c.call(PRODUCE, 7, k.produce_v7(
            topic, partition, batch(records, producer_id=pid, epoch=epoch, base_sequence=seq)))
        [(_, _, error, base)] = k.read_produce_v7(r)
        return error, base

    def latest(self, topic, partition):
        r = self.c.call(LIST_OFFSETS, 3, k.list_offsets_v3(topic, partition, -1))
        return k.read_list_offsets_v3(r)[3]

    def values(self, topic, partition):
        r = self.c.call(FETCH, 11, k.fetch_v11(topic, partition, 0))
        data = k.read_fetch_v11(r)[(topic, partition)][2]
        return [rec["value"].decode() for _, recs in k.decode_batches(data) for rec in recs]

    def test_producer_ids_increase_even_across_a_restart(self):
        first = self.init_producer(0)
        second = self.init_producer(1)
        self.assertGreater(second, first)
        self.restart()
        self.assertGreater(self.init_producer(), second)

    def test_a_replayed_batch_gets_its_original_offset_and_is_not_written_twice(self):
        topic = "idem-replay"
        self.create(topic)
        pid = self.init_producer()
        self.assertEqual(self.produce(topic, 1, pid, 0, ["a", "b"]), (0, 0))
        self.assertEqual(self.produce(topic, 1, pid, 2, ["c"]), (0, 2))
        self.assertEqual(self.produce(topic, 1, pid, 0, ["a", "b"]), (0, 0))
        self.assertEqual(self.produce(topic, 1, pid, 2, ["c"]), (0, 2))
        self.assertEqual(self.values(topic, 1), ["a", "b", "c"])

    def test_a_sequence_gap_is_out_of_order(self):
        topic = "idem-gap"
        self.create(topic)
        pid = self.init_producer()
        self.assertEqual(self.produce(topic, 0, pid, 0, ["a"])[0], 0)
        self.assertEqual(self.produce(topic, 0, pid, 5, ["b"])[0], 45)
        self.assertEqual(self.latest(topic, 0), 1)

    def test_an_older_epoch_is_refused(self):
        topic = "idem-epoch"
        self.create(topic)
        pid = self.init_producer()
        self.assertEqual(self.produce(topic, 0, pid, 0, ["a"], epoch=1)[0], 0)
        self.assertEqual(self.produce(topic, 0, pid, 1, ["b"], epoch=0)[0], 47)
        self.assertEqual(self.latest(topic, 0), 1)

    def test_a_producer_id_never_handed_out_is_unknown(self):
        topic = "idem-unknown"
        self.create(topic)
        self.assertEqual(self.produce(topic, 0, 987654, 0, ["a"])[0], 59)
        self.assertEqual(self.latest(topic, 0), 0)

    def test_sequences_survive_a_restart(self):
        topic = "idem-restart"
        self.create(topic)
        pid = self.init_producer()
        self.assertEqual(self.produce(topic, 2, pid, 0, ["a", "b"]), (0, 0))
        self.restart()
        self.assertEqual(self.produce(topic, 2, pid, 0, ["a", "b"]), (0, 0))
        self.assertEqual(self.produce(topic, 2, pid, 3, ["x"])[0], 45)
        self.assertEqual(self.produce(topic, 2, pid, 2, ["c"]), (0, 2))
        self.assertEqual(self.values(topic, 2), ["a", "b", "c"])

    def test_a_batch_over_several_keys_replays_as_one(self):
        topic = "idem-keys"
        self.create(topic)
        pid = self.init_producer()
        keys = [key_for(3, prefix=p) for p in ("a", "b", "c")]
        records = [record(key, f"v{i}", offset_delta=i) for i, key in enumerate(keys)]
        body = k.produce_v7(topic, 3, batch(records, producer_id=pid, epoch=0, base_sequence=0))
        for _ in range(2):
            [(_, _, error, base)] = k.read_produce_v7(self.c.call(PRODUCE, 7, body))
            self.assertEqual((error, base), (0, 0))
        self.assertEqual(self.values(topic, 3), ["v0", "v1", "v2"])


if __name__ == "__main__":
    sys.exit(k.main(__doc__))
