//! Subscription ingest of one votes topic: pollcast subscribes to it and feeds each item to
//! the pipeline (Momento's webhooks are deprecated; this is the path that works against its
//! service today). Which topics a replica reads is decided by the leases (`shards.rs`): one
//! [`run`] per shard it holds.
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
//! - A vote the backend fails on (or that Momento refuses over a rate limit) is retried here
//!   with backoff until it is processed: a topic does not deliver an item twice to one
//!   subscriber, so dropping it would lose the vote. Until it is, the saved position stays
//!   before it, so if the reader stops first the vote is read again by the next one.
//! - **Resume across restarts**: the position up to which every vote read has been processed
//!   (a low watermark: workers finish out of order) is saved in the cache
//!   (`ingest_cursor:{topic}`) every [`SAVE_EVERY`] and at shutdown; a new start (or the
//!   replica that takes the shard's lease over) subscribes from
//!   the item after it, so votes published while pollcast was down (or read but not processed
//!   when it stopped) are read then. A vote processed twice is a duplicate, counted once.
//! - **What cannot be read is said**: the SDK hides discontinuities, so a jump in sequence
//!   numbers within a page (the topic's history no longer reached back, or this subscriber fell
//!   too far behind) is logged with the range lost and counted in
//!   `subscription_lost_messages_total` (and `subscription_gaps_total`); a new page (the topic
//!   was reset) is logged and counted in `subscription_resets_total`.
//! - **A reset topic is read from the start of its new page.** A subscription resuming on the
//!   old page joins the new one live (Momento answers with a discontinuity, which the SDK
//!   hides), so the first item seen may be numbered past 1: the votes published on the new
//!   page before it were skipped, and the reader subscribes again from the new page's first
//!   item. What a reset costs is what was published on the old page after the last item read:
//!   it is gone with the page, and how much there was cannot be known (counted as a reset, not
//!   as lost messages).
//! - At shutdown the workers finish what was read, for at most [`DRAIN`]; what is left is read
//!   again after the restart (the saved position is before it).

use std::collections::{BTreeSet, VecDeque};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
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
/// First wait before a failed vote is tried again; doubled per failure up to [`MAX_RETRY_WAIT`].
const FIRST_RETRY_WAIT: Duration = Duration::from_millis(50);
/// Longest wait between two tries of a failed vote.
const MAX_RETRY_WAIT: Duration = Duration::from_secs(5);
/// First wait before subscribing again; doubled per failed attempt up to [`MAX_BACKOFF`].
const MIN_BACKOFF: Duration = Duration::from_millis(100);
/// Longest wait before subscribing again.
const MAX_BACKOFF: Duration = Duration::from_secs(10);
/// How often the processed position is saved (when it moved).
pub const SAVE_EVERY: Duration = Duration::from_millis(500);
/// How long the workers may take at shutdown to finish the votes already read.
pub const DRAIN: Duration = Duration::from_secs(10);

/// Subscribes to the votes topic `topic` (from the saved position, when there is one) and
/// ingests until `shutdown` fires; then lets the workers finish what was read (for [`DRAIN`] at
/// most) and saves the position. The position lives `ttl` in the cache. `live` is set once the
/// subscription is in place.
pub async fn run(
    momento: Momento,
    pipeline: Arc<Pipeline>,
    metrics: Arc<Metrics>,
    topic: String,
    live: Arc<AtomicBool>,
    ttl: Duration,
    shutdown: CancellationToken,
) {
    let start = match momento.votes_cursor(&topic).await {
        Ok(start) => start,
        Err(error) => {
            // Starting from now would skip what was published meanwhile: say so loudly.
            tracing::error!(
                error = format!("{error:#}"),
                "could not read where the votes subscription stopped; reading from now"
            );
            None
        }
    };
    let progress = Arc::new(Progress::from(start));
    // The workers stop retrying a failing vote when the drain is over.
    let stop_retrying = CancellationToken::new();
    let (queue, workers) = spawn_workers(pipeline, progress.clone(), stop_retrying.clone());
    let stop_saving = CancellationToken::new();
    let saver = tokio::spawn(save_progress(
        momento.clone(),
        topic.clone(),
        progress.clone(),
        ttl,
        stop_saving.clone(),
    ));
    let reader = Reader {
        momento: &momento,
        topic: &topic,
        metrics: &metrics,
        live: &live,
        queue: &queue,
        progress: &progress,
    };
    reader.read(start, &shutdown).await;
    drop(queue);
    let aborts: Vec<_> = workers.iter().map(JoinHandle::abort_handle).collect();
    if tokio::time::timeout(DRAIN, futures::future::join_all(workers))
        .await
        .is_err()
    {
        stop_retrying.cancel();
        aborts.iter().for_each(|worker| worker.abort());
        tracing::warn!(
            unprocessed = progress.unfinished(),
            "votes read but not processed by the shutdown deadline; they are read again at the next start"
        );
    }
    stop_saving.cancel();
    let _ = saver.await;
}

