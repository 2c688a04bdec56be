// watch.js: a room full of screens watching the results while votes come in.
//
// - `longpoll`: WATCHERS VUs, each a voter page: it takes a voter token for the poll, then
//   long-polls the poll's results topic through Momento's HTTP topics API (first call 0/0 =
//   live only, then the last item's sequence number + 1 and its page), for DURATION. For every
//   results message it receives, trend `results_lateness` (ms) = when it arrived - the
//   message's `at` (when pollcast computed those results). Against a remote deployment that
//   difference includes the clock offset between the two machines.
// - `sse`: SSE_CLIENTS VUs reading `GET /v1/polls/{id}/results/stream?max_events=2`
//   (Server-Sent Events). k6 1.1.0 has no SSE or streaming HTTP client (no EventSource, no
//   fetch, no incremental body; SSE needs the xk6-sse extension, i.e. a custom k6 build), and
//   its HTTP client hands over a body only when the response ends. So each SSE client asks for
//   two events: the current results, then the next change, at which point pollcast ends the
//   response and k6 sees it; trend `sse_lateness` (ms) = when it arrived - that change's `at`.
//   A window without a change ends by its `timeout` (SSE_WINDOW; status 0, error_code 1050,
//   with what had arrived). Every window is checked (the snapshot first, `seq` strictly
//   increasing, no malformed event; keep-alive comments are not events), with
//   `sse_first_event` (time to the snapshot's first byte) and `sse_events` per window.
// - `changes`: CHANGE_RATE voters per second vote in the poll (token + publish, as in vote.js)
//   so there is something to watch.
//
// Options (environment, `k6 run -e NAME=value watch.js`):
//   BASE_URL, BASE_URLS, ALLOW_REMOTE, ADMIN_KEY, TIMEOUT, LONG_POLL_TIMEOUT: as in vote.js.
//   POLL_ID         the open poll (`live` results) to watch; unset: setup creates and opens one
//                   (needs ADMIN_KEY).
//   DURATION        how long to watch (default 30s).
//   WATCHERS        long-polling VUs (default 1000).
//   SSE_CLIENTS     SSE VUs (default 100; 0 for none).
//   SSE_WINDOW      seconds each SSE request stays open (default 10).
//   CHANGE_RATE     votes per second while watching (default 5; 0 for none, e.g. when
//                   vote.js votes in the same poll: scripts/loadtest --alongside watch).
// Thresholds:
//   MAX_ERROR_RATE  http_req_failed of the long polls and the votes (default 0.01); SSE windows
//                   end by timeout, which k6 counts as a failed request, so they are judged by
//                   `sse_errors` (rate below MAX_ERROR_RATE) instead.
//   LATENESS_P95_MS, LATENESS_P99_MS  results_lateness and sse_lateness, p95 and p99 (default
//                   1000, 2000).
//   EXPECT_CHANGES  1 (default): the long-polling watchers must see at least one results
//                   message (`results_seen` > 0); set 0 when nothing votes (CHANGE_RATE=0 and
//                   no vote.js alongside).

import { check, sleep } from 'k6';
import http from 'k6/http';
import exec from 'k6/execution';
import { Counter, Rate, Trend } from 'k6/metrics';
import {
  baseUrl, choicesFor, describePolls, env, num, openPoll, pollResults, publishVote, takeToken,
} from './lib.js';

const DURATION = env('DURATION', '30s');
const WATCHERS = num('WATCHERS', 1000);
const SSE_CLIENTS = num('SSE_CLIENTS', 100);
const SSE_WINDOW = num('SSE_WINDOW', 10);
const CHANGE_RATE = num('CHANGE_RATE', 5);
const MAX_ERROR_RATE = num('MAX_ERROR_RATE', 0.01);

const lateness = new Trend('results_lateness', true);
const seen = new Counter('results_seen');
const seqRegressions = new Counter('results_seq_regressions');
const sseEvents = new Counter('sse_events');
const sseFirstEvent = new Trend('sse_first_event', true);
const sseErrors = new Rate('sse_errors');
const sseLateness = new Trend('sse_lateness', true);

const scenarios = {};
const thresholds = {
  results_lateness: [`p(95)<${num('LATENESS_P95_MS', 1000)}`, `p(99)<${num('LATENESS_P99_MS', 2000)}`],
  results_seq_regressions: ['count==0'],
};
if (WATCHERS > 0) {
  scenarios.longpoll = { executor: 'constant-vus', exec: 'watcher', vus: WATCHERS, duration: DURATION, gracefulStop: '0s' };
  thresholds['http_req_failed{scenario:longpoll}'] = [`rate<${MAX_ERROR_RATE}`];
  if (env('EXPECT_CHANGES', '1') !== '0') thresholds.results_seen = ['count>0'];
}
if (SSE_CLIENTS > 0) {
  scenarios.sse = { executor: 'constant-vus', exec: 'sseClient', vus: SSE_CLIENTS, duration: DURATION, gracefulStop: `${SSE_WINDOW + 5}s` };
  thresholds.sse_errors = [`rate<${MAX_ERROR_RATE}`];
  thresholds.sse_lateness = [`p(95)<${num('LATENESS_P95_MS', 1000)}`, `p(99)<${num('LATENESS_P99_MS', 2000)}`];
}
if (CHANGE_RATE > 0) {
  scenarios.changes = {
    executor: 'constant-arrival-rate', exec: 'change', rate: CHANGE_RATE, timeUnit: '1s', duration: DURATION,
    preAllocatedVUs: Math.max(2, CHANGE_RATE), maxVUs: Math.max(10, CHANGE_RATE * 10),
  };
  thresholds['http_req_failed{scenario:changes}'] = [`rate<${MAX_ERROR_RATE}`];
}

