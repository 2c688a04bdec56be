//! Subscription ingest: pollcast subscribes to the votes topic and feeds each item to the
//! pipeline (Momento's webhooks are deprecated; this is the path that works against its
//! service today).
//!
//! - The reader ([`Momento::subscribe_votes`]) resumes after the last sequence number it saw
//!   when the stream ends, with exponential backoff between attempts (100 ms .. 10 s).
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

use futures::{Stream, StreamExt};
use tokio::sync::mpsc::{unbounded_channel, UnboundedSender};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::ingest::pipeline::{Delivery, Pipeline, Source};
use crate::metrics::Metrics;
use crate::momento::votes::{TopicPosition, VoteItem};
use crate::momento::Momento;

/// Votes processed at once.
pub const IN_FLIGHT: usize = 128;
/// Tries per vote when the backend fails.
pub const ATTEMPTS: u32 = 5;
/// First wait before subscribing again; doubled per failed attempt up to [`MAX_BACKOFF`].
const MIN_BACKOFF: Duration = Duration::from_millis(100);
/// Longest wait before subscribing again.
const MAX_BACKOFF: Duration = Duration::from_secs(10);

/// Subscribes to the votes topic and ingests until `shutdown` fires, then lets the workers
/// finish every vote already read.
pub async fn run(
    momento: Momento,
    pipeline: Arc<Pipeline>,
    metrics: Arc<Metrics>,
    live: Arc<AtomicBool>,
    shutdown: CancellationToken,
) {
    let (queue, workers) = spawn_workers(pipeline);
    read(&momento, &metrics, &live, &queue, &shutdown).await;
    drop(queue);
    for worker in workers {
        let _ = worker.await;
    }
}

/// [`IN_FLIGHT`] workers that take deliveries off the returned queue until it is closed and
/// empty.
fn spawn_workers(pipeline: Arc<Pipeline>) -> (UnboundedSender<Delivery>, Vec<JoinHandle<()>>) {
    let (queue, backlog) = unbounded_channel::<Delivery>();
    let backlog = Arc::new(tokio::sync::Mutex::new(backlog));
    let workers = (0..IN_FLIGHT)
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
    (queue, workers)
}

/// The reader: subscribes (resuming after the last item read) and queues every item until
/// `shutdown`, subscribing again with backoff when a subscription fails or ends.
async fn read(
    momento: &Momento,
    metrics: &Metrics,
    live: &AtomicBool,
    queue: &UnboundedSender<Delivery>,
    shutdown: &CancellationToken,
) {
    let mut last: Option<TopicPosition> = None;
    let mut backoff = MIN_BACKOFF;
    loop {
        let subscribed = tokio::select! {
            _ = shutdown.cancelled() => return,
            s = momento.subscribe_votes(last) => s,
        };
        let wait = match subscribed {
            Ok(items) => {
                tracing::info!(resume = ?last, "subscribed to the votes topic");
                live.store(true, Ordering::Release);
                backoff = MIN_BACKOFF;
                forward(items, &mut last, metrics, queue, shutdown).await;
                backoff
            }
            Err(error) => {
                tracing::warn!(
                    error = format!("{error:#}"),
                    "subscribing to the votes topic failed; retrying"
                );
                let wait = backoff;
                backoff = (backoff * 2).min(MAX_BACKOFF);
                wait
            }
        };
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tokio::time::sleep(wait) => {}
        }
    }
}

/// Queues the items of one subscription until it ends or `shutdown` fires; `last` follows the
/// last item queued.
async fn forward(
    mut items: impl Stream<Item = VoteItem> + Unpin,
    last: &mut Option<TopicPosition>,
    metrics: &Metrics,
    queue: &UnboundedSender<Delivery>,
    shutdown: &CancellationToken,
) {
    loop {
        let item = tokio::select! {
            _ = shutdown.cancelled() => return,
            item = items.next() => item,
        };
        let Some(item) = item else { return };
        let position = item.position;
        if let Some(previous) = *last {
            if position.page == previous.page && position.seq > previous.seq + 1 {
                metrics.subscription_gaps.inc();
                tracing::warn!(
                    from = previous.seq,
                    to = position.seq,
                    "gap in the votes topic"
                );
            }
            if position.page == previous.page && position.seq <= previous.seq {
                continue; // the SDK re-delivers its last item after a reconnect
            }
        }
        *last = Some(position);
        let _ = queue.send(Delivery {
            token_id: item.publisher_id,
            text: item.text,
            seq: position.seq,
            page: Some(position.page),
            // Stamped when read, before the queue: votes are judged by when they were cast.
            published_at: Some(chrono::Utc::now()),
            source: Source::Subscription,
        });
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
