// webhook.js: Momento's webhook calls, as fast as VUS callers can send them: each iteration
// POSTs one signed vote event (a unique voter) to TARGET and expects 200. The events are made
// beforehand (BODIES: a JSON array of {body, signature}, made by scripts/bench-webhook with
// fresh timestamps, since k6 has no HMAC-SHA3-256), so what is measured is the receiver alone.
// scripts/bench-webhook runs it against pollcast's POST /v1/webhooks/momento and against a
// Node.js handler on Redis with the same profile.
//
// Options (environment):
//   TARGET      the webhook URL (loopback only unless ALLOW_REMOTE=1)
//   BODIES      path of the events file
//   VUS         concurrent callers (default 64)
//   DURATION    how long (default 10s)

import { check } from 'k6';
import { SharedArray } from 'k6/data';
import exec from 'k6/execution';
import http from 'k6/http';
import { Counter } from 'k6/metrics';
import { env, guard, num } from './lib.js';

const TARGET = guard(env('TARGET', 'http://127.0.0.1:8080/v1/webhooks/momento'));
const events = new SharedArray('events', () => JSON.parse(open(env('BODIES', 'events.json'))));
const accepted = new Counter('votes_accepted');
const exhausted = new Counter('events_exhausted');

export const options = {
  scenarios: {
    callers: {
      executor: 'constant-vus',
      vus: num('VUS', 64),
      duration: env('DURATION', '10s'),
      gracefulStop: '5s',
    },
  },
  thresholds: { http_req_failed: ['rate<0.01'] },
  summaryTrendStats: ['avg', 'med', 'p(95)', 'p(99)', 'max'],
};

export default function () {
  const i = exec.scenario.iterationInTest;
  if (i >= events.length) {
    exhausted.add(1);
    exec.test.abort(`only ${events.length} events were made: make more (EVENTS)`);
    return;
  }
  const event = events[i];
  const r = http.post(TARGET, event.body, {
    headers: { 'Content-Type': 'application/json', 'momento-signature': event.signature },
    tags: { op: 'webhook' },
  });
  if (check(r, { 'answered 200': (res) => res.status === 200 }) && r.json('outcome') === 'accepted') {
    accepted.add(1);
  }
}
