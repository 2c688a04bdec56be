//! The local Momento called in process: what the gRPC services do for a super-user caller,
//! without gRPC, HTTP/2 or a socket in between.
//!
//! A program that embeds a [`crate::LocalMomento`] (pollcast's embedded default) takes a
//! [`Client`] from [`crate::LocalMomento::client`] instead of pointing an SDK at the loopback
//! port. Every call has the semantics of the gRPC call it stands for, which the contract tests
//! of an embedding program hold it to:
//! - the same store, topics and tokens, through the same functions the gRPC handlers call;
//! - the same durability: a call answers only once what it wrote, or the last change it
//!   observed, is durable (group commit with every other writer, gRPC or in process);
//! - the same faults: each call consumes the fault registered for the gRPC method it stands
//!   for (`"SetIf"`, `"DictionarySet"`, `"Publish"`, ...), with the semantics of
//!   [`crate::faults`], so fault-injection tests exercise an in-process caller as they do an
//!   SDK;
//! - the same refusals, as a [`CallError`] carrying the gRPC status code Momento would answer
//!   with (`NOT_FOUND` for an unknown cache, `FAILED_PRECONDITION` for a type mismatch,
//!   `RESOURCE_EXHAUSTED` for a size limit, `UNAVAILABLE` when a change could not be made
//!   durable, ...).
//!
//! The caller is a super user: no key is presented and no permission is checked (there is no
//! boundary to cross). What it publishes carries no `token_id` (`publisher_id` `""`), as a
//! publish with an API key does.

mod faults;
mod subscription;

pub use subscription::{ClientSubscription, TopicEvent, TopicItem};

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use momento_protos::permission_messages::Permissions;
use secrecy::SecretString;

use crate::auth::{MintError, Principal};
use crate::faults::FaultCode;
use crate::message::Value;
use crate::quota::MaybeGate;
pub use crate::store::Condition as SetCondition;
use crate::store::{
    monotonic_ms, Cache, CacheError, CollectionTtl, FieldsToDelete, StoreError, TtlUpdate,
    TtlUpdated,
};
use crate::topics::{self, TopicError};
use crate::Shared;

/// A call that failed: the gRPC status code Momento would have answered with, and why.
#[derive(Clone, Debug, thiserror::Error, PartialEq, Eq)]
#[error("{message} ({code:?})")]
pub struct CallError {
    /// The status code (see [`FaultCode`], which lists them).
    pub code: FaultCode,
    /// What went wrong.
    pub message: String,
    /// For `RESOURCE_EXHAUSTED`, which limit, as the `err` metadata over gRPC names it
    /// (`operations_rate_limit_exceeded`, `item_size_limit_exceeded`, ...).
    pub limit: Option<&'static str>,
}

impl CallError {
    fn new(code: FaultCode, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
            limit: None,
        }
    }

    fn limit(limit: &'static str, message: impl Into<String>) -> Self {
        Self {
            limit: Some(limit),
            ..Self::new(FaultCode::ResourceExhausted, message)
        }
    }
}

/// What a call returns.
pub type CallResult<T> = Result<T, CallError>;

/// A published value.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TopicValue {
    /// Text.
    Text(String),
    /// Bytes.
    Binary(Bytes),
}

/// A disposable token, as `GenerateDisposableToken` answers.
pub struct DisposableToken {
    /// The raw key (what travels in `authorization`).
    pub api_key: SecretString,
    /// The endpoint the server reports (its gRPC address, or the configured one).
    pub endpoint: String,
    /// When it expires, seconds since the Unix epoch.
    pub valid_until: u64,
}

impl std::fmt::Debug for DisposableToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DisposableToken")
            .field("api_key", &"<redacted>")
            .field("endpoint", &self.endpoint)
            .field("valid_until", &self.valid_until)
            .finish()
    }
}

/// The gRPC method each call stands for (the fault it consumes).
mod rpc {
    pub(super) const CREATE_CACHE: &str = "/control_client.ScsControl/CreateCache";
    pub(super) const GET: &str = "/cache_client.Scs/Get";
    pub(super) const SET: &str = "/cache_client.Scs/Set";
    pub(super) const SET_IF: &str = "/cache_client.Scs/SetIf";
    pub(super) const DELETE: &str = "/cache_client.Scs/Delete";
    pub(super) const INCREMENT: &str = "/cache_client.Scs/Increment";
    pub(super) const UPDATE_TTL: &str = "/cache_client.Scs/UpdateTtl";
    pub(super) const DICTIONARY_FETCH: &str = "/cache_client.Scs/DictionaryFetch";
    pub(super) const DICTIONARY_GET: &str = "/cache_client.Scs/DictionaryGet";
    pub(super) const DICTIONARY_SET: &str = "/cache_client.Scs/DictionarySet";
    pub(super) const DICTIONARY_DELETE: &str = "/cache_client.Scs/DictionaryDelete";
    pub(super) const PUBLISH: &str = "/cache_client.pubsub.Pubsub/Publish";
    pub(super) const SUBSCRIBE: &str = "/cache_client.pubsub.Pubsub/Subscribe";
    pub(super) const GENERATE_TOKEN: &str = "/token.Token/GenerateDisposableToken";
}

