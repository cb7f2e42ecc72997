"""Shared helpers of the end-to-end tests of Cairn's HTTP API (tests/http/e2e_*_test.py).

Each e2e_*_test.py file is its own meson test (suite e2e) and its own process: it runs the real
`cairn serve` on temporary data dirs on free ports (so the files can run in parallel) and drives
it over HTTP with the standard library only. This module holds what they share: the tokens, a
Server (start, restart, SIGTERM, SIGKILL, requests), an SSE client, ApiTestCase with the error
shape assertions and the "nothing was written" check, the server most tests of a file share
(setUpModule / tearDownModule), and main().

Set CAIRN_E2E_KEEP=1 to keep the data dirs and server logs (their path is printed).

On the Kafka log: with CAIRN_E2E_LOG=kafka and CAIRN_MOCK_KAFKA=<tests/kafkalog/mock_kafka>, each
Server runs on its own mock Kafka cluster (`serve --log kafka://...`), made with the order topics,
ledger-events and a pool of topics for TopicName() (the mock cluster cannot create topics).
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
import ssl
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

ON_KAFKA = os.environ.get("CAIRN_E2E_LOG") == "kafka"
# Topics TopicName() hands out on the Kafka log: made on every mock cluster up front.
TOPIC_POOL = [f"pool-{i}" for i in range(8)]
_topic_names = iter(TOPIC_POOL)


def TopicName(prefix, partitions=3):
    """A topic name no test used yet. On the Kafka log, one of TOPIC_POOL (3 partitions), which
    the mock cluster already holds."""
    if ON_KAFKA:
        assert partitions == 3, "the mock clusters' pool topics have 3 partitions"
        return next(_topic_names)
    return f"{prefix}-{random.randrange(1 << 40)}"


class MockKafka:
    """librdkafka's mock cluster (tests/kafkalog/mock_kafka) in its own process: 3 brokers, the
    given topics. Commands (see mock_kafka.cc) go over its stdin; main() closes every one."""

    running = []

    def __init__(self, topics, brokers=3):
        cmd = [os.environ["CAIRN_MOCK_KAFKA"], "--brokers", str(brokers)]
        for name, partitions in topics:
            cmd += ["--topic", f"{name}:{partitions}"]
        self.process = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                        text=True, bufsize=1)
        line = self.process.stdout.readline().split()
        if len(line) != 2 or line[0] != "bootstrap":
            raise AssertionError(f"mock_kafka did not start: {line}")
        self.bootstrap = line[1]
        self.url = "kafka://" + self.bootstrap
        MockKafka.running.append(self)

    def command(self, text):
        self.process.stdin.write(text + "\n")
        answer = self.process.stdout.readline().strip()
        if answer != "ok":
            raise AssertionError(f"mock_kafka {text!r}: {answer}")

    def close(self):
        if self.process.poll() is None:
            self.process.stdin.close()
            self.process.wait(timeout=30)
        self.process.stdout.close()


def kafka_log_args(name, args):
    """The --log arguments of a server named `name` on its own mock cluster, whose topics get
    the server's --partitions (8 by default)."""
    partitions = 8
    if "--partitions" in args:
        partitions = int(args[args.index("--partitions") + 1])
    topics = [(t, partitions) for t in ("order-events", "payment-events", "shipping-events",
                                        "ledger-events")]
    topics += [(t, 3) for t in TOPIC_POOL]
    cluster = MockKafka(topics)
    return cluster, ["--log", cluster.url, "--cluster", name.replace("/", "-")]


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
    """One `cairn serve` process on a data dir; restartable on the same dir. With `tls_ca` (the
    CA file that signed its --tls-cert) requests go over HTTPS, verified against that CA."""

    def __init__(self, name, tokens=True, args=(), listen="127.0.0.1:0", tls_ca=None, env=None):
        self.name = name
        self.env = env  # the process's environment (None: this one's)
        self.listen = listen
        self.tls_ca = tls_ca
        self.data = os.path.join(ROOT, name, "data")
        os.makedirs(os.path.dirname(self.data), exist_ok=True)
        self.tokens_file = None
        if tokens:
            self.tokens_file = os.path.join(ROOT, name, "tokens.json")
            with open(self.tokens_file, "w") as f:
                json.dump(TOKENS, f)
        self.args = list(args)
        self.kafka = None
        if ON_KAFKA and "--log" not in self.args:
            self.kafka, log_args = kafka_log_args(name, self.args)
            self.args += log_args
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
        cmd = [CAIRN, "serve", "--data", self.data, "--listen", self.listen, *self.args]
        if self.tokens_file:
            cmd += ["--tokens", self.tokens_file]
        log = open(self.log_path, "w")
        self.process = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=self.env)
        log.close()
        deadline = time.time() + 60
        self.port = None
        while self.port is None:
            if self.process.poll() is not None:
                raise AssertionError(f"cairn serve exited {self.process.returncode}:\n" +
                                     self.current_log())
            if time.time() > deadline:
                raise AssertionError("cairn serve did not start:\n" + self.current_log())
            match = re.search(r"cairn serving .* on https?://[^ ]+:(\d+) ", self.current_log())
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
        if self.tls_ca:
            context = ssl.create_default_context(cafile=self.tls_ca)
            return http.client.HTTPSConnection("127.0.0.1", self.port, timeout=timeout,
                                               context=context)
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


MAIN = None  # the server the tests of one file share


def main_server():
    """The server the tests of this file share (started by setUpModule)."""
    return MAIN


def setUpModule():
    """Starts the shared server; a test file imports this to have one."""
    global MAIN
    MAIN = Server("main", args=["--partitions", "4", "--max-body", "16384"])


def tearDownModule():
    """Stops the shared server: it must exit 0 on SIGTERM and never have logged a token."""
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


def main(doc):
    """Runs the unittest tests of the calling __main__ module against the binary in argv[1]."""
    global CAIRN, ROOT
    if len(sys.argv) < 2:
        print(doc, file=sys.stderr)
        return 2
    CAIRN = os.path.abspath(sys.argv[1])
    ROOT = tempfile.mkdtemp(prefix="cairn-e2e-")
    keep = os.environ.get("CAIRN_E2E_KEEP")
    if keep:
        print(f"data dirs and logs in {ROOT}", file=sys.stderr)
    try:
        program = unittest.main(module="__main__", argv=[sys.argv[0], *sys.argv[2:]], exit=False,
                                verbosity=2)
        return 0 if program.result.wasSuccessful() else 1
    finally:
        for cluster in MockKafka.running:
            cluster.close()
        if not keep:
            shutil.rmtree(ROOT, ignore_errors=True)
