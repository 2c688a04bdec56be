//! The REST API: one poem-openapi struct per resource, assembled into one OpenAPI service.

mod auth;
mod errors;
mod health;
mod optional_json;
mod polls;
mod results;
mod strict_json;
mod tokens;
pub mod views;
mod webhooks;

pub use errors::{json_errors, ApiError, ErrorBody};

use poem_openapi::{OpenApiService, Tags};

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

/// Every API of the service, for [`service`].
pub type Apis = (
    polls::PollsApi,
    tokens::TokensApi,
    results::ResultsApi,
    webhooks::WebhooksApi,
    health::HealthApi,
);

/// The OpenAPI service of every API (no servers listed: the committed spec must not depend on
/// where it runs).
pub fn service() -> OpenApiService<Apis, ()> {
    OpenApiService::new(
        (
            polls::PollsApi,
            tokens::TokensApi,
            results::ResultsApi,
            webhooks::WebhooksApi,
            health::HealthApi,
        ),
        "pollcast",
        env!("CARGO_PKG_VERSION"),
    )
    .description(
        "Real-time polls on Momento. Admins create and run polls; voters get short-lived \
         Momento tokens, publish votes on the `votes` topic and watch live results on \
         `results.{poll_id}`. Admin operations take `Authorization: Bearer <admin key>`.",
    )
}

/// The spec as YAML, exactly as `pollcast openapi` prints it and `openapi/pollcast.yaml` holds.
pub fn spec_yaml() -> String {
    service().spec_yaml()
}
