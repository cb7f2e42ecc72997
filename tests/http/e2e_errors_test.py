#!/usr/bin/env python3
"""End-to-end tests of client errors (suite e2e): one test per class of error, each asserting
the status, the {"error": {code, message, field?}} shape, the field, and that nothing was written;
no client input gets a 500.

usage: python3 tests/http/e2e_errors_test.py CAIRN [unittest args]
  e.g. python3 tests/http/e2e_errors_test.py build/cairn -k over_the_limit
"""
import contextlib
import json
import random
import socket
import sys
import urllib.parse

import e2e_util
from e2e_util import (ADMIN, SERVICE, ALICE, BOB, ANY, order_body, Response, ApiTestCase,
                       setUpModule, tearDownModule)
# setUpModule starts the server this file's tests share (e2e_util.main_server());
# tearDownModule stops it and checks its log holds no token.


class ClientErrorTest(ApiTestCase):

    @classmethod
    def setUpClass(cls):
        # An order of alice's in each state the tests need, and a raw stream at version 2.
        srv = e2e_util.main_server()
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

    def assert_each_is_400(self, cases):
        """Each (path, body, field) POST is a 400 validation_failed naming `field`, and none of
        them writes anything. Order routes are posted as the admin, the others as the service."""
        with self.nothing_written():
            for path, body, field in cases:
                with self.subTest(path=path, field=field, body=body):
                    token = SERVICE if "/orders" not in path else ADMIN
                    self.assertError(self.srv.post(path, body, token), 400, field=field,
                                     code="validation_failed")

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
        self.assert_each_is_400(cases)

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
        self.assert_each_is_400(cases)

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
        self.assert_each_is_400(cases)

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

    def test_an_empty_curl_body_is_no_body(self):
        oid = self.create(ALICE)["orderId"]
        # `curl -X POST URL -d ''` declares a form body of length 0: that is no body, accepted
        # where a command takes none; a non-empty form body is still refused. (`curl -X POST
        # URL` alone sends no Content-Length, and httplib 0.11 then reads the body until the
        # connection's 30 s I/O timeout: README says to pass -d ''.)
        r = self.srv.post(f"/api/orders/{oid}/approve", "", ADMIN,
                          content_type="application/x-www-form-urlencoded")
        self.assertEqual(r.status, 200, r.body)
        with self.nothing_written():
            r = self.srv.post(f"/api/orders/{oid}/ship", "a=1", ADMIN,
                              content_type="application/x-www-form-urlencoded")
            self.assertError(r, 415, code="unsupported_media_type")
            # A command that needs a body says so.
            r = self.srv.post("/api/orders", "", ALICE,
                              content_type="application/x-www-form-urlencoded")
            self.assertError(r, 400, code="validation_failed")

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

    def test_a_body_announced_over_the_limit_is_413_before_it_is_sent(self):
        # Headers that announce 64 MiB, then 1 MiB of it: the answer comes from the headers, and
        # the connection closes, instead of a worker thread waiting for the rest of the body (or
        # the 30 s I/O timeout). 5 s is a generous bound, not a measurement.
        announced = 64 << 20
        head = (f"POST /api/orders HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                f"Authorization: Bearer {ALICE}\r\nContent-Type: application/json\r\n"
                f"Content-Length: {announced}\r\n\r\n").encode()
        with self.nothing_written():
            with socket.create_connection(("127.0.0.1", self.srv.port), timeout=5) as sock:
                sock.sendall(head)
                with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                    sock.sendall(b"x" * (1 << 20))  # the server may have answered and closed
                raw = b""
                try:
                    while chunk := sock.recv(65536):
                        raw += chunk
                except TimeoutError:
                    self.fail(f"no answer and no close within 5 s; got {raw[:300]!r}")
                except ConnectionResetError:
                    pass  # closed with the unread body still queued: the answer came first
            status_line, _, rest = raw.partition(b"\r\n")
            header_text, _, body = rest.partition(b"\r\n\r\n")
            headers = [tuple(h.decode().split(": ", 1)) for h in header_text.split(b"\r\n") if h]
            r = Response(int(status_line.split()[1]), headers, body)
            self.assertError(r, 413, code="too_large", field=None)
            self.assertEqual((r.header("Connection") or "").lower(), "close", r.headers)
        # The server serves the next request, and the next create, as usual.
        self.assertEqual(self.srv.get("/healthz", None).status, 200)
        self.create()

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
            r = self.srv.post("/api/admin/backup", {"to": e2e_util.ROOT})
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


if __name__ == "__main__":
    sys.exit(e2e_util.main(__doc__))
