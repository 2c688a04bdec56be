// What a voter is told when a vote is not counted, or when the way to the server breaks: a
// second vote from the same voter is refused visibly and not counted, and a reload or a second
// tab is the same voter; a change refused after the close says what still counts; a vote the pipeline rejects shows its reason; a lost answer is
// retried without a double vote; an expired token is replaced by a new one for the same voter.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';

import {
  adminApi,
  launchBrowser,
  layoutFaults,
  screenshot,
  startServer,
  WAIT,
  watchRequests,
} from './support.mjs';

const PHONE = { viewport: { width: 360, height: 740 }, isMobile: true, hasTouch: true };

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
const voterOf = (page, id) =>
  page.evaluate((key) => JSON.parse(window.sessionStorage.getItem(key)).voter_id, `pollcast.token.${id}`);

test('a second vote from the same voter is refused visibly and not counted; a reload is the same voter', async () => {
  const poll = await admin.openPoll({ title: 'Tea or coffee?', options: ['Tea', 'Coffee'] });
  const context = await browser.newContext(PHONE);
  const first = await context.newPage();
  await first.goto(poll.vote_url);
  await first.getByRole('radio', { name: 'Tea' }).waitFor({ timeout: WAIT });
  // A second tab of the same browser, opened before the first one votes.
  const second = await context.newPage();
  await second.goto(poll.vote_url);
  await second.getByRole('radio', { name: 'Coffee' }).waitFor({ timeout: WAIT });
  const voter = await voterOf(first, poll.id);
  assert.equal(await voterOf(second, poll.id), voter, 'the cookie made the second tab the same voter');

  await first.getByRole('radio', { name: 'Tea' }).click();
  await first.getByRole('button', { name: 'Vote', exact: true }).click();
  await status(first, 'Your vote was counted: Tea.');
  await second.getByRole('radio', { name: 'Coffee' }).click();
  await second.getByRole('button', { name: 'Vote', exact: true }).click();
  await status(second, 'Your vote was not counted: you have already voted (Tea)');
  assert.deepEqual(await layoutFaults(second), []);
  await screenshot(second, 'voter-second-vote-refused');

  const results = await admin.resultsWhen(poll.id, (r) => r.ballots >= 1);
  assert.deepEqual(results.counts, { o1: 1, o2: 0 }, 'the second vote is not counted');

  // A reload, and a new tab (a fresh session), are the same voter: no new ballot to cast.
  await first.reload();
  await status(first, 'You have already voted: Tea.');
  assert.equal(await first.getByRole('button', { name: 'Vote', exact: true }).count(), 0);
  const third = await context.newPage();
  await third.goto(poll.vote_url);
  await status(third, 'You have already voted: Tea.');
  assert.equal(await voterOf(third, poll.id), voter);
  assert.equal(await third.getByRole('radio').count(), 0, 'no ballot offered');
  await screenshot(third, 'voter-already-voted');
});

test('a change refused after the close says so, and that the earlier vote still counts', async () => {
  const poll = await admin.openPoll({ title: 'Lunch at noon?', options: ['Yes', 'No'], allow_revote: true });
  const context = await browser.newContext(PHONE);
  const first = await context.newPage();
  await first.goto(poll.vote_url);
  const second = await context.newPage();
  await second.goto(poll.vote_url);
  await second.getByRole('radio', { name: 'No' }).waitFor({ timeout: WAIT });
  await first.getByRole('radio', { name: 'Yes' }).click();
  await first.getByRole('button', { name: 'Vote', exact: true }).click();
  await status(first, 'Your vote was counted: Yes.');

  // The second tab still shows the ballot when the poll closes; its change comes too late.
  await admin.transition(poll.id, 'close');
  await second.getByRole('radio', { name: 'No' }).click();
  await second.getByRole('button', { name: /Vote|Change vote/ }).click();
  await status(second, 'Your vote was not counted: the poll was not open when your vote arrived');
  await status(second, 'Your earlier vote still counts: Yes.');
  const results = await admin.resultsWhen(poll.id, (r) => r.ballots >= 1);
  assert.deepEqual(results.counts, { o1: 1, o2: 0 });
  await screenshot(second, 'voter-late-change-refused');
});

test('a poll that allows revotes offers "Change vote", and counts the new choice', async () => {
  const poll = await admin.openPoll({ title: 'Best season?', options: ['Spring', 'Autumn'], allow_revote: true });
  const page = await (await browser.newContext(PHONE)).newPage();
  await page.goto(poll.vote_url);
  await page.getByRole('radio', { name: 'Spring' }).click();
  await page.getByRole('button', { name: 'Vote', exact: true }).click();
  await status(page, 'Your vote was counted: Spring. You can change it until the poll closes.');
  await page.getByRole('radio', { name: 'Autumn' }).click();
  await page.getByRole('button', { name: 'Change vote', exact: true }).click();
  await status(page, 'Your vote was counted: Autumn.');
  const results = await admin.resultsWhen(poll.id, (r) => r.counts.o2 === 1);
  assert.deepEqual(results.counts, { o1: 0, o2: 1 });
  assert.equal(results.ballots, 1);
  await screenshot(page, 'voter-changed-vote');
});

