//! `/v1/polls/{id}/results`: the live results as JSON, as Server-Sent Events, and as CSV.
//!
//! Visibility: admins always see results; others only when the poll's `results_visibility`
//! allows it now (`live`: once open; `on_close`: once closed), else 403 `results_hidden`.

use std::sync::Arc;

use chrono::Utc;
use futures::stream::BoxStream;
use futures::StreamExt;
use poem::web::sse::Event;
use poem::web::Data;
use poem_openapi::param::{Path, Query};
use poem_openapi::payload::{EventStream, Json, PlainText};
use poem_openapi::types::ToJSON;
use poem_openapi::{ApiResponse, OpenApi};

use crate::api::auth::{AdminAuth, MaybeAdmin};
use crate::api::errors::ApiError;
use crate::api::path::{load_poll, load_recent_poll};
use crate::api::tags::ApiTags;
use crate::api::views::{RecountView, ResultsView};
use crate::domain::{Poll, PollKind, PollState};
use crate::state::AppState;

/// How often an idle results stream gets a keep-alive comment.
const STREAM_KEEP_ALIVE: std::time::Duration = std::time::Duration::from_secs(2);

/// The results resource.
pub struct ResultsApi;

/// Answer of `GET /v1/polls/{id}/results`.
#[derive(ApiResponse)]
pub enum ResultsResponse {
    /// The latest results.
    #[oai(status = 200)]
    Ok(Json<ResultsView>),
}

/// Answer of `GET /v1/polls/{id}/results.csv`.
#[derive(ApiResponse)]
pub enum CsvResponse {
    /// One row per option (`option_id,label,votes`); for ranked polls one row per option per
    /// instant-runoff round (`round,option_id,label,votes,eliminated`), then the exhausted
    /// ballots of each round as `exhausted` rows; for rating polls one row per value
    /// (`value,votes`); for open-text polls one row per entry, hidden ones too
    /// (`entry_id,text,hidden,status`). A label starting with `=`, `+`, `-`, `@`, a
    /// tab or a carriage return gets a leading `'`, so spreadsheets show it as text.
    #[oai(status = 200, content_type = "text/csv; charset=utf-8")]
    Ok(
        PlainText<String>,
        /// `attachment; filename="poll-{id}-results.csv"`: a browser saves it, never shows it.
        #[oai(header = "Content-Disposition")]
        String,
    ),
}

/// Answer of `POST /v1/polls/{id}/recount`.
#[derive(ApiResponse)]
pub enum RecountResponse {
    /// What the recount found (and published, when it differed).
    #[oai(status = 200)]
    Ok(Json<RecountView>),
}

#[OpenApi(prefix_path = "/v1/polls", tag = "ApiTags::Results")]
impl ResultsApi {
    /// The latest results of a poll (per its `results_visibility`; admins always).
    #[oai(path = "/:id/results", method = "get", operation_id = "get_results")]
    async fn get(
        &self,
        auth: MaybeAdmin,
        state: Data<&Arc<AppState>>,
        /// The poll's id.
        id: Path<String>,
    ) -> Result<ResultsResponse, ApiError> {
        let poll = visible_poll(&state, &id.0, auth).await?;
        let results = state.publisher.current(&poll).await?;
        Ok(ResultsResponse::Ok(Json(ResultsView::of(results, &poll))))
    }

