#!/usr/bin/env python3
"""Crash test of the order read models under the real `cairn` binary: SIGKILL an import while
it appends and catches the projections up, and a rebuild while it builds or switches, then check.

Usage: order_crash_test.py PATH/TO/cairn

The engine crash test (engine_crash_test.py) kills the engine with synthetic projections; this
one covers the order domain's projections and the offline commands users run on a data dir. One
data dir, one seed-shaped export (tests/domain/order_export.py, ORDERS orders after the seed's
capture) split by time into PARTS files. Each round starts, on the same dir, one of
  - `cairn import --file PART` of the first part not imported to the end yet (idempotent: a
    killed import is resumed by the next import round; the kill lands in the append or in the
    catch-up of the projections over the new events),
  - `cairn rebuild` of every projection, or of one,
and SIGKILLs it after a random time up to the last uninterrupted run of that kind of command
took (FIRST_KILL_MAX_MS before there was one), so most kills land in the middle of the work; a
round whose command finished first is a normal run. Then `cairn check` must exit 0 (consistent: every read model equals a replay of
the log up to its checkpoint, so a killed rebuild left the live generations as they were and a
killed catch-up kept exactly what it committed). At the end an import runs to completion, and
check, a full rebuild and check again must all pass; the log must hold every exported event.

Environment:
  CAIRN_CRASH_SEED      seed of the random choices (printed at start), default: random
  CAIRN_CRASH_ROUNDS    number of rounds, default 14
  CAIRN_CRASH_BUDGET_S  seconds after which rounds beyond MIN_ROUNDS are skipped, default 90
  CAIRN_CRASH_KEEP      keep the temp dir even when every round passes
Exit status: 0 when every round passes, 1 otherwise (the temp dir is kept for inspection).
"""
import os
import re
import signal
import subprocess
import sys
import tempfile
import time

from crash_util import remove_unless_kept, settings, tail

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "domain"))
import order_export  # noqa: E402

ORDERS = 6000
PARTS = 6
FIRST_KILL_MAX_MS = 1500
MIN_ROUNDS = 8
COMMAND_TIMEOUT_S = 300
PROJECTIONS = ["orders", "order_stats", "order_search"]


def run(cairn, args, log):
    """Runs `cairn args` to the end; returns (exit code, its output)."""
    with open(log, "wb") as out:
        code = subprocess.run([cairn, *args], stdout=out, stderr=subprocess.STDOUT,
                              stdin=subprocess.DEVNULL, timeout=COMMAND_TIMEOUT_S).returncode
    return code, tail(log)


def run_and_kill(cairn, args, log, kill_ms):
    """Starts `cairn args`, SIGKILLs it after kill_ms; (True, None) when the kill landed, else
    (False, the run's duration in ms)."""
    started = time.monotonic()
    with open(log, "wb") as out:
        proc = subprocess.Popen([cairn, *args], stdout=out, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL)
        try:
            proc.wait(timeout=kill_ms / 1000.0)
        except subprocess.TimeoutExpired:
            proc.send_signal(signal.SIGKILL)
            proc.wait()
            return True, None
    if proc.returncode != 0:
        raise AssertionError(f"cairn {' '.join(args)} exited {proc.returncode} by itself:\n"
                             f"{tail(log)}")
    return False, int((time.monotonic() - started) * 1000)


def round_command(rng, data, part):
    kind = rng.choice(["import", "import", "rebuild", "rebuild-one"])
    if kind == "import" or not os.path.exists(os.path.join(data, "CURRENT")):
        return "import", ["import", "--data", data, "--file", part]
    if kind == "rebuild":
        return kind, ["rebuild", "--data", data]
    return kind, ["rebuild", "--data", data, "--projection", rng.choice(PROJECTIONS)]


def check_consistent(cairn, data, log, when):
    code, output = run(cairn, ["check", "--data", data], log)
    if code != 0 or "consistent" not in output:
        raise AssertionError(f"{when}: cairn check exited {code}:\n{output}")
    return re.search(r"consistent: ([\d,]+) keys", output).group(1)


