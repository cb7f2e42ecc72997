#!/usr/bin/env python3
"""End-to-end test of `cairn serve` on a full disk: the data dir is a small tmpfs that a filler
file fills up while the server takes orders.

usage: e2e_disk_full_test.py CAIRN [unittest args]

The first command that meets the full disk fails (500) and acknowledges nothing; the server turns
read-only: every command after it is 503 naming the failed write, reads go on, /healthz says why
and /readyz is 503. Once the filler is deleted the server resumes writing by itself
(--resume-writes-seconds); after a restart every acknowledged order is there and `cairn check`
finds the read models consistent.

Mounting a tmpfs needs a mount namespace: the test re-runs itself under `unshare -Urm` (an
unprivileged user namespace; no root needed). Where the kernel or container forbids that it is
skipped (exit 77) and says why; the same behaviour is covered by tests/http/write_fault_test.cc
through the log's fault hook, and README "Operating Cairn" has the manual run on a loop image.
"""
import json
import os
import subprocess
import sys
import time
import unittest

import e2e_util as e2e
from e2e_util import ADMIN, ALICE, ApiTestCase, Server, order_body

NAMESPACE_MARK = "CAIRN_E2E_IN_MOUNT_NAMESPACE"
TMPFS_SIZE = "100m"  # RocksDB resumes only with a write buffer (64 MB) free


def enter_mount_namespace():
    """Re-runs this test in its own user and mount namespace; returns only if it cannot."""
    if os.environ.get(NAMESPACE_MARK):
        return None
    probe = subprocess.run(["unshare", "-Urm", "true"], stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT)
    if probe.returncode != 0:
        return "unshare -Urm (a user and mount namespace) is not allowed here: " + \
            probe.stdout.decode(errors="replace").strip()
    os.environ[NAMESPACE_MARK] = "1"
    os.execvp("unshare", ["unshare", "-Urm", "--", sys.executable, *sys.argv])


def fill(directory, leave=0):
    """Fills the filesystem of `directory` with one file until the disk refuses, or only `leave`
    bytes are left; returns the file."""
    path = os.path.join(directory, "filler")
    stat = os.statvfs(directory)
    with open(path, "wb", buffering=0) as f:
        if leave:
            f.write(b"\0" * (stat.f_bavail * stat.f_frsize - leave))
            return path
        for size in (1 << 20, 1 << 12, 1 << 9):
            chunk = b"\0" * size
            try:
                while True:
                    f.write(chunk)
            except OSError:
                pass
    return path


def message(response):
    return response.json["error"]["message"] if response.body else ""


class DiskFullTest(ApiTestCase):
    def create_until_refused(self, srv, acked, most):
        """Creates orders until one is refused; returns that response."""
        for _ in range(most):
            r = srv.post("/api/orders", order_body(), token=ALICE)
            if r.status != 201:
                return r
            acked.append(r.json["orderId"])
        self.fail(f"{most} orders were accepted on a full disk")

    def test_a_full_disk_makes_the_server_read_only_and_writes_resume_when_space_returns(self):
        data = os.path.join(e2e.ROOT, "full", "data")
        os.makedirs(data)
        subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={TMPFS_SIZE}", "tmpfs", data],
                       check=True)
        # The disk is nearly full before the server starts: RocksDB preallocates its WAL (70 MB)
        # when it can, and appends into a preallocated WAL succeed on a full disk.
        filler = fill(data, leave=4 << 20)
        srv = Server("full", args=["--partitions", "2", "--resume-writes-seconds", "0.3"])
        try:
            acked = []
            for _ in range(20):
                r = srv.post("/api/orders", order_body(), token=ALICE)
                self.assertStatus(r, 201)
                acked.append(r.json["orderId"])

            os.remove(filler)
            filler = fill(data)
            failed = self.create_until_refused(srv, acked, 20000)
            self.assertEqual(failed.status, 500, failed)
            self.assertIn("space", message(failed).lower(), failed)
            refused = srv.post("/api/orders", order_body(), token=ALICE)
            self.assertEqual(refused.status, 503, refused)
            self.assertIn("the log is read-only: a write failed at", message(refused))
            self.assertIn("space", message(refused).lower())
            health = srv.get("/healthz")
            self.assertEqual(health.status, 200)
            self.assertEqual(health.json["status"], "read_only")
            self.assertIn("space", health.json["reason"].lower())
            ready = srv.get("/readyz")
            self.assertEqual(ready.status, 503, ready)
            self.assertIn("the log is read-only", " ".join(ready.json["reasons"]))
            self.assertStatus(srv.get(f"/api/orders/{acked[0]}"), 200)  # reads go on

            # Space returns: the server writes again by itself, no restart.
            os.remove(filler)
            deadline = time.time() + 30
            while srv.get("/healthz").json["status"] != "ok":
                self.assertLess(time.time(), deadline, srv.current_log()[-3000:])
                time.sleep(0.1)
            r = srv.post("/api/orders", order_body(), token=ALICE)
            self.assertStatus(r, 201)
            acked.append(r.json["orderId"])
            self.assertIn("the log takes appends again", srv.current_log())

            # And after a restart every acknowledged order is there, with nothing half-written.
            code, _ = srv.stop()
            self.assertEqual(code, 0, srv.current_log()[-3000:])
            srv.start()
            for order_id in acked:
                self.assertStatus(srv.get(f"/api/orders/{order_id}"), 200)
            self.assertStatus(srv.post("/api/orders", order_body(), token=ALICE), 201)
            self.assertEqual(srv.get("/readyz").status, 200)
            code, _ = srv.stop()
            self.assertEqual(code, 0)
            check = subprocess.run([e2e.CAIRN, "check", "--data", srv.data, "--json", "--quiet"],
                                   stdout=subprocess.PIPE, stderr=subprocess.PIPE)
            self.assertEqual(check.returncode, 0, check.stdout.decode() + check.stderr.decode())
            self.assertTrue(json.loads(check.stdout)["consistent"])
            print(f"\n{len(acked)} orders acknowledged around a full disk, all there after a "
                  f"restart", file=sys.stderr)
        finally:
            srv.kill()
            subprocess.run(["umount", "-l", data])


if __name__ == "__main__":
    why_not = enter_mount_namespace()
    if why_not:
        print(f"SKIP: {why_not}", file=sys.stderr)
        sys.exit(77)
    sys.exit(e2e.main(__doc__))
