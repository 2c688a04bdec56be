//! The delivery machinery: registrations, the outbox and the task that POSTs.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, RwLock};
use std::time::{Duration, Instant};

use secrecy::ExposeSecret;
use tokio::sync::{Notify, Semaphore};
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use super::outbox::{EventKey, Outbox};
use super::{
    payload, sign, HookKey, InProcessWebhook, Released, RetryPolicy, Webhook, WebhookEvent,
    WebhookReceiver, SIGNATURE_HEADER, USER_AGENT,
};
use crate::client::TopicValue;
use crate::clock::unix_ms;
use crate::message::Message;
use crate::persist::record::{MessageRecord, Record};
use crate::persist::{Log, Unavailable};

/// With [`Backpressure::Wait`], a publish waits while this many events are ready and untried.
pub const QUEUE_CAPACITY: usize = 1024;
/// Deliveries in flight at once by default, so a slow receiver cannot make the server open
/// unbounded connections; the outbox holds the rest meanwhile.
pub const MAX_IN_FLIGHT: usize = 64;

/// What a publish on a webhook's topic does when the webhook's outbox is behind.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Backpressure {
    /// Nothing: the outbox grows (Momento's behaviour).
    #[default]
    Off,
    /// The publish waits while [`QUEUE_CAPACITY`] events are ready and untried (a program that
    /// owns both ends slows its publishers instead of letting the outbox grow).
    Wait,
    /// The publish is refused before anything is written (`RESOURCE_EXHAUSTED` over gRPC,
    /// `429` with `Retry-After` over HTTP) while `max_waiting` events are in the outbox, or the
    /// oldest event ready for delivery was published more than `max_delay` ago: the receiver is
    /// behind, and a publisher is better told so at once than kept waiting.
    Refuse {
        /// Events in the outbox (ready or waiting for a retry) from which publishes are refused.
        max_waiting: usize,
        /// How far behind delivery may fall before publishes are refused.
        max_delay: Duration,
    },
}

/// A publish refused by [`Backpressure::Refuse`]: try again after `retry_after`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Throttled {
    /// When the publisher may try again.
    pub(crate) retry_after: Duration,
}

/// How deliveries are made (the part of the server's settings webhooks need).
#[derive(Clone, Debug)]
pub(crate) struct DeliverySettings {
    /// How failed deliveries are retried.
    pub(crate) retry: RetryPolicy,
    /// What a publish does when the outbox is behind.
    pub(crate) backpressure: Backpressure,
    /// How long a delivery may take before it counts as failed (Momento: 5 s).
    pub(crate) timeout: Duration,
    /// Deliveries in flight at once.
    pub(crate) max_in_flight: usize,
    /// Webhooks delivered by a call instead of a POST.
    pub(crate) in_process: Vec<InProcessWebhook>,
}

/// What became of webhook deliveries so far.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct WebhookStats {
    /// HTTP requests made (retries included).
    pub attempts: u64,
    /// Events a receiver accepted with a 2xx.
    pub delivered: u64,
    /// Events given up on after the retry policy's last attempt.
    pub failed: u64,
    /// Events in the outbox now (not yet delivered).
    pub outbox_depth: u64,
    /// When the oldest event in the outbox was published (Unix ms), if there is one.
    pub oldest_published_at_ms: Option<u64>,
}

#[derive(Default)]
struct Counters {
    attempts: AtomicU64,
    delivered: AtomicU64,
    failed: AtomicU64,
}

/// Registered webhooks, their outbox, and the task that delivers it.
pub(crate) struct Dispatcher {
    /// Copy-on-write: registrations are rare, lookups happen on every publish.
    hooks: RwLock<Arc<Vec<Arc<Webhook>>>>,
    outbox: Mutex<Outbox>,
    /// Wakes the delivery task: a new event, or a retry schedule that changed.
    work: Notify,
    /// Wakes publishers waiting for room (backpressure).
    room: Notify,
    /// Wakes [`Dispatcher::drain_in_process`]: an event left the outbox.
    settled: Notify,
    settings: DeliverySettings,
    /// The receivers of [`DeliverySettings::in_process`], by webhook.
    receivers: std::collections::HashMap<HookKey, Arc<dyn WebhookReceiver>>,
    log: Log,
    counters: Counters,
}

