//! The only place that names the `momento` crate: clients for cache, topics and tokens, set up
//! either against the embedded local Momento or against Momento's service, and the stores the
//! rest of pollcast reads and writes through.
//!
//! - [`keys`]: every cache key and topic name (the table in `docs/DESIGN-NOTES.md`).
//! - [`polls`]: [`PollStore`](polls::PollStore), poll records (compare-and-set) and the index.
//! - [`ballots`]: [`BallotStore`](ballots::BallotStore), ballot keys (the dedupe decision) and
//!   the ledger.
//! - [`results`]: [`ResultsStore`](results::ResultsStore), the results seq, snapshot and topic.
//! - [`votes`]: the votes-topic subscription the subscription ingest reads.
//! - [`tokens`]: voter tokens (Momento disposable tokens).
//! - [`status`]: what became of a voter's vote, and the registry of minted voter tokens.
//! - [`moderation`]: decisions on open-text entries (hidden, approved).
//! - [`events`]: events (a join code and an ordered list of polls) and their join codes.
//!
//! The SDK clients are private to this module: every call goes through a method here, so
//! errors come back as [`StoreError`] (with what was being done as context) and no SDK type
//! leaks out.

pub mod ballots;
pub mod events;
pub mod keys;
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
use momento::cache::{
    configurations, CreateCacheResponse, DictionaryFetchRequest, DictionaryFetchResponse,
    GetRequest, GetResponse, MomentoRequest,
};
use momento::topics::configurations as topic_configurations;
use momento::{AuthClient, CacheClient, CredentialProvider, TopicClient};
use secrecy::{ExposeSecret, SecretString};

use crate::domain::PollId;

