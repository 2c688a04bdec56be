//! `/v1/polls`: create, read, list, and move polls along their lifecycle.

use std::sync::Arc;

use chrono::Utc;
use futures::future::join_all;
use poem::web::Data;
use poem_openapi::param::{Path, Query};
use poem_openapi::payload::Json;
use poem_openapi::{ApiResponse, OpenApi};

use crate::api::auth::AdminAuth;
use crate::api::strict_json::StrictJson;
use crate::api::views::{AdminPoll, NewPoll, PollPage, PollState, PublicPoll, Schedule};
use crate::api::{ApiError, ApiTags};
use crate::domain::{self, Event, PollId, Refusal, TransitionError};
use crate::momento::polls::ChangeError;
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
            let poll = new
                .clone()
                .validate(PollId::generate(), now)
                .map_err(|errors| ApiError::bad_request(errors.to_string()))?;
            let stored = state.polls.create(&poll).await?;
            if stored {
                state.scheduler.watch(&poll);
                return Ok(Created::Created(Json(AdminPoll::of(&poll, now))));
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
        let index = state.polls.index().await?;
        let mut ids: Vec<_> = index.into_iter().collect();
        ids.sort_by(|(a_id, a), (b_id, b)| {
            b.created_at
                .cmp(&a.created_at)
                .then_with(|| a_id.as_str().cmp(b_id.as_str()))
        });
        let start = match &cursor.0 {
            None => 0,
            Some(c) => {
                ids.iter()
                    .position(|(id, _)| id.as_str() == c)
                    .ok_or_else(|| ApiError::bad_request("cursor: not a poll of this list"))?
                    + 1
            }
        };
        let now = Utc::now();
        let mut polls = Vec::new();
        let mut last_seen = None;
        let mut rest = ids[start.min(ids.len())..].iter();
        'pages: loop {
            let chunk: Vec<_> = rest.by_ref().take(limit as usize).collect();
            if chunk.is_empty() {
                break;
            }
            let reads = join_all(chunk.iter().map(|(id, _)| state.polls.get(id))).await;
            for ((id, _), read) in chunk.iter().zip(reads) {
                last_seen = Some(id.as_str().to_owned());
                // A dangling index entry (creation failed half-way) is skipped.
                let Some(stored) = read? else {
                    continue;
                };
                let view = AdminPoll::of(&stored.poll, now);
                if filter.0.is_none_or(|f| f == view.state) {
                    polls.push(view);
                    if polls.len() == limit as usize {
                        break 'pages;
                    }
                }
            }
        }
        let more = last_seen
            .as_ref()
            .and_then(|last| ids.iter().position(|(id, _)| id.as_str() == last))
            .is_some_and(|i| i + 1 < ids.len());
        Ok(PollPageResponse::Ok(Json(PollPage {
            next_cursor: if more { last_seen } else { None },
            polls,
        })))
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

/// A path id that cannot be a poll id names no poll.
pub(crate) fn parse_id(raw: &str) -> Result<PollId, ApiError> {
    PollId::parse(raw).map_err(|_| ApiError::not_found(format!("no poll with id '{raw}'")))
}

/// The poll a path names: 404 for an id that cannot exist or names no poll, 503 when Momento
/// fails.
pub(crate) async fn load_poll(state: &AppState, raw_id: &str) -> Result<domain::Poll, ApiError> {
    let id = parse_id(raw_id)?;
    let stored = state.polls.get(&id).await?.ok_or_else(|| not_found(&id))?;
    Ok(stored.poll)
}

pub(crate) fn not_found(id: &PollId) -> ApiError {
    ApiError::not_found(format!("no poll with id '{}'", id.as_str()))
}

async fn change(
    state: &AppState,
    raw_id: &str,
    event: Event,
) -> Result<AdminPollResponse, ApiError> {
    let id = parse_id(raw_id)?;
    let now = Utc::now();
    match state.polls.apply(&id, &event, now).await {
        Ok(poll) => {
            state.scheduler.watch(&poll);
            state.pipeline.forget(poll.id());
            state.publisher.mark(poll.id());
            Ok(AdminPollResponse::Ok(Json(AdminPoll::of(&poll, now))))
        }
        Err(ChangeError::NotFound(_)) => Err(not_found(&id)),
        // The state allows `schedule`, but the requested time is one no poll may open at:
        // a bad body (400), not a conflict with the poll's state (409).
        Err(ChangeError::Refused(TransitionError {
            refusal: Refusal::OpensAtNotInFuture { .. },
            ..
        })) => Err(ApiError::bad_request("opens_at: must be in the future")),
        Err(ChangeError::Refused(TransitionError {
            refusal: Refusal::OpensAtNotBeforeClosesAt { closes_at, .. },
            ..
        })) => Err(ApiError::bad_request(format!(
            "opens_at: must be before the poll's closes_at ({closes_at})"
        ))),
        Err(ChangeError::Refused(error)) => Err(ApiError::illegal_transition(&error)),
        Err(ChangeError::Contended) => Err(ApiError::conflict(
            "the poll kept changing while this change was attempted; try again",
        )),
        Err(ChangeError::Backend(error)) => Err(error.into()),
    }
}
