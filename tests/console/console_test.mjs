#!/usr/bin/env node
// Browser tests of the web console (suite e2e, issue 17): Debian's Chromium, driven by
// playwright-core (package-lock.json; `tools/setup` installs both), against a real `cairn serve`
// on a temporary data dir with a tokens file (an admin and two customers) and a free port.
// It checks, as a user would see it:
//   - the console loads with no console errors and no request outside the server;
//   - an order created through the API appears in the orders table within 2 s, and its detail
//     shows its events;
//   - a rebuild started from the console runs to 100 % and the projection's generation changes;
//   - a wrong token shows a clear message; a customer token sees only its own orders;
// and saves a screenshot of each page (1280×800, plus phone width and dark mode) in SHOTS_DIR.
//
// usage: node tests/console/console_test.mjs CAIRN SHOTS_DIR
// Exits 77 (meson: skipped) with the reason when Chromium or node_modules is missing; set
// CAIRN_CONSOLE_KEEP=1 to keep the data dir and the server's log.
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const CHROMIUM = '/usr/bin/chromium';
const SKIP = 77;
const ADMIN = 'console-admin-token-0123456789abcdef';
const ALICE = 'console-alice-token-0123456789abcdef';
const BOB = 'console-bob-token-0123456789abcdef';
const TOKENS = [
  { token: ADMIN, user: 'root', role: 'admin' },
  { token: ALICE, user: 'alice', role: 'customer' },
  { token: BOB, user: 'bob', role: 'customer' },
];
const DESKTOP = { width: 1280, height: 800 };
const PHONE = { width: 390, height: 844 };

const [cairn, shotsDir] = process.argv.slice(2);
if (!cairn || !shotsDir) {
  console.error('usage: console_test.mjs CAIRN SHOTS_DIR');
  process.exit(2);
}

// ---- Skips: only for a missing browser or driver, never silently. ---------------------------
if (!existsSync(CHROMIUM)) {
  console.log(`console: SKIPPED: ${CHROMIUM} is missing (tools/setup installs Debian's chromium)`);
  process.exit(SKIP);
}
let chromium;
try {
  ({ chromium } = await import('playwright-core'));
} catch (e) {
  console.log(`console: SKIPPED: playwright-core is not in node_modules/ (tools/setup runs npm ci): ${e.message}`);
  process.exit(SKIP);
}

// ---- The server. -----------------------------------------------------------------------------
const root = mkdtempSync(join(tmpdir(), 'cairn-console-'));
const tokensFile = join(root, 'tokens.json');
writeFileSync(tokensFile, JSON.stringify(TOKENS));
const logPath = join(root, 'serve.log');

async function startServer() {
  const { openSync } = await import('node:fs');
  const log = openSync(logPath, 'w');
  const child = spawn(cairn, ['serve', '--data', join(root, 'data'), '--listen', '127.0.0.1:0', '--tokens', tokensFile],
    { stdio: ['ignore', log, log] });
  const deadline = Date.now() + 60_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`cairn serve exited ${child.exitCode}:\n${readFileSync(logPath, 'utf8')}`);
    const match = /on http:\/\/127\.0\.0\.1:(\d+)/.exec(readFileSync(logPath, 'utf8'));
    if (match) {
      const base = `http://127.0.0.1:${match[1]}`;
      try {
        if ((await fetch(`${base}/healthz`)).ok) return { child, base };
      } catch {
        // not answering yet
      }
    }
    if (Date.now() > deadline) throw new Error(`cairn serve did not start:\n${readFileSync(logPath, 'utf8')}`);
    await sleep(50);
  }
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

const server = await startServer();
const BASE = server.base;
process.on('exit', () => server.child.kill('SIGKILL'));  // even when a step throws

