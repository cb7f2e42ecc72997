"""The order read models answer as they did: list, search and dashboard answers on fixed data
compared with golden JSON recorded by an earlier build (tests/data/read_model_golden.json).

Guards changes to how the projections store their read models (formats, batching, rebuild
paths): on the same log, every answer must stay identical, byte for byte of the JSON, both as
the live projections build them (`cairn import`, which catches them up) and after `cairn rebuild`.
`cairn check` must also find the data dir consistent.

The data: the seed's real kcat capture (tests/data) and a deterministic generated export of
GENERATED_ORDERS orders with the seed's fates (created, approved, paid, shipped, cancelled at
several stages); in some orders the payment and shipping events carry event times an hour
earlier than the order event they follow (producers' clocks apart: cross-topic events out of
time order), and the generated records continue the seed's partition offsets in one file.

  python3 tests/domain/read_model_golden_test.py build/cairn            # compare
  python3 tests/domain/read_model_golden_test.py build/cairn --update   # record anew (only from
                                                                        # a build known to be right)
"""
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import unittest
import urllib.parse
import uuid

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "http"))
import e2e_util  # noqa: E402  (the Server that runs `cairn serve`; tests/http)

SEED = os.path.join(HERE, "..", "data", "seed-kafka-export.kcat.jsonl")
GOLDEN = os.path.join(HERE, "..", "data", "read_model_golden.json")
GENERATED_ORDERS = 150
USERS = 12
UPDATE = False

PRODUCTS = [("p-100", "무선 키보드", 39000), ("p-200", "Mechanical Mouse", 25000),
            ("p-300", "USB-C Hub", 18000), ("p-400", "27in Monitor", 329000),
            ("p-500", "노트북 거치대", 21000)]
CITIES = ["Seoul", "Busan", "Incheon"]
START_S = 1_793_000_000 - 1_793_000_000 % 86400  # 2026-10-26T00:00:00Z


def iso(seconds):
    import datetime
    return datetime.datetime.fromtimestamp(seconds, datetime.timezone.utc).strftime(
        "%Y-%m-%dT%H:%M:%SZ")


def order_steps(rng, order_id, n):
    """(topic, type, data) of one order's events, by its fate."""
    user = f"user-{rng.randrange(USERS)}"
    items, total = [], 0
    for _ in range(1 + rng.randrange(3)):
        pid, name, price = PRODUCTS[rng.randrange(len(PRODUCTS))]
        quantity = 1 + rng.randrange(3)
        total += price * quantity
        items.append({"productId": pid, "name": name, "price": price, "quantity": quantity})
    address = {"street": f"{1 + rng.randrange(999)} Teheran-ro",
               "city": CITIES[rng.randrange(len(CITIES))],
               "zipCode": f"{rng.randrange(100000):05d}", "country": "KR",
               "express": rng.randrange(10) < 3}
    steps = [("order-events", "ORDER_CREATED",
              {"orderId": order_id, "userId": user, "items": items, "totalAmount": total,
               "shippingAddress": address})]
    fate = rng.randrange(100)
    plain = {"orderId": order_id}
    if fate < 5:
        return steps + [("order-events", "ORDER_CANCELLED", {**plain, "reason": "customer request"})]
    if fate < 25:
        return steps
    steps.append(("order-events", "ORDER_APPROVED", plain))
    if fate < 30:
        return steps + [("order-events", "ORDER_CANCELLED", {**plain, "reason": "out of stock"})]
    if fate < 40:
        return steps
    steps.append(("payment-events", "PAYMENT_COMPLETED",
                  {**plain, "method": "card" if rng.randrange(2) else "transfer", "amount": total}))
    if fate < 60:
        return steps
    if fate < 65:
        return steps + [("order-events", "ORDER_CANCELLED", {**plain, "reason": "refund"})]
    return steps + [("shipping-events", "ORDER_SHIPPED", {**plain, "trackingNumber": f"TRK-{n}"})]


def generated_export(path):
    """The seed's capture, then the generated orders as kcat -J prints them (topics, then
    partitions, in offset order), each partition's offsets continuing the seed's."""
    next_offset = {}
    with open(SEED, encoding="utf-8") as f:
        seed_lines = f.readlines()
    for line in seed_lines:
        record = json.loads(line)
        key = (record["topic"], record["partition"])
        next_offset[key] = max(next_offset.get(key, 0), record["offset"] + 1)
    rng = random.Random(20261205)
    records = {}  # (topic, partition) -> [(kafka ts ms, line fields)]
    for n in range(GENERATED_ORDERS):
        order_id = str(uuid.UUID(int=rng.getrandbits(128), version=4))
        partition = rng.randrange(8)
        at = START_S + n * (30 * 86400) // GENERATED_ORDERS
        skewed = rng.randrange(10) == 0  # other topics' events stamped before the order's
        for version, (topic, kind, data) in enumerate(order_steps(rng, order_id, n), start=1):
            at += 300 + rng.randrange(1500)
            event_at = at - (3600 if skewed and topic != "order-events" else 0)
            if kind == "ORDER_SHIPPED":
                data = {**data, "shippedAt": iso(event_at)}
            payload = {"type": kind, "aggregateId": order_id, "version": version,
                       "timestamp": iso(event_at), "data": data}
            records.setdefault((topic, partition), []).append((at * 1000, {
                "headers": ["eventType", kind, "aggregateId", order_id, "version", str(version)],
                "key": order_id, "payload": json.dumps(payload, ensure_ascii=False)}))
    with open(path, "w", encoding="utf-8") as out:
        out.writelines(seed_lines)
        for (topic, partition) in sorted(records):
            for offset, (ts, fields) in enumerate(sorted(records[(topic, partition)],
                                                         key=lambda r: r[0]),
                                                  start=next_offset.get((topic, partition), 0)):
                line = {"topic": topic, "partition": partition, "offset": offset,
                        "tstype": "create", "ts": ts, "broker": 1, **fields}
                out.write(json.dumps(line, ensure_ascii=False) + "\n")


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


def order_ids_of(*files):
    ids = []
    for path in files:
        with open(path, encoding="utf-8") as f:
            for line in f:
                payload = json.loads(json.loads(line)["payload"])
                if payload["type"] == "ORDER_CREATED":
                    ids.append(payload["aggregateId"])
    return sorted(ids)


class ReadModelGoldenTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.root = tempfile.mkdtemp(prefix="cairn-golden-")
        e2e_util.ROOT = cls.root
        cls.export = os.path.join(cls.root, "generated.kcat.jsonl")
        generated_export(cls.export)
        cls.data = os.path.join(cls.root, "golden", "data")
        os.makedirs(os.path.dirname(cls.data))
        run_cairn("import", "--data", cls.data, "--file", cls.export, "-q")
        cls.paths = queries(order_ids_of(cls.export))

    @classmethod
    def tearDownClass(cls):
        if os.environ.get("CAIRN_E2E_KEEP"):
            print("kept", cls.root)
        else:
            shutil.rmtree(cls.root, ignore_errors=True)

    def serve_answers(self):
        server = e2e_util.Server("golden")
        try:
            return answers(server, self.paths)
        finally:
            server.stop()

    def assert_golden(self, got, when):
        with open(GOLDEN, encoding="utf-8") as f:
            golden = json.load(f)
        self.assertEqual(sorted(golden), sorted(got), "the compared queries changed")
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
