// The pages through a poll's life: a scheduled poll opens on its own in an open page; a closed
// poll shows its final results and takes no vote; an `on_close` poll shows the voter no count
// before the close; the presenter counts down to a scheduled close and never goes back to an
// older `seq`; an invite link votes with the token in its fragment.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';

import {
  adminApi,
  launchBrowser,
  layoutFaults,
  screenshot,
  startServer,
  until,
  WAIT,
  watchRequests,
} from './support.mjs';

const PHONE = { viewport: { width: 360, height: 740 }, isMobile: true, hasTouch: true };
const PROJECTOR = { viewport: { width: 1920, height: 1080 } };

let server;
let browser;
let admin;

before(async () => {
  server = await startServer();
  browser = await launchBrowser();
  admin = adminApi(server.url);
});

after(async () => {
  await browser?.close();
  await server?.stop();
});

const status = (page, text) => page.getByRole('status').filter({ hasText: text }).waitFor({ timeout: WAIT });
const inSeconds = (s) => new Date(Date.now() + s * 1000).toISOString();

test('a scheduled poll counts down, then opens on its own in the open page', async () => {
  const poll = await admin.createPoll({ title: 'Ready?', options: ['Go', 'Wait'], opens_at: inSeconds(8) });
  assert.equal(poll.state, 'scheduled');
  const page = await (await browser.newContext(PHONE)).newPage();
  let navigations = 0;
  page.on('framenavigated', () => {
    navigations += 1;
  });
  await page.goto(poll.vote_url);
  await page.getByText(/^Voting opens in 0:0\d\.$/).waitFor({ timeout: WAIT });
  assert.equal(await page.getByRole('radio').count(), 0, 'no ballot before it opens');
  assert.deepEqual(await layoutFaults(page), []);

  await page.getByRole('radio', { name: 'Go' }).click({ timeout: WAIT });
  await page.getByRole('button', { name: 'Vote', exact: true }).click();
  await status(page, 'Your vote was counted: Go.');
  assert.equal(navigations, 1, 'it opened without a reload');
  await screenshot(page, 'voter-scheduled-opened');
});

test('a closed poll shows its final results and takes no vote', async () => {
  const poll = await admin.openPoll({ title: 'Finished?', options: ['Yes', 'No'] });
  await admin.vote(poll.id, ['o1']);
  await admin.vote(poll.id, ['o1']);
  await admin.vote(poll.id, ['o2']);
  await admin.resultsWhen(poll.id, (r) => r.ballots === 3);
  await admin.transition(poll.id, 'close');

  const page = await (await browser.newContext(PHONE)).newPage();
  await page.goto(poll.vote_url);
  await page.getByText('This poll is closed. Voting has ended.').waitFor({ timeout: WAIT });
  await page.getByRole('heading', { name: 'Final results' }).waitFor({ timeout: WAIT });
  await until(page, () => document.getElementById('ballots').textContent === '3 ballots counted.');
  const values = await page.locator('#bars .bar-value').allTextContents();
  assert.deepEqual(values, ['2 votes · 66.7%', '1 vote · 33.3%']);
  assert.equal(await page.getByRole('radio').count(), 0);
  assert.equal(await page.getByRole('button', { name: 'Vote', exact: true }).count(), 0);
  const token = await fetch(`${server.url}/v1/polls/${poll.id}/tokens`, { method: 'POST' });
  assert.equal(token.status, 409, 'no token, so no vote, for a closed poll');
  assert.deepEqual(await layoutFaults(page), []);
  await screenshot(page, 'voter-closed');
});

