// Shared by vote.js, watch.js and admin.js: settings from the environment, the loopback guard,
// and the pollcast and HTTP-topics calls each scenario makes. Plain k6 (no extensions, no
// remote imports). Secrets (the admin key, voter tokens) are sent, never logged.

import { sleep } from 'k6';
import http from 'k6/http';
import exec from 'k6/execution';
import { Counter } from 'k6/metrics';

/** An environment variable, or `fallback` when unset or empty. */
export function env(name, fallback) {
  const value = __ENV[name];
  return value === undefined || value === '' ? fallback : value;
}

/** A numeric environment variable. */
export function num(name, fallback) {
  const raw = env(name, undefined);
  if (raw === undefined) return fallback;
  const value = Number(raw);
  if (!Number.isFinite(value)) throw new Error(`${name}=${raw} is not a number`);
  return value;
}

/** Seconds in a k6 duration such as `45s`, `2m`, `1m30s`, `500ms` or a bare number of seconds. */
export function seconds(text) {
  if (/^\d+(\.\d+)?$/.test(text)) return Number(text);
  const re = /(\d+(?:\.\d+)?)(ms|s|m|h)/g;
  const unit = { ms: 0.001, s: 1, m: 60, h: 3600 };
  let total = 0;
  let matched = '';
  for (const m of text.matchAll(re)) {
    total += Number(m[1]) * unit[m[2]];
    matched += m[0];
  }
  if (matched !== text) throw new Error(`not a duration: ${text}`);
  return total;
}

/** pollcast's base URL, without a trailing slash. */
export const BASE_URL = env('BASE_URL', 'http://127.0.0.1:8080').replace(/\/+$/, '');
/**
 * Replicas of one deployment (BASE_URLS, comma-separated; default: BASE_URL alone): each VU
 * takes its voter tokens and watches its SSE streams at one of them, spread by VU number, as a
 * load balancer would. Admin calls go to BASE_URL.
 */
export const BASE_URLS = env('BASE_URLS', BASE_URL).split(',').map((u) => u.trim().replace(/\/+$/, '')).filter((u) => u);
/** The replica this VU talks to (BASE_URL in `setup`, which runs outside any VU). */
export function baseUrl() {
  const vu = exec.vu.idInTest;
  return vu > 0 ? BASE_URLS[vu % BASE_URLS.length] : BASE_URL;
}
/** Timeout of every request but the long polls and SSE windows. */
export const TIMEOUT = env('TIMEOUT', '10s');
/** The admin key, when the scenario needs one (never printed). */
export const ADMIN_KEY = env('ADMIN_KEY', '');

const LOOPBACK = /^https?:\/\/(127\.\d+\.\d+\.\d+|localhost|\[::1\])(:\d+)?(\/|$)/;

/**
 * Refuses to send load anywhere but this machine unless ALLOW_REMOTE=1: a load test pointed at
 * the wrong URL is an attack. Checked for BASE_URL and for every token's `http_endpoint`.
 */
export function guard(url) {
  if (env('ALLOW_REMOTE', '0') !== '1' && !LOOPBACK.test(url)) {
    exec.test.abort(`refusing to load ${url}: not a loopback address (set ALLOW_REMOTE=1 for a deployment you own)`);
  }
  return url;
}
guard(BASE_URL);
BASE_URLS.forEach(guard);

function admin(op) {
  if (!ADMIN_KEY) exec.test.abort('ADMIN_KEY is required to create polls');
  return {
    headers: { Authorization: `Bearer ${ADMIN_KEY}`, 'Content-Type': 'application/json' },
    tags: { op },
    timeout: TIMEOUT,
  };
}

/** Calls an admin endpoint; returns the parsed body, or null (and logs why) when the status differs. */
export function adminCall(method, path, body, op, expected) {
  const r = http.request(method, `${BASE_URL}${path}`, body === null ? null : JSON.stringify(body), admin(op));
  if (r.status !== expected) {
    console.warn(`${method} ${path}: ${r.status} ${r.error || ''} ${String(r.body || '').slice(0, 200)}`);
    return null;
  }
  return r.body ? r.json() : {};
}

