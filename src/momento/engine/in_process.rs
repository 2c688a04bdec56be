//! The in-process engine: the embedded local Momento's [`Client`], called directly. Same
//! store, topics, tokens, durability and faults as over gRPC (see `local_momento::client`),
//! without a socket, HTTP/2 framing or protobuf between pollcast and the Momento it embeds.

use std::collections::HashMap;
use std::time::Duration;

use base64::Engine as _;
use futures::stream::BoxStream;
use futures::StreamExt;
use local_momento::client::{CallError, SetCondition, TopicEvent, TopicValue};
use local_momento::{Client, FaultCode};
use momento_protos::permission_messages::permissions_type::{
    self, cache_selector, topic_permissions, topic_selector,
};
use momento_protos::permission_messages::{
    permissions, ExplicitPermissions, Permissions, PermissionsType, TopicRole,
};
use secrecy::{ExposeSecret, SecretString};

use super::{Condition, MintedToken, Throttled, TopicGrant, TopicMessage};

/// The embedded local Momento, in process.
#[derive(Clone)]
pub struct InProcessEngine {
    client: Client,
}

impl InProcessEngine {
    /// The engine over `client`.
    pub fn new(client: Client) -> Self {
        Self { client }
    }

    pub(super) async fn create_cache(&self, cache: &str) -> anyhow::Result<()> {
        self.client.create_cache(cache).await.map_err(classify)?;
        Ok(())
    }

    pub(super) async fn get(&self, cache: &str, key: &str) -> anyhow::Result<Option<Vec<u8>>> {
        self.client
            .get(cache, key.as_bytes())
            .await
            .map_err(classify)
    }

    pub(super) async fn set(
        &self,
        cache: &str,
        key: &str,
        value: &[u8],
        ttl: Duration,
    ) -> anyhow::Result<()> {
        self.client
            .set(cache, key.as_bytes(), value, ttl)
            .await
            .map_err(classify)
    }

    pub(super) async fn delete(&self, cache: &str, key: &str) -> anyhow::Result<()> {
        self.client
            .delete(cache, key.as_bytes())
            .await
            .map_err(classify)
    }

    pub(super) async fn set_if(
        &self,
        cache: &str,
        key: &str,
        value: &[u8],
        condition: Condition<'_>,
        ttl: Duration,
    ) -> anyhow::Result<bool> {
        let condition = match condition {
            Condition::Absent => SetCondition::Absent,
            Condition::Equal(expected) => SetCondition::Equal(expected),
            Condition::AbsentOrEqual(expected) => SetCondition::AbsentOrEqual(expected),
        };
        self.client
            .set_if(cache, key.as_bytes(), value, condition, ttl)
            .await
            .map_err(classify)
    }

    pub(super) async fn increment(
        &self,
        cache: &str,
        key: &str,
        amount: i64,
        ttl: Duration,
    ) -> anyhow::Result<i64> {
        self.client
            .increment(cache, key.as_bytes(), amount, ttl)
            .await
            .map_err(classify)
    }

    pub(super) async fn update_ttl(
        &self,
        cache: &str,
        key: &str,
        ttl: Duration,
    ) -> anyhow::Result<bool> {
        self.client
            .update_ttl(cache, key.as_bytes(), ttl)
            .await
            .map_err(classify)
    }

    pub(super) async fn dictionary_fetch(
        &self,
        cache: &str,
        name: &str,
    ) -> anyhow::Result<HashMap<Vec<u8>, Vec<u8>>> {
        let found = self
            .client
            .dictionary_fetch(cache, name.as_bytes())
            .await
            .map_err(classify)?;
        Ok(found.unwrap_or_default())
    }

    pub(super) async fn dictionary_get_field(
        &self,
        cache: &str,
        name: &str,
        field: &str,
    ) -> anyhow::Result<Option<Vec<u8>>> {
        self.client
            .dictionary_get(cache, name.as_bytes(), field.as_bytes())
            .await
            .map_err(classify)
    }

    pub(super) async fn dictionary_set_fields(
        &self,
        cache: &str,
        name: &str,
        fields: Vec<(Vec<u8>, Vec<u8>)>,
        ttl: Duration,
    ) -> anyhow::Result<()> {
        self.client
            .dictionary_set(cache, name.as_bytes(), fields, ttl, true)
            .await
            .map_err(classify)
    }

