//! The SDK engine: the official `momento` crate, for Momento's service and for a standalone
//! local Momento (`--momento-endpoint-override`).

use std::collections::HashMap;
use std::time::Duration;

use anyhow::Context;
use futures::stream::BoxStream;
use futures::StreamExt;
use momento::auth::{
    CacheSelector, ExpiresIn, GenerateDisposableTokenRequest, Permission, Permissions,
    TopicPermission, TopicRole, TopicSelector,
};
use momento::cache::{
    configurations, CollectionTtl, CreateCacheResponse, DictionaryFetchRequest,
    DictionaryFetchResponse, DictionaryGetFieldRequest, DictionaryGetFieldResponse,
    DictionaryRemoveFieldRequest, DictionarySetFieldsRequest, GetRequest, GetResponse,
    IncrementRequest, MomentoRequest, SetIfAbsentOrEqualRequest, SetIfAbsentOrEqualResponse,
    SetIfAbsentRequest, SetIfAbsentResponse, SetIfEqualRequest, SetIfEqualResponse, SetRequest,
    UpdateTtlResponse,
};
use momento::topics::configurations as topic_configurations;
use momento::topics::{SubscribeRequest, ValueKind};
use momento::TopicClient;
use momento::{AuthClient, CacheClient, CredentialProvider, MomentoError, MomentoErrorCode};
use secrecy::{ExposeSecret, SecretString};

use super::{Condition, MintedToken, Throttled, TopicGrant, TopicMessage};

/// Default TTL of items written without an explicit one (every call here gives one).
const DEFAULT_TTL: Duration = Duration::from_secs(24 * 60 * 60);

/// The SDK clients.
#[derive(Clone)]
pub struct SdkEngine {
    cache: CacheClient,
    topics: TopicClient,
    auth: AuthClient,
    http_endpoint: String,
}

