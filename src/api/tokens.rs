//! `/v1/polls/{id}/tokens`: voter tokens, Momento disposable tokens whose `token_id` is
//! `{poll_id}:{voter_id}`, allowed to publish on `votes` and subscribe to the poll's results
//! topic only.
//!
//! Open polls: anyone may take a token, for a random voter id (an admin may name one); a
//! browser keeps its voter in a signed cookie (`voter_cookie.rs`), so it gets tokens for the
//! same voter again. Invite polls: only an admin, for named voter ids (one, or a batch). Only
//! while the poll is `scheduled` or `open`, and not for a voter without a ballot once a capped
//! poll's seats are all taken (409 `poll_full`: that token could never vote). A token lives
//! `--token-ttl` (default 1 h), never past the poll's `closes_at` + 1 minute, never over 25 h.
//! Every token minted is registered (a hash of it, for its lifetime) so the voter can
//! authenticate with it (`GET /v1/polls/{id}/ballot`).

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use futures::future::try_join_all;
use poem::web::cookie::CookieJar;
use poem::web::Data;
use poem_openapi::param::Path;
use poem_openapi::payload::Json;
use poem_openapi::{ApiResponse, Object, OpenApi};
use secrecy::ExposeSecret;
use serde::Deserialize;

use crate::api::auth::{AdminAuth, MaybeAdmin};
use crate::api::body::{OptionalJson, StrictJson};
use crate::api::errors::{ApiError, ErrorBody};
use crate::api::links::token_vote_url;
use crate::api::path::load_recent_poll;
use crate::api::tags::ApiTags;
use crate::api::voter_cookie;
use crate::domain::{Access, Poll, PollState, TokenId, VoterId};
use crate::momento::keys::results_topic;
use crate::state::AppState;

/// Longest a Momento disposable token may live.
const MAX_TOKEN_LIFETIME: Duration = Duration::from_secs(25 * 60 * 60);
/// Grace after `closes_at` (clock skew between replicas and clients).
const AFTER_CLOSE: Duration = Duration::from_secs(60);
/// Most voter ids in one batch.
const MAX_BATCH: usize = 500;

/// The voter tokens resource.
pub struct TokensApi;

/// Body of `POST /v1/polls/{id}/tokens` (optional for open polls).
#[derive(Debug, Object, Deserialize)]
#[oai(deny_unknown_fields)]
#[serde(deny_unknown_fields)]
pub struct TokenRequest {
    /// The voter (1..=47 of `A-Z a-z 0-9 . _ @ + -`). Required for invite polls; on open polls
    /// only an admin may choose it (otherwise a random one is assigned).
    pub voter_id: Option<String>,
    /// `"challenge": "pow"` polls, anonymous callers: the answer to a fresh puzzle of
    /// `GET /v1/polls/{id}/challenge` (ALTCHA's payload: base64 JSON). One puzzle, one token.
    pub pow: Option<String>,
}

/// Body of `POST /v1/polls/{id}/tokens/batch`.
#[derive(Debug, Object, Deserialize)]
#[oai(deny_unknown_fields)]
#[serde(deny_unknown_fields)]
pub struct BatchTokenRequest {
    /// The voters, 1..=500 distinct ids.
    pub voter_ids: Vec<String>,
}

/// A voter token and where to use it.
#[derive(Debug, Object)]
pub struct VoterToken {
    /// The Momento token as the SDKs take it (`CredentialProvider::from_disposable_token`), and
    /// as the HTTP topics API takes it in `Authorization`.
    pub token: String,
    /// `{poll_id}:{voter_id}`: Momento attaches it to every message the token publishes.
    pub token_id: String,
    /// The voter id.
    pub voter_id: String,
    /// When the token stops working.
    pub expires_at: DateTime<Utc>,
    /// The Momento cache of the topics.
    pub cache: String,
    /// Where votes are published: `{"poll_id": "...", "choices": ["o1"]}`.
    pub votes_topic: String,
    /// Where live results arrive.
    pub results_topic: String,
    /// Base URL of Momento's HTTP topics API for this token (`{http_endpoint}/topics/...`).
    pub http_endpoint: String,
    /// The voter page with this token in the URL fragment (`/p/{id}#token=...`): the link to
    /// send an invited voter. The fragment never reaches a server.
    pub vote_url: String,
}

/// A batch of voter tokens.
#[derive(Debug, Object)]
pub struct VoterTokens {
    /// One token per voter id, in the order given.
    pub tokens: Vec<VoterToken>,
}

