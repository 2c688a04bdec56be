// Voters vote in a real Chromium, as people do: two pick a radio button by its label and press
// "Vote", a third ranks with the keyboard only; the presenter screens, open all along, show
// every count change without a reload. Then the pages pass axe-core and the layout checks at
// a phone's size (360x740) and a projector's (1920x1080).
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';

import {
  adminApi,
  launchBrowser,
  layoutFaults,
  screenshot,
  seriousViolations,
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

/** Waits until the presenter shows `ballots` and, per option label, its votes. */
function presenterShows(page, ballots, votes) {
  return until(
    page,
    ([ballots, votes]) => {
      if (document.getElementById('ballots').textContent !== String(ballots)) return false;
      const rows = [...document.querySelectorAll('#bars li')];
      return Object.entries(votes).every(([label, n]) =>
        rows.some(
          (row) =>
            row.querySelector('.bar-label').textContent === label &&
            row.querySelector('.bar-value').textContent.startsWith(`${n} vote`),
        ),
      );
    },
    [ballots, votes],
  );
}

/** A presenter screen at projector size that records whether it ever navigates again. */
async function openPresenter(poll) {
  const context = await browser.newContext(PROJECTOR);
  const page = await context.newPage();
  const requests = watchRequests(page, [server.url]);
  let navigations = 0;
  page.on('framenavigated', (frame) => {
    if (frame === page.mainFrame()) navigations += 1;
  });
  await page.goto(poll.present_url);
  await presenterShows(page, 0, {});
  return { page, requests, navigations: () => navigations };
}

/** Presses Tab until the button named `name` has the focus (keyboard only, as a person would). */
async function tabTo(page, name) {
  const target = page.getByRole('button', { name, exact: true });
  for (let presses = 0; presses < 40; presses += 1) {
    await page.keyboard.press('Tab');
    if (await target.evaluate((element) => element === document.activeElement)) return;
  }
  throw new Error(`Tab never reached the button "${name}"`);
}

test('two voters pick their option and press Vote; a third ranks by keyboard; the presenters follow live', async () => {
  const lunch = await admin.openPoll({ title: 'Where shall we have lunch?', options: ['Pizza', 'Sushi', 'Tacos'] });
  const talks = await admin.openPoll({ title: 'Rank the talks', kind: 'ranked', options: ['Rust', 'Go', 'Zig'] });
  const lunchScreen = await openPresenter(lunch);
  const talksScreen = await openPresenter(talks);

  // Two voters, each in a browser context of their own (a phone each).
  const tallies = [
    ['Pizza', { Pizza: 1, Sushi: 0, Tacos: 0 }],
    ['Sushi', { Pizza: 1, Sushi: 1, Tacos: 0 }],
  ];
  // Where each bar row of the presenter sits: updates must not move any.
  const rows = (page) =>
    page.locator('#bars li').evaluateAll((items) =>
      items.map((li) => {
        const box = li.getBoundingClientRect();
        return [li.dataset.id, box.top, box.left, box.width, box.height];
      }),
    );
  const layoutBefore = await rows(lunchScreen.page);
  let voter;
  for (const [i, [choice, expected]] of tallies.entries()) {
    const context = await browser.newContext(PHONE);
    voter = await context.newPage();
    const requests = watchRequests(voter, [server.url]);
    await voter.goto(lunch.vote_url);
    assert.equal(await voter.title(), 'Where shall we have lunch? · Vote · pollcast');
    await voter.getByRole('radio', { name: choice }).click();
    await voter.getByRole('button', { name: 'Vote', exact: true }).click();
    await voter
      .getByRole('status')
      .filter({ hasText: `Your vote was counted: ${choice}.` })
      .waitFor({ timeout: WAIT });
    await presenterShows(lunchScreen.page, i + 1, expected);
    requests.check();
  }
  // The second voter sees live results once counted.
  await voter.getByRole('heading', { name: 'Live results' }).waitFor({ timeout: WAIT });
  await until(voter, () => document.getElementById('ballots').textContent === '2 ballots counted.');
  assert.deepEqual(await layoutFaults(voter), [], 'the voter page at 360x740');
  await screenshot(voter, 'voter-single-counted');

  // A third voter ranks Zig first, then Rust, then Go, with the keyboard only.
  const context = await browser.newContext(PHONE);
  const ranker = await context.newPage();
  const rankerRequests = watchRequests(ranker, [server.url]);
  await ranker.goto(talks.vote_url);
  await ranker.getByRole('button', { name: 'Move up: Zig' }).waitFor({ timeout: WAIT });
  assert.deepEqual(await layoutFaults(ranker), [], 'the ranked ballot at 360x740');
  await tabTo(ranker, 'Move up: Zig');
  await ranker.keyboard.press('Enter');
  await ranker.keyboard.press('Enter');
  const order = await ranker.locator('.rank-label').allTextContents();
  assert.deepEqual(order, ['Zig', 'Rust', 'Go']);
  await tabTo(ranker, 'Vote');
  await ranker.keyboard.press('Enter');
  await ranker
    .getByRole('status')
    .filter({ hasText: 'Your vote was counted: 1. Zig, 2. Rust, 3. Go.' })
    .waitFor({ timeout: WAIT });
  await presenterShows(talksScreen.page, 1, { Zig: 1, Rust: 0, Go: 0 });
  await talksScreen.page.getByText('Round 1 of 1 · Winner: Zig').waitFor({ timeout: WAIT });
  rankerRequests.check();
  await screenshot(ranker, 'voter-ranked-counted');

  assert.deepEqual(await rows(lunchScreen.page), layoutBefore, 'no layout jump as results update');

  // The counts are the pipeline's, not only the pages'.
  const results = await admin.results(lunch.id);
  assert.deepEqual(results.counts, { o1: 1, o2: 1, o3: 0 });

  // The presenters never reloaded, fit a projector, and never left pollcast.
  for (const screen of [lunchScreen, talksScreen]) {
    assert.equal(screen.navigations(), 1, 'the presenter never navigated again');
    assert.deepEqual(await layoutFaults(screen.page), [], 'the presenter at 1920x1080');
    screen.requests.check();
  }
  await screenshot(lunchScreen.page, 'presenter-single');
  await screenshot(talksScreen.page, 'presenter-ranked');
  // And on a laptop.
  await lunchScreen.page.setViewportSize({ width: 1366, height: 768 });
  assert.deepEqual(await layoutFaults(lunchScreen.page), [], 'the presenter at 1366x768');
  await screenshot(lunchScreen.page, 'presenter-laptop');
});

test('the voter page and the presenter screen have no serious or critical accessibility violation', async () => {
  const poll = await admin.openPoll({
    title: 'Which features next?',
    description: 'Pick up to two.',
    kind: 'multi',
    max_choices: 2,
    options: ['Dark mode', 'Exports', 'Webhooks'],
  });
  const ranked = await admin.openPoll({ title: 'Order of talks', kind: 'ranked', options: ['A', 'B', 'C'] });
  const phone = await browser.newContext(PHONE);
  const page = await phone.newPage();

  // The ballot, then the limit reached (the rest disabled), then counted with live results.
  await page.goto(poll.vote_url);
  await page.getByRole('checkbox', { name: 'Dark mode' }).waitFor({ timeout: WAIT });
  assert.deepEqual(await seriousViolations(page), [], 'the multi-choice ballot');
  await page.getByRole('checkbox', { name: 'Dark mode' }).click();
  await page.getByRole('checkbox', { name: 'Webhooks' }).click();
  assert.equal(await page.getByRole('checkbox', { name: 'Exports' }).isDisabled(), true);
  await page.getByRole('button', { name: 'Vote', exact: true }).click();
  await page.getByRole('status').filter({ hasText: 'Your vote was counted' }).waitFor({ timeout: WAIT });
  await page.getByRole('heading', { name: 'Live results' }).waitFor({ timeout: WAIT });
  await until(page, () => document.querySelectorAll('#bars li').length === 3);
  assert.deepEqual(await seriousViolations(page), [], 'counted, with live results');
  assert.deepEqual(await layoutFaults(page), []);
  await screenshot(page, 'voter-multi-counted');

  await page.goto(ranked.vote_url);
  await page.getByRole('button', { name: 'Move down: A' }).waitFor({ timeout: WAIT });
  assert.deepEqual(await seriousViolations(page), [], 'the ranked ballot');
  // Dragged by its handle (pointer events: a mouse here, a finger on a phone): C to the top.
  const handle = page.locator('.rank-item', { hasText: 'C' }).locator('.grip');
  await handle.dragTo(page.locator('.rank-item', { hasText: 'A' }), { targetPosition: { x: 10, y: 2 } });
  assert.deepEqual(await page.locator('.rank-label').allTextContents(), ['C', 'A', 'B']);
  assert.equal(await page.locator('.rank-item.dragging').count(), 0, 'dropped');

  const projector = await browser.newContext(PROJECTOR);
  const stage = await projector.newPage();
  await stage.goto(poll.present_url);
  await presenterShows(stage, 1, { 'Dark mode': 1, Exports: 0, Webhooks: 1 });
  assert.deepEqual(await seriousViolations(stage), [], 'the presenter screen');
  await screenshot(stage, 'presenter-multi');

  for (const scheme of ['dark', 'light']) {
    await page.emulateMedia({ colorScheme: scheme });
    await stage.emulateMedia({ colorScheme: scheme });
    assert.deepEqual(await seriousViolations(page), [], `the voter page, ${scheme}`);
    assert.deepEqual(await seriousViolations(stage), [], `the presenter, ${scheme}`);
    await screenshot(page, `voter-ranked-${scheme}`);
    await screenshot(stage, `presenter-${scheme}`);
  }
});
