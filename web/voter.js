'use strict';
/* The voter page, /p/{poll_id}.

   1. The poll's public view says what to show: not open yet (a countdown when scheduled, then
      the page opens by itself), open (the ballot), closed (final results), cancelled.
   2. A voter token: from the URL fragment (an invite link, /p/{id}#token=...; the fragment
      never reaches a server, and is taken out of the address bar at once), else from POST
      /v1/polls/{id}/tokens (the browser's voter cookie makes it the same voter again). Kept
      for the tab (sessionStorage); a new one is fetched when it expires. A "challenge": "pow"
      poll first has the page solve a puzzle (pow.js), which the status line says.
   3. The vote is published with the voter's own token through Momento's HTTP topics API, at
      the http_endpoint the token names. A lost connection is retried with backoff: the same
      voter's ballot counts once however often it arrives, so a retry never makes a double vote.
   4. A 204 only means published: the page then asks GET /v1/polls/{id}/ballot until its own
      vote (its `ref`) is counted or refused, and says which in the status region, with what
      still counts when it was refused (the ballot status tells the two apart).
   5. Once the vote is counted, live results when the poll shows them (Server-Sent Events).
   Rating and open-text ballots are answers.js's; in an event (/j/{code}) tokens come from the
   event, so the voter is one voter across its polls, and event.js follows the presenter. */

