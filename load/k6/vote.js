// vote.js: the minute when the whole room votes at once.
//
// Each iteration of the `voters` scenario is one voter: it takes a voter token for an open
// poll (POST /v1/polls/{id}/tokens), then publishes its vote with that token through Momento's
// HTTP topics API at the token's `http_endpoint` (POST {http_endpoint}/topics/{cache}/{votes}).
// A share of voters publish the same vote twice (a duplicate, which must count once). Voters
// arrive at a fixed rate (`constant-arrival-rate`) or ramp up to it and down again
// (`ramping-arrival-rate`), as many as arrive, whatever the server's speed (an open model).
//
// The `probe` scenario measures publish-to-results: each probe VU owns a poll of its own in
// which only it votes, one vote at a time, and long-polls that poll's results topic as the voter
// page does, so the first results message whose `ballots` reaches the probe's count is exactly
// the arrival of its vote. Trend `publish_to_results` (ms) = that arrival - the publish.
// TODO(issue 10): once `GET /v1/polls/{id}/ballot` exists, a voter can also poll its own ballot
// status; `probeOnce` below is the one place to switch.
//
// A call refused with 429 or 503 (the server past its bounds, which answers before doing
// anything) is tried again after its Retry-After plus jitter, as the voter page does (RETRIES,
// RETRY_BUDGET; `withRetry` in lib.js); counter `refusals` counts such answers by op.
//
// Every voter writes JSON lines with console.log, never the token itself: {"rec":"voter", poll,
// token_id, choices} once it holds a token; then, per publish, {"rec":"publish", token_id}
// before it and {"rec":"sent", poll, token_id, sent, acked, refused} once it (with its retries)
// is answered; `refused` of the `sent` requests were refused, so they did nothing. A publish
// the end of the run interrupted has no "sent" line: it may or may not count. Run k6 with
// `--console-output FILE` to keep them (`--log-format json` puts each in a `msg` field, one per
// line): scripts/loadtest checks from that file that the tallies equal the voters whose
// publish was acknowledged (nothing lost, nothing doubled).
//
// Works unchanged against a local `pollcast serve` and a deployment on Momento's service: the
// publish URL is whatever the token response names.
//
// Options (environment, `k6 run -e NAME=value vote.js`):
//   BASE_URL        pollcast's URL (default http://127.0.0.1:8080). Loopback only unless
//   ALLOW_REMOTE=1  is set (and then only at a deployment you own).
//   BASE_URLS       several replicas, comma-separated: each VU takes its tokens (and, in
//                   watch.js, its SSE streams) at one of them; admin calls stay at BASE_URL.
//   ADMIN_KEY       admin key; needed to create the polls (when POLL_IDS is unset) and the
//                   probe polls (when PROBES > 0). Sent, never logged.
//   POLL_IDS        comma-separated ids of open polls (`live` results) to vote in; unset: setup
//                   creates POLLS polls of KIND with OPTIONS options and opens them.
//   POLLS           polls to create (default 1: one room); voter i votes in poll i mod POLLS.
//   KIND            kind of the polls created: single | multi | ranked | rating | open_text
//                   (default single). Voter i's answer is a function of i (choicesFor in lib.js):
//                   option ids, a rating's value ({"value": n}), or one or two words of
//                   lib.js's WORDS ({"texts": [..]}).
//   OPTIONS         options per created poll (default 4; a rating poll's scale is 1..OPTIONS).
//   PROFILE         constant (constant-arrival-rate, default) | ramping (ramping-arrival-rate:
//                   0 -> RATE over the first quarter of DURATION, RATE for half, RATE -> 0 over
//                   the last quarter).
//   RATE            voters per second (ramping: the peak; default 100).
//   DURATION        how long voters arrive (default 30s; k6 durations: 45s, 2m, 1m30s).
//   PRE_VUS         VUs allocated up front (default RATE / 2, at least 10).
//   MAX_VUS         most VUs (default 1000): voters beyond it are dropped and counted by k6 as
//                   `dropped_iterations` (the server is too slow for the rate).
//   DUP_SHARE       share of voters that publish their vote twice (default 0.05).
//   PROBES          probe VUs (default 1; 0 = no publish-to-results trend).
//   PROBE_PAUSE     seconds between two probe votes of one probe VU (default 0.2).
//   PROBE_WAIT      seconds a probe waits for its vote in the results (default 30).
//   TIMEOUT         timeout of every request but long polls (default 10s).
//   RETRIES         times a refused call (429/503) is tried again (default 4)...
//   RETRY_BUDGET    ...within this many seconds of its first try (default 20).
//   LONG_POLL_TIMEOUT  timeout of a long poll (default 40s; the server answers within 30 s).
// Thresholds (the test fails, k6 exits 99, when one is crossed):
//   MAX_ERROR_RATE  http_req_failed below this (default 0.01); refusals (429/503) are answers,
//                   not failures, but each must carry Retry-After (refusals_without_retry_after
//                   stays 0).
//   TOKEN_P95_MS, TOKEN_P99_MS      token calls, p95 and p99 (default 500, 1000).
//   PUBLISH_P95_MS, PUBLISH_P99_MS  publishes, p95 and p99 (default 250, 500).
//   RESULTS_P99_MS  publish_to_results p99 (default 2000); with PROBES > 0, at least one probe
//                   vote must be measured (probe_votes > 0) and none missing (probe_missing = 0).

