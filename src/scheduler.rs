//! The clock side of the lifecycle: polls open at `opens_at` and close at `closes_at` whether
//! or not anyone reads them.
//!
//! Each replica keeps the deadlines it knows of in memory (from its own writes, and from a
//! rescan of the poll index every [`RESCAN`], which brings in polls other replicas created and
//! polls from before a restart). When a deadline passes, the replica applies the `clock` event
//! by compare-and-set on the poll record; when several replicas race, one stores the change and
//! the others find nothing due and move on. Reads apply passed deadlines themselves
//! (`Poll::state_at`), so the state a reader sees never waits for the scheduler.
//!
//! The rescan also keeps polls alive: a poll record is rewritten only when its state changes,
//! and a ledger shard only when a ballot lands in it, so each replica refreshes the TTL of every
//! poll that is not archived or cancelled (record, ledger, results, and the poll index: the
//! keys `momento::keys::kept_alive` lists) once per quarter of the TTL, and of its voters'
//! ballot keys, which cannot be listed but are named by the ledger's fields (a key found gone
//! is written again from the ledger). So a voter's ballot key lives as long as the ledger: no
//! second ballot on a poll without revoting, no second seat on a capped one.

use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use prometheus::IntCounter;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use crate::domain::{next_clock_deadline, Event, Poll, PollId, Refusal};
use crate::momento::ballots::BallotStore;
use crate::momento::polls::{ChangeError, PollStore};
use crate::momento::Momento;

/// How often the poll index is read for deadlines this replica has not seen.
pub const RESCAN: Duration = Duration::from_secs(5);
/// Wait before retrying a deadline whose change failed on the backend.
const RETRY: Duration = Duration::from_secs(1);

/// Deadlines to act on, earliest first.
pub struct Scheduler {
    // A std mutex: held for a few set operations, never across an await.
    deadlines: Mutex<BTreeSet<(DateTime<Utc>, PollId)>>,
    changed: Notify,
    // When this replica last refreshed each poll's TTLs (same mutex reasoning).
    refreshed: Mutex<HashMap<PollId, Instant>>,
    // Counts each completed read of the poll index (`pollcast_scheduler_rescans_total`).
    rescans: IntCounter,
    // Counts the TTL refreshes this replica made (`pollcast_keep_alive_refreshes_total`).
    refreshes: IntCounter,
}

impl Scheduler {
    /// A scheduler that counts its rescans of the poll index in `rescans` and its TTL
    /// refreshes in `refreshes`.
    pub fn new(rescans: IntCounter, refreshes: IntCounter) -> Self {
        Self {
            deadlines: Mutex::default(),
            changed: Notify::new(),
            refreshed: Mutex::default(),
            rescans,
            refreshes,
        }
    }
}

impl Scheduler {
    /// Remembers `poll`'s next deadline, if it has one.
    pub fn watch(&self, poll: &Poll) {
        if let Some(at) = next_clock_deadline(poll) {
            self.add(at, poll.id().clone());
        }
    }

