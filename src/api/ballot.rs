//! `/v1/polls/{id}/ballot`: what became of a voter's vote, asked with the voter's own token.
//!
//! A publish is answered 204 before the vote is processed, refused or not; this is where a
//! voter (a page, an app) learns whether the vote was counted, or why it was refused. Two
//! answers, never mixed up: `ballot`, what counts (read from the voter's ballot key and ledger
//! entry), and `last_attempt`, what the last processed vote did (counted, or refused with the
//! reason the pipeline kept: `momento/status.rs`). A voter whose first ballot counts and whose
//! later vote was refused reads `ballot: counted [o1]` and `last_attempt: rejected,
//! already_voted`, never "rejected" alone.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use poem::web::Data;
use poem_openapi::param::Path;
use poem_openapi::payload::Json;
use poem_openapi::{ApiResponse, Enum, Object, OpenApi};

use crate::api::auth::VoterAuth;
use crate::api::errors::ApiError;
use crate::api::path::load_poll;
use crate::api::tags::ApiTags;
use crate::momento::status::{LastAttempt, VoteStatus};
use crate::state::AppState;

/// The ballot resource.
pub struct BallotApi;

/// What counts for the voter, in one word.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum)]
#[oai(rename_all = "snake_case")]
pub enum BallotState {
    /// Nothing counts and nothing was refused yet: a vote may still be on its way (or was
    /// never sent). Ask again shortly.
    Pending,
    /// A ballot counts (`ballot`), whatever the last attempt did (`last_attempt`).
    Counted,
    /// Nothing counts, and the last attempt was refused (`last_attempt` says why).
    Rejected,
}

/// Whether a ballot of the voter counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum)]
#[oai(rename_all = "snake_case")]
pub enum CountState {
    /// No ballot of this voter counts (yet).
    None,
    /// This ballot is in the tally.
    Counted,
}

/// The voter's ballot that counts, if any.
#[derive(Debug, Clone, Object)]
pub struct BallotView {
    /// `counted`, or `none`.
    pub state: CountState,
    /// The option ids counted (ranked polls best first, others in ascending order).
    #[oai(skip_serializing_if_is_none)]
    pub choices: Option<Vec<String>>,
    /// Rating polls: the value counted.
    #[oai(skip_serializing_if_is_none)]
    pub value: Option<i64>,
    /// Open-text polls: the entries counted (normalised).
    #[oai(skip_serializing_if_is_none)]
    pub texts: Option<Vec<String>>,
}

/// What the voter's last processed vote did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum)]
#[oai(rename_all = "snake_case")]
pub enum AttemptResult {
    /// No vote of this voter processed yet (one may be on its way).
    None,
    /// It is the ballot that counts.
    Counted,
    /// It was refused: nothing of it counts (`reason`, `message`).
    Rejected,
}

/// The voter's last processed vote.
#[derive(Debug, Clone, Object)]
pub struct AttemptView {
    /// `none`, `counted` or `rejected`.
    pub result: AttemptResult,
    /// `rejected` only: a stable code (`poll_not_open`, `already_voted`, `unknown_option`,
    /// `wrong_poll`, `poll_full`, `too_many_choices`, ...), as in
    /// `pollcast_votes_rejected_total`.
    #[oai(skip_serializing_if_is_none)]
    pub reason: Option<String>,
    /// `rejected` only: what was wrong, for people.
    #[oai(skip_serializing_if_is_none)]
    pub message: Option<String>,
    /// `rejected` only: the `ref` the vote message carried (a client's own id for the attempt,
    /// `{"poll_id": .., "choices": .., "ref": "r-1"}`), so a client can tell that its latest
    /// attempt is the one refused.
    #[oai(rename = "ref", skip_serializing_if_is_none)]
    pub vote_ref: Option<String>,
    /// `rejected` only: when the vote was refused.
    #[oai(skip_serializing_if_is_none)]
    pub at: Option<DateTime<Utc>>,
}

/// A voter's ballot status: what counts, and what the last attempt did, told apart.
#[derive(Debug, Clone, Object)]
pub struct BallotStatus {
    /// In one word: `counted` when a ballot counts (even if a later vote was refused),
    /// `rejected` when nothing counts and the last attempt was refused, else `pending`.
    pub status: BallotState,
    /// The voter the token is for.
    pub voter_id: String,
    /// What counts for this voter.
    pub ballot: BallotView,
    /// What the voter's last processed vote did.
    pub last_attempt: AttemptView,
}

/// Answer of `GET /v1/polls/{id}/ballot`.
#[derive(ApiResponse)]
pub enum BallotResponse {
    /// The voter's ballot status.
    #[oai(status = 200)]
    Ok(Json<BallotStatus>),
}

#[OpenApi(prefix_path = "/v1/polls", tag = "ApiTags::Ballot")]
impl BallotApi {
    /// What counts for the caller on this poll (`ballot`) and what their last vote did
    /// (`last_attempt`: counted, or rejected with the reason), authorised by the voter's own
    /// token (`Authorization: <token>`). Rejections are kept 6 hours.
    #[oai(path = "/:id/ballot", method = "get", operation_id = "get_ballot")]
    async fn get(
        &self,
        voter: VoterAuth,
        state: Data<&Arc<AppState>>,
        /// The poll's id.
        id: Path<String>,
    ) -> Result<BallotResponse, ApiError> {
        let poll = load_poll(&state, &id.0).await?;
        let token = voter.0;
        if token.poll_id() != poll.id() {
            return Err(ApiError::forbidden(
                "wrong_poll",
                "this voter token is for another poll",
            ));
        }
        let status = state.status.status(poll.id(), token.voter_id()).await?;
        let voter_id = token.voter_id().as_str().to_owned();
        Ok(BallotResponse::Ok(Json(view(status, voter_id))))
    }
}

fn view(status: VoteStatus, voter_id: String) -> BallotStatus {
    let ballot = match &status.counted {
        None => BallotView {
            state: CountState::None,
            choices: None,
            value: None,
            texts: None,
        },
        Some(counted) => {
            let value = counted.value;
            let texts = (!counted.texts.is_empty()).then(|| counted.texts.clone());
            let choices = (!counted.choices.is_empty() || value.is_none() && texts.is_none())
                .then(|| counted.choices.clone());
            BallotView {
                state: CountState::Counted,
                choices,
                value,
                texts,
            }
        }
    };
    let none = |result| AttemptView {
        result,
        reason: None,
        message: None,
        vote_ref: None,
        at: None,
    };
    let last_attempt = match status.last {
        LastAttempt::None => none(AttemptResult::None),
        LastAttempt::Counted => none(AttemptResult::Counted),
        LastAttempt::Rejected(rejected) => AttemptView {
            result: AttemptResult::Rejected,
            reason: Some(rejected.reason),
            message: Some(rejected.message),
            vote_ref: rejected.vote_ref,
            at: Some(rejected.at),
        },
    };
    let summary = match (ballot.state, last_attempt.result) {
        (CountState::Counted, _) => BallotState::Counted,
        (CountState::None, AttemptResult::Rejected) => BallotState::Rejected,
        (CountState::None, _) => BallotState::Pending,
    };
    BallotStatus {
        status: summary,
        voter_id,
        ballot,
        last_attempt,
    }
}
