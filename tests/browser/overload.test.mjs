// A busy server: the voter page is refused (503 with Retry-After) when it takes its token,
// says so in its status line, waits as asked, tries again, and its vote is counted, once. The server is
// real: it runs with --max-in-flight 1, and the one slot is held by another voter's publish
// whose body arrives slowly (a raw socket), until the test lets it finish.
import assert from 'node:assert/strict';
import net from 'node:net';
import { after, before, test } from 'node:test';

import { adminApi, launchBrowser, screenshot, startServer, WAIT } from './support.mjs';

const PHONE = { viewport: { width: 360, height: 740 }, isMobile: true, hasTouch: true };

let server;
let browser;
let admin;

before(async () => {
  server = await startServer(['--max-in-flight', '1']);
  browser = await launchBrowser();
  admin = adminApi(server.url);
});

after(async () => {
  await browser?.close();
  await server?.stop();
});

/**
 * Starts a publish of `vote` with `token` whose headers arrive at once and whose body waits
 * for `release()`: the request holds its slot meanwhile. `done` resolves to the status line.
 */
function slowPublish(token, vote) {
  const { hostname, port } = new URL(token.http_endpoint);
  const socket = net.connect(Number(port), hostname);
  const body = Buffer.from(vote);
  socket.write(
    `POST /topics/${token.cache}/${token.votes_topic} HTTP/1.1\r\nHost: ${hostname}:${port}\r\n`
      + `Authorization: ${token.token}\r\nContent-Type: text/plain\r\n`
      + `Content-Length: ${body.length}\r\nConnection: close\r\n\r\n`,
  );
  let answer = '';
  const done = new Promise((resolve, reject) => {
    socket.on('data', (chunk) => {
      answer += chunk;
    });
    socket.on('end', () => resolve(answer.split('\r\n')[0]));
    socket.on('error', reject);
  });
  return { release: () => socket.end(body), done };
}

/** `pollcast_voter_requests_refused_total` for `request` refused as busy. */
async function busyRefusals(request) {
  const text = await (await fetch(`${server.url}/metrics`)).text();
  const line = text
    .split('\n')
    .find((l) => l.startsWith(`pollcast_voter_requests_refused_total{reason="busy",request="${request}"}`));
  return line ? Number(line.split(' ').pop()) : 0;
}

test('a voter refused by a busy server is told so, retries after Retry-After and is counted once', async () => {
  const poll = await admin.openPoll({ title: 'Busy?', options: ['Yes', 'No'] });
  const minted = await fetch(`${server.url}/v1/polls/${poll.id}/tokens`, { method: 'POST' });
  const other = await minted.json();
  const held = slowPublish(other, JSON.stringify({ poll_id: poll.id, choices: ['o2'] }));

  const context = await browser.newContext(PHONE);
  const page = await context.newPage();
  // The page takes its token as it opens: refused while the slot is held.
  await page.goto(poll.vote_url);
  await page
    .getByRole('status')
    .filter({ hasText: 'Many people are voting right now' })
    .waitFor({ timeout: WAIT });
  await screenshot(page, 'voter-busy');
  assert.ok((await busyRefusals('token')) >= 1);

  held.release();
  assert.equal(await held.done, 'HTTP/1.1 204 No Content');
  await page.getByRole('radio', { name: 'Yes' }).click();
  await page.getByRole('button', { name: 'Vote', exact: true }).click();
  await page
    .getByRole('status')
    .filter({ hasText: 'Your vote was counted' })
    .waitFor({ timeout: WAIT });
  const results = await admin.resultsWhen(poll.id, (r) => r.ballots === 2);
  assert.deepEqual(results.counts, { o1: 1, o2: 1 });
  await context.close();
});