/// [`IN_FLIGHT`] workers that take deliveries off the returned queue until it is closed and
/// empty, and tell `progress` when each is done (a vote still failing when `give_up` fires is
/// not done: it is read again by the next reader).
fn spawn_workers(
    pipeline: Arc<Pipeline>,
    progress: Arc<Progress>,
    give_up: CancellationToken,
) -> (UnboundedSender<(u64, Delivery)>, Vec<JoinHandle<()>>) {
    let (queue, backlog) = unbounded_channel::<(u64, Delivery)>();
    let backlog = Arc::new(tokio::sync::Mutex::new(backlog));
    let workers = (0..IN_FLIGHT)
        .map(|_| {
            let (backlog, pipeline, progress, give_up) = (
                backlog.clone(),
                pipeline.clone(),
                progress.clone(),
                give_up.clone(),
            );
            tokio::spawn(async move {
                loop {
                    // The lock is held only to take the next delivery.
                    let next = backlog.lock().await.recv().await;
                    let Some((ticket, delivery)) = next else {
                        return;
                    };
                    if deliver(&pipeline, delivery, &give_up).await {
                        progress.done(ticket);
                    }
                }
            })
        })
        .collect();
    (queue, workers)
}

/// Saves the processed position every [`SAVE_EVERY`] when it moved, and once more when
/// `stop` fires.
async fn save_progress(
    momento: Momento,
    topic: String,
    progress: Arc<Progress>,
    ttl: Duration,
    stop: CancellationToken,
) {
    let mut ticker = tokio::time::interval(SAVE_EVERY);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        let stopping = tokio::select! {
            _ = stop.cancelled() => true,
            _ = ticker.tick() => false,
        };
        if let Some(position) = progress.to_save() {
            match momento.save_votes_cursor(&topic, position, ttl).await {
                Ok(()) => progress.saved(position),
                Err(error) => tracing::warn!(
                    error = format!("{error:#}"),
                    "could not save the votes cursor; will retry"
                ),
            }
        }
        if stopping {
            return;
        }
    }
}

/// Which votes read have been processed: a position is safe to resume after once every vote
/// read up to it is done, whatever order the workers finish in.
struct Progress(Mutex<ProgressState>);

struct ProgressState {
    /// The ticket the next vote read gets.
    next: u64,
    /// Votes read and not yet safe, in read order.
    read: VecDeque<(u64, TopicPosition)>,
    /// Tickets done but behind an unfinished one.
    done: BTreeSet<u64>,
    /// Every vote up to here is processed.
    safe: Option<TopicPosition>,
    /// What was saved last.
    saved: Option<TopicPosition>,
}