/// An in-process, super-user client of a running local Momento. Cheap to clone.
#[derive(Clone)]
pub struct Client {
    shared: Arc<Shared>,
}

impl Client {
    pub(crate) fn new(shared: Arc<Shared>) -> Self {
        Self { shared }
    }

    /// Creates a cache; `false` when it existed already (`CreateCache`).
    pub async fn create_cache(&self, name: &str) -> CallResult<bool> {
        self.call(rpc::CREATE_CACHE, async {
            non_empty("cache name", name)?;
            match self.shared.store.create_cache(name) {
                Ok(lsn) => {
                    self.durable(lsn).await?;
                    Ok(true)
                }
                Err(CacheError::AlreadyExists(_)) => Ok(false),
                Err(CacheError::NotFound(error)) => Err(not_found(error)),
                Err(CacheError::Unavailable(error)) => Err(unavailable(error)),
            }
        })
        .await
    }

    /// The bytes at `key`, `None` when missing (`Get`).
    pub async fn get(&self, cache: &str, key: &[u8]) -> CallResult<Option<Vec<u8>>> {
        self.call(rpc::GET, async {
            let (found, lsn) = self.cache(cache)?.get(key, monotonic_ms()).map_err(store)?;
            self.durable(lsn).await?;
            Ok(found)
        })
        .await
    }

    /// Stores `value` at `key` for `ttl` (`Set`).
    pub async fn set(
        &self,
        cache: &str,
        key: &[u8],
        value: &[u8],
        ttl: Duration,
    ) -> CallResult<()> {
        self.call(rpc::SET, async {
            let ttl_ms = ttl_ms(ttl)?;
            let cache = self.cache(cache)?;
            let lsn = cache
                .set(key.to_vec(), value.to_vec(), ttl_ms, monotonic_ms())
                .map_err(store)?;
            self.durable(lsn).await
        })
        .await
    }

    /// Stores `value` at `key` for `ttl` if `condition` holds; `true` when stored (`SetIf`).
    pub async fn set_if(
        &self,
        cache: &str,
        key: &[u8],
        value: &[u8],
        condition: SetCondition<'_>,
        ttl: Duration,
    ) -> CallResult<bool> {
        self.call(rpc::SET_IF, async {
            let ttl_ms = ttl_ms(ttl)?;
            let cache = self.cache(cache)?;
            let (stored, lsn) = cache
                .set_if(
                    key.to_vec(),
                    value.to_vec(),
                    ttl_ms,
                    condition,
                    monotonic_ms(),
                )
                .map_err(store)?;
            self.durable(lsn).await?;
            Ok(stored)
        })
        .await
    }

    /// Removes `key` (`Delete`).
    pub async fn delete(&self, cache: &str, key: &[u8]) -> CallResult<()> {
        self.call(rpc::DELETE, async {
            let cache = self.cache(cache)?;
            let lsn = cache.delete(key.to_vec(), monotonic_ms()).map_err(store)?;
            self.durable(lsn).await
        })
        .await
    }

    /// Adds `amount` to the integer at `key` (a missing key counts as 0); the new value
    /// (`Increment`).
    pub async fn increment(
        &self,
        cache: &str,
        key: &[u8],
        amount: i64,
        ttl: Duration,
    ) -> CallResult<i64> {
        self.call(rpc::INCREMENT, async {
            let ttl_ms = ttl_ms(ttl)?;
            let cache = self.cache(cache)?;
            let (value, lsn) = cache
                .increment(key.to_vec(), amount, ttl_ms, monotonic_ms())
                .map_err(store)?;
            self.durable(lsn).await?;
            Ok(value)
        })
        .await
    }

