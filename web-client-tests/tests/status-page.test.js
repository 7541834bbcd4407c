// The public status page in headless Chromium: every service with its 30
// half-day bars as the JSON says, the external monitors in the same table,
// a phone-width layout without horizontal scrolling, and a failed refresh
// that keeps the last data. Screenshots go to artifacts/ (CI artifacts).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startServer } from '../lib/server.js';
import { launchChromium, artifactPath, watchProblems } from '../lib/browser.js';

let server;
let browser;

before(async () => {
  server = await startServer();
  browser = await launchChromium();
});

after(async () => {
  await browser?.close();
  if (server) assert.equal(await server.stop(), 0);
});

async function json(path) {
  const res = await fetch(`${server.base}${path}`, { headers: { accept: 'application/json' } });
  assert.equal(res.status, 200, `${path} answered ${res.status}`);
  return res.json();
}

async function openStatus(context) {
  const page = await context.newPage();
  const problems = watchProblems(page);
  const res = await page.goto(`${server.base}/status`);
  assert.equal(res.status(), 200);
  assert.match(res.headers()['content-type'], /^text\/html/);
  await page.waitForFunction(() => Number(document.body.dataset.refreshes) >= 1, null, { timeout: 15_000 });
  return { page, problems };
}

async function barsOf(page, service) {
  return page.$$eval(`.bar[data-service="${service}"]`, (bars) => bars.map((b) => Number(b.dataset.uptime)));
}

test('the status page shows every service with bars matching the JSON', async () => {
  // Fetched before the page: the server caches /status for 60 s, so the
  // page reads the same answer.
  const status = await json('/status');
  const external = await json('/status/external');
  const incidents = await json('/status/incidents');
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  try {
    const { page, problems } = await openStatus(context);
    assert.equal(await page.getAttribute('body', 'data-failed'), '', 'every JSON route answered the page');
    assert.equal(await page.getAttribute('#overall', 'data-status'), status.overall_status);

    for (const name of ['api', 'database', 'ai']) {
      const service = status.services[name];
      assert.equal(service.uptime_15d.length, 30);
      assert.deepEqual(await barsOf(page, name), service.uptime_15d, `${name} bars`);
      const shown = await page.getAttribute(`.svc[data-service="${name}"] .pill`, 'data-status');
      assert.equal(shown, service.status, `${name} status`);
    }
    for (const monitor of external.monitors) {
      assert.deepEqual(await barsOf(page, `external:${monitor.id}`), monitor.uptime_15d, `monitor ${monitor.name}`);
    }
    const total = await page.textContent('[data-metric="total_machines"] .tile-value');
    assert.equal(Number(total), status.metrics.total_machines);
    const listed = await page.$$eval('.incident', (items) => items.length);
    assert.equal(listed, incidents.incidents.length);

    // A bar says which half-day it stands for.
    const label = await page.getAttribute('.bar[data-service="database"]:last-child', 'title');
    assert.match(label, /\d{4}-\d{2}-\d{2} (00:00–12:00|12:00–24:00) UTC: /);

    await page.screenshot({ path: artifactPath('status-desktop.png'), fullPage: true });
    assert.deepEqual(problems, []);
  } finally {
    await context.close();
  }
});

test('the status page fits a phone screen', async () => {
  const context = await browser.newContext({
    viewport: { width: 390, height: 844 },
    deviceScaleFactor: 2,
    isMobile: true,
    hasTouch: true,
  });
  try {
    const { page, problems } = await openStatus(context);
    const layout = await page.evaluate(() => ({
      scrollWidth: document.documentElement.scrollWidth,
      innerWidth: window.innerWidth,
      widest: Math.max(...[...document.querySelectorAll('.bar, .svc, .card, .tile')].map((e) => e.getBoundingClientRect().right)),
    }));
    assert.equal(layout.innerWidth, 390, 'the viewport meta tag is honoured');
    assert.ok(layout.scrollWidth <= layout.innerWidth, `horizontal overflow: ${JSON.stringify(layout)}`);
    assert.ok(layout.widest <= layout.innerWidth, `an element sticks out: ${JSON.stringify(layout)}`);
    assert.equal(await page.$$eval('.bar[data-service="api"]', (bars) => bars.length), 30);
    await page.screenshot({ path: artifactPath('status-phone.png'), fullPage: true });
    assert.deepEqual(problems, []);
  } finally {
    await context.close();
  }
});

test('a failed refresh keeps the last data and says so', async () => {
  const context = await browser.newContext({ viewport: { width: 1024, height: 800 } });
  try {
    const { page } = await openStatus(context);
    const before = await barsOf(page, 'api');
    assert.equal(before.length, 30);
    assert.equal(await page.isHidden('#notice'), true);

    // The JSON routes stop answering; the next refresh must not blank the page.
    await page.route(/\/status(\/incidents|\/external)?$/, (route) =>
      route.request().resourceType() === 'fetch' ? route.abort('connectionrefused') : route.continue(),
    );
    await page.evaluate(() => document.dispatchEvent(new Event('visibilitychange')));
    await page.waitForFunction(() => Number(document.body.dataset.refreshes) >= 2, null, { timeout: 15_000 });

    assert.equal(await page.getAttribute('body', 'data-failed'), 'status incidents external');
    assert.equal(await page.isVisible('#notice'), true);
    assert.deepEqual(await barsOf(page, 'api'), before);
    await page.screenshot({ path: artifactPath('status-refresh-failed.png'), fullPage: true });
  } finally {
    await context.close();
  }
});
