//! Webhooks: every message published on a registered topic is POSTed, signed, to a URL.

use std::time::Duration;

use secrecy::SecretString;

/// A webhook registration: messages on `topic` in `cache` go to `url`, signed with `secret`.
#[derive(Clone)]
pub struct Webhook {
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
            .field("cache", &self.cache)
            .field("topic", &self.topic)
            .field("url", &self.url)
            .field("secret", &"<redacted>")
            .finish()
    }
}

/// How failed deliveries are retried. Momento itself tries once; the default does the same.
#[derive(Clone, Debug)]
pub struct RetryPolicy {
    /// Attempts in all, the first included (1 = no retry).
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