/// Answer of `POST /v1/polls/{id}/tokens`.
#[derive(ApiResponse)]
pub enum TokenCreated {
    /// The token.
    #[oai(status = 201)]
    Created(Json<VoterToken>),
}

/// Answer of `POST /v1/polls/{id}/tokens/batch`.
#[derive(ApiResponse)]
pub enum TokensCreated {
    /// The tokens.
    #[oai(status = 201)]
    Created(Json<VoterTokens>),
}

#[OpenApi(prefix_path = "/v1/polls", tag = "ApiTags::Tokens")]
impl TokensApi {
    /// Get a voter token. Open polls: anyone (a random voter id, kept in a cookie so the same
    /// browser stays the same voter; `"challenge": "pow"` polls first ask for a proof of work,
    /// 403 `challenge_required` or `challenge_failed` without a good one). Invite polls: admin
    /// only, with `voter_id`. Only for `scheduled` or `open` polls; 409 `poll_full` once a
    /// `max_voters` poll's seats are all taken (but for a voter who has a ballot).
    #[oai(path = "/:id/tokens", method = "post", operation_id = "create_token")]
    async fn create(
        &self,
        auth: MaybeAdmin,
        state: Data<&Arc<AppState>>,
        cookies: &CookieJar,
        /// The poll's id.
        id: Path<String>,
        body: OptionalJson<TokenRequest>,
    ) -> Result<TokenCreated, ApiError> {
        let poll = issuable_poll(&state, &id.0).await?;
        let (requested, pow) = body.0.map_or((None, None), |b| (b.voter_id, b.pow));
        if !auth.is_admin() && poll.access() == Access::Open {
            crate::api::challenge::require(&state, &poll, pow.as_deref()).await?;
        }
        let voter = match (poll.access(), auth.is_admin(), requested) {
            (Access::Invite, false, _) => {
                return Err(ApiError::unauthorized(
                    "this poll is invite-only: tokens are minted by an admin",
                ))
            }
            (Access::Invite, true, None) => {
                return Err(ApiError::bad_request(
                    "voter_id: required for an invite-only poll",
                ))
            }
            (Access::Open, false, Some(_)) => {
                return Err(ApiError::bad_request(
                    "voter_id: only an admin may choose it; leave it out for a random one",
                ))
            }
            (_, _, Some(raw)) => parse_voter(&raw)?,
            (Access::Open, true, None) => VoterId::generate(),
            (Access::Open, false, None) => {
                let voter = voter_cookie::voter(cookies, &state.cookie_key, poll.id())
                    .unwrap_or_else(VoterId::generate);
                voter_cookie::remember(
                    cookies,
                    &state.cookie_key,
                    &TokenId::new(poll.id(), &voter),
                    state.record_ttl,
                    state.public_url.starts_with("https://"),
                );
                voter
            }
        };
        refuse_when_full(&state, &poll, std::slice::from_ref(&voter)).await?;
        let token = mint(&state, &poll, voter).await?;
        Ok(TokenCreated::Created(Json(token)))
    }

    /// Get voter tokens for a list of voter ids (admin; any access mode).
    #[oai(
        path = "/:id/tokens/batch",
        method = "post",
        operation_id = "create_tokens"
    )]
    async fn batch(
        &self,
        _admin: AdminAuth,
        state: Data<&Arc<AppState>>,
        /// The poll's id.
        id: Path<String>,
        body: StrictJson<BatchTokenRequest>,
    ) -> Result<TokensCreated, ApiError> {
        let ids = body.0.voter_ids;
        if ids.is_empty() || ids.len() > MAX_BATCH {
            return Err(ApiError::bad_request(format!(
                "voter_ids: between 1 and {MAX_BATCH} ids, got {}",
                ids.len()
            )));
        }
        let mut voters = Vec::with_capacity(ids.len());
        for raw in &ids {
            let voter = parse_voter(raw)?;
            if voters.contains(&voter) {
                return Err(ApiError::bad_request(format!(
                    "voter_ids: '{raw}' is listed twice"
                )));
            }
            voters.push(voter);
        }
        let poll = issuable_poll(&state, &id.0).await?;
        refuse_when_full(&state, &poll, &voters).await?;
        let tokens = try_join_all(voters.into_iter().map(|v| mint(&state, &poll, v))).await?;
        Ok(TokensCreated::Created(Json(VoterTokens { tokens })))
    }
}

