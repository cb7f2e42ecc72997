#!/usr/bin/env python3
"""Crash test of the real server: SIGKILL `cairn serve` under mixed order commands while a
rebuild and a consistency check run, round after round on one data dir.

usage: serve_crash_test.py CAIRN [--rounds N] [--seed S] [--keep]

Each round: start `cairn serve` (--sync always) on the data dir; clients send a random mix of
create, approve, pay, ship and cancel commands (customers for their own orders, an admin for
the rest) and remember every acknowledged one (2xx: order, version, position); an admin
thread starts rebuilds of every projection and runs consistency checks in a loop; after a
random 0.3-2.5 s the server is SIGKILLed. Then, offline on the killed dir:
  - `cairn check --data DIR --json` must say consistent: the read models the crash left, once
    caught up with the log, equal a fresh replay of it;
  - `cairn export --data DIR`: every acknowledged command of every round so far is in the log,
    at its stream version and its position, with its event type (0 lost);
  - the log has no event nobody asked for: each stream's versions are 1..n without gaps.
tools/crash-soak runs 100 rounds of this and prints the figures for bench/RESULTS.md.
Exit status: 0 when every round passes, 1 otherwise (the dir is kept), 2 on usage errors.
"""
import argparse
import http.client
import json
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time

ADMIN = "soak-admin-token-0123456789abcdef"
CUSTOMERS = [f"soak-cust{i}-token-0123456789abcdef" for i in range(6)]
TOKENS = ([{"token": ADMIN, "user": "ops", "role": "admin"}] +
          [{"token": t, "user": f"cust{i}", "role": "customer"} for i, t in enumerate(CUSTOMERS)])
EVENT_OF = {"create": "ORDER_CREATED", "approve": "ORDER_APPROVED", "pay": "PAYMENT_COMPLETED",
            "ship": "ORDER_SHIPPED", "cancel": "ORDER_CANCELLED"}
PRICE, QUANTITY = 2500, 2


