#!/usr/bin/env python3
"""End-to-end tests of the server's security settings (suite e2e): HTTPS with --tls-cert and
--tls-key against a test CA (curl, Python's ssl and `cairn check --url https://… --cacert`),
the warning for plain HTTP beyond loopback, per-token rate limits (429 with Retry-After), and
that no token ever reaches a log or an error message.

usage: python3 tests/http/e2e_security_test.py CAIRN [unittest args]
  e.g. python3 tests/http/e2e_security_test.py build/cairn -k tls
"""
import json
import os
import shutil
import subprocess
import sys
import time

import e2e_util
from e2e_util import (ADMIN, ALICE, BOB, ALL_TOKENS, order_body, Server, ApiTestCase)


def openssl(*args, cwd):
    subprocess.run(["openssl", *args], cwd=cwd, check=True, stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL)


def make_test_ca(directory):
    """A CA and a server certificate it signed for 127.0.0.1 and localhost; returns
    (ca.pem, server.pem, server.key) and writes other.pem, a certificate of another CA."""
    os.makedirs(directory, exist_ok=True)
    key = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
    openssl("req", "-x509", *key, "-keyout", "ca.key", "-out", "ca.pem", "-days", "2",
            "-subj", "/CN=Cairn Test CA", cwd=directory)
    openssl("req", *key, "-keyout", "server.key", "-out", "server.csr", "-subj", "/CN=localhost",
            cwd=directory)
    with open(os.path.join(directory, "san.ext"), "w") as f:
        f.write("subjectAltName=IP:127.0.0.1,DNS:localhost\n")
    openssl("x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
            "-CAcreateserial", "-out", "server.pem", "-days", "2", "-extfile", "san.ext",
            cwd=directory)
    openssl("req", "-x509", *key, "-keyout", "other.key", "-out", "other.pem", "-days", "2",
            "-subj", "/CN=Another CA", cwd=directory)
    return tuple(os.path.join(directory, n) for n in ("ca.pem", "server.pem", "server.key"))


def curl(*args):
    """(exit code, stdout) of curl with a 10 s limit."""
    r = subprocess.run(["curl", "-sS", "--max-time", "10", *args], stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE)
    return r.returncode, r.stdout.decode("utf-8", "replace")


