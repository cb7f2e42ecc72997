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
        body.i16()
        body.i32()
        base_ts = body.i64()
        body.i64(), body.i64(), body.i16(), body.i32()
        count = body.i32()
        records = []
        for _ in range(count):
            rec = Reader(body.take(body.varint()))
            rec.i8()
            ts = base_ts + rec.varint()
            offset = base + rec.varint()
            key, value = rec.var_bytes(), rec.var_bytes()
            headers = [(rec.var_bytes().decode(), rec.var_bytes()) for _ in range(rec.varint())]
            records.append({"offset": offset, "timestamp": ts, "key": key, "value": value,
                            "headers": headers})
        out.append((base, records))
    return out


# ---- a raw client ----------------------------------------------------------------------------

class RawClient:
    """One socket to the listener; requests are framed with header v1 (v2 when flexible)."""

    def __init__(self, port, timeout=10):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
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


# Requests at the versions the tests use.
PRODUCE, FETCH, LIST_OFFSETS, METADATA, API_VERSIONS = 0, 1, 2, 3, 18


def metadata_v4(topics, auto_create=True):
    return array([string(t) for t in topics]) + i8(1 if auto_create else 0)


def produce_v7(topic, partition, records_bytes, acks=-1):
    return (string(None) + i16(acks) + i32(30000) +
            array([string(topic) + array([i32(partition) + kbytes(records_bytes)])]))


def read_produce_v7(r):
    """[(topic, partition, error, base_offset)]"""
    out = []
    for _ in range(r.i32()):
        topic = r.string()
        for _ in range(r.i32()):
            partition, error, base = r.i32(), r.i16(), r.i64()
            r.i64(), r.i64()
            out.append((topic, partition, error, base))
    r.i32()
    return out


def fetch_v11(topic, partition, offset, max_wait_ms=0, min_bytes=1, max_bytes=1 << 20):
    return (i32(-1) + i32(max_wait_ms) + i32(min_bytes) + i32(max_bytes) + i8(0) + i32(0) +
            i32(-1) + array([string(topic) + array([i32(partition) + i32(-1) + i64(offset) +
                                                     i64(-1) + i32(max_bytes)])]) +
            array([]) + string(""))


def read_fetch_v11(r):
    """{(topic, partition): (error, high_watermark, records_bytes)}"""
    r.i32()
    assert r.i16() == 0
    r.i32()
    out = {}
    for _ in range(r.i32()):
        topic = r.string()
        for _ in range(r.i32()):
            partition, error, hwm = r.i32(), r.i16(), r.i64()
            r.i64(), r.i64()
            aborted = r.i32()
            assert aborted <= 0
            assert r.i32() == -1, "preferred_read_replica"
            out[(topic, partition)] = (error, hwm, r.kbytes())
    return out


def list_offsets_v3(topic, partition, timestamp):
    return i32(-1) + i8(0) + array([string(topic) + array([i32(partition) + i64(timestamp)])])


def read_list_offsets_v3(r):
    r.i32()
    r.i32()
    r.string()
    r.i32()
    return r.i32(), r.i16(), r.i64(), r.i64()  # partition, error, timestamp, offset


def kcat(server, *args, input=None, timeout=30, check=True):
    """Runs kcat against the server; returns its CompletedProcess (text)."""
    cmd = ["kcat", "-b", server.bootstrap, *args]
    p = subprocess.run(cmd, input=input, capture_output=True, text=True, timeout=timeout)
    if check and p.returncode != 0:
        raise AssertionError(f"{' '.join(cmd)} exited {p.returncode}:\n{p.stderr}")
    return p


def main(doc):
    return e2e_util.main(doc)
