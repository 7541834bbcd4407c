// An integration builds on our schema: graphql-codegen types the
// dashboard's operations against the running server's introspection, and
// tsc checks code written against those types.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, writeFileSync, copyFileSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { getIntrospectionQuery, buildClientSchema } from 'graphql';
import { generate } from '@graphql-codegen/cli';
import { startServer } from '../lib/server.js';

const run = promisify(execFile);
const here = dirname(fileURLToPath(import.meta.url));
const typedDir = resolve(here, '..', 'typed');
const tsc = resolve(here, '..', 'node_modules', '.bin', 'tsc');

let server;
let work;

before(async () => {
  server = await startServer();
  work = mkdtempSync(join(tmpdir(), 'optralis-codegen-'));
});

after(async () => {
  rmSync(work, { recursive: true, force: true });
  assert.equal(await server.stop(), 0);
});

/** The live schema as a dashboard developer's tooling sees it. */
async function introspect() {
  const token = await server.adminToken();
  const res = await fetch(server.graphqlUrl, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
    body: JSON.stringify({ query: getIntrospectionQuery({ descriptions: true }) }),
  });
  assert.equal(res.status, 200);
  const body = await res.json();
  assert.equal(body.errors, undefined, JSON.stringify(body.errors));
  return body;
}

function codegen(schemaFile, documents, output) {
  return generate(
    {
      schema: schemaFile,
      documents,
      silent: true,
      generates: {
        [output]: {
          // typescript-operations emits the enums and inputs the operations use.
          plugins: ['typescript-operations'],
          config: {
            // Our DateTime is an RFC 3339 string on the wire.
            scalars: { DateTime: 'string', JSON: 'unknown' },
            strictScalars: false,
            avoidOptionals: false,
          },
        },
      },
    },
    true,
  );
}

function tsconfig(dir, files) {
  writeFileSync(
    join(dir, 'tsconfig.json'),
    JSON.stringify({
      compilerOptions: {
        strict: true,
        noEmit: true,
        target: 'es2022',
        module: 'esnext',
        moduleResolution: 'bundler',
        skipLibCheck: true,
      },
      files,
    }),
  );
}

async function typecheck(dir) {
  try {
    await run(tsc, ['-p', join(dir, 'tsconfig.json')], { cwd: dir });
    return { ok: true, output: '' };
  } catch (e) {
    return { ok: false, output: `${e.stdout}${e.stderr}` };
  }
}

test('types generated from the live introspection type-check the dashboard code', async () => {
  const introspection = await introspect();
  // What the server answers is a schema graphql-js accepts as a whole.
  const schema = buildClientSchema(introspection.data);
  assert.ok(schema.getSubscriptionType().getFields().machineMetrics, 'machineMetrics is a subscription');

  const schemaFile = join(work, 'schema.json');
  writeFileSync(schemaFile, JSON.stringify(introspection));
  copyFileSync(join(typedDir, 'operations.graphql'), join(work, 'operations.graphql'));
  copyFileSync(join(typedDir, 'consumer.ts'), join(work, 'consumer.ts'));
  await codegen(schemaFile, join(work, 'operations.graphql'), join(work, 'generated.ts'));

  const generated = readFileSync(join(work, 'generated.ts'), 'utf8');
  assert.match(generated, /export type LiveMetricsSubscription = /);
  assert.match(generated, /export type MetricRange =/);

  tsconfig(work, ['consumer.ts']);
  const checked = await typecheck(work);
  assert.ok(checked.ok, `tsc failed:\n${checked.output}`);

  // The check has teeth: code that reads a field the operation did not
  // select (or that does not exist) is rejected.
  writeFileSync(
    join(work, 'wrong.ts'),
    `import type { MachineDashboardQuery } from './generated';\n` +
      `export const bad = (q: MachineDashboardQuery): number => q.machine.cpuPercent;\n`,
  );
  tsconfig(work, ['consumer.ts', 'wrong.ts']);
  const rejected = await typecheck(work);
  assert.equal(rejected.ok, false, 'tsc must reject a field the schema does not have');
  assert.match(rejected.output, /cpuPercent/);
});

test('codegen refuses an operation the live schema cannot answer', async () => {
  const schemaFile = join(work, 'schema-2.json');
  writeFileSync(schemaFile, JSON.stringify(await introspect()));
  const doc = join(work, 'stale.graphql');
  writeFileSync(doc, 'query Stale($id: ID!) { machine(id: $id) { id cpuUsage } }\n');
  await assert.rejects(codegen(schemaFile, doc, join(work, 'stale.ts')), /cpuUsage/);
});
