"""The order read models answer as they did: list, search and dashboard answers on fixed data
compared with golden JSON recorded by an earlier build (tests/data/read_model_golden.json).

Guards changes to how the projections store their read models (formats, batching, rebuild
paths): on the same log, every answer must stay identical, byte for byte of the JSON, both as
the live projections build them (`cairn import`, which catches them up) and after `cairn rebuild`.
`cairn check` must also find the data dir consistent.

The data: the seed's real kcat capture (tests/data) and GENERATED_ORDERS generated orders in one
file (order_export.py: the seed's fates, some cross-topic events out of time order).

  python3 tests/domain/read_model_golden_test.py build/cairn            # compare
  python3 tests/domain/read_model_golden_test.py build/cairn --update   # record anew (only from
                                                                        # a build known to be right)
"""
import glob
import json
import os
import shutil
import subprocess
import sys
import tempfile
import unittest
import urllib.parse

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "http"))
import e2e_util  # noqa: E402  (the Server that runs `cairn serve`; tests/http)
import order_export  # noqa: E402

GOLDEN = os.path.join(HERE, "..", "data", "read_model_golden.json")
GENERATED_ORDERS = 150
UPDATE = False
DASHBOARD = "/api/dashboard?period=all"


# The dashboard charts the 30 days up to "today": the server runs with its clock set to the day
# the answers were recorded (Debian's libfaketime), so that every answer, the chart included,
# is compared exactly whatever the date.
RECORDED_ON = "2026-12-05 12:00:00"
# Debian's faketime package, on any architecture (/usr/lib/<triplet>/faketime/).
FAKETIME_LIBS = sorted(glob.glob("/usr/lib/*/faketime/libfaketime.so.1"))


def server_env():
    """The environment of a `cairn serve` whose wall clock starts at RECORDED_ON (its monotonic
    clock, for timeouts, untouched)."""
    if not FAKETIME_LIBS:
        raise AssertionError("libfaketime.so.1 is missing: install Debian's faketime (tools/setup)")
    env = dict(os.environ)
    # TZ: libfaketime reads the start time as local time.
    env.update(LD_PRELOAD=FAKETIME_LIBS[0], FAKETIME="@" + RECORDED_ON,
               FAKETIME_DONT_FAKE_MONOTONIC="1", TZ="UTC")
    return env


def queries(order_ids):
    """The GET paths whose answers are compared (as the admin)."""
    paths = [f"/api/orders?limit=20&page={page}" for page in (1, 2, 9)]
    for status in ("CREATED", "APPROVED", "SHIPPED", "CANCELLED"):
        paths.append(f"/api/orders?status={status}&limit=10&page=2")
    paths += [f"/api/orders?userId=user-{u}&limit=10" for u in (0, 3, 7)]
    paths += ["/api/orders?userId=user-2&status=SHIPPED&limit=10",
              "/api/orders?userId=user-1&status=CANCELLED&limit=10",
              "/api/orders?dateFrom=2026-11-01&dateTo=2026-11-08&limit=10&page=3",
              "/api/orders?dateFrom=2026-10-28T06:00:00Z&dateTo=2026-11-02T00:00:00Z"
              "&status=APPROVED&limit=5&page=2",
              "/api/dashboard?period=all"]
    for q in ("seoul", "keyboard", "무선 키보드", "teheran busan", "user-5", "p-400", "monitor",
              "0", order_ids[0][:8], "nothing-matches-this"):
        paths.append("/api/search?limit=10&q=" + urllib.parse.quote(q))
    paths += [f"/api/orders/{i}" for i in order_ids[:8]]
    return paths


def run_cairn(*args):
    result = subprocess.run([e2e_util.CAIRN, *args], capture_output=True, text=True, timeout=300)
    if result.returncode != 0:
        raise AssertionError(f"cairn {' '.join(args)} exited {result.returncode}:\n"
                             f"{result.stdout}\n{result.stderr}")
    return result.stdout + result.stderr


def answers(server, paths):
    out = {}
    for path in paths:
        r = server.get(path)
        out[path] = {"status": r.status, "body": r.json if r.json is not None else r.body.decode()}
    return out


class ReadModelGoldenTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.root = tempfile.mkdtemp(prefix="cairn-golden-")
        e2e_util.ROOT = cls.root
        cls.export = os.path.join(cls.root, "generated.kcat.jsonl")
        order_export.write_export(cls.export, GENERATED_ORDERS)
        cls.data = os.path.join(cls.root, "golden", "data")
        os.makedirs(os.path.dirname(cls.data))
        run_cairn("import", "--data", cls.data, "--file", cls.export, "-q")
        cls.paths = queries(order_export.order_ids(cls.export))

    @classmethod
    def tearDownClass(cls):
        if os.environ.get("CAIRN_E2E_KEEP"):
            print("kept", cls.root)
        else:
            shutil.rmtree(cls.root, ignore_errors=True)

    def serve_answers(self):
        server = e2e_util.Server("golden", env=server_env())
        try:
            return answers(server, self.paths)
        finally:
            server.stop()

    def assert_golden(self, got, when):
        with open(GOLDEN, encoding="utf-8") as f:
            golden = json.load(f)
        self.assertEqual(sorted(golden), sorted(got), "the compared queries changed")
        self.assertEqual(got[DASHBOARD]["body"]["period"]["to"], "2026-12-06T00:00:00.000000Z",
                         "the server's clock is not at " + RECORDED_ON)
        for path in self.paths:
            self.assertEqual(golden[path], got[path], f"{when}: the answer to {path} changed")

    def test_imported_rebuilt_and_checked_read_models_answer_as_recorded(self):
        live = self.serve_answers()
        if UPDATE:
            with open(GOLDEN, "w", encoding="utf-8") as f:
                json.dump(live, f, ensure_ascii=False, indent=1, sort_keys=True)
                f.write("\n")
        self.assertTrue(all(a["status"] == 200 for a in live.values()), "a query failed")
        self.assertEqual(len(live["/api/orders?limit=20&page=9"]["body"]["orders"]), 20)
        self.assert_golden(live, "after the import")
        self.assertIn("consistent", run_cairn("check", "--data", self.data))
        run_cairn("rebuild", "--data", self.data, "-q")
        self.assert_golden(self.serve_answers(), "after a rebuild")
        self.assertIn("consistent", run_cairn("check", "--data", self.data))


if __name__ == "__main__":
    args = [a for a in sys.argv[1:] if a != "--update"]
    UPDATE = len(args) != len(sys.argv) - 1
    e2e_util.CAIRN = os.path.abspath(args[0])
    unittest.main(argv=[sys.argv[0], *args[1:]], verbosity=2)
