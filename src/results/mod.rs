//! Live results: counted from the ballot ledger, coalesced per poll, published with a strictly
//! increasing `seq`, and kept as a snapshot (`results:{poll_id}`) that
//! `GET /v1/polls/{id}/results` serves.
//!
//! - Results voters may see (per `results_visibility`) are published on `results.{poll_id}`,
//!   which voter tokens may subscribe to; the others (an `on_close` poll before it closes, a
//!   poll not open yet) on `results-admin.{poll_id}`, which only the admins' SSE stream reads.
//!   So no voter reaches a count early, whether over the topic, Momento's HTTP long poll, SSE
//!   or REST.
//! - A poll is marked dirty when a ballot of it is counted or its state changes; every
//!   `interval` (default 100 ms) each dirty poll is counted and published once, so a poll gets
//!   at most one publish per interval however fast votes arrive. A poll with many watchers is
//!   published less often ([`spacing_for`]: its watchers over
//!   [`WATCHER_DELIVERIES_PER_SECOND`], at most [`MAX_SPACING`]), so the requests its
//!   long-polling watchers send back stay within what the machine can serve, and each change
//!   still reaches them within a second.
//! - `seq` comes from `Increment` on `results_seq:{poll_id}` and is taken **before** the
//!   ledger is read, so across replicas a higher `seq` never carries an older reading start;
//!   and the snapshot is only ever replaced by a higher `seq`, so a count that lands late
//!   never takes `GET .../results` or a new stream's first event back.
//! - **Counting**: with the embedded local Momento, from running counts kept up to date as
//!   ballots are recorded ([`running`]): a publish costs the options and, for ranked polls,
//!   the distinct rankings, not the ballots. Against Momento's service (replicas each record
//!   some of the ballots) from scratch, from the ledger (the truth), so there the cost of a
//!   publish grows with the poll's ballots; a poll's next publish then starts no sooner than
//!   [`COST_FACTOR`] times its last one's duration after that one started: a poll with a large
//!   ledger under heavy voting spends at most a quarter of the time recounting, leaving the
//!   rest to ingest, and small polls still publish every interval.
//! - **Open-text polls** are always counted from the ledger, moderated ([`open_text`]).
//!
//! The I/O (seq, snapshot, topic) is [`ResultsStore`]'s, in `momento/results.rs`.

pub mod csv;
pub mod feed;
pub mod open_text;
pub mod recount;
pub mod running;
pub mod spacing;
pub mod sse;

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chrono::Utc;

use crate::domain::EntryKey;
use crate::domain::{instant_runoff, Poll, PollId, PollKind, Results, RunningTally};
use crate::metrics::Metrics;
use crate::momento::ballots::BallotStore;
use crate::momento::moderation::ModerationStore;
use crate::momento::polls::PollStore;
use crate::momento::results::ResultsStore;
use crate::momento::StoreResult;

pub use spacing::{spacing_for, OpsBudget, WatcherCount, COST_FACTOR};

/// Counts and publishes results.
pub struct Publisher {
    results: ResultsStore,
    polls: PollStore,
    ballots: BallotStore,
    metrics: Arc<Metrics>,
    // A std mutex: a set insert or swap, never held across an await.
    dirty: Mutex<HashSet<PollId>>,
    // When each recently published poll may be published again (same mutex reasoning).
    not_before: Mutex<HashMap<PollId, Instant>>,
    /// Running counts, when this process is the only writer of the ledger (embedded).
    tallies: Option<Arc<running::Tallies>>,
    /// The watchers of a poll, which space its publishes ([`spacing_for`]).
    watchers: Option<WatcherCount>,
    /// Momento's operations budget, which spaces every poll's publishes (service mode).
    budget: Option<OpsBudget>,
    /// Polls published lately, with when: how many share the budget.
    published: Mutex<HashMap<PollId, Instant>>,
    /// Moderation decisions on open-text entries, when kept.
    moderation: Option<ModerationStore>,
    /// The key open-text entry ids are made with ([`open_text::entry_key`]).
    entry_key: EntryKey,
}

