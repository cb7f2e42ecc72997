"""Shared helpers of the Kafka listener's tests (tests/kafka/*_test.py, suite kafka).

A KafkaServer is e2e_util's Server (the real `cairn serve` on a temporary data dir) with
`--kafka 127.0.0.1:0`; RawClient speaks the Kafka wire protocol over a plain socket with
encoders written from the protocol spec (not from Cairn's code), so tests can send exact bytes,
broken ones included; kcat() runs the real kcat against the server. Standard library only.
"""
import os
import re
import socket
import struct
import subprocess
import sys
import time
import zlib

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "http"))
import e2e_util  # noqa: E402  (the Server, main() and the temporary root)

# ---- the server ------------------------------------------------------------------------------


class KafkaServer(e2e_util.Server):
    """`cairn serve --kafka 127.0.0.1:0`; kafka_port is the listener's port."""

    def __init__(self, name, args=()):
        self.kafka_port = None
        super().__init__(name, args=["--kafka", "127.0.0.1:0", *args])

    def start(self):
        super().start()
        match = re.search(r"kafka protocol on 127\.0\.0\.1:(\d+)", self.current_log())
        assert match, "no kafka listener line in the log:\n" + self.current_log()
        self.kafka_port = int(match.group(1))

    @property
    def bootstrap(self):
        return f"127.0.0.1:{self.kafka_port}"


# ---- encoding --------------------------------------------------------------------------------

def i8(v): return struct.pack(">b", v)
def i16(v): return struct.pack(">h", v)
def i32(v): return struct.pack(">i", v)
def u32(v): return struct.pack(">I", v)
def i64(v): return struct.pack(">q", v)
def string(s): return i16(-1) if s is None else i16(len(s.encode())) + s.encode()
def kbytes(b): return i32(-1) if b is None else i32(len(b)) + b
def array(items): return i32(len(items)) + b"".join(items)


def uvarint(v):
    out = b""
    while True:
        byte = v & 0x7F
        v >>= 7
        if v:
            out += bytes([byte | 0x80])
        else:
            return out + bytes([byte])


def varint(v):
    return uvarint((v << 1) ^ (v >> 63) if v < 0 else v << 1)


def _crc32c_table():
    table = []
    for i in range(256):
        c = i
        for _ in range(8):
            c = (c >> 1) ^ 0x82F63B78 if c & 1 else c >> 1
        table.append(c)
    return table


_CRC_TABLE = _crc32c_table()


def crc32c(data):
    crc = 0xFFFFFFFF
    for b in data:
        crc = _CRC_TABLE[(crc ^ b) & 0xFF] ^ (crc >> 8)
    return crc ^ 0xFFFFFFFF


def murmur2_partition(key, partitions):
    """Kafka's default partitioner (Utils.murmur2 & 0x7fffffff) % partitions."""
    data = key.encode() if isinstance(key, str) else key
    m, r = 0x5BD1E995, 24
    h = (0x9747B28C ^ len(data)) & 0xFFFFFFFF
    n4 = len(data) // 4
    for i in range(n4):
        k = int.from_bytes(data[4 * i:4 * i + 4], "little")
        k = (k * m) & 0xFFFFFFFF
        k ^= k >> r
        k = (k * m) & 0xFFFFFFFF
        h = (h * m) & 0xFFFFFFFF
        h ^= k
    tail = data[4 * n4:]
    if len(tail) == 3:
        h ^= tail[2] << 16
    if len(tail) >= 2:
        h ^= tail[1] << 8
    if len(tail) >= 1:
        h ^= tail[0]
        h = (h * m) & 0xFFFFFFFF
    h ^= h >> 13
    h = (h * m) & 0xFFFFFFFF
    h ^= h >> 15
    return (h & 0x7FFFFFFF) % partitions


def key_for(partition, partitions, prefix="key"):
    """The first key "<prefix><n>" whose murmur2 partition is `partition`."""
    n = 0
    while murmur2_partition(f"{prefix}{n}", partitions) != partition:
        n += 1
    return f"{prefix}{n}"


def record(key, value, headers=(), offset_delta=0, timestamp_delta=0):
    def var_bytes(b):
        if b is None:
            return varint(-1)
        b = b.encode() if isinstance(b, str) else b
        return varint(len(b)) + b
    body = (i8(0) + varint(timestamp_delta) + varint(offset_delta) + var_bytes(key) +
            var_bytes(value) + varint(len(headers)) +
            b"".join(var_bytes(k) + var_bytes(v) for k, v in headers))
    return varint(len(body)) + body


