#!/usr/bin/env python3
"""End-to-end tests of Cairn's HTTP API (DESIGN.md §4, suite e2e).

The real `cairn serve` runs on a temporary data dir on a free port and is driven over HTTP with
the standard library only: the order lifecycle with read-your-writes, every class of client
error (each asserts the status, the {"error": {code, message, field?}} shape, the field, and that
nothing was written), authentication and scoping, the raw log API, the live event stream and its
resumption from Last-Event-ID, admin routes, 32 concurrent clients, and SIGTERM / SIGKILL during
a load of creates followed by a restart.

usage: e2e_test.py CAIRN [unittest args]     e.g. e2e_test.py build/src/cli/cairn -k EventStream
Set CAIRN_E2E_KEEP=1 to keep the data dirs and server logs (their path is printed).
"""
import contextlib
import http.client
import json
import os
import random
import re
import shutil
import signal
import socket
import stat
import subprocess
import sys
import tempfile
import threading
import time
import unittest
import urllib.parse

CAIRN = None
ROOT = None  # the temporary directory holding every data dir and server log of this run

ADMIN = "admin-token-e2e-0123456789abcdef"
SERVICE = "service-token-e2e-0123456789abcdef"
ALICE = "alice-token-e2e-0123456789abcdef"
BOB = "bob-token-e2e-0123456789abcdef"
# Customers cust00..cust31, one per concurrent client.
CUSTOMERS = [f"cust{i:02d}-token-e2e-0123456789abcdef" for i in range(32)]
TOKENS = ([{"token": ADMIN, "user": "root", "role": "admin"},
           {"token": SERVICE, "user": "billing", "role": "service"},
           {"token": ALICE, "user": "alice", "role": "customer"},
           {"token": BOB, "user": "bob", "role": "customer"}] +
          [{"token": t, "user": f"cust{i:02d}", "role": "customer"}
           for i, t in enumerate(CUSTOMERS)])
ALL_TOKENS = [t["token"] for t in TOKENS]

ANY = object()  # "do not check" for optional assertion arguments


def order_body(price=6000, quantity=2, name="Fountain Pen", express=False, **extra):
    body = {"items": [{"productId": "p-100", "name": name, "price": price, "quantity": quantity}],
            "shippingAddress": {"street": "1 Sejong-daero", "city": "Seoul", "zipCode": "04524",
                                "country": "KR", "express": express}}
    body.update(extra)
    return body


class Response:
    def __init__(self, status, headers, body):
        self.status = status
        self.headers = headers
        self.body = body
        try:
            self.json = json.loads(body) if body else None
        except ValueError:
            self.json = None

    def header(self, name):
        for k, v in self.headers:
            if k.lower() == name.lower():
                return v
        return None

    def __repr__(self):
        return f"<HTTP {self.status} {self.body[:600]!r}>"


class Server:
    """One `cairn serve` process on a data dir; restartable on the same dir."""

    def __init__(self, name, tokens=True, args=()):
        self.name = name
        self.data = os.path.join(ROOT, name, "data")
        os.makedirs(os.path.dirname(self.data), exist_ok=True)
        self.tokens_file = None
        if tokens:
            self.tokens_file = os.path.join(ROOT, name, "tokens.json")
            with open(self.tokens_file, "w") as f:
                json.dump(TOKENS, f)
        self.args = list(args)
        self.process = None
        self.port = None
        self.starts = 0
        self.start()

    @property
    def log_path(self):
        return os.path.join(ROOT, self.name, f"serve.{self.starts}.log")

    def logs(self):
        text = ""
        for i in range(1, self.starts + 1):
            with open(os.path.join(ROOT, self.name, f"serve.{i}.log"), errors="replace") as f:
                text += f.read()
        return text

    def start(self):
        self.starts += 1
        cmd = [CAIRN, "serve", "--data", self.data, "--listen", "127.0.0.1:0", *self.args]
        if self.tokens_file:
            cmd += ["--tokens", self.tokens_file]
        log = open(self.log_path, "w")
        self.process = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT)
        log.close()
        deadline = time.time() + 60
        self.port = None
        while self.port is None:
            if self.process.poll() is not None:
                raise AssertionError(f"cairn serve exited {self.process.returncode}:\n" +
                                     self.current_log())
            if time.time() > deadline:
                raise AssertionError("cairn serve did not start:\n" + self.current_log())
            match = re.search(r"on http://127\.0\.0\.1:(\d+)", self.current_log())
            if match:
                self.port = int(match.group(1))
            else:
                time.sleep(0.05)
        while True:
            try:
                if self.request("GET", "/healthz").status == 200:
                    return
            except OSError:
                pass
            if time.time() > deadline:
                raise AssertionError("cairn serve never answered /healthz:\n" + self.current_log())
            time.sleep(0.05)

    def current_log(self):
        with open(self.log_path, errors="replace") as f:
            return f.read()

    def connect(self, timeout=30):
        return http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)

    def request(self, method, path, body=None, token=None, headers=None,
                content_type="application/json", timeout=30):
        """One request on a fresh connection. `body`: dict/list (sent as JSON), str or bytes."""
        h = {}
        if token:
            h["Authorization"] = f"Bearer {token}"
        if body is not None:
            if isinstance(body, (dict, list)):
                body = json.dumps(body)
            if isinstance(body, str):
                body = body.encode()
            if content_type:
                h["Content-Type"] = content_type
        h.update(headers or {})
        conn = self.connect(timeout)
        try:
            conn.request(method, path, body=body, headers=h)
            r = conn.getresponse()
            return Response(r.status, r.getheaders(), r.read())
        finally:
            conn.close()

    # Shorthands.
    def get(self, path, token=ADMIN, **kw):
        return self.request("GET", path, token=token, **kw)

    def post(self, path, body=None, token=ADMIN, **kw):
        return self.request("POST", path, body, token=token, **kw)

    def signal(self, sig):
        self.process.send_signal(sig)

    def stop(self, timeout=30):
        """SIGTERM; returns (exit code, seconds taken)."""
        if self.process.poll() is not None:
            return self.process.returncode, 0.0
        started = time.time()
        self.process.send_signal(signal.SIGTERM)
        try:
            code = self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
            raise AssertionError(f"cairn serve did not exit {timeout}s after SIGTERM:\n" +
                                 self.current_log()[-3000:])
        return code, time.time() - started

    def kill(self):
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()


class SseClient:
    """A GET /api/stream subscriber reading `id:`/`event:`/`data:` frames."""

    def __init__(self, server, token=SERVICE, topics="order-events", start=None,
                 last_event_id=None, timeout=10):
        self.conn = server.connect(timeout)
        path = "/api/stream?topics=" + urllib.parse.quote(topics, safe=",")
        if start:
            path += "&from=" + start
        headers = {"Accept": "text/event-stream"}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        if last_event_id is not None:
            headers["Last-Event-ID"] = last_event_id
        self.conn.request("GET", path, headers=headers)
        self.response = self.conn.getresponse()
        self.status = self.response.status
        self.error = None
        if self.status != 200:
            self.error = Response(self.status, self.response.getheaders(), self.response.read())

    def next_event(self, timeout):
        """The next event as {id, event, data}, or None when none came within `timeout`."""
        self.conn.sock.settimeout(timeout)
        frame = {}
        try:
            while True:
                line = self.response.readline()
                if not line:
                    return None  # the server ended the stream
                line = line.decode().rstrip("\r\n")
                if line == "":
                    if "id" in frame or "data" in frame:
                        if "data" in frame:
                            frame["data"] = json.loads(frame["data"])
                        return frame
                    continue
                if line.startswith(":"):
                    continue  # heartbeat comment
                key, _, value = line.partition(":")
                frame[key] = value[1:] if value.startswith(" ") else value
        except (socket.timeout, TimeoutError):
            return None

    def read(self, count, timeout=20):
        """Up to `count` events, stopping early if the stream is idle for `timeout` seconds."""
        events = []
        while len(events) < count:
            e = self.next_event(timeout)
            if e is None:
                break
            events.append(e)
        return events

    def close(self):
        with contextlib.suppress(OSError):
            self.conn.sock.shutdown(socket.SHUT_RDWR)
        self.conn.close()


