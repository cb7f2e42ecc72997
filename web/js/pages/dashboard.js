// Dashboard (admin): for the chosen period (#/dashboard?period=7d), the orders by status, the
// revenue (paid, not cancelled), the trend against the previous period, and per-day charts of
// orders and revenue (the `days` of GET /api/dashboard). Refreshes every five seconds.
import { api, every } from '../api.js';
import { barChart } from '../charts.js';
import { fmtInt, fmtMoney, h, renderIfChanged, showError, trend } from '../dom.js';

const PERIODS = [['today', 'Today'], ['7d', '7 days'], ['30d', '30 days'], ['all', 'All (chart: 30 days)']];
const STATUSES = ['CREATED', 'APPROVED', 'SHIPPED', 'CANCELLED'];

export function mount({ main, params, signal }) {
  const period = PERIODS.some(([p]) => p === params.get('period')) ? params.get('period') : '7d';
  const errors = h('div');
  const content = h('div', { id: 'dashboard-content' });
  const picker = h('div', { class: 'segmented', role: 'group', 'aria-label': 'Period' },
    PERIODS.map(([value, label]) => h('button', {
      type: 'button', id: `period-${value}`, 'aria-pressed': String(value === period),
      onclick: () => { location.hash = `#/dashboard?period=${value}`; },
    }, label)));
  main.append(h('h1', {}, 'Dashboard'), h('div', { class: 'toolbar' }, picker), errors, content);
  every(5000, signal, async () => {
    try {
      const d = await api(`/api/dashboard?period=${period}`, { signal });
      showError(errors, null);
      renderIfChanged(content, JSON.stringify(d), () => dashboardView(d));
    } catch (e) {
      if (e.name !== 'AbortError') showError(errors, e, 'Cannot read the dashboard');
    }
  });
}

function stat(label, value, extra) {
  return h('div', { class: 'card stat' }, h('div', { class: 'label' }, label), h('div', { class: 'value' }, value), extra);
}

function dashboardView(d) {
  const days = d.days ?? [];
  const shortDate = (date) => date.slice(5);  // "12-01"
  const range = d.period.from ? `${d.period.from.slice(0, 10)} to ${d.period.to.slice(0, 10)} (UTC, end exclusive)` : 'all time';
  return [
    h('p', { class: 'muted' }, `Orders created ${range}.`),
    h('div', { class: 'stats' },
      stat('Orders', fmtInt(d.total), trend(d.trends.orders.changePercent)),
      stat('Revenue (paid, not cancelled)', d.formattedRevenue, trend(d.trends.revenue.changePercent)),
      stat('Paid orders', fmtInt(d.paidOrders)),
      STATUSES.map((s) => stat(s.toLowerCase(), fmtInt(d.byStatus[s] ?? 0)))),
    h('p', { class: 'muted' }, d.trends.orders.previous === null ? '' :
      `Previous period: ${fmtInt(d.trends.orders.previous)} orders, ${fmtMoney(d.trends.revenue.previous, d.currency)}.`),
    h('div', { class: 'charts' },
      h('section', { class: 'card' }, h('h2', {}, 'Orders per day'),
        barChart(days.map((x) => ({ label: shortDate(x.date), value: x.orders })),
          { label: `orders per day: ${days.map((x) => `${x.date} ${x.orders}`).join(', ')}`, format: (v) => fmtInt(Math.round(v)) })),
      h('section', { class: 'card' }, h('h2', {}, 'Revenue per day'),
        barChart(days.map((x) => ({ label: shortDate(x.date), value: x.revenue })),
          { label: `revenue per day in ${d.currency}`, format: (v) => fmtMoney(Math.round(v), d.currency), alt: true }))),
  ];
}