def batch(records, base_timestamp=None, producer_id=-1, epoch=-1, base_sequence=-1, codec=0,
          corrupt_crc=False):
    """A record batch v2 of encoded `records` (from record()); codec 1 compresses with gzip."""
    ts = int(time.time() * 1000) if base_timestamp is None else base_timestamp
    payload = b"".join(records)
    if codec == 1:
        c = zlib.compressobj(wbits=31)
        payload = c.compress(payload) + c.flush()
    after_crc = (i16(codec) + i32(len(records) - 1) + i64(ts) + i64(ts) + i64(producer_id) +
                 i16(epoch) + i32(base_sequence) + i32(len(records)) + payload)
    crc = crc32c(after_crc) ^ (1 if corrupt_crc else 0)
    body = i32(0) + i8(2) + u32(crc) + after_crc
    return i64(0) + i32(len(body)) + body


# ---- decoding --------------------------------------------------------------------------------

class Reader:
    def __init__(self, data):
        self.data, self.pos = data, 0

    def take(self, n):
        assert self.pos + n <= len(self.data), "response shorter than its fields"
        out = self.data[self.pos:self.pos + n]
        self.pos += n
        return out

    def i8(self): return struct.unpack(">b", self.take(1))[0]
    def i16(self): return struct.unpack(">h", self.take(2))[0]
    def i32(self): return struct.unpack(">i", self.take(4))[0]
    def u32(self): return struct.unpack(">I", self.take(4))[0]
    def i64(self): return struct.unpack(">q", self.take(8))[0]

    def string(self):
        n = self.i16()
        return None if n < 0 else self.take(n).decode()

    def kbytes(self):
        n = self.i32()
        return None if n < 0 else self.take(n)

    def uvarint(self):
        shift = value = 0
        while True:
            b = self.take(1)[0]
            value |= (b & 0x7F) << shift
            shift += 7
            if not b & 0x80:
                return value

    def varint(self):
        v = self.uvarint()
        return (v >> 1) ^ -(v & 1)

    def var_bytes(self):
        n = self.varint()
        return None if n < 0 else self.take(n)

    def done(self):
        return self.pos == len(self.data)


def decode_batches(data):
    """[(base_offset, [{offset, timestamp, key, value, headers}])]; checks each CRC32C."""
    return [(header["base_offset"], records) for header, records in decode_batches_in_full(data)]


def decode_batches_in_full(data):
    """[(header, records)] where header is {base_offset, attributes, last_offset_delta,
    base_timestamp, max_timestamp, producer_id, producer_epoch, base_sequence} and records as
    decode_batches gives them (gzip batches decompressed); checks each CRC32C."""
    out = []
    r = Reader(data)
    while not r.done():
        base = r.i64()
        length = r.i32()
        body = Reader(r.take(length))
        body.i32()
        assert body.i8() == 2, "magic"
        crc = body.u32()
        rest = body.data[body.pos:]
        assert crc32c(rest) == crc, "fetched batch has a bad CRC32C"
        header = {"base_offset": base, "attributes": body.i16(), "last_offset_delta": body.i32(),
                  "base_timestamp": body.i64(), "max_timestamp": body.i64(),
                  "producer_id": body.i64(), "producer_epoch": body.i16(),
                  "base_sequence": body.i32()}
        count = body.i32()
        if header["attributes"] & 7 == 1:  # gzip: the records after the header, compressed
            body = Reader(zlib.decompress(body.data[body.pos:], wbits=47))
        records = []
        for _ in range(count):
            rec = Reader(body.take(body.varint()))
            rec.i8()
            ts = header["base_timestamp"] + rec.varint()
            offset = base + rec.varint()
            key, value = rec.var_bytes(), rec.var_bytes()
            headers = [(rec.var_bytes().decode(), rec.var_bytes()) for _ in range(rec.varint())]
            records.append({"offset": offset, "timestamp": ts, "key": key, "value": value,
                            "headers": headers})
        out.append((header, records))
    return out


# ---- a raw client ----------------------------------------------------------------------------