impl Publisher {
    /// A publisher over the stores.
    pub fn new(
        results: ResultsStore,
        polls: PollStore,
        ballots: BallotStore,
        metrics: Arc<Metrics>,
    ) -> Self {
        Self {
            results,
            polls,
            ballots,
            metrics,
            dirty: Mutex::new(HashSet::new()),
            not_before: Mutex::new(HashMap::new()),
            tallies: None,
            watchers: None,
            budget: None,
            published: Mutex::new(HashMap::new()),
            moderation: None,
            entry_key: EntryKey::new(Vec::new()),
        }
    }

    /// Moderates open-text entries with `store`'s decisions, their ids made with `key`.
    pub fn with_moderation(self, store: ModerationStore, key: EntryKey) -> Self {
        Self {
            moderation: Some(store),
            entry_key: key,
            ..self
        }
    }

    /// Spaces each poll's publishes by its watchers, as `watchers` counts them.
    pub fn with_watchers(self, watchers: WatcherCount) -> Self {
        Self {
            watchers: Some(watchers),
            ..self
        }
    }

    /// Spaces every poll's publishes so that results stay within a share of Momento's
    /// operations budget (see [`OpsBudget`]).
    pub fn with_budget(self, budget: OpsBudget) -> Self {
        Self {
            budget: Some(budget),
            ..self
        }
    }

    /// How long after a publish of `poll` that took `took` its next one may start: its cost
    /// ([`COST_FACTOR`]), its watchers ([`spacing_for`]) or the operations budget
    /// ([`OpsBudget::spacing`]), whichever asks more; after a refusal over a rate limit,
    /// [`spacing::THROTTLED_WAIT`].
    fn wait_after(&self, poll: &PollId, took: Duration, throttled: bool) -> Duration {
        let now = Instant::now();
        let recent = {
            let mut published = self.published.lock().unwrap_or_else(|e| e.into_inner());
            published.insert(poll.clone(), now);
            published.retain(|_, at| now.duration_since(*at) < Duration::from_secs(1));
            published.len()
        };
        let watchers = self.watchers.as_ref().map_or(0, |count| count(poll));
        let budget = self
            .budget
            .as_ref()
            .map_or(Duration::ZERO, |budget| budget.spacing(recent));
        let wait = (took * COST_FACTOR).max(spacing_for(watchers)).max(budget);
        match throttled {
            true => wait.max(spacing::THROTTLED_WAIT),
            false => wait,
        }
    }

    /// Counts from `tallies`, kept up to date by the pipeline, instead of from scratch: only
    /// where this process writes every ballot of the ledger (the embedded local Momento).
    pub fn with_tallies(self, tallies: Arc<running::Tallies>) -> Self {
        Self {
            tallies: Some(tallies),
            ..self
        }
    }

    /// The running counts, when kept.
    pub fn tallies(&self) -> Option<&Arc<running::Tallies>> {
        self.tallies.as_ref()
    }

    /// Schedules a publish of `poll` at the next tick.
    pub fn mark(&self, poll: &PollId) {
        self.dirty
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(poll.clone());
    }

