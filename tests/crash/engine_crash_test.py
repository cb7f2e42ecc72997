#!/usr/bin/env python3
"""Crash test of the CQRS engine: SIGKILL it while it appends, projects and rebuilds, then check.

Usage: engine_crash_test.py PATH/TO/engine_crash_driver

Each round on the same data dir: start `engine_crash_driver run DIR THREADS SEED` (writers on two
topics, three projections on their own threads, rebuilds and live consistency checks in a loop)
with stdout to a file, let it work for a random 150-900 ms after it prints `ready` (one round in
six: a random 0-600 ms after it starts, so some kills land in the open and its recovery), SIGKILL
it, then run
`engine_crash_driver verify DIR ACKS [rebuild]` with the ack and `rebuilt` lines of every round so
far. verify must exit 0: every acknowledged event is in the log, the read models the crash left
agree with a replay up to their checkpoints, and after CatchUp every projection is at lag 0, not
failed, on a generation >= the last acknowledged rebuild's, consistent by Engine::Check and equal
to counts taken directly from the log. Every fifth round verify also rebuilds everything offline
and checks again. Rounds beyond the 20th are skipped once 100 s have passed, to stay under 2 min on
a busy machine.

Environment:
  CAIRN_CRASH_SEED    seed of the random choices (printed at start), default: random
  CAIRN_CRASH_ROUNDS  number of rounds, default 24
  CAIRN_CRASH_BUDGET_S  seconds after which rounds beyond MIN_ROUNDS are skipped, default 100
  CAIRN_CRASH_KEEP    keep the temp dir even when every round passes
Exit status: 0 when every round passes, 1 otherwise (the temp dir is kept for inspection).
"""
import os
import signal
import subprocess
import sys
import tempfile
import time

from crash_util import complete_lines, remove_unless_kept, settings, tail

MIN_KILL_MS = 150
MAX_KILL_MS = 800
MAX_EARLY_KILL_MS = 600
EARLY_KILL_ONE_IN = 6
MAX_THREADS = 4
READY_TIMEOUT_S = 60
VERIFY_TIMEOUT_S = 120
MIN_ROUNDS = 20


def wait_ready(proc, path):
    """Waits until the driver has printed its `ready` line; False if it exits or times out."""
    deadline = time.monotonic() + READY_TIMEOUT_S
    while time.monotonic() < deadline:
        with open(path, "rb") as f:
            if b"ready " in f.read():
                return True
        if proc.poll() is not None:
            return False
        time.sleep(0.005)
    return False


def main():
    if len(sys.argv) != 2:
        print(__doc__.strip().splitlines()[2], file=sys.stderr)
        return 2
    driver = os.path.abspath(sys.argv[1])
    seed, rounds, budget_s, rng = settings(24, 100)
    work = tempfile.mkdtemp(prefix="cairn-engine-crash-")
    data_dir = os.path.join(work, "data")
    all_acks = os.path.join(work, "acks-all.txt")
    open(all_acks, "wb").close()
    print(f"engine crash test: seed {seed} (CAIRN_CRASH_SEED={seed} repeats the choices; kill "
          f"timing is not exact), {rounds} rounds, dir {work}", flush=True)

    started = time.monotonic()
    total_acks = 0
    total_rebuilds = 0
    total_checks = 0
    failed = False
    done = 0
    for rnd in range(1, rounds + 1):
        if rnd > MIN_ROUNDS and time.monotonic() - started > budget_s:
            print(f"time budget of {budget_s:.0f} s used: skipping rounds {rnd}-{rounds}",
                  flush=True)
            break
        threads = rng.randint(1, MAX_THREADS)
        early = rng.randrange(EARLY_KILL_ONE_IN) == 0
        kill_ms = rng.randint(0, MAX_EARLY_KILL_MS) if early else rng.randint(MIN_KILL_MS,
                                                                             MAX_KILL_MS)
        driver_seed = rng.randrange(1 << 63)
        rebuild = rnd % 5 == 0
        ack_path = os.path.join(work, f"acks-{rnd:03d}.txt")
        err_path = os.path.join(work, f"run-{rnd:03d}.err")
        with open(ack_path, "ab") as out, open(err_path, "wb") as err:
            proc = subprocess.Popen([driver, "run", data_dir, str(threads), str(driver_seed)],
                                    stdout=out, stderr=err, stdin=subprocess.DEVNULL)
            if not early and not wait_ready(proc, ack_path) and proc.poll() is None:
                print(f"round {rnd}/{rounds}: FAILED: the driver did not get ready in "
                      f"{READY_TIMEOUT_S} s", flush=True)
                proc.kill()
                proc.wait()
                failed = True
                break
            time.sleep(kill_ms / 1000.0)
            early_exit = proc.poll()
            if early_exit is None:
                proc.send_signal(signal.SIGKILL)
            proc.wait()
        if early_exit is not None:
            print(f"round {rnd}/{rounds}: FAILED: the driver exited by itself with status "
                  f"{early_exit} before the kill\n{tail(err_path)}", flush=True)
            failed = True
            break

        lines = complete_lines(ack_path)
        acked = sum(1 for line in lines.splitlines() if line.startswith(b"ack "))
        rebuilt = sum(1 for line in lines.splitlines() if line.startswith(b"rebuilt "))
        checked = sum(1 for line in lines.splitlines() if line.startswith(b"checked "))
        total_checks += checked
        total_acks += acked
        total_rebuilds += rebuilt
        with open(all_acks, "ab") as f:
            f.write(lines)

        verify_started = time.monotonic()
        args = [driver, "verify", data_dir, all_acks] + (["rebuild"] if rebuild else [])
        try:
            verify = subprocess.run(args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                    stdin=subprocess.DEVNULL, timeout=VERIFY_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            print(f"round {rnd}/{rounds}: FAILED: verify took over {VERIFY_TIMEOUT_S} s",
                  flush=True)
            failed = True
            break
        verify_s = time.monotonic() - verify_started
        output = verify.stdout.decode("utf-8", "replace").rstrip()
        summary = next((line for line in output.splitlines() if line.startswith("verify: ")), "")
        steps = next((line for line in output.splitlines() if line.startswith("verify steps")), "")
        status = "ok" if verify.returncode == 0 else f"FAILED (verify exit {verify.returncode})"
        when = "after start" if early else "after ready"
        print(f"round {rnd}/{rounds}: {threads} threads, killed {kill_ms} ms {when}, "
              f"{acked} events acked ({total_acks} in all), {rebuilt} rebuilds and {checked} live "
              f"checks done, verify{' +rebuild' if rebuild else ''} {verify_s:.2f} s: {status}\n"
              f"    {summary}\n    {steps}", flush=True)
        done = rnd
        if verify.returncode != 0:
            print(output, flush=True)
            print(f"--- tail of the killed run's stderr ({err_path}):\n{tail(err_path)}",
                  flush=True)
            failed = True
            break

    elapsed = time.monotonic() - started
    if failed:
        print(f"engine crash test FAILED after {elapsed:.1f} s (seed {seed}); data kept in {work}",
              flush=True)
        return 1
    print(f"engine crash test passed: {done} rounds, {total_acks} acknowledged events, "
          f"{total_rebuilds} acknowledged rebuilds, {total_checks} live checks, {elapsed:.1f} s "
          f"(seed {seed})", flush=True)
    remove_unless_kept(work)
    return 0


if __name__ == "__main__":
    sys.exit(main())
