//! The REST API: one poem-openapi struct per resource, assembled into one OpenAPI service.
//!
//! - `polls.rs`, `tokens.rs` ([`challenge`]: the proof of work of `pow` polls), `results.rs`, `ballot.rs`, `links.rs` (the QR code and the
//!   pages' URLs), `events.rs` (events and join codes; [`event_watch`] who follows which),
//!   `entries.rs` (moderation of open-text entries), `webhooks.rs`, `health.rs`: the
//!   resources; `topics.rs` describes Momento's
//!   HTTP topics API, which voters publish to.
//! - `auth.rs`: the admin-key check, in the extractors `AdminAuth` (admin only) and
//!   `MaybeAdmin` (anyone; a wrong key is refused, never taken for anonymous); `VoterAuth`, a
//!   voter's own token. `voter_cookie.rs`: one browser, one voter on open polls.
//! - [`cors`]: CORS on the public endpoints, for web clients on other origins.
//! - [`docs`]: Swagger UI under its Content-Security-Policy, and `nosniff` on every answer.
//! - [`overload`]: the voter path's bound on requests in progress (`503` + `Retry-After`).
//! - [`limits`]: limits against abuse per client address (`429` + `Retry-After`).
//! - `errors.rs`: the one error shape, and every mapping from an area's error to a status.
//! - `body.rs`: the request body extractors; `path.rs`: the poll a path's `{id}` names;
//!   [`views`]: what the API reads and writes; `tags.rs`: the groups of Swagger UI.

mod auth;
mod ballot;
mod body;
pub mod challenge;
pub mod cors;
pub mod docs;
mod entries;
mod errors;
pub mod event_watch;
pub mod events;
mod health;
pub mod limits;
pub mod links;
pub mod overload;
mod path;
mod polls;
mod results;
mod tags;
mod tokens;
mod topics;
pub mod views;
pub mod voter_cookie;
mod webhooks;

pub use errors::{json_errors, ApiError, ErrorBody};

/// `bytes` read as every REST body type (the fuzzer's entry point, `crate::fuzzing`).
#[doc(hidden)]
pub fn fuzz_bodies(bytes: &[u8]) {
    body::fuzz_bodies(bytes)
}
pub use path::load_poll;
pub use tags::ApiTags;

use poem_openapi::OpenApiService;

/// Every API of the service, for [`service`].
pub type Apis = (
    polls::PollsApi,
    links::LinksApi,
    tokens::TokensApi,
    challenge::ChallengeApi,
    results::ResultsApi,
    ballot::BallotApi,
    events::EventsApi,
    entries::EntriesApi,
    topics::TopicsApi,
    webhooks::WebhooksApi,
    health::HealthApi,
);

/// The OpenAPI service of every API (no servers listed: the committed spec must not depend on
/// where it runs).
pub fn service() -> OpenApiService<Apis, ()> {
    OpenApiService::new(
        (
            polls::PollsApi,
            links::LinksApi,
            tokens::TokensApi,
            challenge::ChallengeApi,
            results::ResultsApi,
            ballot::BallotApi,
            events::EventsApi,
            entries::EntriesApi,
            topics::TopicsApi,
            webhooks::WebhooksApi,
            health::HealthApi,
        ),
        "pollcast",
        env!("CARGO_PKG_VERSION"),
    )
    .description(
        "Real-time polls on Momento. Admins create and run polls; voters get short-lived \
         Momento tokens, publish votes on the votes topic their token names (`votes_topic`) \
         and watch live results on `results.{poll_id}`. Polls are `single`, `multi`, `ranked`, `rating` or `open_text`; \
         an event runs several behind one join code (`/j/{code}`). Admin operations take \
         `Authorization: Bearer <admin key>`; a voter's take the voter's own token \
         (`Authorization: <token>`). Voters can also use the pages: `/p/{id}` to vote, \
         `/present/{id}` for a projector.",
    )
}

/// The spec as YAML, exactly as `pollcast openapi` prints it and `openapi/pollcast.yaml` holds.
pub fn spec_yaml() -> String {
    service().spec_yaml()
}
