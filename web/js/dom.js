// DOM and formatting helpers for the pages. Elements are built with h(), never from HTML
// strings, so no text from the API is ever parsed as markup.

// <tag props…>children</tag>. props: class, on<event> handlers, other attributes (true: present,
// false/null/undefined: absent). Children: nodes, strings, numbers, arrays; null is skipped.
export function h(tag, props = {}, ...children) {
  const el = document.createElement(tag);
  setProps(el, props);
  el.append(...flatten(children));
  return el;
}

// The same for SVG elements.
export function svg(tag, props = {}, ...children) {
  const el = document.createElementNS('http://www.w3.org/2000/svg', tag);
  setProps(el, props);
  el.append(...flatten(children));
  return el;
}

function setProps(el, props) {
  for (const [key, value] of Object.entries(props ?? {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key.startsWith('on')) el.addEventListener(key.slice(2), value);
    else el.setAttribute(key === 'className' ? 'class' : key, value === true ? '' : String(value));
  }
}

// Replaces `el`'s children with `children`, flattened, nulls skipped (as h() takes them).
export function fill(el, ...children) {
  el.replaceChildren(...flatten(children));
  return el;
}

function flatten(children) {
  return children.flat(Infinity).filter((c) => c !== null && c !== undefined && c !== false)
    .map((c) => (c instanceof Node ? c : String(c)));
}

// An error box with the API's message (and its HTTP status and code, for operators).
export function errorNote(error, context) {
  const detail = error?.status ? ` (HTTP ${error.status}, ${error.code})` : '';
  return h('div', { class: 'error', role: 'alert' },
    h('strong', {}, context ? `${context}: ` : 'Error: '),
    error?.message ?? String(error), h('span', { class: 'muted' }, detail));
}

// Shows `error` in `slot`, or clears the slot when `error` is null.
export function showError(slot, error, context) {
  slot.replaceChildren(...(error ? [errorNote(error, context)] : []));
}

// Replaces `el`'s children only when `key` (e.g. the JSON they were built from) changed, so
// a refresh that brings nothing new keeps the focus and the scroll where they are.
export function renderIfChanged(el, key, build) {
  if (el.dataset.renderedFrom === key) return;
  el.dataset.renderedFrom = key;
  fill(el, build());
}

export function badge(text, kind = text) {
  return h('span', { class: `badge ${kind}` }, text);
}

// A table whose rows become labelled cards at phone width. columns: [{label, num?}];
// rows: arrays of cells (nodes or text), one per column.
export function table(columns, rows, { caption, stack = true } = {}) {
  return h('div', { class: 'table-wrap', tabindex: '0', role: 'region', 'aria-label': caption ?? 'table' },
    h('table', { class: stack ? 'stack' : '' },
      caption ? h('caption', { class: 'visually-hidden' }, caption) : null,
      h('thead', {}, h('tr', {}, columns.map((c) => h('th', { class: c.num ? 'num' : '', scope: 'col' }, c.label)))),
      h('tbody', {}, rows.map((cells) => h('tr', {},
        cells.map((cell, i) => h('td', { class: columns[i].num ? 'num' : '', 'data-label': columns[i].label }, cell)))))));
}

export function facts(pairs) {
  return h('dl', { class: 'facts' }, pairs.filter(Boolean).map(([k, v]) => [h('dt', {}, k), h('dd', {}, v ?? '—')]));
}

const integer = new Intl.NumberFormat('en-US');
export function fmtInt(n) {
  return n === null || n === undefined ? '—' : integer.format(n);
}

// Minor units (DESIGN.md §3: integers, KRW by default) as "₩12,000".
export function fmtMoney(minor, currency = 'KRW') {
  if (minor === null || minor === undefined) return '—';
  const format = new Intl.NumberFormat('en-US', { style: 'currency', currency });
  const digits = format.resolvedOptions().maximumFractionDigits;
  return format.format(minor / 10 ** digits);
}

const pad = (n) => String(n).padStart(2, '0');
// An ISO-8601 time as local "2026-12-01 09:30:05".
export function fmtTime(iso) {
  if (!iso) return '—';
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return iso;
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ` +
         `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
}

export function timeEl(iso) {
  return h('time', { datetime: iso ?? '', title: iso ?? '' }, fmtTime(iso));
}

// Seconds as "42 s", "3 m 05 s", "2 h 10 m".
export function fmtSeconds(s) {
  if (s === null || s === undefined || !Number.isFinite(s)) return '—';
  s = Math.max(0, Math.round(s));
  if (s < 60) return `${s} s`;
  if (s < 3600) return `${Math.floor(s / 60)} m ${pad(s % 60)} s`;
  return `${Math.floor(s / 3600)} h ${pad(Math.floor((s % 3600) / 60))} m`;
}

export function fmtRate(perSecond) {
  if (!Number.isFinite(perSecond)) return '—';
  return `${perSecond >= 10 ? integer.format(Math.round(perSecond)) : perSecond.toFixed(1)}/s`;
}

// A signed percentage change ("+12.5 %") with its arrow class, or "—" without a previous value.
export function trend(changePercent) {
  if (changePercent === null || changePercent === undefined) {
    return h('span', { class: 'muted' }, 'no previous value');
  }
  const up = changePercent >= 0;
  return h('span', { class: up ? 'trend-up' : 'trend-down' },
    `${up ? '▲ +' : '▼ '}${changePercent.toFixed(1)} % vs previous period`);
}
