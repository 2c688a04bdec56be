//! Webhooks: every message published on a registered topic is POSTed, signed, to a URL.
//!
//! The request follows Momento's documented webhook spec:
//! - `POST <url>`, `Content-Type: application/json`,
//!   `User-Agent: Momento/1.0 (Webhooks; local-momento)`;
//! - body, fields in this order:
//!   `{"cache","topic","event_timestamp","publish_timestamp","topic_sequence_number","token_id","text"}`,
//!   where `event_timestamp` is when the message was published and `publish_timestamp` when
//!   this call was made (ms since the Unix epoch; each retry is a new call with a new
//!   `publish_timestamp` and signature), and `token_id` is the publisher's (`""` for API keys);
//! - **binary messages**, which Momento does not document, carry `"binary":"<standard base64>"`
//!   in place of `"text"`, so a receiver can tell them apart and no bytes are lost;
//! - header `momento-signature`: [`sign`] of the exact body bytes with the webhook's secret.
//!
//! Delivery goes through an **outbox**: a message published on a webhook's topic becomes an
//! outbox entry once it is durable (journaled with the message itself), and a background task
//! POSTs entries, [`MAX_IN_FLIGHT`](delivery::MAX_IN_FLIGHT) at a time. An entry leaves the
//! outbox when its receiver answers 2xx, or after the [`RetryPolicy`]'s last attempt (with
//! backoff between attempts); either is journaled, so after a restart every entry still
//! waiting is delivered, and one delivered just before a crash may be delivered again
//! (receivers must be idempotent; Momento's webhooks promise no more). Entries are tried
//! against the webhook's current registration, so re-registering a webhook (same cache and
//! name) with a new URL or secret redirects what is still waiting. A delivery fails on a
//! non-2xx answer (redirects are not followed), on no answer within the timeout, or on a
//! connection error. Shutdown lets the deliveries under way finish and leaves the rest in the
//! outbox. The secret is never logged.
//!
//! **In process**: a program that embeds the server can receive a webhook's events by a call
//! instead of a POST ([`WebhookReceiver`], given in the config). The events are the same (the
//! documented payload's fields, as a [`WebhookEvent`]), from the same durable outbox with the
//! same retries; only the transport differs: no HTTP, no JSON, no signature (nothing crosses a
//! boundary). `Ok` counts as a 2xx answer, `Err` as a failed attempt.
//!
//! **Backpressure** ([`Backpressure`]): Momento neither waits nor refuses, and by default
//! neither does this server. A program that owns both ends may make a publish on a webhook's
//! topic wait for room in the outbox, or be refused (`RESOURCE_EXHAUSTED` over gRPC, `429`
//! with `Retry-After` over HTTP) before anything is written, when the outbox is behind by more
//! than a bound; a refused publish is never numbered, stored or delivered.

mod delivery;
mod outbox;
#[cfg(test)]
mod tests;

pub use delivery::{Backpressure, WebhookStats, MAX_IN_FLIGHT, QUEUE_CAPACITY};
pub(crate) use delivery::{DeliverySettings, Dispatcher};

use std::sync::Arc;
use std::time::Duration;

use base64::Engine;
use hmac::{Hmac, Mac};
use secrecy::SecretString;
use serde::Serialize;
use sha3::Sha3_256;

use crate::message::{Message, Value};

/// What deliveries say they are, in the shape Momento uses.
pub const USER_AGENT: &str = "Momento/1.0 (Webhooks; local-momento)";

/// Header that carries the signature of the body.
pub const SIGNATURE_HEADER: &str = "momento-signature";

/// A webhook registration: messages on `topic` in `cache` go to `url`, signed with `secret`.
/// A webhook is identified by its cache and name: registering one with the name of an existing
/// one replaces it (and the events still waiting in its outbox go to the new URL).
#[derive(Clone)]
pub struct Webhook {
    /// Its name, unique per cache (Momento's limit: 128 characters).
    pub name: String,
    /// Cache of the topic.
    pub cache: String,
    /// Topic whose messages are delivered.
    pub topic: String,
    /// Where deliveries are POSTed.
    pub url: String,
    /// Key of the `momento-signature` HMAC-SHA3-256.
    pub secret: SecretString,
}

impl std::fmt::Debug for Webhook {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Webhook")
            .field("name", &self.name)
            .field("cache", &self.cache)
            .field("topic", &self.topic)
            .field("url", &self.url)
            .field("secret", &"<redacted>")
            .finish()
    }
}

/// A webhook event delivered in process: the fields of the documented payload.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WebhookEvent {
    /// Cache of the topic.
    pub cache: String,
    /// The topic.
    pub topic: String,
    /// When the message was published, ms since the Unix epoch.
    pub event_timestamp: u64,
    /// When this delivery was made, ms since the Unix epoch.
    pub publish_timestamp: u64,
    /// The message's sequence number in its topic.
    pub topic_sequence_number: u64,
    /// The publisher's `token_id` (`""` for API keys).
    pub token_id: String,
    /// The message.
    pub value: crate::client::TopicValue,
}

