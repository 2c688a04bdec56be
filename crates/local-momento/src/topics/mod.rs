//! Topics. (Skeleton: the full hub lands with the pubsub service.)

use tokio_util::sync::CancellationToken;

use crate::config::LocalMomentoConfig;
use crate::webhooks::Webhook;

/// Every topic of the server.
pub(crate) struct Topics {}

impl Topics {
    pub(crate) fn new(_config: &LocalMomentoConfig, _shutdown: CancellationToken) -> Self {
        Self {}
    }

    /// Registers a webhook on its topic.
    pub(crate) fn register_webhook(&self, _webhook: Webhook) {}
}