/** The words open-text voters answer with (one or two each; none a stop word). */
export const WORDS = ['rust', 'go', 'zig', 'swift', 'kotlin', 'elixir', 'ocaml', 'haskell', 'scala', 'julia', 'nim'];

/**
 * Poll bodies by kind: `single`, `multi` (up to 2 choices) or `ranked` with `options` options;
 * `rating` with a scale of `options` values from 1 (2..=11); `open_text` with up to 2 answers.
 */
export function pollBody(title, kind, options) {
  if (kind === 'rating') {
    return { title, kind, scale: { min: 1, max: Math.min(11, Math.max(2, options)) }, results_visibility: 'live' };
  }
  if (kind === 'open_text') return { title, kind, max_entries: 2, max_length: 40, results_visibility: 'live' };
  const body = {
    title,
    kind,
    options: Array.from({ length: options }, (_, i) => `Option ${i + 1}`),
    results_visibility: 'live',
  };
  if (kind === 'multi') body.max_choices = 2;
  return body;
}

/**
 * What voters answer in a poll, as `choicesFor` picks from: option ids; a rating poll's values
 * (as text); an open-text poll's words.
 */
export function answersOf(poll) {
  if (poll.kind === 'rating') {
    return Array.from({ length: poll.scale.max - poll.scale.min + 1 }, (_, k) => String(poll.scale.min + k));
  }
  if (poll.kind === 'open_text') return WORDS.slice(0, 4);
  return poll.options.map((o) => o.id);
}

/** Creates and opens a poll; returns `{id, kind, options: [option ids]}` or aborts the test. */
export function openPoll(title, kind, options) {
  const poll = adminCall('POST', '/v1/polls', pollBody(title, kind, options), 'create', 201);
  if (!poll) exec.test.abort(`could not create a ${kind} poll`);
  if (!adminCall('POST', `/v1/polls/${poll.id}/open`, null, 'transition', 200)) {
    exec.test.abort(`could not open poll ${poll.id}`);
  }
  return { id: poll.id, kind, options: answersOf(poll) };
}

/** Reads `/v1/polls/{id}` for each id (public view) into `{id, kind, options}`. */
export function describePolls(ids) {
  return ids.map((id) => {
    const r = http.get(`${BASE_URL}/v1/polls/${id}`, { tags: { op: 'poll' }, timeout: TIMEOUT });
    if (r.status !== 200) exec.test.abort(`poll ${id}: ${r.status}`);
    const poll = r.json();
    return { id, kind: poll.kind, options: answersOf(poll) };
  });
}

// A server past its bounds answers 429 or 503 with Retry-After, before doing anything: an
// answer, not a failure, so k6 does not count it in http_req_failed; clients retry after it.
http.setResponseCallback(http.expectedStatuses({ min: 200, max: 399 }, 429, 503));

/** Tries a refused call again at most this many times (RETRIES, default 4)... */
const RETRIES = num('RETRIES', 4);
/** ...and only while the wait stays within this many seconds of the first try (RETRY_BUDGET). */
const RETRY_BUDGET = num('RETRY_BUDGET', 20);

/** 429 and 503 answers (refused before anything was done), by op. */
export const refusals = new Counter('refusals');
/** Refusals without a usable Retry-After (must stay 0: a client cannot know when to come back). */
export const refusalsWithoutRetryAfter = new Counter('refusals_without_retry_after');

/**
 * Sends `call()` (a k6 request) and, while it is refused with 429 or 503, waits what its
 * `Retry-After` asks plus up to half as much again at random (so voters refused together do not
 * return together) and sends it again, within RETRIES and RETRY_BUDGET, as the voter page does.
 * Returns `{r, sent, refused}`: the last response, how many requests were sent, and how many
 * of them were refused.
 */
export function withRetry(call, op) {
  const started = Date.now();
  let refused = 0;
  for (;;) {
    const r = call();
    if (r.status !== 429 && r.status !== 503) return { r, sent: refused + 1, refused };
    refusals.add(1, { op });
    refused += 1;
    const asked = Number.parseInt(r.headers['Retry-After'] || '', 10);
    if (!(asked > 0)) refusalsWithoutRetryAfter.add(1, { op });
    const wait = (asked > 0 ? asked : 1) * (1 + Math.random() * 0.5);
    if (refused > RETRIES || Date.now() - started + wait * 1000 > RETRY_BUDGET * 1000) {
      return { r, sent: refused, refused };
    }
    sleep(wait);
  }
}

