//! Subscription ingest: pollcast subscribes to the votes topic and feeds each item to the
//! pipeline (Momento's webhooks are deprecated; this is the path that works against its
//! service today).
//!
//! - Resumes after the last sequence number it saw (`SubscribeRequest` with `last + 1` and the
//!   page) when the stream ends, with exponential backoff between attempts (100 ms .. 10 s).
//!   The Rust SDK also re-subscribes by itself, at once and without limit, when a stream
//!   errors; that loop is inside the SDK and cannot be bounded from here.
//! - The stream is read eagerly into a local queue that [`IN_FLIGHT`] workers drain: a topic
//!   drops messages for a subscriber that falls too far behind, so reading must never wait for
//!   processing. The pipeline orders a voter's votes by sequence number, so processing order
//!   does not matter. Under sustained overload the queue grows in memory rather than votes
//!   being dropped by the topic.
//! - A vote the backend fails on is retried here ([`ATTEMPTS`] times with backoff): a topic
//!   does not deliver an item twice to one subscriber, so dropping it would lose the vote.
//! - The SDK hides discontinuities; gaps in sequence numbers (within a page) are counted in
//!   the `subscription_gaps` metric.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use momento::topics::SubscribeRequest;
use tokio_util::sync::CancellationToken;

use crate::ingest::pipeline::{Delivery, Pipeline, Source};
use crate::metrics::Metrics;
use crate::momento::tokens::VOTES_TOPIC;
use crate::momento::Momento;

/// Votes processed at once.
pub const IN_FLIGHT: usize = 128;
/// Tries per vote when the backend fails.
pub const ATTEMPTS: u32 = 5;

/// Subscribes to the votes topic and ingests until `shutdown` fires.
pub async fn run(
    momento: Momento,
    pipeline: Arc<Pipeline>,
    metrics: Arc<Metrics>,
    live: Arc<AtomicBool>,
    shutdown: CancellationToken,
) {
    let (queue, backlog) = tokio::sync::mpsc::unbounded_channel::<Delivery>();
    let backlog = Arc::new(tokio::sync::Mutex::new(backlog));
    let workers: Vec<_> = (0..IN_FLIGHT)
        .map(|_| {
            let (backlog, pipeline) = (backlog.clone(), pipeline.clone());
            tokio::spawn(async move {
                loop {
                    // The lock is held only to take the next delivery.
                    let next = backlog.lock().await.recv().await;
                    let Some(delivery) = next else { return };
                    deliver(&pipeline, delivery).await;
                }
            })
        })
        .collect();
    let mut last: Option<(u64, u64)> = None; // (sequence number, page)
    let mut backoff = Duration::from_millis(100);
    loop {
        let request = SubscribeRequest::new(
            momento.cache_name().to_owned(),
            VOTES_TOPIC.to_owned(),
            last.map(|(seq, _)| seq + 1),
            last.map(|(_, page)| page),
        );
        let subscribed = tokio::select! {
            _ = shutdown.cancelled() => break,
            s = momento.topics().send_request(request) => s,
        };
        let mut subscription = match subscribed {
            Ok(subscription) => {
                tracing::info!(resume = ?last, "subscribed to the votes topic");
                live.store(true, Ordering::Release);
                backoff = Duration::from_millis(100);
                subscription
            }
            Err(error) => {
                tracing::warn!(%error, "subscribing to the votes topic failed; retrying");
                tokio::select! {
                    _ = shutdown.cancelled() => break,
                    _ = tokio::time::sleep(backoff) => {}
                }
                backoff = (backoff * 2).min(Duration::from_secs(10));
                continue;
            }
        };
        loop {
            let item = tokio::select! {
                _ = shutdown.cancelled() => break,
                item = subscription.next() => item,
            };
            let Some(item) = item else { break };
            let (seq, page) = (item.topic_sequence_number, item.topic_sequence_page);
            if let Some((last_seq, last_page)) = last {
                if page == last_page && seq > last_seq + 1 {
                    metrics.subscription_gaps.inc();
                    tracing::warn!(from = last_seq, to = seq, "gap in the votes topic");
                }
                if page == last_page && seq <= last_seq {
                    continue; // the SDK re-delivers its last item after a reconnect
                }
            }
            last = Some((seq, page));
            let delivery = Delivery {
                token_id: item.publisher_id.clone(),
                text: String::try_from(item).unwrap_or_default(),
                seq,
                published_at: None,
                source: Source::Subscription,
            };
            let _ = queue.send(delivery);
        }
        if shutdown.is_cancelled() {
            break;
        }
        tokio::time::sleep(backoff).await;
    }
    // Let the workers finish what was read.
    drop(queue);
    for worker in workers {
        let _ = worker.await;
    }
}

async fn deliver(pipeline: &Pipeline, delivery: Delivery) {
    let mut wait = Duration::from_millis(50);
    for attempt in 1..=ATTEMPTS {
        match pipeline.process(delivery.clone()).await {
            Ok(_) => return,
            Err(_) if attempt < ATTEMPTS => {
                tokio::time::sleep(wait).await;
                wait *= 4;
            }
            Err(error) => {
                tracing::error!(
                    seq = delivery.seq,
                    error = format!("{error:#}"),
                    "vote lost after {ATTEMPTS} attempts"
                );
            }
        }
    }
}