impl SdkEngine {
    /// Clients for a v2 `api_key` and its `endpoint`, every call going to `endpoint_override`
    /// instead when given (`http://` = plaintext). Nothing is sent until the first call.
    pub fn connect(
        api_key: &SecretString,
        endpoint: &str,
        endpoint_override: Option<&str>,
    ) -> anyhow::Result<Self> {
        let credentials = CredentialProvider::from_api_key_v2(api_key.expose_secret(), endpoint)
            .context("reading the Momento API key (a v2 API key is expected)")?;
        let credentials = match endpoint_override {
            Some(url) => credentials.full_endpoint_override(url),
            None => credentials,
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
            http_endpoint,
        })
    }

    /// Momento's HTTP API endpoint for these credentials.
    pub fn http_endpoint(&self) -> &str {
        &self.http_endpoint
    }

    async fn send<R: MomentoRequest>(&self, request: R) -> anyhow::Result<R::Response> {
        self.cache.send_request(request).await.map_err(classify)
    }

    pub(super) async fn create_cache(&self, cache: &str) -> anyhow::Result<()> {
        match self.cache.create_cache(cache).await.map_err(classify)? {
            CreateCacheResponse::Created | CreateCacheResponse::AlreadyExists => Ok(()),
        }
    }

    pub(super) async fn get(&self, cache: &str, key: &str) -> anyhow::Result<Option<Vec<u8>>> {
        Ok(match self.send(GetRequest::new(cache, key)).await? {
            GetResponse::Miss => None,
            GetResponse::Hit { value } => Some(value.into()),
        })
    }

    pub(super) async fn set(
        &self,
        cache: &str,
        key: &str,
        value: &[u8],
        ttl: Duration,
    ) -> anyhow::Result<()> {
        self.send(SetRequest::new(cache, key, value).ttl(ttl))
            .await?;
        Ok(())
    }

    pub(super) async fn delete(&self, cache: &str, key: &str) -> anyhow::Result<()> {
        self.cache.delete(cache, key).await.map_err(classify)?;
        Ok(())
    }

    pub(super) async fn set_if(
        &self,
        cache: &str,
        key: &str,
        value: &[u8],
        condition: Condition<'_>,
        ttl: Duration,
    ) -> anyhow::Result<bool> {
        Ok(match condition {
            Condition::Absent => matches!(
                self.send(SetIfAbsentRequest::new(cache, key, value).ttl(ttl))
                    .await?,
                SetIfAbsentResponse::Stored
            ),
            Condition::Equal(expected) => matches!(
                self.send(SetIfEqualRequest::new(cache, key, value, expected).ttl(ttl))
                    .await?,
                SetIfEqualResponse::Stored
            ),
            Condition::AbsentOrEqual(expected) => matches!(
                self.send(SetIfAbsentOrEqualRequest::new(cache, key, value, expected).ttl(ttl))
                    .await?,
                SetIfAbsentOrEqualResponse::Stored
            ),
        })
    }

    pub(super) async fn increment(
        &self,
        cache: &str,
        key: &str,
        amount: i64,
        ttl: Duration,
    ) -> anyhow::Result<i64> {
        let request = IncrementRequest::new(cache, key, amount).ttl(ttl);
        Ok(self.send(request).await?.value)
    }

    pub(super) async fn update_ttl(
        &self,
        cache: &str,
        key: &str,
        ttl: Duration,
    ) -> anyhow::Result<bool> {
        let response = self
            .cache
            .update_ttl(cache, key, ttl)
            .await
            .map_err(classify)?;
        Ok(matches!(response, UpdateTtlResponse::Set))
    }

    pub(super) async fn dictionary_fetch(
        &self,
        cache: &str,
        name: &str,
    ) -> anyhow::Result<HashMap<Vec<u8>, Vec<u8>>> {
        Ok(
            match self.send(DictionaryFetchRequest::new(cache, name)).await? {
                DictionaryFetchResponse::Miss => HashMap::new(),
                DictionaryFetchResponse::Hit { value } => value.into(),
            },
        )
    }

    pub(super) async fn dictionary_get_field(
        &self,
        cache: &str,
        name: &str,
        field: &str,
    ) -> anyhow::Result<Option<Vec<u8>>> {
        let request = DictionaryGetFieldRequest::new(cache, name, field);
        Ok(match self.send(request).await? {
            DictionaryGetFieldResponse::Hit { value } => Some(value.into()),
            DictionaryGetFieldResponse::Miss => None,
        })
    }

    pub(super) async fn dictionary_set_fields(
        &self,
        cache: &str,
        name: &str,
        fields: Vec<(Vec<u8>, Vec<u8>)>,
        ttl: Duration,
    ) -> anyhow::Result<()> {
        let request = DictionarySetFieldsRequest::new(cache, name, fields)
            .ttl(CollectionTtl::refresh_on_update(ttl));
        self.send(request).await?;
        Ok(())
    }

    pub(super) async fn dictionary_remove_field(
        &self,
        cache: &str,
        name: &str,
        field: &str,
    ) -> anyhow::Result<()> {
        self.send(DictionaryRemoveFieldRequest::new(cache, name, field))
            .await?;
        Ok(())
    }

    pub(super) async fn publish(
        &self,
        cache: &str,
        topic: &str,
        text: String,
    ) -> anyhow::Result<()> {
        self.topics
            .publish(cache, topic, text)
            .await
            .map_err(classify)?;
        Ok(())
    }

    pub(super) async fn subscribe(
        &self,
        cache: &str,
        topic: &str,
        after: Option<(u64, u64)>,
    ) -> anyhow::Result<BoxStream<'static, TopicMessage>> {
        let request = SubscribeRequest::new(
            cache.to_owned(),
            topic.to_owned(),
            after.map(|(_, seq)| seq + 1),
            after.map(|(page, _)| page),
        );
        let subscription = self.topics.send_request(request).await.map_err(classify)?;
        Ok(subscription
            .map(|item| TopicMessage {
                seq: item.topic_sequence_number,
                page: item.topic_sequence_page,
                publisher_id: item.publisher_id,
                text: match item.kind {
                    ValueKind::Text(text) => Some(text),
                    ValueKind::Binary(bytes) => String::from_utf8(bytes).ok(),
                },
            })
            .boxed())
    }

    pub(super) async fn mint_token(
        &self,
        cache: &str,
        token_id: &str,
        grants: &[TopicGrant],
        valid_for: Duration,
    ) -> anyhow::Result<MintedToken> {
        let permission = |role, topic: &str| {
            Permission::TopicPermission(TopicPermission {
                role,
                cache: CacheSelector::CacheName {
                    name: cache.to_owned(),
                },
                topic: TopicSelector::TopicName {
                    name: topic.to_owned(),
                },
            })
        };
        let permissions = Permissions {
            permissions: grants
                .iter()
                .map(|grant| match grant {
                    TopicGrant::Publish(topic) => permission(TopicRole::PublishOnly, topic),
                    TopicGrant::Subscribe(topic) => permission(TopicRole::SubscribeOnly, topic),
                })
                .collect(),
        };
        let request = GenerateDisposableTokenRequest::new(
            permissions.into(),
            ExpiresIn::seconds(valid_for.as_secs().max(1)),
        )
        .token_id(token_id.to_owned());
        let response = self.auth.send_request(request).await.map_err(classify)?;
        let expires_at = response.clone().expires_at().epoch();
        Ok(MintedToken {
            auth_token: SecretString::from(response.auth_token()),
            expires_at,
        })
    }
}

/// An SDK error as an `anyhow` chain, with a [`Throttled`] at its root when Momento said a
/// rate limit of the namespace was exceeded (size limits are not throttling).
fn classify(error: MomentoError) -> anyhow::Error {
    let size_limit = ["Request size", "Item size", "Element size"]
        .iter()
        .any(|limit| error.message.starts_with(limit));
    if error.error_code == MomentoErrorCode::LimitExceededError && !size_limit {
        return anyhow::Error::new(Throttled(error.message));
    }
    anyhow::Error::new(error)
}
