// A "challenge": "pow" poll in a real Chromium: the voter page solves the proof of work by
// itself before it takes its token, says so in its status line while it works, and the vote
// counts; every request stays on pollcast's origin. A script on the same poll without the
// proof gets no token.
import assert from 'node:assert/strict';
import { test } from 'node:test';

import { layoutFaults, PHONE, screenshot, serverAndBrowser, WAIT, watchRequests } from './support.mjs';

const shared = serverAndBrowser();

test('a voter page solves the proof of work, says so, and its vote counts', async () => {
  const { server, browser, admin } = shared;
  const poll = await admin.openPoll({ title: 'Proof of work?', options: ['Yes', 'No'], challenge: 'pow' });
  assert.equal(poll.challenge, 'pow');

  const refused = await fetch(`${server.url}/v1/polls/${poll.id}/tokens`, { method: 'POST' });
  assert.equal(refused.status, 403, 'no token without the proof');

  const page = await (await browser.newContext(PHONE)).newPage();
  const requests = watchRequests(page, [server.url]);
  // Every text the status line shows, from the first one on (before the page's own script).
  await page.addInitScript(() => {
    window.statusTexts = [];
    document.addEventListener('DOMContentLoaded', () => {
      const status = document.getElementById('status');
      new MutationObserver(() => window.statusTexts.push(status.textContent)).observe(status, {
        childList: true,
        characterData: true,
        subtree: true,
      });
    });
  });
  await page.goto(poll.vote_url);
  await page.getByRole('radio', { name: 'Yes' }).click({ timeout: WAIT });
  await page.getByRole('button', { name: 'Vote', exact: true }).click();
  await page.getByRole('status').filter({ hasText: 'Your vote was counted: Yes.' }).waitFor({ timeout: WAIT });

  const texts = await page.evaluate(() => window.statusTexts);
  assert.ok(
    texts.includes('Checking this device before you vote…'),
    `the status line said it was working: ${JSON.stringify(texts)}`,
  );
  const solved = requests.seen.filter((u) => u.endsWith(`/v1/polls/${poll.id}/challenge`));
  assert.ok(solved.length >= 1, 'the page asked for a puzzle');
  requests.check();
  assert.deepEqual(await layoutFaults(page), []);
  const results = await admin.resultsWhen(poll.id, (r) => r.ballots >= 1);
  assert.deepEqual(results.counts, { o1: 1, o2: 0 });
  await screenshot(page, 'voter-pow-counted');
});
