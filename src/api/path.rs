//! The poll a path's `{id}` names: a raw id that cannot be a poll id names no poll (404, like
//! an id nobody created), so handlers never see an unparsed id.

use std::sync::Arc;

use crate::api::errors::ApiError;
use crate::domain::{Poll, PollId};
use crate::state::AppState;

/// The poll id `raw` spells; 404 when it cannot be one.
pub fn poll_id(raw: &str) -> Result<PollId, ApiError> {
    PollId::parse(raw).map_err(|_| ApiError::no_poll(raw))
}

/// The poll `raw` names: 404 for an id that cannot exist or names no poll, 503 when Momento
/// fails.
pub async fn load_poll(state: &AppState, raw: &str) -> Result<Poll, ApiError> {
    let id = poll_id(raw)?;
    let stored = state
        .polls
        .get(&id)
        .await?
        .ok_or_else(|| ApiError::no_poll(raw))?;
    Ok(stored.poll)
}

/// [`load_poll`], through the pipeline's short-lived poll cache (a read at most a quarter
/// second old; this replica's own changes at once): for hot paths that only check a poll.
pub async fn load_recent_poll(state: &AppState, raw: &str) -> Result<Arc<Poll>, ApiError> {
    let id = poll_id(raw)?;
    state
        .pipeline
        .recent_poll(&id)
        .await?
        .ok_or_else(|| ApiError::no_poll(raw))
}
