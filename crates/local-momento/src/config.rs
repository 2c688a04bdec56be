//! Every setting of a local Momento server.

use std::net::SocketAddr;
use std::time::Duration;

use secrecy::SecretBox;

use crate::webhooks::{RetryPolicy, Webhook};

/// Settings of a [`crate::LocalMomento`]. `Default` gives a server on a random loopback port
/// with a random signing secret.
pub struct LocalMomentoConfig {
    /// Where the gRPC server listens (port 0 picks a free port).
    pub grpc_addr: SocketAddr,
    /// What disposable tokens report as their endpoint; defaults to the gRPC address.
    pub endpoint: Option<String>,
    /// Secret that signs API keys and tokens; random when absent (keys then die with the server).
    pub signing_secret: Option<SecretBox<[u8]>>,
    /// Webhooks registered at start.
    pub webhooks: Vec<Webhook>,
    /// How webhook deliveries are retried (default: once, like Momento).
    pub webhook_retry: RetryPolicy,
    /// When the webhook delivery queue is full: `false` (Momento's behaviour) drops the event;
    /// `true` makes the publish wait for room, so a program that owns both ends (pollcast's
    /// embedded mode) slows its publishers down instead of losing events.
    pub webhook_backpressure: bool,
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
}

impl Default for LocalMomentoConfig {
    fn default() -> Self {
        Self {
            grpc_addr: SocketAddr::from(([127, 0, 0, 1], 0)),
            endpoint: None,
            signing_secret: None,
            webhooks: Vec::new(),
            webhook_retry: RetryPolicy::default(),
            webhook_backpressure: false,
            webhook_timeout: Duration::from_secs(5),
            topic_history: 4096,
            heartbeat_interval: Duration::from_secs(5),
            subscriber_buffer: 1024,
            long_poll_max_wait: Duration::from_secs(30),
            sweep_interval: Duration::from_secs(1),
        }
    }
}

impl std::fmt::Debug for LocalMomentoConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LocalMomentoConfig")
            .field("grpc_addr", &self.grpc_addr)
            .field("endpoint", &self.endpoint)
            .field(
                "signing_secret",
                &self.signing_secret.as_ref().map(|_| "<redacted>"),
            )
            .field("webhooks", &self.webhooks)
            .field("webhook_retry", &self.webhook_retry)
            .field("webhook_backpressure", &self.webhook_backpressure)
            .field("webhook_timeout", &self.webhook_timeout)
            .field("topic_history", &self.topic_history)
            .field("heartbeat_interval", &self.heartbeat_interval)
            .field("subscriber_buffer", &self.subscriber_buffer)
            .field("long_poll_max_wait", &self.long_poll_max_wait)
            .field("sweep_interval", &self.sweep_interval)
            .finish()
    }
}
