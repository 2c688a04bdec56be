//! The only place that names the `momento` crate: clients for cache, topics and tokens, set up
//! either against the embedded local Momento or against Momento's service.

pub mod ballots;
pub mod polls;
pub mod tokens;

use std::time::Duration;

use anyhow::Context;
use momento::cache::{configurations, CreateCacheResponse};
use momento::topics::configurations as topic_configurations;
use momento::{AuthClient, CacheClient, CredentialProvider, TopicClient};
use secrecy::{ExposeSecret, SecretString};

/// Default TTL of items pollcast writes without an explicit one.
const DEFAULT_TTL: Duration = Duration::from_secs(24 * 60 * 60);

/// Where the Momento that pollcast talks to lives.
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
    pub async fn ping(&self) -> anyhow::Result<()> {
        self.cache
            .get(&self.cache_name, "pollcast:readiness")
            .await
            .context("reading from Momento")?;
        Ok(())
    }

    /// Gives `keys` a fresh `ttl` (missing keys are skipped).
    pub async fn keep_alive(&self, keys: &[String], ttl: Duration) -> anyhow::Result<()> {
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

    /// The topic client (publishing results, subscription ingest).
    pub fn topics(&self) -> &TopicClient {
        &self.topics
    }

    /// The auth client (voter tokens).
    pub fn auth(&self) -> &AuthClient {
        &self.auth
    }

    /// The cache client.
    pub fn cache(&self) -> &CacheClient {
        &self.cache
    }
}
