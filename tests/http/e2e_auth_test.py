#!/usr/bin/env python3
"""End-to-end tests of authentication and scoping (suite e2e): a customer sees only its own
orders, roles are enforced, and without a tokens file the server makes an admin token with mode
0600.

usage: python3 tests/http/e2e_auth_test.py CAIRN [unittest args]
  e.g. python3 tests/http/e2e_auth_test.py build/cairn -k admin_token
"""
import os
import stat
import sys
import urllib.parse

import e2e_util
from e2e_util import (ADMIN, SERVICE, ALICE, BOB, order_body, Server, ApiTestCase, setUpModule,
                       tearDownModule)
# setUpModule starts the server this file's tests share (e2e_util.main_server());
# tearDownModule stops it and checks its log holds no token.


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


if __name__ == "__main__":
    sys.exit(e2e_util.main(__doc__))
