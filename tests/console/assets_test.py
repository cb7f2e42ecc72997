#!/usr/bin/env python3
"""How `cairn serve` serves the web console (suite e2e; python3 standard library, no browser):
every file of web/ at its path with its bytes, content type, ETag, Cache-Control and a
Content-Security-Policy that keeps everything on the server; 304 on If-None-Match; unknown paths
(under /api too) still the JSON 404; GET /api/whoami; and the dashboard's per-day figures.

usage: assets_test.py CAIRN WEB_DIR [unittest args]
"""
import http.client
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import unittest

CAIRN = None
WEB = None
ADMIN = "assets-admin-token-0123456789abcdef"
ALICE = "assets-alice-token-0123456789abcdef"
TOKENS = [{"token": ADMIN, "user": "root", "role": "admin"},
          {"token": ALICE, "user": "alice", "role": "customer"}]
TYPES = {".html": "text/html; charset=utf-8", ".js": "text/javascript; charset=utf-8",
         ".css": "text/css; charset=utf-8", ".svg": "image/svg+xml"}


class ConsoleAssetsTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.root = tempfile.mkdtemp(prefix="cairn-assets-")
        tokens = os.path.join(cls.root, "tokens.json")
        with open(tokens, "w") as f:
            json.dump(TOKENS, f)
        cls.log = os.path.join(cls.root, "serve.log")
        with open(cls.log, "w") as log:
            cls.server = subprocess.Popen(
                [CAIRN, "serve", "--data", os.path.join(cls.root, "data"), "--listen", "127.0.0.1:0",
                 "--tokens", tokens], stdout=log, stderr=subprocess.STDOUT)
        deadline = time.time() + 60
        cls.port = None
        while cls.port is None:
            with open(cls.log) as f:
                match = re.search(r"on http://127\.0\.0\.1:(\d+)", f.read())
            if match:
                cls.port = int(match.group(1))
            elif cls.server.poll() is not None or time.time() > deadline:
                raise AssertionError("cairn serve did not start:\n" + open(cls.log).read())
            else:
                time.sleep(0.05)

    @classmethod
    def tearDownClass(cls):
        cls.server.terminate()
        cls.server.wait(30)
        shutil.rmtree(cls.root, ignore_errors=True)

    def request(self, method, path, headers=None, body=None):
        for _ in range(100):  # the listener may need a moment after the log line
            conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
            try:
                conn.request(method, path, body=body, headers=headers or {})
                r = conn.getresponse()
                return r.status, {k.lower(): v for k, v in r.getheaders()}, r.read()
            except ConnectionRefusedError:
                time.sleep(0.05)
            finally:
                conn.close()
        raise AssertionError("the server does not answer")

    def web_files(self):
        files = {}
        for folder, _, names in os.walk(WEB):
            for name in names:
                if name == "meson.build":
                    continue
                rel = os.path.relpath(os.path.join(folder, name), WEB)
                files["/" if rel == "index.html" else "/" + rel] = os.path.join(folder, name)
        return files

    def test_every_console_file_is_served_from_the_binary_with_its_type_and_policy(self):
        files = self.web_files()
        self.assertIn("/js/app.js", files)
        for path, file in files.items():
            with self.subTest(path=path):
                status, headers, body = self.request("GET", path)
                self.assertEqual(status, 200)
                with open(file, "rb") as f:
                    self.assertEqual(body, f.read(), "the served bytes are the file's")
                self.assertEqual(headers["content-type"], TYPES[os.path.splitext(file)[1]])
                self.assertEqual(headers["cache-control"], "no-cache")
                self.assertRegex(headers["etag"], r'^"[0-9a-f]{20}"$')
                self.assertIn("default-src 'self'", headers["content-security-policy"])
                self.assertEqual(headers["x-content-type-options"], "nosniff")

    def test_index_html_is_at_the_root_and_loads_only_relative_files(self):
        status, headers, body = self.request("GET", "/")
        self.assertEqual(status, 200)
        self.assertIn(b'<script type="module" src="js/app.js">', body)
        self.assertNotRegex(body.decode(), r'(src|href)="(https?:)?//', "nothing from elsewhere")

    def test_a_matching_if_none_match_is_304_without_a_body(self):
        _, headers, _ = self.request("GET", "/console.css")
        etag = headers["etag"]
        for value in (etag, f'W/{etag}', f'"other", {etag}', "*"):
            with self.subTest(value=value):
                status, again, body = self.request("GET", "/console.css", {"If-None-Match": value})
                self.assertEqual(status, 304)
                self.assertEqual(body, b"")
                self.assertEqual(again["etag"], etag)
        status, _, body = self.request("GET", "/console.css", {"If-None-Match": '"stale"'})
        self.assertEqual(status, 200)
        self.assertTrue(body)

    def test_unknown_paths_stay_the_json_404(self):
        for path in ("/api/nothing-here", "/api/", "/no-such-page", "/js/missing.js", "/index.html"):
            with self.subTest(path=path):
                status, headers, body = self.request("GET", path, {"Authorization": f"Bearer {ADMIN}"})
                self.assertEqual(status, 404)
                self.assertEqual(headers["content-type"], "application/json")
                self.assertEqual(json.loads(body)["error"]["code"], "not_found")

    def test_whoami_names_the_tokens_user_and_role(self):
        for token, user, role in ((ADMIN, "root", "admin"), (ALICE, "alice", "customer")):
            status, _, body = self.request("GET", "/api/whoami", {"Authorization": f"Bearer {token}"})
            self.assertEqual(status, 200)
            self.assertEqual(json.loads(body), {"user": user, "role": role})
        status, _, body = self.request("GET", "/api/whoami", {"Authorization": "Bearer wrong"})
        self.assertEqual(status, 401)
        self.assertEqual(json.loads(body)["error"]["message"], "unknown token")

    def test_the_dashboard_has_a_figure_for_each_day_of_its_period(self):
        auth = {"Authorization": f"Bearer {ADMIN}", "Content-Type": "application/json"}
        order = {"items": [{"productId": "p-1", "name": "Tea", "price": 4000, "quantity": 3}],
                 "shippingAddress": {"street": "1 Main St", "city": "Seoul", "zipCode": "06236",
                                     "country": "KR"}}
        status, _, body = self.request("POST", "/api/orders", auth, json.dumps(order))
        self.assertEqual(status, 201)
        created = json.loads(body)
        status, _, body = self.request("POST", f"/api/orders/{created['orderId']}/pay", auth,
                                       json.dumps({"method": "card", "amount": 12000}))
        self.assertEqual(status, 200)
        paid = json.loads(body)
        today = time.strftime("%Y-%m-%d", time.gmtime())
        for period, days in (("today", 1), ("7d", 7), ("30d", 30), ("all", 30)):
            with self.subTest(period=period):
                status, _, body = self.request(
                    "GET", f"/api/dashboard?period={period}&after={paid['position']}", auth)
                self.assertEqual(status, 200)
                d = json.loads(body)
                self.assertEqual(len(d["days"]), days)
                self.assertEqual(d["days"][-1]["date"], today)
                self.assertEqual(d["days"][-1]["orders"], 1)
                self.assertEqual(d["days"][-1]["revenue"], 12000)
                self.assertEqual([x["date"] for x in d["days"]], sorted(x["date"] for x in d["days"]))


if __name__ == "__main__":
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    CAIRN, WEB = sys.argv[1], sys.argv[2]
    unittest.main(argv=[sys.argv[0]] + sys.argv[3:], verbosity=2)
