#!/usr/bin/env python3
"""Runs an example program on a fresh data dir, twice: the second run reopens the dir the first
one closed, so the example proves both a clean create and a clean reopen. Checks what it printed."""
import re
import subprocess
import sys
import tempfile


def run(program, data_dir):
    done = subprocess.run([program, data_dir], capture_output=True, text=True, timeout=50)
    if done.returncode != 0:
        sys.exit(f"{program} exited {done.returncode}:\n{done.stdout}{done.stderr}")
    return done.stdout


def main():
    program = sys.argv[1]
    with tempfile.TemporaryDirectory() as tmp:
        for attempt in (1, 2):
            out = run(program, tmp + "/data")
            created = re.search(r"^created order (\S+) at order-events/", out, re.M)
            assert created, out
            order_id = created.group(1)
            assert f'"orderId":"{order_id}"' in out, out
            assert '"userId":"user-42"' in out and '"totalAmount":2500' in out, out
            assert f"stream audit-{order_id} holds 1 event(s), the first ORDER_REVIEWED" in out, out
            print(f"run {attempt}: ok ({order_id})")


if __name__ == "__main__":
    main()