export const options = {
  scenarios,
  thresholds,
  summaryTrendStats: ['avg', 'min', 'med', 'p(90)', 'p(95)', 'p(99)', 'max'],
};

export function setup() {
  const id = env('POLL_ID', '');
  return { poll: id ? describePolls([id])[0] : openPoll('k6 watch.js', 'single', 4) };
}

// This watcher's token, results cursor and the last `seq` it saw.
let watching = null;

export function watcher(data) {
  if (!watching) {
    const token = takeToken(data.poll.id, 'watch_token');
    if (!token) {
      sleep(1);
      return;
    }
    watching = { token, cursor: { seq: 0, page: 0 }, lastSeq: -1 };
  }
  const polled = pollResults(watching.token, watching.cursor);
  if (!polled.ok) {
    sleep(1); // as a page would back off; the failure is in http_req_failed
    return;
  }
  const now = Date.now();
  watching.cursor = polled.cursor;
  for (const results of polled.results) {
    lateness.add(now - parseTime(results.at));
    seen.add(1);
    if (results.seq <= watching.lastSeq) seqRegressions.add(1);
    watching.lastSeq = results.seq;
  }
}

/** Milliseconds since the epoch of an RFC 3339 time; digits past milliseconds are dropped. */
function parseTime(text) {
  return Date.parse(String(text).replace(/(\.\d{3})\d+/, '$1'));
}

/** Parses SSE text into `[{event, id, data}]`; a trailing incomplete event is left out. */
function sseParse(text) {
  const events = [];
  const blocks = text.split(/\r?\n\r?\n/);
  blocks.pop(); // what follows the last blank line is unfinished (or empty)
  for (const block of blocks) {
    const event = { event: 'message', data: '' };
    let fields = 0;
    for (const line of block.split(/\r?\n/)) {
      if (line === '' || line.startsWith(':')) continue; // keep-alive comments carry no event
      fields += 1;
      const colon = line.indexOf(':');
      const field = colon < 0 ? line : line.slice(0, colon);
      const value = colon < 0 ? '' : line.slice(colon + 1).replace(/^ /, '');
      if (field === 'data') event.data += (event.data ? '\n' : '') + value;
      else event[field] = value;
    }
    if (fields > 0) events.push(event);
  }
  return events;
}

export function sseClient(data) {
  // `max_events=2`: the answer completes as soon as the first change after the snapshot
  // arrives, so its lateness can be timed; a window without a change ends by timeout.
  const r = http.get(`${baseUrl()}/v1/polls/${data.poll.id}/results/stream?max_events=2`, {
    headers: { Accept: 'text/event-stream' },
    tags: { op: 'sse' },
    timeout: `${SSE_WINDOW}s`,
  });
  const arrived = Date.now();
  // The window ends by timeout (status 0, error_code 1050) with what arrived; a stream the
  // server ended early is fine too, as long as it answered 200.
  const windowed = r.status === 0 && r.error_code === 1050;
  const events = sseParse(String(r.body || ''));
  let ok = (windowed || r.status === 200) && events.length > 0;
  let last = -1;
  for (const event of events) {
    let results = null;
    try {
      results = JSON.parse(event.data);
    } catch (_) {
      ok = false;
    }
    if (event.event !== 'results' || !results || results.seq <= last) ok = false;
    if (results) last = results.seq;
  }
  if (events.length > 0) sseFirstEvent.add(r.timings.waiting);
  if (ok && r.status === 200 && events.length === 2) {
    sseLateness.add(Math.max(0, arrived - parseTime(JSON.parse(events[1].data).at)));
  }
  sseEvents.add(events.length);
  sseErrors.add(!ok);
  if (!ok) {
    console.warn(`sse window in error: status ${r.status}, error_code ${r.error_code}, ${events.length} events: ${String(r.body || '').slice(0, 300)}`);
    sleep(1); // a refused stream must not turn into a busy loop
  }
  check(r, { 'sse window: snapshot first, seq increasing': () => ok });
}

export function change(data) {
  const token = takeToken(data.poll.id);
  if (token) publishVote(token, data.poll, choicesFor(data.poll, exec.scenario.iterationInTest));
}
