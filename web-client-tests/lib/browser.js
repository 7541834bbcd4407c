// Headless Chromium for the page tests: Debian's `chromium` package driven
// by playwright-core, which never downloads a browser of its own. A missing
// or broken Chromium fails the tests that need it; it never skips them.
import { chromium } from 'playwright-core';
import { existsSync, mkdirSync } from 'node:fs';
import { join, resolve, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));

export const CHROMIUM_PATH = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

/** Screenshots kept as CI artifacts (gitignored). */
export const ARTIFACTS_DIR = resolve(here, '..', 'artifacts');

export function artifactPath(name) {
  mkdirSync(ARTIFACTS_DIR, { recursive: true });
  return join(ARTIFACTS_DIR, name);
}

export async function launchChromium() {
  if (!existsSync(CHROMIUM_PATH)) {
    throw new Error(
      `Chromium not found at ${CHROMIUM_PATH}: install Debian's package (apt-get install chromium) or set CHROMIUM_PATH`,
    );
  }
  return chromium.launch({
    executablePath: CHROMIUM_PATH,
    headless: true,
    // CI runs as root, where Chromium's sandbox cannot start.
    args: ['--no-sandbox', '--disable-dev-shm-usage'],
  });
}

/**
 * Collects what a page reports as broken: uncaught exceptions, console
 * errors (CSP violations are reported there) and failed requests.
 */
export function watchProblems(page, { ignoreRequest = () => false } = {}) {
  const problems = [];
  page.on('pageerror', (err) => problems.push(`page error: ${err.message}`));
  page.on('console', (msg) => {
    if (msg.type() === 'error') problems.push(`console: ${msg.text()}`);
  });
  page.on('requestfailed', (req) => {
    if (!ignoreRequest(req)) problems.push(`request failed: ${req.url()} ${req.failure()?.errorText}`);
  });
  return problems;
}