    fn add(&self, at: DateTime<Utc>, id: PollId) {
        let inserted = self.lock().insert((at, id));
        if inserted {
            self.changed.notify_one();
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeSet<(DateTime<Utc>, PollId)>> {
        self.deadlines.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn take_due(&self, now: DateTime<Utc>) -> Vec<PollId> {
        let mut deadlines = self.lock();
        let mut due = Vec::new();
        while let Some((at, _)) = deadlines.first() {
            if *at > now {
                break;
            }
            let (_, id) = deadlines.pop_first().expect("checked non-empty");
            due.push(id);
        }
        due
    }

    fn next(&self) -> Option<DateTime<Utc>> {
        self.lock().first().map(|(at, _)| *at)
    }

    /// Acts on deadlines until `shutdown` fires. `on_change` hears of every stored change.
    pub async fn run(
        self: Arc<Self>,
        polls: PollStore,
        ballots: BallotStore,
        momento: Momento,
        on_change: impl Fn(&Poll) + Send + Sync + 'static,
        shutdown: CancellationToken,
    ) {
        // Often enough that short TTLs (tests, small deployments) are refreshed in time too.
        let mut rescan =
            tokio::time::interval(RESCAN.min(polls.ttl() / 4).max(Duration::from_millis(100)));
        loop {
            let sleep = match self.next() {
                Some(at) => (at - Utc::now()).to_std().unwrap_or(Duration::ZERO),
                None => RESCAN,
            };
            tokio::select! {
                _ = shutdown.cancelled() => return,
                _ = rescan.tick() => self.rescan(&polls, &ballots, &momento).await,
                _ = self.changed.notified() => {}
                _ = tokio::time::sleep(sleep) => {}
            }
            for id in self.take_due(Utc::now()) {
                self.fire(&polls, &id, &on_change).await;
            }
        }
    }

    async fn fire(&self, polls: &PollStore, id: &PollId, on_change: &impl Fn(&Poll)) {
        match polls.apply(id, &Event::Clock, Utc::now()).await {
            Ok(poll) => {
                tracing::info!(poll_id = %id.as_str(), state = %poll.state(), "clock moved the poll");
                self.watch(&poll);
                on_change(&poll);
            }
            // Another replica (or an admin) got there first, or the poll is gone.
            Err(ChangeError::Refused(e))
                if matches!(e.refusal, Refusal::NothingDue | Refusal::NotAllowed) =>
            {
                if let Ok(Some(current)) = polls.get(id).await {
                    self.watch(&current.poll);
                }
            }
            Err(ChangeError::NotFound(_)) => {}
            Err(error) => {
                tracing::warn!(poll_id = %id.as_str(), %error, "clock change failed; retrying");
                self.add(Utc::now() + RETRY, id.clone());
            }
        }
    }

    async fn rescan(&self, polls: &PollStore, ballots: &BallotStore, momento: &Momento) {
        let index = match polls.index().await {
            Ok(index) => {
                self.rescans.inc();
                index
            }
            Err(error) => {
                tracing::warn!(error = format!("{error:#}"), "poll index rescan failed");
                return;
            }
        };
        let mut stale = Vec::new();
        for (id, entry) in index {
            if let Some(at) = entry.next_deadline.filter(|_| !entry.state.is_terminal()) {
                self.add(at, id.clone());
            }
            if !entry.state.is_terminal() && self.due_for_refresh(&id, polls.ttl() / 4) {
                stale.push(id);
            }
        }
        if let Err(error) = momento.keep_index_alive(polls.ttl()).await {
            tracing::warn!(
                error = format!("{error:#}"),
                "poll index TTL refresh failed"
            );
        }
        let every = polls.ttl() / 4;
        for id in stale {
            // One replica refreshes a poll per period: the refresh touches every ballot key.
            match momento.claim_keep_alive(&id, every).await {
                Ok(true) => self.refreshes.inc(),
                Ok(false) => {
                    self.mark_refreshed(id);
                    continue;
                }
                Err(error) => {
                    tracing::warn!(poll_id = %id.as_str(), error = format!("{error:#}"), "TTL refresh not claimed");
                    continue;
                }
            }
            let kept = match momento.keep_poll_alive(&id, polls.ttl()).await {
                Ok(()) => ballots.keep_alive(&id).await.map(|written| {
                    if written > 0 {
                        tracing::info!(poll_id = %id.as_str(), written, "ballot keys written again from the ledger");
                    }
                }),
                Err(error) => Err(error),
            };
            match kept {
                Ok(()) => self.mark_refreshed(id),
                Err(error) => {
                    tracing::warn!(poll_id = %id.as_str(), error = format!("{error:#}"), "TTL refresh failed")
                }
            }
        }
    }

    fn mark_refreshed(&self, id: PollId) {
        let mut map = self.refreshed.lock().unwrap_or_else(|e| e.into_inner());
        map.insert(id, Instant::now());
    }

    fn due_for_refresh(&self, id: &PollId, every: Duration) -> bool {
        let map = self.refreshed.lock().unwrap_or_else(|e| e.into_inner());
        map.get(id).is_none_or(|at| at.elapsed() >= every)
    }
}
