//! The REST API: one poem-openapi struct per resource, assembled into one OpenAPI service.
//!
//! - `polls.rs`, `tokens.rs`, `results.rs`, `webhooks.rs`, `health.rs`: the resources.
//! - `auth.rs`: the admin-key check, in the extractors `AdminAuth` (admin only) and
//!   `MaybeAdmin` (anyone; a wrong key is refused, never taken for anonymous).
//! - `errors.rs`: the one error shape, and every mapping from an area's error to a status.
//! - `body.rs`: the request body extractors; `path.rs`: the poll a path's `{id}` names;
//!   [`views`]: what the API reads and writes; `tags.rs`: the groups of Swagger UI.

mod auth;
mod body;
mod errors;
mod health;
mod path;
mod polls;
mod results;
mod tags;
mod tokens;
pub mod views;
mod webhooks;

pub use errors::{json_errors, ApiError, ErrorBody};
pub use tags::ApiTags;

use poem_openapi::OpenApiService;

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
