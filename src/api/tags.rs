//! The tags that group the operations in Swagger UI.

use poem_openapi::Tags;

/// Tags that group the operations in Swagger UI.
#[derive(Tags)]
pub enum ApiTags {
    /// Create polls and move them through their lifecycle.
    Polls,
    /// Events: one join code for a session of polls; the presenter activates one at a time.
    Events,
    /// Moderation of open-text entries: list, hide, unhide (approve).
    Moderation,
    /// Voter tokens: Momento disposable tokens to vote with.
    Tokens,
    /// Live results: JSON, Server-Sent Events, CSV.
    Results,
    /// What became of a voter's vote: pending, counted or rejected (with the reason).
    Ballot,
    /// Momento's HTTP topics API, where voters publish votes with their own token (served on
    /// pollcast's port with the embedded local Momento; at the token's `http_endpoint`
    /// otherwise).
    #[oai(rename = "Momento topics")]
    MomentoTopics,
    /// Vote ingest from Momento.
    Ingest,
    /// Liveness, readiness and metrics.
    Ops,
}
