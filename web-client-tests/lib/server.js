// Starts the built `optralis` binary with a fresh data dir on a free port,
// waits for /health, and stops it with SIGTERM.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, existsSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));

export function binaryPath() {
  if (process.env.OPTRALIS_BIN) return process.env.OPTRALIS_BIN;
  const targetDir = process.env.CARGO_TARGET_DIR ?? resolve(here, '..', '..', 'target');
  const bin = join(targetDir, 'debug', 'optralis');
  if (!existsSync(bin)) {
    throw new Error(`optralis binary not found at ${bin}: run "cargo build -p optralis" or set OPTRALIS_BIN`);
  }
  return bin;
}

/** The agent simulator built next to the server binary. */
export function agentSimPath() {
  const bin = join(dirname(binaryPath()), 'agent-sim');
  if (!existsSync(bin)) {
    throw new Error(`agent-sim not found at ${bin}: run "cargo build -p optralis -p agent-sim"`);
  }
  return bin;
}

function freePort() {
  return new Promise((resolvePort, reject) => {
    const srv = createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolvePort(port));
    });
  });
}

export const ADMIN_EMAIL = 'root@optralis.test';
export const ADMIN_PASSWORD = 'Web-Client-Passw0rd!';
// The first super_admin must change its password at first login; the
// harness does that once, as an operator would, and then uses ADMIN_PASSWORD.
const FIRST_PASSWORD = 'First-Start-Passw0rd!';

async function graphql(base, query, variables, token) {
  const headers = { 'content-type': 'application/json' };
  if (token) headers.authorization = `Bearer ${token}`;
  const res = await fetch(`${base}/graphql`, { method: 'POST', headers, body: JSON.stringify({ query, variables }) });
  return res.json();
}

async function firstLogin(base) {
  const login = await graphql(
    base,
    'mutation($e: String!, $p: String!) { login(email: $e, password: $p) { accessToken user { mustChangePassword } } }',
    { e: ADMIN_EMAIL, p: FIRST_PASSWORD },
  );
  const token = login.data?.login?.accessToken;
  if (!token || login.data.login.user.mustChangePassword !== true) {
    throw new Error(`first login: ${JSON.stringify(login)}`);
  }
  const changed = await graphql(
    base,
    'mutation($c: String!, $n: String!) { changePassword(currentPassword: $c, newPassword: $n) }',
    { c: FIRST_PASSWORD, n: ADMIN_PASSWORD },
    token,
  );
  if (changed.data?.changePassword !== true) throw new Error(`first password change: ${JSON.stringify(changed)}`);
}

export async function startServer(extraEnv = {}) {
  const dataDir = mkdtempSync(join(tmpdir(), 'optralis-web-'));
  const port = await freePort();
  const agentPort = await freePort();
  const env = {
    PATH: process.env.PATH,
    PORT: String(port),
    AGENT_PORT: String(agentPort),
    BIND_ADDRESS: '127.0.0.1',
    OPTRALIS_DATA_DIR: dataDir,
    RUST_LOG: 'warn',
    DEFAULT_ADMIN_EMAIL: ADMIN_EMAIL,
    DEFAULT_ADMIN_PASSWORD: FIRST_PASSWORD,
    ...extraEnv,
  };
  const child = spawn(binaryPath(), ['serve'], { env, stdio: ['ignore', 'inherit', 'inherit'] });
  const base = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 30_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`optralis exited early with ${child.exitCode}`);
    try {
      const res = await fetch(`${base}/health`);
      if (res.ok) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error('optralis did not become healthy within 30 s');
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  await firstLogin(base);
  return {
    base,
    graphqlUrl: `${base}/graphql`,
    gatewayUrl: `https://127.0.0.1:${agentPort}`,
    /** The CA the agent gateway's certificate chains to. */
    caPath: join(dataDir, 'ca.crt'),
    wsUrl: `ws://127.0.0.1:${port}/graphql/ws`,
    /** An access token for the first super_admin (login over HTTP). */
    async adminToken() {
      const body = await graphql(
        base,
        'mutation($e: String!, $p: String!) { login(email: $e, password: $p) { accessToken } }',
        { e: ADMIN_EMAIL, p: ADMIN_PASSWORD },
      );
      if (!body.data?.login?.accessToken) throw new Error(`login failed: ${JSON.stringify(body)}`);
      return body.data.login.accessToken;
    },
    async stop() {
      const exited = new Promise((r) => child.once('exit', (code) => r(code)));
      child.kill('SIGTERM');
      const code = await exited;
      rmSync(dataDir, { recursive: true, force: true });
      return code;
    },
  };
}