impl Progress {
    fn from(start: Option<TopicPosition>) -> Self {
        Self(Mutex::new(ProgressState {
            next: 0,
            read: VecDeque::new(),
            done: BTreeSet::new(),
            safe: start,
            saved: start,
        }))
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, ProgressState> {
        // A std mutex: a few queue and set operations, never held across an await.
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Notes a vote read at `position`; returns its ticket.
    fn read(&self, position: TopicPosition) -> u64 {
        let mut state = self.lock();
        let ticket = state.next;
        state.next += 1;
        state.read.push_back((ticket, position));
        ticket
    }

    /// Notes that the vote of `ticket` is processed.
    fn done(&self, ticket: u64) {
        let mut state = self.lock();
        state.done.insert(ticket);
        while let Some(&(front, position)) = state.read.front() {
            if !state.done.remove(&front) {
                break;
            }
            state.read.pop_front();
            state.safe = Some(position);
        }
    }

    /// The safe position, if it moved since the last save.
    fn to_save(&self) -> Option<TopicPosition> {
        let state = self.lock();
        (state.safe != state.saved).then_some(state.safe).flatten()
    }

    fn saved(&self, position: TopicPosition) {
        self.lock().saved = Some(position);
    }

    /// Votes read and not known to be processed.
    fn unfinished(&self) -> usize {
        self.lock().read.len()
    }
}

/// What the reader of one topic works with.
struct Reader<'a> {
    momento: &'a Momento,
    topic: &'a str,
    metrics: &'a Metrics,
    live: &'a AtomicBool,
    queue: &'a UnboundedSender<(u64, Delivery)>,
    progress: &'a Progress,
}

impl Reader<'_> {
    /// Subscribes (resuming after the last item read) and queues every item until `shutdown`,
    /// subscribing again with backoff when a subscription fails or ends.
    async fn read(&self, start: Option<TopicPosition>, shutdown: &CancellationToken) {
        let mut last: Option<TopicPosition> = start;
        let mut backoff = MIN_BACKOFF;
        loop {
            let subscribed = tokio::select! {
                _ = shutdown.cancelled() => return,
                s = self.momento.subscribe_votes(self.topic, last) => s,
            };
            let wait = match subscribed {
                Ok(items) => {
                    tracing::info!(topic = self.topic, resume = ?last, "subscribed to a votes topic");
                    self.live.store(true, Ordering::Release);
                    backoff = MIN_BACKOFF;
                    self.forward(items, &mut last, shutdown).await;
                    backoff
                }
                Err(error) => {
                    tracing::warn!(
                        topic = self.topic,
                        error = format!("{error:#}"),
                        "subscribing to a votes topic failed; retrying"
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

    /// Queues the items of one subscription until it ends or `shutdown` fires; `last` follows
    /// the last item queued.
    async fn forward(
        &self,
        items: impl Stream<Item = VoteItem> + Unpin,
        last: &mut Option<TopicPosition>,
        shutdown: &CancellationToken,
    ) {
        forward(
            items,
            last,
            self.metrics,
            self.queue,
            self.progress,
            shutdown,
        )
        .await
    }
}

/// Queues the items of one subscription until it ends or `shutdown` fires; `last` follows the
/// last item queued. Ends early, with `last` before the first item of the new page, when the
/// subscription joined a reset topic's new page after its start.
async fn forward(
    mut items: impl Stream<Item = VoteItem> + Unpin,
    last: &mut Option<TopicPosition>,
    metrics: &Metrics,
    queue: &UnboundedSender<(u64, Delivery)>,
    progress: &Progress,
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
            if position.page == previous.page && position.seq <= previous.seq {
                continue; // the SDK re-delivers its last item after a reconnect
            }
            note_discontinuity(previous, position, metrics);
            if position.page != previous.page && position.seq > 1 {
                // Resumed on the old page, this subscription joined the new one live: the votes
                // published on it before this one are read by subscribing again from its start.
                tracing::info!(
                    page = position.page,
                    first_read = position.seq,
                    "reading the reset votes topic again from the start of its new page"
                );
                *last = Some(TopicPosition {
                    page: position.page,
                    seq: 0,
                });
                return;
            }
        }
        *last = Some(position);
        let ticket = progress.read(position);
        let _ = queue.send((
            ticket,
            Delivery {
                token_id: item.publisher_id,
                text: item.text,
                seq: position.seq,
                page: Some(position.page),
                // Stamped when read, before the queue: votes are judged by when they were cast.
                published_at: Some(chrono::Utc::now()),
                source: Source::Subscription,
            },
        ));
    }
}

/// Logs and counts what the step from `previous` to `next` skipped: a range of the same page
/// that could not be read, or a new page (the topic was reset; what came between is unknown).
fn note_discontinuity(previous: TopicPosition, next: TopicPosition, metrics: &Metrics) {
    if next.page != previous.page {
        metrics.subscription_resets.inc();
        tracing::warn!(
            old_page = previous.page,
            last_read = previous.seq,
            new_page = next.page,
            first_read = next.seq,
            "the votes topic was reset (new sequence page): votes published after the last one \
             read on the old page, if any, were not read"
        );
    } else if next.seq > previous.seq + 1 {
        let lost = next.seq - previous.seq - 1;
        metrics.subscription_gaps.inc();
        metrics.subscription_lost.inc_by(lost);
        tracing::error!(
            page = next.page,
            from = previous.seq + 1,
            to = next.seq - 1,
            lost,
            "votes the subscription could not read (the topic no longer held them)"
        );
    }
}

/// Runs `delivery` through the pipeline, trying again with backoff while the backend fails or
/// Momento refuses over a rate limit; `false` when `give_up` fired first (the vote is not
/// processed, and is read again by the next reader).
async fn deliver(pipeline: &Pipeline, delivery: Delivery, give_up: &CancellationToken) -> bool {
    let mut wait = FIRST_RETRY_WAIT;
    let mut failures = 0u32;
    loop {
        match pipeline.process(delivery.clone()).await {
            Ok(_) => return true,
            Err(error) => {
                failures += 1;
                // Logged at the first failure and then sparingly: a backend that is down
                // makes every vote fail for as long as it is.
                if failures.is_power_of_two() {
                    tracing::warn!(
                        seq = delivery.seq,
                        failures,
                        throttled = error.is_throttled(),
                        error = format!("{error:#}"),
                        "vote not processed yet; trying again"
                    );
                }
            }
        }
        tokio::select! {
            _ = give_up.cancelled() => return false,
            _ = tokio::time::sleep(wait) => {}
        }
        wait = (wait * 2).min(MAX_RETRY_WAIT);
    }
}
