#!/usr/bin/env python3
"""End-to-end tests of the `cairn` operator commands against a running `cairn serve` (suite e2e).

A server is started on a data dir holding the kcat sample. The tests: a backup taken through
--url while clients create orders is a consistent data dir; a verified one, restored with `cairn
restore`, holds every write acknowledged before the backup started; rebuild and check through --url
(token from --token, --token-file and CAIRN_TOKEN); the offline commands refuse the held dir with
an error naming --url; bad tokens and unknown projections are exit 2.

usage: cli_live_test.py CAIRN KCAT_SAMPLE [unittest args]
"""
import http.client
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import unittest

CAIRN = SAMPLE = None
ADMIN_TOKEN = "admin-token-0123456789abcdef"
CUSTOMER_TOKENS = [f"customer-token-{i}-0123456789" for i in range(4)]


def run(*args, stdin=None, env=None, check=None):
    full_env = dict(os.environ)
    full_env.pop("CAIRN_TOKEN", None)
    full_env.update(env or {})
    p = subprocess.run([CAIRN, *args], input=stdin, capture_output=True, env=full_env, timeout=300)
    out, err = p.stdout.decode(), p.stderr.decode()
    if check is not None and p.returncode != check:
        raise AssertionError(f"cairn {' '.join(args)} exited {p.returncode}, wanted {check}\n"
                             f"stdout:\n{out}\nstderr:\n{err}")
    return p.returncode, out, err


class Server:
    """A `cairn serve` on a free port."""

    def __init__(self, data, tokens_file):
        self.log = open(data.rstrip("/") + ".serve.log", "w+")
        tokens = ["--tokens", tokens_file] if tokens_file else []
        self.process = subprocess.Popen(
            [CAIRN, "serve", "--data", data, "--listen", "127.0.0.1:0"] + tokens,
            stdout=self.log, stderr=self.log)
        deadline = time.time() + 60
        self.port = None
        while time.time() < deadline and self.port is None:
            if self.process.poll() is not None:
                raise AssertionError("cairn serve exited: " + self.output())
            match = re.search(r"on http://127\.0\.0\.1:(\d+)", self.output())
            if match:
                self.port = int(match.group(1))
            else:
                time.sleep(0.05)
        if self.port is None:
            raise AssertionError("cairn serve did not start: " + self.output())
        while self.request("GET", "/healthz")[0] != 200:
            time.sleep(0.05)
        self.url = f"http://127.0.0.1:{self.port}"

    def output(self):
        self.log.flush()
        with open(self.log.name) as f:
            return f.read()

    def request(self, method, path, body=None, token=None):
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        headers = {"Content-Type": "application/json"}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        try:
            connection.request(method, path, body=json.dumps(body) if body is not None else None,
                               headers=headers)
            response = connection.getresponse()
            return response.status, response.read()
        except OSError:
            return 0, b""
        finally:
            connection.close()

    def stop(self):
        self.process.send_signal(signal.SIGTERM)
        code = self.process.wait(timeout=60)
        self.log.close()
        return code


class Load:
    """Clients creating and paying orders until stopped. `acked` holds (monotonic time the
    answer came, order id, "created" or "paid") for every acknowledged command."""

    def __init__(self, server):
        self.server = server
        self.stopping = threading.Event()
        self.created = 0
        self.errors = []
        self.acked = []
        self.threads = [threading.Thread(target=self.work, args=(t,)) for t in CUSTOMER_TOKENS]
        for t in self.threads:
            t.start()

    def work(self, token):
        order = {"items": [{"productId": "p-1", "name": "Pen", "price": 1500, "quantity": 2}],
                 "shippingAddress": {"street": "1 Main St", "city": "Seoul", "zipCode": "01234",
                                     "country": "KR"}}
        while not self.stopping.is_set():
            status, body = self.server.request("POST", "/api/orders", order, token)
            if status != 201:
                self.errors.append((status, body))
                return
            order_id = json.loads(body)["orderId"]
            self.acked.append((time.monotonic(), order_id, "created"))
            status, body = self.server.request("POST", f"/api/orders/{order_id}/pay",
                                               {"method": "card", "amount": 3000}, token)
            if status != 200:
                self.errors.append((status, body))
                return
            self.acked.append((time.monotonic(), order_id, "paid"))
            self.created += 1

    def stop(self):
        self.stopping.set()
        for t in self.threads:
            t.join(timeout=60)


class LiveCliTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="cairn-cli-live-")
        cls.data = os.path.join(cls.tmp, "data")
        run("import", "--data", cls.data, "--file", SAMPLE, check=0)
        cls.tokens = os.path.join(cls.tmp, "tokens.json")
        with open(cls.tokens, "w") as f:
            json.dump([{"token": ADMIN_TOKEN, "user": "ops", "role": "admin"}] +
                      [{"token": t, "user": f"user-{i}", "role": "customer"}
                       for i, t in enumerate(CUSTOMER_TOKENS)], f)
        cls.token_file = os.path.join(cls.tmp, "admin.token")
        with open(cls.token_file, "w") as f:
            f.write(ADMIN_TOKEN + "\n")
        cls.server = Server(cls.data, cls.tokens)

    @classmethod
    def tearDownClass(cls):
        code = cls.server.stop()
        address_left = os.path.exists(os.path.join(cls.data, "serve.url"))
        shutil.rmtree(cls.tmp, ignore_errors=True)
        assert code == 0, f"cairn serve exited {code}"
        assert not address_left, "a cleanly stopped server left serve.url behind"

    def path(self, name):
        return os.path.join(self.tmp, name)

    def test_backup_of_a_live_server_under_load_is_consistent(self):
        load = Load(self.server)
        try:
            time.sleep(0.5)
            backup = self.path("backup-under-load")
            _, _, err = run("backup", "--url", self.server.url, "--token", ADMIN_TOKEN,
                            "--to", backup, check=0)
            self.assertIn(backup, err)
            time.sleep(0.3)
        finally:
            load.stop()
        self.assertEqual(load.errors, [])
        self.assertGreater(load.created, 0)
        _, out, _ = run("check", "--data", backup, check=0)
        self.assertIn("consistent", out)
        _, exported, _ = run("export", "--data", backup, check=0)
        self.assertGreater(len(exported.splitlines()), 78)
        # The server kept serving and is consistent too.
        _, out, _ = run("check", "--url", self.server.url, "--token", ADMIN_TOKEN, "--json", check=0)
        self.assertTrue(json.loads(out)["consistent"])

    def test_verified_backup_under_load_restores_every_write_acknowledged_before_it(self):
        load = Load(self.server)
        try:
            time.sleep(0.5)
            backup = self.path("verified-under-load")
            started = time.monotonic()
            _, _, err = run("backup", "--url", self.server.url, "--token", ADMIN_TOKEN,
                            "--to", backup, "--verify", check=0)
            self.assertIn(f"backup: verified {backup}:", err)
            self.assertIn("every read model equals a replay of its log", err)
            time.sleep(0.3)
        finally:
            load.stop()
        self.assertEqual(load.errors, [])
        before = [(order, kind) for at, order, kind in load.acked if at < started]
        after = [(order, kind) for at, order, kind in load.acked if at >= started]
        self.assertTrue(before and after, (len(before), len(after)))
        restored = self.path("restored-under-load")
        _, _, err = run("restore", "--from", backup, "--data", restored, check=0)
        self.assertIn(f"restore: verified {restored}", err)
        _, exported, _ = run("export", "--data", restored, check=0)
        stored = set()
        for line in exported.splitlines():
            event = json.loads(line)
            kind = {"ORDER_CREATED": "created", "PAYMENT_COMPLETED": "paid"}.get(event["type"])
            if kind:
                stored.add((event["stream"][len("order-"):], kind))
        missing = [ack for ack in before if ack not in stored]
        self.assertEqual(missing, [], f"{len(missing)} of {len(before)} acknowledged writes "
                                      "from before the backup are not in the restored dir")
        run("check", "--data", restored, check=0)

    def test_backup_through_url_refuses_an_existing_target(self):
        code, _, err = run("backup", "--url", self.server.url, "--token", ADMIN_TOKEN,
                           "--to", self.tmp)
        self.assertEqual(code, 2)
        self.assertIn("already exists", err)

    def test_rebuild_through_url_follows_the_job(self):
        _, _, err = run("rebuild", "--url", self.server.url, "--token", ADMIN_TOKEN, check=0)
        self.assertIn("rebuilt orders, order_stats, order_search", err)
        _, _, err = run("rebuild", "--url", self.server.url, "--token-file", self.token_file,
                        "--projection", "orders", check=0)
        self.assertIn("rebuilt orders from", err)
        code, _, err = run("rebuild", "--url", self.server.url, "--token", ADMIN_TOKEN,
                           "--projection", "nope")
        self.assertEqual(code, 2)
        self.assertIn("404", err)

    def test_check_through_url(self):
        _, out, _ = run("check", "--url", self.server.url, env={"CAIRN_TOKEN": ADMIN_TOKEN}, check=0)
        self.assertIn("consistent", out)
        _, out, _ = run("check", "--url", self.server.url, "--token", ADMIN_TOKEN, "--repair",
                        "--json", check=0)
        self.assertTrue(json.loads(out)["consistent"])

    def test_bad_tokens_are_refused(self):
        code, _, err = run("check", "--url", self.server.url, "--token", "wrong-token-0123456789")
        self.assertEqual(code, 2)
        self.assertIn("401", err)
        code, _, err = run("rebuild", "--url", self.server.url, "--token", CUSTOMER_TOKENS[0])
        self.assertEqual(code, 2)
        self.assertIn("403", err)

    def test_a_server_on_its_own_admin_token_is_named_with_its_token_file(self):
        data = self.path("own-token")
        run("import", "--data", data, "--file", SAMPLE, check=0)
        server = Server(data, tokens_file=None)
        try:
            code, _, err = run("check", "--data", data)
            self.assertEqual(code, 2, err)
            token_file = os.path.join(data, "admin.token")
            self.assertIn(f"--url {server.url} --token-file {token_file}", err)
        finally:
            self.assertEqual(server.stop(), 0)
        self.assertFalse(os.path.exists(os.path.join(data, "serve.url")))

    def test_offline_commands_on_the_served_dir_name_the_url_alternative(self):
        for args in (["check", "--data", self.data], ["rebuild", "--data", self.data],
                     ["backup", "--data", self.data, "--to", self.path("never")]):
            code, _, err = run(*args)
            self.assertEqual(code, 2, err)
            self.assertIn("in use", err)
            # The server left its address (serve.url): the error names its pid and real URL.
            self.assertIn(f"`cairn serve` (pid {self.server.process.pid}) at {self.server.url}", err)
            self.assertIn(f"--url {self.server.url} --token TOKEN", err)
            self.assertEqual(len(err.strip().splitlines()), 1, err)
        code, _, err = run("export", "--data", self.data)
        self.assertEqual(code, 2)
        self.assertIn("in use", err)
        with open(SAMPLE, "rb") as f:
            code, _, err = run("import", "--data", self.data, stdin=f.read())
        self.assertEqual(code, 2)
        self.assertIn("in use", err)
        self.assertFalse(os.path.exists(self.path("never")))


def main():
    global CAIRN, SAMPLE
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    CAIRN, SAMPLE = (os.path.abspath(a) for a in sys.argv[1:3])
    unittest.main(argv=[sys.argv[0], *sys.argv[3:]], verbosity=2)


if __name__ == "__main__":
    main()
