//! Topics: per-topic sequence numbers and pages, a bounded history to resume from, fan-out to
//! subscribers, and the hand-off of every published message to the webhooks.
//!
//! The gRPC `Pubsub` service and the HTTP topics API both go through [`publish_as`] and
//! [`subscribe_as`], so they share one set of semantics:
//!
//! - **Sequence numbers** are per (cache, topic), start at 1 and grow by 1 per published
//!   message. Heartbeats and discontinuities consume none.
//! - **Sequence page**: each topic gets a non-zero page when its state is first created (first
//!   publish or subscribe). With a data dir the page, the numbering and the history survive a
//!   restart, so subscribers resume where they were; in memory a restarted server hands out new
//!   pages, which is how a resuming client learns its sequence numbers no longer mean anything.
//! - **Durable before visible**: a published message is numbered and journaled at once, but
//!   subscribers, the history and the webhooks see it only once its record is durable (and in
//!   sequence order), so no one can see a message, or a sequence number, that a crash takes
//!   back. The publisher is answered after that too.
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
//!   message limit (limit exceeded), the token's publish rate ([`crate::limits`]). Nothing is
//!   published unless all pass.
//! - `publisher_id` of every item is the publisher's `token_id` (`""` for API keys).
//! - **Resets** (a fault, [`crate::Faults::reset_topic`]): before the publish or subscribe that
//!   next uses a topic marked for reset, the topic is replaced by a new one: a greater page,
//!   numbering from 1, no history. Subscriptions open on the old one end. The reset is
//!   journaled (as a topic record), so a restart keeps the new page.

pub(crate) mod hub;
mod restore;
mod subscription;
#[cfg(test)]
mod tests;

pub(crate) use hub::Topic;
pub(crate) use subscription::{Event, Subscription};

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use dashmap::DashMap;
use tokio_util::sync::CancellationToken;

use crate::auth::{Principal, TopicAccess};
use crate::message::{Value, MAX_MESSAGE_BYTES};
use crate::persist::record::{MessageRecord, Record};
use crate::persist::{Log, Unavailable};
use crate::webhooks::{Dispatcher, Webhook, WebhookStats};
use crate::Shared;

/// A shortest heartbeat interval, so a zero in the settings cannot make streams spin.
const MIN_HEARTBEAT_INTERVAL: Duration = Duration::from_millis(10);

/// The settings of the topics (a narrow view of the server's config).
#[derive(Clone, Debug)]
pub(crate) struct TopicSettings {
    /// Messages each topic keeps for resuming subscribers.
    pub(crate) history: usize,
    /// How far a subscriber may fall behind before it gets a discontinuity.
    pub(crate) subscriber_buffer: usize,
    /// How often an idle subscription gets a heartbeat.
    pub(crate) heartbeat_interval: Duration,
    /// Longest wait of an HTTP long poll.
    pub(crate) long_poll_max_wait: Duration,
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
    /// The message could not be made durable. It may still be published (if its record
    /// reaches the disk later), as with any write whose answer was lost.
    #[error(transparent)]
    Unavailable(#[from] Unavailable),
    /// Refused before anything was written: the topic's webhook delivery is behind
    /// ([`crate::Backpressure::Refuse`]); try again after `retry_after`.
    #[error("the server is busy delivering this topic's messages; try again in {} s", retry_after.as_secs())]
    Throttled {
        /// When to try again.
        retry_after: Duration,
    },
    /// Refused before anything was written: the caller's token is over its publish rate
    /// ([`crate::limits`]); try again after `retry_after`.
    #[error("this token publishes too often; try again in {} s", crate::limits::retry_after_secs(*retry_after))]
    RateLimited {
        /// When to try again.
        retry_after: Duration,
    },
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
    settings: TopicSettings,
    log: Log,
    webhooks: Arc<Dispatcher>,
    published: AtomicU64,
    shutdown: CancellationToken,
}

impl Topics {
    /// Topics with these settings, journaling to `log` and handing messages to `webhooks`;
    /// every subscription ends when `shutdown` fires.
    pub(crate) fn new(
        settings: TopicSettings,
        log: Log,
        webhooks: Arc<Dispatcher>,
        shutdown: CancellationToken,
    ) -> Self {
        let settings = TopicSettings {
            // A broadcast channel needs room for at least one message.
            subscriber_buffer: settings.subscriber_buffer.max(1),
            heartbeat_interval: settings.heartbeat_interval.max(MIN_HEARTBEAT_INTERVAL),
            ..settings
        };
        Self {
            topics: DashMap::new(),
            settings,
            log,
            webhooks,
            published: AtomicU64::new(0),
            shutdown,
        }
    }

    /// Registers (or replaces, by cache and name) a webhook: every message published on its
    /// topic from now on goes to its outbox.
    pub(crate) fn register_webhook(&self, webhook: Webhook) -> Result<(), Unavailable> {
        self.webhooks.register(webhook)
    }

    /// The webhooks.
    pub(crate) fn webhooks(&self) -> &Arc<Dispatcher> {
        &self.webhooks
    }

