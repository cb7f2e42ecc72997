#!/usr/bin/env python3
"""End-to-end tests of the offline `cairn` operator commands (suite e2e).

Runs the real binary on temporary data dirs: import (Cairn NDJSON and the captured kcat -J
sample), export and the export/import round trip, check finding drift that the test puts into a
read model and --repair fixing it, rebuild, backup, version and --help, and every usage error
with its exit code.

usage: cli_test.py CAIRN CLI_TEST_TOOL KCAT_SAMPLE [unittest args]
"""
import base64
import json
import os
import shutil
import subprocess
import sys
import tempfile
import unittest
import uuid

CAIRN = TOOL = SAMPLE = None
KAFKA_NAMESPACE = uuid.UUID("15d0c59c-7262-569d-a4d2-0e0a0ca710c7")
COMMANDS = ["serve", "rebuild", "check", "export", "import", "backup", "restore", "version"]


def murmur2(data: bytes) -> int:
    """Kafka's murmur2, as an unsigned 32-bit value."""
    m, r = 0x5BD1E995, 24
    h = (0x9747B28C ^ len(data)) & 0xFFFFFFFF
    for i in range(len(data) // 4):
        k = int.from_bytes(data[i * 4:i * 4 + 4], "little")
        k = (k * m) & 0xFFFFFFFF
        k ^= k >> r
        k = (k * m) & 0xFFFFFFFF
        h = (h * m) & 0xFFFFFFFF
        h ^= k
    rest, tail = len(data) % 4, len(data) & ~3
    if rest == 3:
        h ^= data[tail + 2] << 16
    if rest >= 2:
        h ^= data[tail + 1] << 8
    if rest >= 1:
        h ^= data[tail]
        h = (h * m) & 0xFFFFFFFF
    h ^= h >> 13
    h = (h * m) & 0xFFFFFFFF
    h ^= h >> 15
    return h


def run(*args, stdin=None, env=None, check=None):
    """Runs cairn; returns (exit code, stdout, stderr)."""
    full_env = dict(os.environ)
    full_env.pop("CAIRN_TOKEN", None)
    full_env.update(env or {})
    p = subprocess.run([CAIRN, *args], input=stdin, capture_output=True, env=full_env, timeout=300)
    out, err = p.stdout.decode(), p.stderr.decode()
    if check is not None and p.returncode != check:
        raise AssertionError(f"cairn {' '.join(args)} exited {p.returncode}, wanted {check}\n"
                             f"stdout:\n{out}\nstderr:\n{err}")
    return p.returncode, out, err


def tool(*args):
    p = subprocess.run([TOOL, *args], capture_output=True, timeout=120)
    if p.returncode != 0:
        raise AssertionError(f"cli_test_tool {' '.join(args)}: {p.stderr.decode()}")
    return p.stdout.decode()


def read_sample():
    with open(SAMPLE, "rb") as f:
        return f.read()


class CliTest(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="cairn-cli-test-")

    def tearDown(self):
        shutil.rmtree(self.tmp, ignore_errors=True)

    def path(self, name):
        return os.path.join(self.tmp, name)

    def imported(self, name="data"):
        """A data dir holding the kcat sample."""
        data = self.path(name)
        _, _, err = run("import", "--data", data, "--file", SAMPLE, check=0)
        self.assertIn("imported 78, skipped 0, rejected 0", err)
        return data

    def export(self, data, *extra):
        _, out, _ = run("export", "--data", data, *extra, check=0)
        return out

    def assert_usage_error(self, args, *fragments, stdin=None):
        code, out, err = run(*args, stdin=stdin)
        self.assertEqual(code, 2, f"cairn {' '.join(args)}: {out}{err}")
        lines = [l for l in err.splitlines() if l.strip()]
        self.assertTrue(lines, "no error message")
        self.assertTrue(lines[0].startswith("cairn"), err)
        for fragment in fragments:
            self.assertIn(fragment, err)
        return err

    # ---- version, help -------------------------------------------------------------------

    def test_version_prints_the_version(self):
        _, out, _ = run("version", check=0)
        self.assertRegex(out, r"^cairn \d+\.\d+\.\d+")
        self.assertIn("rocksdb", out)
        _, out, _ = run("--version", check=0)
        self.assertRegex(out, r"^cairn \d+\.\d+\.\d+")

    def test_every_command_has_help_with_examples(self):
        _, out, _ = run("--help", check=0)
        for command in COMMANDS:
            self.assertIn(command, out)
        for command in COMMANDS:
            code, out, err = run(command, "--help")
            self.assertEqual(code, 0, command)
            self.assertIn("Examples", out, command)
            self.assertIn(f"cairn {command}", out, command)

    # ---- usage errors --------------------------------------------------------------------

    def test_usage_errors_are_one_line_and_exit_2(self):
        data = self.path("nothing-here")
        self.assert_usage_error([], "")
        self.assert_usage_error(["frobnicate"])
        self.assert_usage_error(["check", "--data", data, "--bogus"], "--bogus")
        self.assert_usage_error(["check", "--data"], "--data")
        self.assert_usage_error(["export", "--data"], "--data")
        self.assert_usage_error(["import", "--data", data, "--partitions", "zero"], "--partitions")
        self.assert_usage_error(["check"], "--data", "--url")
        self.assert_usage_error(["check", "--data", data, "--url", "http://127.0.0.1:1"], "not both")
        self.assert_usage_error(["backup", "--data", data], "--to")
        self.assert_usage_error(["export"], "--data")
        self.assert_usage_error(["import"], "--data")

    def test_missing_data_dirs_are_clear_errors(self):
        missing = self.path("missing")
        for command in (["check"], ["rebuild"], ["export"], ["backup", "--to", self.path("b")]):
            err = self.assert_usage_error([command[0], "--data", missing, *command[1:]],
                                          "does not exist")
            self.assertEqual(len(err.strip().splitlines()), 1, err)
        self.assertFalse(os.path.exists(missing))
        self.assertFalse(os.path.exists(self.path("b")))
        not_cairn = self.path("not-cairn")
        os.mkdir(not_cairn)
        self.assert_usage_error(["check", "--data", not_cairn], "not a Cairn data dir")
        with open(os.path.join(not_cairn, "file"), "w") as f:
            f.write("x")
        self.assert_usage_error(["import", "--data", not_cairn], "refusing", stdin=read_sample())

    def test_bad_url_and_missing_token_are_usage_errors(self):
        self.assert_usage_error(["check", "--url", "127.0.0.1:8080", "--token", "t"], "--url")
        self.assert_usage_error(["check", "--url", "http://127.0.0.1:1"], "token")
        self.assert_usage_error(["rebuild", "--url", "http://127.0.0.1:1", "--token", "t"],
                                "cannot reach")

    def test_a_data_dir_in_use_names_the_url_alternative(self):
        data = self.imported()
        holder = subprocess.Popen([TOOL, "hold", data], stdin=subprocess.PIPE,
                                  stdout=subprocess.PIPE)
        try:
            self.assertEqual(holder.stdout.readline().strip(), b"held")
            # An address file whose pid is alive but is not a `cairn serve` (a reused pid after
            # a kill -9) must not be believed.
            with open(os.path.join(data, "serve.url"), "w") as f:
                f.write(f"http://127.0.0.1:1 {holder.pid} admin-token\n")
            for args in (["check", "--data", data], ["rebuild", "--data", data],
                         ["backup", "--data", data, "--to", self.path("b")]):
                err = self.assert_usage_error(args, "in use", "--url")
                self.assertEqual(len(err.strip().splitlines()), 1, err)
                self.assertNotIn("127.0.0.1:1 ", err)
                self.assertNotIn("cairn serve` (pid", err)
            self.assert_usage_error(["export", "--data", data], "in use", "backup --url")
            self.assert_usage_error(["import", "--data", data], "in use", stdin=read_sample())
        finally:
            holder.stdin.close()
            holder.wait(timeout=30)
            holder.stdout.close()
        self.assertFalse(os.path.exists(self.path("b")))

    # ---- import of the kcat sample ---------------------------------------------------------

    def test_import_of_a_kcat_capture_maps_every_record(self):
        data = self.imported()
        events = [json.loads(l) for l in self.export(data).splitlines()]
        self.assertEqual(len(events), 78)
        records = {}
        for line in read_sample().splitlines():
            record = json.loads(line)
            records[str(uuid.uuid5(KAFKA_NAMESPACE, "{topic}/{partition}/{offset}".format(**record)))] = record
        self.assertEqual(set(records), {e["id"] for e in events})
        for e in events:
            record = records[e["id"]]
            payload = json.loads(record["payload"])
            self.assertEqual(e["type"], payload["type"])
            self.assertEqual(e["topic"], record["topic"])
            self.assertEqual(e["stream"], "order-" + payload["aggregateId"])
            self.assertEqual(e["version"], payload["version"])
            self.assertEqual(e["data"], payload["data"])
            self.assertEqual(e["timestamp"], payload["timestamp"].replace("Z", ".000000Z"))
            # The seed's producer used Kafka's default partitioner over 8 partitions: the
            # partitions come out the same.
            self.assertEqual(e["partition"], record["partition"])
            key = payload["aggregateId"].encode()
            self.assertEqual(e["partition"], (murmur2(key) & 0x7FFFFFFF) % 8)
            self.assertEqual(e["position"], f"{e['topic']}/{e['partition']}/{e['offset']}")
        # Each stream in version order, seqs dense in export order.
        self.assertEqual([e["seq"] for e in events], list(range(1, 79)))
        seen = {}
        for e in events:
            self.assertEqual(e["version"], seen.get(e["stream"], 0) + 1)
            seen[e["stream"]] = e["version"]
        self.assertEqual(len(seen), 30)
        code, out, _ = run("check", "--data", data, check=0)
        self.assertIn("consistent", out)

    def test_import_is_idempotent_by_event_id(self):
        data = self.imported()
        before = self.export(data)
        _, _, err = run("import", "--data", data, stdin=read_sample(), check=0)
        self.assertIn("imported 0, skipped 78, rejected 0", err)
        self.assertEqual(self.export(data), before)
        _, _, err = run("import", "--data", data, stdin=before.encode(), check=0)
        self.assertIn("imported 0, skipped 78, rejected 0", err)

    def test_import_into_a_dir_whose_creation_was_killed_creates_it(self):
        # What RocksDB leaves when the process dies before it wrote CURRENT (seen in the order
        # crash test: an import killed 66 ms in). A foreign file still makes the dir refused.
        data = self.path("data")
        os.makedirs(data)
        for name in ("LOCK", "IDENTITY", "MANIFEST-000001", "000001.dbtmp"):
            with open(os.path.join(data, name), "wb") as f:
                f.write(b"\0" * 16)
        _, _, err = run("import", "--data", data, "--file", SAMPLE, check=0)
        self.assertIn("imported 78, skipped 0, rejected 0", err)
        other = self.path("other")
        os.makedirs(other)
        for name in ("LOCK", "notes.txt"):
            open(os.path.join(other, name), "w").close()
        self.assert_usage_error(["import", "--data", other, "--file", SAMPLE], "refusing")

    def test_import_of_part_of_a_capture_then_the_rest(self):
        lines = read_sample().splitlines(keepends=True)
        order_events = b"".join(l for l in lines if b'"topic":"order-events"' in l)
        data = self.path("data")
        _, _, err = run("import", "--data", data, stdin=order_events, check=0)
        self.assertIn("rejected 0", err)
        _, _, err = run("import", "--data", data, stdin=b"".join(lines), check=0)
        self.assertRegex(err, r"imported \d+, skipped \d+, rejected 0")
        self.assertEqual(len(self.export(data).splitlines()), 78)
        run("check", "--data", data, check=0)

    def test_import_rejects_corrupt_lines_and_writes_nothing(self):
        lines = read_sample().splitlines(keepends=True)
        broken = list(lines)
        broken[2] = b'{"topic": "order-events", "partition": 1, \n'
        broken[5] = b'{"hello": "world"}\n'
        data = self.path("data")
        code, _, err = run("import", "--data", data, stdin=b"".join(broken))
        self.assertEqual(code, 2, err)
        self.assertIn("line 3:", err)
        self.assertIn("line 6:", err)
        self.assertIn("rejected", err)
        self.assertFalse(os.path.exists(data), "an import with rejected lines created the dir")
        # Into an existing dir: nothing changes.
        existing = self.imported("existing")
        before = self.export(existing)
        novel = lines[0].replace(b'"offset":0', b'"offset":900')
        code, _, err = run("import", "--data", existing, stdin=novel + b"not json\n")
        self.assertEqual(code, 2, err)
        self.assertIn("line 2:", err)
        self.assertEqual(self.export(existing), before)

    def test_import_skip_invalid_imports_the_rest(self):
        lines = read_sample().splitlines(keepends=True)
        broken = list(lines)
        broken[0] = b"garbage\n"   # an ORDER_CREATED: the rest of its stream cannot follow
        data = self.path("data")
        _, _, err = run("import", "--data", data, "--skip-invalid", stdin=b"".join(broken), check=0)
        self.assertIn("line 1: the line is malformed JSON", err)
        self.assertIn("line 2: stream order-6415479c-65dc-4f50-bf63-af83bd0561e6 would have a gap", err)
        self.assertRegex(err, r"imported 76, skipped 0, rejected 2")
        run("check", "--data", data, check=0)

    def test_import_refuses_kafka_records_the_domain_cannot_apply(self):
        lines = read_sample().splitlines()
        approved = next(l for l in lines if b"ORDER_APPROVED" in l)
        data = self.path("data")
        code, _, err = run("import", "--data", data, stdin=approved + b"\n")
        self.assertEqual(code, 2)
        self.assertIn("gap", err)  # version 2 without version 1
        record = json.loads(lines[0])
        payload = json.loads(record["payload"])
        payload["data"]["totalAmount"] = "lots"
        record["payload"] = json.dumps(payload)
        code, _, err = run("import", "--data", data, stdin=json.dumps(record).encode() + b"\n")
        self.assertEqual(code, 2)
        self.assertIn("totalAmount", err)

    def test_import_dry_run_writes_nothing(self):
        data = self.path("data")
        _, _, err = run("import", "--data", data, "--dry-run", stdin=read_sample(), check=0)
        self.assertIn("would import 78, skipped 0, rejected 0", err)
        self.assertFalse(os.path.exists(data))

    # ---- export and the round trip -------------------------------------------------------

    def test_export_then_import_into_an_empty_dir_gives_an_identical_log(self):
        source = self.imported("source")
        # Events a kcat capture cannot hold: metadata, non-JSON and oddly spaced payloads, an
        # extra topic with 3 partitions.
        extra = []
        for i, (data, partition) in enumerate([
                (b"\x00\xffbinary", None), (b' {"spaced": true} ', None), (b"", None),
                (b'{"multi":\n"line"}', None), (b'"just a string"', None), (b"12.50", None)]):
            stream = f"note-{i}"
            partition = (murmur2(str(i).encode()) & 0x7FFFFFFF) % 3
            event = {"id": f"extra-{i}", "type": "NOTE_ADDED", "topic": "notes",
                     "partition": partition, "stream": stream, "version": 1,
                     "timestamp": "2026-11-02T10:00:0%d.123456Z" % i,
                     "metadata": {"commandId": f"c{i}", "correlationId": "corr",
                                  "causationId": "", "userId": "user-7"}}
            if data.strip() == data and b"\n" not in data and data:
                try:
                    json.loads(data)
                    event["data"] = json.loads(data)
                except ValueError:
                    event["dataBase64"] = base64.b64encode(data).decode()
            else:
                event["dataBase64"] = base64.b64encode(data).decode()
            extra.append(json.dumps(event))
        run("import", "--data", source, stdin="\n".join(extra).encode() + b"\n", check=0)
        exported = self.export(source)
        self.assertEqual(len(exported.splitlines()), 84)
        by_id = {json.loads(l)["id"]: json.loads(l) for l in exported.splitlines()}
        self.assertEqual(base64.b64decode(by_id["extra-0"]["dataBase64"]), b"\x00\xffbinary")
        self.assertEqual(base64.b64decode(by_id["extra-1"]["dataBase64"]), b' {"spaced": true} ')
        self.assertEqual(by_id["extra-4"]["data"], "just a string")
        self.assertEqual(by_id["extra-3"]["metadata"]["correlationId"], "corr")

        target = self.path("target")
        _, _, err = run("import", "--data", target, stdin=exported.encode(), check=0)
        self.assertIn("imported 84, skipped 0, rejected 0", err)
        self.assertIn("notes with 3 partitions", err)
        self.assertEqual(self.export(target), exported)
        run("check", "--data", target, check=0)

    def test_export_filters_by_topic_and_from(self):
        data = self.imported()
        everything = [json.loads(l) for l in self.export(data).splitlines()]
        payments = [json.loads(l) for l in self.export(data, "--topic", "payment-events").splitlines()]
        self.assertEqual(payments, [e for e in everything if e["topic"] == "payment-events"])
        two = self.export(data, "--topic", "payment-events", "--topic", "shipping-events")
        self.assertEqual(len(two.splitlines()), 25)
        tail = [json.loads(l) for l in self.export(data, "--from", "70").splitlines()]
        self.assertEqual([e["seq"] for e in tail], list(range(70, 79)))
        start = everything[40]
        from_position = [json.loads(l) for l in self.export(data, "--from", start["position"]).splitlines()]
        self.assertEqual(from_position, everything[40:])
        self.assert_usage_error(["export", "--data", data, "--topic", "nope"], "no topic nope")
        self.assert_usage_error(["export", "--data", data, "--from", "order-events/0/999"], "--from")
        self.assert_usage_error(["export", "--data", data, "--from", "yesterday"], "--from")

    def test_export_to_a_file_appears_only_when_complete(self):
        data = self.imported()
        out = self.path("events.ndjson")
        run("export", "--data", data, "-o", out, check=0)
        with open(out) as f:
            self.assertEqual(f.read(), self.export(data))
        self.assert_usage_error(["export", "--data", data, "-o", out], "already exists")
        self.assertEqual(sorted(os.listdir(self.tmp)), ["data", "events.ndjson"])

    def test_progress_prints_plain_lines_when_stderr_is_not_a_terminal(self):
        data = self.imported()
        events = self.export(data)
        _, _, err = run("import", "--data", self.path("copy"), stdin=events.encode(),
                        env={"CAIRN_PROGRESS_SECONDS": "0.001"}, check=0)
        self.assertRegex(err, r"import: \d+% \(\d+/78 events\), \d+ events/s")
        self.assertNotIn("\r", err)
        _, _, err = run("rebuild", "--data", data, env={"CAIRN_PROGRESS_SECONDS": "0.001"}, check=0)
        self.assertRegex(err, r"rebuild: \d+% \(\d+/78 events\)")
        _, _, err = run("rebuild", "--data", data, "--quiet", env={"CAIRN_PROGRESS_SECONDS": "0.001"}, check=0)
        self.assertEqual(err, "")

    def test_progress_draws_a_bar_on_a_terminal(self):
        import pty
        data = self.imported()
        leader, follower = pty.openpty()
        p = subprocess.run([CAIRN, "rebuild", "--data", data], stderr=follower,
                           stdout=subprocess.DEVNULL, timeout=120)
        os.close(follower)
        chunks = []
        while True:
            try:
                chunk = os.read(leader, 65536)
            except OSError:
                break
            if not chunk:
                break
            chunks.append(chunk)
        os.close(leader)
        text = b"".join(chunks).decode(errors="replace")
        self.assertEqual(p.returncode, 0, text)
        self.assertIn("\r", text)
        self.assertRegex(text, r"rebuild \[[#.]+\] +\d+%")

    # ---- check, drift and repair -----------------------------------------------------------

    def test_check_finds_drift_and_repair_fixes_it(self):
        data = self.imported()
        run("check", "--data", data, check=0)
        order_id = "6415479c-65dc-4f50-bf63-af83bd0561e6"
        self.assertIn(order_id, tool("keys", data, "orders", "views"))
        tool("put", data, "orders", "views", order_id, '{"orderId":"tampered"}')
        tool("put", data, "orders", "views", "ghost-order", "{}")
        code, out, _ = run("check", "--data", data)
        self.assertEqual(code, 1, out)
        self.assertIn("DRIFT", out)
        self.assertIn("orders.views", out)
        self.assertIn(order_id, out)
        self.assertIn("tampered", out)
        self.assertIn("ghost-order", out)
        code, out, _ = run("check", "--data", data, "--json")
        self.assertEqual(code, 1)
        report = json.loads(out)
        self.assertFalse(report["consistent"])
        self.assertEqual(report["differencesTotal"], 2)
        self.assertEqual(report["drifted"], ["orders"])
        self.assertEqual(report["repaired"], [])
        diffs = {d["key"]: d for d in report["differences"]}
        self.assertEqual(diffs[order_id]["actual"], '{"orderId":"tampered"}')
        self.assertEqual(json.loads(diffs[order_id]["expected"])["orderId"], order_id)
        self.assertIsNone(diffs["ghost-order"]["expected"])
        self.assertEqual(diffs["ghost-order"]["projection"], "orders")
        self.assertEqual(diffs["ghost-order"]["table"], "views")

        code, out, _ = run("check", "--data", data, "--repair", "--json")
        self.assertEqual(code, 1)
        self.assertEqual(json.loads(out)["repaired"], ["orders"])
        _, out, _ = run("check", "--data", data, "--json", check=0)
        self.assertTrue(json.loads(out)["consistent"])
        self.assertNotIn("ghost-order", tool("keys", data, "orders", "views"))

    def test_check_of_one_projection(self):
        data = self.imported()
        tool("delete", data, "order_stats", "totals", "orders")
        run("check", "--data", data, "--projection", "orders", check=0)
        code, out, _ = run("check", "--data", data, "--projection", "order_stats")
        self.assertEqual(code, 1, out)
        self.assertIn("order_stats.totals", out)
        self.assertIn("missing", out)
        self.assert_usage_error(["check", "--data", data, "--projection", "nope"], "no projection nope")

    # ---- rebuild ---------------------------------------------------------------------------

    def test_rebuild_offline_replaces_the_read_models(self):
        data = self.imported()
        tool("put", data, "orders", "views", "ghost-order", "{}")
        _, _, err = run("rebuild", "--data", data, "--projection", "orders", check=0)
        self.assertIn("rebuilt orders from 78 events", err)
        run("check", "--data", data, check=0)
        _, _, err = run("rebuild", "--data", data, check=0)
        self.assertIn("rebuilt orders, order_stats, order_search", err)
        self.assert_usage_error(["rebuild", "--data", data, "--projection", "nope"],
                                "no projection nope", "orders")

    def test_rebuild_of_an_empty_dir(self):
        data = self.path("empty")
        run("import", "--data", data, stdin=b"", check=0)
        self.assertFalse(os.path.exists(data))  # nothing to import: nothing created
        # An empty but real data dir, made by importing one event and checking it.
        line = read_sample().splitlines()[0] + b"\n"
        run("import", "--data", data, stdin=line, check=0)
        run("rebuild", "--data", data, check=0)
        run("check", "--data", data, check=0)

    # ---- backup ----------------------------------------------------------------------------

    def test_backup_offline_is_a_complete_data_dir(self):
        data = self.imported()
        backup = self.path("backup")
        _, _, err = run("backup", "--data", data, "--to", backup, check=0)
        self.assertIn("cairn serve --data", err)
        self.assertEqual(self.export(backup), self.export(data))
        run("check", "--data", backup, check=0)
        self.assert_usage_error(["backup", "--data", data, "--to", backup], "already exists")
        self.assert_usage_error(["backup", "--data", data, "--to", self.path("no/such/parent")],
                                "does not exist")

    def test_backup_verify_checks_the_backup_and_restore_makes_a_verified_copy(self):
        data = self.imported()
        backup = self.path("verified-backup")
        _, _, err = run("backup", "--data", data, "--to", backup, "--verify", check=0)
        self.assertIn(f"backup: verified {backup}: 78 events in 3 topics; every read model "
                      "equals a replay of its log", err)
        restored = self.path("restored")
        _, _, err = run("restore", "--from", backup, "--data", restored, check=0)
        self.assertIn(f"restore: verified {restored}: 78 events in 3 topics", err)
        self.assertIn(f"cairn serve --data {restored}", err)
        self.assertEqual(self.export(restored), self.export(data))
        run("check", "--data", restored, check=0)
        # Real copies: the restored dir shares no file with the backup (whose tables are hard
        # links to the source's).
        for name in os.listdir(restored):
            self.assertEqual(os.stat(os.path.join(restored, name)).st_nlink, 1, name)
        self.assertFalse([n for n in os.listdir(self.tmp) if ".restoring-" in n])

    def test_restore_refuses_what_it_cannot_do_and_leaves_nothing(self):
        data = self.imported()
        self.assert_usage_error(["restore", "--from", data, "--data", data], "already exists")
        self.assert_usage_error(["restore", "--from", self.path("nothing"), "--data",
                                 self.path("r1")], "is not a Cairn data dir")
        self.assert_usage_error(["restore", "--from", data, "--data", self.path("no/parent/r")],
                                "does not exist")
        self.assert_usage_error(["restore", "--data", self.path("r2")], "--from")
        self.assertFalse(os.path.exists(self.path("r1")) or os.path.exists(self.path("r2")))

    def test_a_backup_whose_read_models_drifted_does_not_verify(self):
        data = self.imported()
        tool("put", data, "orders", "views", "ghost-order", "{}")
        backup = self.path("drifted-backup")
        code, _, err = run("backup", "--data", data, "--to", backup, "--verify")
        self.assertEqual(code, 1, err)
        self.assertIn(f"backup: {backup} does NOT verify: 1 difference between", err)
        self.assertIn("orders", err)
        code, _, err = run("restore", "--from", backup, "--data", self.path("drifted-copy"))
        self.assertEqual(code, 1, err)
        self.assertIn("does NOT verify", err)
        run("check", "--data", self.path("drifted-copy"), "--repair")
        run("check", "--data", self.path("drifted-copy"), check=0)


def main():
    global CAIRN, TOOL, SAMPLE
    if len(sys.argv) < 4:
        sys.exit(__doc__)
    CAIRN, TOOL, SAMPLE = (os.path.abspath(a) for a in sys.argv[1:4])
    unittest.main(argv=[sys.argv[0], *sys.argv[4:]], verbosity=2)


if __name__ == "__main__":
    main()