/// A Momento call that failed; the cause chain says which call and why. Answered 503 at the
/// HTTP edge: retrying later is right.
#[derive(Debug, thiserror::Error)]
#[error(transparent)]
pub struct StoreError(#[from] anyhow::Error);

/// What a store call returns.
pub type StoreResult<T> = Result<T, StoreError>;

/// Default TTL of items pollcast writes without an explicit one.
const DEFAULT_TTL: Duration = Duration::from_secs(24 * 60 * 60);

/// Where the Momento that pollcast talks to lives.
#[derive(Clone)]
pub enum Location {
    /// The in-process local Momento, reached over loopback gRPC.
    Embedded {
        /// `http://127.0.0.1:PORT`.
        grpc_endpoint: String,
        /// A super-user key the local Momento minted.
        api_key: SecretString,
    },
    /// Momento's service, or another Momento-compatible server.
    Service {
        /// A v2 API key.
        api_key: SecretString,
        /// The endpoint that goes with the key.
        endpoint: String,
        /// A URL every call goes to instead (`http://` = plaintext), e.g. a shared local Momento.
        endpoint_override: Option<String>,
    },
}

/// The SDK clients pollcast uses, bound to one cache.
#[derive(Clone)]
pub struct Momento {
    cache: CacheClient,
    topics: TopicClient,
    auth: AuthClient,
    cache_name: String,
    http_endpoint: String,
}

impl Momento {
    /// Builds the clients. Nothing is sent until the first call.
    pub fn connect(location: &Location, cache_name: &str) -> anyhow::Result<Self> {
        let credentials = match location {
            Location::Embedded {
                grpc_endpoint,
                api_key,
            } => CredentialProvider::from_api_key_v2(api_key.expose_secret(), "localhost")
                .context("reading the local Momento's API key")?
                .full_endpoint_override(grpc_endpoint),
            Location::Service {
                api_key,
                endpoint,
                endpoint_override,
            } => {
                let credentials =
                    CredentialProvider::from_api_key_v2(api_key.expose_secret(), endpoint)
                        .context("reading MOMENTO_API_KEY (a v2 API key is expected)")?;
                match endpoint_override {
                    Some(url) => credentials.full_endpoint_override(url),
                    None => credentials,
                }
            }
        };
        let http_endpoint = credentials.cache_http_endpoint().to_owned();
        let cache = CacheClient::builder()
            .default_ttl(DEFAULT_TTL)
            .configuration(configurations::InRegion::latest())
            .credential_provider(credentials.clone())
            .build()
            .context("building the Momento cache client")?;
        let topics = TopicClient::builder()
            .configuration(topic_configurations::Laptop::latest())
            .credential_provider(credentials.clone())
            .build()
            .context("building the Momento topic client")?;
        let auth = AuthClient::builder()
            .credential_provider(credentials)
            .build()
            .context("building the Momento auth client")?;
        Ok(Self {
            cache,
            topics,
            auth,
            cache_name: cache_name.to_owned(),
            http_endpoint,
        })
    }

    /// Creates the cache when it does not exist.
    #[tracing::instrument(skip_all, fields(cache = %self.cache_name))]
    pub async fn ensure_cache(&self) -> anyhow::Result<()> {
        match self
            .cache
            .create_cache(&self.cache_name)
            .await
            .with_context(|| format!("creating the Momento cache '{}'", self.cache_name))?
        {
            CreateCacheResponse::Created | CreateCacheResponse::AlreadyExists => Ok(()),
        }
    }

    /// Answers when Momento answers a cheap read on our cache.
    #[tracing::instrument(skip_all)]
    pub async fn ping(&self) -> StoreResult<()> {
        self.get(keys::READINESS_PROBE.to_owned(), "reading from Momento")
            .await?;
        Ok(())
    }

    /// Gives every key of `poll` that can be listed ([`keys::kept_alive`]) a fresh `ttl`.
    #[tracing::instrument(skip_all, fields(poll_id = %poll.as_str()))]
    pub async fn keep_poll_alive(&self, poll: &PollId, ttl: Duration) -> StoreResult<()> {
        self.keep_alive(&keys::kept_alive(poll), ttl).await
    }

    /// Gives the poll index a fresh `ttl`.
    #[tracing::instrument(skip_all)]
    pub async fn keep_index_alive(&self, ttl: Duration) -> StoreResult<()> {
        self.keep_alive(&[keys::POLL_INDEX.to_owned()], ttl).await
    }

    /// Gives `keys` a fresh `ttl` (missing keys are skipped).
    async fn keep_alive(&self, keys: &[String], ttl: Duration) -> StoreResult<()> {
        let refreshes = keys
            .iter()
            .map(|key| self.cache.update_ttl(&self.cache_name, key.as_str(), ttl));
        futures::future::try_join_all(refreshes)
            .await
            .context("refreshing TTLs")?;
        Ok(())
    }

    /// The cache pollcast keeps its state in.
    pub fn cache_name(&self) -> &str {
        &self.cache_name
    }

    /// Momento's HTTP API endpoint for these credentials (the service's, not the embedded one).
    pub fn http_endpoint(&self) -> &str {
        &self.http_endpoint
    }

    /// Sends a cache `request`; `doing` says what for when it fails ("claiming the ballot key").
    async fn send<R: MomentoRequest>(
        &self,
        request: R,
        doing: &'static str,
    ) -> anyhow::Result<R::Response> {
        self.cache.send_request(request).await.context(doing)
    }

    /// The bytes at `key` (`None` when absent); `doing` as for [`Momento::send`].
    async fn get(&self, key: String, doing: &'static str) -> anyhow::Result<Option<Vec<u8>>> {
        Ok(
            match self
                .send(GetRequest::new(&self.cache_name, key), doing)
                .await?
            {
                GetResponse::Miss => None,
                GetResponse::Hit { value } => Some(value.into()),
            },
        )
    }

    /// The fields of the dictionary `key` (empty when absent); `doing` as for [`Momento::send`].
    async fn dictionary(
        &self,
        key: String,
        doing: &'static str,
    ) -> anyhow::Result<HashMap<Vec<u8>, Vec<u8>>> {
        let request = DictionaryFetchRequest::new(&self.cache_name, key);
        Ok(match self.send(request, doing).await? {
            DictionaryFetchResponse::Miss => HashMap::new(),
            DictionaryFetchResponse::Hit { value } => value.into(),
        })
    }

    /// The topic client (results, the votes subscription).
    fn topics(&self) -> &TopicClient {
        &self.topics
    }

    /// The auth client (voter tokens).
    fn auth(&self) -> &AuthClient {
        &self.auth
    }
}
