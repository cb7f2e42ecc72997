"""Seed-shaped order exports for the tests: orders with the seed producer's fates (created,
approved, paid, shipped, cancelled at several stages) as a `kcat -C -J` capture that continues the
seed's capture (tests/data) in one file. Deterministic for a given count and seed. Used by
tests/domain/read_model_golden_test.py and tests/crash/order_crash_test.py.

In one order in ten the payment and shipping events carry event times an hour earlier than the
order event they follow (producers' clocks apart: cross-topic events out of time order).
"""
import bisect
import datetime
import json
import os
import random
import uuid

SEED = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "data",
                    "seed-kafka-export.kcat.jsonl")
USERS = 12

PRODUCTS = [("p-100", "무선 키보드", 39000), ("p-200", "Mechanical Mouse", 25000),
            ("p-300", "USB-C Hub", 18000), ("p-400", "27in Monitor", 329000),
            ("p-500", "노트북 거치대", 21000)]
CITIES = ["Seoul", "Busan", "Incheon"]
START_S = 1_793_000_000 - 1_793_000_000 % 86400  # 2026-10-26T00:00:00Z


def iso(seconds):
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


def write_export(path, orders, seed=20261205):
    """Writes the seed's capture, then `orders` generated orders as kcat -J prints them (topics,
    then partitions, in offset order), each partition's offsets continuing the seed's."""
    next_offset = {}
    with open(SEED, encoding="utf-8") as f:
        seed_lines = f.readlines()
    for line in seed_lines:
        record = json.loads(line)
        key = (record["topic"], record["partition"])
        next_offset[key] = max(next_offset.get(key, 0), record["offset"] + 1)
    rng = random.Random(seed)
    records = {}  # (topic, partition) -> [(kafka ts ms, line fields)]
    for n in range(orders):
        order_id = str(uuid.UUID(int=rng.getrandbits(128), version=4))
        partition = rng.randrange(8)
        at = START_S + n * (30 * 86400) // orders
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


def split_export(path, parts):
    """Splits an export by Kafka time into `parts` files, path.part0 .. (returned in order):
    imported one after the other they are the whole export, as a live producer would have
    delivered it (each line keeps its offset, so the parts' events are the export's)."""
    with open(path, encoding="utf-8") as f:
        lines = f.readlines()
    times = sorted(json.loads(line)["ts"] for line in lines)
    cuts = [times[len(times) * k // parts] for k in range(1, parts)]
    paths = [f"{path}.part{k}" for k in range(parts)]
    outs = [open(p, "w", encoding="utf-8") for p in paths]
    try:
        for line in lines:
            outs[bisect.bisect_right(cuts, json.loads(line)["ts"])].write(line)
    finally:
        for out in outs:
            out.close()
    return paths


def order_ids(path):
    """The ids of the orders an export creates, sorted."""
    ids = []
    with open(path, encoding="utf-8") as f:
        for line in f:
            payload = json.loads(json.loads(line)["payload"])
            if payload["type"] == "ORDER_CREATED":
                ids.append(payload["aggregateId"])
    return sorted(ids)