MAIN = None  # the server most tests share


def setUpModule():
    global MAIN
    MAIN = Server("main", args=["--partitions", "4", "--max-body", "16384"])


def tearDownModule():
    if MAIN is None:
        return
    code, _ = MAIN.stop()
    logs = MAIN.logs()
    for token in ALL_TOKENS:
        assert token not in logs, "a token appears in the server log"
    assert code == 0, f"cairn serve exited {code} on SIGTERM"


class ApiTestCase(unittest.TestCase):
    server = None  # set by subclasses or setUpClass; defaults to MAIN

    @property
    def srv(self):
        return self.server or MAIN

    # ---- assertions ---------------------------------------------------------------------

    def assertError(self, r, status, field=ANY, code=ANY, message=ANY):
        """`r` is an error response of `status` with the JSON error shape. field=None asserts
        there is no field; ANY skips the check."""
        self.assertEqual(r.status, status, r)
        self.assertTrue((r.header("Content-Type") or "").startswith("application/json"), r.headers)
        self.assertIsInstance(r.json, dict, r)
        self.assertEqual(set(r.json), {"error"}, r)
        error = r.json["error"]
        self.assertIsInstance(error, dict, r)
        self.assertLessEqual(set(error), {"code", "message", "field"}, r)
        self.assertIsInstance(error.get("code"), str, r)
        self.assertTrue(error["code"], r)
        self.assertIsInstance(error.get("message"), str, r)
        self.assertTrue(error["message"], r)
        if field is None:
            self.assertNotIn("field", error, r)
        elif field is not ANY:
            self.assertEqual(error.get("field"), field, r)
        if code is not ANY:
            self.assertEqual(error["code"], code, r)
        if message is not ANY:
            self.assertRegex(error["message"], message, r)

    def assertStatus(self, r, status):
        self.assertEqual(r.status, status, r)
        return r.json

    # ---- helpers ------------------------------------------------------------------------

    def written_state(self):
        """What a write would change: every topic's high-water marks and the log's last seq."""
        topics = self.assertStatus(self.srv.get("/api/topics", ADMIN), 200)["topics"]
        metrics = self.srv.get("/metrics", None).body.decode()
        last_seq = re.search(r"^cairn_log_last_seq (\d+)$", metrics, re.M).group(1)
        return {t["name"]: t["highWaterMarks"] for t in topics}, int(last_seq)

    @contextlib.contextmanager
    def nothing_written(self):
        before = self.written_state()
        yield
        self.assertEqual(self.written_state(), before, "a refused request wrote to the log")

    def create(self, token=ALICE, body=None, expect=201, **kw):
        r = self.srv.post("/api/orders", body or order_body(), token, **kw)
        self.assertEqual(r.status, expect, r)
        return r.json

    def command(self, order_id, action, body=None, token=ADMIN, expect=200):
        r = self.srv.post(f"/api/orders/{order_id}/{action}", body, token)
        self.assertEqual(r.status, expect, r)
        return r.json

    def view(self, order_id, after=None, token=ADMIN):
        path = f"/api/orders/{order_id}"
        if after:
            path += "?after=" + urllib.parse.quote(after)
        return self.assertStatus(self.srv.get(path, token), 200)

    def settled_total(self, token=ADMIN, server=None):
        """GET /api/orders' total once the read models have applied every order event so far."""
        server = server or self.srv
        topics = {t["name"]: t for t in server.get("/api/topics").json["topics"]}
        total = None
        for p, hwm in enumerate(topics.get("order-events", {"highWaterMarks": []})["highWaterMarks"]):
            if hwm:
                r = server.get(f"/api/orders?limit=1&after=order-events/{p}/{hwm - 1}", token)
                total = self.assertStatus(r, 200)["total"]
        if total is None:
            total = self.assertStatus(server.get("/api/orders?limit=1", token), 200)["total"]
        return total

    def total_orders(self, after=None, token=ADMIN):
        path = "/api/orders?limit=1"
        if after:
            path += "&after=" + urllib.parse.quote(after)
        return self.assertStatus(self.srv.get(path, token), 200)["total"]


# =========================================================================================
# The order lifecycle and read-your-writes
# =========================================================================================

