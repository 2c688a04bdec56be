//! One interface, two engines: every Momento call pollcast makes, in pollcast's own words,
//! answered either by the official `momento` SDK ([`sdk`]: Momento's service, or a standalone
//! local Momento) or by the embedded local Momento called in process ([`in_process`]: no
//! loopback gRPC between pollcast and the Momento it embeds).
//!
//! The two must behave alike for every call pollcast uses: `tests/api/contract.rs` runs each
//! call against both (the SDK engine against a local Momento over gRPC, the in-process engine
//! against the same kind of server in process) and compares what they answer. Errors are
//! [`anyhow::Error`]s whose chain names the call; a refusal the caller must tell apart (the
//! namespace's rate limit) is a [`Throttled`] in the chain.
//!
//! A closed enum rather than a trait object: the set of engines is ours, and a match costs no
//! allocation per call on the vote path.

pub mod in_process;
pub mod sdk;

use std::collections::HashMap;
use std::time::Duration;

use futures::stream::BoxStream;
use secrecy::SecretString;

/// When a conditional set stores (the `SetIf` conditions pollcast uses).
#[derive(Clone, Copy, Debug)]
pub enum Condition<'a> {
    /// The key is missing.
    Absent,
    /// The key holds exactly these bytes.
    Equal(&'a [u8]),
    /// The key is missing or holds exactly these bytes.
    AbsentOrEqual(&'a [u8]),
}

/// A message read from a topic.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TopicMessage {
    /// Its sequence number in the topic.
    pub seq: u64,
    /// The topic's sequence page (it changes when the numbering restarts).
    pub page: u64,
    /// The text (`None` for a binary message).
    pub text: Option<String>,
    /// The publisher's `token_id` (`""` when it had none).
    pub publisher_id: String,
}

/// What a voter token may do on one topic of the cache.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TopicGrant {
    /// Publish only.
    Publish(String),
    /// Subscribe only.
    Subscribe(String),
}

/// A disposable token as minted.
pub struct MintedToken {
    /// The token as the SDKs take it (`auth_token`: base64 of the key and endpoint).
    pub auth_token: SecretString,
    /// When it expires, seconds since the Unix epoch.
    pub expires_at: u64,
}

/// Momento answered that a limit of the namespace was exceeded (`RESOURCE_EXHAUSTED`, the
/// SDKs' `LimitExceededError`): nothing was done; retrying later is right.
#[derive(Debug, thiserror::Error)]
#[error("Momento refused the call: a limit was exceeded ({0})")]
pub struct Throttled(pub String);

/// The engine behind [`super::Momento`].
#[derive(Clone)]
pub enum Engine {
    /// The official SDK over gRPC (behind an `Arc`: its clients are large, and cloned with
    /// every store).
    Sdk(std::sync::Arc<sdk::SdkEngine>),
    /// The embedded local Momento, called in process.
    InProcess(in_process::InProcessEngine),
}

/// Calls `$method` with the same arguments on whichever engine this is.
macro_rules! dispatch {
    ($self:ident . $method:ident ( $($arg:expr),* )) => {
        match $self {
            Engine::Sdk(engine) => engine.$method($($arg),*).await,
            Engine::InProcess(engine) => engine.$method($($arg),*).await,
        }
    };
}

