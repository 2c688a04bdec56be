'use strict';
/* What the voter page and the presenter screen share: the poll's REST paths, requests that
   retry with backoff, countdowns, and the results chart (live over Server-Sent Events). Every
   request goes to pollcast's own origin; only votes go to the token's topics endpoint
   (voter.js). */

const pollcast = (() => {
  const pollId = document.body.dataset.pollId;

  /** `/v1/polls/{id}{path}`. */
  const api = (path = '') => `/v1/polls/${encodeURIComponent(pollId)}${path}`;

  const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

  /** Milliseconds to wait before retry number `attempt` (0-based): 0.5 s doubling to 8 s, jittered. */
  const backoff = (attempt) => Math.min(500 * 2 ** attempt, 8000) * (0.75 + Math.random() * 0.5);

  /**
   * Milliseconds to wait before retrying after `response` (a 429 or 5xx): what its
   * `Retry-After` asks (seconds), plus up to half as much again at random so that a room of
   * voters refused together does not come back together; never less than `backoff(attempt)`.
   */
  function retryDelay(response, attempt) {
    const asked = Number.parseInt(response.headers.get('Retry-After') || '', 10);
    const wait = Number.isFinite(asked) && asked > 0 ? asked * 1000 * (1 + Math.random() * 0.5) : 0;
    return Math.max(wait, backoff(attempt));
  }

  /** Whether `response` says the server is busy (try again later), rather than broken. */
  const busy = (response) => response.status === 429 || response.status === 503;

  /** An HTTP answer that is not a success; `body` is pollcast's `{error, message}` when it sent one. */
  class HttpError extends Error {
    constructor(status, body) {
      super((body && body.message) || `HTTP ${status}`);
      this.status = status;
      this.body = body || {};
    }
  }

  async function bodyOf(response) {
    try {
      return await response.json();
    } catch {
      return null;
    }
  }

  /**
   * Fetches `url` as JSON. Network failures, 429 and 5xx are retried with backoff, after the
   * answer's `Retry-After` when it has one (`onRetry` hears of each, with an HttpError whose
   * `busy` says whether the server asked to come back later); other failures throw an
   * HttpError at once.
   */
  async function request(url, options = {}, onRetry = () => {}) {
    for (let attempt = 0; ; attempt += 1) {
      let response;
      try {
        response = await fetch(url, { cache: 'no-store', credentials: 'same-origin', ...options });
      } catch (networkError) {
        onRetry(attempt, networkError);
        await sleep(backoff(attempt));
        continue;
      }
      if (response.status === 429 || response.status >= 500) {
        const error = new HttpError(response.status, await bodyOf(response));
        error.busy = busy(response);
        onRetry(attempt, error);
        await sleep(retryDelay(response, attempt));
        continue;
      }
      if (!response.ok) throw new HttpError(response.status, await bodyOf(response));
      return response.status === 204 ? null : bodyOf(response);
    }
  }

  /** The poll's public view (`GET /v1/polls/{id}`). */
  const loadPoll = (onRetry) => request(api(), {}, onRetry);

  /** Whether the public may see the poll's results in its current state. */
  function resultsVisible(poll) {
    const done = poll.state === 'closed' || poll.state === 'archived';
    return poll.results_visibility === 'live' ? done || poll.state === 'open' : done;
  }

  const STATE_NAMES = {
    draft: 'Not open yet',
    scheduled: 'Scheduled',
    open: 'Open',
    closed: 'Closed',
    archived: 'Closed',
    cancelled: 'Cancelled',
  };

  /** `ms` as people read a countdown: `0:42`, `12:05`, `1:02:03`, `2 days 3:04:05`. */
  function formatRemaining(ms) {
    let seconds = Math.max(0, Math.ceil(ms / 1000));
    const days = Math.floor(seconds / 86400);
    seconds -= days * 86400;
    const h = Math.floor(seconds / 3600);
    const m = Math.floor((seconds % 3600) / 60);
    const s = seconds % 60;
    const pad = (n) => String(n).padStart(2, '0');
    const clock = h > 0 || days > 0 ? `${h}:${pad(m)}:${pad(s)}` : `${m}:${pad(s)}`;
    return days > 0 ? `${days} day${days === 1 ? '' : 's'} ${clock}` : clock;
  }

  /**
   * Shows `text(remaining)` in `element` every second until `at` (a Date), then calls `done`.
   * Returns a function that stops it.
   */
  function countdown(element, at, text, done) {
    let timer = null;
    const tick = () => {
      const remaining = at.getTime() - Date.now();
      if (remaining <= 0) {
        clearInterval(timer);
        done();
        return;
      }
      element.textContent = text(formatRemaining(remaining));
    };
    timer = setInterval(tick, 1000);
    tick();
    return () => clearInterval(timer);
  }

  const plural = (n, one, many) => `${n.toLocaleString('en')} ${n === 1 ? one : many}`;

  /**
   * What to draw from `results`: one row per option in the poll's order (so bars never swap
   * places), and for ranked polls the round shown (the last) and who was eliminated when.
   */
  function chart(results, poll) {
    if (poll.kind === 'rating') return ratingChart(results, poll);
    if (poll.kind === 'open_text') return wordChart(results);
    const labels = new Map(poll.options.map((o) => [o.id, o.label]));
    const rounds = results.rounds || [];
    if (poll.kind !== 'ranked' || rounds.length === 0) {
      const options = results.options || poll.options.map((o) => ({ ...o, votes: 0, share: 0 }));
      return {
        rows: options.map((o) => ({
          id: o.id,
          label: o.label,
          votes: o.votes,
          share: o.share,
          value: `${plural(o.votes, 'vote', 'votes')} · ${o.share}%`,
        })),
        round: null,
        eliminated: null,
      };
    }
    const last = rounds[rounds.length - 1];
    const outIn = new Map();
    for (const round of rounds) for (const id of round.eliminated) outIn.set(id, round.round);
    const continuing = Object.values(last.counts).reduce((a, b) => a + b, 0);
    const rows = poll.options.map((o) => {
      if (o.id in last.counts) {
        const votes = last.counts[o.id];
        const share = continuing ? Math.round((votes * 1000) / continuing) / 10 : 0;
        return {
          id: o.id,
          label: o.label,
          votes,
          share,
          winner: results.winner === o.id,
          value: `${plural(votes, 'vote', 'votes')} · ${share}%`,
        };
      }
      return {
        id: o.id,
        label: o.label,
        votes: 0,
        share: 0,
        eliminated: true,
        value: `eliminated in round ${outIn.get(o.id) ?? '?'}`,
      };
    });
    let round = `Round ${last.round} of ${rounds.length}`;
    if (results.winner) round += ` · Winner: ${labels.get(results.winner) || results.winner}`;
    else if (results.tie && results.tie.length) {
      round += ` · Tie: ${results.tie.map((id) => labels.get(id) || id).join(', ')}`;
    }
    const out = [...outIn.entries()]
      .sort((a, b) => a[1] - b[1])
      .map(([id, r]) => `${labels.get(id) || id} (round ${r})`);
    return { rows, round, eliminated: out.length ? `Eliminated: ${out.join(', ')}` : null };
  }

  const twoDecimals = (x) => (Math.round(x * 100) / 100).toLocaleString('en');

  /** A rating poll's histogram: one row per value of the scale, and the mean and median. */
  function ratingChart(results, poll) {
    const counts = (results.rating && results.rating.counts) || {};
    const { min, max, min_label: low, max_label: high } = poll.scale;
    const rows = [];
    for (let v = min; v <= max; v += 1) {
      const votes = counts[String(v)] || 0;
      const share = results.ballots ? Math.round((votes * 1000) / results.ballots) / 10 : 0;
      let label = String(v);
      if (v === min && low) label += ` · ${low}`;
      if (v === max && high) label += ` · ${high}`;
      rows.push({ id: `v${v}`, label, votes, share, value: `${plural(votes, 'vote', 'votes')} · ${share}%` });
    }
    const r = results.rating || {};
    const round = r.mean === null || r.mean === undefined ? 'No ratings yet' : `Mean ${twoDecimals(r.mean)} · Median ${twoDecimals(r.median)}`;
    return { rows, round, eliminated: null };
  }

  /** An open-text poll's most given words as bars (the presenter draws a word cloud instead). */
  function wordChart(results) {
    const text = results.open_text || { words: [], entries_total: 0 };
    const words = text.words.slice(0, 10);
    const top = words.length ? words[0].count : 1;
    const rows = words.map((w) => ({
      id: `w:${w.word}`,
      label: w.word,
      votes: w.count,
      share: Math.round((w.count * 1000) / top) / 10,
      value: `${w.count}×`,
    }));
    return { rows, round: plural(text.entries_total, 'answer', 'answers'), eliminated: null };
  }

  /** Draws `rows` into the list `list`, reusing each option's row so nothing moves. */
  function drawBars(list, rows) {
    for (const row of rows) {
      let item = list.querySelector(`li[data-id="${CSS.escape(row.id)}"]`);
      if (!item) {
        item = document.createElement('li');
        item.className = 'bar';
        item.dataset.id = row.id;
        const label = document.createElement('span');
        label.className = 'bar-label';
        const value = document.createElement('span');
        value.className = 'bar-value';
        const track = document.createElement('span');
        track.className = 'bar-track';
        track.setAttribute('aria-hidden', 'true');
        const fill = document.createElement('span');
        fill.className = 'bar-fill';
        track.append(fill);
        item.append(label, value, track);
        list.append(item);
      }
      item.querySelector('.bar-label').textContent = row.label;
      item.querySelector('.bar-value').textContent = row.value;
      item.querySelector('.bar-fill').style.transform = `scaleX(${Math.min(1, row.share / 100)})`;
      item.classList.toggle('winner', Boolean(row.winner));
      item.classList.toggle('eliminated', Boolean(row.eliminated));
    }
    // Rows no longer in the chart (a word of a hidden answer) go.
    const ids = new Set(rows.map((row) => row.id));
    for (const item of [...list.children]) if (!ids.has(item.dataset.id)) item.remove();
  }

  /**
   * Live results over Server-Sent Events: `onResults(results)` for each update whose `seq` is
   * above the last one seen (older or repeated ones are dropped, so nothing jumps backwards).
   * Reconnects by itself. Returns a function that stops it.
   */
  function watchResults(onResults) {
    let lastSeq = -1;
    let source = null;
    let stopped = false;
    let failures = 0;
    const open = () => {
      if (stopped) return;
      source = new EventSource(api('/results/stream'));
      source.addEventListener('results', (event) => {
        failures = 0;
        let results;
        try {
          results = JSON.parse(event.data);
        } catch {
          return;
        }
        if (typeof results.seq !== 'number' || results.seq <= lastSeq) return;
        lastSeq = results.seq;
        onResults(results);
      });
      source.addEventListener('error', () => {
        // The browser reconnects by itself after a dropped connection; after a refused one
        // (closed), try again later.
        if (source.readyState === EventSource.CLOSED && !stopped) {
          setTimeout(open, backoff(failures));
          failures += 1;
        }
      });
    };
    open();
    return () => {
      stopped = true;
      if (source) source.close();
    };
  }

  return {
    pollId,
    api,
    sleep,
    backoff,
    busy,
    retryDelay,
    HttpError,
    request,
    loadPoll,
    resultsVisible,
    STATE_NAMES,
    formatRemaining,
    countdown,
    plural,
    chart,
    drawBars,
    watchResults,
  };
})();