import { sleep } from 'k6';
import exec from 'k6/execution';
import { Counter, Trend } from 'k6/metrics';
import {
  ADMIN_KEY, choicesFor, describePolls, env, inShare, num, openPoll, pollResults, publishVote,
  seconds, takeToken,
} from './lib.js';

const RATE = num('RATE', 100);
const DURATION = env('DURATION', '30s');
const PROFILE = env('PROFILE', 'constant');
const KIND = env('KIND', 'single');
const DUP_SHARE = num('DUP_SHARE', 0.05);
const PROBES = num('PROBES', 1);
const PROBE_PAUSE = num('PROBE_PAUSE', 0.2);
const PROBE_WAIT = num('PROBE_WAIT', 30);

const votersAcked = new Counter('voters_acked');
const votersUnacked = new Counter('voters_unacked');
const tokensRefused = new Counter('tokens_refused');
const publishToResults = new Trend('publish_to_results', true);
const probeVotes = new Counter('probe_votes');
const probeMissing = new Counter('probe_missing');

function votersScenario() {
  const preAllocatedVUs = num('PRE_VUS', Math.max(10, Math.ceil(RATE / 2)));
  const maxVUs = Math.max(preAllocatedVUs, num('MAX_VUS', 1000));
  const common = { exec: 'voter', preAllocatedVUs, maxVUs, gracefulStop: '10s' };
  if (PROFILE === 'constant') {
    return { ...common, executor: 'constant-arrival-rate', rate: RATE, timeUnit: '1s', duration: DURATION };
  }
  if (PROFILE !== 'ramping') throw new Error(`PROFILE=${PROFILE}: constant or ramping`);
  const quarter = `${seconds(DURATION) / 4}s`;
  return {
    ...common,
    executor: 'ramping-arrival-rate',
    startRate: 0,
    timeUnit: '1s',
    stages: [
      { target: RATE, duration: quarter },
      { target: RATE, duration: `${seconds(DURATION) / 2}s` },
      { target: 0, duration: quarter },
    ],
  };
}

const scenarios = { voters: votersScenario() };
if (PROBES > 0) {
  scenarios.probe = { executor: 'constant-vus', exec: 'probe', vus: PROBES, duration: DURATION, gracefulStop: '5s' };
}

export const options = {
  scenarios,
  thresholds: {
    http_req_failed: [`rate<${num('MAX_ERROR_RATE', 0.01)}`],
    refusals_without_retry_after: ['count==0'],
    'http_req_duration{op:token}': [`p(95)<${num('TOKEN_P95_MS', 500)}`, `p(99)<${num('TOKEN_P99_MS', 1000)}`],
    'http_req_duration{op:publish}': [`p(95)<${num('PUBLISH_P95_MS', 250)}`, `p(99)<${num('PUBLISH_P99_MS', 500)}`],
    ...(PROBES > 0 ? {
      publish_to_results: [`p(99)<${num('RESULTS_P99_MS', 2000)}`],
      probe_votes: ['count>0'],
      probe_missing: ['count==0'],
    } : {}),
  },
  summaryTrendStats: ['avg', 'min', 'med', 'p(90)', 'p(95)', 'p(99)', 'max'],
};

