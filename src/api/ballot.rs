//! `/v1/polls/{id}/ballot`: what became of a voter's vote, asked with the voter's own token.
//!
//! A publish is answered 204 before the vote is processed, refused or not; this is where a
//! voter (a page, an app) learns whether the vote was counted, or why it was refused. The
//! answer is read from the voter's ballot key and ledger entry (counted) and from the last
//! rejection the pipeline kept (`momento/status.rs`); `pending` when neither says anything yet.

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
use crate::momento::status::{Counted, VoteStatus};
use crate::state::AppState;

/// The ballot resource.
pub struct BallotApi;

/// What became of the voter's latest vote.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum)]
#[oai(rename_all = "snake_case")]
pub enum BallotState {
    /// Nothing counted or refused yet: the vote is still on its way (or was never sent). Ask
    /// again shortly.
    Pending,
    /// Counted: `choices` are in the tally.
    Counted,
    /// Refused: `reason` and `message` say why; nothing of that vote is counted.
    Rejected,
}

/// A voter's ballot status.
#[derive(Debug, Clone, Object)]
pub struct BallotStatus {
    /// What became of the voter's latest vote.
    pub status: BallotState,
    /// The voter the token is for.
    pub voter_id: String,
    /// The voter's counted ballot (option ids; ranked polls best first, others in ascending
    /// order), if one stands: also when the latest vote was rejected (e.g. `already_voted`).
    pub choices: Option<Vec<String>>,
    /// Rating polls: the voter's counted value, if a ballot stands.
    pub value: Option<i64>,
    /// Open-text polls: the voter's counted entries (normalised), if a ballot stands.
    pub texts: Option<Vec<String>>,
    /// `rejected` only: a stable code (`poll_not_open`, `already_voted`, `unknown_option`,
    /// `wrong_poll`, `poll_full`, `too_many_choices`, ...), as in
    /// `pollcast_votes_rejected_total`.
    pub reason: Option<String>,
    /// `rejected` only: what was wrong, for people.
    pub message: Option<String>,
    /// `rejected` only: the `ref` the rejected vote message carried (a client's own id for the
    /// attempt, `{"poll_id": .., "choices": .., "ref": "r-1"}`), so a client can tell that its
    /// latest attempt is the one refused.
    #[oai(rename = "ref")]
    pub vote_ref: Option<String>,
    /// `rejected` only: when the vote was refused.
    pub rejected_at: Option<DateTime<Utc>>,
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
    /// What became of the caller's vote on this poll, authorised by the voter's own token
    /// (`Authorization: <token>`): `pending`, `counted` (with the choices counted) or
    /// `rejected` (with the reason). Rejections are kept 6 hours.
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
    let (state, counted, rejected) = match status {
        VoteStatus::Pending => (BallotState::Pending, None, None),
        VoteStatus::Counted(counted) => (BallotState::Counted, Some(counted), None),
        VoteStatus::Rejected { rejected, counted } => {
            (BallotState::Rejected, counted, Some(rejected))
        }
    };
    let value = counted.as_ref().and_then(|c| c.value);
    let texts = counted
        .as_ref()
        .filter(|c| !c.texts.is_empty())
        .map(|c| c.texts.clone());
    let choices = counted
        .map(|c: Counted| c.choices)
        .filter(|c| !c.is_empty() || value.is_none() && texts.is_none());
    BallotStatus {
        status: state,
        voter_id,
        choices,
        value,
        texts,
        reason: rejected.as_ref().map(|r| r.reason.clone()),
        message: rejected.as_ref().map(|r| r.message.clone()),
        vote_ref: rejected.as_ref().and_then(|r| r.vote_ref.clone()),
        rejected_at: rejected.map(|r| r.at),
    }
}
