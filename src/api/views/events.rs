//! The events views: what `/v1/events` and `/v1/join/{code}` read and write.

use chrono::{DateTime, Utc};
use poem_openapi::Object;
use serde::Deserialize;

use super::PublicPoll;
use crate::api::links::{event_present_url, join_url};
use crate::domain::session::Session;

/// A new event.
#[derive(Debug, Object, Deserialize)]
#[oai(deny_unknown_fields)]
#[serde(deny_unknown_fields)]
pub struct NewEvent {
    /// What phones and the presenter show; 1..=200 characters.
    pub title: String,
    /// The event's polls in the presenter's order (at most 100, none archived or cancelled).
    #[oai(default)]
    #[serde(default)]
    pub poll_ids: Vec<String>,
}

/// A new list of polls for an event (added, removed, reordered).
#[derive(Debug, Object, Deserialize)]
#[oai(deny_unknown_fields)]
#[serde(deny_unknown_fields)]
pub struct EventPolls {
    /// The event's polls in the presenter's order.
    pub poll_ids: Vec<String>,
}

/// Which poll to show.
#[derive(Debug, Object, Deserialize)]
#[oai(deny_unknown_fields)]
#[serde(deny_unknown_fields)]
pub struct Activation {
    /// A poll of the event (opened when it is a draft or scheduled); `null` shows "waiting
    /// for the next question".
    pub poll_id: Option<String>,
}

/// Which poll of the event a voter token is for.
#[derive(Debug, Object, Deserialize)]
#[oai(deny_unknown_fields)]
#[serde(deny_unknown_fields)]
pub struct EventTokenRequest {
    /// A poll of the event (an open-access one).
    pub poll_id: String,
    /// `"challenge": "pow"` polls: the answer to a fresh puzzle of
    /// `GET /v1/polls/{poll_id}/challenge` (as for `POST /v1/polls/{id}/tokens`).
    pub pow: Option<String>,
}

/// An event as admins see it.
#[derive(Debug, Clone, Object)]
pub struct EventView {
    /// The event's id.
    pub id: String,
    /// Its title.
    pub title: String,
    /// Its join code: 6 characters, case-insensitive.
    pub code: String,
    /// Where phones join: `/j/{code}` (a QR code of it is at `/v1/events/{id}/qr.svg`).
    pub join_url: String,
    /// The presenter screen of the event: follows the active poll.
    pub present_url: String,
    /// Its polls, in order.
    pub poll_ids: Vec<String>,
    /// The poll every phone shows now (`null`: waiting for the next question).
    pub active_poll_id: Option<String>,
    /// One more with every change.
    pub version: u64,
    /// When it was created.
    pub created_at: DateTime<Utc>,
}

/// What anyone may read of an event: what phones show.
#[derive(Debug, Clone, Object)]
pub struct JoinView {
    /// The event's id (its stream is `/v1/events/{id}/stream`).
    pub event_id: String,
    /// Its title.
    pub title: String,
    /// Its join code.
    pub code: String,
    /// The poll every phone shows now (`null`: waiting for the next question).
    pub active_poll_id: Option<String>,
    /// The active poll, as `GET /v1/polls/{id}` shows it.
    pub poll: Option<PublicPoll>,
    /// One more with every change of the event.
    pub version: u64,
}

impl EventView {
    /// The admin view of `event`, its links under `public_url`.
    pub fn of(event: &Session, public_url: &str) -> Self {
        Self {
            id: event.id.as_str().to_owned(),
            title: event.title.clone(),
            code: event.code.as_str().to_owned(),
            join_url: join_url(public_url, &event.code),
            present_url: event_present_url(public_url, &event.id),
            poll_ids: event
                .poll_ids
                .iter()
                .map(|p| p.as_str().to_owned())
                .collect(),
            active_poll_id: event.active_poll_id.as_ref().map(|p| p.as_str().to_owned()),
            version: event.version,
            created_at: event.created_at,
        }
    }
}