    /// Live results as Server-Sent Events: the current results, then each update (event
    /// `results`, id = `seq`, data = the results JSON). The stream ends after the results of
    /// an archived or cancelled poll, or after `max_events` events when given (load tests use
    /// it to time a change: the answer completes with the next one); a keep-alive comment
    /// comes every 2 s. Every stream of a poll shares one results subscription.
    #[oai(
        path = "/:id/results/stream",
        method = "get",
        operation_id = "stream_results"
    )]
    async fn stream(
        &self,
        auth: MaybeAdmin,
        state: Data<&Arc<AppState>>,
        /// The poll's id.
        id: Path<String>,
        /// End the stream after this many events (at least 1; default: no end).
        max_events: Query<Option<u32>>,
    ) -> Result<EventStream<BoxStream<'static, RenderedResults>>, ApiError> {
        if max_events.0 == Some(0) {
            return Err(ApiError::bad_request("max_events must be at least 1"));
        }
        let admin = auth.is_admin();
        // The short-lived poll cache (this replica's changes at once, others' within a quarter
        // second): thousands of watchers reconnecting cost Momento a read each otherwise.
        let poll = visible(
            load_recent_poll(&state, &id.0).await?.as_ref().clone(),
            auth,
        )?;
        let labels = poll.clone();
        let open = state.metrics.results_streams.clone();
        let updates =
            crate::results::sse::updates(&state.feeds, &state.publisher, poll, admin, open).await?;
        let limit = max_events.0.map_or(usize::MAX, |n| n as usize);
        // Rendered once per message for all the streams of the poll (see `feed::Shared`).
        let views = updates.take(limit).map(move |shared| RenderedResults {
            seq: shared.results.seq,
            json: shared.rendered(|r| ResultsView::of(r.clone(), &labels).to_json_string()),
        });
        Ok(EventStream::new(views.boxed())
            // A comment every few seconds keeps proxies from closing an idle stream and is how
            // the server notices a client that went away (the write fails), rather than at
            // the next publish, which may never come.
            .keep_alive(STREAM_KEEP_ALIVE)
            .to_event(|view| {
                Event::message(view.json.as_ref())
                    .event_type("results")
                    .id(view.seq.to_string())
            }))
    }

    /// Recounts a poll from its stored ballots (admin): compares the count with the published
    /// results, reports every difference, and publishes the recount when it differs (or when
    /// nothing was published yet). `pollcast recount POLL_ID` calls this.
    #[oai(
        path = "/:id/recount",
        method = "post",
        operation_id = "recount_results"
    )]
    async fn recount(
        &self,
        _admin: AdminAuth,
        state: Data<&Arc<AppState>>,
        /// The poll's id.
        id: Path<String>,
    ) -> Result<RecountResponse, ApiError> {
        let poll = load_poll(&state, &id.0).await?;
        let recount = state.publisher.recount(&poll).await?;
        Ok(RecountResponse::Ok(Json(RecountView::of(recount, &poll))))
    }

    /// The results as CSV (admin).
    #[oai(
        path = "/:id/results.csv",
        method = "get",
        operation_id = "export_results"
    )]
    async fn csv(
        &self,
        _admin: AdminAuth,
        state: Data<&Arc<AppState>>,
        /// The poll's id.
        id: Path<String>,
    ) -> Result<CsvResponse, ApiError> {
        let poll = load_poll(&state, &id.0).await?;
        let disposition = format!(
            "attachment; filename=\"poll-{}-results.csv\"",
            poll.id().as_str()
        );
        let csv = if poll.kind() == PollKind::OpenText {
            let (_, entries) = state.publisher.entries(&poll).await?;
            crate::results::csv::render_entries(&entries)
        } else {
            let results = state.publisher.current(&poll).await?;
            crate::results::csv::render(&poll, &results)
        };
        Ok(CsvResponse::Ok(PlainText(csv), disposition))
    }
}

/// A [`ResultsView`] already rendered as JSON, shared by every stream of its poll: the spec
/// describes it as a `ResultsView`, and the wire carries the rendered text.
pub struct RenderedResults {
    seq: u64,
    json: Arc<str>,
}

impl poem_openapi::types::Type for RenderedResults {
    const IS_REQUIRED: bool = true;
    type RawValueType = ResultsView;
    type RawElementValueType = ResultsView;

    fn name() -> std::borrow::Cow<'static, str> {
        ResultsView::name()
    }

    fn schema_ref() -> poem_openapi::registry::MetaSchemaRef {
        ResultsView::schema_ref()
    }

    fn register(registry: &mut poem_openapi::registry::Registry) {
        ResultsView::register(registry);
    }

    fn as_raw_value(&self) -> Option<&ResultsView> {
        None // already rendered: nothing to validate
    }

    fn raw_element_iter<'a>(&'a self) -> Box<dyn Iterator<Item = &'a ResultsView> + 'a> {
        Box::new(std::iter::empty())
    }
}

impl ToJSON for RenderedResults {
    fn to_json(&self) -> Option<serde_json::Value> {
        serde_json::from_str(&self.json).ok()
    }

    fn to_json_string(&self) -> String {
        self.json.to_string()
    }
}

/// The poll, if the caller may see its results now.
async fn visible_poll(state: &AppState, raw_id: &str, auth: MaybeAdmin) -> Result<Poll, ApiError> {
    visible(load_poll(state, raw_id).await?, auth)
}

/// `poll`, if the caller may see its results now.
fn visible(poll: Poll, auth: MaybeAdmin) -> Result<Poll, ApiError> {
    let now = Utc::now();
    if auth.is_admin() || poll.results_public_at(now) {
        return Ok(poll);
    }
    let why = match poll.state_at(now) {
        PollState::Draft | PollState::Scheduled => {
            "this poll has not opened yet; its results are shown once it opens".to_owned()
        }
        PollState::Cancelled => "this poll was cancelled before it opened".to_owned(),
        state => format!(
            "this poll is {state}; its results are shown once it closes \
             (results_visibility: on_close)"
        ),
    };
    Err(ApiError::forbidden("results_hidden", why))
}