    pub(super) async fn dictionary_remove_field(
        &self,
        cache: &str,
        name: &str,
        field: &str,
    ) -> anyhow::Result<()> {
        let fields = vec![field.as_bytes().to_vec()];
        self.client
            .dictionary_remove(cache, name.as_bytes(), fields)
            .await
            .map_err(classify)
    }

    pub(super) async fn publish(
        &self,
        cache: &str,
        topic: &str,
        text: String,
    ) -> anyhow::Result<()> {
        self.client
            .publish(cache, topic, TopicValue::Text(text))
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
        let (resume_at, page) = match after {
            Some((page, seq)) => (seq + 1, page),
            None => (0, 0),
        };
        let subscription = self
            .client
            .subscribe(cache, topic, resume_at, page)
            .await
            .map_err(classify)?;
        // Discontinuities are dropped, as the SDK's stream drops them: a reader that must
        // notice lost messages watches for gaps in the sequence numbers.
        Ok(subscription
            .into_stream()
            .filter_map(|event| async move {
                match event {
                    TopicEvent::Item(item) => Some(TopicMessage {
                        seq: item.sequence_number,
                        page: item.sequence_page,
                        publisher_id: item.publisher_id,
                        text: match item.value {
                            TopicValue::Text(text) => Some(text),
                            TopicValue::Binary(bytes) => String::from_utf8(bytes.to_vec()).ok(),
                        },
                    }),
                    TopicEvent::Discontinuity { .. } => None,
                }
            })
            .boxed())
    }

    pub(super) fn subscribers(&self, cache: &str, topic: &str) -> usize {
        self.client.subscribers(cache, topic)
    }

    pub(super) async fn mint_token(
        &self,
        cache: &str,
        token_id: &str,
        grants: &[TopicGrant],
        valid_for: Duration,
    ) -> anyhow::Result<MintedToken> {
        let permissions = permissions_of(cache, grants);
        let valid_for = Duration::from_secs(valid_for.as_secs().max(1));
        let minted = self
            .client
            .generate_disposable_token(&permissions, valid_for, token_id)
            .await
            .map_err(classify)?;
        // The form the SDKs hand out (`GenerateDisposableTokenResponse::auth_token`), byte for
        // byte, so a token minted in process is the token an SDK would have returned.
        let auth_token = base64::engine::general_purpose::STANDARD.encode(format!(
            "{{\"endpoint\": \"{}\", \"api_key\": \"{}\"}}",
            minted.endpoint,
            minted.api_key.expose_secret()
        ));
        Ok(MintedToken {
            auth_token: SecretString::from(auth_token),
            expires_at: minted.valid_until,
        })
    }
}

/// `grants` as the protobuf permissions the SDK would send for them.
fn permissions_of(cache: &str, grants: &[TopicGrant]) -> Permissions {
    let permission = |role: TopicRole, topic: &str| PermissionsType {
        kind: Some(permissions_type::Kind::TopicPermissions(
            permissions_type::TopicPermissions {
                role: role.into(),
                cache: Some(topic_permissions::Cache::CacheSelector(
                    permissions_type::CacheSelector {
                        kind: Some(cache_selector::Kind::CacheName(cache.to_owned())),
                    },
                )),
                topic: Some(topic_permissions::Topic::TopicSelector(
                    permissions_type::TopicSelector {
                        kind: Some(topic_selector::Kind::TopicName(topic.to_owned())),
                    },
                )),
            },
        )),
    };
    Permissions {
        kind: Some(permissions::Kind::Explicit(ExplicitPermissions {
            permissions: grants
                .iter()
                .map(|grant| match grant {
                    TopicGrant::Publish(topic) => permission(TopicRole::TopicWriteOnly, topic),
                    TopicGrant::Subscribe(topic) => permission(TopicRole::TopicReadOnly, topic),
                })
                .collect(),
        })),
    }
}

/// A refusal as an `anyhow` error, a [`Throttled`] when it was a rate limit (not a size limit).
fn classify(error: CallError) -> anyhow::Error {
    let size_limit = error
        .limit
        .is_some_and(|limit| limit.contains("size_limit"));
    if error.code == FaultCode::ResourceExhausted && !size_limit {
        return anyhow::Error::new(Throttled(error.message));
    }
    anyhow::Error::new(error)
}
