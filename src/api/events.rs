//! `/v1/events` and `/v1/join/{code}`: events, one join code for a session of polls.
//!
//! Admins create an event from a list of polls, change the list, and activate one poll at a
//! time (opening it when it is a draft or scheduled). Anyone may read an event by its code
//! (`GET /v1/join/{code}`: the title and the active poll), follow it
//! (`GET /v1/events/{id}/stream`, an SSE event `active` each time the active poll changes)
//! and take voter tokens for its polls as **one voter** across them
//! (`POST /v1/events/{id}/tokens`: the voter id is kept in a signed cookie scoped to the event).
//!
//! Refusals: an unknown join code is 404 whether or not it ever existed; a poll that does not
//! exist 404; a poll archived or cancelled 409 `poll_archived` (it can never be shown again);
//! activating, or taking a token for, a poll that is not the event's 409 `not_in_event`.

use std::sync::Arc;

use chrono::Utc;
use futures::stream::BoxStream;
use futures::StreamExt;
use poem::web::cookie::CookieJar;
use poem::web::sse::Event as SseEvent;
use poem::web::Data;
use poem_openapi::param::Path;
use poem_openapi::payload::{EventStream, Json};
use poem_openapi::types::ToJSON;
use poem_openapi::{ApiResponse, OpenApi};
use tokio_stream::wrappers::WatchStream;

use crate::api::auth::AdminAuth;
use crate::api::body::StrictJson;
use crate::api::errors::{ApiError, ErrorBody};
use crate::api::polls::apply;
use crate::api::tags::ApiTags;
use crate::api::tokens::{mint, refuse_when_full, TokenCreated};
use crate::api::views::{
    Activation, EventPolls, EventTokenRequest, EventView, JoinView, NewEvent, PublicPoll,
};
use crate::api::voter_cookie;
use crate::domain::session::{EventId, JoinCode, Session, SessionError};
use crate::domain::{Access, Event, Poll, PollId, PollState, VoterId};
use crate::momento::events::EventChangeError;
use crate::state::AppState;

/// How many times creation draws a new id or code when the random one is taken.
const DRAWS: usize = 8;
/// How often an idle event stream gets a keep-alive comment.
const KEEP_ALIVE: std::time::Duration = std::time::Duration::from_secs(2);

/// The events resource.
pub struct EventsApi;

/// Answer of `POST /v1/events`.
#[derive(ApiResponse)]
pub enum EventCreated {
    /// The event, with its code and links.
    #[oai(status = 201)]
    Created(Json<EventView>),
}

/// Answer of `GET /v1/events`.
#[derive(ApiResponse)]
pub enum EventListResponse {
    /// Every live event, newest first.
    #[oai(status = 200)]
    Ok(Json<Vec<EventView>>),
}

/// Answer of reads and changes of one event.
#[derive(ApiResponse)]
pub enum EventResponse {
    /// The event.
    #[oai(status = 200)]
    Ok(Json<EventView>),
}

/// Answer of `GET /v1/join/{code}`.
#[derive(ApiResponse)]
pub enum JoinResponse {
    /// What phones show.
    #[oai(status = 200)]
    Ok(Json<JoinView>),
}

#[OpenApi(tag = "ApiTags::Events")]
impl EventsApi {
    /// Create an event (admin): a title and its polls, in order. It gets a join code; no
    /// poll is active until the presenter activates one.
    #[oai(path = "/v1/events", method = "post", operation_id = "create_event")]
    async fn create(
        &self,
        _admin: AdminAuth,
        state: Data<&Arc<AppState>>,
        body: StrictJson<NewEvent>,
    ) -> Result<EventCreated, ApiError> {
        let polls = showable_polls(&state, &body.0.poll_ids).await?;
        let now = Utc::now();
        for _ in 0..DRAWS {
            let (id, code) = (EventId::generate(), JoinCode::generate());
            let event = Session::new(id, code, &body.0.title, polls.clone(), now)?;
            if !state.events.claim_code(&event.code, &event.id).await? {
                continue;
            }
            if state.events.create(&event).await? {
                return Ok(EventCreated::Created(Json(EventView::of(
                    &event,
                    &state.public_url,
                ))));
            }
        }
        Err(ApiError::internal(&anyhow::anyhow!(
            "{DRAWS} random event ids or join codes were all taken"
        )))
    }

