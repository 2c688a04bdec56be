//! `Pubsub`: Publish and Subscribe over the topic hub (semantics in the `topics` module docs).
//!
//! Status codes: empty cache or topic name, or no value → `INVALID_ARGUMENT`; outside the
//! caller's topic grants → `PERMISSION_DENIED`; unknown cache → `NOT_FOUND`; a message over
//! 4 KB → `RESOURCE_EXHAUSTED` with `err: request_size_limit_exceeded` metadata (the SDKs'
//! LimitExceeded error). A subscription stream starts with a heartbeat, sends another after
//! every `heartbeat_interval` without events, and ends cleanly (status OK) at server shutdown.

use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures::Stream;
use momento_protos::cache_client::pubsub::pubsub_server::Pubsub;
use momento_protos::cache_client::pubsub::{
    subscription_item, topic_value, Discontinuity, Heartbeat, PublishRequest, SubscriptionItem,
    SubscriptionRequest, TopicItem, TopicValue,
};
use momento_protos::common::Empty;
use tokio_util::sync::CancellationToken;
use tonic::metadata::{MetadataMap, MetadataValue};
use tonic::{Code, Request, Response, Status};

use crate::grpc::principal;
use crate::message::Value;
use crate::quota::{MaybeGate, Slot};
use crate::topics::{self, Event, Subscription, TopicError};
use crate::Shared;

pub(crate) struct PubsubService(Arc<Shared>);

impl PubsubService {
    pub(crate) fn new(shared: Arc<Shared>) -> Self {
        Self(shared)
    }
}

type ItemStream = Pin<Box<dyn Stream<Item = Result<SubscriptionItem, Status>> + Send>>;

#[tonic::async_trait]
impl Pubsub for PubsubService {
    #[tracing::instrument(level = "debug", skip_all, fields(cache = %request.get_ref().cache_name, topic = %request.get_ref().topic))]
    async fn publish(&self, request: Request<PublishRequest>) -> Result<Response<Empty>, Status> {
        let caller = principal(&request)?;
        let request = request.into_inner();
        let value = match request.value.and_then(|v| v.kind) {
            Some(topic_value::Kind::Text(text)) => Value::Text(text),
            Some(topic_value::Kind::Binary(bytes)) => Value::Binary(Bytes::from(bytes)),
            None => return Err(Status::invalid_argument("a value to publish must be given")),
        };
        topics::publish_as(&self.0, &caller, &request.cache_name, &request.topic, value)
            .await
            .map_err(status)?;
        Ok(Response::new(Empty {}))
    }

    type SubscribeStream = ItemStream;

    #[tracing::instrument(level = "debug", skip_all, fields(cache = %request.get_ref().cache_name, topic = %request.get_ref().topic))]
    async fn subscribe(
        &self,
        request: Request<SubscriptionRequest>,
    ) -> Result<Response<ItemStream>, Status> {
        let caller = principal(&request)?;
        let request = request.into_inner();
        let slot = self.0.quota.subscription().map_err(crate::grpc::exceeded)?;
        let subscription = topics::subscribe_as(
            &self.0,
            &caller,
            &request.cache_name,
            &request.topic,
            request.resume_at_topic_sequence_number,
            request.sequence_page,
        )
        .map_err(status)?;
        let stream = item_stream(subscription, slot, self.0.clone());
        Ok(Response::new(stream))
    }
}

/// The gRPC status of a refused publish or subscribe.
fn status(error: TopicError) -> Status {
    let message = error.to_string();
    match error {
        TopicError::InvalidArgument(_) => Status::invalid_argument(message),
        TopicError::PermissionDenied { .. } => Status::permission_denied(message),
        TopicError::CacheNotFound(_) => Status::not_found(message),
        TopicError::Unavailable(_) => Status::unavailable(message),
        TopicError::Throttled { .. } | TopicError::RateLimited { .. } => {
            // Momento's answer to a namespace over its operations rate.
            let mut metadata = MetadataMap::new();
            metadata.insert(
                "err",
                MetadataValue::from_static("operations_rate_limit_exceeded"),
            );
            Status::with_metadata(Code::ResourceExhausted, message, metadata)
        }
        TopicError::MessageTooLarge(_) => {
            // The SDKs read the `err` metadata to name which limit was hit.
            let mut metadata = MetadataMap::new();
            metadata.insert(
                "err",
                MetadataValue::from_static("request_size_limit_exceeded"),
            );
            Status::with_metadata(Code::ResourceExhausted, message, metadata)
        }
    }
}

struct StreamState {
    subscription: Subscription,
    heartbeat: Duration,
    shutdown: CancellationToken,
    started: bool,
    /// Counted against the subscriptions quota while the stream lives.
    _slot: Slot,
    shared: Arc<Shared>,
}

/// Events of `subscription` as gRPC items, with heartbeats, until shutdown. Pulled by tonic as
/// the client reads, so a slow client leaves messages in its bounded topic buffer (and gets a
/// discontinuity if it falls too far behind) rather than in an unbounded queue here.
fn item_stream(subscription: Subscription, slot: Slot, shared: Arc<Shared>) -> ItemStream {
    let state = StreamState {
        subscription,
        heartbeat: shared.topics.heartbeat_interval(),
        shutdown: shared.topics.shutdown().clone(),
        started: false,
        _slot: slot,
        shared,
    };
    Box::pin(futures::stream::unfold(state, |mut state| async move {
        if !state.started {
            // A heartbeat right away tells the client the subscription is in place.
            state.started = true;
            return Some((Ok(heartbeat_item()), state));
        }
        let item = tokio::select! {
            biased;
            _ = state.shutdown.cancelled() => return None,
            event = state.subscription.next() => {
                // A delivered message is an operation of the namespace (as Momento bills it).
                state.shared.quota.delivered();
                item(event?)
            }
            // Re-armed on every call: a heartbeat only after a full interval without events.
            _ = tokio::time::sleep(state.heartbeat) => heartbeat_item(),
        };
        Some((Ok(item), state))
    }))
}

fn heartbeat_item() -> SubscriptionItem {
    SubscriptionItem {
        kind: Some(subscription_item::Kind::Heartbeat(Heartbeat {})),
    }
}

fn item(event: Event) -> SubscriptionItem {
    let kind = match event {
        Event::Item(message) => subscription_item::Kind::Item(TopicItem {
            topic_sequence_number: message.sequence_number,
            value: Some(TopicValue {
                kind: Some(match &message.value {
                    Value::Text(text) => topic_value::Kind::Text(text.clone()),
                    Value::Binary(bytes) => topic_value::Kind::Binary(bytes.to_vec()),
                }),
            }),
            publisher_id: message.publisher_id.clone(),
            sequence_page: message.sequence_page,
        }),
        Event::Discontinuity {
            last_topic_sequence,
            new_topic_sequence,
            new_sequence_page,
        } => subscription_item::Kind::Discontinuity(Discontinuity {
            last_topic_sequence,
            new_topic_sequence,
            new_sequence_page,
        }),
    };
    SubscriptionItem { kind: Some(kind) }
}