test('a vote the pipeline rejects shows its reason: sent after the close', async () => {
  const poll = await admin.openPoll({ title: 'Last call?', options: ['Yes', 'No'], results_visibility: 'on_close' });
  const page = await (await browser.newContext(PHONE)).newPage();
  await page.goto(poll.vote_url);
  await page.getByRole('radio', { name: 'Yes' }).waitFor({ timeout: WAIT });
  // The page has not heard of the close yet: its view of the poll stays the open one.
  const open = await (await fetch(`${server.url}/v1/polls/${poll.id}`)).json();
  await page.route(`${server.url}/v1/polls/${poll.id}`, (route) => route.fulfill({ json: open }));
  await admin.transition(poll.id, 'close');

  await page.getByRole('radio', { name: 'Yes' }).click();
  await page.getByRole('button', { name: 'Vote', exact: true }).click();
  await status(page, 'Your vote was not counted: the poll was not open when your vote arrived (it has closed).');
  const results = await admin.results(poll.id);
  assert.equal(results.ballots, 0);
  await screenshot(page, 'voter-rejected-after-close');
});

test('an answer lost on the way is retried with backoff, and the vote counts once', async () => {
  const poll = await admin.openPoll({ title: 'Retry?', options: ['Once', 'Twice'] });
  const page = await (await browser.newContext(PHONE)).newPage();
  const requests = watchRequests(page, [server.url]);
  let publishes = 0;
  // The first publish reaches pollcast, but its answer is lost (the connection resets).
  await page.route(`${server.url}/topics/**`, async (route) => {
    publishes += 1;
    if (publishes === 1) {
      await route.fetch();
      await route.abort('connectionreset');
    } else {
      await route.continue();
    }
  });
  await page.goto(poll.vote_url);
  await page.getByRole('radio', { name: 'Once' }).click();
  await page.getByRole('button', { name: 'Vote', exact: true }).click();
  await status(page, 'Your vote was counted: Once.');
  assert.ok(publishes >= 2, `the vote was sent again (${publishes} publishes)`);
  const results = await admin.resultsWhen(poll.id, (r) => r.ballots >= 1);
  assert.equal(results.ballots, 1, 'sent twice, counted once');
  requests.check();
  await screenshot(page, 'voter-retried');
});

test('without a network the page keeps trying, and votes once it is back', async () => {
  const poll = await admin.openPoll({ title: 'Offline?', options: ['Here', 'There'] });
  const context = await browser.newContext(PHONE);
  const page = await context.newPage();
  await page.goto(poll.vote_url);
  await page.getByRole('radio', { name: 'Here', exact: true }).click();
  await context.setOffline(true);
  await page.getByRole('button', { name: 'Vote', exact: true }).click();
  await status(page, 'Connection lost. Retrying…');
  await context.setOffline(false);
  await status(page, 'Your vote was counted: Here.');
  const results = await admin.resultsWhen(poll.id, (r) => r.ballots >= 1);
  assert.equal(results.ballots, 1);
  await screenshot(page, 'voter-back-online');
});

test('a token the server no longer accepts is replaced by a new one for the same voter', async () => {
  const poll = await admin.openPoll({ title: 'Fresh token?', options: ['Yes', 'No'] });
  const context = await browser.newContext(PHONE);
  const page = await context.newPage();
  await page.goto(poll.vote_url);
  await page.getByRole('radio', { name: 'Yes' }).waitFor({ timeout: WAIT });
  const voter = await voterOf(page, poll.id);
  // As if it had expired: the server refuses it (401), though the page thinks it still good.
  await page.evaluate((key) => {
    const kept = JSON.parse(window.sessionStorage.getItem(key));
    window.sessionStorage.setItem(key, JSON.stringify({ ...kept, token: 'expired-token' }));
  }, `pollcast.token.${poll.id}`);
  await page.reload();
  await page.getByRole('radio', { name: 'Yes' }).click();
  await page.getByRole('button', { name: 'Vote', exact: true }).click();
  await status(page, 'Your vote was counted: Yes.');
  assert.equal(await voterOf(page, poll.id), voter, 'the new token is for the same voter');
  await screenshot(page, 'voter-token-renewed');
});

test('a poll that does not exist says so', async () => {
  const page = await (await browser.newContext(PHONE)).newPage();
  const response = await page.goto(`${server.url}/p/noSuchPoll`);
  assert.equal(response.status(), 404);
  await page.getByRole('heading', { name: 'Poll not found' }).waitFor({ timeout: WAIT });
  assert.equal(await page.title(), 'Poll not found · pollcast');
  await screenshot(page, 'voter-not-found');
});
