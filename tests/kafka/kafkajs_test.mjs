// kafkajs 2.2.4 (npm, pinned in package-lock.json; `tools/setup` runs npm ci) against a real
// `cairn serve --kafka`:
//   - a plain and an idempotent producer: every record lands once, on murmur2's partition;
//   - a two-member consumer group: the partitions split, each message consumed exactly once;
//   - a mixed group, a kcat (librdkafka) member beside a kafkajs one, both assigning with
//     "roundrobin": the partitions split without overlap, each message read once across the
//     two, and once the kafkajs member leaves, kcat takes every partition;
//   - the seed service's consumer pattern (groupId order-projection-group, topics order-events,
//     payment-events and shipping-events, fromBeginning) reads what the HTTP API wrote, with the
//     seed producer's keys, headers and payload shape.
// Usage: node tests/kafka/kafkajs_test.mjs path/to/cairn. Exit 77 (skipped) only when kafkajs
// is not installed, with the reason.
import { spawn, spawnSync } from 'node:child_process';
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
let Kafka, logLevel, Partitioners, PartitionAssigners;
try {
  ({ Kafka, logLevel, Partitioners, PartitionAssigners } = (await import('kafkajs')).default);
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

// Polls `condition` every 50 ms until it holds; fails naming `what` (and `detail()`) after `ms`.
async function waitFor(what, condition, ms = 30_000, detail = () => '') {
  const deadline = Date.now() + ms;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what} ${detail()}`);
    await sleep(50);
  }
}

// A `kcat -G` member (librdkafka) of `group` reading `topic`: the records it printed as
// {partition, key}, and its assignment as its last rebalance message on stderr states it.
function kcatMember(group, topic, name) {
  const out = join(root, `${name}.out`);
  const err = join(root, `${name}.err`);
  const child = spawn('kcat', ['-b', server.broker, '-G', group, topic, '-u', '-f', '%p %k\\n',
    '-X', 'partition.assignment.strategy=roundrobin', '-X', 'auto.offset.reset=earliest',
    '-X', 'session.timeout.ms=10000', '-X', 'heartbeat.interval.ms=300',
    '-X', 'auto.commit.interval.ms=100', '-X', 'fetch.wait.max.ms=300', '-X', 'check.crcs=true'],
  { stdio: ['ignore', openSync(out, 'w'), openSync(err, 'w')] });
  const read = (path) => { try { return readFileSync(path, 'utf8'); } catch { return ''; } };
  return {
    child,
    records: () => read(out).split('\n').filter((l) => l.trim()).map((l) => {
      const [partition, key] = l.split(' ');
      return { partition: Number(partition), key };
    }),
    // "% Group G rebalanced (memberid M): assigned: T [0], T [2]" or "...: revoked: ...".
    assignment: () => {
      const events = read(err).split('\n').filter((l) => / rebalanced .*: (assigned|revoked):/.test(l));
      const last = events.at(-1) || '';
      if (!/: assigned:/.test(last)) return [];
      return [...last.matchAll(/ \[(\d+)\]/g)].map((m) => Number(m[1])).sort();
    },
    log: () => read(err),
  };
}

step('a kcat member and a kafkajs member share a group: the partitions split, each message is read once, and the one left takes them all', async () => {
  const topic = 'js-mixed';
  const group = 'js-kcat-mixed';
  // Created with PARTITIONS partitions by a Metadata request that allows it (kafkajs' admin
  // does not ask for creation).
  const listed = spawnSync('kcat', ['-b', server.broker, '-L', '-t', topic], { encoding: 'utf8', timeout: 30_000 });
  assert.match(listed.stdout || '', new RegExp(`topic "${topic}" with ${PARTITIONS} partitions`), listed.stderr);
  // librdkafka names its round-robin assignor "roundrobin", kafkajs "RoundRobinAssigner": a
  // member of each in one group needs a strategy both name alike (else 23, as Kafka answers).
  const roundrobin = (ctx) => ({ ...PartitionAssigners.roundRobin(ctx), name: 'roundrobin' });
  const seen = [];
  let jsAssigned = [];
  const js = kafka.consumer({ groupId: group, partitionAssigners: [roundrobin], sessionTimeout: 10_000,
    heartbeatInterval: 300, rebalanceTimeout: 10_000, maxWaitTimeInMs: 300 });
  js.on(js.events.GROUP_JOIN, (e) => { jsAssigned = [...(e.payload.memberAssignment[topic] || [])].sort(); });
  const kcat = kcatMember(group, topic, 'kcat-mixed');
  try {
    await js.connect();
    await js.subscribe({ topic, fromBeginning: true });
    await js.run({ eachMessage: async ({ partition, message }) => { seen.push({ who: 'kafkajs', partition, key: message.key.toString() }); } });
    const everyPartition = Array.from({ length: PARTITIONS }, (_, i) => i);
    const state = () => `kafkajs ${JSON.stringify(jsAssigned)}, kcat ${JSON.stringify(kcat.assignment())}\n${kcat.log()}`;
    await waitFor('the two members to split the partitions', () => {
      const k = kcat.assignment();
      return k.length > 0 && jsAssigned.length > 0 &&
        JSON.stringify([...k, ...jsAssigned].sort()) === JSON.stringify(everyPartition);
    }, 30_000, state);
    const split = { kafkajs: jsAssigned, kcat: kcat.assignment() };

    const first = Array.from({ length: 40 }, (_, i) => `mixed-${i}`);
    await produce(topic, first);
    const read = () => [...seen, ...kcat.records().map((r) => ({ who: 'kcat', ...r }))];
    await waitFor('both members to read every record', () => new Set(read().map((r) => r.key)).size === first.length, 30_000, state);
    await sleep(500);  // time for a duplicate to show
    assert.deepEqual(read().map((r) => r.key).sort(), [...first].sort(), 'each message once across the two');
    for (const r of read()) assert.ok(split[r.who].includes(r.partition), `${r.who} read partition ${r.partition}: ${JSON.stringify(split)}`);
    assert.equal(new Set(read().map((r) => r.who)).size, 2, 'both members read');

    await js.disconnect();  // commits and leaves: the group rebalances onto kcat
    await waitFor('kcat to take every partition',
      () => JSON.stringify(kcat.assignment()) === JSON.stringify(everyPartition), 30_000, state);
    const second = Array.from({ length: 20 }, (_, i) => `after-${i}`);
    await produce(topic, second);
    const all = [...first, ...second];
    await waitFor('kcat to read the records produced after', () => new Set(read().map((r) => r.key)).size === all.length, 30_000, state);
    await sleep(500);
    assert.deepEqual(read().map((r) => r.key).sort(), [...all].sort(),
      'each message once: kcat resumed the partitions kafkajs left at its committed offsets');
  } finally {
    await js.disconnect().catch(() => {});
    kcat.child.kill('SIGTERM');
  }
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
  // Until this order's events of all three topics arrived: kafkajs hands over the partitions'
  // batches one after another, so one topic's may come before another's.
  const topicsOfOrder = () => new Set(events.filter((e) => e.key === id).map((e) => e.topic)).size;
  while (topicsOfOrder() < 3 && Date.now() < deadline) await sleep(50);
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
