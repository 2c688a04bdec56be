//! An event's pages and the moderation page.
//!
//! - `GET /j/{code}`: the voter page of the event's active poll (or "waiting for the next
//!   question"), under the join link itself; `event.js` follows the event's stream and
//!   reloads the page when the presenter moves on, so phones follow.
//! - `GET /present/event/{id}`: the presenter screen of the active poll, with the QR code
//!   and the join code of the event; it follows the event the same way.
//! - `GET /moderate/{id}`: the entries of an open-text poll as they arrive, a hide (or
//!   unhide) button each; the page asks for the admin key and keeps it for the tab.

use std::sync::Arc;

use poem::http::StatusCode;
use poem::web::{Data, Path};
use poem::{handler, Response};

use super::{
    error_page, page, presenter_html, render, voter_html, Link, MESSAGE_HTML, MODERATE_HTML,
};
use crate::api::events::{by_code, load};
use crate::api::links::join_url;
use crate::api::{load_poll, ApiError};
use crate::domain::session::Session;
use crate::domain::Poll;
use crate::state::AppState;

/// The active poll of `event`, if any (and still there).
async fn active_poll(state: &AppState, event: &Session) -> Result<Option<Poll>, ApiError> {
    match &event.active_poll_id {
        Some(id) => Ok(state.polls.get(id).await?.map(|stored| stored.poll)),
        None => Ok(None),
    }
}

/// The page for an event that cannot be shown: 404 when there is none, else 503.
fn no_event_page(state: &AppState, error: ApiError) -> Response {
    match error {
        ApiError::NotFound(_) => {
            let html = render(
                MESSAGE_HTML,
                &[
                    ("title", "Event not found"),
                    (
                        "text",
                        "No event has this code. Check the code you were given.",
                    ),
                ],
            );
            page(state, StatusCode::NOT_FOUND, html)
        }
        other => error_page(state, other),
    }
}

#[handler]
pub(super) async fn join_page(Path(code): Path<String>, state: Data<&Arc<AppState>>) -> Response {
    let shown = async {
        let event = by_code(&state, &code).await?;
        let poll = active_poll(&state, &event).await?;
        let html = voter_html(
            &state,
            poll.as_ref(),
            Some((event.id.as_str(), event.title.as_str())),
        );
        Ok::<_, ApiError>(html)
    };
    match shown.await {
        Ok(html) => page(&state, StatusCode::OK, html),
        Err(error) => no_event_page(&state, error),
    }
}

#[handler]
pub(super) async fn event_presenter_page(
    Path(id): Path<String>,
    state: Data<&Arc<AppState>>,
) -> Response {
    let shown = async {
        let event = load(&state, &id).await?;
        let poll = active_poll(&state, &event).await?;
        let link = Link {
            url: join_url(&state.public_url, &event.code),
            tail: event.code.as_str().to_owned(),
            code: Some(event.code.as_str().to_owned()),
        };
        presenter_html(
            poll.as_ref(),
            Some((event.id.as_str(), event.title.as_str())),
            &link,
        )
    };
    match shown.await {
        Ok(html) => page(&state, StatusCode::OK, html),
        Err(error) => no_event_page(&state, error),
    }
}

#[handler]
pub(super) async fn moderation_page(
    Path(id): Path<String>,
    state: Data<&Arc<AppState>>,
) -> Response {
    match load_poll(&state, &id).await {
        Ok(poll) => {
            let html = render(
                MODERATE_HTML,
                &[("title", poll.title()), ("poll_id", poll.id().as_str())],
            );
            page(&state, StatusCode::OK, html)
        }
        Err(error) => error_page(&state, error),
    }
}
