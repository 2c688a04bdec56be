//! The one pipeline both ingest paths feed: decode, check poll and ballot, claim the voter's
//! ballot key, write the ledger, mark the poll's results dirty.
//!
//! Guarantees, for a vote the pipeline answered `Ok` (acknowledged):
//! - **counted exactly once**: its choices are in the ledger under its voter id, and tallies
//!   are counted from the ledger, a map keyed by voter: writing it again changes nothing;
//! - **the voter's latest vote wins**: votes are ordered by their place in the votes topic
//!   ([`VotePosition::supersedes`]: sequence page and number), so a late copy of an older vote
//!   (both ingest paths on, a redelivery) never undoes a revote;
//! - **never past a cap**: a capped poll's claim counts only once it holds its seat.
//!
//! And for a vote answered `Err` (the backend failed): nothing was claimed, or the claim was
//! given back before anything counted it, or the ballot is **in doubt** (claimed, or maybe
//! claimed: a change of the key whose answer was lost; its ledger write unconfirmed) and the
//! sweep ([`reconcile`]) counts it once the backend answers again, whether or not the vote
//! comes again. A vote the webhook took is run to completion even when its caller hangs up
//! (see `api/webhooks.rs`). The decision itself is in `pipeline/record.rs`.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use dashmap::DashMap;

use crate::domain::{Ballot, Poll, PollId, Rejection, VoteMessage, VotePosition, VoteTiming};
use crate::metrics::Metrics;
use crate::momento::ballots::{BallotStore, StoredBallot};
use crate::momento::polls::PollStore;
use crate::momento::status::VoteStatusStore;
use crate::momento::StoreResult;
use crate::results::running::Tallies;

pub mod reconcile;
mod record;

/// Tries at writing the ledger before the vote is given back.
pub const LEDGER_ATTEMPTS: u32 = 3;
/// How long a poll read by the pipeline is reused. A poll closed by another replica may still
/// take votes for this long; this replica's own changes take effect at once (a read in flight
/// when one is made is not cached).
const POLL_CACHE: Duration = Duration::from_millis(250);

/// Where a vote came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// A signed webhook call.
    Webhook,
    /// The subscription to the votes topic.
    Subscription,
}

impl Source {
    fn label(self) -> &'static str {
        match self {
            Source::Webhook => "webhook",
            Source::Subscription => "subscription",
        }
    }
}

/// A vote as it arrived, before any check.
#[derive(Debug, Clone)]
pub struct Delivery {
    /// The publisher's `token_id` (`""` when it had none).
    pub token_id: String,
    /// The message text.
    pub text: String,
    /// Topic sequence number of the message.
    pub seq: u64,
    /// The topic's sequence page when the source says (the subscription does, the webhook
    /// does not): the numbering restarts on a new page.
    pub page: Option<u64>,
    /// When it was published: the webhook's `event_timestamp`; for the subscription, when it
    /// was read (a bound from above on its publish time, taken before any queue). `None`: judged
    /// as published when processed.
    pub published_at: Option<DateTime<Utc>>,
    /// Which path brought it.
    pub source: Source,
}

/// What became of a vote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// The voter's first ballot, counted.
    Accepted,
    /// A revote: the ballot was replaced.
    Revoted,
    /// This vote (or a newer one of the voter) is already counted.
    Duplicate,
    /// Refused; nothing changed.
    Rejected(Rejection),
}

/// The pipeline.
pub struct Pipeline {
    polls: PollStore,
    ballots: BallotStore,
    metrics: Arc<Metrics>,
    poll_cache: DashMap<PollId, (Instant, Arc<Poll>)>,
    /// How many times this replica has changed a poll (`forget`): a read that overlaps one is
    /// not cached.
    forgotten: AtomicU64,
    dirty: Arc<dyn Fn(&PollId) + Send + Sync>,
    status: Option<VoteStatusStore>,
    close_grace: chrono::Duration,
    doubts: reconcile::Doubts,
    /// Running counts to keep up to date (embedded: this process writes the whole ledger).
    tallies: Option<Arc<Tallies>>,
}

impl Pipeline {
    /// Tells the running counts, if kept, that `voter`'s ballot went from `old` to `new`.
    fn counted(&self, poll: &Poll, old: Option<&[u8]>, new: &[u8]) {
        if let Some(tallies) = &self.tallies {
            tallies.counted(poll, old, new);
        }
    }

    /// The running counts of `poll`, if kept, may be off (a ballot in doubt, or one settled
    /// outside a key transition): they are counted from the ledger again.
    fn recount_later(&self, poll: &PollId) {
        if let Some(tallies) = &self.tallies {
            tallies.invalidate(poll);
        }
    }

    /// A pipeline over the stores; `dirty` hears of every poll whose ballots changed; a vote
    /// published while its poll was open counts up to `close_grace` after the close.
    pub fn new(
        polls: PollStore,
        ballots: BallotStore,
        metrics: Arc<Metrics>,
        dirty: Arc<dyn Fn(&PollId) + Send + Sync>,
        close_grace: Duration,
    ) -> Self {
        Self {
            polls,
            ballots,
            metrics,
            poll_cache: DashMap::new(),
            forgotten: AtomicU64::new(0),
            dirty,
            close_grace: chrono::Duration::from_std(close_grace).unwrap_or(chrono::Duration::MAX),
            doubts: reconcile::Doubts::default(),
            status: None,
            tallies: None,
        }
    }

    /// Keeps `tallies` up to date with every ballot this pipeline records (see
    /// `results/running.rs`).
    pub fn with_tallies(self, tallies: Arc<Tallies>) -> Self {
        Self {
            tallies: Some(tallies),
            ..self
        }
    }

