#!/usr/bin/env python3
"""Crash test of the event log: SIGKILL a writer at random points, then check nothing broke.

Usage: log_crash_test.py PATH/TO/log_crash_driver

Each round on the same data dir: start `log_crash_driver write DIR THREADS` (or, one round in
three, `write-async DIR STREAMS`, which keeps up to STREAMS appends in flight through
Log::AppendAsync and acknowledges in the callbacks) with stdout to a file, SIGKILL it after a random 50-400 ms, then run `log_crash_driver verify DIR ACKS` with the
acks of every round so far. In one round of four the 50-400 ms count from the start (the kill often
lands while the log opens and recovers); in the others they count from the first ack, so the kill
lands among appends even when opening is slow. verify must exit 0: every acknowledged event is there
at its acknowledged position, offsets, seq and stream versions are gapless, no append is
half-present, and the reopened log keeps appending gaplessly.

Environment:
  CAIRN_CRASH_SEED    seed of the random choices (printed at start), default: random
  CAIRN_CRASH_ROUNDS  number of rounds, default 25
  CAIRN_CRASH_KEEP    keep the temp dir even when every round passes
Exit status: 0 when every round passes, 1 otherwise (the temp dir is kept for inspection).
"""
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time

from crash_util import complete_lines, tail

MIN_KILL_MS = 50
MAX_KILL_MS = 400
MAX_THREADS = 6
VERIFY_TIMEOUT_S = 120
# A writer that acknowledges nothing for this long is stuck.
FIRST_ACK_TIMEOUT_S = 30
EARLY_KILL_ODDS = 0.25
ASYNC_ODDS = 1 / 3
MAX_ASYNC_STREAMS = 128


def wait_for_first_ack(proc, ack_path):
    """Waits until the writer printed something (True) or exited or timed out (False)."""
    deadline = time.monotonic() + FIRST_ACK_TIMEOUT_S
    while time.monotonic() < deadline:
        if os.path.getsize(ack_path) > 0:
            return True
        if proc.poll() is not None:
            return True  # reported as an early exit by the caller
        time.sleep(0.005)
    return False


def main():
    if len(sys.argv) != 2:
        print(__doc__.strip().splitlines()[2], file=sys.stderr)
        return 2
    driver = os.path.abspath(sys.argv[1])
    seed = int(os.environ.get("CAIRN_CRASH_SEED") or random.SystemRandom().randrange(1 << 32))
    rounds = int(os.environ.get("CAIRN_CRASH_ROUNDS", "25"))
    rng = random.Random(seed)
    work = tempfile.mkdtemp(prefix="cairn-crash-")
    data_dir = os.path.join(work, "data")
    all_acks = os.path.join(work, "acks-all.txt")
    open(all_acks, "wb").close()
    print(f"log crash test: seed {seed} (CAIRN_CRASH_SEED={seed} repeats it), {rounds} rounds, "
          f"dir {work}", flush=True)

    started = time.monotonic()
    total_acks = 0
    failed = False
    for rnd in range(1, rounds + 1):
        threads = rng.randint(1, MAX_THREADS)
        async_streams = rng.randint(8, MAX_ASYNC_STREAMS) if rng.random() < ASYNC_ODDS else 0
        kill_ms = rng.randint(MIN_KILL_MS, MAX_KILL_MS)
        early = rng.random() < EARLY_KILL_ODDS
        ack_path = os.path.join(work, f"acks-{rnd:03d}.txt")
        err_path = os.path.join(work, f"write-{rnd:03d}.err")
        with open(ack_path, "ab") as out, open(err_path, "wb") as err:
            args = ([driver, "write-async", data_dir, str(async_streams)] if async_streams
                    else [driver, "write", data_dir, str(threads)])
            proc = subprocess.Popen(args,
                                    stdout=out, stderr=err, stdin=subprocess.DEVNULL)
            if not early and not wait_for_first_ack(proc, ack_path):
                proc.kill()
                proc.wait()
                print(f"round {rnd}/{rounds}: FAILED: the writer acknowledged nothing in "
                      f"{FIRST_ACK_TIMEOUT_S} s\n{tail(err_path)}", flush=True)
                failed = True
                break
            time.sleep(kill_ms / 1000.0)
            early_exit = proc.poll()
            if early_exit is None:
                proc.send_signal(signal.SIGKILL)
            proc.wait()
        if early_exit is not None:
            print(f"round {rnd}/{rounds}: FAILED: the writer exited by itself with status "
                  f"{early_exit} before the kill\n{tail(err_path)}", flush=True)
            failed = True
            break

        lines = complete_lines(ack_path)
        acked = lines.count(b"\n")
        total_acks += acked
        with open(all_acks, "ab") as f:
            f.write(lines)

        verify_started = time.monotonic()
        try:
            verify = subprocess.run([driver, "verify", data_dir, all_acks],
                                    stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                    stdin=subprocess.DEVNULL, timeout=VERIFY_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            print(f"round {rnd}/{rounds}: FAILED: verify took over {VERIFY_TIMEOUT_S} s",
                  flush=True)
            failed = True
            break
        verify_s = time.monotonic() - verify_started
        output = verify.stdout.decode("utf-8", "replace").rstrip()
        status = "ok" if verify.returncode == 0 else f"FAILED (verify exit {verify.returncode})"
        when = "after start" if early else "after first ack"
        writers = (f"{async_streams} async streams" if async_streams else f"{threads} threads")
        print(f"round {rnd}/{rounds}: {writers}, killed {kill_ms} ms {when}, "
              f"{acked} events acked ({total_acks} in all), verify {verify_s:.2f} s: {status}",
              flush=True)
        if verify.returncode != 0:
            print(output, flush=True)
            failed = True
            break

    elapsed = time.monotonic() - started
    if failed:
        print(f"log crash test FAILED after {elapsed:.1f} s (seed {seed}); data kept in {work}",
              flush=True)
        return 1
    print(f"log crash test passed: {rounds} rounds, {total_acks} acknowledged events, "
          f"{elapsed:.1f} s (seed {seed})", flush=True)
    if os.environ.get("CAIRN_CRASH_KEEP"):
        print(f"kept {work}")
    else:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
