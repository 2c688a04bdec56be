//! `GET /v1/polls/{id}/challenge`: the proof of work a voter token of a `"challenge": "pow"`
//! poll takes (ALTCHA's scheme, `domain/challenge.rs`), and its check when a token is asked
//! for ([`require`]).
//!
//! A puzzle lives [`PUZZLE_LIFETIME`] and buys one token: its answer is sent as `pow` in the
//! token request's body, checked (signature, poll, expiry, hash), then spent
//! (`momento/challenges.rs`), so a second token costs a second puzzle. Admins, who name their
//! voters, pay nothing. A missing or wrong answer is `403` (`challenge_required`,
//! `challenge_failed`), counted in `pollcast_limited_total{limit="challenge"}`.

use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use hmac::{Hmac, Mac};
use poem::web::Data;
use poem_openapi::param::Path;
use poem_openapi::payload::Json;
use poem_openapi::{ApiResponse, Enum, Object, OpenApi};
use rand::Rng;
use secrecy::{ExposeSecret, SecretSlice, SecretString};
use sha3::Sha3_512;

use crate::api::errors::{ApiError, ErrorBody};
use crate::api::tags::ApiTags;
use crate::api::tokens::issuable_poll;
use crate::domain::challenge::{self, ChallengeKind};
use crate::domain::Poll;
use crate::state::AppState;

/// How long a puzzle may be answered: a voter page solves one in well under a second.
pub const PUZZLE_LIFETIME: Duration = Duration::from_secs(120);
/// What the puzzles' key is derived with, from the admin key or `--voter-cookie-secret`.
const LABEL: &[u8] = b"pollcast proof of work v1";

/// Whether a poll asks for a proof of work before each voter token.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum, serde::Deserialize)]
#[oai(rename_all = "snake_case")]
#[serde(rename_all = "snake_case")]
pub enum Challenge {
    /// No challenge.
    None,
    /// A proof of work (ALTCHA's scheme) before each anonymous voter token:
    /// `GET /v1/polls/{id}/challenge`, solve it, send the answer as `pow`.
    Pow,
}

impl From<Challenge> for ChallengeKind {
    fn from(challenge: Challenge) -> Self {
        match challenge {
            Challenge::None => ChallengeKind::None,
            Challenge::Pow => ChallengeKind::Pow,
        }
    }
}

/// A puzzle: ALTCHA's challenge JSON. Find `number` in `0..=maxnumber` with
/// `hex(SHA-256(salt + decimal(number))) == challenge`, then send
/// `base64({"algorithm", "challenge", "number", "salt", "signature"})` as `pow`.
#[derive(Debug, Clone, Object)]
pub struct PuzzleView {
    /// `SHA-256`.
    pub algorithm: String,
    /// The hash to find, hex.
    pub challenge: String,
    /// The number is at most this (the poll's `challenge_difficulty`).
    pub maxnumber: u32,
    /// What the number is appended to (it names the poll and the expiry).
    pub salt: String,
    /// The server's signature of `challenge`, to send back.
    pub signature: String,
}

/// Answer of `GET /v1/polls/{id}/challenge`.
#[derive(ApiResponse)]
pub enum PuzzleResponse {
    /// A fresh puzzle, good for one voter token within two minutes.
    #[oai(status = 200)]
    Ok(Json<PuzzleView>),
}

/// The challenge resource.
pub struct ChallengeApi;

#[OpenApi(prefix_path = "/v1/polls", tag = "ApiTags::Tokens")]
impl ChallengeApi {
    /// A proof-of-work puzzle for a voter token of a `"challenge": "pow"` poll (anyone, while
    /// the poll is scheduled or open); 409 `no_challenge` for a poll that asks for none.
    #[oai(
        path = "/:id/challenge",
        method = "get",
        operation_id = "get_challenge"
    )]
    async fn get(
        &self,
        state: Data<&Arc<AppState>>,
        /// The poll's id.
        id: Path<String>,
    ) -> Result<PuzzleResponse, ApiError> {
        let poll = issuable_poll(&state, &id.0).await?;
        let Some(difficulty) = poll.pow_difficulty() else {
            return Err(ApiError::Conflict(ErrorBody::new(
                "no_challenge",
                "this poll asks for no proof of work: take a token directly",
            )));
        };
        let expires =
            Utc::now() + chrono::Duration::from_std(PUZZLE_LIFETIME).expect("two minutes fit");
        let (number, random) = {
            let mut rng = rand::rng();
            let number = rng.random_range(0..=difficulty);
            let random: [u8; 16] = rng.random();
            (number, hex::encode(random))
        };
        let key = state.challenge_key.expose_secret();
        let puzzle = challenge::puzzle(key, poll.id(), difficulty, expires, number, &random);
        Ok(PuzzleResponse::Ok(Json(PuzzleView {
            algorithm: puzzle.algorithm,
            challenge: puzzle.challenge,
            maxnumber: puzzle.maxnumber,
            salt: puzzle.salt,
            signature: puzzle.signature,
        })))
    }
}

/// The key puzzles are signed with: from `secret` if given, else from `admin_key`.
pub fn key(secret: Option<&SecretString>, admin_key: &SecretString) -> SecretSlice<u8> {
    let master = secret.unwrap_or(admin_key).expose_secret();
    let mut mac = Hmac::<Sha3_512>::new_from_slice(master.as_bytes()).expect("any key length");
    mac.update(LABEL);
    mac.finalize().into_bytes().to_vec().into()
}

/// For an anonymous voter token of `poll`: its answer `pow` must solve a fresh puzzle of this
/// poll, not spent yet (then it is). Nothing asked of polls without a challenge.
pub async fn require(state: &AppState, poll: &Poll, pow: Option<&str>) -> Result<(), ApiError> {
    if poll.pow_difficulty().is_none() {
        return Ok(());
    }
    let refuse = |code: &str, message: String| {
        state
            .metrics
            .limited
            .with_label_values(&["challenge"])
            .inc();
        Err(ApiError::forbidden(code, message))
    };
    let Some(pow) = pow else {
        return refuse(
            "challenge_required",
            format!(
                "this poll asks for a proof of work: GET /v1/polls/{}/challenge, solve it, and \
                 send the answer as `pow`",
                poll.id().as_str()
            ),
        );
    };
    let key = state.challenge_key.expose_secret();
    let answer = match challenge::verify(key, poll.id(), pow, Utc::now()) {
        Ok(answer) => answer,
        Err(error) => return refuse("challenge_failed", error.to_string()),
    };
    if !state
        .challenges
        .spend(&answer.challenge, PUZZLE_LIFETIME)
        .await?
    {
        return refuse(
            "challenge_failed",
            "this puzzle was answered already; ask for a new one".to_owned(),
        );
    }
    Ok(())
}