    /// Publishes without any permission check (callers use [`publish_as`]): numbers and
    /// journals the message, waits until it is durable, releases it to subscribers and
    /// webhooks, and, with webhook backpressure on, waits for room in the outbox. Returns the
    /// sequence number.
    pub(crate) async fn publish(
        &self,
        cache: &str,
        topic: &str,
        value: Value,
        publisher_id: &str,
    ) -> Result<u64, TopicError> {
        self.log.check()?;
        let state = self.topic(cache, topic);
        let hooks = self.webhooks.hooks_on(cache, topic);
        if !hooks.is_empty() {
            self.webhooks
                .admit()
                .map_err(|throttled| TopicError::Throttled {
                    retry_after: throttled.retry_after,
                })?;
        }
        let (message, lsn) = state.publish(value, publisher_id, hooks, |message| {
            self.log.append(|| Record::Publish {
                cache,
                topic,
                message: MessageRecord::of(message),
            })
        });
        self.published.fetch_add(1, Ordering::Relaxed);
        if self.log.is_durable(lsn) {
            self.release(cache, topic, &state);
        } else {
            // Waiting and releasing in a task of its own: should this caller go away (a client
            // that disconnects cancels its call), the message is released all the same.
            let log = self.log.clone();
            let webhooks = self.webhooks.clone();
            let (cache_name, topic_name) = (cache.to_owned(), topic.to_owned());
            let state = state.clone();
            let durable = tokio::spawn(async move {
                log.wait(lsn).await?;
                webhooks.enqueue(&cache_name, &topic_name, state.release(log.durable()));
                Ok::<(), Unavailable>(())
            });
            match durable.await {
                Ok(result) => result?,
                Err(_) => return Err(Unavailable::Closed.into()), // the runtime is stopping
            }
        }
        self.webhooks.wait_for_room().await;
        Ok(message.sequence_number)
    }

    fn release(&self, cache: &str, topic: &str, state: &Topic) {
        let released = state.release(self.log.durable());
        self.webhooks.enqueue(cache, topic, released);
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

    /// Resets `cache`/`topic` (see the module docs): a new page greater than its last,
    /// numbering from 1 with no history; every subscription open on it ends.
    pub(crate) fn reset(&self, cache: &str, topic: &str) {
        let key = (cache.to_owned(), topic.to_owned());
        let last = self.topics.get(&key).map(|entry| entry.value().page());
        let page = hub::new_page().max(last.map_or(1, |page| page + 1));
        let fresh = Arc::new(Topic::restored(
            page,
            1,
            self.settings.history,
            self.settings.subscriber_buffer,
        ));
        // Journaled as a snapshot's topic record: replayed, it replaces the old page.
        self.log.append(|| Record::Topic {
            cache,
            topic,
            page,
            next_sequence: 1,
        });
        if let Some(old) = self.topics.insert(key, fresh) {
            old.close();
        }
        tracing::info!(
            cache,
            topic,
            page,
            "topic reset (a fault): a new sequence page"
        );
    }

    /// How long an idle subscription waits before it sends a heartbeat.
    pub(crate) fn heartbeat_interval(&self) -> Duration {
        self.settings.heartbeat_interval
    }

    /// How long an HTTP long poll waits for a message before answering with none.
    pub(crate) fn long_poll_max_wait(&self) -> Duration {
        self.settings.long_poll_max_wait
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

    /// How many subscriptions (gRPC streams, HTTP long polls, in-process) are waiting for the
    /// next message of `cache`/`topic` right now (0 for a topic never used).
    pub(crate) fn subscribers(&self, cache: &str, topic: &str) -> usize {
        let key = (cache.to_owned(), topic.to_owned());
        let state = self.topics.get(&key).map(|entry| entry.value().clone());
        state.map_or(0, |state| state.subscribers())
    }

    /// The state of a topic, created on first use.
    fn topic(&self, cache: &str, topic: &str) -> Arc<Topic> {
        // Clone the Arc out so the map's shard lock is released before the topic's own lock.
        self.topics
            .entry((cache.to_owned(), topic.to_owned()))
            .or_insert_with(|| {
                Arc::new(Topic::new(
                    self.settings.history,
                    self.settings.subscriber_buffer,
                ))
            })
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
    shared
        .limits
        .check(caller.token_id())
        .map_err(|retry_after| TopicError::RateLimited { retry_after })?;
    reset_if_asked(shared, cache, topic);
    shared
        .topics
        .publish(cache, topic, value, caller.token_id())
        .await
}

/// Applies a reset of `cache`/`topic` injected with [`crate::Faults::reset_topic`], if any.
fn reset_if_asked(shared: &Shared, cache: &str, topic: &str) {
    if shared.faults.take_reset(cache, topic) {
        shared.topics.reset(cache, topic);
    }
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
    reset_if_asked(shared, cache, topic);
    Ok(shared.topics.subscribe(cache, topic, resume_at, page))
}

/// Whether `caller` may subscribe to `cache`/`topic`: every check of [`subscribe_as`], without
/// subscribing (an HTTP `HEAD` answers with it at once).
pub(crate) fn check_subscribe(
    shared: &Shared,
    caller: &Principal,
    cache: &str,
    topic: &str,
) -> Result<(), TopicError> {
    authorize(shared, caller, cache, topic, TopicAccess::Subscribe)
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