test('an on_close poll shows no count to the voter, nor on the screen, before the close; then the final results', async () => {
  const poll = await admin.openPoll({ title: 'Secret until the end?', options: ['Red', 'Blue'], results_visibility: 'on_close' });
  const stage = await (await browser.newContext(PROJECTOR)).newPage();
  await stage.goto(poll.present_url);
  const page = await (await browser.newContext(PHONE)).newPage();
  const requests = watchRequests(page, [server.url]);
  await page.goto(poll.vote_url);
  await page.getByRole('radio', { name: 'Red' }).click();
  await page.getByRole('button', { name: 'Vote', exact: true }).click();
  await status(page, 'Your vote was counted: Red.');
  await page.getByText('Results will be shown when the poll closes.').waitFor({ timeout: WAIT });
  assert.equal(await page.locator('#results').isVisible(), false);
  assert.equal(await page.getByText(/\d+ votes? ·|ballots? counted/).count(), 0, 'no count anywhere');
  assert.deepEqual(
    requests.seen.filter((u) => u.includes('/results')),
    [],
    'the page did not even ask for results',
  );
  await screenshot(page, 'voter-on-close-hidden');
  await stage.getByText('Results are shown when the poll closes.').waitFor({ timeout: WAIT });
  assert.equal(await stage.locator('#tally').isVisible(), false, 'no ballot count on the screen');
  assert.equal(await stage.locator('#bars li').count(), 0, 'no bars on the screen');

  await admin.transition(poll.id, 'close');
  await page.getByRole('heading', { name: 'Final results' }).waitFor({ timeout: WAIT });
  await until(page, () => document.getElementById('ballots').textContent === '1 ballot counted.');
  await until(stage, () => document.getElementById('ballots').textContent === '1');
  await screenshot(page, 'voter-on-close-final');
});

test('the presenter counts down to a scheduled close and drops updates older than the last', async () => {
  const poll = await admin.openPoll({ title: 'Countdown', options: ['A', 'B'], closes_at: inSeconds(3600) });
  const page = await (await browser.newContext(PROJECTOR)).newPage();
  const results = (seq, a, b) =>
    JSON.stringify({
      poll_id: poll.id,
      state: 'open',
      seq,
      ballots: a + b,
      counts: { o1: a, o2: b },
      options: [
        { id: 'o1', label: 'A', votes: a, share: a + b ? Math.round((1000 * a) / (a + b)) / 10 : 0 },
        { id: 'o2', label: 'B', votes: b, share: a + b ? Math.round((1000 * b) / (a + b)) / 10 : 0 },
      ],
      rounds: null,
      winner: null,
      tie: [],
      at: new Date().toISOString(),
    });
  // Updates arriving out of order: seq 7 (5 ballots), then a late seq 6 (4 ballots).
  await page.route(`${server.url}/v1/polls/${poll.id}/results/stream`, (route) =>
    route.fulfill({
      contentType: 'text/event-stream',
      body: `retry: 60000\n\nevent: results\nid: 7\ndata: ${results(7, 3, 2)}\n\nevent: results\nid: 6\ndata: ${results(6, 2, 2)}\n\n`,
    }),
  );
  await page.goto(poll.present_url);
  await page.getByText(/^Closes in 59:\d\d$/).waitFor({ timeout: WAIT });
  await until(page, () => document.getElementById('ballots').textContent === '5');
  // Both events were delivered; give the later (older) one every chance to be drawn.
  await page.evaluate(() => new Promise((resolve) => requestAnimationFrame(() => setTimeout(resolve, 200))));
  assert.equal(await page.locator('#ballots').textContent(), '5', 'seq 6 after seq 7 is dropped');
  assert.deepEqual(await page.locator('#bars .bar-value').allTextContents(), ['3 votes · 60%', '2 votes · 40%']);
  await screenshot(page, 'presenter-countdown');
});

test('an invite link votes with the token from its fragment, which leaves the address bar', async () => {
  const poll = await admin.openPoll({ title: 'Board vote', options: ['For', 'Against'], access: 'invite' });
  const token = await admin.call('POST', `/v1/polls/${poll.id}/tokens`, { voter_id: 'alice@example.org' });
  const page = await (await browser.newContext(PHONE)).newPage();
  const requests = watchRequests(page, [server.url]);
  await page.goto(token.vote_url);
  await page.getByRole('radio', { name: 'For' }).click();
  assert.equal(new URL(page.url()).hash, '', 'the token is out of the address bar');
  await page.getByRole('button', { name: 'Vote', exact: true }).click();
  await status(page, 'Your vote was counted: For.');
  assert.ok(
    requests.seen.every((u) => !u.includes(encodeURIComponent(token.token)) && !u.includes(token.token)),
    'the token never travels in a URL',
  );
  const results = await admin.resultsWhen(poll.id, (r) => r.ballots === 1);
  assert.deepEqual(results.counts, { o1: 1, o2: 0 });

  // Without the link: the page says how to vote.
  const stranger = await (await browser.newContext(PHONE)).newPage();
  await stranger.goto(poll.vote_url);
  await status(stranger, 'This poll is by invitation');
  await screenshot(page, 'voter-invite');
});
