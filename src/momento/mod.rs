//! The only way to Momento: one interface ([`Momento`], over an [`Engine`]) that every store
//! uses, with two engines behind it: the official `momento` crate for Momento's service and a
//! standalone local Momento, and the embedded local Momento called in process (the default).
//! The only place that names the `momento` crate (in `engine/sdk.rs`).
//!
//! - [`engine`]: the engines, and the calls both answer alike (`tests/api/contract.rs`).
//! - [`keys`]: every cache key and topic name (the table in `docs/DESIGN-NOTES.md`).
//! - [`polls`]: [`PollStore`](polls::PollStore), poll records (compare-and-set) and the index.
//! - [`ballots`]: [`BallotStore`](ballots::BallotStore), ballot keys (the dedupe decision) and
//!   the ledger.
//! - [`results`]: [`ResultsStore`](results::ResultsStore), the results seq, snapshot and topic.
//! - [`votes`]: the votes-topic subscriptions the subscription ingest reads.
//! - [`leases`]: [`LeaseStore`](leases::LeaseStore), who ingests which votes shard.
//! - [`tokens`]: voter tokens (Momento disposable tokens).
//! - [`status`]: what became of a voter's vote, and the registry of minted voter tokens.
//! - [`moderation`]: decisions on open-text entries (hidden, approved).
//! - [`events`]: events (a join code and an ordered list of polls) and their join codes.
//! - [`challenges`]: proof-of-work puzzles already answered (single use).
//!
//! The engine is private to this module: every call goes through a method here, so errors
//! come back as [`StoreError`] (with what was being done as context) and no SDK type leaks
//! out.

pub mod ballots;
pub mod challenges;
pub mod engine;
pub mod events;
pub mod keys;
pub mod leases;
pub mod ledger_writer;
pub mod moderation;
pub mod polls;
pub mod results;
pub mod status;
pub mod tokens;
pub mod votes;

use std::collections::HashMap;
use std::time::Duration;

use anyhow::Context;
use futures::stream::BoxStream;
use futures::StreamExt;
use secrecy::SecretString;

use crate::domain::PollId;
use engine::in_process::InProcessEngine;
use engine::sdk::SdkEngine;
pub use engine::{Condition, Engine, MintedToken, Throttled, TopicGrant, TopicMessage};

