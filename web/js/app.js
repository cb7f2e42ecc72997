// The console's shell, loaded by index.html: the token form, the pages a role may see, routing
// by URL hash (#/orders?status=CREATED, #/orders/<id>), and the last line of defence that shows
// any error as a message instead of a blank page.
//
// A page module exports mount({main, path, params, signal}): it fills `main` and keeps it up to
// date until `signal` aborts (the user went to another page or signed out).
import { api, whenTokenRefused } from './api.js';
import { h, errorNote, showError } from './dom.js';
import { session } from './session.js';
import * as overview from './pages/overview.js';
import * as projections from './pages/projections.js';
import * as orders from './pages/orders.js';
import * as order from './pages/order.js';
import * as dashboard from './pages/dashboard.js';
import * as live from './pages/live.js';

// In the order of the navigation bar. A page is listed, and reachable, only for its roles.
const PAGES = [
  { id: 'overview', title: 'Overview', roles: ['admin'], module: overview },
  { id: 'projections', title: 'Projections', roles: ['admin'], module: projections },
  { id: 'orders', title: 'Orders', roles: ['admin', 'customer'], module: orders, detail: order },
  { id: 'dashboard', title: 'Dashboard', roles: ['admin'], module: dashboard },
  { id: 'live', title: 'Live', roles: ['admin', 'service'], module: live },
];

const main = document.getElementById('main');
const nav = document.getElementById('nav');
const who = document.getElementById('who');
const banner = document.getElementById('banner');
let pageController = null;

function parseHash() {
  const raw = location.hash.replace(/^#\/?/, '');
  const q = raw.indexOf('?');
  const path = (q < 0 ? raw : raw.slice(0, q)).split('/').filter(Boolean).map(decodeURIComponent);
  return { path, params: new URLSearchParams(q < 0 ? '' : raw.slice(q + 1)) };
}

function route() {
  pageController?.abort();
  pageController = null;
  banner.replaceChildren();
  if (!session.token) return showTokenForm();
  const pages = PAGES.filter((p) => p.roles.includes(session.role));
  renderTopBar(pages);
  if (!pages.length) {
    main.replaceChildren(errorNote({ message: `a ${session.role} token has no pages in this console; ` +
                                             'use an admin or customer token' }));
    return;
  }
  const { path, params } = parseHash();
  const page = pages.find((p) => p.id === path[0]);
  if (!page) {
    location.replace(`#/${pages[0].id}`);  // hashchange routes again
    return;
  }
  markCurrent(page.id);
  const module = path.length > 1 && page.detail ? page.detail : page.module;
  document.title = `${page.title} · Cairn`;
  const focusedId = main.contains(document.activeElement) ? document.activeElement.id : '';
  pageController = new AbortController();
  main.replaceChildren();
  try {
    module.mount({ main, path: path.slice(1), params, signal: pageController.signal });
  } catch (e) {
    main.replaceChildren(errorNote(e, 'This page failed'));
  }
  // Routing within a page (filters, paging) keeps the focus on the control that was used.
  const again = focusedId && document.getElementById(focusedId);
  if (again) again.focus();
}

function renderTopBar(pages) {
  nav.replaceChildren(...pages.map((p) => h('a', { href: `#/${p.id}`, 'data-page': p.id }, p.title)));
  who.replaceChildren(
    h('span', {}, `${session.user} · ${session.role}`),
    h('button', { type: 'button', class: 'secondary', onclick: signOut }, 'Change token'));
}

function markCurrent(id) {
  for (const a of nav.querySelectorAll('a')) {
    if (a.dataset.page === id) a.setAttribute('aria-current', 'page');
    else a.removeAttribute('aria-current');
  }
}

function signOut() {
  session.clear();
  history.replaceState(null, '', location.pathname);
  route();
}

// The token form: the first screen, and the one a refused token comes back to with `message`.
function showTokenForm(refusal) {
  nav.replaceChildren();
  who.replaceChildren();
  document.title = 'Sign in · Cairn';
  const input = h('input', {
    id: 'token', name: 'token', type: 'password', autocomplete: 'off', spellcheck: 'false', required: true,
  });
  const status = h('div', { id: 'token-status', 'aria-live': 'polite' });
  if (refusal) showError(status, refusal, 'The token was refused');
  const form = h('form', { class: 'panel' },
    h('h1', {}, 'Cairn console'),
    h('p', {}, 'Paste a token from the server\'s tokens file, or the admin token that ',
      h('code', {}, 'cairn serve'), ' wrote to ', h('code', {}, 'DATA/admin.token'),
      '. It is kept in this tab only (sessionStorage) and sent to this server only.'),
    h('label', { for: 'token' }, 'Token'), input,
    h('button', { type: 'submit' }, 'Open the console'),
    status);
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    const token = input.value.trim();
    showError(status, null);
    try {
      const me = await api('/api/whoami', { token });
      session.save({ token, user: me.user, role: me.role });
      route();
    } catch (e) {
      showError(status, e, e.status === 401 ? 'The token was refused' : 'Cannot sign in');
      input.select();
    }
  });
  main.replaceChildren(h('div', { class: 'login' }, form));
  input.focus();
}

whenTokenRefused((error) => {
  pageController?.abort();
  session.clear();
  showTokenForm(error);
});

// Anything that escapes a page (a bug) is shown on top, never a silently broken page.
function showUnexpected(error) {
  banner.replaceChildren(errorNote(error ?? { message: 'unknown error' }, 'The console hit an error'));
}
window.addEventListener('error', (event) => showUnexpected(event.error ?? { message: event.message }));
window.addEventListener('unhandledrejection', (event) => {
  if (event.reason?.name !== 'AbortError') showUnexpected(event.reason);
});
window.addEventListener('hashchange', route);

session.load();
route();
