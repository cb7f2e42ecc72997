#!/usr/bin/env python3
"""End-to-end tests of the live event stream, GET /api/stream (suite e2e): Server-Sent Events
from the beginning or from now, resumption from Last-Event-ID without loss or repeats, refused
subscriptions, and the cap on subscribers.

usage: python3 tests/http/e2e_stream_test.py CAIRN [unittest args]
  e.g. python3 tests/http/e2e_stream_test.py build/cairn -k resume
"""
import random
import sys
import threading
import time

import e2e_util
from e2e_util import (ADMIN, SERVICE, ALICE, ANY, order_body, Server, SseClient, ApiTestCase,
                       read_all_positions, setUpModule, tearDownModule)
# setUpModule starts the server this file's tests share (e2e_util.main_server());
# tearDownModule stops it and checks its log holds no token.


class EventStreamTest(ApiTestCase):

    def order_event_count(self):
        topics = {t["name"]: t for t in self.srv.get("/api/topics").json["topics"]}
        return topics, sum(topics["order-events"]["highWaterMarks"])

    def check_frames(self, events):
        for e in events:
            self.assertEqual(e["id"], e["data"]["position"], e)
            self.assertEqual(e["event"], e["data"]["type"], e)
            self.assertEqual(e["data"]["topic"], "order-events", e)

    def test_from_beginning_then_resume_from_last_event_id_loses_and_repeats_nothing(self):
        for _ in range(3):
            self.create(ALICE)
        stop = threading.Event()
        writer_errors = []

        def write():  # keeps appending while the subscriber reads and reconnects
            while not stop.is_set():
                r = self.srv.post("/api/orders", order_body(), ALICE)
                if r.status != 201:
                    writer_errors.append(r)
                    return
                time.sleep(0.01)

        writer = threading.Thread(target=write)
        writer.start()
        seen = []
        try:
            client = SseClient(self.srv, SERVICE, "order-events", start="beginning")
            self.assertEqual(client.status, 200, client.error)
            self.assertTrue(client.response.getheader("Content-Type").startswith("text/event-stream"))
            for round_ in range(6):
                batch = client.read(random.randint(1, 15), timeout=10)
                self.assertTrue(batch, "the stream stalled")
                seen += batch
                client.close()
                client = SseClient(self.srv, SERVICE, "order-events",
                                   last_event_id=seen[-1]["id"])
                self.assertEqual(client.status, 200, client.error)
        finally:
            stop.set()
            writer.join()
        self.assertFalse(writer_errors, writer_errors)
        topics, total = self.order_event_count()
        seen += client.read(total - len(seen), timeout=10)
        # Nothing more: the next read only times out.
        extra = client.read(1, timeout=1.0)
        client.close()
        self.assertEqual(extra, [], "events beyond the high-water marks")
        self.check_frames(seen)
        ids = [e["id"] for e in seen]
        self.assertEqual(len(ids), len(set(ids)), "duplicates after resuming")
        self.assertEqual(sorted(ids), sorted(read_all_positions(self, "order-events",
                                                                topics["order-events"])))
        seqs = [e["data"]["seq"] for e in seen]
        self.assertEqual(seqs, sorted(seqs), "events out of seq order")

    def test_from_now_delivers_new_events_across_topics(self):
        client = SseClient(self.srv, ADMIN, "order-events,payment-events")
        try:
            self.assertEqual(client.status, 200, client.error)
            created = self.create(ALICE)
            paid = self.command(created["orderId"], "pay", {"method": "card", "amount": 12000}, ALICE)
            events = client.read(2, timeout=10)
            self.assertEqual([e["id"] for e in events], [created["position"], paid["position"]])
            self.assertEqual([e["event"] for e in events], ["ORDER_CREATED", "PAYMENT_COMPLETED"])
            self.assertEqual(events[0]["data"]["data"]["orderId"], created["orderId"])
        finally:
            client.close()

    def test_bad_subscriptions_are_refused(self):
        for kwargs, status, field in [
                ({"token": ALICE}, 403, ANY),
                ({"token": None}, 401, ANY),
                ({"last_event_id": "garbage"}, 400, "Last-Event-ID"),
                ({"last_event_id": "order-events/0/99999999"}, 400, "Last-Event-ID"),
                ({"topics": "order-events,nope"}, 404, ANY),
                ({"start": "tomorrow"}, 400, "from")]:
            with self.subTest(**{k: str(v) for k, v in kwargs.items()}):
                client = SseClient(self.srv, **kwargs)
                client.close()
                self.assertIsNotNone(client.error, "the stream was opened")
                self.assertError(client.error, status, field=field)

    def test_on_a_fresh_data_dir_a_subscriber_gets_the_first_order(self):
        # A consumer started before the first order must not be told the topic does not exist.
        server = Server("fresh-stream")
        client = None
        try:
            client = SseClient(server, SERVICE, "order-events,payment-events,shipping-events")
            self.assertEqual(client.status, 200, client.error)
            r = server.post("/api/orders", order_body(), ALICE)
            self.assertEqual(r.status, 201, r)
            self.assertEqual([e["id"] for e in client.read(1, timeout=10)], [r.json["position"]])
        finally:
            if client:
                client.close()
            server.kill()

    def test_the_third_subscriber_over_max_streams_2_gets_503(self):
        server = Server("streams", args=["--max-streams", "2"])
        clients = []
        try:
            r = server.post("/api/orders", order_body(), ALICE)  # creates the order topics
            self.assertEqual(r.status, 201, r)
            for _ in range(2):
                clients.append(SseClient(server, SERVICE, "order-events"))
                self.assertEqual(clients[-1].status, 200, clients[-1].error)
            gauge = metric_lines(server, "cairn_stream_subscribers")
            third = SseClient(server, SERVICE, "order-events")
            third.close()
            self.assertEqual(third.status, 503, "a third stream was opened with --max-streams 2 "
                                                f"(with two open, /metrics said {gauge})")
            self.assertError(third.error, 503, code="busy")
            # Other requests are still served, and the streams still deliver.
            r = server.post("/api/orders", order_body(), ALICE)
            self.assertEqual(r.status, 201, r)
            for c in clients:
                self.assertEqual([e["id"] for e in c.read(1, timeout=10)], [r.json["position"]])
            # A slot frees when a subscriber leaves (noticed at the next write to it).
            clients.pop().close()
            deadline = time.time() + 20
            while True:
                self.assertEqual(server.post("/api/orders", order_body(), ALICE).status, 201)
                c = SseClient(server, SERVICE, "order-events", start="now")
                if c.status == 200:
                    clients.append(c)
                    break
                c.close()
                self.assertLess(time.time(), deadline, "the closed stream's slot never freed")
                time.sleep(0.2)
            self.assertEqual(metric_lines(server, "cairn_stream_subscribers"),
                             ["cairn_stream_subscribers 2"])
            # SIGTERM ends the open streams and exits promptly.
            code, seconds = server.stop()
            self.assertEqual(code, 0)
            self.assertLess(seconds, 10)
        finally:
            for c in clients:
                c.close()
            server.kill()


def metric_lines(server, name):
    text = server.get("/metrics", None).body.decode()
    return [line for line in text.splitlines() if line.startswith(name)]


if __name__ == "__main__":
    sys.exit(e2e_util.main(__doc__))