    /// Every live event, newest first (admin).
    #[oai(path = "/v1/events", method = "get", operation_id = "list_events")]
    async fn list(
        &self,
        _admin: AdminAuth,
        state: Data<&Arc<AppState>>,
    ) -> Result<EventListResponse, ApiError> {
        let ids = state.events.index().await?;
        let reads = futures::future::join_all(ids.iter().map(|id| state.events.get(id))).await;
        let mut events = Vec::with_capacity(ids.len());
        for read in reads {
            // An index entry whose record expired is skipped.
            if let Some((event, _)) = read? {
                events.push(EventView::of(&event, &state.public_url));
            }
        }
        Ok(EventListResponse::Ok(Json(events)))
    }

    /// Read an event (admin).
    #[oai(path = "/v1/events/:id", method = "get", operation_id = "get_event")]
    async fn get(
        &self,
        _admin: AdminAuth,
        state: Data<&Arc<AppState>>,
        /// The event's id.
        id: Path<String>,
    ) -> Result<EventResponse, ApiError> {
        let event = load(&state, &id.0).await?;
        Ok(EventResponse::Ok(Json(EventView::of(
            &event,
            &state.public_url,
        ))))
    }

    /// Replace an event's polls (admin): add, remove and reorder in one call. The active poll
    /// stays active if it is still listed.
    #[oai(
        path = "/v1/events/:id/polls",
        method = "put",
        operation_id = "set_event_polls"
    )]
    async fn set_polls(
        &self,
        _admin: AdminAuth,
        state: Data<&Arc<AppState>>,
        /// The event's id.
        id: Path<String>,
        body: StrictJson<EventPolls>,
    ) -> Result<EventResponse, ApiError> {
        let id = event_id(&id.0)?;
        let polls = showable_polls(&state, &body.0.poll_ids).await?;
        let changed = state.events.update(&id, |e| e.with_polls(polls.clone()));
        announce(
            &state,
            changed.await.map_err(|e| change_error(e, ApiError::from))?,
        )
    }

    /// Show one poll of the event on every phone and on the presenter screen (admin), opening
    /// it when it is a draft or scheduled; `{"poll_id": null}` shows "waiting for the next
    /// question". 409 `not_in_event` for a poll that is not the event's.
    #[oai(
        path = "/v1/events/:id/activate",
        method = "post",
        operation_id = "activate_event_poll"
    )]
    async fn activate(
        &self,
        _admin: AdminAuth,
        state: Data<&Arc<AppState>>,
        /// The event's id.
        id: Path<String>,
        body: StrictJson<Activation>,
    ) -> Result<EventResponse, ApiError> {
        let id = event_id(&id.0)?;
        let event = load(&state, id.as_str()).await?;
        let poll = match &body.0.poll_id {
            None => None,
            Some(raw) => {
                let poll = PollId::parse(raw).map_err(|_| not_in_event(raw))?;
                if !event.poll_ids.contains(&poll) {
                    return Err(not_in_event(raw));
                }
                open_for_showing(&state, &poll).await?;
                Some(poll)
            }
        };
        let changed = state.events.update(&id, |e| e.activate(poll.clone()));
        let refused = |SessionError::NotInEvent(p): SessionError| not_in_event(p.as_str());
        announce(&state, changed.await.map_err(|e| change_error(e, refused))?)
    }

    /// What phones show (anyone): the event's title and its active poll. 404 for a code no
    /// live event has.
    #[oai(path = "/v1/join/:code", method = "get", operation_id = "join_event")]
    async fn join(
        &self,
        state: Data<&Arc<AppState>>,
        /// The join code (case-insensitive).
        code: Path<String>,
    ) -> Result<JoinResponse, ApiError> {
        let event = by_code(&state, &code.0).await?;
        Ok(JoinResponse::Ok(Json(join_view(&state, &event).await?)))
    }

    /// Follow an event (anyone), as Server-Sent Events: what `GET /v1/join/{code}` says now,
    /// then again each time the active poll (or the event) changes (event `active`, id = the
    /// event's version). A keep-alive comment comes every 2 s.
    #[oai(
        path = "/v1/events/:id/stream",
        method = "get",
        operation_id = "stream_event"
    )]
    async fn stream(
        &self,
        state: Data<&Arc<AppState>>,
        /// The event's id.
        id: Path<String>,
    ) -> Result<EventStream<BoxStream<'static, JoinView>>, ApiError> {
        let id = event_id(&id.0)?;
        let changes = state
            .event_watch
            .follow(&id)
            .await?
            .ok_or_else(|| no_event(id.as_str()))?;
        let state = state.0.clone();
        let views = WatchStream::new(changes).filter_map(move |event| {
            let state = state.clone();
            async move { join_view(&state, &event).await.ok() }
        });
        Ok(EventStream::new(views.boxed())
            .keep_alive(KEEP_ALIVE)
            .to_event(|view| {
                SseEvent::message(view.to_json_string())
                    .event_type("active")
                    .id(view.version.to_string())
            }))
    }

    /// The QR code of the event's join link (`join_url`), as SVG (anyone).
    #[oai(
        path = "/v1/events/:id/qr.svg",
        method = "get",
        operation_id = "get_event_qr"
    )]
    async fn qr(
        &self,
        state: Data<&Arc<AppState>>,
        /// The event's id.
        id: Path<String>,
    ) -> Result<crate::api::links::QrResponse, ApiError> {
        let event = load(&state, &id.0).await?;
        let url = crate::api::links::join_url(&state.public_url, &event.code);
        Ok(crate::api::links::QrResponse::Ok(
            poem_openapi::payload::PlainText(crate::api::links::qr_svg(&url)?),
        ))
    }

    /// A voter token for a poll of the event (anyone; open-access polls): the same voter in
    /// every poll of the event, kept in a signed cookie scoped to the event.
    #[oai(
        path = "/v1/events/:id/tokens",
        method = "post",
        operation_id = "create_event_token"
    )]
    async fn token(
        &self,
        state: Data<&Arc<AppState>>,
        cookies: &CookieJar,
        /// The event's id.
        id: Path<String>,
        body: StrictJson<EventTokenRequest>,
    ) -> Result<TokenCreated, ApiError> {
        let event = load(&state, &id.0).await?;
        let raw = &body.0.poll_id;
        let poll_id = PollId::parse(raw).map_err(|_| not_in_event(raw))?;
        if !event.poll_ids.contains(&poll_id) {
            return Err(not_in_event(raw));
        }
        let poll = crate::api::tokens::issuable_poll(&state, raw).await?;
        if poll.access() == Access::Invite {
            return Err(ApiError::unauthorized(
                "this poll is invite-only: tokens are minted by an admin",
            ));
        }
        crate::api::challenge::require(&state, &poll, body.0.pow.as_deref()).await?;
        let key = &state.cookie_key;
        let voter = voter_cookie::event_voter(cookies, key, event.id.as_str())
            .unwrap_or_else(VoterId::generate);
        let scope = PollId::parse(event.id.as_str()).expect("an event id is a poll id's shape");
        let secure = state.public_url.starts_with("https://");
        voter_cookie::remember_event(cookies, key, &scope, &voter, state.record_ttl, secure);
        refuse_when_full(&state, &poll, std::slice::from_ref(&voter)).await?;
        Ok(TokenCreated::Created(Json(
            mint(&state, &poll, voter).await?,
        )))
    }
}