impl Engine {
    /// Which engine this is, for logs and the banner.
    pub fn name(&self) -> &'static str {
        match self {
            Engine::Sdk(_) => "sdk",
            Engine::InProcess(_) => "in-process",
        }
    }

    /// Whether calls are made in process (no round trip to save by batching them).
    pub fn is_in_process(&self) -> bool {
        matches!(self, Engine::InProcess(_))
    }

    /// Creates the cache unless it exists.
    pub async fn create_cache(&self, cache: &str) -> anyhow::Result<()> {
        dispatch!(self.create_cache(cache))
    }

    /// The bytes at `key`, `None` when missing.
    pub async fn get(&self, cache: &str, key: &str) -> anyhow::Result<Option<Vec<u8>>> {
        dispatch!(self.get(cache, key))
    }

    /// Stores `value` at `key` for `ttl`.
    pub async fn set(
        &self,
        cache: &str,
        key: &str,
        value: &[u8],
        ttl: Duration,
    ) -> anyhow::Result<()> {
        dispatch!(self.set(cache, key, value, ttl))
    }

    /// Removes `key` (a missing one is fine). Momento calls mixing this with `SetIf` on one key
    /// undefined: use it only on keys written with `set`.
    pub async fn delete(&self, cache: &str, key: &str) -> anyhow::Result<()> {
        dispatch!(self.delete(cache, key))
    }

    /// Stores `value` at `key` for `ttl` if `condition` holds; whether it stored.
    pub async fn set_if(
        &self,
        cache: &str,
        key: &str,
        value: &[u8],
        condition: Condition<'_>,
        ttl: Duration,
    ) -> anyhow::Result<bool> {
        dispatch!(self.set_if(cache, key, value, condition, ttl))
    }

    /// Adds `amount` to the integer at `key` (missing: 0), giving it `ttl`; the new value.
    pub async fn increment(
        &self,
        cache: &str,
        key: &str,
        amount: i64,
        ttl: Duration,
    ) -> anyhow::Result<i64> {
        dispatch!(self.increment(cache, key, amount, ttl))
    }

    /// Gives `key` (of any type) `ttl` from now; `false` when it is missing.
    pub async fn update_ttl(&self, cache: &str, key: &str, ttl: Duration) -> anyhow::Result<bool> {
        dispatch!(self.update_ttl(cache, key, ttl))
    }

    /// Every field of the dictionary `name` (empty when it is missing).
    pub async fn dictionary_fetch(
        &self,
        cache: &str,
        name: &str,
    ) -> anyhow::Result<HashMap<Vec<u8>, Vec<u8>>> {
        dispatch!(self.dictionary_fetch(cache, name))
    }

    /// One field of the dictionary `name` (`None` when it or the dictionary is missing).
    pub async fn dictionary_get_field(
        &self,
        cache: &str,
        name: &str,
        field: &str,
    ) -> anyhow::Result<Option<Vec<u8>>> {
        dispatch!(self.dictionary_get_field(cache, name, field))
    }

    /// Sets `fields` in the dictionary `name`, which lives `ttl` from this write.
    pub async fn dictionary_set_fields(
        &self,
        cache: &str,
        name: &str,
        fields: Vec<(Vec<u8>, Vec<u8>)>,
        ttl: Duration,
    ) -> anyhow::Result<()> {
        dispatch!(self.dictionary_set_fields(cache, name, fields, ttl))
    }

    /// Removes one field of the dictionary `name` (a missing one is fine).
    pub async fn dictionary_remove_field(
        &self,
        cache: &str,
        name: &str,
        field: &str,
    ) -> anyhow::Result<()> {
        dispatch!(self.dictionary_remove_field(cache, name, field))
    }

    /// Publishes `text` on `topic`.
    pub async fn publish(&self, cache: &str, topic: &str, text: String) -> anyhow::Result<()> {
        dispatch!(self.publish(cache, topic, text))
    }

    /// The messages of `topic`: from now on, or after `after` (`(page, seq)` of the last one
    /// processed) when given. Each engine keeps its stream going as long as it can (the SDK's
    /// resubscribes by itself); it ends when the Momento it reads from stops for good.
    pub async fn subscribe(
        &self,
        cache: &str,
        topic: &str,
        after: Option<(u64, u64)>,
    ) -> anyhow::Result<BoxStream<'static, TopicMessage>> {
        dispatch!(self.subscribe(cache, topic, after))
    }

    /// How many subscribers wait for the next message of `topic`, where the engine can tell
    /// (in process: the local Momento's count; the SDK cannot see Momento's subscribers).
    pub fn subscribers(&self, cache: &str, topic: &str) -> Option<usize> {
        match self {
            Engine::Sdk(_) => None,
            Engine::InProcess(engine) => Some(engine.subscribers(cache, topic)),
        }
    }

    /// Mints a disposable token carrying `token_id` with exactly `grants` on `cache`, valid
    /// for `valid_for` (whole seconds).
    pub async fn mint_token(
        &self,
        cache: &str,
        token_id: &str,
        grants: &[TopicGrant],
        valid_for: Duration,
    ) -> anyhow::Result<MintedToken> {
        dispatch!(self.mint_token(cache, token_id, grants, valid_for))
    }
}