(() => {
  const P = pollcast;
  const A = pollcastAnswers;
  const $ = (id) => document.getElementById(id);
  if (!P.pollId) return; // an event waiting for its next question: event.js follows it
  const data = document.body.dataset;
  const TOKEN_KEY = `pollcast.token.${P.pollId}`;
  // Where votes go when an invite link brought the token (a token response says it otherwise).
  const TOPICS = { http_endpoint: data.httpEndpoint, cache: data.cache, votes_topic: data.votesTopic };

  const ui = {
    title: $('title'),
    description: $('description'),
    notice: $('notice'),
    status: $('status'),
    form: $('ballot'),
    instructions: $('instructions'),
    hint: $('hint'),
    choices: $('choices'),
    rankLive: $('rank-live'),
    submit: $('submit'),
    results: $('results'),
    resultsNote: $('results-note'),
    resultsHeading: $('results-heading'),
    ballots: $('ballots'),
    round: $('round'),
    bars: $('bars'),
  };

  let poll = null;
  let token = null; // {token, voter_id, invite, expires_at (ms, or null when unknown), http_endpoint, cache, votes_topic}
  let counted = null; // the voter's counted answer ({choices}, {value} or {texts}), when a ballot stands
  let answerUi = null; // the ballot of a rating or open-text poll (answers.js)
  let sending = false;
  let stopCountdown = () => {};
  let stopResults = null;
  let refreshTimer = null;
  let lastResults = null;

  class InviteInvalid extends Error {}

  function say(text, kind = 'info') {
    ui.status.textContent = text;
    ui.status.dataset.kind = kind;
  }

  /** Says why the page is trying again: a busy server (it asked us to wait), or the network. */
  const retrying = (attempt, error) =>
    error && error.busy
      ? say('Many people are voting right now. Trying again in a moment…')
      : say('Connection lost. Retrying…', 'error');

  /* ---------- the voter token ---------- */

  function takeFragmentToken() {
    const match = /(?:^#|&)token=([^&]+)/.exec(window.location.hash);
    if (!match) return null;
    // Out of the address bar, the history and any bookmark.
    window.history.replaceState(null, '', window.location.pathname + window.location.search);
    try {
      return decodeURIComponent(match[1]);
    } catch {
      return null;
    }
  }

  function loadToken() {
    const invited = takeFragmentToken();
    if (invited) {
      token = { token: invited, invite: true, expires_at: null, ...TOPICS };
      saveToken();
      return;
    }
    try {
      const saved = JSON.parse(window.sessionStorage.getItem(TOKEN_KEY));
      if (saved && typeof saved.token === 'string') token = saved;
    } catch {
      token = null;
    }
  }

  function saveToken() {
    try {
      if (token) window.sessionStorage.setItem(TOKEN_KEY, JSON.stringify(token));
      else window.sessionStorage.removeItem(TOKEN_KEY);
    } catch {
      /* storage refused (private mode): the token lives as long as the page */
    }
  }

  const fresh = (t) => t && (t.expires_at === null || t.expires_at - Date.now() > 30000);

  /**
   * For a "challenge": "pow" poll, the answer to a fresh puzzle (pow.js), saying so in the
   * status line while it works; nothing for other polls.
   */
  async function proofOfWork() {
    if (!poll || poll.challenge !== 'pow') return {};
    say('Checking this device before you vote…');
    const puzzle = await P.request(P.api('/challenge'), {}, retrying);
    const solved = await pollcastPow.solve(puzzle);
    say('');
    return { pow: solved.pow };
  }

  /** POST for a new token (a poll's or, on an event's page, the event's), with `extra` in the body. */
  function mintToken(extra) {
    const eventId = data.eventId;
    const json = (body) => ({ method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(body) });
    return eventId
      ? P.request(`/v1/events/${encodeURIComponent(eventId)}/tokens`, json({ poll_id: P.pollId, ...extra }), retrying)
      : P.request(P.api('/tokens'), json(extra), retrying);
  }

  /** A usable token: the one kept, or a new one (same voter, thanks to the cookie). */
  async function ensureToken(renew = false) {
    if (!renew && fresh(token)) return token;
    if (token && token.invite) throw new InviteInvalid();
    let minted;
    for (let attempt = 0; ; attempt += 1) {
      try {
        minted = await mintToken(await proofOfWork());
        break;
      } catch (error) {
        // A puzzle that expired or was spent meanwhile: another one, once.
        const failed = error instanceof P.HttpError && error.body.error === 'challenge_failed';
        if (!failed || attempt > 0) throw error;
      }
    }
    token = {
      token: minted.token,
      voter_id: minted.voter_id,
      invite: false,
      expires_at: Date.parse(minted.expires_at),
      http_endpoint: minted.http_endpoint,
      cache: minted.cache,
      votes_topic: minted.votes_topic,
    };
    saveToken();
    return token;
  }

  /** The key inside a token as minted (base64 of {api_key, endpoint}): what the HTTP API takes. */
  function rawKey(t) {
    try {
      const decoded = JSON.parse(window.atob(t));
      if (decoded && typeof decoded.api_key === 'string') return decoded.api_key;
    } catch {
      /* already a raw key */
    }
    return t;
  }

  /** GET /v1/polls/{id}/ballot with the voter's token (renewed once if it expired). */
  async function ballotStatus() {
    for (let renewed = false; ; renewed = true) {
      const t = await ensureToken(renewed);
      try {
        return await P.request(P.api('/ballot'), { headers: { Authorization: t.token } }, retrying);
      } catch (error) {
        if (error instanceof P.HttpError && error.status === 401) {
          if (t.invite) throw new InviteInvalid();
          if (!renewed) continue;
        }
        throw error;
      }
    }
  }

  /** Publishes `message` on the votes topic with the voter's own token. */
  async function publish(message) {
    let renewed = false;
    for (let attempt = 0; ; attempt += 1) {
      const t = await ensureToken();
      const url = `${t.http_endpoint}/topics/${encodeURIComponent(t.cache)}/${encodeURIComponent(t.votes_topic)}`;
      let response;
      try {
        response = await fetch(url, {
          method: 'POST',
          headers: { Authorization: rawKey(t.token), 'Content-Type': 'text/plain' },
          body: message,
          credentials: 'omit',
          cache: 'no-store',
        });
      } catch {
        retrying();
        await P.sleep(P.backoff(attempt));
        continue;
      }
      if (response.ok) return;
      if (response.status === 401) {
        if (t.invite) throw new InviteInvalid();
        if (!renewed) {
          renewed = true;
          await ensureToken(true);
          continue;
        }
      }
      if (response.status === 429 || response.status >= 500) {
        // Refused before anything was done (busy) or failed: the same vote again is safe.
        retrying(attempt, { busy: P.busy(response) });
        await P.sleep(P.retryDelay(response, attempt));
        continue;
      }
      let body = null;
      try {
        body = await response.json();
      } catch {
        body = null;
      }
      throw new P.HttpError(response.status, body);
    }
  }

  /* ---------- the ballot ---------- */

  const labelOf = (id) => (poll.options.find((o) => o.id === id) || { label: id }).label;

  function describe(answer) {
    const words = A.describe(poll, answer);
    if (words !== null) return words;
    const labels = answer.choices.map(labelOf);
    if (poll.kind === 'ranked') return labels.map((l, i) => `${i + 1}. ${l}`).join(', ');
    if (labels.length <= 1) return labels.join('');
    return `${labels.slice(0, -1).join(', ')} and ${labels[labels.length - 1]}`;
  }

  function buildBallot() {
    ui.choices.replaceChildren();
    answerUi = A.build(poll, ui);
    if (answerUi) return;
    if (poll.kind === 'ranked') return buildRanking();
    const type = poll.kind === 'single' ? 'radio' : 'checkbox';
    const max = poll.kind === 'multi' ? poll.max_choices || poll.options.length : 1;
    ui.instructions.textContent = poll.kind === 'single' ? 'Choose one option' : `Choose up to ${max} options`;
    for (const option of poll.options) {
      const label = document.createElement('label');
      label.className = 'choice';
      const input = document.createElement('input');
      input.type = type;
      input.name = 'choice';
      input.value = option.id;
      const text = document.createElement('span');
      text.textContent = option.label;
      label.append(input, text);
      ui.choices.append(label);
    }
    if (poll.kind === 'multi') {
      const update = () => {
        const inputs = [...ui.choices.querySelectorAll('input')];
        const chosen = inputs.filter((i) => i.checked).length;
        for (const input of inputs) input.disabled = !input.checked && chosen >= max;
        ui.hint.textContent = `${chosen} of ${max} chosen.`;
      };
      ui.choices.addEventListener('change', update);
      update();
    } else {
      ui.hint.textContent = '';
    }
  }

  function buildRanking() {
    ui.instructions.textContent = 'Rank the options, best first';
    ui.hint.textContent = 'Drag an option by its handle, or use Move up and Move down.';
    const list = document.createElement('ol');
    list.className = 'choices rank-list';
    for (const option of poll.options) {
      const item = document.createElement('li');
      item.className = 'rank-item';
      item.dataset.id = option.id;
      const pos = document.createElement('span');
      pos.className = 'rank-pos';
      pos.setAttribute('aria-hidden', 'true');
      const label = document.createElement('span');
      label.className = 'rank-label';
      label.textContent = option.label;
      const moves = document.createElement('span');
      moves.className = 'moves';
      for (const [direction, text] of [['up', 'Move up'], ['down', 'Move down']]) {
        const button = document.createElement('button');
        button.type = 'button';
        button.className = direction;
        button.dataset.direction = direction;
        button.textContent = text;
        // The visible words first, then which option: "Move up: Pizza".
        button.setAttribute('aria-label', `${text}: ${option.label}`);
        moves.append(button);
      }
      const grip = document.createElement('span');
      grip.className = 'grip';
      grip.setAttribute('aria-hidden', 'true');
      grip.textContent = '⠿';
      item.append(pos, label, moves, grip);
      list.append(item);
      dragBy(grip, item, list);
    }
    list.addEventListener('click', (event) => {
      const button = event.target.closest('button[data-direction]');
      if (!button || button.disabled) return;
      const item = button.closest('li');
      const up = button.dataset.direction === 'up';
      const sibling = up ? item.previousElementSibling : item.nextElementSibling;
      if (!sibling) return;
      if (up) list.insertBefore(item, sibling);
      else list.insertBefore(sibling, item);
      renumber(list);
      // Keep the keyboard where it was: on the same button, or the other one at either end.
      const same = item.querySelector(`button[data-direction="${button.dataset.direction}"]`);
      const other = item.querySelector(`button[data-direction="${up ? 'down' : 'up'}"]`);
      (same.disabled ? other : same).focus();
      announce(item, list);
    });
    ui.choices.append(list);
    renumber(list);
  }

  function renumber(list) {
    const items = [...list.children];
    items.forEach((item, i) => {
      item.querySelector('.rank-pos').textContent = `${i + 1}.`;
      item.querySelector('button.up').disabled = i === 0;
      item.querySelector('button.down').disabled = i === items.length - 1;
    });
  }

  function announce(item, list) {
    const position = [...list.children].indexOf(item) + 1;
    const label = item.querySelector('.rank-label').textContent;
    ui.rankLive.textContent = `${label}: position ${position} of ${list.children.length}.`;
  }

  /**
   * Reorders by dragging the grip with a mouse, a pen or a finger (pointer events). The item
   * moves in the list as the pointer passes its neighbours' middles. Moving a node drops any
   * pointer capture, so the drag is followed on the window.
   */
  function dragBy(grip, item, list) {
    grip.addEventListener('pointerdown', (down) => {
      if (down.button !== 0) return;
      down.preventDefault();
      item.classList.add('dragging');
      const move = (event) => {
        if (event.pointerId !== down.pointerId) return;
        const before = [...list.children]
          .filter((other) => other !== item)
          .find((other) => {
            const box = other.getBoundingClientRect();
            return event.clientY < box.top + box.height / 2;
          });
        if (before) {
          if (item.nextElementSibling !== before) list.insertBefore(item, before);
        } else if (list.lastElementChild !== item) {
          list.append(item);
        }
        renumber(list);
      };
      const end = (event) => {
        if (event.pointerId !== down.pointerId) return;
        item.classList.remove('dragging');
        window.removeEventListener('pointermove', move);
        window.removeEventListener('pointerup', end);
        window.removeEventListener('pointercancel', end);
        announce(item, list);
      };
      window.addEventListener('pointermove', move);
      window.addEventListener('pointerup', end);
      window.addEventListener('pointercancel', end);
    });
  }

  /** The answer on the form: {choices}, {value} or {texts}; {error} when there is none. */
  function chosen() {
    if (answerUi) return answerUi.read();
    const choices =
      poll.kind === 'ranked'
        ? [...ui.choices.querySelectorAll('li')].map((li) => li.dataset.id)
        : [...ui.choices.querySelectorAll('input:checked')].map((input) => input.value);
    if (choices.length) return { choices };
    return { error: poll.kind === 'single' ? 'Choose an option first.' : 'Choose at least one option first.' };
  }

  function preset(answer) {
    if (!answer) return;
    if (answerUi) {
      answerUi.preset(answer);
      return;
    }
    const { choices } = answer;
    if (!choices) return;
    if (poll.kind === 'ranked') {
      const list = ui.choices.querySelector('ol');
      for (const id of [...choices].reverse()) {
        const item = list.querySelector(`li[data-id="${CSS.escape(id)}"]`);
        if (item) list.prepend(item);
      }
      renumber(list);
      return;
    }
    for (const input of ui.choices.querySelectorAll('input')) input.checked = choices.includes(input.value);
    ui.choices.dispatchEvent(new Event('change'));
  }

  function showBallot() {
    ui.form.hidden = false;
    ui.submit.textContent = counted && poll.allow_revote ? 'Change vote' : 'Vote';
  }

  function hideBallot() {
    ui.form.hidden = true;
  }

  const countedText = (choices) =>
    `Your vote was counted: ${describe(choices)}.${poll.allow_revote && poll.state === 'open' ? ' You can change it until the poll closes.' : ''}`;

  /** Why the last attempt was refused, and what still counts (a ballot cast before stands). */
  function rejectionText(status) {
    const last = status.last_attempt;
    const why = {
      poll_not_open: 'the poll was not open when your vote arrived (it has closed).',
      already_voted: `you have already voted${A.fromStatus(status) ? ` (${describe(A.fromStatus(status))})` : ''}, and this poll does not allow changing a vote.`,
      poll_full: 'this poll has reached its maximum number of voters.',
      out_of_scale: 'the value is not on this poll\'s scale.',
      not_an_integer: 'the value is not a whole number.',
      empty_entry: 'an answer is empty.',
      entry_too_long: `an answer is longer than ${poll.max_length} characters.`,
      too_many_entries: `this poll takes at most ${poll.max_entries} answers.`,
      control_character: 'an answer contains a line break or a control character.',
      duplicate_entry: 'the same answer is given twice.',
      wrong_poll: 'your voter token is for another poll.',
      unknown_option: 'the ballot named an option this poll does not have.',
      too_many_choices: 'the ballot has more choices than this poll allows.',
      too_few_choices: 'the ballot has no choice.',
      duplicate_choice: 'the ballot names an option twice.',
    }[last.reason];
    const standing = A.fromStatus(status);
    const still = standing && last.reason !== 'already_voted' ? ` Your earlier vote still counts: ${describe(standing)}.` : '';
    return `Your vote was not counted: ${why || last.message}${still}`;
  }

  ui.form.addEventListener('submit', async (event) => {
    event.preventDefault();
    if (sending) return;
    const answer = chosen();
    if (answer.error) {
      say(answer.error, 'error');
      const first = ui.choices.querySelector('input:not(:disabled)');
      if (first) first.focus();
      return;
    }
    sending = true;
    ui.submit.disabled = true;
    const ref = `r-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 10)}`;
    const message = JSON.stringify({ poll_id: poll.id, ...answer, ref });
    say('Sending your vote…');
    try {
      await publish(message);
      say('Vote sent. Checking that it was counted…');
      const status = await confirmed(ref, answer);
      if (status.last_attempt.result === 'counted') {
        counted = A.fromStatus(status);
        say(countedText(counted), 'ok');
        if (poll.allow_revote) showBallot();
        else hideBallot();
        showResults();
      } else {
        if (A.fromStatus(status)) counted = A.fromStatus(status);
        say(rejectionText(status), 'error');
        if (status.last_attempt.reason === 'already_voted') hideBallot();
        if (status.last_attempt.reason === 'poll_not_open') refreshSoon(0);
        showResults();
      }
    } catch (error) {
      failed(error);
    } finally {
      sending = false;
      ui.submit.disabled = false;
    }
  });

  /** Asks what became of the vote `ref` until it is counted or refused. */
  async function confirmed(ref, answer) {
    const started = Date.now();
    let wait = 150;
    let slow = false;
    for (;;) {
      const status = await ballotStatus();
      const last = status.last_attempt;
      if (last.result === 'rejected' && last.ref === ref) return status;
      if (last.result === 'counted' && A.same(poll, A.fromStatus(status), answer)) return status;
      if (!slow && Date.now() - started > 10000) {
        slow = true;
        say('Your vote was sent and is still being counted. This page will say when it is.');
      }
      await P.sleep(wait);
      wait = Math.min(wait * 1.5, 3000);
    }
  }

  /* ---------- the poll's state ---------- */

  async function enter() {
    stopCountdown();
    stopCountdown = () => {};
    switch (poll.state) {
      case 'draft':
        hideBallot();
        ui.notice.textContent = 'This poll is not open yet. This page will update when it opens.';
        break;
      case 'scheduled':
        hideBallot();
        stopCountdown = P.countdown(
          ui.notice,
          new Date(poll.opens_at),
          (left) => `Voting opens in ${left}.`,
          () => {
            ui.notice.textContent = 'Opening…';
            refreshSoon(500);
          },
        );
        break;
      case 'open':
        await openBallot();
        break;
      case 'closed':
      case 'archived':
        await closedBallot();
        break;
      default:
        hideBallot();
        ui.notice.textContent = 'This poll was cancelled.';
    }
    showResults();
  }

  async function openBallot() {
    if (poll.closes_at) {
      stopCountdown = P.countdown(
        ui.notice,
        new Date(poll.closes_at),
        (left) => `Voting is open. It closes in ${left}.`,
        () => refreshSoon(500),
      );
    } else {
      ui.notice.textContent = 'Voting is open.';
    }
    if (poll.access === 'invite' && !token) {
      hideBallot();
      say('This poll is by invitation: open the personal link you were sent to vote.');
      return;
    }
    let status;
    try {
      status = await ballotStatus();
    } catch (error) {
      failed(error);
      return;
    }
    if (poll.state !== 'open') return; // it changed meanwhile
    counted = A.fromStatus(status);
    preset(counted);
    if (counted && !poll.allow_revote) {
      hideBallot();
      say(`You have already voted: ${describe(counted)}. Your vote is counted.`, 'ok');
    } else {
      showBallot();
      if (counted) say(countedText(counted), 'ok');
    }
  }

  async function closedBallot() {
    hideBallot();
    ui.notice.textContent = 'This poll is closed. Voting has ended.';
    if (!sending && fresh(token) && !counted) {
      try {
        const status = await ballotStatus();
        counted = A.fromStatus(status);
      } catch {
        counted = null;
      }
    }
    if (counted && ui.status.dataset.kind !== 'error') say(`Your vote was counted: ${describe(counted)}.`, 'ok');
  }

  /** Results: when the poll shows them to voters, once this voter's ballot counts or the poll closed. */
  function showResults() {
    const done = poll.state === 'closed' || poll.state === 'archived';
    const show = P.resultsVisible(poll) && (done || counted);
    ui.resultsNote.hidden = !(counted && poll.state === 'open' && poll.results_visibility === 'on_close');
    if (!show) {
      ui.results.hidden = true;
      if (stopResults) stopResults();
      stopResults = null;
      return;
    }
    ui.resultsHeading.textContent = done ? 'Final results' : 'Live results';
    ui.results.hidden = false;
    if (lastResults) draw(lastResults);
    if (!stopResults) stopResults = P.watchResults(draw);
  }

  function draw(results) {
    lastResults = results;
    ui.ballots.textContent = `${P.plural(results.ballots, 'ballot', 'ballots')} counted.`;
    const chart = P.chart(results, poll);
    ui.round.hidden = !chart.round;
    ui.round.textContent = [chart.round, chart.eliminated].filter(Boolean).join('. ');
    P.drawBars(ui.bars, chart.rows);
    if (results.state !== poll.state) refreshSoon(0);
  }

  /* ---------- keeping up with the poll ---------- */

  function refreshSoon(ms) {
    clearTimeout(refreshTimer);
    refreshTimer = setTimeout(refresh, ms);
  }

  function nextRefresh() {
    switch (poll.state) {
      case 'draft':
        return 5000;
      case 'scheduled':
        return new Date(poll.opens_at).getTime() <= Date.now() ? 1000 : 15000;
      case 'open':
        if (poll.closes_at && new Date(poll.closes_at).getTime() <= Date.now()) return 1000;
        return stopResults ? 15000 : 5000;
      default:
        return null; // closed, archived, cancelled: final
    }
  }

  async function refresh() {
    let next;
    try {
      next = await P.request(P.api());
    } catch (error) {
      if (error instanceof P.HttpError && error.status === 404) {
        notFound();
        return;
      }
      refreshSoon(5000);
      return;
    }
    const changed = next.state !== poll.state || next.opens_at !== poll.opens_at || next.closes_at !== poll.closes_at;
    poll = next;
    if (changed) await enter();
    const wait = nextRefresh();
    if (wait !== null) refreshSoon(wait);
  }

  function notFound() {
    hideBallot();
    ui.results.hidden = true;
    ui.resultsNote.hidden = true;
    if (stopResults) stopResults();
    document.title = 'Poll not found · pollcast';
    ui.title.textContent = 'Poll not found';
    ui.description.textContent = '';
    ui.notice.textContent = 'There is no poll at this address. Check the link you were given.';
  }

  function failed(error) {
    if (error instanceof InviteInvalid) {
      token = null;
      saveToken();
      hideBallot();
      say('Your invite link has expired or is not valid. Ask the organiser for a new one.', 'error');
      return;
    }
    if (error instanceof P.HttpError) {
      if (error.status === 404) {
        notFound();
        return;
      }
      if (error.status === 409) {
        // No token for a poll that is no longer open: see what it is now.
        refreshSoon(0);
        return;
      }
      if (error.status === 401 && poll.access === 'invite') {
        hideBallot();
        say('This poll is by invitation: open the personal link you were sent to vote.');
        return;
      }
      say(`Something went wrong: ${error.message}`, 'error');
      return;
    }
    say('Something went wrong. Reload the page to try again.', 'error');
  }

  async function start() {
    loadToken();
    try {
      poll = await P.loadPoll(retrying);
    } catch (error) {
      if (error instanceof P.HttpError && error.status === 404) notFound();
      else failed(error);
      return;
    }
    if (ui.status.dataset.kind === 'error') say('');
    buildBallot();
    await enter();
    const wait = nextRefresh();
    if (wait !== null) refreshSoon(wait);
  }

  start();
})();