class RawClient:
    """One socket to the listener (or any Kafka broker at host:port); requests are framed with
    header v1 (v2 when flexible)."""

    def __init__(self, port, timeout=10, host="127.0.0.1"):
        self.sock = socket.create_connection((host, port), timeout=timeout)
        self.next_id = 1

    def close(self):
        self.sock.close()

    def send(self, api_key, version, body, correlation_id=None, flexible=False):
        cid = self.next_id if correlation_id is None else correlation_id
        self.next_id = cid + 1
        header = i16(api_key) + i16(version) + i32(cid) + string("raw-test")
        if flexible:
            header += uvarint(0)
        frame = header + body
        self.sock.sendall(i32(len(frame)) + frame)
        return cid

    def send_raw(self, data):
        self.sock.sendall(data)

    def _read_exact(self, n):
        out = b""
        while len(out) < n:
            chunk = self.sock.recv(n - len(out))
            if not chunk:
                raise ConnectionError("the server closed the connection")
            out += chunk
        return out

    def recv(self):
        """(correlation_id, body) of the next response."""
        size = struct.unpack(">i", self._read_exact(4))[0]
        frame = self._read_exact(size)
        return struct.unpack(">i", frame[:4])[0], frame[4:]

    def call(self, api_key, version, body, flexible=False):
        cid = self.send(api_key, version, body, flexible=flexible)
        got, response = self.recv()
        assert got == cid, f"correlation id {got}, expected {cid}"
        return Reader(response)

    def is_closed(self, timeout=5):
        self.sock.settimeout(timeout)
        try:
            return self.sock.recv(1) == b""
        except ConnectionResetError:
            return True
        except socket.timeout:
            return False


# Requests and their readers. Produce, Fetch and ListOffsets are written for any version Cairn
# speaks (field by field as the protocol's JSON specs add them); the *_v7/_v11/_v3 names are the
# versions most tests use.
PRODUCE, FETCH, LIST_OFFSETS, METADATA, API_VERSIONS = 0, 1, 2, 3, 18
OFFSET_COMMIT, OFFSET_FETCH, FIND_COORDINATOR, INIT_PRODUCER_ID = 8, 9, 10, 22


def metadata_request(version, topics, auto_create=True):
    """Metadata v1-4 of `topics` (None: every topic); v4 carries allow_auto_topic_creation."""
    body = i32(-1) if topics is None else array([string(t) for t in topics])
    return body + (i8(1 if auto_create else 0) if version >= 4 else b"")


def metadata_v4(topics, auto_create=True):
    return metadata_request(4, topics, auto_create)


def read_metadata(r, version):
    """{brokers: [(node_id, host, port)], cluster_id, controller_id,
        topics: {name: {error, internal, partitions: {index: {error, leader, replicas, isr}}}}}"""
    if version >= 3:
        r.i32()  # throttle_time_ms
    brokers = []
    for _ in range(r.i32()):
        node, host, port = r.i32(), r.string(), r.i32()
        if version >= 1:
            r.string()  # rack
        brokers.append((node, host, port))
    cluster_id = r.string() if version >= 2 else None
    controller = r.i32() if version >= 1 else None
    topics = {}
    for _ in range(r.i32()):
        error, name = r.i16(), r.string()
        internal = r.i8() != 0 if version >= 1 else False
        partitions = {}
        for _ in range(r.i32()):
            p_error, index, leader = r.i16(), r.i32(), r.i32()
            replicas = [r.i32() for _ in range(r.i32())]
            isr = [r.i32() for _ in range(r.i32())]
            partitions[index] = {"error": p_error, "leader": leader, "replicas": replicas,
                                 "isr": isr}
        topics[name] = {"error": error, "internal": internal, "partitions": partitions}
    return {"brokers": brokers, "cluster_id": cluster_id, "controller_id": controller,
            "topics": topics}


def produce_v7(topic, partition, records_bytes, acks=-1, transactional_id=None):
    """A Produce request; its body is the same from v3 to v7."""
    return (string(transactional_id) + i16(acks) + i32(30000) +
            array([string(topic) + array([i32(partition) + kbytes(records_bytes)])]))


def read_produce(r, version):
    """[{topic, partition, error, base_offset, log_append_time, log_start_offset}] of Produce
    v3-7 (log_start_offset from v5, else None)."""
    out = []
    for _ in range(r.i32()):
        topic = r.string()
        for _ in range(r.i32()):
            part = {"topic": topic, "partition": r.i32(), "error": r.i16(),
                    "base_offset": r.i64(), "log_append_time": r.i64(),
                    "log_start_offset": r.i64() if version >= 5 else None}
            out.append(part)
    r.i32()  # throttle_time_ms
    return out


def read_produce_v7(r):
    """[(topic, partition, error, base_offset)]"""
    return [(p["topic"], p["partition"], p["error"], p["base_offset"])
            for p in read_produce(r, 7)]


