// An event in a real Chromium: a phone joins by code and answers a rating and an open-text
// question as the presenter moves on; the presenter screen follows and shows the histogram with
// its mean, then the word cloud (words keep their place as counts change) and the list; an admin
// hides an answer on the moderation page and it leaves the presenter's screen. Every page
// passes axe-core.
import assert from 'node:assert/strict';
import { test } from 'node:test';

import {
  ADMIN_KEY,
  layoutFaults,
  PHONE,
  PROJECTOR,
  screenshot,
  serverAndBrowser,
  seriousViolations,
  until,
  WAIT,
  watchRequests,
} from './support.mjs';

const shared = serverAndBrowser();

/** Publishes `answer` ({value} or {texts}) on `poll` as a new voter of the event. */
async function answerAs(event, poll, answer) {
  const { server } = shared;
  const minted = await fetch(`${server.url}/v1/events/${event.id}/tokens`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ poll_id: poll }),
  });
  assert.equal(minted.status, 201);
  const token = await minted.json();
  const published = await fetch(`${token.http_endpoint}/topics/${token.cache}/${token.votes_topic}`, {
    method: 'POST',
    headers: { Authorization: token.token, 'Content-Type': 'text/plain' },
    body: JSON.stringify({ poll_id: poll, ...answer }),
  });
  assert.equal(published.status, 204);
}

/** Where each word of the presenter's cloud sits. */
const cloudPlaces = (page) =>
  page.locator('#cloud li').evaluateAll((cells) =>
    Object.fromEntries(cells.map((c) => [c.dataset.word, [c.getBoundingClientRect().left, c.getBoundingClientRect().top]])),
  );