/// The event id `raw` spells; 404 when it cannot be one.
fn event_id(raw: &str) -> Result<EventId, ApiError> {
    EventId::parse(raw).map_err(|_| no_event(raw))
}

fn no_event(raw: &str) -> ApiError {
    ApiError::not_found(format!(
        "no event with id '{}'",
        crate::api::errors::echo(raw)
    ))
}

fn not_in_event(poll: &str) -> ApiError {
    ApiError::Conflict(ErrorBody::new(
        "not_in_event",
        format!(
            "poll '{}' is not one of this event's polls",
            crate::api::errors::echo(poll)
        ),
    ))
}

/// The event `raw` names.
pub async fn load(state: &AppState, raw: &str) -> Result<Session, ApiError> {
    let id = event_id(raw)?;
    let (event, _) = state.events.get(&id).await?.ok_or_else(|| no_event(raw))?;
    Ok(event)
}

/// The live event `code` joins; 404 without saying whether it ever existed.
pub async fn by_code(state: &AppState, code: &str) -> Result<Session, ApiError> {
    let missing = || ApiError::not_found("no event has this join code; check the code");
    let code = JoinCode::parse(code).map_err(|_| missing())?;
    state.events.by_code(&code).await?.ok_or_else(missing)
}

/// The polls `raw` lists, each existing and neither archived nor cancelled.
async fn showable_polls(state: &AppState, raw: &[String]) -> Result<Vec<PollId>, ApiError> {
    let mut polls = Vec::with_capacity(raw.len());
    for (i, id) in raw.iter().enumerate() {
        let poll =
            PollId::parse(id).map_err(|e| ApiError::bad_request(format!("poll_ids[{i}]: {e}")))?;
        let stored = state
            .polls
            .get(&poll)
            .await?
            .ok_or_else(|| ApiError::no_poll(id))?;
        refuse_finished(&stored.poll)?;
        polls.push(poll);
    }
    Ok(polls)
}

