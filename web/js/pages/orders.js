// Orders (admin and customer): the order table with status and date filters (and the user, for
// an admin), paging, and the search box. The filters live in the URL (#/orders?status=…&page=2),
// so Back and a reload keep them. Refreshes every second, so a new order shows up by itself.
// A customer's token sees only its own orders: the API scopes every list and search.
import { api, every } from '../api.js';
import { badge, fmtInt, h, renderIfChanged, showError, table, timeEl } from '../dom.js';
import { session } from '../session.js';

const LIMIT = 20;
const STATUSES = ['CREATED', 'APPROVED', 'SHIPPED', 'CANCELLED'];
const FILTERS = ['status', 'dateFrom', 'dateTo', 'userId'];

export function mount({ main, params, signal }) {
  const errors = h('div');
  const results = h('div', { id: 'orders-results', 'aria-live': 'polite' });
  const summary = h('p', { class: 'muted', id: 'orders-summary' });
  const pager = h('div', { class: 'pager' });
  main.append(h('h1', {}, 'Orders'), searchForm(params), filterForm(params), errors, summary, results, pager);

  const q = params.get('q')?.trim();
  const page = Math.max(1, Number.parseInt(params.get('page') ?? '1', 10) || 1);
  every(1000, signal, async () => {
    try {
      if (q) {
        const found = await api(`/api/search?${new URLSearchParams({ q, limit: 100 })}`, { signal });
        showError(errors, null);
        summary.textContent = `${fmtInt(found.total)} orders match “${q}”` +
          (found.total > found.results.length ? `; the newest ${found.results.length} are shown` : '');
        renderIfChanged(results, JSON.stringify(found.results), () => ordersTable(found.results));
        pager.replaceChildren();
        return;
      }
      const query = new URLSearchParams({ page, limit: LIMIT });
      for (const name of FILTERS) if (params.get(name)) query.set(name, params.get(name));
      const list = await api(`/api/orders?${query}`, { signal });
      showError(errors, null);
      const pages = Math.max(1, Math.ceil(list.total / LIMIT));
      summary.textContent = `${fmtInt(list.total)} orders · page ${list.page} of ${fmtInt(pages)}`;
      renderIfChanged(results, JSON.stringify(list.orders), () => ordersTable(list.orders));
      renderIfChanged(pager, `${list.page}/${pages}`, () => pagerButtons(params, list.page, pages));
    } catch (e) {
      if (e.name !== 'AbortError') showError(errors, e, 'Cannot list the orders');
    }
  });
}

function go(params) {
  const query = new URLSearchParams([...params].filter(([, v]) => v !== ''));
  location.hash = `#/orders${query.size ? `?${query}` : ''}`;
}

function searchForm(params) {
  const input = h('input', { id: 'orders-q', type: 'search', name: 'q', value: params.get('q') ?? '',
    placeholder: 'order id, user, item, address', 'aria-describedby': 'orders-q-help' });
  const form = h('form', { class: 'toolbar', role: 'search' },
    h('label', { class: 'grow' }, 'Search', input,
      h('span', { id: 'orders-q-help', class: 'visually-hidden' }, 'Every word must match; the last may be the start of a word')),
    h('button', { type: 'submit', id: 'orders-search' }, 'Search'),
    params.get('q') ? h('button', { type: 'button', class: 'secondary', id: 'orders-clear', onclick: () => go(new URLSearchParams()) },
      'Clear search') : null);
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    go(new URLSearchParams({ q: input.value.trim() }));
  });
  return form;
}

function filterForm(params) {
  const field = (label, control) => h('label', {}, label, control);
  const status = h('select', { id: 'orders-status', name: 'status' },
    h('option', { value: '' }, 'any'),
    STATUSES.map((s) => h('option', { value: s, selected: params.get('status') === s }, s)));
  const from = h('input', { id: 'orders-from', type: 'date', name: 'dateFrom', value: params.get('dateFrom') ?? '' });
  const to = h('input', { id: 'orders-to', type: 'date', name: 'dateTo', value: params.get('dateTo') ?? '' });
  const user = session.isAdmin
    ? h('input', { id: 'orders-user', name: 'userId', value: params.get('userId') ?? '', size: 12, autocomplete: 'off' }) : null;
  const form = h('form', { class: 'toolbar', 'aria-label': 'Filters' },
    field('Status', status), field('Created from', from), field('Created to', to),
    user ? field('User', user) : null,
    h('button', { type: 'submit', id: 'orders-apply' }, 'Apply filters'));
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    const next = new URLSearchParams();
    for (const el of [status, from, to, user]) if (el) next.set(el.name, el.value.trim());
    go(next);
  });
  return form;
}

function pagerButtons(params, page, pages) {
  const to = (n) => () => {
    const next = new URLSearchParams(params);
    next.set('page', n);
    go(next);
  };
  return [
    h('button', { type: 'button', class: 'secondary', id: 'orders-prev', disabled: page <= 1, onclick: to(page - 1) }, '← Newer'),
    h('button', { type: 'button', class: 'secondary', id: 'orders-next', disabled: page >= pages, onclick: to(page + 1) }, 'Older →'),
  ];
}

export function ordersTable(orders) {
  if (!orders.length) return h('p', { class: 'note' }, 'No orders match.');
  return table(
    [{ label: 'Order' }, { label: 'User' }, { label: 'Status' }, { label: 'Payment' }, { label: 'Items', num: true },
      { label: 'Total', num: true }, { label: 'Created' }],
    orders.map((o) => [
      h('a', { href: `#/orders/${encodeURIComponent(o.orderId)}`, class: 'mono order-id' }, o.orderId),
      o.userId, badge(o.status), badge(o.paymentStatus), fmtInt(o.itemCount), o.formattedTotal, timeEl(o.createdAt),
    ]),
    { caption: 'Orders, newest first' });
}