    /// Gives `key` (of any type) a TTL of `ttl` from now; `false` when there is no such key
    /// (`UpdateTtl` with an overwrite, as the SDKs' `update_ttl` sends).
    pub async fn update_ttl(&self, cache: &str, key: &[u8], ttl: Duration) -> CallResult<bool> {
        self.call(rpc::UPDATE_TTL, async {
            let update = TtlUpdate::Overwrite(ttl_ms(ttl)?);
            let cache = self.cache(cache)?;
            let (updated, lsn) = cache
                .update_ttl(key.to_vec(), update, monotonic_ms())
                .map_err(store)?;
            self.durable(lsn).await?;
            Ok(updated == TtlUpdated::Set)
        })
        .await
    }

    /// Every field and value of the dictionary `name`, `None` when there is none
    /// (`DictionaryFetch`).
    pub async fn dictionary_fetch(
        &self,
        cache: &str,
        name: &[u8],
    ) -> CallResult<Option<HashMap<Vec<u8>, Vec<u8>>>> {
        self.call(rpc::DICTIONARY_FETCH, async {
            let cache = self.cache(cache)?;
            let (found, lsn) = cache
                .dictionary_fetch(name, monotonic_ms())
                .map_err(store)?;
            self.durable(lsn).await?;
            Ok(found.map(|elements| elements.into_iter().collect()))
        })
        .await
    }

    /// The value of `field` in the dictionary `name` (`None` when either is missing)
    /// (`DictionaryGet` of one field).
    pub async fn dictionary_get(
        &self,
        cache: &str,
        name: &[u8],
        field: &[u8],
    ) -> CallResult<Option<Vec<u8>>> {
        self.call(rpc::DICTIONARY_GET, async {
            let cache = self.cache(cache)?;
            let (found, lsn) = cache
                .dictionary_get(name, &[field.to_vec()], monotonic_ms())
                .map_err(store)?;
            self.durable(lsn).await?;
            Ok(found.and_then(|values| values.into_iter().next().flatten()))
        })
        .await
    }

    /// Sets `elements` (field, value) in the dictionary `name`, creating it with `ttl`; an
    /// existing one gets `ttl` again when `refresh` (`DictionarySet`).
    pub async fn dictionary_set(
        &self,
        cache: &str,
        name: &[u8],
        elements: Vec<(Vec<u8>, Vec<u8>)>,
        ttl: Duration,
        refresh: bool,
    ) -> CallResult<()> {
        self.call(rpc::DICTIONARY_SET, async {
            let ttl = CollectionTtl {
                ttl_ms: ttl_ms(ttl)?,
                refresh,
            };
            let cache = self.cache(cache)?;
            let lsn = cache
                .dictionary_set(name.to_vec(), elements, ttl, monotonic_ms())
                .map_err(store)?;
            self.durable(lsn).await
        })
        .await
    }

    /// Removes `fields` from the dictionary `name` (missing ones are ignored)
    /// (`DictionaryDelete`).
    pub async fn dictionary_remove(
        &self,
        cache: &str,
        name: &[u8],
        fields: Vec<Vec<u8>>,
    ) -> CallResult<()> {
        self.call(rpc::DICTIONARY_DELETE, async {
            let cache = self.cache(cache)?;
            let lsn = cache
                .dictionary_delete(name.to_vec(), FieldsToDelete::Some(fields), monotonic_ms())
                .map_err(store)?;
            self.durable(lsn).await
        })
        .await
    }

    /// Publishes `value` on `topic`; its sequence number (`Publish`). Answers once the
    /// message is durable and released to subscribers and webhooks, as over gRPC.
    pub async fn publish(&self, cache: &str, topic: &str, value: TopicValue) -> CallResult<u64> {
        self.call(rpc::PUBLISH, async {
            let value = match value {
                TopicValue::Text(text) => Value::Text(text),
                TopicValue::Binary(bytes) => Value::Binary(bytes),
            };
            topics::publish_as(&self.shared, &Principal::super_user(), cache, topic, value)
                .await
                .map_err(topic_error)
        })
        .await
    }

    /// Subscribes to `topic` (`Subscribe`): from now when `resume_at` is 0, else from that
    /// sequence number on `page` (the semantics of the `topics` module). The subscription
    /// ends when the server shuts down.
    pub async fn subscribe(
        &self,
        cache: &str,
        topic: &str,
        resume_at: u64,
        page: u64,
    ) -> CallResult<ClientSubscription> {
        self.call(rpc::SUBSCRIBE, async {
            let principal = Principal::super_user();
            let subscription =
                topics::subscribe_as(&self.shared, &principal, cache, topic, resume_at, page)
                    .map_err(topic_error)?;
            let slot = self.shared.quota.subscription().map_err(exceeded)?;
            Ok(ClientSubscription::new(
                subscription,
                slot,
                self.shared.clone(),
            ))
        })
        .await
    }

