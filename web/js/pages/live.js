// Live (admin, service): the event stream as it arrives (GET /api/stream, Server-Sent Events),
// newest first, filterable by topic. Pause stops reading; Resume (and any reconnect after a
// dropped connection) continues after the last event seen (Last-Event-ID), so nothing is
// missed or shown twice.
import { api, readEventStream } from '../api.js';
import { fmtInt, fmtRate, h, showError, timeEl } from '../dom.js';

const KEPT = 300;          // events kept on screen
const RETRY_MS = 2000;     // after a dropped connection

export function mount({ main, params, signal }) {
  const state = { topics: null, from: params.get('from') === 'beginning' ? 'beginning' : 'now', lastId: null,
    paused: false, received: 0, startedAt: performance.now(), stream: null };
  const errors = h('div');
  const topicBox = h('fieldset', { class: 'toolbar topics' }, h('legend', {}, 'Topics'));
  const from = h('select', { id: 'live-from' },
    h('option', { value: 'now', selected: state.from === 'now' }, 'new events'),
    h('option', { value: 'beginning', selected: state.from === 'beginning' }, 'from the beginning'));
  const pause = h('button', { type: 'button', id: 'live-pause', class: 'secondary' }, 'Pause');
  const clear = h('button', { type: 'button', id: 'live-clear', class: 'secondary' }, 'Clear');
  const counter = h('p', { class: 'muted', 'aria-live': 'off', id: 'live-counter' }, 'Connecting…');
  const list = h('ol', { class: 'events', id: 'live-events', 'aria-label': 'Events, newest first' });
  main.append(h('h1', {}, 'Live events'),
    h('div', { class: 'toolbar' }, h('label', {}, 'Show', from), pause, clear),
    topicBox, errors, counter, h('div', { class: 'panel' }, list));

  const restart = () => {
    state.lastId = null;
    list.replaceChildren();
    if (!state.paused) connect();
  };
  from.addEventListener('change', () => { state.from = from.value; restart(); });
  clear.addEventListener('click', () => list.replaceChildren());
  pause.addEventListener('click', () => {
    state.paused = !state.paused;
    pause.textContent = state.paused ? 'Resume' : 'Pause';
    if (state.paused) state.stream?.abort();
    else connect();
  });
  signal.addEventListener('abort', () => state.stream?.abort());

  // One connection at a time; a new one (filter change, resume) replaces the old.
  async function connect() {
    state.stream?.abort();
    const controller = new AbortController();
    state.stream = controller;
    signal.addEventListener('abort', () => controller.abort(), { once: true });
    if (state.topics?.length === 0) {
      counter.textContent = 'No topic is selected.';
      return;
    }
    const query = new URLSearchParams({ from: state.from });
    if (state.topics) query.set('topics', state.topics.join(','));
    counter.textContent = 'Connecting…';
    try {
      await readEventStream(`/api/stream?${query}`, {
        signal: controller.signal,
        lastEventId: state.lastId,
        onOpen: () => { counter.textContent = 'Connected; waiting for events…'; },
        onEvent: (frame) => show(frame),
      });
      throw new Error('the server closed the stream');
    } catch (e) {
      if (e.name === 'AbortError' || controller.signal.aborted) return;
      showError(errors, e, 'The event stream stopped');
      if (e.status && e.status < 500) return;  // refused or invalid: retrying will not help
      setTimeout(() => { if (state.stream === controller && !state.paused) connect(); }, RETRY_MS);
    }
  }

  function show({ id, data: e }) {
    showError(errors, null);
    state.lastId = id;
    state.received += 1;
    const seconds = (performance.now() - state.startedAt) / 1000;
    counter.textContent = `${fmtInt(state.received)} events received (${fmtRate(state.received / seconds)} on average)`;
    list.prepend(h('li', { 'data-topic': e.topic },
      timeEl(e.timestamp),
      h('strong', {}, e.type),
      h('span', {}, h('code', {}, e.position), ' · ', h('code', {}, e.stream), ` v${e.version}`),
      h('details', { class: 'data' }, h('summary', {}, 'data'), h('pre', {}, JSON.stringify(e.data, null, 2)))));
    while (list.childElementCount > KEPT) list.lastElementChild.remove();
  }

  loadTopics(topicBox, signal, errors, (topics) => { state.topics = topics; restart(); }).then(connect);
}

// One checkbox per topic; `onChange(topics)` gets the checked ones (null: all, no filter).
async function loadTopics(box, signal, errors, onChange) {
  try {
    const { topics } = await api('/api/topics', { signal });
    const boxes = topics.map((t) => h('input', { type: 'checkbox', value: t.name, checked: true, id: `live-topic-${t.name}` }));
    const changed = () => {
      const checked = boxes.filter((b) => b.checked).map((b) => b.value);
      onChange(checked.length === boxes.length ? null : checked);
    };
    for (const b of boxes) b.addEventListener('change', changed);
    box.append(...boxes.map((b) => h('label', { class: 'inline' }, b, b.value)));
  } catch (e) {
    if (e.name !== 'AbortError') showError(errors, e, 'Cannot list the topics');
  }
}
