#!/usr/bin/env python3
"""Raw-socket tests of the Kafka listener: exact bytes in and out, broken ones included.

Usage: kafka_raw_test.py path/to/cairn [-k NAME]
"""
import socket
import sys
import threading
import time
import unittest

import kafka_util as k
from kafka_util import (API_VERSIONS, FETCH, LIST_OFFSETS, METADATA, PRODUCE, RawClient, array,
                        batch, i8, i16, i32, record, string)

SERVER = None
PARTITIONS = 4


def setUpModule():
    global SERVER
    SERVER = k.KafkaServer("raw", args=["--partitions", str(PARTITIONS)])


def tearDownModule():
    code, _ = SERVER.stop()
    assert code == 0, f"cairn serve exited {code} on SIGTERM"


def key_for(partition, prefix="key"):
    return k.key_for(partition, PARTITIONS, prefix)


class RawTest(unittest.TestCase):
    def setUp(self):
        self.c = RawClient(SERVER.kafka_port)

    def tearDown(self):
        self.c.close()

    def create(self, topic):
        r = self.c.call(METADATA, 4, k.metadata_v4([topic]))
        r.i32()
        brokers = r.i32()
        for _ in range(brokers):
            r.i32(), r.string(), r.i32(), r.string()
        r.string(), r.i32()
        self.assertEqual(r.i32(), 1)
        self.assertEqual(r.i16(), 0, "topic error")
        self.assertEqual(r.string(), topic)

    def produce(self, topic, partition, records_bytes, acks=-1):
        r = self.c.call(PRODUCE, 7, k.produce_v7(topic, partition, records_bytes, acks))
        [(_, _, error, base)] = k.read_produce_v7(r)
        return error, base

    def fetch(self, topic, partition, offset, **kw):
        r = self.c.call(FETCH, 11, k.fetch_v11(topic, partition, offset, **kw))
        return k.read_fetch_v11(r)[(topic, partition)]

    def latest(self, topic, partition):
        r = self.c.call(LIST_OFFSETS, 3, k.list_offsets_v3(topic, partition, -1))
        return k.read_list_offsets_v3(r)[3]

    # ---- golden bytes --------------------------------------------------------------------

    def test_crc32c_of_the_check_string_is_the_published_value(self):
        self.assertEqual(k.crc32c(b"123456789"), 0xE3069283)

    def test_varints_at_their_byte_boundaries_encode_as_the_spec_says(self):
        self.assertEqual(k.varint(0), b"\x00")
        self.assertEqual(k.varint(-1), b"\x01")
        self.assertEqual(k.varint(1), b"\x02")
        self.assertEqual(k.varint(63), b"\x7e")
        self.assertEqual(k.varint(-64), b"\x7f")
        self.assertEqual(k.varint(64), b"\x80\x01")
        self.assertEqual(k.varint(-(2 ** 63)), b"\xff" * 9 + b"\x01")

    # ---- ApiVersions and unknown requests ------------------------------------------------

    def test_api_versions_v3_advertises_exactly_the_implemented_ranges(self):
        r = self.c.call(API_VERSIONS, 3, k.uvarint(5) + b"test" + k.uvarint(2) + b"1" + k.uvarint(0),
                        flexible=True)
        self.assertEqual(r.i16(), 0)
        ranges = {}
        for _ in range(r.uvarint() - 1):
            key, lo, hi = r.i16(), r.i16(), r.i16()
            r.uvarint()
            ranges[key] = (lo, hi)
        self.assertEqual(r.i32(), 0)
        self.assertEqual(r.uvarint(), 0)
        self.assertTrue(r.done())
        self.assertEqual(ranges[0], (3, 7))
        self.assertEqual(ranges[1], (4, 11))
        self.assertEqual(ranges[2], (1, 3))
        self.assertEqual(ranges[3], (1, 4))
        self.assertEqual(ranges[18], (0, 3))

    def test_api_versions_at_an_unknown_version_answers_unsupported_with_the_v0_list(self):
        r = self.c.call(API_VERSIONS, 9, b"")
        self.assertEqual(r.i16(), 35)
        n = r.i32()
        self.assertGreater(n, 0)
        keys = [(r.i16(), r.i16(), r.i16())[0] for _ in range(n)]
        self.assertIn(18, keys)
        self.assertTrue(r.done())

    def test_an_unknown_api_key_gets_unsupported_version_and_the_connection_stays_open(self):
        r = self.c.call(999, 0, b"whatever")
        self.assertEqual(r.i16(), 35)
        r = self.c.call(API_VERSIONS, 0, b"")
        self.assertEqual(r.i16(), 0)

    def test_a_known_api_at_an_unadvertised_version_gets_unsupported_version(self):
        r = self.c.call(METADATA, 9, b"")
        self.assertEqual(r.i16(), 35)

    # ---- framing -------------------------------------------------------------------------

    def test_a_frame_claiming_more_than_the_request_limit_closes_only_that_connection(self):
        self.c.send_raw(i32(0x7FFFFFF0) + b"\x00" * 16)
        self.assertTrue(self.c.is_closed())
        other = RawClient(SERVER.kafka_port)
        self.assertEqual(other.call(API_VERSIONS, 0, b"").i16(), 0)
        other.close()

    def test_a_frame_smaller_than_a_request_header_closes_the_connection(self):
        self.c.send_raw(i32(3) + b"abc")
        self.assertTrue(self.c.is_closed())

    def test_a_body_shorter_than_its_fields_closes_the_connection(self):
        self.c.send(PRODUCE, 7, string(None) + i16(-1))  # no timeout, no topics
        self.assertTrue(self.c.is_closed())

    def test_a_frame_sent_in_pieces_is_answered_once_complete(self):
        frame = i16(API_VERSIONS) + i16(0) + i32(77) + string("slow")
        data = i32(len(frame)) + frame
        for b in data:
            self.c.send_raw(bytes([b]))
            time.sleep(0.002)
        cid, body = self.c.recv()
        self.assertEqual(cid, 77)
        self.assertEqual(body[:2], b"\x00\x00")

    # ---- Produce and Fetch ---------------------------------------------------------------

    def test_a_produced_batch_is_fetched_back_with_its_keys_values_headers_and_a_valid_crc(self):
        topic = "raw-roundtrip"
        self.create(topic)
        key = key_for(2)
        long_key = key_for(2, prefix="k" * 62)  # a 63-64 byte key: the varint length boundary
        records = [record(key, '{"n":1}', headers=[("eventType", "Thing"), ("other", "x")]),
                   record(long_key, "b" * 200, offset_delta=1, timestamp_delta=-5)]
        error, base = self.produce(topic, 2, batch(records, base_timestamp=1_700_000_000_000))
        self.assertEqual((error, base), (0, 0))
        error, hwm, data = self.fetch(topic, 2, 0)
        self.assertEqual((error, hwm), (0, 2))
        [(base_offset, got)] = k.decode_batches(data)
        self.assertEqual(base_offset, 0)
        self.assertEqual([r["offset"] for r in got], [0, 1])
        self.assertEqual(got[0]["key"], key.encode())
        self.assertEqual(got[0]["value"], b'{"n":1}')
        self.assertEqual(got[0]["timestamp"], 1_700_000_000_000)
        self.assertIn(("eventType", b"Thing"), got[0]["headers"])
        self.assertEqual(got[1]["key"], long_key.encode())
        self.assertEqual(got[1]["value"], b"b" * 200)
        self.assertEqual(got[1]["timestamp"], 1_700_000_000_000 - 5)

    def test_a_gzip_batch_is_decoded(self):
        topic = "raw-gzip"
        self.create(topic)
        key = key_for(1)
        error, base = self.produce(topic, 1, batch([record(key, "zipped")], codec=1))
        self.assertEqual((error, base), (0, 0))
        [(_, got)] = k.decode_batches(self.fetch(topic, 1, 0)[2])
        self.assertEqual(got[0]["value"], b"zipped")

    def test_a_batch_with_a_bad_crc_is_corrupt_message_and_writes_nothing(self):
        topic = "raw-badcrc"
        self.create(topic)
        error, _ = self.produce(topic, 0, batch([record(key_for(0), "x")], corrupt_crc=True))
        self.assertEqual(error, 2)
        self.assertEqual(self.latest(topic, 0), 0)

    def test_a_key_produced_to_another_partition_than_murmur2s_is_refused(self):
        topic = "raw-wrongpart"
        self.create(topic)
        error, _ = self.produce(topic, 3, batch([record(key_for(0), "x")]))
        self.assertEqual(error, 87)
        self.assertEqual(self.latest(topic, 3), 0)

    def test_a_null_key_may_go_to_any_partition(self):
        topic = "raw-nullkey"
        self.create(topic)
        for p in range(PARTITIONS):
            self.assertEqual(self.produce(topic, p, batch([record(None, f"v{p}")]))[0], 0)
        for p in range(PARTITIONS):
            [(_, got)] = k.decode_batches(self.fetch(topic, p, 0)[2])
            self.assertIsNone(got[0]["key"])
            self.assertEqual(got[0]["value"], f"v{p}".encode())

    def test_producing_to_an_order_topic_is_refused(self):
        error, _ = self.produce("order-events", 0, batch([record(key_for(0), "{}")]))
        self.assertEqual(error, 29)

    def test_producing_to_an_unknown_partition_is_refused(self):
        self.create("raw-unknownpart")
        error, _ = self.produce("raw-unknownpart", PARTITIONS, batch([record(None, "x")]))
        self.assertEqual(error, 3)

    def test_a_fetch_answers_about_a_mebibyte_at_most_and_the_next_one_goes_on(self):
        # A broker may answer less than a fetch's max bytes: Cairn answers ~1 MiB at most, so a
        # consumer works on one response while the next is built. 3 MB of records come back in
        # several fetches, in order, each record once.
        topic = "raw-large-fetch"
        self.create(topic)
        key = key_for(0)
        for i in range(30):
            value = b"%02d" % i + b"v" * 100_000
            self.assertEqual(self.produce(topic, 0, k.batch([k.record(key, value)])), (0, i))
        offset, fetches = 0, 0
        while offset < 30:
            error, hwm, records = self.fetch(topic, 0, offset, max_bytes=8 << 20)
            self.assertEqual((error, hwm), (0, 30))
            self.assertLessEqual(len(records), (1 << 20) + 110_000)  # the cap, plus one batch
            for _, batch_records in k.decode_batches(records):
                for rec in batch_records:
                    self.assertEqual(rec["offset"], offset)
                    self.assertEqual(rec["value"][:2], b"%02d" % offset)
                    offset += 1
            fetches += 1
        self.assertGreaterEqual(fetches, 3)

    def test_fetch_past_the_end_is_offset_out_of_range_and_at_the_end_is_empty(self):
        topic = "raw-ends"
        self.create(topic)
        self.produce(topic, 0, batch([record(key_for(0), "x")]))
        self.assertEqual(self.fetch(topic, 0, 5)[0], 1)
        error, hwm, data = self.fetch(topic, 0, 1)
        self.assertEqual((error, hwm, data), (0, 1, b""))

    def test_an_idle_fetch_is_held_for_its_max_wait(self):
        topic = "raw-idle"
        self.create(topic)
        started = time.monotonic()
        error, _, data = self.fetch(topic, 0, 0, max_wait_ms=500)
        waited = time.monotonic() - started
        self.assertEqual((error, data), (0, b""))
        self.assertGreater(waited, 0.4)
        self.assertLess(waited, 3)

    def test_a_waiting_fetch_wakes_when_a_record_is_appended(self):
        topic = "raw-wake"
        self.create(topic)
        result = {}

        def wait():
            c = RawClient(SERVER.kafka_port)
            started = time.monotonic()
            result["fetch"] = c.call(FETCH, 11, k.fetch_v11(topic, 0, 0, max_wait_ms=10_000))
            result["waited"] = time.monotonic() - started
            c.close()
        t = threading.Thread(target=wait)
        t.start()
        time.sleep(0.3)
        self.assertEqual(self.produce(topic, 0, batch([record(key_for(0), "wake")]))[0], 0)
        t.join(15)
        self.assertLess(result["waited"], 5)
        error, _, data = k.read_fetch_v11(result["fetch"])[(topic, 0)]
        self.assertEqual(k.decode_batches(data)[0][1][0]["value"], b"wake")

    def test_acks_zero_gets_no_response_and_later_responses_keep_their_order(self):
        topic = "raw-acks0"
        self.create(topic)
        self.c.send(PRODUCE, 7, k.produce_v7(topic, 0, batch([record(key_for(0), "a0")]), acks=0))
        cid = self.c.send(API_VERSIONS, 0, b"")
        got, _ = self.c.recv()
        self.assertEqual(got, cid)
        deadline = time.time() + 5
        while self.latest(topic, 0) != 1 and time.time() < deadline:
            time.sleep(0.05)
        self.assertEqual(self.latest(topic, 0), 1)

    def test_responses_come_in_request_order_even_when_an_earlier_one_waits(self):
        topic = "raw-order"
        self.create(topic)
        first = self.c.send(FETCH, 11, k.fetch_v11(topic, 0, 0, max_wait_ms=700))
        second = self.c.send(API_VERSIONS, 0, b"")
        self.assertEqual(self.c.recv()[0], first)
        self.assertEqual(self.c.recv()[0], second)

    def test_list_offsets_answers_earliest_latest_and_by_time(self):
        topic = "raw-offsets"
        self.create(topic)
        key = key_for(0)
        self.produce(topic, 0, batch([record(key, "a")], base_timestamp=1_000_000))
        self.produce(topic, 0, batch([record(key, "b")], base_timestamp=2_000_000))
        for ts, want in ((-2, 0), (-1, 2), (1_500_000, 1), (3_000_000, 2)):
            r = self.c.call(LIST_OFFSETS, 3, k.list_offsets_v3(topic, 0, ts))
            self.assertEqual(k.read_list_offsets_v3(r)[3], want, ts)


