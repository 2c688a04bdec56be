// The baseline of scripts/bench-webhook: Momento's signed webhook handled as a user could
// handle it without pollcast, by Node.js on Redis. Per vote it does what pollcast's pipeline
// must at the least (and no more): verify the signature (HMAC-SHA3-256 of the raw body) and
// the replay window, read the vote, claim the voter's ballot with SET NX, and count each choice
// with HINCRBY. No poll check, no ledger, no live results: a floor, not a rival product.
//
// Usage: node redis-handler.mjs PORT REDIS_URL SECRET   (prints "listening on PORT")
import { createHmac, timingSafeEqual } from 'node:crypto';
import http from 'node:http';

import { createClient } from 'redis';

const [port, redisUrl, secret] = process.argv.slice(2);
const WINDOW_MS = 60_000;

const redis = createClient({ url: redisUrl });
await redis.connect();

function verified(body, signature) {
  if (!signature) return false;
  const expected = createHmac('sha3-256', secret).update(body).digest();
  const given = Buffer.from(signature, 'hex');
  return given.length === expected.length && timingSafeEqual(given, expected);
}

function answer(response, status, body) {
  const text = JSON.stringify(body);
  response.writeHead(status, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(text) });
  response.end(text);
}

async function handle(request, response, body) {
  if (!verified(body, request.headers['momento-signature'])) return answer(response, 401, { error: 'signature' });
  let event;
  let vote;
  try {
    event = JSON.parse(body);
    vote = JSON.parse(event.text);
  } catch {
    return answer(response, 400, { error: 'malformed' });
  }
  if (Math.abs(Date.now() - event.publish_timestamp) > WINDOW_MS) return answer(response, 401, { error: 'stale' });
  const voter = event.token_id;
  const claimed = await redis.set(`ballot:${vote.poll_id}:${voter}`, vote.choices.join(','), { NX: true });
  if (claimed === null) return answer(response, 200, { outcome: 'duplicate' });
  await Promise.all(vote.choices.map((choice) => redis.hIncrBy(`tally:${vote.poll_id}`, choice, 1)));
  return answer(response, 200, { outcome: 'accepted' });
}

const server = http.createServer((request, response) => {
  const chunks = [];
  request.on('data', (chunk) => chunks.push(chunk));
  request.on('end', () => {
    handle(request, response, Buffer.concat(chunks)).catch((error) => answer(response, 503, { error: String(error) }));
  });
});
server.keepAliveTimeout = 60_000;
server.listen(Number(port), '127.0.0.1', () => console.log(`listening on ${port}`));