/** A fresh anonymous voter token for an open poll (retried after refusals), or null when refused. */
export function takeToken(pollId, op = 'token') {
  const url = `${baseUrl()}/v1/polls/${pollId}/tokens`;
  const { r } = withRetry(() => http.post(url, null, { tags: { op }, timeout: TIMEOUT }), op);
  if (r.status !== 201) return null;
  const token = r.json();
  guard(token.http_endpoint);
  return token;
}

/** The choices voter number `i` makes in `poll` (deterministic, so a run can be re-checked). */
export function choicesFor(poll, i) {
  const n = poll.options.length;
  const at = (k) => poll.options[(i + k) % n];
  switch (poll.kind) {
    case 'multi':
      return i % 3 === 0 ? [at(0)] : [at(0), at(1)];
    case 'ranked':
      return Array.from({ length: 1 + (i % n) }, (_, k) => at(k));
    case 'open_text':
      return i % 3 === 0 ? [at(0), at(1)] : [at(0)];
    default: // single, rating: one
      return [at(0)];
  }
}

/** The vote message of `choices` (as `choicesFor` makes them) in a poll of `kind`. */
export function voteMessage(pollId, kind, choices) {
  if (kind === 'rating') return { poll_id: pollId, value: Number(choices[0]) };
  if (kind === 'open_text') return { poll_id: pollId, texts: choices };
  return { poll_id: pollId, choices };
}

/**
 * Publishes a vote with the token through the HTTP topics API, retried after refusals
 * (`withRetry`). `poll` is `{id, kind}` (or a bare id: a choice poll).
 */
export function publishVote(token, poll, choices, op = 'publish') {
  const { id, kind } = typeof poll === 'string' ? { id: poll, kind: 'single' } : poll;
  const url = `${token.http_endpoint}/topics/${token.cache}/${token.votes_topic}`;
  const body = JSON.stringify(voteMessage(id, kind, choices));
  const params = {
    headers: { Authorization: token.token, 'Content-Type': 'text/plain' },
    tags: { op },
    timeout: TIMEOUT,
  };
  return withRetry(() => http.post(url, body, params), op);
}

/** Server's longest long-poll wait is 30 s: give each long poll a little more. */
export const LONG_POLL_TIMEOUT = env('LONG_POLL_TIMEOUT', '40s');

/**
 * One long poll of the token's results topic from `cursor` (`{seq, page}`; `{0, 0}` = live
 * only). Returns `{ok, results: [parsed results messages], cursor}`: the cursor to poll from
 * next (after the last item, or where a discontinuity says).
 */
export function pollResults(token, cursor, op = 'results_poll', timeout = LONG_POLL_TIMEOUT) {
  const url = `${token.http_endpoint}/topics/${token.cache}/${token.results_topic}`
    + `?sequence_number=${cursor.seq}&sequence_page=${cursor.page}`;
  const r = http.get(url, { headers: { Authorization: token.token }, tags: { op }, timeout });
  if (r.status !== 200) return { ok: false, results: [], cursor };
  let next = cursor;
  const results = [];
  for (const element of r.json('items') || []) {
    if (element.item) {
      next = { seq: element.item.topic_sequence_number + 1, page: element.item.sequence_page };
      const text = element.item.value && element.item.value.text;
      if (text) results.push(JSON.parse(text));
    } else if (element.discontinuity) {
      next = { seq: element.discontinuity.new_topic_sequence, page: element.discontinuity.new_sequence_page };
    }
  }
  return { ok: true, results, cursor: next };
}

/** A deterministic share test: true for about `share` (0..1) of all `i`. */
export function inShare(i, share) {
  // Knuth's multiplicative hash spreads consecutive voters evenly.
  return ((Math.imul(i, 2654435761) >>> 0) % 10000) < share * 10000;
}
