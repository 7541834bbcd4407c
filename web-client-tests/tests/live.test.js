// The live flow a new user tries first: open subscriptions with the
// graphql-ws client, run the agent simulator, watch the samples arrive.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { createClient } from 'graphql-ws';
import WebSocket from 'ws';
import { startServer, agentSimPath } from '../lib/server.js';

let server;
let token;
let ws;

before(async () => {
  server = await startServer();
  token = await server.adminToken();
  ws = createClient({
    url: server.wsUrl,
    webSocketImpl: WebSocket,
    retryAttempts: 0,
    connectionParams: { authorization: `Bearer ${token}` },
  });
});

after(async () => {
  await ws?.dispose();
  assert.equal(await server.stop(), 0);
});

async function graphql(query, variables = {}) {
  const res = await fetch(server.graphqlUrl, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
    body: JSON.stringify({ query, variables }),
  });
  const body = await res.json();
  if (body.errors) throw new Error(JSON.stringify(body.errors));
  return body.data;
}

/** Subscribes and collects every result into `into`; returns the disposer. */
function collect(query, variables, into, onEvent = () => {}) {
  return ws.subscribe(
    { query, variables },
    {
      next: (result) => {
        if (result.errors) throw new Error(JSON.stringify(result.errors));
        into.push(result.data);
        onEvent(result.data);
      },
      error: (err) => into.push({ error: err }),
      complete: () => {},
    },
  );
}

async function until(condition, ms, what) {
  const deadline = Date.now() + ms;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

test('machineMetrics delivers every sample the simulator posts, with its values', async () => {
  const made = await graphql(
    'mutation { createInstallToken(input: { name: "web live", maxUsage: 2 }) { token { secret } } }',
  );
  const installToken = made.createInstallToken.token.secret;

  // Enrolments announce the machines; each one gets a metrics subscription
  // before the simulator starts its load phase (two heartbeats, 1 s apart).
  const statuses = [];
  const metrics = new Map();
  const disposers = [];
  disposers.push(
    collect(
      'subscription { machineStatusChanged { machineId hostname status } }',
      {},
      statuses,
      ({ machineStatusChanged: e }) => {
        if (e.status !== 'ENROLLED' || metrics.has(e.machineId)) return;
        const received = [];
        metrics.set(e.machineId, received);
        disposers.push(
          collect(
            'subscription($id: ID!) { machineMetrics(machineId: $id) { machineId at cpuPercent ramPercent } }',
            { id: e.machineId },
            received,
          ),
        );
      },
    ),
  );
  // Let the status subscription reach the server before anything enrols.
  await new Promise((r) => setTimeout(r, 300));

  const sim = spawn(
    agentSimPath(),
    [
      '--gateway', server.gatewayUrl,
      '--ca', server.caPath,
      '--token', installToken,
      '--machines', '2',
      '--prefix', 'web-live',
      '--heartbeats', '2',
      '--interval-ms', '1000',
      '--duration-secs', '4',
      '--metrics-interval', '0.5',
      '--metrics-only',
      '--print-samples',
    ],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  const sent = [];
  createInterface({ input: sim.stdout }).on('line', (line) => {
    if (line.startsWith('{')) sent.push(JSON.parse(line).sample);
  });
  const code = await new Promise((r) => sim.once('exit', r));
  assert.equal(code, 0, 'the simulator enrolled, heartbeat and posted without errors');
  assert.ok(sent.length >= 10, `the simulator posted samples (${sent.length})`);

  const enrolled = statuses.filter((s) => s.machineStatusChanged?.status === 'ENROLLED');
  assert.equal(enrolled.length, 2, 'both enrolments were announced');
  assert.ok(enrolled.every((s) => s.machineStatusChanged.hostname.startsWith('web-live-')));

  const key = (machineId, at) => `${machineId}@${Date.parse(at)}`;
  const total = () => [...metrics.values()].reduce((n, list) => n + list.length, 0);
  await until(() => total() >= sent.length, 5_000, `${sent.length} samples (got ${total()})`);

  const received = new Map();
  for (const list of metrics.values()) {
    for (const item of list) {
      assert.equal(item.error, undefined, `subscription error: ${JSON.stringify(item.error)}`);
      const e = item.machineMetrics;
      received.set(key(e.machineId, e.at), e);
    }
  }
  assert.equal(received.size, total(), 'no sample delivered twice');
  for (const s of sent) {
    const got = received.get(key(s.machine_id, s.at));
    assert.ok(got, `sample ${s.hostname} at ${s.at} reached its subscriber`);
    assert.ok(Math.abs(got.cpuPercent - s.cpu_percent) < 1e-9, 'cpu value');
    assert.ok(Math.abs(got.ramPercent - s.ram_percent) < 1e-9, 'ram value');
  }
  // Each subscriber saw its own machine only.
  for (const [machineId, list] of metrics) {
    assert.ok(list.every((item) => item.machineMetrics.machineId === machineId));
  }
  // What was delivered live is what the dashboard reads back.
  for (const machineId of metrics.keys()) {
    const last = sent.filter((s) => s.machine_id === machineId).at(-1);
    const data = await graphql(
      'query($id: ID!) { machine(id: $id) { latestMetrics { cpuPercent ramPercent collectedAt } } }',
      { id: machineId },
    );
    assert.equal(Date.parse(data.machine.latestMetrics.collectedAt), Date.parse(last.at));
    assert.ok(Math.abs(data.machine.latestMetrics.cpuPercent - last.cpu_percent) < 1e-9);
  }
  for (const dispose of disposers) dispose();
});