pub(super) fn parse_voter(raw: &str) -> Result<VoterId, ApiError> {
    VoterId::parse(raw).map_err(|e| ApiError::bad_request(format!("voter_id: {e}")))
}

/// The poll, if tokens may be issued for it now.
pub(super) async fn issuable_poll(state: &AppState, raw_id: &str) -> Result<Arc<Poll>, ApiError> {
    // Read through the pipeline's short-lived poll cache: the hot path of a room taking its
    // tokens need not decode the poll record each time, and a poll this replica changes is
    // seen at once (another replica's change within the cache's quarter second).
    let poll = load_recent_poll(state, raw_id).await?;
    match poll.state_at(Utc::now()) {
        PollState::Scheduled | PollState::Open => Ok(poll),
        other => Err(ApiError::conflict(format!(
            "tokens are issued only for scheduled or open polls; this poll is {other}"
        ))),
    }
}

/// 409 `poll_full` when `poll` is capped, every seat is taken, and one of `voters` holds no
/// ballot: such a token could never vote. Voters with a ballot still get tokens (to revote, or
/// to replace an expired one).
pub(super) async fn refuse_when_full(
    state: &AppState,
    poll: &Poll,
    voters: &[VoterId],
) -> Result<(), ApiError> {
    let Some(max_voters) = poll.max_voters() else {
        return Ok(());
    };
    if state.ballots.seats_taken(poll.id()).await? < u64::from(max_voters) {
        return Ok(());
    }
    let ballots = try_join_all(voters.iter().map(|v| state.ballots.current(poll.id(), v))).await?;
    if ballots.iter().all(Option::is_some) {
        return Ok(());
    }
    Err(ApiError::Conflict(ErrorBody::new(
        "poll_full",
        format!("this poll is full: its {max_voters} seats (max_voters) are taken"),
    )))
}

pub(super) async fn mint(
    state: &AppState,
    poll: &Poll,
    voter: VoterId,
) -> Result<VoterToken, ApiError> {
    let now = Utc::now();
    let valid_for = token_lifetime(state.settings.token_ttl, poll.closes_at(), now)
        .ok_or_else(|| ApiError::conflict("the poll closes too soon to issue a token"))?;
    let token_id = TokenId::new(poll.id(), &voter);
    let votes_topic = state.vote_shards.topic_of(poll.id());
    let minted = (state.momento)
        .mint_voter_token(&token_id, &votes_topic, valid_for)
        .await?;
    state
        .voter_tokens
        .register(&minted.token, &token_id, valid_for)
        .await?;
    let token = minted.token.expose_secret();
    Ok(VoterToken {
        vote_url: token_vote_url(&state.public_url, poll.id(), token),
        token: token.to_owned(),
        token_id: token_id.to_string(),
        voter_id: voter.as_str().to_owned(),
        expires_at: minted.expires_at,
        cache: state.momento.cache_name().to_owned(),
        votes_topic,
        results_topic: results_topic(poll.id()),
        http_endpoint: state.http_endpoint.clone(),
    })
}

/// `configured`, capped at 25 h and at `closes_at` + 1 minute; `None` when that leaves less
/// than a second.
pub fn token_lifetime(
    configured: Duration,
    closes_at: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
) -> Option<Duration> {
    let mut lifetime = configured.min(MAX_TOKEN_LIFETIME);
    if let Some(closes_at) = closes_at {
        let grace = chrono::Duration::from_std(AFTER_CLOSE).expect("a minute fits");
        let until_close = (closes_at + grace - now).to_std().unwrap_or(Duration::ZERO);
        lifetime = lifetime.min(until_close);
    }
    (lifetime >= Duration::from_secs(1)).then_some(lifetime)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_lifetime_is_capped_by_close_and_by_25_hours() {
        let now = Utc::now();
        let hour = Duration::from_secs(3600);
        assert_eq!(token_lifetime(hour, None, now), Some(hour));
        assert_eq!(
            token_lifetime(Duration::from_secs(30 * 3600), None, now),
            Some(MAX_TOKEN_LIFETIME)
        );
        let closes = now + chrono::Duration::minutes(10);
        assert_eq!(
            token_lifetime(hour, Some(closes), now),
            Some(Duration::from_secs(11 * 60))
        );
        let long_gone = now - chrono::Duration::minutes(5);
        assert_eq!(token_lifetime(hour, Some(long_gone), now), None);
    }
}
