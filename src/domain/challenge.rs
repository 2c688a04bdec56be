//! Proof of work before a voter token, for open polls created with `"challenge": "pow"`:
//! ALTCHA's scheme, so any ALTCHA solver works, and pollcast's voter page solves it itself.
//!
//! - **Puzzle**: the server draws a secret number `n` in `0..=maxnumber` and a salt, and
//!   sends `challenge = hex(SHA-256(salt + decimal(n)))`, the salt, `maxnumber`, and
//!   `signature = hex(HMAC-SHA256(key, challenge))`. The client tries numbers from 0 until the
//!   hash matches: `maxnumber / 2` hashes on average (the poll's `challenge_difficulty`).
//! - **Salt**: random hex, then the parameters it vouches for, as ALTCHA writes them:
//!   `<32 hex>?poll=<poll id>&expires=<unix seconds>`. The signature covers the challenge,
//!   which covers the salt: a puzzle cannot be moved to another poll or used after it expires.
//! - **Answer**: base64 of `{"algorithm":"SHA-256","challenge","number","salt","signature"}`
//!   (ALTCHA's payload). [`verify`] checks the algorithm, the poll, the expiry, the hash and the
//!   signature (constant time); the store then spends the challenge (single use,
//!   `momento/challenges.rs`).
//! - **Key**: derived from the admin key (or `--voter-cookie-secret`), so replicas agree.
//!
//! Pure: no I/O; the random numbers are the caller's.

use base64::Engine;
use chrono::{DateTime, Utc};
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::ids::PollId;
use super::poll::Access;
use super::validation::{Collector, Rule};

/// The only algorithm ALTCHA's payload may name here.
pub const ALGORITHM: &str = "SHA-256";
/// Default `challenge_difficulty` (`maxnumber`): about 0.3 s for a mid-range phone on
/// average (measured in Chromium with 4x CPU throttling: `docs/SECURITY.md`).
pub const DEFAULT_DIFFICULTY: u32 = 50_000;
/// Smallest and largest `challenge_difficulty`.
pub const DIFFICULTY_RANGE: std::ops::RangeInclusive<u32> = 1_000..=10_000_000;
/// Longest payload read (a valid one is about 300 bytes).
const MAX_PAYLOAD: usize = 2_048;

/// Whether a poll asks for a proof of work before a voter token.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ChallengeKind {
    /// No challenge (the default).
    #[default]
    None,
    /// ALTCHA's proof of work.
    Pow,
}

/// Whether `kind` is no challenge (stored polls leave it out).
pub(super) fn is_none(kind: &ChallengeKind) -> bool {
    *kind == ChallengeKind::None
}

/// The rules of a poll's challenge settings: `pow` on open polls only (an invite poll's tokens
/// are an admin's), a difficulty only with `pow` and within [`DIFFICULTY_RANGE`]; a `stored`
/// `pow` poll has its difficulty.
pub(super) fn check(
    c: &mut Collector,
    kind: ChallengeKind,
    difficulty: Option<u32>,
    access: Access,
    stored: bool,
) {
    if kind == ChallengeKind::Pow && access == Access::Invite {
        c.push(
            "challenge",
            Rule::NotAllowed,
            "is only for open polls (an invite poll's tokens are minted by an admin)",
        );
    }
    match (kind, difficulty) {
        (ChallengeKind::None, Some(_)) => c.push(
            "challenge_difficulty",
            Rule::NotAllowed,
            "is only for polls with \"challenge\": \"pow\"",
        ),
        (ChallengeKind::Pow, Some(d)) if !DIFFICULTY_RANGE.contains(&d) => c.push(
            "challenge_difficulty",
            Rule::OutOfRange,
            format!(
                "must be from {} to {}",
                DIFFICULTY_RANGE.start(),
                DIFFICULTY_RANGE.end()
            ),
        ),
        (ChallengeKind::Pow, None) if stored => c.push(
            "challenge_difficulty",
            Rule::Required,
            "a pow poll stores its difficulty",
        ),
        _ => {}
    }
}

/// A puzzle as the client gets it (ALTCHA's challenge JSON).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Puzzle {
    /// `SHA-256`.
    pub algorithm: String,
    /// Hex SHA-256 of `salt` followed by the secret number.
    pub challenge: String,
    /// The secret number is at most this.
    pub maxnumber: u32,
    /// Random hex, then `?poll=...&expires=...`.
    pub salt: String,
    /// Hex HMAC-SHA256 of `challenge`.
    pub signature: String,
}