def fetch_request(version, topic, partition, offset, max_wait_ms=0, min_bytes=1,
                  max_bytes=1 << 20):
    """A Fetch v4-11 of one partition (no fetch session, read_uncommitted)."""
    head = i32(-1) + i32(max_wait_ms) + i32(min_bytes) + i32(max_bytes) + i8(0)
    if version >= 7:
        head += i32(0) + i32(-1)  # session id, epoch: no session
    part = i32(partition)
    if version >= 9:
        part += i32(-1)  # current_leader_epoch
    part += i64(offset)
    if version >= 5:
        part += i64(-1)  # log_start_offset: a follower's
    part += i32(max_bytes)
    body = head + array([string(topic) + array([part])])
    if version >= 7:
        body += array([])  # forgotten topics
    if version >= 11:
        body += string("")  # rack_id
    return body


def fetch_v11(topic, partition, offset, max_wait_ms=0, min_bytes=1, max_bytes=1 << 20):
    return fetch_request(11, topic, partition, offset, max_wait_ms, min_bytes, max_bytes)


def read_fetch(r, version):
    """{(topic, partition): {error, high_watermark, last_stable_offset, log_start_offset (v5+,
    else None), aborted, preferred_read_replica (v11, else None), records}} and, from v7, the
    top-level error under the key "error"."""
    r.i32()  # throttle_time_ms
    out = {}
    if version >= 7:
        out["error"] = r.i16()
        r.i32()  # session_id
    for _ in range(r.i32()):
        topic = r.string()
        for _ in range(r.i32()):
            partition = r.i32()
            part = {"error": r.i16(), "high_watermark": r.i64(), "last_stable_offset": r.i64()}
            part["log_start_offset"] = r.i64() if version >= 5 else None
            aborted = r.i32()
            part["aborted"] = [(r.i64(), r.i64()) for _ in range(max(aborted, 0))]
            part["preferred_read_replica"] = r.i32() if version >= 11 else None
            part["records"] = r.kbytes()
            out[(topic, partition)] = part
    return out


def read_fetch_v11(r):
    """{(topic, partition): (error, high_watermark, records_bytes)}"""
    parts = read_fetch(r, 11)
    assert parts.pop("error") == 0
    for part in parts.values():
        assert not part["aborted"]
        assert part["preferred_read_replica"] == -1, "preferred_read_replica"
    return {key: (p["error"], p["high_watermark"], p["records"]) for key, p in parts.items()}


def list_offsets_request(version, topic, partition, timestamp):
    """ListOffsets v1-3 of one partition; v2 adds isolation_level (read_uncommitted here)."""
    return (i32(-1) + (i8(0) if version >= 2 else b"") +
            array([string(topic) + array([i32(partition) + i64(timestamp)])]))


def list_offsets_v3(topic, partition, timestamp):
    return list_offsets_request(3, topic, partition, timestamp)


def read_list_offsets(r, version):
    """(partition, error, timestamp, offset) of a one-partition ListOffsets v1-3 answer."""
    if version >= 2:
        r.i32()  # throttle_time_ms
    r.i32()
    r.string()
    r.i32()
    return r.i32(), r.i16(), r.i64(), r.i64()


def read_list_offsets_v3(r):
    return read_list_offsets(r, 3)  # partition, error, timestamp, offset


def init_producer_id(transactional_id=None, timeout_ms=60000):
    """An InitProducerId v0-1 request (the same body in both)."""
    return string(transactional_id) + i32(timeout_ms)


def read_init_producer_id(r):
    """(error, producer_id, epoch)"""
    r.i32()  # throttle_time_ms
    return r.i16(), r.i64(), r.i16()


def find_coordinator(version, key, key_type=0):
    """FindCoordinator v0-2 for a group (key_type 0) or a transactional id (1)."""
    return string(key) + (i8(key_type) if version >= 1 else b"")


def read_find_coordinator(r, version):
    """(error, node_id, host, port)"""
    if version >= 1:
        r.i32()  # throttle_time_ms
    error = r.i16()
    if version >= 1:
        r.string()  # error_message
    return error, r.i32(), r.string(), r.i32()


