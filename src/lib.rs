//! pollcast: a real-time polling service on Momento topics, cache and disposable tokens.
//!
//! Layout:
//! - [`config`]: the command line and every setting (`POLLCAST_*` env vars too).
//! - [`startup`]: `Application::build` (binds, wires) and `run_until_stopped`;
//!   [`startup::mode`] the embedded-or-service `Mode` and every default that differs with it,
//!   [`startup::admin_key`] where the admin key comes from.
//! - [`state`]: `AppState`, what every request handler shares.
//! - [`api`]: the REST API, one poem-openapi struct per resource; `errors.rs` for the edge.
//! - [`momento`]: the only place that touches the Momento SDK: a store per record kind.
//! - [`ingest`]: votes in: the signed webhook, the votes-topic subscription, one pipeline
//!   ([`ingest::pipeline::reconcile`]: the sweep that settles ballots left in doubt).
//! - [`results`]: live results: counted (from running counts kept as ballots land,
//!   [`results::running`], or from the ledger), coalesced, published, SSE (one shared
//!   subscription per watched poll, [`results::feed`]), CSV, recount.
//! - [`metrics`]: Prometheus metrics at `/metrics`.
//! - [`pages`]: the voter page `/p/{id}` and the presenter screen `/present/{id}`, an event's
//!   (`/j/{code}`, `/present/event/{id}`) and the moderation page `/moderate/{id}`, from `web/`.
//! - [`scheduler`]: the lifecycle clock: polls open and close on time.
//! - [`domain`]: pure rules: ids, polls, the lifecycle state machine, ballots, tally, IRV,
//!   ratings, open-text entries (word list, moderation), events (join codes).
//! - [`standalone`]: `pollcast local-momento`, the local Momento as a server of its own.
//! - [`recount`]: `pollcast recount POLL_ID`, asking a running server to recount a poll
//!   ([`results::recount`] does the counting).
//! - [`secret_file`]: files that hold a secret (mode 0600).
//! - `fuzzing`: the fuzzer's entry points (`fuzz/`), each with a proptest twin.
//!
//! Where to find:
//! - the dedupe decision (first ballot, duplicate, revote, or given back): `record` in
//!   [`ingest::pipeline`] (its file `src/ingest/pipeline/record.rs`), on the ballot key
//!   [`momento::ballots`] claims;
//! - the results publish: [`results::Publisher::publish`] decides when and counts,
//!   [`momento::results::ResultsStore::publish`] stores the snapshot and publishes it;
//! - the admin-key check: `api/auth.rs` (the extractors `AdminAuth` and `MaybeAdmin`); where
//!   the key comes from: [`startup::admin_key`];
//! - the limits against abuse: [`api::limits`] (per client address), `api/challenge.rs` (the
//!   proof of work), the local Momento's `limits` and `guard` (`docs/SECURITY.md`);
//! - every cache key and topic name: [`momento::keys`];
//! - events and their join codes: [`momento::events`], the REST API [`api::events`], who
//!   follows which event [`api::event_watch`]; moderation decisions: [`momento::moderation`],
//!   applied when open-text results are counted ([`results::open_text`]);
//! - the batching of ledger writes: [`momento::ledger_writer`];
//! - durability (the data dir, the journal, recovery): the `local-momento` crate's `persist`
//!   module, configured in [`startup::mode`] (`docs/RELIABILITY.md`).
//!
//! The Momento-compatible server itself is the `local-momento` crate in `crates/`.

pub mod api;
pub mod config;
pub mod domain;
#[doc(hidden)]
pub mod fuzzing;
pub mod ingest;
pub mod metrics;
pub mod momento;
pub mod pages;
pub mod recount;
pub mod results;
pub mod scheduler;
pub mod secret_file;
pub mod standalone;
pub mod startup;
pub mod state;