/// A Momento call that failed; the cause chain says which call and why. Answered 503 at the
/// HTTP edge: retrying later is right.
#[derive(Debug, thiserror::Error)]
#[error(transparent)]
pub struct StoreError(#[from] anyhow::Error);

impl StoreError {
    /// Whether Momento refused the call for a rate limit of the namespace ([`Throttled`]).
    pub fn is_throttled(&self) -> bool {
        self.0.downcast_ref::<Throttled>().is_some()
    }
}

/// Whether `error` (from a store call, or carrying one) is Momento refusing over a rate limit.
pub fn is_throttled(error: &anyhow::Error) -> bool {
    error.downcast_ref::<Throttled>().is_some()
        || error
            .downcast_ref::<StoreError>()
            .is_some_and(StoreError::is_throttled)
}

/// What a store call returns.
pub type StoreResult<T> = Result<T, StoreError>;

/// Where the Momento that pollcast talks to lives, and so which engine talks to it.
#[derive(Clone)]
pub enum Location {
    /// The embedded local Momento, called in process (the in-process engine).
    Embedded(local_momento::Client),
    /// Momento's service, or another Momento-compatible server (the SDK engine).
    Service {
        /// A v2 API key.
        api_key: SecretString,
        /// The endpoint that goes with the key.
        endpoint: String,
        /// A URL every call goes to instead (`http://` = plaintext), e.g. a shared local Momento.
        endpoint_override: Option<String>,
    },
}

/// The engine pollcast uses, bound to one cache.
#[derive(Clone)]
pub struct Momento {
    engine: Engine,
    cache_name: String,
    /// Momento's HTTP endpoint for the SDK engine's credentials (`None` in process).
    http_endpoint: Option<String>,
    /// Every call counted by kind and outcome (`ok`, `throttled`, `error`): what Momento bills
    /// this replica for, to check against the namespace's quota.
    calls: Option<prometheus::IntCounterVec>,
}

impl Momento {
    /// Picks the engine for `location`. Nothing is sent until the first call.
    pub fn connect(location: &Location, cache_name: &str) -> anyhow::Result<Self> {
        let (engine, http_endpoint) = match location {
            Location::Embedded(client) => (
                Engine::InProcess(InProcessEngine::new(client.clone())),
                None,
            ),
            Location::Service {
                api_key,
                endpoint,
                endpoint_override,
            } => {
                let sdk = SdkEngine::connect(api_key, endpoint, endpoint_override.as_deref())?;
                let http = sdk.http_endpoint().to_owned();
                (Engine::Sdk(std::sync::Arc::new(sdk)), Some(http))
            }
        };
        Ok(Self {
            engine,
            cache_name: cache_name.to_owned(),
            http_endpoint,
            calls: None,
        })
    }

    /// Counts every call in `calls` (labels: `call`, `outcome`).
    pub fn with_call_metrics(self, calls: prometheus::IntCounterVec) -> Self {
        Self {
            calls: Some(calls),
            ..self
        }
    }

    /// Counts one call of `kind` that came to `result`.
    fn count<T>(&self, kind: &'static str, result: &anyhow::Result<T>) {
        let Some(calls) = &self.calls else { return };
        let outcome = match result {
            Ok(_) => "ok",
            Err(error) if error.downcast_ref::<Throttled>().is_some() => "throttled",
            Err(_) => "error",
        };
        calls.with_label_values(&[kind, outcome]).inc();
    }

    /// Counts a message delivered to this replica by a subscription (Momento bills each).
    fn count_delivered(calls: &Option<prometheus::IntCounterVec>) {
        if let Some(calls) = calls {
            calls.with_label_values(&["message_received", "ok"]).inc();
        }
    }

    /// Which engine answers (`sdk` or `in-process`).
    pub fn engine_name(&self) -> &'static str {
        self.engine.name()
    }

    /// Creates the cache when it does not exist.
    #[tracing::instrument(level = "debug", skip_all, fields(cache = %self.cache_name))]
    pub async fn ensure_cache(&self) -> anyhow::Result<()> {
        let created = self.engine.create_cache(&self.cache_name).await;
        self.count("create_cache", &created);
        created.with_context(|| format!("creating the Momento cache '{}'", self.cache_name))
    }

    /// Answers when Momento answers a cheap read on our cache.
    #[tracing::instrument(level = "debug", skip_all)]
    pub async fn ping(&self) -> StoreResult<()> {
        self.get(keys::READINESS_PROBE.to_owned(), "reading from Momento")
            .await?;
        Ok(())
    }

    /// Gives every key of `poll` that can be listed ([`keys::kept_alive`]) a fresh `ttl`.
    #[tracing::instrument(level = "debug", skip_all, fields(poll_id = %poll.as_str()))]
    pub async fn keep_poll_alive(&self, poll: &PollId, ttl: Duration) -> StoreResult<()> {
        self.keep_alive(&keys::kept_alive(poll), ttl).await
    }

    /// Claims the refresh of `poll`'s TTLs for the next `every` (`SetIf` Absent with that TTL):
    /// `true` for the one replica that should refresh them now, `false` when another did within
    /// `every`.
    #[tracing::instrument(level = "debug", skip_all, fields(poll_id = %poll.as_str()))]
    pub async fn claim_keep_alive(&self, poll: &PollId, every: Duration) -> StoreResult<bool> {
        let key = keys::keep_alive_claim(poll);
        let claimed = self.set_if(
            &key,
            b"1",
            Condition::Absent,
            every,
            "claiming a poll's TTL refresh",
        );
        Ok(claimed.await?)
    }

    /// Gives the poll index a fresh `ttl`.
    #[tracing::instrument(level = "debug", skip_all)]
    pub async fn keep_index_alive(&self, ttl: Duration) -> StoreResult<()> {
        self.keep_alive(&[keys::POLL_INDEX.to_owned()], ttl).await
    }

    /// Gives `keys` a fresh `ttl` (missing keys are skipped).
    async fn keep_alive(&self, keys: &[String], ttl: Duration) -> StoreResult<()> {
        let refreshes = keys
            .iter()
            .map(|key| self.update_ttl(key, ttl, "refreshing TTLs"));
        futures::future::try_join_all(refreshes).await?;
        Ok(())
    }

    /// The cache pollcast keeps its state in.
    pub fn cache_name(&self) -> &str {
        &self.cache_name
    }

    /// Momento's HTTP API endpoint for the SDK engine's credentials (`None` in process, where
    /// the HTTP topics API is pollcast's own).
    pub fn http_endpoint(&self) -> Option<&str> {
        self.http_endpoint.as_deref()
    }

    // The calls the stores make. `doing` says what for when one fails ("claiming the ballot
    // key"); it becomes the outermost context of the error.

    /// The bytes at `key` (`None` when absent).
    async fn get(&self, key: String, doing: &'static str) -> anyhow::Result<Option<Vec<u8>>> {
        let got = self.engine.get(&self.cache_name, &key).await;
        self.count("get", &got);
        got.context(doing)
    }

    /// Stores `value` at `key` for `ttl`.
    async fn set(
        &self,
        key: &str,
        value: &[u8],
        ttl: Duration,
        doing: &'static str,
    ) -> anyhow::Result<()> {
        let set = self.engine.set(&self.cache_name, key, value, ttl).await;
        self.count("set", &set);
        set.context(doing)
    }

    /// Removes `key` (written with `set` only).
    async fn delete(&self, key: &str, doing: &'static str) -> anyhow::Result<()> {
        let deleted = self.engine.delete(&self.cache_name, key).await;
        self.count("delete", &deleted);
        deleted.context(doing)
    }

    /// Stores `value` at `key` for `ttl` if `condition` holds; whether it stored.
    async fn set_if(
        &self,
        key: &str,
        value: &[u8],
        condition: Condition<'_>,
        ttl: Duration,
        doing: &'static str,
    ) -> anyhow::Result<bool> {
        let stored = self
            .engine
            .set_if(&self.cache_name, key, value, condition, ttl)
            .await;
        self.count("set_if", &stored);
        stored.context(doing)
    }

    /// Adds `amount` to the counter at `key`; its new value.
    async fn increment(
        &self,
        key: &str,
        amount: i64,
        ttl: Duration,
        doing: &'static str,
    ) -> anyhow::Result<i64> {
        let incremented = self
            .engine
            .increment(&self.cache_name, key, amount, ttl)
            .await;
        self.count("increment", &incremented);
        incremented.context(doing)
    }

    /// Gives `key` a fresh `ttl`; `false` when it is missing.
    async fn update_ttl(
        &self,
        key: &str,
        ttl: Duration,
        doing: &'static str,
    ) -> anyhow::Result<bool> {
        let updated = self.engine.update_ttl(&self.cache_name, key, ttl).await;
        self.count("update_ttl", &updated);
        updated.context(doing)
    }

    /// The fields of the dictionary `key` (empty when absent).
    async fn dictionary(
        &self,
        key: String,
        doing: &'static str,
    ) -> anyhow::Result<HashMap<Vec<u8>, Vec<u8>>> {
        let fetched = self.engine.dictionary_fetch(&self.cache_name, &key).await;
        self.count("dictionary_fetch", &fetched);
        fetched.context(doing)
    }

    /// One field of the dictionary `name` (`None` when absent).
    async fn dictionary_field(
        &self,
        name: &str,
        field: &str,
        doing: &'static str,
    ) -> anyhow::Result<Option<Vec<u8>>> {
        let fetched = self
            .engine
            .dictionary_get_field(&self.cache_name, name, field)
            .await;
        self.count("dictionary_get", &fetched);
        fetched.context(doing)
    }

    /// Sets `fields` of the dictionary `name`, which then lives `ttl`.
    async fn set_fields(
        &self,
        name: &str,
        fields: Vec<(Vec<u8>, Vec<u8>)>,
        ttl: Duration,
        doing: &'static str,
    ) -> anyhow::Result<()> {
        let written = self
            .engine
            .dictionary_set_fields(&self.cache_name, name, fields, ttl)
            .await;
        self.count("dictionary_set", &written);
        written.context(doing)
    }

    /// Removes one field of the dictionary `name`.
    async fn remove_field(
        &self,
        name: &str,
        field: &str,
        doing: &'static str,
    ) -> anyhow::Result<()> {
        let removed = self
            .engine
            .dictionary_remove_field(&self.cache_name, name, field)
            .await;
        self.count("dictionary_remove", &removed);
        removed.context(doing)
    }

    /// Publishes `text` on `topic`.
    async fn publish(&self, topic: &str, text: String, doing: &'static str) -> anyhow::Result<()> {
        let published = self.engine.publish(&self.cache_name, topic, text).await;
        self.count("publish", &published);
        published.context(doing)
    }

    /// The messages of `topic` from now on, or after `after` (`(page, seq)`).
    async fn subscribe(
        &self,
        topic: &str,
        after: Option<(u64, u64)>,
        doing: &'static str,
    ) -> anyhow::Result<BoxStream<'static, TopicMessage>> {
        let subscribed = self.engine.subscribe(&self.cache_name, topic, after).await;
        self.count("subscribe", &subscribed);
        let calls = self.calls.clone();
        let messages = subscribed
            .context(doing)?
            .inspect(move |_| Self::count_delivered(&calls));
        Ok(messages.boxed())
    }
}
