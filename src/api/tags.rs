//! The tags that group the operations in Swagger UI.

use poem_openapi::Tags;

/// Tags that group the operations in Swagger UI.
#[derive(Tags)]
pub enum ApiTags {
    /// Create polls and move them through their lifecycle.
    Polls,
    /// Voter tokens: Momento disposable tokens to vote with.
    Tokens,
    /// Live results: JSON, Server-Sent Events, CSV.
    Results,
    /// Vote ingest from Momento.
    Ingest,
    /// Liveness, readiness and metrics.
    Ops,
}
