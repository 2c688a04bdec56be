//! Every setting of a local Momento server.

use std::net::SocketAddr;
use std::time::Duration;

use secrecy::SecretBox;

use crate::persist::Persistence;
use crate::topics::TopicSettings;
use crate::webhooks::{
    Backpressure, DeliverySettings, InProcessWebhook, RetryPolicy, Webhook, MAX_IN_FLIGHT,
};

/// Settings of a [`crate::LocalMomento`]. `Default` gives a server in memory on a random
/// loopback port with a random signing secret.
pub struct LocalMomentoConfig {
    /// Where the gRPC server listens (port 0 picks a free port).
    pub grpc_addr: SocketAddr,
    /// What disposable tokens report as their endpoint; defaults to the gRPC address (with
    /// `endpoint_host` for its host when that is given).
    pub endpoint: Option<String>,
    /// The host tokens name in their endpoint, with the bound gRPC port (when `endpoint` is
    /// not given): how clients elsewhere reach a server listening on a port chosen at start.
    pub endpoint_host: Option<String>,
    /// Where the state lives: in memory (the default), or durable in a data dir.
    pub persistence: Persistence,
    /// Secret that signs API keys and tokens. When absent: the data dir's (made on first
    /// start), or a random one in memory (keys then die with the server).
    pub signing_secret: Option<SecretBox<[u8]>>,
    /// Webhooks registered at start (each replacing a stored one of the same cache and name),
    /// before any stored event is delivered.
    pub webhooks: Vec<Webhook>,
    /// How webhook deliveries are retried (default: once, like Momento;
    /// [`RetryPolicy::until_delivered`] keeps each event in the outbox until it is delivered).
    pub webhook_retry: RetryPolicy,
    /// What a publish on a webhook's topic does when the outbox is behind: nothing (the
    /// default, as Momento), wait for room, or be refused (see [`Backpressure`]).
    pub webhook_backpressure: Backpressure,
    /// Webhook deliveries in flight at once (default [`MAX_IN_FLIGHT`]).
    pub webhook_max_in_flight: usize,
    /// Webhooks whose events are handed to a receiver in this process instead of POSTed
    /// (each must also be registered, in `webhooks` or earlier).
    pub in_process_webhooks: Vec<InProcessWebhook>,
    /// How long a webhook delivery may take before it counts as failed (Momento: 5 s).
    pub webhook_timeout: Duration,
    /// How many recent messages each topic keeps so subscribers can resume.
    pub topic_history: usize,
    /// How often an idle subscription gets a heartbeat.
    pub heartbeat_interval: Duration,
    /// How many published messages a subscriber may fall behind before it gets a
    /// discontinuity instead of them (bounds each subscriber's memory).
    pub subscriber_buffer: usize,
    /// Longest time an HTTP long poll (`GET /topics/{cache}/{topic}`) waits for a message
    /// before answering `200 {"items":[]}`.
    pub long_poll_max_wait: Duration,
    /// How often expired items are swept from memory (they are invisible from expiry on).
    pub sweep_interval: Duration,
    /// Momento's per-namespace limits to enforce (`None`, the default: none).
    pub quota: Option<crate::quota::Quota>,
    /// Most publishes per disposable token (gRPC and HTTP alike; API keys are never
    /// limited): over it a publish is refused, `RESOURCE_EXHAUSTED` or `429` with
    /// `Retry-After`. `None` (the library default): no limit.
    pub publish_limit_per_token: Option<crate::limits::Rate>,
    /// How long a gRPC client may take to send HTTP/2's preface after connecting, and an HTTP
    /// client (with [`crate::guard::GuardedAcceptor`]) each request: a slower one is cut off.
    pub slow_client_timeout: Duration,
}

impl Default for LocalMomentoConfig {
    fn default() -> Self {
        Self {
            grpc_addr: SocketAddr::from(([127, 0, 0, 1], 0)),
            endpoint: None,
            endpoint_host: None,
            persistence: Persistence::InMemory,
            signing_secret: None,
            webhooks: Vec::new(),
            webhook_retry: RetryPolicy::default(),
            webhook_backpressure: Backpressure::Off,
            webhook_max_in_flight: MAX_IN_FLIGHT,
            in_process_webhooks: Vec::new(),
            webhook_timeout: Duration::from_secs(5),
            topic_history: 4096,
            heartbeat_interval: Duration::from_secs(5),
            subscriber_buffer: 1024,
            long_poll_max_wait: Duration::from_secs(30),
            sweep_interval: Duration::from_secs(1),
            quota: None,
            publish_limit_per_token: None,
            slow_client_timeout: Duration::from_secs(10),
        }
    }
}

impl std::fmt::Debug for LocalMomentoConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LocalMomentoConfig")
            .field("grpc_addr", &self.grpc_addr)
            .field("endpoint", &self.endpoint)
            .field("endpoint_host", &self.endpoint_host)
            .field("persistence", &self.persistence)
            .field(
                "signing_secret",
                &self.signing_secret.as_ref().map(|_| "<redacted>"),
            )
            .field("webhooks", &self.webhooks)
            .field("webhook_retry", &self.webhook_retry)
            .field("webhook_backpressure", &self.webhook_backpressure)
            .field("webhook_max_in_flight", &self.webhook_max_in_flight)
            .field("in_process_webhooks", &self.in_process_webhooks)
            .field("webhook_timeout", &self.webhook_timeout)
            .field("topic_history", &self.topic_history)
            .field("heartbeat_interval", &self.heartbeat_interval)
            .field("subscriber_buffer", &self.subscriber_buffer)
            .field("long_poll_max_wait", &self.long_poll_max_wait)
            .field("sweep_interval", &self.sweep_interval)
            .field("quota", &self.quota)
            .field("publish_limit_per_token", &self.publish_limit_per_token)
            .field("slow_client_timeout", &self.slow_client_timeout)
            .finish()
    }
}

impl LocalMomentoConfig {
    /// The part of the settings the topics use.
    pub(crate) fn topic_settings(&self) -> TopicSettings {
        TopicSettings {
            history: self.topic_history,
            subscriber_buffer: self.subscriber_buffer,
            heartbeat_interval: self.heartbeat_interval,
            long_poll_max_wait: self.long_poll_max_wait,
        }
    }

    /// The part of the settings webhook delivery uses.
    pub(crate) fn delivery_settings(&self) -> DeliverySettings {
        DeliverySettings {
            retry: self.webhook_retry.clone(),
            backpressure: self.webhook_backpressure,
            timeout: self.webhook_timeout,
            max_in_flight: self.webhook_max_in_flight,
            in_process: self.in_process_webhooks.clone(),
        }
    }
}
