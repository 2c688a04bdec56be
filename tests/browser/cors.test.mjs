// `--cors-origins` and the voter cookie agree: a page of a listed origin on the same site as
// pollcast (another port of 127.0.0.1) takes voter tokens with the cookie, so it stays one
// voter; a listed origin of another site (localhost) may call, but its browser sends no
// SameSite=Lax cookie, so each token is a new voter, as `pollcast serve --help` says.
import assert from 'node:assert/strict';
import http from 'node:http';
import { after, before, test } from 'node:test';

import { adminApi, launchBrowser, startServer } from './support.mjs';

let page2;
let server;
let browser;
let admin;

before(async () => {
  // The second origin: an empty page on another port.
  page2 = http.createServer((_, response) => {
    response.writeHead(200, { 'Content-Type': 'text/html' });
    response.end('<!doctype html><title>another origin</title>');
  });
  await new Promise((resolve) => page2.listen(0, '127.0.0.1', resolve));
  const port = page2.address().port;
  server = await startServer(['--cors-origins', `http://127.0.0.1:${port},http://localhost:${port}`]);
  browser = await launchBrowser();
  admin = adminApi(server.url);
});

after(async () => {
  await browser?.close();
  await server?.stop();
  page2?.close();
});

/** The voter ids of two token requests made with credentials by a page at `origin`. */
async function twoVoters(origin, pollId) {
  const page = await (await browser.newContext()).newPage();
  await page.goto(`${origin}/`);
  return page.evaluate(
    async ([api, id]) => {
      const take = async () => {
        const response = await fetch(`${api}/v1/polls/${id}/tokens`, { method: 'POST', credentials: 'include' });
        if (response.status !== 201) throw new Error(`token: ${response.status}`);
        return (await response.json()).voter_id;
      };
      return [await take(), await take()];
    },
    [server.url, pollId],
  );
}

test('a listed origin of the same site keeps one voter through the cookie', async () => {
  const poll = await admin.openPoll({ title: 'Same site?', options: ['Yes', 'No'] });
  const [first, second] = await twoVoters(`http://127.0.0.1:${page2.address().port}`, poll.id);
  assert.equal(first, second, 'the voter cookie came back');
});

test('a listed origin of another site may call, but sends no cookie: a new voter each time', async () => {
  const poll = await admin.openPoll({ title: 'Another site?', options: ['Yes', 'No'] });
  const [first, second] = await twoVoters(`http://localhost:${page2.address().port}`, poll.id);
  assert.notEqual(first, second, 'SameSite=Lax kept the cookie from the cross-site request');
});
