// The clients a dashboard and an integration would build: urql for
// queries and mutations (with its document cache), graphql-ws for
// subscriptions, a cookie jar standing in for the browser.
import { Client, cacheExchange, fetchExchange, subscriptionExchange } from '@urql/core';
import { createClient as createWsClient } from 'graphql-ws';
import makeFetchCookie from 'fetch-cookie';
import WebSocket from 'ws';

const CSRF_COOKIE = 'optralis_csrf';

/** Counts the HTTP requests a client really sends (cache hits send none). */
function countingFetch(inner) {
  const counted = (input, init) => {
    counted.calls += 1;
    return inner(input, init);
  };
  counted.calls = 0;
  return counted;
}

/**
 * A browser session: cookies are kept in a jar and sent back by fetch, and
 * every request echoes the CSRF cookie in `X-CSRF-Token` as the dashboard's
 * JavaScript does (`csrf: false` leaves the header out).
 */
export function browserSession(server, { csrf = true } = {}) {
  const jar = new makeFetchCookie.toughCookie.CookieJar();
  const fetch = countingFetch(makeFetchCookie(globalThis.fetch, jar));
  const cookie = (name) => jar.getCookiesSync(server.base).find((c) => c.key === name)?.value;
  const client = new Client({
    url: server.graphqlUrl,
    exchanges: [cacheExchange, fetchExchange],
    fetch,
    preferGetMethod: false,
    fetchOptions: () => {
      const token = csrf ? cookie(CSRF_COOKIE) : undefined;
      return { headers: token ? { 'x-csrf-token': token } : {} };
    },
  });
  return { client, fetch, cookie, jar };
}

/**
 * An integration: a Bearer API token on every request, queries through
 * urql and subscriptions through graphql-ws with the same token.
 */
export function integrationClient(server, secret) {
  const fetch = countingFetch(globalThis.fetch);
  const ws = createWsClient({
    url: server.wsUrl,
    webSocketImpl: WebSocket,
    retryAttempts: 0,
    lazy: true,
    connectionParams: { authorization: `Bearer ${secret}` },
  });
  const client = new Client({
    url: server.graphqlUrl,
    fetch,
    preferGetMethod: false,
    fetchOptions: { headers: { authorization: `Bearer ${secret}` } },
    exchanges: [
      cacheExchange,
      fetchExchange,
      subscriptionExchange({
        forwardSubscription(request) {
          const input = { ...request, query: request.query || '' };
          return {
            subscribe(sink) {
              return { unsubscribe: ws.subscribe(input, sink) };
            },
          };
        },
      }),
    ],
  });
  return { client, fetch, ws };
}

/** Runs an operation and fails the test on any GraphQL error. */
export async function ok(promise) {
  const result = await promise;
  if (result.error) throw new Error(`unexpected error: ${result.error.message}`);
  return result.data;
}

/** The `extensions.code` of an operation's first GraphQL error. */
export function errorCode(result) {
  return result.error?.graphQLErrors?.[0]?.extensions?.code;
}
