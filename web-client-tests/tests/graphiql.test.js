// GraphiQL as an integrator uses it, in headless Chromium: load the
// explorer (all assets from the server), paste a token obtained with
// `login`, type a query, run it, read the answer; then run a subscription
// over /graphql/ws with the same token.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startServer } from '../lib/server.js';
import { launchChromium, artifactPath, watchProblems } from '../lib/browser.js';

let server;
let browser;
let token;
let version;

before(async () => {
  server = await startServer();
  browser = await launchChromium();
  token = await server.adminToken();
  const res = await fetch(server.graphqlUrl, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ query: '{ serverInfo { version } }' }),
  });
  version = (await res.json()).data.serverInfo.version;
});

after(async () => {
  await browser?.close();
  if (server) assert.equal(await server.stop(), 0);
});

/** Replaces the query editor's text by typing, as a user would. */
async function typeQuery(page, text) {
  await page.click('.graphiql-query-editor .CodeMirror-lines');
  await page.keyboard.press('Control+A');
  await page.keyboard.press('Delete');
  // insertText types the whole text at once, without the editor's bracket
  // auto-closing or completion popups getting between the keys.
  await page.keyboard.insertText(text);
}

async function responseText(page) {
  return page.$eval('.graphiql-response', (el) => el.innerText);
}

test('GraphiQL runs a query and a subscription with a Bearer token', async () => {
  const context = await browser.newContext({ viewport: { width: 1400, height: 900 } });
  const page = await context.newPage();
  const outside = [];
  page.on('request', (req) => {
    if (!req.url().startsWith(server.base) && !req.url().startsWith(server.wsUrl.replace(/\/graphql\/ws$/, ''))) {
      outside.push(req.url());
    }
  });
  const problems = watchProblems(page);
  try {
    const res = await page.goto(server.graphqlUrl);
    assert.equal(res.status(), 200);
    assert.match(res.headers()['content-type'], /^text\/html/);
    await page.waitForSelector('.graphiql-container .graphiql-query-editor .CodeMirror', { timeout: 20_000 });

    await page.fill('#explorer-token', token);
    await page.click('#explorer-apply');
    await page.waitForSelector('.graphiql-query-editor .CodeMirror');

    await typeQuery(page, '{ serverInfo { version } }');
    await page.click('.graphiql-execute-button');
    await page.waitForFunction(
      (v) => document.querySelector('.graphiql-response')?.innerText.includes(v),
      version,
      { timeout: 15_000 },
    );
    const answer = await responseText(page);
    assert.match(answer, /"serverInfo"/);
    assert.ok(answer.includes(`"${version}"`), answer);

    // Ctrl-Enter runs the editor's operation too; this one needs the token.
    await typeQuery(page, '{ me { email } }');
    await page.keyboard.press('Control+Enter');
    await page.waitForFunction(
      () => document.querySelector('.graphiql-response')?.innerText.includes('"me"'),
      null,
      { timeout: 15_000 },
    );
    assert.match(await responseText(page), /root@optralis\.test/);

    // A subscription over /graphql/ws, authenticated by the same token in
    // connection_init: the server's clock ticks into the result pane.
    // Frames are watched from the socket's creation, before any arrives.
    const sockets = [];
    const sent = [];
    const ticks = [];
    page.on('websocket', (ws) => {
      sockets.push(ws.url());
      ws.on('framesent', (frame) => sent.push(String(frame.payload)));
      ws.on('framereceived', (frame) => {
        if (String(frame.payload).includes('"serverTime"')) ticks.push(String(frame.payload));
      });
    });
    await typeQuery(page, 'subscription { serverTime(intervalMs: 100) }');
    await page.click('.graphiql-execute-button');
    await page.waitForFunction(
      () => /"serverTime": "\d{4}-/.test(document.querySelector('.graphiql-response')?.innerText ?? ''),
      null,
      { timeout: 15_000 },
    );
    assert.deepEqual(sockets, [server.wsUrl]);
    const init = JSON.parse(sent.find((f) => f.includes('connection_init')));
    assert.equal(init.payload.Authorization, `Bearer ${token}`);
    assert.ok(ticks.length >= 1, 'ticks arrive over the socket');
    await page.screenshot({ path: artifactPath('graphiql.png') });
    // Stop the subscription (the run button toggles).
    await page.click('.graphiql-execute-button');

    assert.deepEqual(outside, [], 'the explorer loads nothing from elsewhere');
    assert.deepEqual(problems, []);
  } finally {
    await context.close();
  }
});

test('without a token the explorer loads, and the API says what is missing', async () => {
  const context = await browser.newContext();
  const page = await context.newPage();
  try {
    await page.goto(server.graphqlUrl);
    await page.waitForSelector('.graphiql-query-editor .CodeMirror', { timeout: 20_000 });
    await typeQuery(page, '{ me { email } }');
    await page.click('.graphiql-execute-button');
    await page.waitForFunction(
      () => document.querySelector('.graphiql-response')?.innerText.includes('UNAUTHENTICATED'),
      null,
      { timeout: 15_000 },
    );
  } finally {
    await context.close();
  }
});