async function call(method, path, { token = ADMIN, body } = {}) {
  const headers = { Authorization: `Bearer ${token}` };
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  const res = await fetch(BASE + path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  const json = await res.json().catch(() => null);
  if (!res.ok) throw new Error(`${method} ${path}: HTTP ${res.status} ${JSON.stringify(json)}`);
  return json;
}

function orderBody(name, price, quantity, userId) {
  return {
    items: [{ productId: `p-${name.toLowerCase().replace(/\W+/g, '-')}`, name, price, quantity }],
    shippingAddress: { street: '1 Sejong-daero', city: 'Seoul', zipCode: '04524', country: 'KR' },
    ...(userId ? { userId } : {}),
  };
}

// An order for `token`'s user, taken through `steps` (approve, pay, ship, cancel) by the admin.
async function makeOrder(token, name, price, quantity, steps = []) {
  const created = await call('POST', '/api/orders', { token, body: orderBody(name, price, quantity) });
  const id = created.orderId;
  for (const step of steps) {
    if (step === 'pay') await call('POST', `/api/orders/${id}/pay`, { body: { method: 'card', amount: price * quantity } });
    else await call('POST', `/api/orders/${id}/${step}`, { body: step === 'ship' ? { trackingNumber: `TRK-${id.slice(0, 6)}` } : {} });
  }
  return created;
}

// ---- The harness: each check runs, reports, and the run ends with "N passed, N failed". -----
const results = [];
async function check(name, fn) {
  const started = Date.now();
  try {
    await fn();
    results.push(true);
    console.log(`ok - ${name} (${Date.now() - started} ms)`);
  } catch (e) {
    results.push(false);
    console.log(`not ok - ${name}\n    ${String(e.stack ?? e).replaceAll('\n', '\n    ')}`);
  }
}

function assert(condition, message) {
  if (!condition) throw new Error(message);
}

mkdirSync(shotsDir, { recursive: true });
const browser = await chromium.launch({
  executablePath: CHROMIUM,
  headless: true,
  chromiumSandbox: process.getuid?.() !== 0,  // root cannot use Chromium's sandbox
  args: ['--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
    '--disable-component-update', '--disable-sync'],
});

// A browser context that records console errors and every request, and blocks (and records)
// any request to anywhere but the server.
async function openContext(options = {}) {
  const context = await browser.newContext({ viewport: DESKTOP, ...options });
  const seen = { errors: [], outside: [], requests: [] };
  await context.route('**/*', (route) => {
    const url = route.request().url();
    seen.requests.push(url);
    if (!url.startsWith(`${BASE}/`)) {
      seen.outside.push(url);
      return route.abort('blockedbyclient');
    }
    return route.continue();
  });
  context.on('page', (page) => watch(page, seen));
  const page = await context.newPage();
  return { context, page, seen };
}

function watch(page, seen) {
  page.on('console', (msg) => {
    if (msg.type() === 'error') seen.errors.push(`${msg.text()} (${msg.location()?.url ?? ''})`);
  });
  page.on('pageerror', (e) => seen.errors.push(`uncaught: ${e.message}`));
}

async function signIn(page, token, path = '') {
  await page.goto(`${BASE}/${path}`);
  await page.locator('#token').fill(token);
  await page.keyboard.press('Enter');
  await page.locator('#nav a').first().waitFor();
}

async function screenshot(page, name) {
  await sleep(300);  // let a chart or a refresh settle
  const path = join(shotsDir, `${name}.png`);
  await page.screenshot({ path, fullPage: false });
  shots.push(path);
}
const shots = [];

// ---- Data the pages show. ---------------------------------------------------------------------
const alices = [
  await makeOrder(ALICE, 'Mechanical Keyboard', 39000, 2, ['approve', 'pay', 'ship']),
  await makeOrder(ALICE, 'Fountain Pen', 6000, 3, ['pay']),
  await makeOrder(ALICE, 'Desk Lamp', 25000, 1),
];
const bobs = [
  await makeOrder(BOB, 'Notebook', 3000, 5, ['approve']),
  await makeOrder(BOB, 'Monitor Arm', 89000, 1, ['cancel']),
];

// ---- The checks. ------------------------------------------------------------------------------
const admin = await openContext();

await check('the console loads at / with no console errors and no request outside the server', async () => {
  const { page, seen } = admin;
  await signIn(page, ADMIN);
  const titles = await page.locator('#nav a').allTextContents();
  assert(JSON.stringify(titles) === JSON.stringify(['Overview', 'Projections', 'Orders', 'Dashboard', 'Live']),
    `an admin sees every page, got ${titles}`);
  await page.locator('.card[aria-label="projection orders"]').waitFor();
  await page.locator('table').first().waitFor();
  // A few seconds of orders coming in, so the rates and sparklines have something to show.
  for (let i = 0; i < 16; i += 1) {
    await makeOrder(BOB, i % 2 ? 'Sticky Notes' : 'Stapler', 2000 + 500 * i, 1 + (i % 3), i % 3 ? ['pay'] : []);
    await sleep(150);
  }
  await sleep(1200);
  await screenshot(page, 'overview');
  for (const [hash, ready, name] of [
    ['#/projections', 'tr[data-projection="orders"] td.num', 'projections'],
    ['#/orders', '#orders-results table', 'orders'],
    [`#/orders/${alices[0].orderId}`, 'code.position', 'order'],
    ['#/dashboard?period=7d', '#dashboard-content svg.chart', 'dashboard'],
    ['#/live?from=beginning', '#live-events li', 'live'],
  ]) {
    await page.goto(`${BASE}/${hash}`);
    await page.locator(ready).first().waitFor();
    await screenshot(page, name);
  }
  await page.goto(`${BASE}/#/overview`);
  await page.locator('.card[aria-label="projection orders"]').waitFor();
  assert(seen.errors.length === 0, `console errors: ${seen.errors.join('\n')}`);
  assert(seen.outside.length === 0, `requests outside the server: ${seen.outside.join(', ')}`);
  assert(seen.requests.some((u) => u.endsWith('/js/app.js')), 'the console\'s modules were loaded from the server');
});

await check('an order created through the API appears in the orders table within 2 s and its detail shows its events', async () => {
  const { page, seen } = admin;
  await page.goto(`${BASE}/#/orders`);
  await page.locator('#orders-results table').waitFor();
  const started = Date.now();
  const created = await call('POST', '/api/orders', { token: ALICE, body: orderBody('Walnut Tray', 15000, 2) });
  const link = page.locator(`a[href="#/orders/${created.orderId}"]`);
  await link.waitFor({ timeout: 2000 });
  const elapsed = Date.now() - started;
  assert(elapsed <= 2000, `the order appeared after ${elapsed} ms`);
  await link.focus();
  await page.keyboard.press('Enter');  // by keyboard
  await page.locator('h1 code', { hasText: created.orderId }).waitFor();
  await page.locator('code.position', { hasText: created.position }).waitFor();
  const types = await page.locator('#main table code').allTextContents();
  assert(types.includes('ORDER_CREATED'), `the raw events show ORDER_CREATED: ${types}`);
  // The detail follows the order: approve and pay it, and the history and payment show it.
  await call('POST', `/api/orders/${created.orderId}/approve`, { body: {} });
  await call('POST', `/api/orders/${created.orderId}/pay`, { body: { method: 'card', amount: 30000 } });
  await page.locator('ol.history li', { hasText: 'APPROVED' }).waitFor({ timeout: 5000 });
  await page.locator('code', { hasText: 'PAYMENT_COMPLETED' }).waitFor({ timeout: 5000 });
  const history = await page.locator('ol.history li .badge').allTextContents();
  assert(JSON.stringify(history) === '["CREATED","APPROVED"]', `status history: ${history}`);
  assert(seen.errors.length === 0, `console errors: ${seen.errors.join('\n')}`);
});

await check('a rebuild started from the console runs to 100 % and the projection\'s generation changes', async () => {
  const { page, seen } = admin;
  const before = (await call('GET', '/api/admin/projections')).projections.find((p) => p.name === 'orders').generation;
  await page.goto(`${BASE}/#/projections`);
  const row = page.locator('tr[data-projection="orders"]');
  await row.locator('td[data-label="Generation"]', { hasText: String(before) }).waitFor();
  await page.locator('#rebuild-orders').click();
  await row.locator('.job-text', { hasText: '100 %' }).waitFor({ timeout: 60_000 });
  await row.locator('.job-text', { hasText: 'done' }).waitFor({ timeout: 60_000 });
  assert(await row.locator('progress').getAttribute('value') === '100', 'the progress bar is full');
  await row.locator('.generation-change').waitFor({ timeout: 10_000 });
  const shown = Number((await row.locator('td[data-label="Generation"]').textContent()).replaceAll(',', ''));
  const after = (await call('GET', '/api/admin/projections')).projections.find((p) => p.name === 'orders').generation;
  assert(after !== before, `the generation changed (${before} → ${after})`);
  assert(shown === after, `the page shows generation ${shown}, the API ${after}`);
  await screenshot(page, 'projections-rebuilt');
  assert(seen.errors.length === 0, `console errors: ${seen.errors.join('\n')}`);
});

await check('the consistency check shows its report, and repair asks first', async () => {
  const { page } = admin;
  await page.locator('#check-run').click();
  await page.locator('.check-report', { hasText: 'consistent' }).waitFor({ timeout: 60_000 });
  await page.locator('#check-repair').click();
  const dialog = page.locator('dialog[open]');
  await dialog.waitFor();
  await page.keyboard.press('Escape');  // cancelled: nothing runs
  await dialog.waitFor({ state: 'detached', timeout: 1000 }).catch(() => {});
  assert(!(await page.locator('dialog[open]').count()), 'Escape closes the confirmation');
  await page.locator('#check-repair').click();
  await page.locator('#repair-confirm').click();
  await page.locator('.check-report', { hasText: 'keys compared' }).waitFor({ timeout: 60_000 });
});

await check('the dashboard shows totals by status, revenue, the trend and a per-day chart', async () => {
  const { page, seen } = admin;
  const d = await call('GET', '/api/dashboard?period=30d');
  assert(d.days.length === 30 && d.days.at(-1).orders === d.total, `the API's days: ${JSON.stringify(d.days.slice(-2))}`);
  await page.goto(`${BASE}/#/dashboard?period=30d`);
  await page.locator('#dashboard-content .stat').first().waitFor();
  const text = await page.locator('#dashboard-content').textContent();
  assert(text.includes(d.formattedRevenue), `revenue ${d.formattedRevenue} is shown`);
  assert(text.includes('vs previous period') || text.includes('no previous value'), 'the trend is shown');
  const bars = await page.locator('#dashboard-content svg.chart').first().locator('rect.bar').count();
  assert(bars === 30, `30 bars for 30 days, got ${bars}`);
  assert(await page.locator('#period-30d[aria-pressed="true"]').count() === 1, 'the period is marked');
  assert(seen.errors.length === 0, `console errors: ${seen.errors.join('\n')}`);
});

await check('the live page shows events as they arrive, filtered by topic', async () => {
  const { page, seen } = admin;
  await page.goto(`${BASE}/#/live`);
  await page.locator('#live-topic-order-events').waitFor();
  await page.locator('#live-counter', { hasText: 'waiting' }).waitFor();
  await page.locator('#live-topic-payment-events').uncheck();  // reconnects: "Connecting…"
  await page.locator('#live-counter', { hasText: 'waiting' }).waitFor();
  await makeOrder(BOB, 'Paper Clips', 1000, 4, ['pay']);
  await page.locator('#live-events li', { hasText: 'ORDER_CREATED' }).waitFor({ timeout: 5000 });
  await sleep(500);
  const topics = await page.locator('#live-events li').evaluateAll((items) => items.map((li) => li.dataset.topic));
  assert(topics.length >= 1 && !topics.includes('payment-events'), `unchecked topics are filtered out: ${topics}`);
  assert(seen.errors.length === 0, `console errors: ${seen.errors.join('\n')}`);
  assert(seen.outside.length === 0, `requests outside the server: ${seen.outside.join(', ')}`);
});

await check('the pages are usable at phone width and in dark mode', async () => {
  const phone = await openContext({ viewport: PHONE, isMobile: true, hasTouch: true });
  await signIn(phone.page, ADMIN);
  await phone.page.locator('.card[aria-label="projection orders"]').waitFor();
  await screenshot(phone.page, 'phone-overview');
  await phone.page.goto(`${BASE}/#/orders`);
  await phone.page.locator('#orders-results table').waitFor();
  const overflow = await phone.page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  assert(overflow <= 0, `the orders page fits the phone's width (overflow ${overflow} px)`);
  await screenshot(phone.page, 'phone-orders');
  assert(phone.seen.errors.length === 0, `console errors: ${phone.seen.errors.join('\n')}`);
  await phone.context.close();

  const dark = await openContext({ colorScheme: 'dark' });
  await signIn(dark.page, ADMIN, '#/dashboard?period=7d');
  await dark.page.locator('#dashboard-content svg.chart').first().waitFor();
  const background = await dark.page.evaluate(() => getComputedStyle(document.body).backgroundColor);
  assert(background === 'rgb(15, 18, 22)', `dark background, got ${background}`);
  await screenshot(dark.page, 'dark-dashboard');
  await dark.context.close();
});

await check('a wrong token shows that the token was refused, and a new one can be entered', async () => {
  const { context, page, seen } = await openContext();
  await page.goto(`${BASE}/`);
  await page.locator('#token').fill('not-a-token');
  await page.locator('button[type="submit"]').click();
  const status = page.locator('#token-status');
  await status.locator('.error').waitFor();
  const text = await status.textContent();
  assert(text.includes('The token was refused') && text.includes('unknown token'), `message: ${text}`);
  await screenshot(page, 'wrong-token');
  // A token that stops working mid-session brings the form back with the same message.
  await page.evaluate(() => sessionStorage.setItem('cairn.session',
    JSON.stringify({ token: 'revoked-token', user: 'root', role: 'admin' })));
  await page.goto(`${BASE}/#/orders`);
  await page.reload();
  await status.locator('.error', { hasText: 'The token was refused' }).waitFor();
  await page.locator('#token').fill(ADMIN);
  await page.keyboard.press('Enter');
  await page.locator('#nav a[aria-current="page"]').waitFor();
  // The only console errors are Chromium's notes about the refused requests.
  const others = seen.errors.filter((e) => !e.includes('status of 401'));
  assert(others.length === 0, `console errors: ${others.join('\n')}`);
  await context.close();
});

await check('a customer token sees only its own orders and no admin page', async () => {
  const { context, page, seen } = await openContext();
  await signIn(page, ALICE);
  const titles = await page.locator('#nav a').allTextContents();
  assert(JSON.stringify(titles) === '["Orders"]', `a customer sees only Orders, got ${titles}`);
  await page.locator('#orders-results table').waitFor();
  const users = await page.locator('#orders-results td[data-label="User"]').allTextContents();
  const expected = (await call('GET', '/api/orders?userId=alice&limit=100')).total;
  assert(users.length === expected && users.every((u) => u === 'alice'), `alice's table: ${users} (expected ${expected})`);
  assert(!(await page.locator('#orders-user').count()), 'no user filter for a customer');
  await screenshot(page, 'customer-orders');
  await page.goto(`${BASE}/#/dashboard`);
  await page.waitForFunction(() => location.hash === '#/orders');
  const other = bobs[0].orderId;
  await page.goto(`${BASE}/#/orders/${other}`);
  await page.locator('.error', { hasText: `order ${other} not found` }).waitFor();
  await page.goto(`${BASE}/#/orders?q=notebook`);
  await page.locator('#orders-summary', { hasText: '0 orders match' }).waitFor();
  const refused = seen.errors.filter((e) => !e.includes('status of 404'));
  assert(refused.length === 0, `console errors: ${refused.join('\n')}`);
  assert(seen.outside.length === 0, `requests outside the server: ${seen.outside.join(', ')}`);
  await context.close();
});

// ---- The end. ---------------------------------------------------------------------------------
await admin.context.close();
await browser.close();
server.child.kill('SIGTERM');
await new Promise((resolve) => server.child.once('exit', resolve));
if (process.env.CAIRN_CONSOLE_KEEP) console.log(`kept ${root}`);
else rmSync(root, { recursive: true, force: true });

console.log(`screenshots: ${shots.join(' ')}`);
const passed = results.filter(Boolean).length;
const failed = results.length - passed;
console.log(`${passed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
