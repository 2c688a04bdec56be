//! `/v1/polls/{id}/entries`: moderation of an open-text poll's entries (admin).
//!
//! Admins see every entry with its status (`visible`, `pending`, `hidden_by_admin`,
//! `hidden_by_filter`) and decide: `hide` takes an entry out of every public channel,
//! `unhide` shows it (approves it on a `pre`-moderated poll, overrules the profanity filter).
//! A decision is answered once the poll's results have been published again without (or with)
//! the entry: a `GET .../results` after the answer, and every results stream, see the change.

use std::sync::Arc;

use poem::web::Data;
use poem_openapi::param::Path;
use poem_openapi::payload::Json;
use poem_openapi::{ApiResponse, Enum, Object, OpenApi};

use crate::api::auth::AdminAuth;
use crate::api::errors::ApiError;
use crate::api::path::load_poll;
use crate::api::tags::ApiTags;
use crate::domain::{Decision, Entry, EntryStatus, Poll, PollKind};
use crate::state::AppState;

/// The entries resource.
pub struct EntriesApi;

/// Where an entry stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum)]
#[oai(rename_all = "snake_case")]
pub enum EntryState {
    /// The public sees it.
    Visible,
    /// Waiting for approval (`moderation: pre`).
    Pending,
    /// Hidden by an admin.
    HiddenByAdmin,
    /// Hidden by the profanity filter; `unhide` shows it.
    HiddenByFilter,
}

/// An entry as admins see it.
#[derive(Debug, Clone, Object)]
pub struct AdminEntry {
    /// The entry's id.
    pub id: String,
    /// The text.
    pub text: String,
    /// Where it stands.
    pub status: EntryState,
    /// Whether the public does not see it (any status but `visible`).
    pub hidden: bool,
}

/// Every entry of a poll.
#[derive(Debug, Clone, Object)]
pub struct Entries {
    /// The poll.
    pub poll_id: String,
    /// Ballots counted.
    pub ballots: u64,
    /// Every entry, by text (ignoring case).
    pub entries: Vec<AdminEntry>,
}

/// Answer of `GET /v1/polls/{id}/entries`.
#[derive(ApiResponse)]
pub enum EntriesResponse {
    /// Every entry.
    #[oai(status = 200)]
    Ok(Json<Entries>),
}

/// Answer of a moderation decision.
#[derive(ApiResponse)]
pub enum EntryResponse {
    /// The entry, with its status after the decision.
    #[oai(status = 200)]
    Ok(Json<AdminEntry>),
}

#[OpenApi(prefix_path = "/v1/polls", tag = "ApiTags::Moderation")]
impl EntriesApi {
    /// Every entry of an open-text poll with its moderation status (admin).
    #[oai(path = "/:id/entries", method = "get", operation_id = "list_entries")]
    async fn list(
        &self,
        _admin: AdminAuth,
        state: Data<&Arc<AppState>>,
        /// The poll's id.
        id: Path<String>,
    ) -> Result<EntriesResponse, ApiError> {
        let poll = open_text_poll(&state, &id.0).await?;
        let (ballots, entries) = state.publisher.entries(&poll).await?;
        Ok(EntriesResponse::Ok(Json(Entries {
            poll_id: poll.id().as_str().to_owned(),
            ballots,
            entries: entries.into_iter().map(admin_entry).collect(),
        })))
    }

    /// Hide an entry (admin): it leaves the public results, the word list and every
    /// presenter screen; it stays in the CSV, marked hidden.
    #[oai(
        path = "/:id/entries/:entry_id/hide",
        method = "post",
        operation_id = "hide_entry"
    )]
    async fn hide(
        &self,
        _admin: AdminAuth,
        state: Data<&Arc<AppState>>,
        /// The poll's id.
        id: Path<String>,
        /// The entry's id.
        entry_id: Path<String>,
    ) -> Result<EntryResponse, ApiError> {
        decide(&state, &id.0, &entry_id.0, Decision::Hidden).await
    }

    /// Show an entry (admin): unhides it, approves it on a `pre`-moderated poll, and
    /// overrules the profanity filter.
    #[oai(
        path = "/:id/entries/:entry_id/unhide",
        method = "post",
        operation_id = "unhide_entry"
    )]
    async fn unhide(
        &self,
        _admin: AdminAuth,
        state: Data<&Arc<AppState>>,
        /// The poll's id.
        id: Path<String>,
        /// The entry's id.
        entry_id: Path<String>,
    ) -> Result<EntryResponse, ApiError> {
        decide(&state, &id.0, &entry_id.0, Decision::Approved).await
    }
}

/// The poll `raw` names, if it is an open-text poll (else 409).
async fn open_text_poll(state: &AppState, raw: &str) -> Result<Poll, ApiError> {
    let poll = load_poll(state, raw).await?;
    if poll.kind() != PollKind::OpenText {
        return Err(ApiError::conflict(format!(
            "a {} poll has no entries to moderate",
            poll.kind()
        )));
    }
    Ok(poll)
}

/// Records `decision` on the entry, publishes the poll's results again, and answers the
/// entry as it now stands.
async fn decide(
    state: &AppState,
    raw_poll: &str,
    entry_id: &str,
    decision: Decision,
) -> Result<EntryResponse, ApiError> {
    let poll = open_text_poll(state, raw_poll).await?;
    let (_, entries) = state.publisher.entries(&poll).await?;
    if !entries.iter().any(|e| e.id == entry_id) {
        return Err(ApiError::not_found(no_entry(raw_poll, entry_id)));
    }
    state
        .moderation
        .decide(poll.id(), entry_id, decision)
        .await?;
    // Published before answering, so whoever asks next sees the decision applied.
    let published = state.publisher.publish(poll.id()).await;
    if let Err(error) = published {
        tracing::warn!(
            error = format!("{error:#}"),
            "results not republished after moderation"
        );
        state.publisher.mark(poll.id());
    }
    let (_, entries) = state.publisher.entries(&poll).await?;
    let entry = entries
        .into_iter()
        .find(|e| e.id == entry_id)
        .ok_or_else(|| ApiError::not_found(no_entry(raw_poll, entry_id)))?;
    Ok(EntryResponse::Ok(Json(admin_entry(entry))))
}

/// What a 404 for an entry says (both ids capped: they come from the path).
fn no_entry(raw_poll: &str, entry_id: &str) -> String {
    use crate::api::errors::echo;
    format!(
        "poll '{}' has no entry '{}'",
        echo(raw_poll),
        echo(entry_id)
    )
}

fn admin_entry(entry: Entry) -> AdminEntry {
    let status = match entry.status {
        EntryStatus::Visible => EntryState::Visible,
        EntryStatus::Pending => EntryState::Pending,
        EntryStatus::HiddenByAdmin => EntryState::HiddenByAdmin,
        EntryStatus::HiddenByFilter => EntryState::HiddenByFilter,
    };
    AdminEntry {
        id: entry.id,
        text: entry.text,
        hidden: !entry.status.is_visible(),
        status,
    }
}