class Server:
    def __init__(self, cairn, data, tokens, log_path):
        self.log_path = log_path
        with open(log_path, "w") as log:
            self.process = subprocess.Popen(
                [cairn, "serve", "--data", data, "--listen", "127.0.0.1:0", "--tokens", tokens,
                 "--sync", "always", "--rate-limit", "0"], stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 60
        self.port = None
        while self.port is None:
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("cairn serve did not start:\n" + self.log()[-2000:])
            match = re.search(r"on http://127\.0\.0\.1:(\d+)", self.log())
            if match:
                self.port = int(match.group(1))
            else:
                time.sleep(0.02)

    def log(self):
        with open(self.log_path, errors="replace") as f:
            return f.read()

    def request(self, method, path, body, token, timeout=20):
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        headers = {"Authorization": f"Bearer {token}"}
        if body is not None:
            headers["Content-Type"] = "application/json"
        try:
            conn.request(method, path, body=json.dumps(body) if body is not None else None,
                         headers=headers)
            r = conn.getresponse()
            data = r.read()
            return r.status, (json.loads(data) if data else None)
        finally:
            conn.close()

    def kill(self):
        self.process.send_signal(signal.SIGKILL)
        self.process.wait()


class Orders:
    """What the clients know about the orders: owner and what was acknowledged last."""

    def __init__(self):
        self.lock = threading.Lock()
        self.owner = {}     # order id -> customer token
        self.acked = []     # (order id, command, version, position)
        self.unexpected = []


def order_body():
    return {"items": [{"productId": "p-1", "name": "Soak Pen", "price": PRICE, "quantity": QUANTITY}],
            "shippingAddress": {"street": "1 Main St", "city": "Seoul", "zipCode": "04524",
                                "country": "KR", "express": False}}


def client(server, orders, token, rng, stop):
    """Sends commands until `stop`; records every 2xx. 409/422 are rule answers (another client
    moved the order first), 5xx or a dropped connection is the kill."""
    while not stop.is_set():
        with orders.lock:
            known = list(orders.owner.items())
        command = "create" if not known or rng.random() < 0.35 else rng.choice(
            ["approve", "pay", "ship", "cancel"])
        if command == "create":
            path, body, who = "/api/orders", order_body(), token
        else:
            order_id, owner = rng.choice(known)
            path = f"/api/orders/{order_id}/{command}"
            body = {"method": "card", "amount": PRICE * QUANTITY} if command == "pay" else {}
            who = owner if command == "pay" else ADMIN
        try:
            status, answer = server.request("POST", path, body, who)
        except (OSError, http.client.HTTPException):
            return  # the server is gone
        if status in (200, 201):
            with orders.lock:
                if command == "create":
                    orders.owner[answer["orderId"]] = token
                orders.acked.append((answer["orderId"], command, answer["version"],
                                     answer["position"]))
        elif status not in (409, 422, 503):
            with orders.lock:
                orders.unexpected.append((command, status, answer))


def admin(server, stop, counts):
    """Starts rebuilds and runs checks until `stop`."""
    while not stop.is_set():
        try:
            status, _ = server.request("POST", "/api/admin/rebuild", None, ADMIN)
            counts["rebuilds started"] += status == 202
            status, report = server.request("POST", "/api/admin/check", None, ADMIN, timeout=60)
            if status == 200:
                counts["live checks"] += 1
                if not report["consistent"]:
                    counts["live checks inconsistent"] += 1
        except (OSError, http.client.HTTPException):
            return


def run_cairn(cairn, *args):
    p = subprocess.run([cairn, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       timeout=600)
    return p.returncode, p.stdout.decode(), p.stderr.decode()


def verify(cairn, data, acked):
    """The offline checks of a killed dir; returns a list of problems (empty: the round passed)."""
    problems = []
    code, out, err = run_cairn(cairn, "check", "--data", data, "--json", "--quiet")
    if code != 0:
        problems.append(f"cairn check exited {code}: {out[:2000]}{err[-2000:]}")
    code, out, err = run_cairn(cairn, "export", "--data", data, "--quiet")
    if code != 0:
        return problems + [f"cairn export exited {code}: {err[-2000:]}"]
    streams = {}
    for line in out.splitlines():
        e = json.loads(line)
        streams.setdefault(e["stream"], {})[e["version"]] = (e["type"], e["position"])
    for stream, versions in streams.items():
        if sorted(versions) != list(range(1, len(versions) + 1)):
            problems.append(f"stream {stream} has versions {sorted(versions)}: a gap")
    lost = [a for a in acked
            if streams.get("order-" + a[0], {}).get(a[2]) != (EVENT_OF[a[1]], a[3])]
    if lost:
        problems.append(f"{len(lost)} of {len(acked)} acknowledged commands lost, e.g. {lost[:3]}")
    return problems


def main():
    usage = next(l for l in __doc__.splitlines() if l.startswith("usage: "))[len("usage: "):]
    parser = argparse.ArgumentParser(usage=usage)
    parser.add_argument("cairn")
    parser.add_argument("--rounds", type=int, default=int(os.environ.get("CAIRN_SOAK_ROUNDS", 4)))
    parser.add_argument("--seed", type=int)
    parser.add_argument("--keep", action="store_true")
    args = parser.parse_args()
    cairn = os.path.abspath(args.cairn)
    seed = args.seed if args.seed is not None else random.SystemRandom().randrange(1 << 32)
    rng = random.Random(seed)
    work = tempfile.mkdtemp(prefix="cairn-serve-crash-")
    data = os.path.join(work, "data")
    tokens = os.path.join(work, "tokens.json")
    with open(tokens, "w") as f:
        json.dump(TOKENS, f)
    print(f"serve crash test: seed {seed}, {args.rounds} rounds, dir {work}", flush=True)
    orders = Orders()
    counts = {"rebuilds started": 0, "live checks": 0, "live checks inconsistent": 0}
    started = time.monotonic()
    for rnd in range(1, args.rounds + 1):
        server = Server(cairn, data, tokens, os.path.join(work, f"serve-{rnd:03d}.log"))
        stop = threading.Event()
        before = len(orders.acked)
        threads = [threading.Thread(target=client, args=(server, orders, t,
                                                          random.Random(rng.random()), stop))
                   for t in CUSTOMERS]
        threads.append(threading.Thread(target=admin, args=(server, stop, counts)))
        for t in threads:
            t.start()
        kill_after = rng.uniform(0.3, 2.5)
        time.sleep(kill_after)
        server.kill()
        stop.set()
        for t in threads:
            t.join()
        check_started = time.monotonic()
        problems = verify(cairn, data, orders.acked)
        if orders.unexpected:
            problems.append(f"unexpected answers: {orders.unexpected[:3]}")
        if counts["live checks inconsistent"]:
            problems.append(f"{counts['live checks inconsistent']} live checks were inconsistent")
        status = "ok" if not problems else "FAILED"
        print(f"round {rnd}/{args.rounds}: killed after {kill_after:.2f} s, "
              f"{len(orders.acked) - before} commands acknowledged ({len(orders.acked)} in all, "
              f"{len(orders.owner)} orders), check + verify {time.monotonic() - check_started:.1f} s: "
              f"{status}", flush=True)
        if problems:
            for p in problems:
                print("    " + p, flush=True)
            print(f"serve crash test FAILED (seed {seed}); dir kept: {work}", flush=True)
            return 1
    by_kind = {k: sum(1 for a in orders.acked if a[1] == k) for k in EVENT_OF}
    print(f"serve crash test passed: {args.rounds} rounds with SIGKILL, {len(orders.acked)} "
          f"acknowledged commands ({', '.join(f'{v} {k}' for k, v in by_kind.items())}) on "
          f"{len(orders.owner)} orders, 0 lost; read models equal a replay after every round; "
          f"{counts['rebuilds started']} rebuilds started, {counts['live checks']} live checks; "
          f"{time.monotonic() - started:.0f} s (seed {seed})", flush=True)
    if args.keep:
        print(f"kept {work}")
    else:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
