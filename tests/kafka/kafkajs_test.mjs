// kafkajs 2.2.4 (npm, pinned in package-lock.json; `tools/setup` runs npm ci) against a real
// `cairn serve --kafka`:
//   - a plain and an idempotent producer: every record lands once, on murmur2's partition;
//   - a two-member consumer group: the partitions split, each message consumed exactly once;
//   - the seed service's consumer pattern (groupId order-projection-group, topics order-events,
//     payment-events and shipping-events, fromBeginning) reads what the HTTP API wrote, with the
//     seed producer's keys, headers and payload shape.
// Usage: node tests/kafka/kafkajs_test.mjs path/to/cairn. Exit 77 (skipped) only when kafkajs
// is not installed, with the reason.
import { spawn } from 'node:child_process';
import { mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import assert from 'node:assert/strict';

const SKIP = 77;
const ADMIN = 'kafkajs-admin-token-0123456789abcdef';
const ALICE = 'kafkajs-alice-token-0123456789abcdef';
const PARTITIONS = 4;

const [cairn] = process.argv.slice(2);
if (!cairn) {
  console.error('usage: kafkajs_test.mjs CAIRN');
  process.exit(2);
}
let Kafka, logLevel, Partitioners;
try {
  ({ Kafka, logLevel, Partitioners } = (await import('kafkajs')).default);
} catch (e) {
  console.log(`kafkajs: SKIPPED: kafkajs is not in node_modules/ (tools/setup runs npm ci): ${e.message}`);
  process.exit(SKIP);
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
const root = mkdtempSync(join(tmpdir(), 'cairn-kafkajs-'));
const logPath = join(root, 'serve.log');
const tokensFile = join(root, 'tokens.json');
writeFileSync(tokensFile, JSON.stringify([
  { token: ADMIN, user: 'root', role: 'admin' },
  { token: ALICE, user: 'alice', role: 'customer' },
]));

async function startServer() {
  const log = openSync(logPath, 'w');
  const child = spawn(cairn, ['serve', '--data', join(root, 'data'), '--listen', '127.0.0.1:0',
    '--tokens', tokensFile, '--partitions', String(PARTITIONS), '--kafka', '127.0.0.1:0',
    '--kafka-group-delay', '300'], { stdio: ['ignore', log, log] });
  const deadline = Date.now() + 60_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`cairn serve exited ${child.exitCode}:\n${readFileSync(logPath, 'utf8')}`);
    const text = readFileSync(logPath, 'utf8');
    const http = /on http:\/\/127\.0\.0\.1:(\d+)/.exec(text);
    const kafka = /kafka protocol on 127\.0\.0\.1:(\d+)/.exec(text);
    if (http && kafka) return { child, base: `http://127.0.0.1:${http[1]}`, broker: `127.0.0.1:${kafka[1]}` };
    if (Date.now() > deadline) throw new Error(`cairn serve did not start:\n${text}`);
    await sleep(50);
  }
}

const server = await startServer();
process.on('exit', () => server.child.kill('SIGKILL'));
const kafka = new Kafka({ clientId: 'kafkajs-test', brokers: [server.broker], logLevel: logLevel.NOTHING });