class LimitsTest(unittest.TestCase):
    """The documented limits, lowered: connections, request size, requests in flight."""

    @classmethod
    def setUpClass(cls):
        cls.server = k.KafkaServer("limits", args=["--kafka-max-connections", "3",
                                                   "--kafka-max-request", "4096",
                                                   "--kafka-max-in-flight", "2"])

    @classmethod
    def tearDownClass(cls):
        assert cls.server.stop()[0] == 0

    def test_a_connection_past_the_limit_is_closed_and_the_others_go_on(self):
        clients = [RawClient(self.server.kafka_port) for _ in range(3)]
        for c in clients:
            self.assertEqual(c.call(API_VERSIONS, 0, b"").i16(), 0)
        extra = RawClient(self.server.kafka_port)
        self.assertTrue(extra.is_closed())
        extra.close()
        self.assertEqual(clients[0].call(API_VERSIONS, 0, b"").i16(), 0)
        clients[0].close()
        time.sleep(0.2)
        again = RawClient(self.server.kafka_port)
        self.assertEqual(again.call(API_VERSIONS, 0, b"").i16(), 0)
        for c in clients[1:] + [again]:
            c.close()

    def test_a_request_over_the_size_limit_closes_its_connection(self):
        c = RawClient(self.server.kafka_port)
        c.send(PRODUCE, 7, k.produce_v7("limits", 0, batch([record(None, "x" * 5000)])))
        self.assertTrue(c.is_closed())
        c.close()

    def test_requests_past_the_in_flight_limit_wait_and_are_all_answered_in_order(self):
        c = RawClient(self.server.kafka_port)
        c.call(METADATA, 4, k.metadata_v4(["limits-wait"]))
        started = time.monotonic()
        ids = [c.send(FETCH, 11, k.fetch_v11("limits-wait", 0, 0, max_wait_ms=300)) for _ in range(4)]
        ids.append(c.send(API_VERSIONS, 0, b""))
        self.assertEqual([c.recv()[0] for _ in ids], ids)
        # Two at a time: the four waits take at least two rounds.
        self.assertGreater(time.monotonic() - started, 0.55)
        c.close()


if __name__ == "__main__":
    sys.exit(k.main(__doc__))
