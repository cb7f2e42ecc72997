#!/usr/bin/env python3
"""End-to-end tests of two defects of offline `cairn rebuild` (suite e2e).

A: after a rebuild, the data dir must open read-only in plain RocksDB with its default options,
   as operators' tools and secondary instances open it, and show what the rebuild wrote (it
   failed with "Corruption: SST file is ahead of WALs in CF rm.orders.2.views", or silently
   lost the WAL's tail).
B: rebuild printed its summary and then went on closing the data dir for seconds; now the dir
   is closed first, so the summary is the last thing rebuild does and the dir is free as soon
   as it shows.

usage: rebuild_defects_test.py CAIRN READ_ONLY_PROBE KCAT_SAMPLE [unittest args]
"""
import fcntl
import json
import os
import shutil
import subprocess
import sys
import tempfile
import unittest

CAIRN = PROBE = SAMPLE = None
# An order of the kcat sample (its first record's aggregate).
ORDER_ID = "6415479c-65dc-4f50-bf63-af83bd0561e6"


def run(*args, env=None):
    full_env = dict(os.environ)
    full_env.update(env or {})
    p = subprocess.run([CAIRN, *args], capture_output=True, env=full_env, timeout=300)
    if p.returncode != 0:
        raise AssertionError(f"cairn {' '.join(args)} exited {p.returncode}\n"
                             f"stdout:\n{p.stdout.decode()}\nstderr:\n{p.stderr.decode()}")
    return p.stderr.decode()


def probe(*args):
    """Runs read_only_probe; returns (exit code, its last line)."""
    p = subprocess.run([PROBE, *args], capture_output=True, timeout=120)
    return p.returncode, p.stdout.decode().strip().splitlines()[-1]


def lock_is_free(data):
    """Whether no process holds the data dir (RocksDB's fcntl lock on its LOCK file)."""
    with open(os.path.join(data, "LOCK"), "r+") as f:
        try:
            fcntl.lockf(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            return False
        fcntl.lockf(f, fcntl.LOCK_UN)
        return True


class RebuildDefectsTest(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="cairn-rebuild-defects-")
        self.data = os.path.join(self.tmp, "data")
        run("import", "--data", self.data, "--file", SAMPLE)

    def tearDown(self):
        shutil.rmtree(self.tmp, ignore_errors=True)

    def assert_view_is_there(self):
        code, out = probe(self.data, "rm.orders.2.views", ORDER_ID)
        self.assertEqual(code, 0, out)
        self.assertNotEqual(out, "(none)", "the view is missing: the WAL replay stopped early")
        self.assertEqual(json.loads(out)["orderId"], ORDER_ID)

    def test_a_rebuilt_data_dir_opens_read_only_with_rocksdb_default_options(self):
        run("rebuild", "--data", self.data)
        code, out = probe(self.data)
        self.assertEqual(code, 0, out)
        self.assertRegex(out, r"^opened \d+ families$")
        # The new generation's view is there in full (the WAL replayed past the counters).
        self.assert_view_is_there()
        # And again after a rebuild of one projection, whose counters take Merge records.
        run("rebuild", "--data", self.data, "--projection", "order_stats")
        self.assert_view_is_there()

    def test_the_data_dir_is_free_when_rebuild_prints_its_summary(self):
        rebuild = subprocess.Popen(
            [CAIRN, "rebuild", "--data", self.data, "--projection", "order_stats"],
            stderr=subprocess.PIPE, stdout=subprocess.DEVNULL,
            env={**os.environ, "CAIRN_PROGRESS_SECONDS": "0.001"})
        lines = []
        free_at_summary = None
        for raw in rebuild.stderr:
            line = raw.decode().rstrip("\n")
            lines.append(line)
            if "rebuilt order_stats" in line and free_at_summary is None:
                free_at_summary = lock_is_free(self.data)
        self.assertEqual(rebuild.wait(timeout=120), 0, "\n".join(lines))
        self.assertTrue(free_at_summary, "the data dir was still open when the summary showed:\n"
                        + "\n".join(lines))
        # The summary is the last line: a slow close shows up before it, as a step of its own.
        self.assertRegex(lines[-1], r"^rebuild: rebuilt order_stats from 78 events in ")
        for line in lines[:-1]:
            self.assertTrue(line.startswith("rebuild"), line)


def main():
    global CAIRN, PROBE, SAMPLE
    if len(sys.argv) < 4:
        sys.exit(__doc__)
    CAIRN, PROBE, SAMPLE = (os.path.abspath(a) for a in sys.argv[1:4])
    unittest.main(argv=[sys.argv[0], *sys.argv[4:]], verbosity=2)


if __name__ == "__main__":
    main()