async function call(method, path, body) {
  const res = await fetch(server.base + path, {
    method,
    headers: { Authorization: `Bearer ${method === 'POST' && path === '/api/orders' ? ALICE : ADMIN}`, 'Content-Type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const json = await res.json().catch(() => null);
  if (!res.ok) throw new Error(`${method} ${path}: HTTP ${res.status} ${JSON.stringify(json)}`);
  return json;
}

// Java's murmur2 partitioner, written out here so the test does not trust either side's.
function murmur2Partition(key, partitions) {
  const data = Buffer.from(key);
  const m = 0x5bd1e995;
  let h = (0x9747b28c ^ data.length) >>> 0;
  const n4 = data.length >> 2;
  for (let i = 0; i < n4; i++) {
    let k = data.readUInt32LE(i * 4);
    k = Math.imul(k, m) >>> 0;
    k = (k ^ (k >>> 24)) >>> 0;
    k = Math.imul(k, m) >>> 0;
    h = Math.imul(h, m) >>> 0;
    h = (h ^ k) >>> 0;
  }
  const tail = data.length & 3;
  const at = data.length & ~3;
  if (tail === 3) h = (h ^ (data[at + 2] << 16)) >>> 0;
  if (tail >= 2) h = (h ^ (data[at + 1] << 8)) >>> 0;
  if (tail >= 1) {
    h = (h ^ data[at]) >>> 0;
    h = Math.imul(h, m) >>> 0;
  }
  h = (h ^ (h >>> 13)) >>> 0;
  h = Math.imul(h, m) >>> 0;
  h = (h ^ (h >>> 15)) >>> 0;
  return (h & 0x7fffffff) % partitions;
}

// Reads every record of `topics` with a throwaway group until `count` arrived (or 20 s).
async function readAll(topics, count, groupId) {
  const consumer = kafka.consumer({ groupId, sessionTimeout: 10_000, heartbeatInterval: 500, maxWaitTimeInMs: 300 });
  const got = [];
  await consumer.connect();
  for (const topic of topics) await consumer.subscribe({ topic, fromBeginning: true });
  await consumer.run({ eachMessage: async ({ topic, partition, message }) => { got.push({ topic, partition, message }); } });
  const deadline = Date.now() + 20_000;
  while (got.length < count && Date.now() < deadline) await sleep(50);
  await consumer.disconnect();
  return got;
}

async function produce(topic, keys, options = {}) {
  const producer = kafka.producer({ createPartitioner: Partitioners.DefaultPartitioner, ...options });
  await producer.connect();
  await producer.send({ topic, acks: -1, messages: keys.map((key) => ({ key, value: `value of ${key}` })) });
  await producer.disconnect();
}

const steps = [];
function step(name, fn) { steps.push({ name, fn }); }

step('a plain producer writes every record once on its murmur2 partition', async () => {
  const keys = Array.from({ length: 50 }, (_, i) => `plain-${i}`);
  await produce('js-plain', keys);
  const got = await readAll(['js-plain'], keys.length, 'js-check-plain');
  assert.deepEqual(got.map((r) => r.message.key.toString()).sort(), [...keys].sort());
  for (const r of got) assert.equal(r.partition, murmur2Partition(r.message.key.toString(), PARTITIONS));
  for (const r of got) assert.equal(r.message.value.toString(), `value of ${r.message.key}`);
});

step('an idempotent producer writes every record once', async () => {
  const keys = Array.from({ length: 30 }, (_, i) => `idem-${i}`);
  await produce('js-idempotent', keys, { idempotent: true, maxInFlightRequests: 1 });
  await produce('js-idempotent', keys.map((k) => `${k}-again`), { idempotent: true, maxInFlightRequests: 1 });
  const got = await readAll(['js-idempotent'], 60, 'js-check-idem');
  await sleep(300);
  assert.equal(got.length, 60);
  assert.equal(new Set(got.map((r) => r.message.key.toString())).size, 60);
});

step('a two-member group splits the partitions and consumes each message once', async () => {
  const topic = 'js-group';
  await produce(topic, ['warm-up']);  // creates the topic
  const seen = [];
  const assigned = {};
  const members = ['one', 'two'].map((name) => {
    const c = kafka.consumer({ groupId: 'js-two-members', sessionTimeout: 10_000, heartbeatInterval: 300, rebalanceTimeout: 10_000, maxWaitTimeInMs: 300 });
    c.on(c.events.GROUP_JOIN, (e) => { assigned[name] = e.payload.memberAssignment[topic] || []; });
    return { name, c };
  });
  for (const { name, c } of members) {
    await c.connect();
    await c.subscribe({ topic, fromBeginning: true });
    await c.run({ eachMessage: async ({ partition, message }) => { seen.push({ name, partition, key: message.key.toString() }); } });
  }
  const deadline = Date.now() + 20_000;
  while (!(assigned.one && assigned.two && assigned.one.length + assigned.two.length === PARTITIONS)) {
    assert.ok(Date.now() < deadline, `the group never settled: ${JSON.stringify(assigned)}`);
    await sleep(100);
  }
  assert.ok(assigned.one.length > 0 && assigned.two.length > 0, JSON.stringify(assigned));
  const keys = Array.from({ length: 40 }, (_, i) => `member-${i}`);
  await produce(topic, keys);
  while (seen.filter((s) => s.key !== 'warm-up').length < keys.length && Date.now() < deadline + 10_000) await sleep(50);
  await sleep(500);
  for (const { c } of members) await c.disconnect();
  const got = seen.filter((s) => s.key !== 'warm-up').map((s) => s.key);
  assert.deepEqual([...got].sort(), [...keys].sort(), 'each message exactly once');
  assert.ok(new Set(seen.map((s) => s.name)).size === 2, 'both members consumed');
  for (const s of seen) assert.ok(assigned[s.name].includes(s.partition), `${s.name} read partition ${s.partition}`);
});

step("the seed's consumer reads what the HTTP API wrote, as the seed's producer wrote it", async () => {
  const order = await call('POST', '/api/orders', {
    items: [{ productId: 'p-100', name: 'Keyboard', price: 39000, quantity: 2 }],
    shippingAddress: { street: '1 Sejong-daero', city: 'Seoul', zipCode: '04524', country: 'KR', express: false },
  });
  const id = order.orderId;
  await call('POST', `/api/orders/${id}/approve`, {});
  await call('POST', `/api/orders/${id}/pay`, { method: 'card', amount: 78000 });
  await call('POST', `/api/orders/${id}/ship`, { trackingNumber: 'TRK-1' });
  // The seed's consumer, as its projection service runs it.
  const consumer = kafka.consumer({ groupId: 'order-projection-group', heartbeatInterval: 500, maxWaitTimeInMs: 300 });
  await consumer.connect();
  await consumer.subscribe({ topics: ['order-events', 'payment-events', 'shipping-events'], fromBeginning: true });
  const events = [];
  await consumer.run({
    eachMessage: async ({ topic, message }) => {
      const event = JSON.parse(message.value.toString());
      events.push({ topic, key: message.key.toString(), event, headers: message.headers });
    },
  });
  const deadline = Date.now() + 20_000;
  while (!events.some((e) => e.topic === 'shipping-events') && Date.now() < deadline) await sleep(50);
  await consumer.disconnect();
  const mine = events.filter((e) => e.key === id);
  const topics = new Set(mine.map((e) => e.topic));
  assert.deepEqual([...topics].sort(), ['order-events', 'payment-events', 'shipping-events']);
  for (const { event, headers, key } of mine) {
    assert.equal(event.aggregateId, key);
    assert.ok(Number.isInteger(event.version) && event.version >= 1);
    assert.ok(typeof event.type === 'string' && typeof event.timestamp === 'string');
    assert.equal(headers.eventType.toString(), event.type);
    assert.equal(headers.aggregateId.toString(), key);
    assert.equal(headers.version.toString(), String(event.version));
  }
  const created = mine.find((e) => e.event.type === 'ORDER_CREATED');
  assert.equal(created.event.version, 1);
  assert.equal(created.event.data.items[0].productId, 'p-100');
  const versions = mine.map((e) => e.event.version).sort((a, b) => a - b);
  assert.deepEqual(versions, Array.from({ length: versions.length }, (_, i) => i + 1));
});

let failed = 0;
for (const { name, fn } of steps) {
  const started = Date.now();
  try {
    await fn();
    console.log(`ok   ${name} (${Date.now() - started} ms)`);
  } catch (e) {
    failed++;
    console.log(`FAIL ${name}\n${e.stack}`);
  }
}
server.child.kill('SIGTERM');
await new Promise((resolve) => server.child.on('exit', resolve));
if (failed) console.log(readFileSync(logPath, 'utf8').split('\n').filter((l) => /kafka|warn|error/.test(l)).slice(-40).join('\n'));
if (!process.env.CAIRN_KAFKA_KEEP) rmSync(root, { recursive: true, force: true });
process.exit(failed ? 1 : 0);