def run_cairn(*args):
    r = subprocess.run([e2e_util.CAIRN, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       timeout=120)
    return r.returncode, r.stdout.decode("utf-8", "replace") + r.stderr.decode("utf-8", "replace")


class TlsTest(ApiTestCase):

    @classmethod
    def setUpClass(cls):
        cls.pki = os.path.join(e2e_util.ROOT, "pki")
        cls.ca, cls.cert, cls.key = make_test_ca(cls.pki)

    def test_tls_serves_https_that_curl_verifies_against_the_test_ca(self):
        server = Server("tls", args=["--tls-cert", self.cert, "--tls-key", self.key],
                        tls_ca=self.ca)
        try:
            self.assertRegex(server.current_log(), r"on https://127\.0\.0\.1:\d+ ")
            url = f"https://127.0.0.1:{server.port}"
            code, out = curl("--cacert", self.ca, url + "/healthz")
            self.assertEqual((code, json.loads(out)), (0, {"status": "ok"}))
            # An order over HTTPS, read back over HTTPS (Python's ssl, verifying the CA).
            created = self.assertStatus(server.post("/api/orders", order_body(), ALICE), 201)
            view = server.get(f"/api/orders/{created['orderId']}?after={created['position']}",
                              ALICE)
            self.assertEqual(self.assertStatus(view, 200)["orderId"], created["orderId"])
            # Without the CA, or trusting another one, curl refuses the certificate (60).
            self.assertEqual(curl(url + "/healthz")[0], 60)
            self.assertEqual(curl("--cacert", os.path.join(self.pki, "other.pem"),
                                  url + "/healthz")[0], 60)
            # Plain HTTP to the TLS port gets no HTTP answer.
            code, out = curl(f"http://127.0.0.1:{server.port}/healthz")
            self.assertNotEqual(code, 0)
            # The operator commands speak HTTPS too, verifying with --cacert.
            code, out = run_cairn("check", "--url", url, "--token", ADMIN, "--cacert", self.ca)
            self.assertEqual(code, 0, out)
            code, out = run_cairn("check", "--url", url, "--token", ADMIN, "--cacert",
                                  os.path.join(self.pki, "other.pem"))
            self.assertEqual(code, 2, out)
            self.assertNotIn(ADMIN, out)
            self.assertNotIn("plain HTTP", server.current_log())
        finally:
            server.kill()

    def test_a_key_that_does_not_load_stops_serve_with_a_clear_error(self):
        data = os.path.join(e2e_util.ROOT, "badkey")
        code, out = run_cairn("serve", "--data", data, "--listen", "127.0.0.1:0",
                              "--tls-cert", self.cert, "--tls-key",
                              os.path.join(self.pki, "other.key"))
        self.assertEqual(code, 2, out)
        self.assertIn("cannot load the TLS certificate", out)
        code, out = run_cairn("serve", "--data", data, "--tls-cert", self.cert)
        self.assertNotEqual(code, 0, out)
        self.assertIn("--tls-key", out)

    def test_plain_http_on_a_non_loopback_address_logs_a_warning(self):
        server = Server("wildcard", listen="0.0.0.0:0")
        try:
            self.assertEqual(server.get("/healthz", None).status, 200)
            self.assertRegex(server.current_log(),
                             r"\[warning\] serving plain HTTP on 0\.0\.0\.0:0, which is not a "
                             r"loopback address: bearer tokens and data cross the network "
                             r"unencrypted; pass --tls-cert and --tls-key")
        finally:
            server.kill()
        tls = Server("wildcard-tls", listen="0.0.0.0:0", tls_ca=self.ca,
                     args=["--tls-cert", self.cert, "--tls-key", self.key])
        try:
            self.assertEqual(tls.get("/healthz", None).status, 200)
            self.assertNotIn("plain HTTP", tls.current_log())
        finally:
            tls.kill()


class RateLimitTest(ApiTestCase):

    def test_a_token_over_its_rate_gets_429_with_retry_after_and_others_go_on(self):
        server = Server("ratelimit", args=["--rate-limit", "5"])
        try:
            statuses = [server.get("/api/whoami", ALICE) for _ in range(12)]
            limited = [r for r in statuses if r.status == 429]
            self.assertTrue(limited, [r.status for r in statuses])
            self.assertEqual({r.status for r in statuses} - {200, 429}, set())
            self.assertGreaterEqual(len([r for r in statuses if r.status == 200]), 5)
            r = limited[0]
            self.assertError(r, 429, code="rate_limited",
                             message=r"more than 5 requests in a second; retry after 1 s")
            self.assertEqual(r.header("Retry-After"), "1")
            # Another token is not held back by Alice's.
            self.assertEqual(server.get("/api/whoami", BOB).status, 200)
            # Health needs no token and is never limited.
            self.assertTrue(all(server.get("/healthz", None).status == 200 for _ in range(20)))
            time.sleep(int(r.header("Retry-After")))
            self.assertEqual(server.get("/api/whoami", ALICE).status, 200)
            metrics = server.get("/metrics", None).body.decode()
            self.assertRegex(metrics, r'status="429"')
        finally:
            server.kill()


class TokenSecrecyTest(ApiTestCase):

    def test_no_token_reaches_the_server_log_or_an_error_message(self):
        server = Server("secrecy", args=["--log-level", "trace"])
        unknown = "unknown-token-0123456789abcdef-zz"
        outputs = []
        try:
            for token in ALL_TOKENS[:6] + [unknown]:
                server.get("/api/whoami", token)
                server.get("/api/orders", token)
                server.post("/api/orders", order_body(), token)
                server.get("/api/admin/projections", token)
                server.request("GET", "/api/orders", headers={"Authorization": f"Basic {token}"})
                server.request("GET", f"/api/whoami?token={token}")
            url = f"http://127.0.0.1:{server.port}"
            outputs.append(run_cairn("check", "--url", url, "--token", unknown)[1])
            outputs.append(run_cairn("backup", "--url", url, "--token", ALICE, "--to",
                                     os.path.join(e2e_util.ROOT, "never"))[1])
        finally:
            server.stop()
        # A tokens file naming one token twice is refused without showing it.
        twice = os.path.join(e2e_util.ROOT, "twice.json")
        with open(twice, "w") as f:
            json.dump([{"token": ALICE, "user": "a", "role": "admin"},
                       {"token": ALICE, "user": "b", "role": "admin"}], f)
        code, out = run_cairn("serve", "--data", os.path.join(e2e_util.ROOT, "twice"),
                              "--tokens", twice)
        self.assertEqual(code, 2, out)
        outputs.append(out)
        # A server on its own admin.token logs where the token is, never the token.
        own = Server("own-token", tokens=False)
        try:
            with open(os.path.join(own.data, "admin.token")) as f:
                admin_token = f.read().strip()
            self.assertEqual(own.get("/api/whoami", admin_token).status, 200)
        finally:
            own.stop()
        logs = server.logs() + own.logs()
        self.assertIn("http GET /api/whoami 200", logs)
        self.assertIn("http GET /api/orders 401", logs)
        for token in ALL_TOKENS + [unknown, admin_token]:
            self.assertNotIn(token, logs)
            for out in outputs:
                self.assertNotIn(token, out)


if __name__ == "__main__":
    if not shutil.which("openssl") or not shutil.which("curl"):
        print("e2e_security_test needs openssl and curl", file=sys.stderr)
        sys.exit(77)
    sys.exit(e2e_util.main(__doc__))
