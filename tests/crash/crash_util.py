"""Helpers shared by the crash tests (log_crash_test.py, engine_crash_test.py,
order_crash_test.py)."""
import os
import random
import shutil


def settings(default_rounds, default_budget_s):
    """(seed, rounds, budget in seconds, random.Random(seed)) from CAIRN_CRASH_SEED (default:
    random), CAIRN_CRASH_ROUNDS and CAIRN_CRASH_BUDGET_S."""
    seed = int(os.environ.get("CAIRN_CRASH_SEED") or random.SystemRandom().randrange(1 << 32))
    rounds = int(os.environ.get("CAIRN_CRASH_ROUNDS", str(default_rounds)))
    budget_s = float(os.environ.get("CAIRN_CRASH_BUDGET_S", str(default_budget_s)))
    return seed, rounds, budget_s, random.Random(seed)


def remove_unless_kept(work):
    """Removes a passed test's temp dir, unless CAIRN_CRASH_KEEP is set."""
    if os.environ.get("CAIRN_CRASH_KEEP"):
        print(f"kept {work}")
    else:
        shutil.rmtree(work, ignore_errors=True)


def complete_lines(path):
    """The file's complete lines: a last line cut by the kill (no newline) is dropped."""
    with open(path, "rb") as f:
        data = f.read()
    cut = data.rfind(b"\n")
    return data[:cut + 1] if cut >= 0 else b""


def tail(path, limit=4000):
    """The end of a file, as text, for failure messages."""
    with open(path, "rb") as f:
        data = f.read()
    return data[-limit:].decode("utf-8", "replace")
