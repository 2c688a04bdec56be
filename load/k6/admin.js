// admin.js: what admins do while a room votes, at a modest rate alongside vote.js or watch.js.
//
// Each iteration of `admins` is one admin session: create a poll (kinds in turn: single,
// multi, ranked), open it, mint a batch of voter tokens (POST /v1/polls/{id}/tokens/batch),
// read its results, close it, archive it. Every fourth iteration also creates a poll,
// schedules it an hour ahead and cancels it; every tenth lists the newest polls.
//
// Options (environment, `k6 run -e NAME=value admin.js`):
//   BASE_URL, ALLOW_REMOTE, ADMIN_KEY (required), TIMEOUT: as in vote.js.
//   ADMIN_RATE      admin sessions per second (default 2).
//   DURATION        how long (default 30s).
//   BATCH           voter tokens minted per session (default 50; the server takes 1..=500).
// Thresholds:
//   MAX_ERROR_RATE  http_req_failed (default 0.01); every call must also answer its documented
//                   status (check `admin call answered as documented`, at least 99%).
//   ADMIN_P95_MS    p95 of each admin call kind (default 500; batch minting: 4x).

import { check } from 'k6';
import exec from 'k6/execution';
import { adminCall, ADMIN_KEY, env, num, pollBody } from './lib.js';

const KINDS = ['single', 'multi', 'ranked'];
const P95 = num('ADMIN_P95_MS', 500);
const RATE = num('ADMIN_RATE', 2);

export const options = {
  scenarios: {
    admins: {
      executor: 'constant-arrival-rate',
      exec: 'session',
      rate: RATE,
      timeUnit: '1s',
      duration: env('DURATION', '30s'),
      preAllocatedVUs: Math.max(2, Math.ceil(RATE * 2)),
      maxVUs: Math.max(10, Math.ceil(RATE * 20)),
    },
  },
  thresholds: {
    http_req_failed: [`rate<${num('MAX_ERROR_RATE', 0.01)}`],
    checks: ['rate>0.99'],
    'http_req_duration{op:create}': [`p(95)<${P95}`],
    'http_req_duration{op:transition}': [`p(95)<${P95}`],
    'http_req_duration{op:results}': [`p(95)<${P95}`],
    'http_req_duration{op:batch_tokens}': [`p(95)<${P95 * 4}`],
  },
  summaryTrendStats: ['avg', 'min', 'med', 'p(90)', 'p(95)', 'p(99)', 'max'],
};

export function setup() {
  if (!ADMIN_KEY) exec.test.abort('admin.js needs ADMIN_KEY');
}

/** Calls, checks the status; returns the body or null. */
function call(method, path, body, op, expected) {
  const out = adminCall(method, path, body, op, expected);
  check(out, { 'admin call answered as documented': (o) => o !== null });
  return out;
}

export function session() {
  const i = exec.scenario.iterationInTest;
  const kind = KINDS[i % KINDS.length];
  const poll = call('POST', '/v1/polls', pollBody(`k6 admin ${i}`, kind, 3 + (i % 5)), 'create', 201);
  if (!poll) return;
  const path = `/v1/polls/${poll.id}`;
  if (!call('POST', `${path}/open`, null, 'transition', 200)) return;
  const voterIds = Array.from({ length: num('BATCH', 50) }, (_, k) => `admin${i}-${k}`);
  call('POST', `${path}/tokens/batch`, { voter_ids: voterIds }, 'batch_tokens', 201);
  call('GET', `${path}/results`, null, 'results', 200);
  call('POST', `${path}/close`, null, 'transition', 200);
  call('POST', `${path}/archive`, null, 'transition', 200);

  if (i % 4 === 0) {
    const later = call('POST', '/v1/polls', pollBody(`k6 admin ${i} later`, kind, 2), 'create', 201);
    if (later) {
      const opensAt = new Date(Date.now() + 3600 * 1000).toISOString();
      call('POST', `/v1/polls/${later.id}/schedule`, { opens_at: opensAt }, 'transition', 200);
      call('POST', `/v1/polls/${later.id}/cancel`, null, 'transition', 200);
    }
  }
  if (i % 10 === 0) call('GET', '/v1/polls?limit=50', null, 'list', 200);
}