impl Dispatcher {
    /// A dispatcher that journals to `log`. Nothing is delivered until [`Dispatcher::run`].
    pub(crate) fn new(settings: DeliverySettings, log: Log) -> Self {
        let receivers = settings
            .in_process
            .iter()
            .map(|hook| {
                let key = HookKey::new(&hook.cache, &hook.name);
                (key, hook.receiver.clone())
            })
            .collect();
        Self {
            hooks: RwLock::new(Arc::new(Vec::new())),
            outbox: Mutex::new(Outbox::default()),
            work: Notify::new(),
            room: Notify::new(),
            settled: Notify::new(),
            settings,
            receivers,
            log,
            counters: Counters::default(),
        }
    }

    /// Registers a webhook, replacing one of the same cache and name. Journaled (durable with
    /// the next commit; not waited for).
    pub(crate) fn register(&self, webhook: Webhook) -> Result<(), Unavailable> {
        self.log.check()?;
        tracing::info!(name = %webhook.name, cache = %webhook.cache, topic = %webhook.topic, url = %webhook.url, "webhook registered");
        // Installed before it is journaled: a snapshot taken in between holds it, and one
        // taken after the rotation that follows finds the record in the journal it replays.
        let record = webhook.clone();
        self.install(webhook);
        self.log.append(|| Record::Webhook {
            name: &record.name,
            cache: &record.cache,
            topic: &record.topic,
            url: &record.url,
            secret: record.secret.expose_secret(),
        });
        Ok(())
    }

    fn install(&self, webhook: Webhook) {
        let mut hooks = self.hooks.write().unwrap_or_else(PoisonError::into_inner);
        let mut next: Vec<Arc<Webhook>> = hooks
            .iter()
            .filter(|hook| hook.key() != webhook.key())
            .cloned()
            .collect();
        next.push(Arc::new(webhook));
        *hooks = Arc::new(next);
        drop(hooks);
        // Events waiting for a webhook that was just re-registered may now succeed.
        self.outbox().retry_all_now();
        self.work.notify_one();
    }

