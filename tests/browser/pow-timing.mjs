// How long the voter page takes to solve a "challenge": "pow" puzzle, in Chromium with its
// CPU slowed as a mid-range phone (DevTools' CPU throttling; Lighthouse's mobile preset is 4x),
// and unthrottled as the baseline. Not a test: a measurement, written down in docs/SECURITY.md.
//
//   POLLCAST_BIN=target/debug/pollcast node tests/browser/pow-timing.mjs [DIFFICULTY] [RUNS] [RATES]
//   (defaults: the server's default difficulty, 30 runs, rates 1,4,6)
//
// Each run fetches a fresh puzzle from a real server and solves it with the page's own pow.js
// (the puzzle's secret number is uniform in 0..maxnumber, so the time varies run to run).
import { launchBrowser, startServer } from './support.mjs';

const [difficultyArg, runsArg, ratesArg] = process.argv.slice(2);
const runs = Number(runsArg || 30);
const rates = (ratesArg || '1,4,6').split(',').map(Number);

const server = await startServer();
const browser = await launchBrowser();
try {
  const admin = { Authorization: 'Bearer browser-test-admin-key-0123456789', 'Content-Type': 'application/json' };
  const body = { title: 'Timing', options: ['A', 'B'], challenge: 'pow' };
  if (difficultyArg) body.challenge_difficulty = Number(difficultyArg);
  const created = await (await fetch(`${server.url}/v1/polls`, { method: 'POST', headers: admin, body: JSON.stringify(body) })).json();
  await fetch(`${server.url}/v1/polls/${created.id}/open`, { method: 'POST', headers: admin });
  const context = await browser.newContext({ viewport: { width: 360, height: 740 }, isMobile: true });
  const page = await context.newPage();
  await page.goto(created.vote_url);
  await page.waitForFunction(() => typeof pollcastPow === 'object');
  const cdp = await context.newCDPSession(page);
  console.log(`pow timing: difficulty (maxnumber) ${created.challenge_difficulty}, ${runs} puzzles per rate`);
  for (const rate of rates) {
    await cdp.send('Emulation.setCPUThrottlingRate', { rate });
    const results = await page.evaluate(
      async ([id, runs]) => {
        const out = [];
        for (let i = 0; i < runs; i += 1) {
          const puzzle = await (await fetch(`/v1/polls/${id}/challenge`)).json();
          const solved = await pollcastPow.solve(puzzle);
          out.push({ took: solved.took, hashes: solved.hashes });
        }
        return out;
      },
      [created.id, runs],
    );
    const took = results.map((r) => r.took).sort((a, b) => a - b);
    const hashes = results.reduce((a, r) => a + r.hashes, 0);
    const ms = took.reduce((a, t) => a + t, 0);
    const pick = (q) => took[Math.min(took.length - 1, Math.floor(q * took.length))];
    console.log(
      `  CPU ${rate}x slower: mean ${Math.round(ms / runs)} ms, median ${pick(0.5)} ms, p90 ${pick(0.9)} ms, ` +
        `max ${took[took.length - 1]} ms; ${Math.round((hashes / ms) * 1000).toLocaleString('en')} hashes/s`,
    );
  }
} finally {
  await browser.close();
  await server.stop();
}
