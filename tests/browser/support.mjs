// What the browser tests share: the real `pollcast serve` binary (in memory, on a free loopback
// port), Debian's Chromium driven by playwright-core, the admin API, and the checks every page
// must pass (axe-core, layout at a phone's and a projector's size, requests that stay home).
//
// Run by scripts/test:  POLLCAST_BIN=target/debug/pollcast node --test tests/browser/
import { spawn } from 'node:child_process';
import { mkdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import { after, before } from 'node:test';

import { chromium } from 'playwright-core';

const here = path.dirname(fileURLToPath(import.meta.url));
const require = createRequire(import.meta.url);

export const ADMIN_KEY = 'browser-test-admin-key-0123456789';
export const OUT = path.join(here, 'out');
/** How long any one wait for the page may take before the test fails. */
export const WAIT = 15000;
/** How long `pollcast serve` may take to exit after SIGTERM. */
const STOP_WITHIN = 30000;

const bin = process.env.POLLCAST_BIN || path.join(here, '../../target/debug/pollcast');
const chromiumPath = process.env.CHROMIUM || '/usr/bin/chromium';

/** Starts `pollcast serve --in-memory` on a free loopback port; resolves to {url, stop}. */
export async function startServer(extraArgs = []) {
  // Only what the binary needs from the environment: no POLLCAST_* or MOMENTO_* of the shell.
  const env = { PATH: process.env.PATH, RUST_LOG: process.env.RUST_LOG || 'warn' };
  const args = ['serve', '--in-memory', '--listen', '127.0.0.1:0', '--admin-key', ADMIN_KEY, ...extraArgs];
  const server = spawn(bin, args, { env, stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  const url = await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`pollcast did not start: ${out}`)), 30000);
    server.stdout.on('data', (chunk) => {
      out += chunk;
      const match = out.match(/pollcast is serving on (http:\/\/127\.0\.0\.1:\d+)/);
      if (match) {
        clearTimeout(timer);
        resolve(match[1]);
      }
    });
    server.on('exit', (code) => reject(new Error(`pollcast exited (${code}): ${out}`)));
  });
  // SIGTERM, and the process must be gone within STOP_WITHIN (it drains for 5 s at most);
  // else SIGKILL, and the test run fails rather than hangs.
  const stop = () =>
    new Promise((resolve, reject) => {
      if (server.exitCode !== null || server.signalCode !== null) return resolve();
      const timer = setTimeout(() => {
        server.kill('SIGKILL');
        reject(new Error(`pollcast was still running ${STOP_WITHIN} ms after SIGTERM`));
      }, STOP_WITHIN);
      server.once('exit', () => {
        clearTimeout(timer);
        resolve();
      });
      server.kill('SIGTERM');
    });
  return { url, stop };
}

/** A phone's viewport (360x740, touch) and a projector's (1920x1080), for browser contexts. */
export const PHONE = { viewport: { width: 360, height: 740 }, isMobile: true, hasTouch: true };
export const PROJECTOR = { viewport: { width: 1920, height: 1080 } };

/**
 * A server, a browser and the admin API for the tests of a file: started before them, stopped
 * after. The returned object's `server`, `browser` and `admin` are set once they run.
 */
export function serverAndBrowser(extraArgs = []) {
  const shared = {};
  before(async () => {
    shared.server = await startServer(extraArgs);
    shared.browser = await launchBrowser();
    shared.admin = adminApi(shared.server.url);
  });
  after(async () => {
    await shared.browser?.close();
    await shared.server?.stop();
  });
  return shared;
}