    fn registered(&self) -> Arc<Vec<Arc<Webhook>>> {
        self.hooks
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Every registered webhook.
    pub(crate) fn webhooks(&self) -> Vec<Arc<Webhook>> {
        self.registered().to_vec()
    }

    /// The webhooks registered on `cache`/`topic` now.
    pub(crate) fn hooks_on(&self, cache: &str, topic: &str) -> Vec<HookKey> {
        let hooks = self.registered();
        if hooks.is_empty() {
            return Vec::new(); // the common case
        }
        hooks
            .iter()
            .filter(|hook| hook.cache == cache && hook.topic == topic)
            .map(|hook| hook.key())
            .collect()
    }

    fn outbox(&self) -> MutexGuard<'_, Outbox> {
        // Sections under this lock are map and queue operations that cannot panic halfway.
        self.outbox.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Puts released messages of `cache`/`topic` into the outbox of the webhooks they were
    /// published for.
    pub(crate) fn enqueue(&self, _cache: &str, topic: &str, released: Vec<Released>) {
        if released.iter().all(|r| r.hooks.is_empty()) {
            return;
        }
        let topic: Arc<str> = topic.into();
        let mut outbox = self.outbox();
        for Released { message, hooks } in released {
            outbox.add_for(hooks, &topic, &message);
        }
        drop(outbox);
        self.work.notify_one();
    }

    /// Whether a publish on a topic with webhooks may go ahead now ([`Backpressure::Refuse`]);
    /// checked before anything is written.
    pub(crate) fn admit(&self) -> Result<(), Throttled> {
        let Backpressure::Refuse {
            max_waiting,
            max_delay,
        } = self.settings.backpressure
        else {
            return Ok(());
        };
        let mut outbox = self.outbox();
        let behind = match outbox.oldest_ready_published_at() {
            Some(at) => Duration::from_millis(unix_ms().saturating_sub(at)),
            None => Duration::ZERO,
        };
        if outbox.len() < max_waiting && behind <= max_delay {
            return Ok(());
        }
        drop(outbox);
        // A second, or the time the outbox is behind when that is longer: enough for the
        // receiver to catch up with what it holds, and whole seconds as Retry-After speaks.
        let retry_after = Duration::from_secs(behind.as_secs().clamp(1, 10));
        Err(Throttled { retry_after })
    }

    /// With [`Backpressure::Wait`], waits while [`QUEUE_CAPACITY`] events are ready and
    /// untried.
    pub(crate) async fn wait_for_room(&self) {
        if self.settings.backpressure != Backpressure::Wait {
            return;
        }
        loop {
            let room = self.room.notified();
            tokio::pin!(room);
            room.as_mut().enable();
            if self.outbox().ready_len() < QUEUE_CAPACITY {
                return;
            }
            room.await;
        }
    }

    /// Waits until no event for an in-process receiver is left in the outbox, or `deadline`
    /// passes; `true` when drained. Only while [`Dispatcher::run`] delivers: a clean stop calls it
    /// first, so what its own process acknowledged is counted before it exits.
    pub(crate) async fn drain_in_process(&self, deadline: Duration) -> bool {
        let waiting = async {
            loop {
                let settled = self.settled.notified();
                tokio::pin!(settled);
                settled.as_mut().enable();
                let left = self
                    .outbox()
                    .events()
                    .iter()
                    .any(|(key, _)| self.receivers.contains_key(&key.hook));
                if !left {
                    return;
                }
                settled.await;
            }
        };
        tokio::time::timeout(deadline, waiting).await.is_ok()
    }

    /// Counters so far.
    pub(crate) fn stats(&self) -> WebhookStats {
        let outbox = self.outbox();
        WebhookStats {
            attempts: self.counters.attempts.load(Ordering::Relaxed),
            delivered: self.counters.delivered.load(Ordering::Relaxed),
            failed: self.counters.failed.load(Ordering::Relaxed),
            outbox_depth: outbox.len() as u64,
            oldest_published_at_ms: outbox.oldest_published_at(),
        }
    }

    /// Every event waiting, for a snapshot.
    pub(crate) fn pending(&self) -> Vec<(EventKey, Arc<Message>)> {
        self.outbox().events()
    }

    /// Applies a webhook record at start; `false` for a record of another kind.
    pub(crate) fn restore(&self, record: &Record<'_>) -> bool {
        match record {
            Record::Webhook {
                name,
                cache,
                topic,
                url,
                secret,
            } => self.install(Webhook {
                name: (*name).to_owned(),
                cache: (*cache).to_owned(),
                topic: (*topic).to_owned(),
                url: (*url).to_owned(),
                secret: (*secret).to_owned().into(),
            }),
            Record::Publish {
                cache,
                topic,
                message,
            } => {
                let hooks = self.hooks_on(cache, topic);
                if !hooks.is_empty() {
                    self.restore_event(hooks, topic, message);
                }
                // The topic applies this record too.
                return false;
            }
            Record::Pending {
                cache,
                webhook,
                topic,
                message,
            } => self.restore_event(vec![HookKey::new(cache, webhook)], topic, message),
            Record::Delivered {
                cache,
                webhook,
                topic,
                page,
                sequence,
            } => {
                self.outbox().remove(&EventKey {
                    hook: HookKey::new(cache, webhook),
                    topic: (*topic).into(),
                    page: *page,
                    sequence: *sequence,
                });
            }
            _ => return false,
        }
        true
    }

    fn restore_event(&self, hooks: Vec<HookKey>, topic: &str, message: &MessageRecord<'_>) {
        let message = Arc::new(message.to_message());
        self.outbox().add_for(hooks, &topic.into(), &message);
    }

    /// Delivers the outbox until `shutdown` fires, then lets the deliveries under way finish
    /// (each is bounded by the timeout); what is left stays in the outbox.
    pub(crate) async fn run(self: Arc<Self>, shutdown: CancellationToken) {
        let client = http_client(self.settings.timeout);
        let permits = Arc::new(Semaphore::new(self.settings.max_in_flight.max(1)));
        let mut in_flight = JoinSet::new();
        loop {
            let permit = tokio::select! {
                _ = shutdown.cancelled() => break,
                permit = permits.clone().acquire_owned() => match permit {
                    Ok(permit) => permit,
                    Err(_) => break, // never closed
                },
            };
            while in_flight.try_join_next().is_some() {}
            let next = loop {
                // Registered before looking, so an event added in between is not missed.
                let work = self.work.notified();
                tokio::pin!(work);
                work.as_mut().enable();
                let (next, retry_at) = {
                    let mut outbox = self.outbox();
                    (outbox.next_ready(Instant::now()), outbox.next_retry())
                };
                if let Some(next) = next {
                    break Some(next);
                }
                let until_retry = async {
                    match retry_at {
                        Some(at) => tokio::time::sleep_until(at.into()).await,
                        None => std::future::pending().await,
                    }
                };
                tokio::select! {
                    _ = shutdown.cancelled() => break None,
                    _ = work => {}
                    _ = until_retry => {}
                }
            };
            let Some((key, message)) = next else { break };
            self.room.notify_waiters();
            let (this, client) = (self.clone(), client.clone());
            in_flight.spawn(async move {
                this.deliver(client.as_ref(), key, message).await;
                drop(permit);
            });
        }
        while in_flight.join_next().await.is_some() {}
    }

    async fn deliver(
        &self,
        client: Option<&reqwest::Client>,
        key: EventKey,
        message: Arc<Message>,
    ) {
        let Some(webhook) = self
            .registered()
            .iter()
            .find(|hook| hook.key() == key.hook)
            .cloned()
        else {
            return; // webhooks are never unregistered; nothing to deliver to
        };
        self.counters.attempts.fetch_add(1, Ordering::Relaxed);
        let attempted = match self.receivers.get(&key.hook) {
            Some(receiver) => {
                receiver
                    .receive(event(&webhook, &key.topic, &message))
                    .await
            }
            None => attempt(client, &webhook, &key.topic, &message).await,
        };
        match attempted {
            Ok(()) => {
                self.counters.delivered.fetch_add(1, Ordering::Relaxed);
                tracing::debug!(url = %webhook.url, sequence_number = key.sequence, "webhook delivered");
                self.settle(&key);
                // The receiver answers: whatever waits for a retry may go now.
                self.outbox().retry_all_now();
                self.work.notify_one();
            }
            Err(reason) => {
                let attempts = self.outbox().failed(&key);
                let policy = &self.settings.retry;
                let max_attempts = policy.max_attempts.max(1);
                tracing::warn!(
                    cache = %webhook.cache, topic = %key.topic, url = %webhook.url,
                    sequence_number = key.sequence, attempt = attempts, %reason,
                    "webhook delivery failed"
                );
                if attempts >= max_attempts {
                    self.counters.failed.fetch_add(1, Ordering::Relaxed);
                    self.settle(&key);
                } else {
                    let at = Instant::now() + policy.backoff(attempts);
                    self.outbox().retry_at(key, at);
                    self.work.notify_one();
                }
            }
        }
    }

    /// Takes an event out of the outbox for good, and journals that (not waited for: were the
    /// record lost in a crash, the event would only be delivered once more).
    fn settle(&self, key: &EventKey) {
        if self.outbox().remove(key).is_some() {
            self.settled.notify_waiters();
            self.log.append(|| Record::Delivered {
                cache: key.hook.cache(),
                webhook: key.hook.name(),
                topic: &key.topic,
                page: key.page,
                sequence: key.sequence,
            });
        }
    }
}

/// The event an in-process receiver gets for `message`.
fn event(webhook: &Webhook, topic: &str, message: &Message) -> WebhookEvent {
    WebhookEvent {
        cache: webhook.cache.clone(),
        topic: topic.to_owned(),
        event_timestamp: message.published_at_ms,
        publish_timestamp: unix_ms(),
        topic_sequence_number: message.sequence_number,
        token_id: message.publisher_id.clone(),
        value: match &message.value {
            crate::message::Value::Text(text) => TopicValue::Text(text.clone()),
            crate::message::Value::Binary(bytes) => TopicValue::Binary(bytes.clone()),
        },
    }
}

async fn attempt(
    client: Option<&reqwest::Client>,
    webhook: &Webhook,
    topic: &str,
    message: &Message,
) -> Result<(), String> {
    let client = client.ok_or("no HTTP client could be built")?;
    let body = payload(&webhook.cache, topic, message, unix_ms());
    let signature = sign(webhook.secret.expose_secret().as_bytes(), &body);
    let response = client
        .post(&webhook.url)
        .header(reqwest::header::CONTENT_TYPE, "application/json")
        .header(SIGNATURE_HEADER, signature)
        .body(body)
        .send()
        .await
        .map_err(|error| error.to_string())?;
    let status = response.status();
    if status.is_success() {
        Ok(())
    } else {
        Err(format!("the receiver answered {status}"))
    }
}

fn http_client(timeout: Duration) -> Option<reqwest::Client> {
    let builder = || {
        reqwest::Client::builder()
            .timeout(timeout)
            .user_agent(USER_AGENT)
            // A redirect is a non-2xx answer, as with Momento; following it would turn the POST
            // into a GET somewhere else.
            .redirect(reqwest::redirect::Policy::none())
    };
    match builder().build() {
        Ok(client) => Some(client),
        Err(error) => {
            // Only TLS root loading can fail; plain-HTTP receivers work without roots.
            tracing::warn!(%error, "webhook HTTP client without native TLS roots");
            builder()
                .tls_built_in_native_certs(false)
                .build()
                .inspect_err(|error| tracing::error!(%error, "no webhook HTTP client"))
                .ok()
        }
    }
}
