// The dashboard's way in: urql with a cookie session and the CSRF header,
// as a browser runs it; then an integration's way in with an API token.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { gql } from '@urql/core';
import { startServer, ADMIN_EMAIL, ADMIN_PASSWORD } from '../lib/server.js';
import { browserSession, integrationClient, ok, errorCode } from '../lib/clients.js';

let server;

before(async () => {
  server = await startServer();
});

after(async () => {
  assert.equal(await server.stop(), 0);
});

const LOGIN = gql`
  mutation Login($email: String!, $password: String!) {
    login(email: $email, password: $password) {
      mfaRequired
      user { id email role }
    }
  }
`;
const ME = gql`
  query Me {
    me { id email role }
  }
`;
const CREATE_GROUP = gql`
  mutation CreateGroup($name: String!) {
    createGroup(name: $name) { id name }
  }
`;
const GROUPS = gql`
  query Groups {
    groups { id name }
  }
`;

test('a browser session: cookies after login, CSRF on mutations, cached reads', async () => {
  const browser = browserSession(server);
  const login = await ok(
    browser.client.mutation(LOGIN, { email: ADMIN_EMAIL, password: ADMIN_PASSWORD }).toPromise(),
  );
  assert.equal(login.login.mfaRequired, false);
  assert.ok(browser.cookie('optralis_csrf'), 'the CSRF cookie is readable by the page');

  // The session rides on cookies alone: no Authorization header is sent.
  const me = await ok(browser.client.query(ME, {}).toPromise());
  assert.equal(me.me.email, ADMIN_EMAIL);
  assert.equal(me.me.role, 'SUPER_ADMIN');

  // urql's document cache answers the same query without a request.
  const before = browser.fetch.calls;
  const again = await browser.client.query(ME, {}).toPromise();
  assert.equal(again.data.me.id, me.me.id);
  assert.equal(browser.fetch.calls, before, 'served from the cache');

  // A mutation with the CSRF header goes through and invalidates cached
  // results of the same type.
  // An empty list carries no __typename: tell the cache what it holds.
  const listContext = { additionalTypenames: ['Group'] };
  const groups = await ok(browser.client.query(GROUPS, {}, listContext).toPromise());
  const created = await ok(browser.client.mutation(CREATE_GROUP, { name: 'Web dashboard' }).toPromise());
  assert.equal(created.createGroup.name, 'Web dashboard');
  const refreshed = await ok(browser.client.query(GROUPS, {}, listContext).toPromise());
  assert.equal(refreshed.groups.length, groups.groups.length + 1);
});

test('a cookie-carrying mutation without the CSRF header is refused', async () => {
  const forged = browserSession(server, { csrf: false });
  await ok(forged.client.mutation(LOGIN, { email: ADMIN_EMAIL, password: ADMIN_PASSWORD }).toPromise());
  const refused = await forged.client.mutation(CREATE_GROUP, { name: 'Forged' }).toPromise();
  assert.equal(errorCode(refused), 'FORBIDDEN');
  // Reads are not state-changing and need no header.
  const me = await ok(forged.client.query(ME, {}).toPromise());
  assert.equal(me.me.email, ADMIN_EMAIL);
  // And the forged mutation left nothing behind.
  const groups = await ok(forged.client.query(GROUPS, {}, { requestPolicy: 'network-only' }).toPromise());
  assert.ok(!groups.groups.some((g) => g.name === 'Forged'));
});

test('logout clears the cookies and ends the session', async () => {
  const browser = browserSession(server);
  await ok(browser.client.mutation(LOGIN, { email: ADMIN_EMAIL, password: ADMIN_PASSWORD }).toPromise());
  const out = await ok(browser.client.mutation(gql`mutation { logout }`, {}).toPromise());
  assert.equal(out.logout, true);
  assert.equal(browser.cookie('optralis_access'), undefined);
  const after = await browser.client.query(ME, {}, { requestPolicy: 'network-only' }).toPromise();
  assert.equal(errorCode(after), 'UNAUTHENTICATED');
});

test('an integration with a Bearer API token: read scope reads, cannot write', async () => {
  const browser = browserSession(server);
  await ok(browser.client.mutation(LOGIN, { email: ADMIN_EMAIL, password: ADMIN_PASSWORD }).toPromise());
  const made = await ok(
    browser.client
      .mutation(
        gql`
          mutation Token($name: String!) {
            createApiToken(input: { name: $name, scope: READ }) { secret token { id name } }
          }
        `,
        { name: 'web-client integration' },
      )
      .toPromise(),
  );
  const integration = integrationClient(server, made.createApiToken.secret);
  try {
    const machines = await ok(
      integration.client
        .query(gql`query { machines(first: 10) { totalCount nodes { id hostname } } }`, {})
        .toPromise(),
    );
    assert.equal(typeof machines.machines.totalCount, 'number');
    // Identity reads are not for API tokens.
    const identity = await integration.client.query(ME, {}).toPromise();
    assert.equal(errorCode(identity), 'FORBIDDEN');
    const write = await integration.client.mutation(CREATE_GROUP, { name: 'From a read token' }).toPromise();
    assert.equal(errorCode(write), 'FORBIDDEN');

    // The same token opens a subscription through urql's subscription exchange.
    const tick = await new Promise((resolve, reject) => {
      const { unsubscribe } = integration.client
        .subscription(gql`subscription { serverTime(intervalMs: 100) }`, {})
        .subscribe((result) => {
          if (result.error) return reject(result.error);
          unsubscribe();
          resolve(result.data.serverTime);
        });
    });
    assert.ok(Number.isFinite(Date.parse(tick)));
  } finally {
    await integration.ws.dispose();
  }
});
