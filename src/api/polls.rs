//! `/v1/polls`: create, read, list, and move polls along their lifecycle.

use std::collections::HashMap;
use std::sync::Arc;

use chrono::Utc;
use futures::future::join_all;
use poem::web::Data;
use poem_openapi::param::{Path, Query};
use poem_openapi::payload::Json;
use poem_openapi::{ApiResponse, OpenApi};

use crate::api::auth::AdminAuth;
use crate::api::body::StrictJson;
use crate::api::errors::ApiError;
use crate::api::path::{load_poll, poll_id};
use crate::api::tags::ApiTags;
use crate::api::views::{AdminPoll, NewPoll, PollPage, PollState, PublicPoll, Schedule};
use crate::domain::{self, Event, PollId};
use crate::momento::polls::IndexEntry;
use crate::state::AppState;

/// Largest page of [`PollsApi::list`].
const MAX_PAGE: u32 = 200;
/// How many times creation tries a fresh id when the random one is taken.
const ID_ATTEMPTS: usize = 4;

/// The polls resource.
pub struct PollsApi;

/// Answer of `POST /v1/polls`.
#[derive(ApiResponse)]
pub enum Created {
    /// The poll, with its id and option ids.
    #[oai(status = 201)]
    Created(Json<AdminPoll>),
}

/// Answer of reads and transitions that return one poll to an admin.
#[derive(ApiResponse)]
pub enum AdminPollResponse {
    /// The poll after the change.
    #[oai(status = 200)]
    Ok(Json<AdminPoll>),
}

/// Answer of `GET /v1/polls/{id}`.
#[derive(ApiResponse)]
pub enum PublicPollResponse {
    /// The public view of the poll.
    #[oai(status = 200)]
    Ok(Json<PublicPoll>),
}

/// Answer of `GET /v1/polls`.
#[derive(ApiResponse)]
pub enum PollPageResponse {
    /// A page of polls, newest first.
    #[oai(status = 200)]
    Ok(Json<PollPage>),
}

#[OpenApi(prefix_path = "/v1/polls", tag = "ApiTags::Polls")]
impl PollsApi {
    /// Create a poll. It starts `draft`, or `scheduled` when `opens_at` is given. Every broken
    /// rule is reported at once, each naming its field.
    #[oai(path = "/", method = "post", operation_id = "create_poll")]
    async fn create(
        &self,
        _admin: AdminAuth,
        state: Data<&Arc<AppState>>,
        body: StrictJson<NewPoll>,
    ) -> Result<Created, ApiError> {
        let now = Utc::now();
        let new: domain::NewPoll = body.0.into();
        for _ in 0..ID_ATTEMPTS {
            let poll = new.clone().validate(PollId::generate(), now)?;
            if state.polls.create(&poll).await? {
                state.scheduler.watch(&poll);
                return Ok(Created::Created(Json(AdminPoll::of(
                    &poll,
                    now,
                    &state.public_url,
                ))));
            }
        }
        Err(ApiError::internal(&anyhow::anyhow!(
            "{ID_ATTEMPTS} random poll ids were all taken"
        )))
    }

    /// List polls, newest first (admin). Page with `limit` and the `next_cursor` of the
    /// previous page; filter by `state`.
    #[oai(path = "/", method = "get", operation_id = "list_polls")]
    async fn list(
        &self,
        _admin: AdminAuth,
        state: Data<&Arc<AppState>>,
        /// Only polls in this state (as of now).
        #[oai(name = "state")]
        filter: Query<Option<PollState>>,
        /// Most polls per page, 1..=200 (default 50).
        limit: Query<Option<u32>>,
        /// Where to continue: the `next_cursor` of the previous page.
        cursor: Query<Option<String>>,
    ) -> Result<PollPageResponse, ApiError> {
        let limit = limit.0.unwrap_or(50);
        if !(1..=MAX_PAGE).contains(&limit) {
            return Err(ApiError::bad_request(format!(
                "limit: must be between 1 and {MAX_PAGE}, got {limit}"
            )));
        }
        let ids = newest_first(state.polls.index().await?);
        let start = match &cursor.0 {
            None => 0,
            Some(cursor) => {
                position_of(&ids, cursor)
                    .ok_or_else(|| ApiError::bad_request("cursor: not a poll of this list"))?
                    + 1
            }
        };
        let (polls, more) = page(&state, &ids[start..], filter.0, limit as usize).await?;
        let next_cursor = match more {
            true => polls.last().map(|poll| poll.id.clone()),
            false => None,
        };
        Ok(PollPageResponse::Ok(Json(PollPage { next_cursor, polls })))
    }

    /// Read a poll (anyone): what voters need, without admin-only fields.
    #[oai(path = "/:id", method = "get", operation_id = "get_poll")]
    async fn get(
        &self,
        state: Data<&Arc<AppState>>,
        /// The poll's id.
        id: Path<String>,
    ) -> Result<PublicPollResponse, ApiError> {
        let poll = load_poll(&state, &id.0).await?;
        Ok(PublicPollResponse::Ok(Json(PublicPoll::of(
            &poll,
            Utc::now(),
            &state.public_url,
        ))))
    }