test('a phone joins by code and answers as the presenter moves on; a hidden answer leaves the screen', async () => {
  const { server, browser, admin } = shared;
  const rating = await admin.createPoll({
    title: 'How useful was this session?',
    kind: 'rating',
    scale: { min: 1, max: 5, min_label: 'Not at all', max_label: 'Very' },
  });
  const words = await admin.createPoll({ title: 'One word for Rust?', kind: 'open_text', max_length: 40 });
  const event = await admin.call('POST', '/v1/events', { title: 'Rust meetup', poll_ids: [rating.id, words.id] });

  // The projector and a phone, both on the event before any question.
  const stage = await (await browser.newContext(PROJECTOR)).newPage();
  const stageRequests = watchRequests(stage, [server.url]);
  await stage.goto(event.present_url);
  await stage.getByText('Waiting for the next question').waitFor({ timeout: WAIT });
  await stage.getByText(event.code, { exact: true }).waitFor({ timeout: WAIT });
  const phone = await (await browser.newContext(PHONE)).newPage();
  const phoneRequests = watchRequests(phone, [server.url]);
  await phone.goto(`${server.url}/j/${event.code.toLowerCase()}`);
  await phone.getByText('Waiting for the next question…').waitFor({ timeout: WAIT });
  assert.deepEqual(await seriousViolations(phone), [], 'the phone, waiting');

  // The presenter activates the rating: both pages follow by themselves.
  await admin.call('POST', `/v1/events/${event.id}/activate`, { poll_id: rating.id });
  await phone.getByRole('radio', { name: '4' }).waitFor({ timeout: WAIT });
  assert.deepEqual(await seriousViolations(phone), [], 'the rating ballot');
  assert.deepEqual(await layoutFaults(phone), [], 'the rating ballot at 360x740');
  await phone.locator('.scale-step', { hasText: '4' }).click();
  assert.equal(await phone.getByRole('radio', { name: '4' }).isChecked(), true);
  await phone.getByRole('button', { name: 'Vote', exact: true }).click();
  await phone.getByRole('status').filter({ hasText: 'Your vote was counted: 4.' }).waitFor({ timeout: WAIT });
  await answerAs(event, rating.id, { value: 5 });
  await until(stage, () => document.getElementById('ballots').textContent === '2');
  await stage.getByText('Mean 4.5 · Median 4.5').waitFor({ timeout: WAIT });
  await phone.getByText('Mean 4.5 · Median 4.5').waitFor({ timeout: WAIT });
  assert.deepEqual(await seriousViolations(stage), [], 'the histogram');
  assert.deepEqual(await layoutFaults(stage), [], 'the histogram at 1920x1080');
  await screenshot(phone, 'event-voter-rating');
  await screenshot(stage, 'event-presenter-rating');

  // The presenter moves on to the open question.
  await admin.call('POST', `/v1/events/${event.id}/activate`, { poll_id: words.id });
  const box = phone.getByRole('textbox', { name: 'Answer' });
  await box.waitFor({ timeout: WAIT });
  await box.fill('Fearless');
  await phone.getByText('8 / 40').waitFor({ timeout: WAIT });
  assert.deepEqual(await seriousViolations(phone), [], 'the open-text ballot');
  await phone.getByRole('button', { name: 'Vote', exact: true }).click();
  await phone.getByRole('status').filter({ hasText: 'Your vote was counted: “Fearless”.' }).waitFor({ timeout: WAIT });
  for (const texts of [['Fast'], ['fearless!'], ['Go away']]) await answerAs(event, words.id, { texts });
  await until(stage, () => ['fearless', 'fast', 'go away'].every((w) => document.querySelector(`#cloud li[data-word="${w}"]:not(.gone)`)));
  const places = await cloudPlaces(stage);
  await answerAs(event, words.id, { texts: ['fast'] });
  await until(stage, () => document.querySelector('#cloud li[data-word="fast"]').dataset.level === '5');
  assert.deepEqual(await cloudPlaces(stage), places, 'words keep their place as counts change');
  assert.deepEqual(await seriousViolations(stage), [], 'the word cloud');
  await screenshot(stage, 'event-presenter-cloud');
  await stage.getByRole('button', { name: 'List' }).click();
  await stage.locator('#entries li', { hasText: 'Go away' }).waitFor({ timeout: WAIT });
  assert.deepEqual(await seriousViolations(stage), [], 'the list of answers');

  // An admin hides an answer on the moderation page; it leaves the presenter's screen.
  const desk = await (await browser.newContext(PROJECTOR)).newPage();
  await desk.goto(`${server.url}/moderate/${words.id}`);
  await desk.getByLabel('Admin key').fill(ADMIN_KEY);
  await desk.getByRole('button', { name: 'Show answers' }).click();
  await desk.getByRole('button', { name: 'Hide: Go away' }).waitFor({ timeout: WAIT });
  assert.deepEqual(await seriousViolations(desk), [], 'the moderation page');
  await desk.getByRole('button', { name: 'Hide: Go away' }).click();
  await desk.getByRole('button', { name: 'Show: Go away' }).waitFor({ timeout: WAIT });
  await until(stage, () => ![...document.querySelectorAll('#entries li')].some((li) => li.textContent === 'Go away'));
  await stage.getByRole('button', { name: 'Word cloud' }).click();
  await until(stage, () => document.querySelector('#cloud li[data-word="go away"]').classList.contains('gone'));
  assert.deepEqual((await admin.results(words.id)).open_text.entries.map((e) => e.text).sort(), ['Fast', 'Fearless', 'fast', 'fearless!']);
  await screenshot(desk, 'event-moderation');
  await screenshot(phone, 'event-voter-text');

  for (const scheme of ['dark', 'light']) {
    await stage.emulateMedia({ colorScheme: scheme });
    await phone.emulateMedia({ colorScheme: scheme });
    assert.deepEqual(await seriousViolations(stage), [], `the cloud, ${scheme}`);
    assert.deepEqual(await seriousViolations(phone), [], `the phone, ${scheme}`);
  }
  phoneRequests.check();
  stageRequests.check();
});
