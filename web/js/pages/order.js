// One order (#/orders/<id>): its summary, items, status history, payment and shipping from
// GET /api/orders/{id}, and — for an admin — its raw events with their log positions from the
// stream API (GET /api/streams/order-<id>). Refreshes every two seconds.
import { api, every } from '../api.js';
import { badge, facts, fmtInt, fmtMoney, h, renderIfChanged, showError, table, timeEl } from '../dom.js';
import { session } from '../session.js';

const MAX_EVENTS = 1000;  // the stream API's largest page

export function mount({ main, path, signal }) {
  const id = path[0];
  const errors = h('div');
  const view = h('div');
  const events = h('div');
  main.append(
    h('p', {}, h('a', { href: '#/orders' }, '← All orders')),
    h('h1', {}, 'Order ', h('code', {}, id)), errors, view,
    h('h2', {}, 'Raw events'), events);
  every(2000, signal, async () => {
    try {
      const order = await api(`/api/orders/${encodeURIComponent(id)}`, { signal });
      showError(errors, null);
      renderIfChanged(view, JSON.stringify(order), () => orderView(order));
    } catch (e) {
      if (e.name === 'AbortError') return;
      showError(errors, e, 'Cannot show this order');
      view.replaceChildren();
      delete view.dataset.renderedFrom;
    }
    if (!session.isAdmin) {
      renderIfChanged(events, 'customer', () => h('p', { class: 'note' },
        'The raw events of the log are shown to admin tokens.'));
      return;
    }
    try {
      const stream = await api(`/api/streams/order-${encodeURIComponent(id)}?limit=${MAX_EVENTS}`, { signal });
      renderIfChanged(events, JSON.stringify(stream), () => eventsTable(stream.events));
    } catch (e) {
      if (e.name !== 'AbortError') showError(events, e, 'Cannot read the order\'s stream');
      delete events.dataset.renderedFrom;
    }
  });
}

function orderView(o) {
  const address = o.shippingAddress ?? {};
  return h('div', { class: 'grid order-detail' },
    h('section', { class: 'card', 'aria-label': 'Summary' },
      h('h2', {}, 'Summary'),
      h('p', {}, badge(o.status), ' ', badge(o.paymentStatus)),
      facts([
        ['User', o.userId],
        ['Total', `${o.formattedTotal} (${fmtInt(o.itemCount)} items)`],
        ['Created', timeEl(o.createdAt)],
        ['Updated', timeEl(o.updatedAt)],
        ['Version', fmtInt(o.version)],
        o.cancellationReason ? ['Cancelled because', o.cancellationReason] : null,
      ])),
    h('section', { class: 'card', 'aria-label': 'Status history' },
      h('h2', {}, 'Status history'),
      h('ol', { class: 'history' }, o.history.map((step) => h('li', {}, badge(step.status), ' ', timeEl(step.at))))),
    h('section', { class: 'card', 'aria-label': 'Payment' },
      h('h2', {}, 'Payment'),
      o.payment
        ? facts([['Method', o.payment.method], ['Amount', fmtMoney(o.payment.amount, o.currency)], ['Paid', timeEl(o.payment.paidAt)]])
        : h('p', { class: 'muted' }, `Not paid (${o.paymentStatus}).`)),
    h('section', { class: 'card', 'aria-label': 'Shipping' },
      h('h2', {}, 'Shipping'),
      facts([
        ['Address', [address.street, address.city, address.zipCode, address.country].filter(Boolean).join(', ')],
        ['Delivery', address.express ? 'express' : 'standard'],
        ['Estimated', timeEl(o.estimatedDelivery)],
        ['Shipped', o.shippedAt ? timeEl(o.shippedAt) : 'not yet'],
        ['Tracking', o.trackingNumber ?? '—'],
      ])),
    h('section', { class: 'card items', 'aria-label': 'Items' },
      h('h2', {}, 'Items'),
      table([{ label: 'Product' }, { label: 'Name' }, { label: 'Price', num: true }, { label: 'Qty', num: true }],
        o.items.map((i) => [h('code', {}, i.productId), i.name, fmtMoney(i.price, o.currency), fmtInt(i.quantity)]),
        { caption: 'Items' })));
}

function eventsTable(events) {
  return table(
    [{ label: 'Version', num: true }, { label: 'Type' }, { label: 'Position' }, { label: 'Seq', num: true },
      { label: 'Time' }, { label: 'Data' }],
    events.map((e) => [
      fmtInt(e.version), h('code', {}, e.type), h('code', { class: 'position' }, e.position), fmtInt(e.seq),
      timeEl(e.timestamp),
      h('details', {}, h('summary', {}, 'data and metadata'),
        h('pre', {}, JSON.stringify({ data: e.data, metadata: e.metadata, id: e.id }, null, 2))),
    ]),
    { caption: 'The order\'s events in its stream, with their log positions' });
}
