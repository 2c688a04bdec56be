//! A topic subscription of an in-process [`super::Client`].

use std::sync::Arc;

use super::TopicValue;
use crate::message::Value;
use crate::quota::{MaybeGate, Slot};
use crate::topics::{Event, Subscription};
use crate::Shared;

/// A message received on a topic.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TopicItem {
    /// Its sequence number in the topic.
    pub sequence_number: u64,
    /// The topic's sequence page.
    pub sequence_page: u64,
    /// What was published.
    pub value: TopicValue,
    /// The publisher's `token_id` (`""` for API keys and in-process publishers).
    pub publisher_id: String,
}

/// What a subscription receives (heartbeats are a transport's concern and never appear).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TopicEvent {
    /// A message.
    Item(TopicItem),
    /// Messages were skipped or the numbering changed; items resume at `new_topic_sequence`.
    Discontinuity {
        /// Last sequence number known to precede the gap (0: unknown).
        last_topic_sequence: u64,
        /// Sequence number of the next item.
        new_topic_sequence: u64,
        /// The topic's page.
        new_sequence_page: u64,
    },
}

/// A subscription to one topic; dropping it unsubscribes. Ends when the server shuts down.
pub struct ClientSubscription {
    subscription: Subscription,
    /// Counted against the subscriptions quota while it lives.
    _slot: Slot,
    shared: Arc<Shared>,
}

impl ClientSubscription {
    pub(super) fn new(subscription: Subscription, slot: Slot, shared: Arc<Shared>) -> Self {
        Self {
            subscription,
            _slot: slot,
            shared,
        }
    }

    /// The next event, waiting for one; `None` once the server shuts down (or the topic is
    /// gone). Cancel-safe.
    pub async fn next(&mut self) -> Option<TopicEvent> {
        let event = tokio::select! {
            biased;
            _ = self.shared.topics.shutdown().cancelled() => return None,
            event = self.subscription.next() => event?,
        };
        self.shared.quota.delivered();
        Some(match event {
            Event::Item(message) => TopicEvent::Item(TopicItem {
                sequence_number: message.sequence_number,
                sequence_page: message.sequence_page,
                value: match &message.value {
                    Value::Text(text) => TopicValue::Text(text.clone()),
                    Value::Binary(bytes) => TopicValue::Binary(bytes.clone()),
                },
                publisher_id: message.publisher_id.clone(),
            }),
            Event::Discontinuity {
                last_topic_sequence,
                new_topic_sequence,
                new_sequence_page,
            } => TopicEvent::Discontinuity {
                last_topic_sequence,
                new_topic_sequence,
                new_sequence_page,
            },
        })
    }

    /// The events as a stream (ends as [`ClientSubscription::next`] does).
    pub fn into_stream(self) -> impl futures::Stream<Item = TopicEvent> + Send + 'static {
        futures::stream::unfold(self, |mut subscription| async move {
            let event = subscription.next().await?;
            Some((event, subscription))
        })
    }
}