    /// How many subscribers (gRPC streams, HTTP long polls, in-process subscriptions) are
    /// waiting for the next message of `topic` right now: what a publish on it will cost in
    /// deliveries. Not a Momento call: no fault applies.
    pub fn subscribers(&self, cache: &str, topic: &str) -> usize {
        self.shared.topics.subscribers(cache, topic)
    }

    /// Mints a disposable token with `permissions`, valid for `valid_for`, carrying
    /// `token_id` (`GenerateDisposableToken`).
    pub async fn generate_disposable_token(
        &self,
        permissions: &Permissions,
        valid_for: Duration,
        token_id: &str,
    ) -> CallResult<DisposableToken> {
        self.call(rpc::GENERATE_TOKEN, async {
            let minted = self
                .shared
                .auth
                .mint_disposable(&Principal::super_user(), permissions, valid_for, token_id)
                .map_err(|error| match error {
                    MintError::NotAllowed => {
                        CallError::new(FaultCode::PermissionDenied, error.to_string())
                    }
                    MintError::TokenIdTooLong(_)
                    | MintError::BadExpiry(_)
                    | MintError::MissingPermissions => {
                        CallError::new(FaultCode::InvalidArgument, error.to_string())
                    }
                })?;
            Ok(DisposableToken {
                api_key: minted.api_key,
                endpoint: self.shared.endpoint.clone(),
                valid_until: minted.valid_until,
            })
        })
        .await
    }

    /// The cache named `name`; `NOT_FOUND` when there is none.
    fn cache(&self, name: &str) -> CallResult<Arc<Cache>> {
        non_empty("cache name", name)?;
        self.shared.store.cache(name).map_err(not_found)
    }

    /// Waits until `lsn` is durable.
    async fn durable(&self, lsn: crate::persist::Lsn) -> CallResult<()> {
        self.shared.log.wait(lsn).await.map_err(unavailable)
    }
}

fn non_empty(what: &str, value: &str) -> CallResult<()> {
    match value.trim().is_empty() {
        true => Err(CallError::new(
            FaultCode::InvalidArgument,
            format!("{what} must not be empty"),
        )),
        false => Ok(()),
    }
}

/// A TTL in milliseconds; 0 is refused as over gRPC (every item needs a TTL).
fn ttl_ms(ttl: Duration) -> CallResult<u64> {
    match u64::try_from(ttl.as_millis()) {
        Ok(0) => Err(CallError::new(
            FaultCode::InvalidArgument,
            "ttl must be at least a millisecond (every item needs a TTL)",
        )),
        Ok(ms) => Ok(ms),
        Err(_) => Ok(u64::MAX),
    }
}

/// A call over the namespace's quota, as Momento answers it.
fn exceeded(limit: crate::quota::Exceeded) -> CallError {
    CallError::limit(limit.err(), limit.message())
}

fn not_found(error: impl std::fmt::Display) -> CallError {
    CallError::new(FaultCode::NotFound, error.to_string())
}

fn unavailable(error: crate::persist::Unavailable) -> CallError {
    CallError::new(FaultCode::Unavailable, error.to_string())
}

/// The code Momento answers a store refusal with (as `grpc::cache::store_error`).
fn store(error: StoreError) -> CallError {
    let message = error.to_string();
    match &error {
        StoreError::ItemTooLarge { .. } => CallError::limit("item_size_limit_exceeded", message),
        StoreError::ElementTooLarge { .. } => {
            CallError::limit("element_size_limit_exceeded", message)
        }
        StoreError::WrongType { .. } | StoreError::NotAnInteger | StoreError::Overflow { .. } => {
            CallError::new(FaultCode::FailedPrecondition, message)
        }
        StoreError::Unavailable(_) => CallError::new(FaultCode::Unavailable, message),
    }
}

/// The code Momento answers a refused publish or subscribe with (as `grpc::pubsub::status`).
fn topic_error(error: TopicError) -> CallError {
    let message = error.to_string();
    match &error {
        TopicError::InvalidArgument(_) => CallError::new(FaultCode::InvalidArgument, message),
        TopicError::PermissionDenied { .. } => CallError::new(FaultCode::PermissionDenied, message),
        TopicError::CacheNotFound(_) => CallError::new(FaultCode::NotFound, message),
        TopicError::Unavailable(_) => CallError::new(FaultCode::Unavailable, message),
        TopicError::MessageTooLarge(_) => CallError::limit("request_size_limit_exceeded", message),
        TopicError::Throttled { .. } | TopicError::RateLimited { .. } => {
            CallError::limit("operations_rate_limit_exceeded", message)
        }
    }
}

#[cfg(test)]
mod tests;
