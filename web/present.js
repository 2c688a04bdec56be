'use strict';
/* The presenter screen, /present/{poll_id}: the question, a large live bar chart (ranked: the
   current round and who was eliminated), the ballot count, the state, a countdown to a
   scheduled opening or close, and the QR code of the voter link (rendered by the server).
   Updates arrive over Server-Sent Events; one with an older `seq` than the last shown is
   dropped, so the chart never jumps backwards. Nothing reloads. */

(() => {
  const P = pollcast;
  const $ = (id) => document.getElementById(id);
  if (!P.pollId) {
    // An event between questions: the title, the QR code and the code; event.js follows it.
    $('tally').hidden = true;
    return;
  }
  const ui = {
    state: $('state'),
    countdown: $('countdown'),
    ballots: $('ballots'),
    ballotsWord: $('ballots-word'),
    round: $('round'),
    bars: $('bars'),
    hiddenNote: $('hidden-note'),
    tally: $('tally'),
    eliminated: $('eliminated'),
    views: $('views'),
    cloud: $('cloud'),
    entries: $('entries'),
    showCloud: $('show-cloud'),
    showList: $('show-list'),
  };
  let drawAnswers = null; // open-text polls: the cloud and the list (cloud.js)

  let poll = null;
  let stopCountdown = () => {};
  let stopResults = null;
  let refreshTimer = null;

  function render() {
    ui.state.textContent = P.STATE_NAMES[poll.state] || poll.state;
    ui.state.dataset.state = poll.state;
    stopCountdown();
    stopCountdown = () => {};
    ui.countdown.textContent = '';
    if (poll.state === 'scheduled' && poll.opens_at) {
      stopCountdown = P.countdown(ui.countdown, new Date(poll.opens_at), (left) => `Opens in ${left}`, () => {
        ui.countdown.textContent = '';
        refreshSoon(500);
      });
    } else if (poll.state === 'open' && poll.closes_at) {
      stopCountdown = P.countdown(ui.countdown, new Date(poll.closes_at), (left) => `Closes in ${left}`, () => {
        ui.countdown.textContent = '';
        refreshSoon(500);
      });
    }
    const visible = P.resultsVisible(poll);
    ui.hiddenNote.hidden = visible;
    ui.tally.hidden = !visible;
    ui.hiddenNote.textContent =
      poll.results_visibility === 'on_close' ? 'Results are shown when the poll closes.' : 'Results are shown once voting opens.';
    if (visible && !stopResults) stopResults = P.watchResults(draw);
    if (!visible && stopResults) {
      stopResults();
      stopResults = null;
    }
    if (poll.kind === 'open_text' && !drawAnswers) drawAnswers = pollcastCloud.mount(ui);
    if (!visible) {
      ui.bars.replaceChildren();
      ui.cloud.replaceChildren();
      ui.entries.replaceChildren();
      ui.round.hidden = true;
      ui.eliminated.hidden = true;
    }
  }

  function draw(results) {
    ui.ballots.textContent = results.ballots.toLocaleString('en');
    ui.ballotsWord.textContent = results.ballots === 1 ? 'ballot' : 'ballots';
    const chart = P.chart(results, poll);
    ui.round.hidden = !chart.round;
    ui.round.textContent = chart.round || '';
    ui.eliminated.hidden = !chart.eliminated;
    ui.eliminated.textContent = chart.eliminated || '';
    if (drawAnswers) drawAnswers(results);
    else {
      ui.bars.dataset.rows = chart.rows.length > 4 ? 'many' : 'few';
      P.drawBars(ui.bars, chart.rows);
    }
    if (results.state !== poll.state) refreshSoon(0);
  }

  function refreshSoon(ms) {
    clearTimeout(refreshTimer);
    refreshTimer = setTimeout(refresh, ms);
  }

  async function refresh() {
    try {
      const next = await P.request(P.api());
      const changed = next.state !== poll.state || next.opens_at !== poll.opens_at || next.closes_at !== poll.closes_at;
      poll = next;
      if (changed) render();
    } catch {
      /* keep showing what we have; try again below */
    }
    const due = (at) => at && new Date(at).getTime() <= Date.now();
    const soon = (poll.state === 'scheduled' && due(poll.opens_at)) || (poll.state === 'open' && due(poll.closes_at));
    if (poll.state !== 'cancelled' && poll.state !== 'archived') refreshSoon(soon ? 1000 : stopResults ? 10000 : 5000);
  }

  async function start() {
    try {
      poll = await P.loadPoll();
    } catch {
      ui.state.textContent = 'Poll not found';
      return;
    }
    render();
    refreshSoon(stopResults ? 10000 : 5000);
  }

  start();
})();