/** Debian's Chromium, headless, on a fresh profile, kept off the (closed) network. */
export function launchBrowser() {
  return chromium.launch({
    executablePath: chromiumPath,
    headless: true,
    // Root in CI: Chromium's sandbox needs user namespaces it does not get there.
    chromiumSandbox: false,
    args: [
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
}

/** The admin REST API of the server at `url`. */
export function adminApi(url) {
  async function call(method, route, body) {
    const response = await fetch(`${url}${route}`, {
      method,
      headers: {
        Authorization: `Bearer ${ADMIN_KEY}`,
        ...(body ? { 'Content-Type': 'application/json' } : {}),
      },
      body: body ? JSON.stringify(body) : undefined,
    });
    const text = await response.text();
    if (!response.ok) throw new Error(`${method} ${route}: ${response.status} ${text}`);
    return text ? JSON.parse(text) : null;
  }
  return {
    call,
    createPoll: (poll) => call('POST', '/v1/polls', poll),
    transition: (id, event) => call('POST', `/v1/polls/${id}/${event}`),
    async openPoll(poll) {
      const created = await call('POST', '/v1/polls', poll);
      return call('POST', `/v1/polls/${created.id}/open`);
    },
    results: (id) => call('GET', `/v1/polls/${id}/results`),
    /** Votes `choices` on the open poll `id` as a new anonymous voter, as any client can. */
    async vote(id, choices) {
      const minted = await fetch(`${url}/v1/polls/${id}/tokens`, { method: 'POST' });
      if (minted.status !== 201) throw new Error(`token for ${id}: ${minted.status}`);
      const token = await minted.json();
      const published = await fetch(`${token.http_endpoint}/topics/${token.cache}/${token.votes_topic}`, {
        method: 'POST',
        headers: { Authorization: token.token, 'Content-Type': 'text/plain' },
        body: JSON.stringify({ poll_id: id, choices }),
      });
      if (published.status !== 204) throw new Error(`vote on ${id}: ${published.status}`);
      return token;
    },
    /** The results once `done(results)` holds (polled: the admin's view of the count). */
    async resultsWhen(id, done) {
      const deadline = Date.now() + WAIT;
      for (;;) {
        const results = await call('GET', `/v1/polls/${id}/results`);
        if (done(results)) return results;
        if (Date.now() > deadline) throw new Error(`results never settled: ${JSON.stringify(results)}`);
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
    },
  };
}

/**
 * Records every request `page` makes; `check()` asserts they all went to `origins` (the
 * pollcast origin, and the token's topics endpoint, which is the same one here).
 */
export function watchRequests(page, origins) {
  const seen = [];
  page.on('request', (request) => seen.push(request.url()));
  return {
    seen,
    check() {
      const away = seen.filter((u) => !u.startsWith('data:') && !origins.includes(new URL(u).origin));
      if (away.length) throw new Error(`requests left the pollcast origin: ${away.join(', ')}`);
    },
  };
}

/** Saves a PNG of the page's final state in tests/browser/out/ (gitignored). */
export async function screenshot(page, name) {
  mkdirSync(OUT, { recursive: true });
  // Transitions finished: the bars as they end up, not half-way.
  await page.screenshot({ path: path.join(OUT, `${name}.png`), animations: 'disabled' });
}

const axeSource = readFileSync(require.resolve('axe-core/axe.min.js'), 'utf8');

/**
 * Runs axe-core in the page (injected through the DevTools protocol, which the page's
 * Content-Security-Policy does not govern) and returns its serious and critical violations.
 */
export async function seriousViolations(page) {
  await page.evaluate(axeSource);
  const violations = await page.evaluate(async () => {
    // eslint-disable-next-line no-undef
    const result = await axe.run(document, { resultTypes: ['violations'] });
    return result.violations.map((v) => ({
      id: v.id,
      impact: v.impact,
      help: v.help,
      nodes: v.nodes.map((n) => n.target.join(' ')).slice(0, 5),
    }));
  });
  return violations.filter((v) => v.impact === 'serious' || v.impact === 'critical');
}

/**
 * Layout faults at the current viewport: horizontal scrolling, and any two visible elements
 * (neither inside the other) whose boxes overlap. SVG internals count as one element.
 */
export function layoutFaults(page) {
  return page.evaluate(() => {
    const faults = [];
    const root = document.scrollingElement;
    if (root.scrollWidth > root.clientWidth) {
      faults.push(`horizontal scroll: ${root.scrollWidth}px of content in ${root.clientWidth}px`);
    }
    const boxes = [];
    for (const element of document.body.querySelectorAll('*')) {
      if (element.closest('svg') && element.tagName.toLowerCase() !== 'svg') continue;
      const style = getComputedStyle(element);
      if (style.visibility !== 'visible' || style.display === 'contents') continue;
      const box = element.getBoundingClientRect();
      if (box.width <= 1 || box.height <= 1) continue; // nothing to see (visually hidden text)
      boxes.push({ element, box });
    }
    const name = (e) =>
      `${e.tagName.toLowerCase()}${e.id ? `#${e.id}` : ''}${e.className && typeof e.className === 'string' ? `.${e.className.split(' ').join('.')}` : ''}`;
    for (let i = 0; i < boxes.length; i += 1) {
      for (let j = i + 1; j < boxes.length; j += 1) {
        const a = boxes[i];
        const b = boxes[j];
        if (a.element.contains(b.element) || b.element.contains(a.element)) continue;
        const width = Math.min(a.box.right, b.box.right) - Math.max(a.box.left, b.box.left);
        const height = Math.min(a.box.bottom, b.box.bottom) - Math.max(a.box.top, b.box.top);
        if (width > 1 && height > 1) faults.push(`${name(a.element)} overlaps ${name(b.element)}`);
      }
    }
    return faults;
  });
}

/** Resolves when `condition` (run in the page) holds; fails after WAIT. */
export function until(page, condition, arg) {
  return page.waitForFunction(condition, arg, { timeout: WAIT });
}