export function setup() {
  const ids = env('POLL_IDS', '');
  if (ids) return { polls: describePolls(ids.split(',')) };
  const count = num('POLLS', 1);
  return { polls: Array.from({ length: count }, (_, k) => openPoll(`k6 vote.js ${k + 1}`, KIND, num('OPTIONS', 4))) };
}

/** One voter: a token, a vote (twice for DUP_SHARE of them), one record line. */
export function voter(data) {
  const i = exec.scenario.iterationInTest;
  const poll = data.polls[i % data.polls.length];
  const token = takeToken(poll.id);
  if (!token) {
    tokensRefused.add(1);
    return;
  }
  const choices = choicesFor(poll, i);
  const copies = inShare(i, DUP_SHARE) ? 2 : 1;
  const record = { poll: poll.id, token_id: token.token_id };
  console.log(JSON.stringify({ rec: 'voter', ...record, choices }));
  let acked = 0;
  for (let k = 0; k < copies; k++) {
    console.log(JSON.stringify({ rec: 'publish', token_id: token.token_id }));
    const published = publishVote(token, poll, choices);
    const ok = published.r.status === 204 ? 1 : 0;
    acked += ok;
    console.log(JSON.stringify({ rec: 'sent', ...record, sent: published.sent, acked: ok, refused: published.refused }));
  }
  (acked > 0 ? votersAcked : votersUnacked).add(1);
}

// This probe VU's own poll, the ballots already seen in it, and its results cursor.
let probeState = null;

function startProbe() {
  if (!ADMIN_KEY) exec.test.abort('PROBES > 0 needs ADMIN_KEY (or set PROBES=0)');
  const poll = openPoll(`k6 probe ${exec.vu.idInTest}`, 'single', 2);
  const token = takeToken(poll.id, 'probe_token');
  if (!token) return null;
  // Where the results topic stands: sequence 1 on page 0 (no page) answers at once with a
  // discontinuity naming the next sequence number and the page (the local Momento does; for
  // Momento's service this is unverified), so nothing published after this point is missed.
  // A server that answers nothing instead leaves the probe at 0/0 (live only), where its first
  // vote's results may come before its long poll: that first vote is a warm-up, and is not
  // counted as missing.
  const first = pollResults(token, { seq: 1, page: 0 }, 'probe_results', '5s');
  const liveOnly = first.cursor.seq === 1 && first.cursor.page === 0;
  return { poll, token, cursor: liveOnly ? { seq: 0, page: 0 } : first.cursor, counted: 0, warmup: liveOnly };
}

/** One probe vote: publish, then wait for the results message that counts it. */
function probeOnce(state) {
  const voterToken = takeToken(state.poll.id, 'probe_token');
  if (!voterToken) return false;
  const started = Date.now();
  if (publishVote(voterToken, state.poll.id, [state.poll.options[0]], 'probe_publish').r.status !== 204) return false;
  const target = state.counted + 1;
  while (Date.now() - started < PROBE_WAIT * 1000) {
    const polled = pollResults(state.token, state.cursor, 'probe_results');
    if (!polled.ok) return false;
    state.cursor = polled.cursor;
    for (const results of polled.results) {
      if (results.ballots >= target) {
        publishToResults.add(Date.now() - started);
        probeVotes.add(1);
        state.counted = results.ballots;
        return true;
      }
    }
  }
  return false;
}

export function probe() {
  if (!probeState) probeState = startProbe();
  if (probeState && probeOnce(probeState)) {
    probeState.warmup = false;
  } else {
    // Its vote did not show (or a call failed): count it, and start over on a fresh poll so a
    // late arrival cannot be taken for the next probe's.
    if (!probeState || !probeState.warmup) probeMissing.add(1);
    probeState = null;
  }
  sleep(PROBE_PAUSE);
}