    /// Open a poll now (from `draft` or `scheduled`).
    #[oai(path = "/:id/open", method = "post", operation_id = "open_poll")]
    async fn open(
        &self,
        _admin: AdminAuth,
        state: Data<&Arc<AppState>>,
        /// The poll's id.
        id: Path<String>,
    ) -> Result<AdminPollResponse, ApiError> {
        change(&state, &id.0, Event::Open).await
    }

    /// Close a poll now (from `open`); its results are final.
    #[oai(path = "/:id/close", method = "post", operation_id = "close_poll")]
    async fn close(
        &self,
        _admin: AdminAuth,
        state: Data<&Arc<AppState>>,
        /// The poll's id.
        id: Path<String>,
    ) -> Result<AdminPollResponse, ApiError> {
        change(&state, &id.0, Event::Close).await
    }

    /// Schedule a poll to open at `opens_at` (from `draft`, or move a `scheduled` opening).
    #[oai(
        path = "/:id/schedule",
        method = "post",
        operation_id = "schedule_poll"
    )]
    async fn schedule(
        &self,
        _admin: AdminAuth,
        state: Data<&Arc<AppState>>,
        /// The poll's id.
        id: Path<String>,
        body: StrictJson<Schedule>,
    ) -> Result<AdminPollResponse, ApiError> {
        let event = Event::Schedule {
            opens_at: body.0.opens_at,
        };
        change(&state, &id.0, event).await
    }

    /// Archive a closed poll.
    #[oai(path = "/:id/archive", method = "post", operation_id = "archive_poll")]
    async fn archive(
        &self,
        _admin: AdminAuth,
        state: Data<&Arc<AppState>>,
        /// The poll's id.
        id: Path<String>,
    ) -> Result<AdminPollResponse, ApiError> {
        change(&state, &id.0, Event::Archive).await
    }

    /// Cancel a poll that has not opened (`draft` or `scheduled`).
    #[oai(path = "/:id/cancel", method = "post", operation_id = "cancel_poll")]
    async fn cancel(
        &self,
        _admin: AdminAuth,
        state: Data<&Arc<AppState>>,
        /// The poll's id.
        id: Path<String>,
    ) -> Result<AdminPollResponse, ApiError> {
        change(&state, &id.0, Event::Cancel).await
    }
}

/// The index's poll ids, newest first (ties broken by id, so pages are stable).
fn newest_first(index: HashMap<PollId, IndexEntry>) -> Vec<PollId> {
    let mut entries: Vec<_> = index.into_iter().collect();
    entries.sort_by(|(a_id, a), (b_id, b)| {
        b.created_at
            .cmp(&a.created_at)
            .then_with(|| a_id.as_str().cmp(b_id.as_str()))
    });
    entries.into_iter().map(|(id, _)| id).collect()
}

fn position_of(ids: &[PollId], id: &str) -> Option<usize> {
    ids.iter().position(|candidate| candidate.as_str() == id)
}

/// Up to `limit` polls of `ids` (in order) that pass `filter`, read `limit` at a time, and
/// whether another poll after them passes it too (so a next page would not be empty). A
/// dangling index entry (creation failed half-way) is skipped.
async fn page(
    state: &AppState,
    ids: &[PollId],
    filter: Option<PollState>,
    limit: usize,
) -> Result<(Vec<AdminPoll>, bool), ApiError> {
    let now = Utc::now();
    let mut polls = Vec::new();
    for chunk in ids.chunks(limit) {
        let reads = join_all(chunk.iter().map(|id| state.polls.get(id))).await;
        for read in reads {
            let Some(stored) = read? else { continue };
            let view = AdminPoll::of(&stored.poll, now, &state.public_url);
            if filter.is_none_or(|f| f == view.state) {
                if polls.len() == limit {
                    return Ok((polls, true));
                }
                polls.push(view);
            }
        }
    }
    Ok((polls, false))
}

/// Applies `event` to the poll `raw_id` names, now; tells the scheduler, the pipeline's poll
/// cache and the results publisher.
async fn change(
    state: &AppState,
    raw_id: &str,
    event: Event,
) -> Result<AdminPollResponse, ApiError> {
    let now = Utc::now();
    let poll = apply(state, &poll_id(raw_id)?, event, now).await?;
    Ok(AdminPollResponse::Ok(Json(AdminPoll::of(
        &poll,
        now,
        &state.public_url,
    ))))
}

/// Applies `event` to the poll `id` at `now`; tells the scheduler, the pipeline's poll cache
/// and the results publisher. Returns the poll as stored.
pub(super) async fn apply(
    state: &AppState,
    id: &PollId,
    event: Event,
    now: chrono::DateTime<Utc>,
) -> Result<domain::Poll, ApiError> {
    let poll = state.polls.apply(id, &event, now).await?;
    state.scheduler.watch(&poll);
    state.pipeline.forget(poll.id());
    state.publisher.mark(poll.id());
    Ok(poll)
}
