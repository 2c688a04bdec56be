//! The embedded local Momento's votes webhook, delivered in process: each event of its durable
//! outbox goes to the pipeline by a call, the event the signed HTTP webhook would have carried
//! (no JSON, no signature, no socket: nothing crosses a boundary). `Ok` takes the event out of
//! the outbox; a backend failure leaves it there, to be delivered again (the pipeline counts a
//! ballot once however often it arrives).
//!
//! The local Momento starts before the pipeline exists (the pipeline's stores need it), so the
//! receiver is given the pipeline once it is built ([`InProcessIngest::connect`]); events that
//! arrive before then wait for it.

use std::sync::Arc;

use chrono::{TimeZone, Utc};
use futures::future::BoxFuture;
use local_momento::client::TopicValue;
use local_momento::{WebhookEvent, WebhookReceiver};
use tokio::sync::SetOnce;

use crate::ingest::pipeline::{Delivery, Pipeline, Source};
use crate::momento::keys::is_votes_topic;

/// The in-process receiver of the votes webhook.
pub struct InProcessIngest {
    cache: String,
    pipeline: Arc<SetOnce<Arc<Pipeline>>>,
}

impl InProcessIngest {
    /// A receiver of the votes topic of `cache`, not yet connected to a pipeline.
    pub fn new(cache: &str) -> Arc<Self> {
        Arc::new(Self {
            cache: cache.to_owned(),
            pipeline: Arc::new(SetOnce::new()),
        })
    }

    /// Hands events to `pipeline` from now on (the first call wins).
    pub fn connect(&self, pipeline: Arc<Pipeline>) {
        let _ = self.pipeline.set(pipeline);
    }
}

impl WebhookReceiver for InProcessIngest {
    fn receive(&self, event: WebhookEvent) -> BoxFuture<'static, Result<(), String>> {
        if event.cache != self.cache || !is_votes_topic(&event.topic) {
            return Box::pin(async { Ok(()) }); // not a vote: nothing to do, as over HTTP
        }
        let delivery = Delivery {
            token_id: event.token_id,
            text: match event.value {
                TopicValue::Text(text) => text,
                TopicValue::Binary(bytes) => String::from_utf8(bytes.to_vec()).unwrap_or_default(),
            },
            seq: event.topic_sequence_number,
            page: None,
            published_at: i64::try_from(event.event_timestamp)
                .ok()
                .and_then(|ms| Utc.timestamp_millis_opt(ms).single()),
            source: Source::Webhook,
        };
        let pipeline = self.pipeline.clone();
        Box::pin(async move {
            let pipeline = pipeline.wait().await;
            match pipeline.process(delivery).await {
                Ok(_) => Ok(()),
                Err(error) => Err(format!("{error:#}")),
            }
        })
    }
}