def offset_commit_request(version, group, generation, member, topic, offsets):
    """OffsetCommit v2-7 of `offsets`, [(partition, offset, metadata)] of `topic` (generation -1
    and member "": a commit outside any group, as a standalone consumer makes)."""
    body = string(group) + i32(generation) + string(member)
    if version >= 7:
        body += string(None)  # group_instance_id
    if version <= 4:
        body += i64(-1)  # retention_time_ms: the broker's
    parts = [i32(partition) + i64(offset) + (i32(-1) if version >= 6 else b"") + string(metadata)
             for partition, offset, metadata in offsets]
    return body + array([string(topic) + array(parts)])


def read_offset_commit(r, version):
    """[(topic, partition, error)]"""
    if version >= 3:
        r.i32()  # throttle_time_ms
    out = []
    for _ in range(r.i32()):
        topic = r.string()
        out += [(topic, r.i32(), r.i16()) for _ in range(r.i32())]
    return out


def offset_fetch_request(topic, partitions, group):
    """OffsetFetch v1-5 of `partitions` of `topic` (the same body in each)."""
    return string(group) + array([string(topic) + array([i32(p) for p in partitions])])


def read_offset_fetch(r, version):
    """({(topic, partition): (offset, metadata, error)}, top-level error (v2+, else None))"""
    if version >= 3:
        r.i32()  # throttle_time_ms
    out = {}
    for _ in range(r.i32()):
        topic = r.string()
        for _ in range(r.i32()):
            partition, offset = r.i32(), r.i64()
            if version >= 5:
                r.i32()  # committed_leader_epoch
            out[(topic, partition)] = (offset, r.string(), r.i16())
    return out, r.i16() if version >= 2 else None


JOIN_GROUP, HEARTBEAT, LEAVE_GROUP, SYNC_GROUP = 11, 12, 13, 14


def join_v5(group, member="", protocol_type="consumer", protocols=(("range", b"meta"),)):
    return (string(group) + i32(10000) + i32(3000) + string(member) + string(None) +
            string(protocol_type) + array([string(n) + kbytes(m) for n, m in protocols]))


def read_join_v5(r):
    """{error, generation, protocol, leader, member, members: [id], metadata: {id: bytes}}"""
    r.i32()
    error, generation, protocol, leader, member = r.i16(), r.i32(), r.string(), r.string(), r.string()
    members, metadata = [], {}
    for _ in range(r.i32()):
        members.append(r.string())
        r.string()  # group_instance_id
        metadata[members[-1]] = r.kbytes()
    return {"error": error, "generation": generation, "protocol": protocol, "leader": leader,
            "member": member, "members": members, "metadata": metadata}


def heartbeat_v3(group, generation, member):
    return string(group) + i32(generation) + string(member) + string(None)


def sync_v3(group, generation, member, assignments=()):
    return (string(group) + i32(generation) + string(member) + string(None) +
            array([string(m) + kbytes(a) for m, a in assignments]))


def read_sync_v3(r):
    """(error, assignment)"""
    r.i32()  # throttle_time_ms
    return r.i16(), r.kbytes()


def leave_v1(group, member):
    return string(group) + string(member)


def error_of(r):
    """The error code of an answer that starts with throttle_time_ms, then it (Heartbeat v1+,
    LeaveGroup v1+, InitProducerId)."""
    r.i32()
    return r.i16()


def api_versions_request(version):
    """The body of ApiVersions v0-3 (v3 names the client; send it with flexible=True)."""
    if version < 3:
        return b""
    return uvarint(len("raw-test") + 1) + b"raw-test" + uvarint(2) + b"1" + uvarint(0)


def read_api_versions(r, version):
    """(error, {api_key: (min_version, max_version)}) of ApiVersions v0-3."""
    error = r.i16()
    flexible = version >= 3
    count = r.uvarint() - 1 if flexible else r.i32()
    ranges = {}
    for _ in range(count):
        key, lo, hi = r.i16(), r.i16(), r.i16()
        if flexible:
            r.uvarint()  # tagged fields
        ranges[key] = (lo, hi)
    if version >= 1:
        r.i32()  # throttle_time_ms
    if flexible:
        r.uvarint()  # tagged fields
    return error, ranges


def kcat(server, *args, input=None, timeout=30, check=True):
    """Runs kcat against the server; returns its CompletedProcess (text)."""
    cmd = ["kcat", "-b", server.bootstrap, *args]
    p = subprocess.run(cmd, input=input, capture_output=True, text=True, timeout=timeout)
    if check and p.returncode != 0:
        raise AssertionError(f"{' '.join(cmd)} exited {p.returncode}:\n{p.stderr}")
    return p


def main(doc):
    return e2e_util.main(doc)