    /// Publishes dirty polls every `interval` until `shutdown`, then once more.
    pub async fn run(
        self: Arc<Self>,
        interval: Duration,
        shutdown: tokio_util::sync::CancellationToken,
    ) {
        let mut ticker = tokio::time::interval(interval);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            let stopping = tokio::select! {
                _ = shutdown.cancelled() => true,
                _ = ticker.tick() => false,
            };
            let due = self.take_due(stopping);
            let publishes = due.into_iter().map(|id| {
                let this = self.clone();
                async move {
                    let started = Instant::now();
                    let mut throttled = false;
                    if let Err(error) = this.publish(&id).await {
                        throttled = crate::momento::is_throttled(&error);
                        tracing::warn!(poll_id = %id.as_str(), throttled, error = format!("{error:#}"), "results not published; will retry");
                        this.mark(&id);
                    }
                    let wait = this.wait_after(&id, started.elapsed(), throttled);
                    this.not_before
                        .lock()
                        .unwrap_or_else(|e| e.into_inner())
                        .insert(id, started + wait);
                }
            });
            futures::future::join_all(publishes).await;
            if stopping {
                return;
            }
        }
    }

    /// The dirty polls whose last publish is far enough behind (all of them when `stopping`);
    /// the others stay dirty for a later tick.
    fn take_due(&self, stopping: bool) -> Vec<PollId> {
        let dirty = std::mem::take(&mut *self.dirty.lock().unwrap_or_else(|e| e.into_inner()));
        let now = Instant::now();
        let mut not_before = self.not_before.lock().unwrap_or_else(|e| e.into_inner());
        not_before.retain(|_, at| *at > now);
        let (due, later): (Vec<_>, Vec<_>) = dirty
            .into_iter()
            .partition(|id| stopping || !not_before.contains_key(id));
        drop(not_before);
        if !later.is_empty() {
            self.dirty
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .extend(later);
        }
        due
    }

    /// The results store (snapshots, seq, topics).
    pub fn results(&self) -> &ResultsStore {
        &self.results
    }

    /// Counts `id` now, stores the snapshot and publishes it.
    #[tracing::instrument(skip_all, fields(poll_id = %id.as_str()))]
    pub async fn publish(&self, id: &PollId) -> anyhow::Result<Results> {
        let seq = self.results.next_seq(id).await?;
        let Some(stored) = self.polls.get(id).await? else {
            anyhow::bail!("poll {} is gone", id.as_str());
        };
        let results = self.count(&stored.poll, seq).await?;
        // Voter tokens may subscribe to the results topic: results voters may not see yet go
        // to the admins' topic instead.
        let public = stored.poll.results_public_in(results.state);
        if self.results.publish(&results, public).await? {
            self.metrics.results_published.inc();
        }
        Ok(results)
    }

    /// The last published snapshot, or a fresh count (with `seq` 0) when there is none yet.
    pub async fn current(&self, poll: &Poll) -> StoreResult<Results> {
        match self.results.snapshot(poll.id()).await? {
            Some(mut results) => {
                // A deadline may have passed since the snapshot; the state is as of now.
                results.state = poll.state_at(Utc::now());
                Ok(results)
            }
            None => self.count(poll, 0).await,
        }
    }

    /// The results of `poll` numbered `seq`: from the running counts when they are kept, else
    /// counted from the ledger.
    pub async fn count(&self, poll: &Poll, seq: u64) -> StoreResult<Results> {
        if poll.kind() == PollKind::OpenText {
            return self.count_open_text(poll, seq).await;
        }
        let running = match &self.tallies {
            Some(tallies) => tallies.tally(poll, &self.ballots).await?,
            None => running::seed(poll, &self.ballots).await?,
        };
        Ok(results_of(poll, &running, seq))
    }

    /// The results of `poll` numbered `seq`, counted from the ledger whatever is kept.
    pub async fn count_from_ledger(&self, poll: &Poll, seq: u64) -> StoreResult<Results> {
        if poll.kind() == PollKind::OpenText {
            return self.count_open_text(poll, seq).await;
        }
        let running = running::seed(poll, &self.ballots).await?;
        Ok(results_of(poll, &running, seq))
    }
}

/// The results a running tally gives, numbered `seq`, as of now.
fn results_of(poll: &Poll, running: &RunningTally, seq: u64) -> Results {
    let now = Utc::now();
    let mut results = Results::new(poll, &running.tally(), seq, now);
    results.state = poll.state_at(now);
    if poll.kind() == PollKind::Ranked {
        results = results.with_runoff(instant_runoff(&poll.option_ids(), running.rankings()));
    }
    results
}
