#!/usr/bin/env python3
"""kcat (librdkafka 2.0.2, Debian's) against the Kafka listener: -L, -P with acks=all and
murmur2_random (plain and idempotent), -C with CRC checks from the beginning, -5, the end and past the end.

Usage: kafka_kcat_test.py path/to/cairn [-k NAME]
"""
import json
import sys
import unittest

import kafka_util as k

SERVER = None
PARTITIONS = 4
CHECKED = ["-X", "check.crcs=true"]


def setUpModule():
    global SERVER
    SERVER = k.KafkaServer("kcat", args=["--partitions", str(PARTITIONS)])


def tearDownModule():
    code, _ = SERVER.stop()
    assert code == 0, f"cairn serve exited {code} on SIGTERM"


def produce(topic, lines, *extra):
    k.kcat(SERVER, "-P", "-t", topic, "-K", ":", "-X", "partitioner=murmur2_random",
           "-X", "acks=all", *extra, input="".join(f"{line}\n" for line in lines))


def consume(topic, *args):
    """[(partition, offset, key, value)] of kcat -C ... -e."""
    p = k.kcat(SERVER, "-C", "-t", topic, "-e", *CHECKED, "-f", "%p|%o|%k|%s\\n", *args)
    out = []
    for line in p.stdout.splitlines():
        partition, offset, key, value = line.split("|", 3)
        out.append((int(partition), int(offset), key, value))
    return out


class KcatTest(unittest.TestCase):
    def test_list_shows_one_broker_as_controller_and_the_order_topics(self):
        out = k.kcat(SERVER, "-L").stdout
        self.assertIn(f"broker 1 at {SERVER.bootstrap} (controller)", out)
        self.assertIn(f'topic "order-events" with {PARTITIONS} partitions', out)

    def test_produced_keys_land_on_their_murmur2_partition_and_read_back_in_order(self):
        keys = [f"user-{i}" for i in range(40)]
        produce("kcat-murmur", [f"{key}:value of {key}" for key in keys])
        got = consume("kcat-murmur", "-o", "beginning")
        self.assertEqual(sorted(g[2] for g in got), sorted(keys))
        for partition, _, key, value in got:
            self.assertEqual(partition, k.murmur2_partition(key, PARTITIONS), key)
            self.assertEqual(value, f"value of {key}")
        for p in range(PARTITIONS):
            offsets = [g[1] for g in got if g[0] == p]
            self.assertEqual(offsets, list(range(len(offsets))))

    def test_an_idempotent_producer_writes_each_record_once_on_its_murmur2_partition(self):
        keys = [f"idem-{i}" for i in range(30)]
        produce("kcat-idempotent", [f"{key}:v-{key}" for key in keys], "-X", "enable.idempotence=true")
        got = consume("kcat-idempotent", "-o", "beginning")
        self.assertEqual(sorted(g[2] for g in got), sorted(keys))
        for partition, _, key, _ in got:
            self.assertEqual(partition, k.murmur2_partition(key, PARTITIONS), key)
        self.assertRegex(SERVER.current_log(), r"(?s)^(?!.*refused a produce to kcat-idempotent)")

    def test_every_compression_codec_kcat_offers_is_decoded(self):
        for codec in ("gzip", "snappy", "lz4", "zstd"):
            with self.subTest(codec=codec):
                topic = f"kcat-{codec}"
                keys = [f"{codec}-{i}" for i in range(20)]
                produce(topic, [f"{key}:{key * 10}" for key in keys], "-z", codec)
                got = consume(topic, "-o", "beginning")
                self.assertEqual(sorted((g[2], g[3]) for g in got), sorted((key, key * 10) for key in keys))

    def test_consume_from_the_beginning_the_last_five_the_end_and_past_the_end(self):
        topic = "kcat-offsets"
        produce(topic, [f"same-key:m{i}" for i in range(12)])
        p = k.murmur2_partition("same-key", PARTITIONS)
        part = ["-p", str(p)]
        self.assertEqual([g[3] for g in consume(topic, *part, "-o", "beginning")],
                         [f"m{i}" for i in range(12)])
        self.assertEqual([g[3] for g in consume(topic, *part, "-o", "-5")],
                         [f"m{i}" for i in range(7, 12)])
        self.assertEqual(consume(topic, *part, "-o", "end"), [])
        # Past the end: the broker says OFFSET_OUT_OF_RANGE and kcat resets to the end.
        run = k.kcat(SERVER, "-C", "-t", topic, *part, "-o", "100", "-e", *CHECKED, check=False)
        self.assertEqual(run.stdout, "")
        self.assertIn("Offset out of range", run.stderr)

    def test_a_produce_to_an_order_topic_fails_with_authorization(self):
        run = k.kcat(SERVER, "-P", "-t", "order-events", "-K", ":", "-X", "partitioner=murmur2_random",
                     input="k:v\n", check=False)
        self.assertIn("Topic authorization failed", run.stderr)
        self.assertIn("order-events", SERVER.current_log())

    def test_what_the_http_api_writes_is_read_as_the_seed_producer_wrote_it(self):
        created = SERVER.post("/api/orders", e2e_order(), token=k.e2e_util.ALICE)
        self.assertEqual(created.status, 201, created.body)
        order_id = created.json["orderId"]
        got = consume("order-events", "-o", "beginning")
        self.assertTrue(any(g[2] == order_id for g in got), got)
        value = next(g[3] for g in got if g[2] == order_id)
        envelope = json.loads(value)
        self.assertEqual(envelope["type"], "ORDER_CREATED")
        self.assertEqual(envelope["aggregateId"], order_id)
        self.assertEqual(envelope["version"], 1)
        self.assertIn("items", envelope["data"])


def e2e_order():
    return k.e2e_util.order_body()


if __name__ == "__main__":
    sys.exit(k.main(__doc__))
