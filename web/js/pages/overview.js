// Overview (admin): the log's topics × partitions with their high-water marks and append rate,
// and every projection's state, generation and lag — in events and in seconds — as live
// sparklines. A failed projection shows its error and the position it stopped at; one whose
// lag has not moved for STALLED_MS is marked stalled with the partitions it is behind on.
// Polls GET /api/topics and GET /api/admin/projections every second.
import { api, every } from '../api.js';
import { sparkline } from '../charts.js';
import { badge, facts, fmtInt, fmtRate, fmtSeconds, h, showError, table } from '../dom.js';

const SAMPLES = 60;  // points per sparkline: a minute at one per second
const STALLED_MS = 10_000;

// Kept across visits, so the sparklines go on where they left off.
const series = new Map();  // name -> numbers, oldest first
let lastTotals = null;     // {at, byTopic: Map(topic -> Σ high-water marks)}
const progress = new Map();  // projection -> {checkpoint, lag, since}: when its lag last moved

function record(name, value) {
  const values = series.get(name) ?? [];
  values.push(value);
  if (values.length > SAMPLES) values.shift();
  series.set(name, values);
  return values;
}

export function mount({ main, signal }) {
  const errors = h('div');
  const topics = h('div');
  const projections = h('div', { class: 'grid' });
  main.append(
    h('h1', {}, 'Overview'), errors,
    h('h2', {}, 'Topics and partitions'), topics,
    h('h2', {}, 'Projections'), projections);
  every(1000, signal, async () => {
    try {
      const [log, engine] = await Promise.all([
        api('/api/topics', { signal }), api('/api/admin/projections', { signal })]);
      showError(errors, null);
      renderTopics(topics, log.topics);
      renderProjections(projections, engine.projections);
    } catch (e) {
      if (e.name !== 'AbortError') showError(errors, e, 'Cannot read the log and projections');
    }
  });
}

// The append rate per topic: the growth of its high-water marks since the previous poll.
function appendRates(topics) {
  const now = performance.now();
  const byTopic = new Map(topics.map((t) => [t.name, t.highWaterMarks.reduce((a, b) => a + b, 0)]));
  const rates = new Map();
  for (const [name, total] of byTopic) {
    const before = lastTotals?.byTopic.get(name);
    const seconds = lastTotals ? (now - lastTotals.at) / 1000 : 0;
    rates.set(name, before === undefined || seconds <= 0 ? 0 : (total - before) / seconds);
  }
  lastTotals = { at: now, byTopic };
  return { byTopic, rates };
}

function renderTopics(el, topics) {
  const { byTopic, rates } = appendRates(topics);
  const allRate = [...rates.values()].reduce((a, b) => a + b, 0);
  const allSeries = record('rate:*', allRate);
  const widest = Math.max(0, ...topics.map((t) => t.partitions));
  const columns = [{ label: 'Topic' }, { label: 'Events', num: true }, { label: 'Append rate' },
    ...Array.from({ length: widest }, (_, p) => ({ label: `p${p}`, num: true }))];
  const rows = topics.map((t) => [
    h('code', {}, t.name),
    fmtInt(byTopic.get(t.name)),
    h('span', { class: 'nowrap' }, sparkline(record(`rate:${t.name}`, rates.get(t.name)),
      { width: 90, height: 22, label: `append rate of ${t.name}: ${fmtRate(rates.get(t.name))}` }),
    ' ', fmtRate(rates.get(t.name))),
    ...Array.from({ length: widest }, (_, p) => (p < t.partitions ? fmtInt(t.highWaterMarks[p]) : '')),
  ]);
  el.replaceChildren(
    h('p', { class: 'muted' }, `${topics.length} topics; appends, all topics: ${fmtRate(allRate)} `,
      sparkline(allSeries, { width: 120, height: 22, label: `append rate, all topics: ${fmtRate(allRate)}` })),
    table(columns, rows, { caption: 'Topics with the high-water mark of each partition', stack: false }));
}

// Lag in seconds: the age of the last applied event on the partitions that are behind.
function lagSeconds(p) {
  const behind = p.partitions.filter((q) => q.lag > 0);
  return behind.length ? Math.max(0, ...behind.map((q) => (q.lastAppliedAgeMs ?? 0) / 1000)) : 0;
}

// How long the projection has been behind without applying anything, in ms (0 when not).
function stalledFor(p) {
  const now = performance.now();
  const seen = progress.get(p.name);
  if (!seen || seen.checkpoint !== p.checkpoint || p.lag === 0) {
    progress.set(p.name, { checkpoint: p.checkpoint, since: now });
    return 0;
  }
  return now - seen.since;
}

function renderProjections(el, projections) {
  el.replaceChildren(...projections.map((p) => projectionCard(p)));
}

function projectionCard(p) {
  const seconds = lagSeconds(p);
  const events = record(`lag:${p.name}`, p.lag);
  const secs = record(`lagsec:${p.name}`, seconds);
  const stuckMs = stalledFor(p);
  const stalled = p.state !== 'failed' && stuckMs >= STALLED_MS;
  const kind = p.state === 'failed' ? 'failed' : stalled ? 'stalled' : '';
  return h('article', { class: `card ${kind}`, 'aria-label': `projection ${p.name}` },
    h('header', {}, h('h3', {}, p.name), badge(stalled ? 'stalled' : p.state.replace('_', ' '), stalled ? 'stalled' : p.state)),
    facts([
      ['Generation', fmtInt(p.generation)],
      ['Checkpoint (seq)', fmtInt(p.checkpoint)],
      ['Lag', `${fmtInt(p.lag)} events · ${fmtSeconds(seconds)}`],
    ]),
    h('div', { class: 'sparks' },
      h('figure', {}, sparkline(events, { width: 110, label: `lag of ${p.name} in events: ${p.lag}` }),
        h('figcaption', {}, 'lag, events')),
      h('figure', {}, sparkline(secs, { width: 110, label: `lag of ${p.name} in seconds: ${seconds.toFixed(1)}` }),
        h('figcaption', {}, 'lag, seconds'))),
    p.state === 'failed' ? failure(p) : stalled ? stall(p, stuckMs) : null);
}

function failure(p) {
  return h('div', { class: 'problem', role: 'alert' },
    h('strong', {}, 'Failed: '), p.error ?? 'no error given',
    p.failedAt ? [' at ', h('code', {}, p.failedAt)] : null);
}

function stall(p, stuckMs) {
  const behind = p.partitions.filter((q) => q.lag > 0);
  return h('div', { class: 'problem' },
    h('strong', {}, 'Stalled: '),
    `no event applied for ${fmtSeconds(stuckMs / 1000)} at seq ${fmtInt(p.checkpoint)}, behind on `,
    behind.map((q, i) => [i ? ', ' : '', h('code', {}, `${q.topic}/${q.partition}`),
      ` (offset ${fmtInt(q.checkpoint)} of ${fmtInt(q.highWaterMark)})`]));
}