    /// Keeps each rejection where the voter can ask for it (`GET /v1/polls/{id}/ballot`).
    pub fn with_status(self, status: VoteStatusStore) -> Self {
        Self {
            status: Some(status),
            ..self
        }
    }

    /// Forgets a cached poll (this replica changed it).
    pub fn forget(&self, id: &PollId) {
        // First the count, then the entry: a read in flight that stores its poll after this
        // sees the count move and takes it out again (see `poll`).
        self.forgotten.fetch_add(1, Ordering::SeqCst);
        self.poll_cache.remove(id);
    }

    /// Runs one vote through; `Err` means the backend failed and nothing was counted.
    #[tracing::instrument(skip_all, fields(source = delivery.source.label(), seq = delivery.seq, page = delivery.page))]
    pub async fn process(&self, delivery: Delivery) -> StoreResult<Outcome> {
        let started = Instant::now();
        self.metrics
            .votes_received
            .with_label_values(&[delivery.source.label()])
            .inc();
        let outcome = self.decide(&delivery).await;
        self.metrics
            .pipeline_seconds
            .observe(started.elapsed().as_secs_f64());
        match &outcome {
            Ok(Outcome::Accepted) => self
                .metrics
                .votes_accepted
                .with_label_values(&["new"])
                .inc(),
            Ok(Outcome::Revoted) => self
                .metrics
                .votes_accepted
                .with_label_values(&["revote"])
                .inc(),
            Ok(Outcome::Duplicate) => self.metrics.votes_duplicate.inc(),
            Ok(Outcome::Rejected(r)) => {
                // The reason and the poll only: a vote carries no token, and its token_id
                // is a voter id, not a secret.
                tracing::debug!(reason = r.reason(), "vote rejected: {r}");
                self.metrics
                    .votes_rejected
                    .with_label_values(&[r.reason()])
                    .inc()
            }
            Err(error) => {
                tracing::warn!(
                    error = format!("{error:#}"),
                    "vote not counted: backend failed"
                );
                self.metrics.backend_errors.inc()
            }
        }
        if let (Ok(Outcome::Rejected(rejection)), Some(status)) = (&outcome, &self.status) {
            // Best effort: a failure here costs the voter a clear message, never a vote.
            let kept = status.record_rejection(
                &delivery.token_id,
                &delivery.text,
                delivery.seq,
                rejection,
            );
            if let Err(error) = kept.await {
                tracing::warn!(
                    error = format!("{error:#}"),
                    "rejection not kept for the voter"
                );
            }
        }
        outcome
    }

    async fn decide(&self, delivery: &Delivery) -> StoreResult<Outcome> {
        let message = match VoteMessage::parse(&delivery.text) {
            Ok(message) => message,
            Err(rejection) => return Ok(Outcome::Rejected(rejection)),
        };
        let voter = match message.voter(&delivery.token_id) {
            Ok(voter) => voter,
            Err(rejection) => return Ok(Outcome::Rejected(rejection)),
        };
        let Some(poll) = self.recent_poll(message.poll_id()).await? else {
            return Ok(Outcome::Rejected(Rejection::UnknownPoll {
                poll_id: message.poll_id().clone(),
            }));
        };
        let now = Utc::now();
        let timing = VoteTiming {
            cast_at: delivery.published_at.unwrap_or(now),
            judged_at: now,
            close_grace: self.close_grace,
        };
        let ballot = match Ballot::validate(&poll, &message, timing) {
            Ok(ballot) => ballot,
            Err(rejection) => return Ok(Outcome::Rejected(rejection)),
        };
        let position = VotePosition {
            seq: delivery.seq,
            page: delivery.page,
            // Only the webhook's time is Momento's; the subscription's is when it read.
            published_ms: match delivery.source {
                Source::Webhook => delivery.published_at.map(|at| at.timestamp_millis()),
                Source::Subscription => None,
            },
        };
        let mine = StoredBallot::new(position, ballot.to_bytes());
        // Shared with the other votes of the poll, exclusive to a seed of its running counts.
        let _gate = match &self.tallies {
            Some(tallies) => Some(tallies.enter(poll.id()).await),
            None => None,
        };
        let outcome = self.record(&poll, &voter, mine).await?;
        // A duplicate may be the delivery that completes a ballot left in doubt (its ledger
        // write is the first to land), so its poll is recounted too; the publisher coalesces
        // marks into at most one count per poll per interval.
        if matches!(
            outcome,
            Outcome::Accepted | Outcome::Revoted | Outcome::Duplicate
        ) {
            (self.dirty)(poll.id());
        }
        Ok(outcome)
    }

    /// The poll `id`, from a cache of reads at most [`POLL_CACHE`] old (this replica's own
    /// changes are seen at once, see [`Pipeline::forget`]).
    pub async fn recent_poll(&self, id: &PollId) -> StoreResult<Option<Arc<Poll>>> {
        if let Some(entry) = self.poll_cache.get(id) {
            if entry.0.elapsed() < POLL_CACHE {
                return Ok(Some(entry.1.clone()));
            }
        }
        let forgotten = self.forgotten.load(Ordering::SeqCst);
        let Some(stored) = self.polls.get(id).await? else {
            return Ok(None);
        };
        let poll = Arc::new(stored.poll);
        self.poll_cache
            .insert(id.clone(), (Instant::now(), poll.clone()));
        // This replica changed a poll while the read was in flight: what it read may be older
        // than the change, so it is not kept (it still serves the vote that read it, which
        // was cast before the change).
        if self.forgotten.load(Ordering::SeqCst) != forgotten {
            self.poll_cache.remove(id);
        }
        Ok(Some(poll))
    }
}
