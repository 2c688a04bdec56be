//! Topics: per-topic sequence numbers and pages, a bounded history to resume from, fan-out to
//! subscribers, and the hand-off of every published message to the webhooks.
//!
//! The gRPC `Pubsub` service and the HTTP topics API both go through [`publish_as`] and
//! [`subscribe_as`], so they share one set of semantics:
//!
//! - **Sequence numbers** are per (cache, topic), start at 1 and grow by 1 per published
//!   message. Heartbeats and discontinuities consume none.
//! - **Sequence page**: each topic gets a non-zero page when its state is first created (first
//!   publish or subscribe). The state lives in memory only, so a restarted server hands out new
//!   pages: that is how a resuming client learns its sequence numbers no longer mean anything.
//! - **Resume** (`resume_at_topic_sequence_number = N`, `sequence_page = P`):
//!   - `N == 0`: live messages only, no replay;
//!   - `N > 0`, `P` is the topic's page: the retained messages with sequence number `>= N`, then
//!     live ones. JS and Java SDKs resume with "last seen + 1"; the Rust SDK resumes with the last
//!     sequence number it saw, so it receives that one message a second time. If the history
//!     (`topic_history` messages per topic) no longer reaches back to `N`, a discontinuity
//!     `{last: N-1, new: <first sequence number sent next>, page}` comes first;
//!   - `N > 0`, `P` is another page (including 0, "no page"): a discontinuity
//!     `{last: 0 (unknown: N counts on another page), new: <next sequence number>, page}`, then
//!     live messages;
//!   - `N` beyond the newest message on the right page: live messages only.
//! - **No gaps or duplicates** between replay and live delivery: a subscription snapshots the
//!   history and joins the live fan-out under the same per-topic lock that publishing takes.
//! - **Slow subscribers**: each one may fall `subscriber_buffer` messages behind; past that it
//!   loses the oldest of them and gets a discontinuity `{last: <last sequence number it got>,
//!   new: <the next one it gets>, page}` instead. Memory stays bounded, loss never silent.
//! - **Limits and checks**, in this order: empty cache or topic name (invalid argument), the
//!   caller's topic permission (permission denied), the cache's existence (not found), the 4 KB
//!   message limit (limit exceeded). Nothing is published unless all pass.
//! - `publisher_id` of every item is the publisher's `token_id` (`""` for API keys).

mod hub;
mod subscription;
#[cfg(test)]
mod tests;

pub(crate) use subscription::{Event, Subscription};

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use dashmap::DashMap;
use tokio_util::sync::CancellationToken;

use crate::auth::{Principal, TopicAccess};
use crate::config::LocalMomentoConfig;
use crate::webhooks::{Dispatcher, Webhook, WebhookStats};
use crate::Shared;
use hub::Topic;

/// Largest message accepted, in bytes of text (UTF-8) or binary (Momento's limit).
pub(crate) const MAX_MESSAGE_BYTES: usize = 4096;

/// A shortest heartbeat interval, so a zero in the settings cannot make streams spin.
const MIN_HEARTBEAT_INTERVAL: Duration = Duration::from_millis(10);

/// A published value.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Value {
    /// Text (`text/plain` over HTTP).
    Text(String),
    /// Bytes (`application/octet-stream` over HTTP).
    Binary(Bytes),
}

impl Value {
    /// Size that counts against [`MAX_MESSAGE_BYTES`].
    pub(crate) fn len(&self) -> usize {
        match self {
            Value::Text(text) => text.len(),
            Value::Binary(bytes) => bytes.len(),
        }
    }
}

/// A message as published: shared (not copied) by every subscriber and webhook delivery.
#[derive(Debug)]
pub(crate) struct Message {
    /// Position in its topic, from 1.
    pub(crate) sequence_number: u64,
    /// The topic's page when it was published.
    pub(crate) sequence_page: u64,
    /// What was published.
    pub(crate) value: Value,
    /// The publisher's `token_id` (`""` for API keys).
    pub(crate) publisher_id: String,
    /// When it was published, ms since the Unix epoch (a webhook's `event_timestamp`).
    pub(crate) published_at_ms: u64,
}

/// Why a publish or subscribe was refused. Each front end maps the variants to its own codes.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub(crate) enum TopicError {
    /// Empty cache or topic name, or a request without a value.
    #[error("{0}")]
    InvalidArgument(&'static str),
    /// The caller's grants do not cover this topic for this access.
    #[error("insufficient permissions to {access} topic '{topic}' in cache '{cache}'")]
    PermissionDenied {
        /// `publish to` or `subscribe to`.
        access: &'static str,
        /// Cache named in the request.
        cache: String,
        /// Topic named in the request.
        topic: String,
    },
    /// No cache of that name.
    #[error("cache '{0}' does not exist")]
    CacheNotFound(String),
    /// Message over [`MAX_MESSAGE_BYTES`].
    #[error("message of {0} bytes exceeds the request limit of {MAX_MESSAGE_BYTES} bytes")]
    MessageTooLarge(usize),
}

/// Counters, for tests and diagnostics.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct TopicStats {
    /// Messages published on any topic.
    pub(crate) published: u64,
    /// What became of webhook deliveries.
    pub(crate) webhooks: WebhookStats,
}

/// Every topic of the server, and the webhooks registered on them.
pub(crate) struct Topics {
    topics: DashMap<(String, String), Arc<Topic>>,
    history: usize,
    subscriber_buffer: usize,
    heartbeat_interval: Duration,
    long_poll_max_wait: Duration,
    webhooks: Dispatcher,
    published: AtomicU64,
    shutdown: CancellationToken,
}