class OrderLifecycleTest(ApiTestCase):

    def test_create_pay_approve_ship_with_read_your_writes(self):
        created = self.create(ALICE, order_body(price=6000, quantity=2))
        self.assertEqual(set(created), {"orderId", "version", "position"})
        order_id = created["orderId"]
        self.assertEqual(created["version"], 1)
        self.assertRegex(created["position"], r"^order-events/\d+/\d+$")

        v = self.view(order_id, created["position"], ALICE)
        self.assertEqual(v["orderId"], order_id)
        self.assertEqual(v["userId"], "alice")
        self.assertEqual((v["status"], v["paymentStatus"]), ("CREATED", "PENDING"))
        self.assertEqual(v["totalAmount"], 12000)
        self.assertEqual(v["currency"], "KRW")
        self.assertEqual(v["itemCount"], 2)
        self.assertEqual(v["formattedTotal"], "₩12,000")
        self.assertEqual(v["version"], 1)
        self.assertEqual(v["items"], order_body()["items"])
        self.assertEqual(v["shippingAddress"]["city"], "Seoul")
        for key in ("createdAt", "updatedAt", "estimatedDelivery"):
            self.assertRegex(v[key], r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$", key)
        self.assertEqual(days_between(v["createdAt"], v["estimatedDelivery"]), 5)
        self.assertEqual([h["status"] for h in v["history"]], ["CREATED"])

        dashboard = lambda after: self.assertStatus(self.srv.get(
            "/api/dashboard?period=all&after=" + urllib.parse.quote(after)), 200)
        revenue_before = dashboard(created["position"])["revenue"]
        paid = self.command(order_id, "pay", {"method": "card", "amount": 12000}, ALICE)
        self.assertEqual(dashboard(paid["position"])["revenue"], revenue_before + 12000)
        self.assertEqual(paid["version"], 2)
        self.assertRegex(paid["position"], r"^payment-events/\d+/\d+$")
        v = self.view(order_id, paid["position"], ALICE)
        self.assertEqual((v["status"], v["paymentStatus"]), ("CREATED", "PAID"))
        self.assertEqual(v["payment"]["method"], "card")
        self.assertEqual(v["payment"]["amount"], 12000)

        approved = self.command(order_id, "approve")
        self.assertEqual(approved["version"], 3)
        self.assertEqual(self.view(order_id, approved["position"])["status"], "APPROVED")

        shipped = self.command(order_id, "ship", {"trackingNumber": "CJ-1234567890"})
        self.assertEqual(shipped["version"], 4)
        self.assertRegex(shipped["position"], r"^shipping-events/\d+/\d+$")
        v = self.view(order_id, shipped["position"], ALICE)
        self.assertEqual((v["status"], v["paymentStatus"]), ("SHIPPED", "PAID"))
        self.assertEqual(v["trackingNumber"], "CJ-1234567890")
        self.assertEqual(v["version"], 4)
        self.assertEqual([h["status"] for h in v["history"]], ["CREATED", "APPROVED", "SHIPPED"])

        # The status index moved the order (the seed kept it under CREATED too).
        after = urllib.parse.quote(shipped["position"])
        shipped_list = self.srv.get(f"/api/orders?status=SHIPPED&limit=100&after={after}", ALICE).json
        created_list = self.srv.get(f"/api/orders?status=CREATED&limit=100&after={after}", ALICE).json
        self.assertIn(order_id, [o["orderId"] for o in shipped_list["orders"]])
        self.assertNotIn(order_id, [o["orderId"] for o in created_list["orders"]])

        # The log holds the four events, one stream, on the seed's topics.
        stream = self.assertStatus(self.srv.get(f"/api/streams/order-{order_id}", SERVICE), 200)
        self.assertEqual(stream["stream"], f"order-{order_id}")
        self.assertEqual(stream["version"], 4)
        self.assertEqual([(e["type"], e["topic"], e["version"]) for e in stream["events"]],
                         [("ORDER_CREATED", "order-events", 1),
                          ("PAYMENT_COMPLETED", "payment-events", 2),
                          ("ORDER_APPROVED", "order-events", 3),
                          ("ORDER_SHIPPED", "shipping-events", 4)])
        self.assertEqual([e["position"] for e in stream["events"]],
                         [created["position"], paid["position"], approved["position"],
                          shipped["position"]])
        self.assertEqual(stream["events"][0]["data"]["totalAmount"], 12000)
        self.assertEqual(stream["events"][0]["metadata"]["userId"], "alice")

    def test_cancel_with_reason_and_express_delivery(self):
        created = self.create(BOB, order_body(price=500, quantity=3, express=True))
        v = self.view(created["orderId"], created["position"], BOB)
        self.assertEqual(days_between(v["createdAt"], v["estimatedDelivery"]), 2)
        cancelled = self.command(created["orderId"], "cancel", {"reason": "changed my mind"})
        v = self.view(created["orderId"], cancelled["position"], BOB)
        self.assertEqual(v["status"], "CANCELLED")
        self.assertEqual(v.get("cancellationReason"), "changed my mind")
        self.assertEqual([h["status"] for h in v["history"]], ["CREATED", "CANCELLED"])

    def test_every_write_is_visible_to_the_next_read_with_after(self):
        # Read-your-writes must hold on every try, not most: no 404 right after a 201.
        for i in range(15):
            created = self.create(ALICE, order_body(name=f"Ryw Widget {i}"))
            order_id, position = created["orderId"], created["position"]
            self.assertEqual(self.view(order_id, position, ALICE)["orderId"], order_id)
            r = self.srv.get(f"/api/orders/{order_id}", ALICE, headers={"X-Cairn-After": position})
            self.assertEqual(r.status, 200, r)
        quoted = urllib.parse.quote(position)
        listed = self.assertStatus(self.srv.get(f"/api/orders?limit=1&after={quoted}", ALICE), 200)
        self.assertEqual(listed["orders"][0]["orderId"], order_id)  # newest first
        found = self.assertStatus(
            self.srv.get(f"/api/search?q=Ryw+Widget+14&after={quoted}", ALICE), 200)
        self.assertIn(order_id, [o["orderId"] for o in found["results"]])
        dash = self.assertStatus(self.srv.get(f"/api/dashboard?period=today&after={quoted}"), 200)
        self.assertGreaterEqual(dash["total"], 15)
        self.assertIn("byStatus", dash)

    def test_list_filters_apply_before_paging_newest_first(self):
        user = f"pager-{random.randrange(1 << 30)}"
        ids = []
        for i in range(5):
            created = self.create(ADMIN, order_body(userId=user, price=100 * (i + 1), quantity=1))
            ids.append(created["orderId"])
        cancelled = self.command(ids[1], "cancel")
        q = f"&userId={user}&after=" + urllib.parse.quote(cancelled["position"])
        pages = [self.assertStatus(self.srv.get(f"/api/orders?limit=2&page={p}{q}"), 200)
                 for p in (1, 2, 3)]
        self.assertEqual([p["total"] for p in pages], [5, 5, 5])
        self.assertEqual([(p["page"], p["limit"]) for p in pages], [(1, 2), (2, 2), (3, 2)])
        listed = [o["orderId"] for p in pages for o in p["orders"]]
        self.assertEqual(listed, list(reversed(ids)))
        today = time.strftime("%Y-%m-%d", time.gmtime())
        for dates, total in [(f"&dateFrom={today}", 5), (f"&dateTo={today}", 5),
                             ("&dateTo=2000-01-01", 0), ("&dateFrom=2999-01-01", 0)]:
            r = self.assertStatus(self.srv.get(f"/api/orders?limit=100{dates}{q}"), 200)
            self.assertEqual(r["total"], total, dates)
            self.assertEqual(len(r["orders"]), total, dates)
        created_only = self.assertStatus(
            self.srv.get(f"/api/orders?status=CREATED&limit=2&page=2{q}"), 200)
        self.assertEqual(created_only["total"], 4)
        self.assertEqual([o["orderId"] for o in created_only["orders"]], [ids[2], ids[0]])

    def test_idempotency_key_returns_the_same_order_once(self):
        key = f"create-{random.randrange(1 << 40)}"
        before = self.settled_total(ALICE)
        first = self.srv.post("/api/orders", order_body(), ALICE, headers={"Idempotency-Key": key})
        second = self.srv.post("/api/orders", order_body(), ALICE, headers={"Idempotency-Key": key})
        self.assertEqual(first.status, 201, first)
        self.assertIn(second.status, (200, 201), second)
        self.assertEqual(second.json["orderId"], first.json["orderId"])
        self.assertEqual(second.json["position"], first.json["position"])
        self.assertEqual(second.header("Idempotent-Replayed"), "true")
        self.assertEqual(self.total_orders(first.json["position"], ALICE), before + 1)
        # The key is scoped by user: bob's identical request is another order.
        bob = self.srv.post("/api/orders", order_body(), BOB, headers={"Idempotency-Key": key})
        self.assertEqual(bob.status, 201, bob)
        self.assertNotEqual(bob.json["orderId"], first.json["orderId"])
        # A key on an action too: paying twice with one key is one payment, not a 422.
        pay_key = {"Idempotency-Key": key + "-pay"}
        pay = {"method": "card", "amount": 12000}
        p1 = self.srv.post(f"/api/orders/{first.json['orderId']}/pay", pay, ALICE, headers=pay_key)
        p2 = self.srv.post(f"/api/orders/{first.json['orderId']}/pay", pay, ALICE, headers=pay_key)
        self.assertEqual(p1.status, 200, p1)
        self.assertEqual(p2.status, 200, p2)
        self.assertEqual(p2.json, p1.json)

    def test_concurrent_requests_with_one_idempotency_key_create_one_order(self):
        key = f"race-{random.randrange(1 << 40)}"
        before = self.settled_total(BOB)
        results = run_threads(8, lambda i: self.srv.post(
            "/api/orders", order_body(), BOB, headers={"Idempotency-Key": key}))
        for r in results:
            self.assertIn(r.status, (200, 201), r)
        self.assertEqual(len({r.json["orderId"] for r in results}), 1, results)
        position = results[0].json["position"]
        self.assertEqual(self.total_orders(position, BOB), before + 1)


def days_between(a, b):
    parse = lambda s: time.mktime(time.strptime(s[:19], "%Y-%m-%dT%H:%M:%S"))
    return round((parse(b) - parse(a)) / 86400, 6)


def run_threads(n, fn):
    """Runs fn(0..n-1) on n threads released together; returns their results in order."""
    results = [None] * n
    errors = []
    barrier = threading.Barrier(n)

    def work(i):
        try:
            barrier.wait()
            results[i] = fn(i)
        except BaseException as e:  # reported below
            errors.append(e)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        raise errors[0]
    return results


# =========================================================================================
# Client errors: one test per class; each asserts the shape, the field, and that nothing was
# written.
# =========================================================================================

class ClientErrorTest(ApiTestCase):

    @classmethod
    def setUpClass(cls):
        # An order of alice's in each state the tests need, and a raw stream at version 2.
        srv = MAIN
        def create(token=ALICE):
            r = srv.post("/api/orders", order_body(), token)
            assert r.status == 201, r
            return r.json
        cls.created = create()
        cls.approved = create()
        assert srv.post(f"/api/orders/{cls.approved['orderId']}/approve").status == 200
        cls.shipped = create()
        assert srv.post(f"/api/orders/{cls.shipped['orderId']}/approve").status == 200
        assert srv.post(f"/api/orders/{cls.shipped['orderId']}/ship").status == 200
        cls.cancelled = create()
        r = srv.post(f"/api/orders/{cls.cancelled['orderId']}/cancel")
        assert r.status == 200, r
        cls.paid = create()
        r = srv.post(f"/api/orders/{cls.paid['orderId']}/pay", {"method": "card", "amount": 12000},
                     ALICE)
        assert r.status == 200, r
        cls.last_position = r.json["position"]
        cls.stream = f"ledger-{random.randrange(1 << 40)}"
        r = srv.post(f"/api/streams/{cls.stream}",
                     {"topic": "ledger-events", "expectedVersion": "no_stream",
                      "events": [{"id": f"{cls.stream}-1", "type": "OPENED", "data": {"n": 1}},
                                 {"type": "CREDITED", "data": {"n": 2}}]}, SERVICE)
        assert r.status == 201, r
        # Wait for the read models so 404/422 answers are not about lag.
        assert srv.get(f"/api/orders?after={urllib.parse.quote(cls.last_position)}").status == 200

    def test_malformed_json_is_400_without_a_field(self):
        oid = self.created["orderId"]
        cases = [
            ("/api/orders", '{"items": ['),
            ("/api/orders", "{items: []}"),
            ("/api/orders", "[]"),
            ("/api/orders", "null"),
            ("/api/orders", '"just a string"'),
            ("/api/orders", json.dumps(order_body()) + " {}"),  # trailing document
            ("/api/orders", json.dumps(order_body())[:-1]),  # truncated
            ("/api/orders", b"\xff\xfe{\x00}"),  # not UTF-8
            (f"/api/orders/{oid}/approve", "{"),
            (f"/api/orders/{oid}/pay", '{"method": "card", "amount": 12000,}'),
            (f"/api/orders/{oid}/ship", "[1]"),
            (f"/api/orders/{oid}/cancel", "{} []"),
            ("/api/topics", '{"name": "t", "partitions": 2'),
            (f"/api/streams/{self.stream}", "{'topic': 'ledger-events'}"),
        ]
        with self.nothing_written():
            for path, body in cases:
                with self.subTest(path=path, body=body):
                    r = self.srv.post(path, body, SERVICE if "/orders" not in path else ADMIN)
                    self.assertError(r, 400, code="validation_failed")
                    self.assertFalse(r.json["error"].get("field"), r)

    def test_wrong_types_are_400_naming_the_field(self):
        oid = self.created["orderId"]
        item = order_body()["items"][0]
        cases = [
            ("/api/orders", order_body(price="6000"), "items[0].price"),
            ("/api/orders", order_body(price=60.5), "items[0].price"),
            ("/api/orders", order_body(quantity=1.5), "items[0].quantity"),
            ("/api/orders", order_body(quantity=True), "items[0].quantity"),
            ("/api/orders", order_body(name=7), "items[0].name"),
            ("/api/orders", order_body(price=2 ** 64), "items[0].price"),
            ("/api/orders", {**order_body(), "items": {"0": item}}, "items"),
            ("/api/orders", {**order_body(), "items": [item, "pen"]}, "items[1]"),
            ("/api/orders", {**order_body(), "shippingAddress": "Seoul"}, "shippingAddress"),
            ("/api/orders", {**order_body(), "shippingAddress": {
                **order_body()["shippingAddress"], "express": "yes"}}, "shippingAddress.express"),
            ("/api/orders", order_body(currency=410), "currency"),
            ("/api/orders", order_body(totalAmount="12000"), "totalAmount"),
            (f"/api/orders/{oid}/pay", {"method": "card", "amount": "12000"}, "amount"),
            (f"/api/orders/{oid}/pay", {"method": ["card"], "amount": 12000}, "method"),
            (f"/api/orders/{oid}/ship", {"trackingNumber": 42}, "trackingNumber"),
            (f"/api/orders/{oid}/cancel", {"reason": {"text": "x"}}, "reason"),
            ("/api/topics", {"name": "typed", "partitions": "2"}, "partitions"),
            ("/api/topics", {"name": ["typed"], "partitions": 2}, "name"),
            (f"/api/streams/{self.stream}",
             {"topic": "ledger-events", "expectedVersion": True, "events": []}, "expectedVersion"),
            (f"/api/streams/{self.stream}",
             {"topic": "ledger-events", "expectedVersion": -1, "events": []}, "expectedVersion"),
            (f"/api/streams/{self.stream}", {"topic": 5, "events": []}, "topic"),
            (f"/api/streams/{self.stream}", {"topic": "ledger-events", "events": {}}, "events"),
            (f"/api/streams/{self.stream}",
             {"topic": "ledger-events", "events": [{"type": 1, "data": {}}]}, "events[0].type"),
            (f"/api/streams/{self.stream}",
             {"topic": "ledger-events", "events": [{"type": "X", "data": {}, "metadata": []}]},
             "events[0].metadata"),
        ]
        with self.nothing_written():
            for path, body, field in cases:
                with self.subTest(path=path, field=field, body=body):
                    token = SERVICE if "/orders" not in path else ADMIN
                    self.assertError(self.srv.post(path, body, token), 400, field=field,
                                     code="validation_failed")

    def test_missing_fields_are_400_naming_the_field(self):
        oid = self.created["orderId"]
        body = order_body()
        no_items = {k: v for k, v in body.items() if k != "items"}
        no_address = {k: v for k, v in body.items() if k != "shippingAddress"}
        item = body["items"][0]
        address = body["shippingAddress"]
        cases = [
            ("/api/orders", no_items, "items"),
            ("/api/orders", no_address, "shippingAddress"),
            ("/api/orders", {}, "items"),
            ("/api/orders", {**body, "items": [{k: v for k, v in item.items() if k != "price"}]},
             "items[0].price"),
            ("/api/orders", {**body, "items": [{k: v for k, v in item.items() if k != "productId"}]},
             "items[0].productId"),
            ("/api/orders", {**body, "shippingAddress": {k: v for k, v in address.items()
                                                         if k != "city"}}, "shippingAddress.city"),
            ("/api/orders", {**body, "items": []}, "items"),  # present but empty
            (f"/api/orders/{oid}/pay", {"method": "card"}, "amount"),
            (f"/api/orders/{oid}/pay", {"amount": 12000}, "method"),
            (f"/api/orders/{oid}/pay", None, "method"),
            ("/api/topics", {"partitions": 2}, "name"),
            ("/api/topics", {"name": "no-partitions"}, "partitions"),
            (f"/api/streams/{self.stream}", {"events": [{"type": "X", "data": {}}]}, "topic"),
            (f"/api/streams/{self.stream}", {"topic": "ledger-events"}, "events"),
            (f"/api/streams/{self.stream}", {"topic": "ledger-events", "events": [{"data": {}}]},
             "events[0].type"),
            (f"/api/streams/{self.stream}", {"topic": "ledger-events", "events": [{"type": "X"}]},
             "events[0].data"),
        ]
        with self.nothing_written():
            for path, body, field in cases:
                with self.subTest(path=path, field=field):
                    token = SERVICE if "/orders" not in path else ADMIN
                    self.assertError(self.srv.post(path, body, token), 400, field=field,
                                     code="validation_failed")

    def test_unknown_fields_are_400_naming_the_field(self):
        oid = self.created["orderId"]
        body = order_body()
        cases = [
            ("/api/orders", {**body, "discount": 100}, "discount"),
            ("/api/orders", {**body, "items": [{**body["items"][0], "colour": "red"}]},
             "items[0].colour"),
            ("/api/orders", {**body, "shippingAddress": {**body["shippingAddress"], "floor": 3}},
             "shippingAddress.floor"),
            ("/api/orders", {**body, "status": "SHIPPED"}, "status"),
            (f"/api/orders/{oid}/approve", {"force": True}, "force"),
            (f"/api/orders/{oid}/pay", {"method": "card", "amount": 12000, "tip": 1}, "tip"),
            (f"/api/orders/{oid}/cancel", {"reason": "x", "refund": True}, "refund"),
            ("/api/topics", {"name": "extra", "partitions": 2, "retention": "7d"}, "retention"),
            (f"/api/streams/{self.stream}",
             {"topic": "ledger-events", "events": [{"type": "X", "data": {}, "key": "k"}]},
             "events[0].key"),
            (f"/api/streams/{self.stream}",
             {"topic": "ledger-events", "events": [], "partition": 1}, "partition"),
            (f"/api/streams/{self.stream}",
             {"topic": "ledger-events",
              "events": [{"type": "X", "data": {}, "metadata": {"traceId": "t"}}]},
             "events[0].metadata.traceId"),
        ]
        with self.nothing_written():
            for path, body, field in cases:
                with self.subTest(path=path, field=field):
                    token = SERVICE if "/orders" not in path else ADMIN
                    self.assertError(self.srv.post(path, body, token), 400, field=field,
                                     code="validation_failed")

    def test_out_of_range_values_are_400_naming_the_field(self):
        body = order_body()
        cases = [
            (order_body(quantity=0), "items[0].quantity"),
            (order_body(quantity=-1), "items[0].quantity"),
            (order_body(price=-5), "items[0].price"),
            (order_body(price=2 ** 62, quantity=4), "items[0]"),  # price × quantity overflows
            ({**body, "items": [body["items"][0]] * 2 + [
                {**body["items"][0], "price": 2 ** 62, "quantity": 1}] * 2}, "items"),  # the sum
            ({**body, "items": [{"productId": "p", "name": "n", "price": 1, "quantity": 1}] * 101},
             "items"),
            (order_body(name=""), "items[0].name"),
            (order_body(name="x" * 201), "items[0].name"),
            (order_body(totalAmount=999), "totalAmount"),
            (order_body(currency="krw"), "currency"),
        ]
        with self.nothing_written():
            for body, field in cases:
                with self.subTest(field=field):
                    self.assertError(self.srv.post("/api/orders", body, ALICE), 400, field=field)
            for path, field in [("/api/orders/bad$id/approve", "orderId"),
                                ("/api/orders/" + "a" * 65 + "/approve", "orderId")]:
                self.assertError(self.srv.post(path, None, ADMIN), 400, field=field)
            key = {"Idempotency-Key": "k" * 65}
            self.assertError(self.srv.post("/api/orders", body, ALICE, headers=key), 400,
                             field="Idempotency-Key")

    def test_a_body_that_is_not_json_is_415(self):
        oid = self.created["orderId"]
        text = json.dumps(order_body())
        with self.nothing_written():
            for path, content_type, token in [
                    ("/api/orders", "text/plain", ALICE),
                    ("/api/orders", "application/x-www-form-urlencoded", ALICE),
                    ("/api/orders", None, ALICE),
                    ("/api/orders", "application/jsonp", ALICE),
                    (f"/api/orders/{oid}/approve", "text/plain", ADMIN),
                    (f"/api/orders/{oid}/pay", "application/xml", ALICE),
                    ("/api/topics", "text/plain", SERVICE),
                    (f"/api/streams/{self.stream}", "application/xml", SERVICE),
                    ("/api/admin/check", "text/plain", ADMIN)]:
                with self.subTest(path=path, content_type=content_type):
                    r = self.srv.post(path, text, token, content_type=content_type)
                    self.assertError(r, 415, code="unsupported_media_type")
            # A charset parameter is fine.
            r = self.srv.post("/api/orders", "{}", ALICE,
                              content_type="application/json; charset=utf-8")
            self.assertError(r, 400, field="items")

    def test_a_multipart_body_is_415_too(self):
        # cpp-httplib parses multipart/form-data bodies itself, before any route sees them: a
        # route must not take the emptied body for "no body" and run the command.
        fresh = self.create(ALICE)["orderId"]
        form = '--x\r\nContent-Disposition: form-data; name="a"\r\n\r\n1\r\n--x--\r\n'
        with self.nothing_written():
            for path, body in [(f"/api/orders/{fresh}/approve", form),
                               ("/api/orders", form),
                               ("/api/orders", json.dumps(order_body()))]:
                with self.subTest(path=path, body=body):
                    r = self.srv.post(path, body, ADMIN,
                                      content_type="multipart/form-data; boundary=x")
                    self.assertError(r, 415, code="unsupported_media_type")

    def test_a_body_over_the_limit_is_413(self):
        big_order = order_body(name="x" * 20000)
        big_append = {"topic": "ledger-events", "events": [{"type": "X", "data": "y" * 20000}]}
        with self.nothing_written():
            for path, body, token in [("/api/orders", big_order, ALICE),
                                      (f"/api/streams/{self.stream}", big_append, SERVICE),
                                      ("/api/topics", {"name": "z" * 20000, "partitions": 1}, SERVICE)]:
                with self.subTest(path=path):
                    self.assertError(self.srv.post(path, body, token), 413, code="too_large")
            # The limit is --max-body (16384): just under it is parsed, not refused.
            under = order_body(name="x" * 15000)
            self.assertError(self.srv.post("/api/orders", under, ALICE), 400,
                             field="items[0].name")

    def test_unknown_routes_and_ids_are_404(self):
        missing = "0badc0de-0000-4000-8000-000000000000"
        alices = self.created["orderId"]
        with self.nothing_written():
            for method, path, token in [
                    ("GET", "/api/nothing-here", ADMIN),
                    ("GET", "/no-such-page", None),  # "/" is the web console
                    ("POST", "/api/orders/x/refund", ADMIN),
                    ("GET", "/api/orders/x/y/z", ADMIN),
                    ("GET", f"/api/orders/{missing}", ADMIN),
                    ("GET", f"/api/orders/{alices}", BOB),  # another customer's: not revealed
                    ("POST", f"/api/orders/{missing}/approve", ADMIN),
                    ("POST", f"/api/orders/{missing}/ship", ADMIN),
                    ("POST", f"/api/orders/{missing}/cancel", ADMIN),
                    ("POST", f"/api/orders/{missing}/pay", ALICE),
                    ("POST", f"/api/orders/{alices}/pay", BOB),
                    ("GET", "/api/streams/no-such-stream", SERVICE),
                    ("GET", "/api/topics/no-such-topic/partitions/0", SERVICE),
                    ("GET", "/api/topics/order-events/partitions/4", SERVICE),
                    ("GET", "/api/topics/order-events/partitions/x", SERVICE),
                    ("GET", "/api/stream?topics=no-such-topic", SERVICE),
                    ("GET", "/api/admin/jobs/987654321", ADMIN),
                    ("GET", "/api/admin/jobs/abc", ADMIN),
                    ("POST", "/api/admin/projections/no-such-projection/rebuild", ADMIN)]:
                with self.subTest(method=method, path=path):
                    body = {"method": "card", "amount": 12000} if path.endswith("/pay") else None
                    r = self.srv.request(method, path, body, token)
                    self.assertError(r, 404, code="not_found")

    def test_bad_query_parameters_are_400_naming_the_parameter(self):
        big = 10 ** 9
        cases = [
            ("/api/orders?page=-1", "page"),
            ("/api/orders?page=0", "page"),
            ("/api/orders?page=abc", "page"),
            ("/api/orders?page=1.5", "page"),
            (f"/api/orders?page={10 ** 7}", "page"),
            (f"/api/orders?limit={big}", "limit"),
            ("/api/orders?limit=0", "limit"),
            ("/api/orders?limit=101", "limit"),
            ("/api/orders?limit=-20", "limit"),
            ("/api/orders?limit=99999999999999999999999", "limit"),
            ("/api/orders?status=SHIPPING", "status"),
            ("/api/orders?dateFrom=yesterday", "dateFrom"),
            ("/api/orders?dateFrom=2026-13-01", "dateFrom"),
            ("/api/orders?dateTo=2026-02-30", "dateTo"),
            ("/api/orders?dateTo=2026-01-01T25:00:00Z", "dateTo"),
            ("/api/orders?userId=" + "u" * 65, "userId"),
            ("/api/dashboard?period=1y", "period"),
            ("/api/search?q=pen&limit=0", "limit"),
            (f"/api/search?q=pen&limit={big}", "limit"),
            ("/api/search?q=", "q"),
            ("/api/search?q=" + "+".join("t" * 9), "q"),
            (f"/api/streams/{self.stream}?fromVersion=0", "fromVersion"),
            (f"/api/streams/{self.stream}?fromVersion=-1", "fromVersion"),
            (f"/api/streams/{self.stream}?limit={big}", "limit"),
            ("/api/topics/order-events/partitions/0?fromOffset=-1", "fromOffset"),
            ("/api/topics/order-events/partitions/0?fromOffset=x", "fromOffset"),
            ("/api/topics/order-events/partitions/0?limit=0", "limit"),
            (f"/api/topics/order-events/partitions/0?limit={big}", "limit"),
            ("/api/stream?topics=order-events&from=yesterday", "from"),
        ]
        with self.nothing_written():
            for path, field in cases:
                with self.subTest(path=path):
                    self.assertError(self.srv.get(path, ADMIN), 400, field=field,
                                     code="validation_failed")
            self.assertError(self.srv.post("/api/admin/check?repair=maybe"), 400, field="repair")

    def test_no_or_bad_token_is_401(self):
        routes = [("GET", "/api/orders"), ("POST", "/api/orders"),
                  ("GET", f"/api/orders/{self.created['orderId']}"),
                  ("POST", f"/api/orders/{self.created['orderId']}/approve"),
                  ("GET", "/api/dashboard"), ("GET", "/api/search?q=pen"),
                  ("GET", "/api/topics"), ("POST", "/api/topics"),
                  ("POST", f"/api/streams/{self.stream}"), ("GET", f"/api/streams/{self.stream}"),
                  ("GET", "/api/topics/order-events/partitions/0"),
                  ("GET", "/api/stream?topics=order-events"),
                  ("GET", "/api/admin/projections"), ("POST", "/api/admin/check"),
                  ("POST", "/api/admin/projections/orders/rebuild")]
        authorizations = [None, "", "Bearer", "Bearer ", f"Basic {ALICE}", ALICE,
                          "Bearer not-a-token-but-long-enough", f"Bearer {ALICE}x",
                          f"Bearer {ALICE[:-1]}", f"Bearer  {ALICE}"]
        with self.nothing_written():
            for method, path in routes:
                for auth in authorizations:
                    with self.subTest(method=method, path=path, authorization=auth):
                        headers = {} if auth is None else {"Authorization": auth}
                        body = order_body() if method == "POST" else None
                        r = self.srv.request(method, path, body, None, headers=headers)
                        self.assertError(r, 401, code="unauthenticated")
                        self.assertTrue((r.header("WWW-Authenticate") or "").startswith("Bearer"), r)

    def test_a_role_without_the_right_is_403(self):
        oid = self.created["orderId"]
        cases = [
            (ALICE, "POST", f"/api/orders/{oid}/approve", None),
            (ALICE, "POST", f"/api/orders/{self.approved['orderId']}/ship", None),
            (ALICE, "POST", f"/api/orders/{oid}/cancel", None),
            (ALICE, "GET", "/api/dashboard", None),
            (ALICE, "GET", "/api/topics", None),
            (ALICE, "POST", "/api/topics", {"name": "mine", "partitions": 1}),
            (ALICE, "POST", f"/api/streams/{self.stream}",
             {"topic": "ledger-events", "events": [{"type": "X", "data": {}}]}),
            (ALICE, "GET", f"/api/streams/order-{oid}", None),
            (ALICE, "GET", "/api/topics/order-events/partitions/0", None),
            (ALICE, "GET", "/api/stream?topics=order-events", None),
            (ALICE, "GET", "/api/admin/projections", None),
            (ALICE, "POST", "/api/admin/projections/orders/rebuild", None),
            (ALICE, "POST", "/api/admin/check", None),
            (ALICE, "GET", "/api/admin/jobs/1", None),
            (SERVICE, "POST", f"/api/orders/{oid}/approve", None),
            (SERVICE, "GET", f"/api/orders/{oid}", None),
            (SERVICE, "GET", "/api/orders", None),
            (SERVICE, "GET", "/api/dashboard", None),
            (SERVICE, "GET", "/api/admin/projections", None),
            (SERVICE, "POST", "/api/admin/check", None),
        ]
        with self.nothing_written():
            for token, method, path, body in cases:
                with self.subTest(token=token[:5], method=method, path=path):
                    self.assertError(self.srv.request(method, path, body, token), 403,
                                     code="permission_denied")
            # Acting for another user is admin-only, and names the field.
            self.assertError(self.srv.post("/api/orders", order_body(userId="bob"), ALICE), 403,
                             field="userId")
            self.assertError(self.srv.get("/api/orders?userId=bob", ALICE), 403, field="userId")

    def test_conflicting_writes_are_409(self):
        path = f"/api/streams/{self.stream}"
        event = [{"type": "DEBITED", "data": {"n": 3}}]
        with self.nothing_written():
            for expected in (0, 1, 3, 99, "no_stream"):
                with self.subTest(expectedVersion=expected):
                    r = self.srv.post(path, {"topic": "ledger-events", "expectedVersion": expected,
                                             "events": event}, SERVICE)
                    # The conflict reports the stream's actual version (2).
                    self.assertError(r, 409, code="conflict", message=r"\b2\b")
            r = self.srv.post(f"/api/streams/fresh-{random.randrange(1 << 40)}",
                              {"topic": "ledger-events", "expectedVersion": "exists",
                               "events": event}, SERVICE)
            self.assertError(r, 409, code="conflict")
            # An append repeating some but not all of its event ids.
            r = self.srv.post(path, {"topic": "ledger-events", "events": [
                {"id": f"{self.stream}-1", "type": "OPENED", "data": {"n": 1}},
                {"id": f"{self.stream}-new", "type": "DEBITED", "data": {"n": 3}}]}, SERVICE)
            self.assertError(r, 409, code="conflict")
            # A topic that exists with another partition count.
            self.assertError(self.srv.post("/api/topics", {"name": "order-events", "partitions": 7},
                                           SERVICE), 409, code="conflict")
        # An Idempotency-Key already used for another command.
        key = {"Idempotency-Key": f"reused-{random.randrange(1 << 40)}"}
        first = self.srv.post("/api/orders", order_body(), ALICE, headers=key)
        self.assertEqual(first.status, 201, first)
        with self.nothing_written():
            r = self.srv.post("/api/orders", order_body(quantity=3), ALICE, headers=key)
            self.assertError(r, 409, code="conflict", field="Idempotency-Key")
            # A backup into a directory that exists.
            r = self.srv.post("/api/admin/backup", {"to": ROOT})
            self.assertError(r, 409, code="conflict")
        stream = self.assertStatus(self.srv.get(path, SERVICE), 200)
        self.assertEqual(stream["version"], 2)
        self.assertEqual([e["type"] for e in stream["events"]], ["OPENED", "CREDITED"])

    def test_a_broken_rule_is_422_and_changes_nothing(self):
        cases = [
            (self.created, "ship", None, ADMIN, ANY),            # ship before approve
            (self.approved, "approve", None, ADMIN, ANY),         # approve twice
            (self.shipped, "cancel", None, ADMIN, ANY),           # cancel after shipping
            (self.cancelled, "approve", None, ADMIN, ANY),        # approve a cancelled order
            (self.cancelled, "pay", {"method": "card", "amount": 12000}, ALICE, ANY),
            (self.paid, "pay", {"method": "card", "amount": 12000}, ALICE, ANY),  # pay twice
            (self.created, "pay", {"method": "card", "amount": 11999}, ALICE, "amount"),
            (self.created, "pay", {"method": "card", "amount": 0}, ADMIN, "amount"),
        ]
        with self.nothing_written():
            versions = {o["orderId"]: self.view(o["orderId"])["version"] for o, *_ in cases}
            for order, action, body, token, field in cases:
                with self.subTest(action=action, status=self.view(order["orderId"])["status"]):
                    r = self.srv.post(f"/api/orders/{order['orderId']}/{action}", body, token)
                    self.assertError(r, 422, code="rule_violation", field=field)
            for order_id, version in versions.items():
                self.assertEqual(self.view(order_id)["version"], version)

    def test_read_your_writes_position_must_name_an_event(self):
        oid = self.created["orderId"]
        bad = ["garbage", "order-events", "order-events/0", "order-events/x/1", "order-events/0/",
               "order-events/-1/0", "/0/0", "order-events/0/99999999999",
               "order-events/4/0", "no-such-topic/0/0", "order-events/0/1/2"]
        with self.nothing_written():
            for path in (f"/api/orders/{oid}", "/api/orders", "/api/search?q=pen",
                         "/api/dashboard"):
                for position in bad:
                    sep = "&" if "?" in path else "?"
                    with self.subTest(path=path, after=position):
                        r = self.srv.get(f"{path}{sep}after={urllib.parse.quote(position)}", ADMIN)
                        self.assertError(r, 400, field="after", code="validation_failed")
                r = self.srv.get(path, ADMIN, headers={"X-Cairn-After": "order-events/x"})
                self.assertError(r, 400, field="X-Cairn-After")
            # A valid position answers with the fresh data (the rest of the contract is in
            # OrderLifecycleTest.test_every_write_is_visible_to_the_next_read_with_after).
            v = self.view(oid, self.created["position"], ALICE)
            self.assertEqual(v["orderId"], oid)

    def test_no_client_input_gets_a_500(self):
        """Garbage at every route: any 4xx is fine, a 5xx or a dead server is not."""
        oid = self.created["orderId"]
        routes = [("POST", "/api/orders"), ("POST", f"/api/orders/{oid}/pay"),
                  ("POST", f"/api/orders/{oid}/ship"), ("POST", f"/api/orders/{oid}/cancel"),
                  ("POST", "/api/topics"), ("POST", f"/api/streams/{self.stream}"),
                  ("POST", "/api/admin/backup")]
        bodies = ["", " ", "{}", "[]", "0", "-1", "1e999", '"\\ud800"', "{\"a\":" * 2000,
                  "[" * 100000, '{"items": null}', '{"items": [null]}', '{"items": [[]]}',
                  '{"items":[{"productId":"\u0000","name":"n","price":1,"quantity":1}]}',
                  '{"items":[{"price":1e308,"quantity":1e308}]}',
                  '{"amount": -9223372036854775809, "method": "card"}',
                  '{"amount": 9223372036854775807, "method": "card"}',
                  '{"name": "../../etc", "partitions": 1}', '{"name": "", "partitions": 4097}',
                  '{"topic": "order-events", "events": [{"type": "X", "data": {}}], '
                  '"expectedVersion": 1e3}',
                  '{"to": "relative/dir"}', '{"to": 5}',
                  json.dumps(order_body(name="😀" * 50)),
                  json.dumps({**order_body(), "items": {"__proto__": 1}})]
        paths = ["/api/orders?page=%00", "/api/orders?status=%ff%fe", "/api/orders/%2e%2e",
                 "/api/orders/" + "%41" * 500, "/api/search?q=" + "%e2%82" * 10,
                 "/api/search?q=" + "+" * 50, "/api/orders?dateFrom=9999-12-31T23:59:59.9999999Z",
                 "/api/orders?dateFrom=0000-01-01", "/api/orders?dateTo=-2026-01-01",
                 "/api/topics/order-events/partitions/99999999999999999999",
                 f"/api/streams/{'x' * 5000}", "/api/admin/jobs/18446744073709551616",
                 "/api/orders?after=order-events/0/18446744073709551616"]
        for method, path in routes:
            for body in bodies:
                r = self.srv.request(method, path, body, ADMIN)
                self.assertLess(r.status, 500, (method, path, body[:80], r))
        for path in paths:
            r = self.srv.get(path, ADMIN)
            self.assertLess(r.status, 500, (path, r))
        # A malformed HTTP request is answered, and the server lives on.
        for raw in (b"GARBAGE\r\n\r\n", b"GET /api/orders HTTP/9.9\r\n\r\n",
                    b"POST /api/orders HTTP/1.1\r\nContent-Length: -5\r\n\r\n",
                    b"POST /api/orders HTTP/1.1\r\nContent-Length: 99999999999999999999\r\n\r\n",
                    b"GET /" + b"a" * 20000 + b" HTTP/1.1\r\n\r\n"):
            with socket.create_connection(("127.0.0.1", self.srv.port), timeout=10) as s:
                s.sendall(raw)
                with contextlib.suppress(OSError):
                    reply = s.recv(1024)
                    if reply:
                        self.assertNotRegex(reply.split(b"\r\n")[0], rb" 5\d\d ", raw[:40])
        self.assertEqual(self.srv.get("/healthz", None).status, 200)

    def test_field_names_match_the_request_body(self):
        """The field of an error is the request's own name for it (DESIGN.md §4)."""
        with self.nothing_written():
            # POST /api/topics calls the topic "name".
            r = self.srv.post("/api/topics", {"name": "bad name!", "partitions": 1}, SERVICE)
            self.assertError(r, 400, field="name")
            r = self.srv.post("/api/topics", {"name": "ok-name", "partitions": 0}, SERVICE)
            self.assertError(r, 400, field="partitions")


# =========================================================================================
# Authentication, scoping and roles (the positive side)
# =========================================================================================

class ScopingTest(ApiTestCase):

    def test_a_customer_sees_only_its_own_orders(self):
        mine = self.create(ALICE, order_body(name="Scoping Lamp"))
        theirs = self.create(BOB, order_body(name="Scoping Lamp"))
        after = urllib.parse.quote(theirs["position"])
        self.view(mine["orderId"], mine["position"], ALICE)
        self.assertError(self.srv.get(f"/api/orders/{theirs['orderId']}?after={after}", ALICE),
                         404, code="not_found")
        listed = self.assertStatus(self.srv.get(f"/api/orders?limit=100&after={after}", ALICE), 200)
        self.assertTrue(all(o["userId"] == "alice" for o in listed["orders"]), listed)
        self.assertIn(mine["orderId"], [o["orderId"] for o in listed["orders"]])
        found = self.assertStatus(
            self.srv.get(f"/api/search?q=scoping+lamp&limit=100&after={after}", ALICE), 200)
        ids = [o["orderId"] for o in found["results"]]
        self.assertIn(mine["orderId"], ids)
        self.assertNotIn(theirs["orderId"], ids)
        self.assertEqual(self.srv.get(f"/api/orders?userId=alice&after={after}", ALICE).status, 200)
        # An admin sees both, and may act for a user.
        self.view(theirs["orderId"], theirs["position"], ADMIN)
        for_bob = self.create(ADMIN, order_body(userId="bob"))
        self.assertEqual(self.view(for_bob["orderId"], for_bob["position"], BOB)["userId"], "bob")
        # The owner may pay; another customer may not even see it; the owner may not approve.
        self.assertError(self.srv.post(f"/api/orders/{mine['orderId']}/pay",
                                       {"method": "card", "amount": 12000}, BOB), 404)
        self.assertError(self.srv.post(f"/api/orders/{mine['orderId']}/approve", None, ALICE), 403)
        self.command(mine["orderId"], "pay", {"method": "card", "amount": 12000}, ALICE)
        # A service may create orders (for itself) but not read them.
        self.create(SERVICE)
        self.assertError(self.srv.get(f"/api/orders/{mine['orderId']}", SERVICE), 403)

    def test_without_tokens_file_an_admin_token_is_made_mode_0600(self):
        server = Server("admin-token", tokens=False)
        try:
            path = os.path.join(server.data, "admin.token")
            self.assertEqual(stat.S_IMODE(os.stat(path).st_mode), 0o600)
            with open(path) as f:
                token = f.read().strip()
            self.assertGreaterEqual(len(token), 16)
            self.assertNotIn(token, server.current_log())
            r = server.get("/api/admin/projections", token)
            self.assertEqual(r.status, 200, r)
            self.assertEqual(server.get("/api/admin/projections", ALICE).status, 401)
            code, _ = server.stop()
            self.assertEqual(code, 0)
            server.start()  # the same token on the next start
            self.assertEqual(server.get("/api/admin/projections", token).status, 200)
        finally:
            server.kill()


# =========================================================================================
# The raw log API
# =========================================================================================

class RawLogTest(ApiTestCase):

    def test_topics_appends_and_reads(self):
        name = f"inventory-{random.randrange(1 << 40)}"
        r = self.srv.post("/api/topics", {"name": name, "partitions": 3}, SERVICE)
        self.assertEqual(r.status, 201, r)
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


def read_all_positions(test, topic, info):
    """Every position of `topic` by partition reads, asserting offsets are gapless."""
    positions = []
    for p, hwm in enumerate(info["highWaterMarks"]):
        offset = 0
        while offset < hwm:
            r = test.srv.get(f"/api/topics/{topic}/partitions/{p}?fromOffset={offset}&limit=1000",
                             SERVICE)
            test.assertEqual(r.status, 200, r)
            events = r.json["events"]
            test.assertTrue(events, f"partition {p} ends at {offset} before its hwm {hwm}")
            for e in events:
                test.assertEqual(e["offset"], offset, "offsets are gapless")
                positions.append(e["position"])
                offset += 1
    return positions


# =========================================================================================
# The live event stream (SSE)
# =========================================================================================

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


# =========================================================================================
# Operations: health, metrics, admin
# =========================================================================================

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


# =========================================================================================
# Concurrency
# =========================================================================================

class ConcurrencyTest(ApiTestCase):

    def test_32_clients_creating_at_once_lose_no_order(self):
        per_client = 8
        before = self.settled_total()  # and now the read models hold every order so far
        before_user = [self.total_orders(token=CUSTOMERS[i]) for i in range(32)]

        connected = threading.Barrier(32)

        def client(i):  # one keep-alive connection per client, as an HTTP client library keeps
            acked = []
            # Connect first (retrying a reset: see test_a_burst_of_32_new_connections...), then
            # create all at once on the open connections.
            for _ in range(10):
                conn = self.srv.connect()
                try:
                    conn.request("GET", "/healthz")
                    conn.getresponse().read()
                    break
                except ConnectionResetError:
                    conn.close()
            connected.wait()
            headers = {"Authorization": f"Bearer {CUSTOMERS[i]}", "Content-Type": "application/json"}
            try:
                for _ in range(per_client):
                    conn.request("POST", "/api/orders", json.dumps(order_body(quantity=i + 1)), headers)
                    raw = conn.getresponse()
                    r = Response(raw.status, raw.getheaders(), raw.read())
                    if r.status != 201:
                        return acked, r
                    acked.append(r.json)
            finally:
                conn.close()
            return acked, None

        results = run_threads(32, client)
        failures = [r for _, r in results if r is not None]
        self.assertEqual(failures, [], "creates refused under load")
        acked = [o for orders, _ in results for o in orders]
        self.assertEqual(len(acked), 32 * per_client)
        self.assertEqual(len({o["orderId"] for o in acked}), len(acked), "an orderId was reused")
        for i, (orders, _) in enumerate(results):
            last = orders[-1]["position"]
            self.assertEqual(self.total_orders(last, CUSTOMERS[i]), before_user[i] + per_client)
            for o in orders:
                v = self.view(o["orderId"], o["position"], CUSTOMERS[i])
                self.assertEqual((v["userId"], v["itemCount"]), (f"cust{i:02d}", i + 1))
        self.assertEqual(self.total_orders(acked[-1]["position"]), before + len(acked))

    def test_a_burst_of_32_new_connections_is_served_without_resets(self):
        # 32 clients each opening a new connection per request (curl in a shell loop, a
        # serverless function): none may be reset before it gets an answer. (A connection reset
        # after the request was sent leaves the client not knowing whether its order exists.)
        resets = []
        per_client = 30

        def client(i):
            for _ in range(per_client):
                try:
                    r = self.srv.post("/api/orders", order_body(), CUSTOMERS[i])
                    self.assertEqual(r.status, 201, r)
                except ConnectionResetError as e:
                    resets.append(e)

        run_threads(32, client)
        self.assertEqual(len(resets), 0, f"{len(resets)} of {32 * per_client} requests on new "
                                         f"connections were reset: {resets[:1]}")

    def test_concurrent_commands_on_one_order_are_serialized(self):
        created = self.create(ALICE)
        oid = created["orderId"]
        pays = run_threads(12, lambda i: self.srv.post(
            f"/api/orders/{oid}/pay", {"method": "card", "amount": 12000}, ALICE))
        statuses = sorted(r.status for r in pays)
        self.assertEqual(statuses, [200] + [422] * 11, pays)

        # Approve and cancel racing: whatever wins, the stream has one event per 200.
        created = self.create(ALICE)
        oid = created["orderId"]
        actions = ["approve", "cancel"] * 6
        results = run_threads(12, lambda i: self.srv.post(f"/api/orders/{oid}/{actions[i]}"))
        self.assertTrue(all(r.status in (200, 422) for r in results), results)
        ok = [a for a, r in zip(actions, results) if r.status == 200]
        # Cancel is allowed from CREATED and APPROVED, so exactly one cancel wins whatever the
        # order; an approve wins only if it came first.
        self.assertEqual(ok.count("cancel"), 1, results)
        self.assertLessEqual(ok.count("approve"), 1, results)
        stream = self.srv.get(f"/api/streams/order-{oid}", SERVICE).json
        self.assertEqual(stream["version"], 1 + len(ok))
        last = max((r.json for r in results if r.status == 200), key=lambda j: j["version"])
        v = self.view(oid, last["position"])
        self.assertEqual(v["version"], 1 + len(ok))
        self.assertEqual(v["status"], "CANCELLED")


# =========================================================================================
# Durability: SIGTERM and SIGKILL under a load of creates, then a restart
# =========================================================================================

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


def main():
    global CAIRN, ROOT
    if len(sys.argv) < 2:
        print(__doc__, file=sys.stderr)
        return 2
    CAIRN = os.path.abspath(sys.argv[1])
    ROOT = tempfile.mkdtemp(prefix="cairn-e2e-")
    keep = os.environ.get("CAIRN_E2E_KEEP")
    if keep:
        print(f"data dirs and logs in {ROOT}", file=sys.stderr)
    try:
        program = unittest.main(argv=[sys.argv[0], *sys.argv[2:]], exit=False, verbosity=2)
        return 0 if program.result.wasSuccessful() else 1
    finally:
        if not keep:
            shutil.rmtree(ROOT, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
