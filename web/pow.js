'use strict';
/* The proof of work of "challenge": "pow" polls (ALTCHA's scheme): find the number n in
   0..maxnumber whose SHA-256 of salt + n (in decimal) is the puzzle's challenge, and answer
   base64({algorithm, challenge, number, salt, signature}).

   SHA-256 is done here in plain JavaScript rather than with crypto.subtle: one await per hash
   costs more than the hash itself, and the salt's first 64-byte blocks are the same for every
   number, so they are hashed once (a midstate) and each try hashes only what follows. The
   search runs in slices of about 30 ms, so the page stays responsive while it works. */

const pollcastPow = (() => {
  const K = new Uint32Array([
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
    0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
    0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
    0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
    0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
    0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
    0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
    0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
  ]);
  const INITIAL = [0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19];
  const w = new Uint32Array(64);

  /** Hashes the 64-byte block at `bytes[offset..]` into `state` (8 words, in place). */
  function block(state, bytes, offset) {
    for (let i = 0; i < 16; i += 1) {
      const j = offset + i * 4;
      w[i] = (bytes[j] << 24) | (bytes[j + 1] << 16) | (bytes[j + 2] << 8) | bytes[j + 3];
    }
    for (let i = 16; i < 64; i += 1) {
      const a = w[i - 15];
      const b = w[i - 2];
      const s0 = ((a >>> 7) | (a << 25)) ^ ((a >>> 18) | (a << 14)) ^ (a >>> 3);
      const s1 = ((b >>> 17) | (b << 15)) ^ ((b >>> 19) | (b << 13)) ^ (b >>> 10);
      w[i] = (w[i - 16] + s0 + w[i - 7] + s1) | 0;
    }
    let [a, b, c, d, e, f, g, h] = state;
    for (let i = 0; i < 64; i += 1) {
      const S1 = ((e >>> 6) | (e << 26)) ^ ((e >>> 11) | (e << 21)) ^ ((e >>> 25) | (e << 7));
      const t1 = (h + S1 + ((e & f) ^ (~e & g)) + K[i] + w[i]) | 0;
      const S0 = ((a >>> 2) | (a << 30)) ^ ((a >>> 13) | (a << 19)) ^ ((a >>> 22) | (a << 10));
      const t2 = (S0 + ((a & b) ^ (a & c) ^ (b & c))) | 0;
      h = g;
      g = f;
      f = e;
      e = (d + t1) | 0;
      d = c;
      c = b;
      b = a;
      a = (t1 + t2) | 0;
    }
    state[0] = (state[0] + a) | 0;
    state[1] = (state[1] + b) | 0;
    state[2] = (state[2] + c) | 0;
    state[3] = (state[3] + d) | 0;
    state[4] = (state[4] + e) | 0;
    state[5] = (state[5] + f) | 0;
    state[6] = (state[6] + g) | 0;
    state[7] = (state[7] + h) | 0;
  }

  const ascii = (text) => Uint8Array.from(text, (ch) => ch.charCodeAt(0) & 0xff);

  /**
   * A searcher for `salt`: `matches(n, target)` says whether SHA-256(salt + n) is `target`
   * (8 words). The salt's whole leading blocks are hashed once.
   */
  function searcher(salt) {
    const bytes = ascii(salt);
    const fixed = bytes.length - (bytes.length % 64);
    const midstate = Int32Array.from(INITIAL);
    for (let offset = 0; offset < fixed; offset += 64) block(midstate, bytes, offset);
    const rest = bytes.slice(fixed);
    const buffer = new Uint8Array(192);
    const state = new Int32Array(8);
    return (n, target) => {
      const digits = String(n);
      let len = rest.length;
      buffer.set(rest);
      for (let i = 0; i < digits.length; i += 1) buffer[len + i] = digits.charCodeAt(i);
      len += digits.length;
      const total = bytes.length + digits.length;
      buffer[len] = 0x80;
      const padded = ((len + 8) >> 6) * 64 + 64;
      buffer.fill(0, len + 1, padded);
      const bits = total * 8;
      buffer[padded - 4] = (bits >>> 24) & 0xff;
      buffer[padded - 3] = (bits >>> 16) & 0xff;
      buffer[padded - 2] = (bits >>> 8) & 0xff;
      buffer[padded - 1] = bits & 0xff;
      buffer[padded - 5] = (total >>> 29) & 0xff;
      state.set(midstate);
      for (let offset = 0; offset < padded; offset += 64) block(state, buffer, offset);
      for (let i = 0; i < 8; i += 1) if (state[i] !== target[i]) return false;
      return true;
    };
  }

  /** The challenge (64 hex digits) as 8 signed 32-bit words. */
  function words(hex) {
    const out = new Int32Array(8);
    for (let i = 0; i < 8; i += 1) out[i] = Number.parseInt(hex.slice(i * 8, i * 8 + 8), 16) | 0;
    return out;
  }

  const yieldToPage = () => new Promise((resolve) => setTimeout(resolve, 0));

  /**
   * Solves `puzzle` (the answer of GET /v1/polls/{id}/challenge): resolves to the payload for
   * `pow`, and how long it took (ms) and how many hashes. Rejects when no number solves it.
   */
  async function solve(puzzle) {
    if (puzzle.algorithm !== 'SHA-256') throw new Error(`unsupported algorithm ${puzzle.algorithm}`);
    const started = performance.now();
    const matches = searcher(puzzle.salt);
    const target = words(puzzle.challenge);
    let n = 0;
    while (n <= puzzle.maxnumber) {
      const slice = performance.now() + 30;
      do {
        if (matches(n, target)) {
          const took = Math.round(performance.now() - started);
          const answer = {
            algorithm: puzzle.algorithm,
            challenge: puzzle.challenge,
            number: n,
            salt: puzzle.salt,
            signature: puzzle.signature,
          };
          return { pow: window.btoa(JSON.stringify(answer)), took, hashes: n + 1 };
        }
        n += 1;
      } while (n <= puzzle.maxnumber && (n & 255 || performance.now() < slice));
      await yieldToPage();
    }
    throw new Error('no number solves the puzzle');
  }

  return { solve, searcher, words };
})();