/// 409 `poll_archived` for a poll that can never be shown again.
fn refuse_finished(poll: &Poll) -> Result<(), ApiError> {
    match poll.state_at(Utc::now()) {
        state @ (PollState::Archived | PollState::Cancelled) => {
            Err(ApiError::Conflict(ErrorBody::new(
                "poll_archived",
                format!(
                    "poll '{}' is {state}: it cannot be shown in an event",
                    poll.id()
                ),
            )))
        }
        _ => Ok(()),
    }
}

/// Makes the poll `id` fit to show: opened when it is a draft or scheduled; refused when
/// archived or cancelled; shown as it is when open or closed.
async fn open_for_showing(state: &AppState, id: &PollId) -> Result<(), ApiError> {
    let poll = crate::api::path::load_poll(state, id.as_str()).await?;
    refuse_finished(&poll)?;
    let now = Utc::now();
    if matches!(poll.state_at(now), PollState::Draft | PollState::Scheduled) {
        apply(state, id, Event::Open, now).await?;
    }
    Ok(())
}

fn change_error<E>(error: EventChangeError<E>, refused: impl Fn(E) -> ApiError) -> ApiError {
    match error {
        EventChangeError::NotFound => ApiError::not_found("no such event"),
        EventChangeError::Refused(e) => refused(e),
        EventChangeError::Contended => {
            ApiError::conflict("the event kept changing while this change was attempted; try again")
        }
        EventChangeError::Backend(error) => error.into(),
    }
}

/// Tells the event's followers of its change; answers the event.
fn announce(state: &AppState, event: Session) -> Result<EventResponse, ApiError> {
    state.event_watch.changed(&event);
    Ok(EventResponse::Ok(Json(EventView::of(
        &event,
        &state.public_url,
    ))))
}

/// What phones show of `event`.
pub async fn join_view(state: &AppState, event: &Session) -> Result<JoinView, ApiError> {
    let poll = match &event.active_poll_id {
        Some(id) => state.polls.get(id).await?.map(|stored| stored.poll),
        None => None,
    };
    Ok(JoinView {
        event_id: event.id.as_str().to_owned(),
        title: event.title.clone(),
        code: event.code.as_str().to_owned(),
        active_poll_id: poll.as_ref().map(|p| p.id().as_str().to_owned()),
        poll: poll.map(|p| PublicPoll::of(&p, Utc::now(), &state.public_url)),
        version: event.version,
    })
}
