// Swagger UI at /docs stays the admins' console, end to end in a real browser: authorize with
// the admin key, create a poll, open it, mint a voter token and see its vote URL, all under
// the page's Content-Security-Policy.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';

import { ADMIN_KEY, launchBrowser, screenshot, startServer, WAIT, watchRequests } from './support.mjs';

let server;
let browser;

before(async () => {
  server = await startServer();
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  await server?.stop();
});

/**
 * Runs the operation `operationId` (tag `tag`) from Swagger UI with `params` (path or query
 * parameters by name) and `body` (JSON, when it takes one); returns the status and the JSON
 * answer Swagger UI shows.
 */
async function tryOut(page, tag, operationId, params = {}, body = undefined) {
  const operation = page.locator(`#operations-${tag.replace(/ /g, '_')}-${operationId}`);
  await operation.locator('.opblock-summary').first().click();
  await operation.getByRole('button', { name: 'Try it out' }).click();
  for (const [name, value] of Object.entries(params)) {
    await operation.locator(`tr[data-param-name="${name}"] input`).fill(value);
  }
  if (body !== undefined) {
    await operation.locator('textarea.body-param__text').fill(JSON.stringify(body, null, 2));
  }
  await operation.getByRole('button', { name: 'Execute' }).click();
  const response = operation.locator('.live-responses-table .response').first();
  await response.waitFor({ timeout: WAIT });
  await response.scrollIntoViewIfNeeded();
  const status = Number((await response.locator('.response-col_status').textContent()).trim());
  const text = await response.locator('.response-col_description pre').first().textContent();
  return { status, json: JSON.parse(text) };
}

test('Swagger UI: authorize with the admin key, create a poll, open it, mint a token', async () => {
  const page = await (await browser.newContext({ viewport: { width: 1280, height: 900 } })).newPage();
  const requests = watchRequests(page, [server.url]);
  // Swagger UI runs under its Content-Security-Policy (scripts by hash, no framing): nothing
  // it needs may be refused.
  const refused = [];
  page.on('console', (m) => m.text().includes('Content Security Policy') && refused.push(m.text()));
  await page.goto(`${server.url}/docs`);

  // Authorize: the admin key for the AdminKey scheme.
  await page.getByRole('button', { name: 'Authorize' }).first().click();
  const dialog = page.locator('.modal-ux');
  const adminKey = dialog.locator('.auth-container', { hasText: 'AdminKey' });
  await adminKey.locator('input').fill(ADMIN_KEY);
  await adminKey.getByRole('button', { name: 'Apply credentials' }).click();
  await adminKey.getByText('Authorized').waitFor({ timeout: WAIT });
  await adminKey.locator('button.btn-done').click();

  const created = await tryOut(page, 'Polls', 'create_poll', {}, {
    title: 'Made in Swagger UI',
    options: ['Yes', 'No'],
  });
  assert.equal(created.status, 201, JSON.stringify(created.json));
  const id = created.json.id;
  assert.equal(created.json.state, 'draft');
  assert.equal(created.json.vote_url, `${server.url}/p/${id}`);

  const opened = await tryOut(page, 'Polls', 'open_poll', { id });
  assert.equal(opened.status, 200);
  assert.equal(opened.json.state, 'open');

  const token = await tryOut(page, 'Tokens', 'create_token', { id });
  assert.equal(token.status, 201, JSON.stringify(token.json));
  assert.ok(token.json.token_id.startsWith(`${id}:`));
  assert.ok(token.json.vote_url.startsWith(`${server.url}/p/${id}#token=`), token.json.vote_url);
  requests.check();
  assert.deepEqual(refused, [], 'the CSP refused something Swagger UI needs');
  await screenshot(page, 'swagger-token');

  // The vote URL Swagger UI showed is a working voter page.
  await page.goto(token.json.vote_url);
  await page.getByRole('radio', { name: 'Yes' }).waitFor({ timeout: WAIT });
  await screenshot(page, 'swagger-vote-url');
});