impl Topics {
    /// Topics with the settings of `config`. Starts the webhook delivery task, so it must be
    /// called inside a Tokio runtime; that task and every subscription end when `shutdown` fires.
    pub(crate) fn new(config: &LocalMomentoConfig, shutdown: CancellationToken) -> Self {
        Self {
            topics: DashMap::new(),
            history: config.topic_history,
            // A broadcast channel needs room for at least one message.
            subscriber_buffer: config.subscriber_buffer.max(1),
            heartbeat_interval: config.heartbeat_interval.max(MIN_HEARTBEAT_INTERVAL),
            long_poll_max_wait: config.long_poll_max_wait,
            webhooks: Dispatcher::start(config, shutdown.clone()),
            published: AtomicU64::new(0),
            shutdown,
        }
    }

    /// The webhook delivery task, for a shutdown that waits for it.
    pub(crate) fn take_background_task(&self) -> Option<tokio::task::JoinHandle<()>> {
        self.webhooks.take_task()
    }

    /// Registers a webhook on its topic: every message published there from now on is POSTed.
    pub(crate) fn register_webhook(&self, webhook: Webhook) {
        self.webhooks.register(webhook);
    }

    /// Publishes without any check (callers use [`publish_as`]); returns the sequence number.
    #[cfg(test)]
    pub(crate) fn publish(
        &self,
        cache: &str,
        topic: &str,
        value: Value,
        publisher_id: &str,
    ) -> u64 {
        let message = self.topic(cache, topic).publish(value, publisher_id);
        self.published.fetch_add(1, Ordering::Relaxed);
        self.webhooks.notify(cache, topic, &message);
        message.sequence_number
    }

    /// [`Topics::publish`], handing the message to the webhooks with backpressure when it is on.
    pub(crate) async fn publish_and_deliver(
        &self,
        cache: &str,
        topic: &str,
        value: Value,
        publisher_id: &str,
    ) -> u64 {
        let message = self.topic(cache, topic).publish(value, publisher_id);
        self.published.fetch_add(1, Ordering::Relaxed);
        self.webhooks.deliver(cache, topic, &message).await;
        message.sequence_number
    }

    /// Subscribes without any check (callers use [`subscribe_as`]). See the module docs for
    /// what `resume_at` and `page` mean.
    pub(crate) fn subscribe(
        &self,
        cache: &str,
        topic: &str,
        resume_at: u64,
        page: u64,
    ) -> Subscription {
        self.topic(cache, topic).subscribe(resume_at, page)
    }

    /// How long an idle subscription waits before it sends a heartbeat.
    pub(crate) fn heartbeat_interval(&self) -> Duration {
        self.heartbeat_interval
    }

    /// How long an HTTP long poll waits for a message before answering with none.
    pub(crate) fn long_poll_max_wait(&self) -> Duration {
        self.long_poll_max_wait
    }

    /// Fires when the server shuts down; streams and long polls end then.
    pub(crate) fn shutdown(&self) -> &CancellationToken {
        &self.shutdown
    }

    /// Counters so far.
    #[cfg_attr(not(test), allow(dead_code))]
    pub(crate) fn stats(&self) -> TopicStats {
        TopicStats {
            published: self.published.load(Ordering::Relaxed),
            webhooks: self.webhooks.stats(),
        }
    }

    /// The state of a topic, created on first use.
    fn topic(&self, cache: &str, topic: &str) -> Arc<Topic> {
        // Clone the Arc out so the map's shard lock is released before the topic's own lock.
        self.topics
            .entry((cache.to_owned(), topic.to_owned()))
            .or_insert_with(|| Arc::new(Topic::new(self.history, self.subscriber_buffer)))
            .clone()
    }
}

/// Publishes `value` on behalf of `caller`, after every check; returns the sequence number.
/// With webhook backpressure on, waits for room in the webhook delivery queue.
pub(crate) async fn publish_as(
    shared: &Shared,
    caller: &Principal,
    cache: &str,
    topic: &str,
    value: Value,
) -> Result<u64, TopicError> {
    authorize(shared, caller, cache, topic, TopicAccess::Publish)?;
    if value.len() > MAX_MESSAGE_BYTES {
        return Err(TopicError::MessageTooLarge(value.len()));
    }
    Ok(shared
        .topics
        .publish_and_deliver(cache, topic, value, caller.token_id())
        .await)
}

/// Subscribes on behalf of `caller`, after every check.
pub(crate) fn subscribe_as(
    shared: &Shared,
    caller: &Principal,
    cache: &str,
    topic: &str,
    resume_at: u64,
    page: u64,
) -> Result<Subscription, TopicError> {
    authorize(shared, caller, cache, topic, TopicAccess::Subscribe)?;
    Ok(shared.topics.subscribe(cache, topic, resume_at, page))
}

/// Names, then permission, then the cache: a caller without access learns nothing about
/// which caches exist.
fn authorize(
    shared: &Shared,
    caller: &Principal,
    cache: &str,
    topic: &str,
    access: TopicAccess,
) -> Result<(), TopicError> {
    if cache.trim().is_empty() {
        return Err(TopicError::InvalidArgument("cache name must not be empty"));
    }
    if topic.trim().is_empty() {
        return Err(TopicError::InvalidArgument("topic name must not be empty"));
    }
    if !caller.grants().allows_topic(cache, topic, access) {
        return Err(TopicError::PermissionDenied {
            access: match access {
                TopicAccess::Publish => "publish to",
                TopicAccess::Subscribe => "subscribe to",
            },
            cache: cache.to_owned(),
            topic: topic.to_owned(),
        });
    }
    if !shared.store.contains_cache(cache) {
        return Err(TopicError::CacheNotFound(cache.to_owned()));
    }
    Ok(())
}

/// Milliseconds since the Unix epoch (0 if the clock is before 1970, rather than panicking).
pub(crate) fn now_millis() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}
