// One query over HTTP and one subscription with the real graphql-ws client.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createClient } from 'graphql-ws';
import WebSocket from 'ws';
import { startServer } from '../lib/server.js';

let server;
let token;

before(async () => {
  server = await startServer();
  token = await server.adminToken();
});

/** A graphql-ws client that authenticates in connection_init. */
function wsClient() {
  return createClient({
    url: server.wsUrl,
    webSocketImpl: WebSocket,
    retryAttempts: 0,
    lazy: true,
    connectionParams: { authorization: `Bearer ${token}` },
  });
}

after(async () => {
  const code = await server.stop();
  assert.equal(code, 0, 'SIGTERM ends the server cleanly');
});

test('serverInfo over HTTP POST', async () => {
  const res = await fetch(server.graphqlUrl, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ query: '{ serverInfo { version databaseBackend cacheBackend } }' }),
  });
  assert.equal(res.status, 200);
  const body = await res.json();
  assert.equal(body.errors, undefined);
  assert.match(body.data.serverInfo.version, /^\d+\.\d+\.\d+/);
  assert.equal(body.data.serverInfo.databaseBackend, 'SQLITE');
  assert.equal(body.data.serverInfo.cacheBackend, 'IN_PROCESS');
});

test('serverTime subscription with graphql-ws', async () => {
  const client = wsClient();
  try {
    const ticks = [];
    await new Promise((resolve, reject) => {
      const dispose = client.subscribe(
        { query: 'subscription { serverTime(intervalMs: 100) }' },
        {
          next: (result) => {
            if (result.errors) return reject(new Error(JSON.stringify(result.errors)));
            ticks.push(Date.parse(result.data.serverTime));
            if (ticks.length === 3) {
              dispose();
              resolve();
            }
          },
          error: reject,
          complete: () => {},
        },
      );
    });
    assert.equal(ticks.length, 3);
    assert.ok(ticks.every((t) => Number.isFinite(t)), 'RFC 3339 timestamps');
    assert.ok(ticks[0] < ticks[1] && ticks[1] < ticks[2], 'ticks move forward');
  } finally {
    await client.dispose();
  }
});

test('subscription argument errors reach the client with a code', async () => {
  const client = wsClient();
  try {
    const errors = await new Promise((resolve, reject) => {
      client.subscribe(
        { query: 'subscription { serverTime(intervalMs: 1) }' },
        {
          next: (result) => (result.errors ? resolve(result.errors) : reject(new Error('expected an error'))),
          error: (err) => resolve(Array.isArray(err) ? err : [err]),
          complete: () => {},
        },
      );
    });
    assert.equal(errors[0].extensions.code, 'BAD_USER_INPUT');
  } finally {
    await client.dispose();
  }
});

test('a socket without a token is closed with 4403', async () => {
  const client = createClient({ url: server.wsUrl, webSocketImpl: WebSocket, retryAttempts: 0, lazy: true });
  try {
    const closed = await new Promise((resolve, reject) => {
      client.on('closed', (event) => resolve(event.code));
      client.subscribe(
        { query: 'subscription { serverTime }' },
        { next: () => reject(new Error('expected a refusal')), error: () => {}, complete: () => {} },
      );
    });
    assert.equal(closed, 4403);
  } finally {
    await client.dispose();
  }
});