def finish(cairn, data, export, work):
    """An import to the end, check, rebuild, check; the log holds every exported event."""
    log = os.path.join(work, "final.log")
    code, output = run(cairn, ["import", "--data", data, "--file", export], log)
    if code != 0:
        raise AssertionError(f"the final import exited {code}:\n{output}")
    check_consistent(cairn, data, log, "after the final import")
    code, output = run(cairn, ["import", "--data", data, "--file", export], log)
    with open(export, encoding="utf-8") as f:
        exported = sum(1 for _ in f)
    counts = re.search(r"imported ([\d,]+), skipped ([\d,]+)", output)
    if code != 0 or not counts or counts.group(1) != "0" or \
            int(counts.group(2).replace(",", "")) != exported:
        raise AssertionError(f"a second import should find all {exported} events in the log:\n"
                             f"{output}")
    code, output = run(cairn, ["rebuild", "--data", data], log)
    if code != 0:
        raise AssertionError(f"the final rebuild exited {code}:\n{output}")
    return check_consistent(cairn, data, log, "after the final rebuild")


def main():
    if len(sys.argv) != 2:
        print(__doc__.strip().splitlines()[3], file=sys.stderr)
        return 2
    cairn = os.path.abspath(sys.argv[1])
    seed, rounds, budget_s, rng = settings(14, 90)
    work = tempfile.mkdtemp(prefix="cairn-order-crash-")
    data = os.path.join(work, "data")
    export = os.path.join(work, "orders.kcat.jsonl")
    order_export.write_export(export, ORDERS)
    parts = order_export.split_export(export, PARTS)
    next_part = 0
    print(f"order crash test: seed {seed} (CAIRN_CRASH_SEED={seed} repeats the choices; kill "
          f"timing is not exact), {rounds} rounds, dir {work}", flush=True)

    started = time.monotonic()
    kills = {}
    took_ms = {}  # kind of command -> how long its last uninterrupted run took
    try:
        for rnd in range(1, rounds + 1):
            if rnd > MIN_ROUNDS and time.monotonic() - started > budget_s:
                print(f"time budget of {budget_s:.0f} s used: skipping rounds {rnd}-{rounds}",
                      flush=True)
                break
            kind, args = round_command(rng, data, parts[next_part])
            label = {"import": f"import of part {next_part + 1}/{PARTS}",
                     "rebuild-one": "rebuild " + args[-1]}.get(kind, kind)
            kill_ms = rng.randint(0, took_ms.get(kind, FIRST_KILL_MAX_MS))
            log = os.path.join(work, f"round-{rnd:03d}.log")
            killed, ms = run_and_kill(cairn, args, log, kill_ms)
            kills[kind] = kills.get(kind, 0) + (1 if killed else 0)
            if not killed:
                took_ms[kind] = ms
            if kind == "import" and not killed:
                next_part = min(next_part + 1, PARTS - 1)
            if not os.path.exists(os.path.join(data, "CURRENT")):
                print(f"round {rnd}/{rounds}: {kind} killed at {kill_ms} ms before the data dir "
                      f"existed", flush=True)
                continue
            keys = check_consistent(cairn, data, os.path.join(work, f"check-{rnd:03d}.log"),
                                    f"round {rnd} ({label})")
            print(f"round {rnd}/{rounds}: {label} "
                  f"{'killed at ' + str(kill_ms) + ' ms' if killed else 'finished'}; check "
                  f"consistent ({keys} keys)", flush=True)
        keys = finish(cairn, data, export, work)
    except (AssertionError, subprocess.TimeoutExpired) as e:
        print(f"order crash test FAILED (seed {seed}): {e}\ndata kept in {work}", flush=True)
        return 1
    elapsed = time.monotonic() - started
    print(f"order crash test passed: kills {kills}, final check consistent ({keys} keys), "
          f"{elapsed:.1f} s (seed {seed})", flush=True)
    remove_unless_kept(work)
    return 0


if __name__ == "__main__":
    sys.exit(main())