/// ALTCHA's answer payload (decoded from base64 JSON).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Answer {
    /// Must be `SHA-256`.
    pub algorithm: String,
    /// The puzzle's challenge.
    pub challenge: String,
    /// The number found.
    pub number: u64,
    /// The puzzle's salt.
    pub salt: String,
    /// The puzzle's signature.
    pub signature: String,
}

/// Why an answer was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ChallengeError {
    /// Not base64 JSON of ALTCHA's payload.
    #[error("the answer is not a proof-of-work payload (base64 JSON)")]
    Malformed,
    /// Another algorithm than SHA-256.
    #[error("the proof of work must use SHA-256")]
    Algorithm,
    /// Not signed by this server.
    #[error("the puzzle was not issued by this server")]
    Forged,
    /// For another poll.
    #[error("the puzzle was issued for another poll")]
    WrongPoll,
    /// Past its expiry.
    #[error("the puzzle has expired; ask for a new one")]
    Expired,
    /// The number does not solve it.
    #[error("the number does not solve the puzzle")]
    Wrong,
}

/// A new puzzle for `poll`, expiring at `expires`, with the secret `number` (in
/// `0..=difficulty`) and `random` hex, signed with `key`.
pub fn puzzle(
    key: &[u8],
    poll: &PollId,
    difficulty: u32,
    expires: DateTime<Utc>,
    number: u32,
    random: &str,
) -> Puzzle {
    let salt = format!(
        "{random}?poll={}&expires={}",
        poll.as_str(),
        expires.timestamp()
    );
    let challenge = hash(&salt, u64::from(number));
    Puzzle {
        algorithm: ALGORITHM.to_owned(),
        signature: sign(key, &challenge),
        challenge,
        maxnumber: difficulty,
        salt,
    }
}

/// Checks `payload` (base64 of ALTCHA's answer JSON) for `poll` at `now`; the answer, whose
/// `challenge` is then to be spent once.
pub fn verify(
    key: &[u8],
    poll: &PollId,
    payload: &str,
    now: DateTime<Utc>,
) -> Result<Answer, ChallengeError> {
    if payload.len() > MAX_PAYLOAD {
        return Err(ChallengeError::Malformed);
    }
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(payload.trim())
        .map_err(|_| ChallengeError::Malformed)?;
    let answer: Answer = serde_json::from_slice(&bytes).map_err(|_| ChallengeError::Malformed)?;
    if answer.algorithm != ALGORITHM {
        return Err(ChallengeError::Algorithm);
    }
    let expected = sign(key, &answer.challenge);
    let signed: bool =
        subtle::ConstantTimeEq::ct_eq(expected.as_bytes(), answer.signature.as_bytes()).into();
    if !signed {
        return Err(ChallengeError::Forged);
    }
    let params = answer.salt.split_once('?').map_or("", |(_, p)| p);
    let param = |name: &str| {
        params
            .split('&')
            .find_map(|pair| pair.strip_prefix(name)?.strip_prefix('='))
    };
    if param("poll") != Some(poll.as_str()) {
        return Err(ChallengeError::WrongPoll);
    }
    let expires = param("expires")
        .and_then(|t| t.parse::<i64>().ok())
        .ok_or(ChallengeError::Malformed)?;
    if now.timestamp() >= expires {
        return Err(ChallengeError::Expired);
    }
    if hash(&answer.salt, answer.number) != answer.challenge {
        return Err(ChallengeError::Wrong);
    }
    Ok(answer)
}

/// Hex SHA-256 of `salt` followed by `number` in decimal.
fn hash(salt: &str, number: u64) -> String {
    hex::encode(Sha256::digest(format!("{salt}{number}").as_bytes()))
}

/// Hex HMAC-SHA256 of `challenge` with `key`.
fn sign(key: &[u8], challenge: &str) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("HMAC takes keys of any length");
    mac.update(challenge.as_bytes());
    hex::encode(mac.finalize().into_bytes())
}

/// Solves `puzzle` by trying every number up to `maxnumber`, as a client does (tests, the
/// fuzzer, scripts): the number, or `None` when none solves it.
pub fn solve(puzzle: &Puzzle) -> Option<u64> {
    (0..=u64::from(puzzle.maxnumber)).find(|&n| hash(&puzzle.salt, n) == puzzle.challenge)
}

/// The payload a client sends for `puzzle` solved by `number`.
pub fn payload(puzzle: &Puzzle, number: u64) -> String {
    let answer = Answer {
        algorithm: puzzle.algorithm.clone(),
        challenge: puzzle.challenge.clone(),
        number,
        salt: puzzle.salt.clone(),
        signature: puzzle.signature.clone(),
    };
    let json = serde_json::to_vec(&answer).expect("an answer serializes");
    base64::engine::general_purpose::STANDARD.encode(json)
}

#[cfg(test)]
mod tests;