/// Receives a webhook's events in process (see the module docs). `Ok` is a delivery, `Err`
/// (its reason, for the log) a failed attempt that the retry policy handles.
pub trait WebhookReceiver: Send + Sync + 'static {
    /// Takes one event.
    fn receive(
        &self,
        event: WebhookEvent,
    ) -> futures::future::BoxFuture<'static, Result<(), String>>;
}

/// A webhook whose events go to a [`WebhookReceiver`] instead of its URL while this server
/// runs (the registration itself, URL included, is kept as usual).
#[derive(Clone)]
pub struct InProcessWebhook {
    /// The webhook's cache.
    pub cache: String,
    /// The webhook's name.
    pub name: String,
    /// Who takes its events.
    pub receiver: Arc<dyn WebhookReceiver>,
}

impl std::fmt::Debug for InProcessWebhook {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("InProcessWebhook")
            .field("cache", &self.cache)
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

/// A message just made visible on its topic, with the webhooks registered there when it was
/// published.
pub(crate) struct Released {
    /// The message.
    pub(crate) message: Arc<Message>,
    /// The webhooks it goes to.
    pub(crate) hooks: Vec<HookKey>,
}

/// The identity of a webhook: its cache and name.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) struct HookKey(Arc<(String, String)>);

impl HookKey {
    /// The key of the webhook named `name` in `cache`.
    pub(crate) fn new(cache: &str, name: &str) -> Self {
        Self(Arc::new((cache.to_owned(), name.to_owned())))
    }

    /// The cache.
    pub(crate) fn cache(&self) -> &str {
        &self.0 .0
    }

    /// The name.
    pub(crate) fn name(&self) -> &str {
        &self.0 .1
    }
}

impl Webhook {
    /// Its identity.
    pub(crate) fn key(&self) -> HookKey {
        HookKey::new(&self.cache, &self.name)
    }
}

/// How failed deliveries are retried. Momento itself tries once; the default does the same.
/// [`RetryPolicy::until_delivered`] retries without end (the outbox keeps the event).
///
/// With more attempts, the wait before retry `k` (k = 1, 2, ...) is
/// `initial_backoff * 2^(k-1)`, capped at `max_backoff`.
#[derive(Clone, Debug)]
pub struct RetryPolicy {
    /// Attempts in all, the first included (1 = no retry; 0 counts as 1; `u32::MAX`: until
    /// delivered).
    pub max_attempts: u32,
    /// Wait before the first retry; doubles after each.
    pub initial_backoff: Duration,
    /// Longest wait between two attempts.
    pub max_backoff: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            max_attempts: 1,
            initial_backoff: Duration::from_millis(100),
            max_backoff: Duration::from_secs(5),
        }
    }
}

impl RetryPolicy {
    /// Retries until the receiver answers 2xx: 100 ms after the first failure, doubling up to
    /// 10 s between attempts.
    pub fn until_delivered() -> Self {
        Self {
            max_attempts: u32::MAX,
            initial_backoff: Duration::from_millis(100),
            max_backoff: Duration::from_secs(10),
        }
    }

    /// The wait after failed attempt number `attempt` (from 1), before the next one.
    pub fn backoff(&self, attempt: u32) -> Duration {
        let factor = 2u32.saturating_pow(attempt.saturating_sub(1));
        self.initial_backoff
            .saturating_mul(factor)
            .min(self.max_backoff)
    }
}

/// The `momento-signature` of `body`: lowercase hex of HMAC-SHA3-256 keyed with `secret`.
pub fn sign(secret: &[u8], body: &[u8]) -> String {
    // HMAC takes keys of any length (long ones are hashed), so this cannot fail.
    let mut mac =
        <Hmac<Sha3_256> as Mac>::new_from_slice(secret).expect("HMAC accepts keys of any length");
    mac.update(body);
    hex::encode(mac.finalize().into_bytes())
}

/// The JSON body of a delivery. Field order is the documented one (serde keeps declaration
/// order), which receivers comparing raw bytes may rely on.
#[derive(Serialize)]
struct Payload<'a> {
    cache: &'a str,
    topic: &'a str,
    event_timestamp: u64,
    publish_timestamp: u64,
    topic_sequence_number: u64,
    token_id: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    text: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    binary: Option<String>,
}

/// The body delivering `message` from `cache`/`topic`, for a call made at `publish_timestamp`.
pub(crate) fn payload(
    cache: &str,
    topic: &str,
    message: &Message,
    publish_timestamp: u64,
) -> Vec<u8> {
    let (text, binary) = match &message.value {
        Value::Text(text) => (Some(text.as_str()), None),
        Value::Binary(bytes) => (
            None,
            Some(base64::engine::general_purpose::STANDARD.encode(bytes)),
        ),
    };
    let payload = Payload {
        cache,
        topic,
        event_timestamp: message.published_at_ms,
        publish_timestamp,
        topic_sequence_number: message.sequence_number,
        token_id: &message.publisher_id,
        text,
        binary,
    };
    // Strings and integers always serialize.
    serde_json::to_vec(&payload).expect("a webhook payload serializes")
}
