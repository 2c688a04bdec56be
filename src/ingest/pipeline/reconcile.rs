//! Ballots in doubt, and the sweep that settles them.
//!
//! A ballot is **in doubt** when its key holds a seated claim but whether the ledger holds it
//! is unknown: every ledger write failed and reading the ledger back did not show it. A seated
//! claim cannot be taken back (a copy of the vote may have written the ledger from it
//! meanwhile), so the pipeline answers the vote 5xx and notes the ballot, in memory and in the
//! `in_doubt` dictionary (best effort: the backend has just failed).
//!
//! The sweep ([`run`]) settles every ballot noted at least [`SETTLE_AFTER`] ago (first come
//! the retries already under way: the subscription's, the local Momento's webhook outbox's),
//! once a [`SWEEP`]: it makes the ledger hold
//! what the ballot key holds (a claim awaiting its seat is seated first, or given back when the
//! poll is full; a released key has nothing to settle), marks the poll's results dirty and
//! forgets the note. Every [`DURABLE_EVERY`]th sweep (the first one too) also reads the
//! `in_doubt` dictionary, for ballots noted by replicas that stopped before settling them. So a
//! ballot in doubt is counted once the backend answers again, whether or not its vote is ever
//! delivered again (Momento's webhooks deliver once).
//!
//! A delivery of the same vote that writes the ledger first settles the ballot too, and reports
//! what the failed delivery would have (accepted, revoted).

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use tokio_util::sync::CancellationToken;

use super::{Outcome, Pipeline, LEDGER_ATTEMPTS};
use crate::domain::{PollId, VoterId};
use crate::momento::StoreResult;

/// How often the ballots noted in doubt here are settled.
pub const SWEEP: Duration = Duration::from_secs(1);
/// Every this many sweeps, the ballots noted in doubt in the cache (by any replica) are read.
pub const DURABLE_EVERY: u64 = 10;
/// How long a ballot noted in doubt here is left to the retries of its own vote before the
/// sweep settles it.
pub const SETTLE_AFTER: Duration = Duration::from_secs(2);

/// What the delivery whose write failed was: what its settling delivery reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Doubt {
    /// A first ballot.
    First,
    /// A revote.
    Revote,
    /// Another copy of the ballot the key holds.
    Copy,
}

impl Doubt {
    /// What a delivery that settles the ballot reports.
    pub(super) fn outcome(self) -> Outcome {
        match self {
            Doubt::First => Outcome::Accepted,
            Doubt::Revote => Outcome::Revoted,
            Doubt::Copy => Outcome::Duplicate,
        }
    }
}

/// The ballots noted in doubt by this replica, with what their delivery was and when.
#[derive(Default)]
pub(super) struct Doubts(Mutex<HashMap<(PollId, VoterId), (Doubt, Instant)>>);

impl Doubts {
    // A std mutex: a map operation at a time, never held across an await.
    fn lock(&self) -> MutexGuard<'_, HashMap<(PollId, VoterId), (Doubt, Instant)>> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl Pipeline {
    /// Notes `voter`'s ballot in `poll` as in doubt; `doubt` says what the failed delivery was
    /// (an earlier note keeps its kind).
    pub(super) async fn doubt(&self, poll: &PollId, voter: &VoterId, doubt: Doubt) {
        self.doubts
            .lock()
            .entry((poll.clone(), voter.clone()))
            .or_insert((doubt, Instant::now()));
        self.metrics.ballots_in_doubt.inc();
        tracing::warn!(poll_id = %poll.as_str(), "a ballot is in doubt; the sweep will settle it");
        if let Err(error) = self.ballots.note_in_doubt(poll, voter).await {
            tracing::warn!(
                poll_id = %poll.as_str(),
                error = format!("{error:#}"),
                "a ballot in doubt is noted in this replica's memory only"
            );
        }
    }

    /// The note of `voter`'s ballot, if any, taken away: a delivery has just settled it.
    pub(super) async fn settled_by_delivery(
        &self,
        poll: &PollId,
        voter: &VoterId,
    ) -> Option<Doubt> {
        let (doubt, _) = self.doubts.lock().remove(&(poll.clone(), voter.clone()))?;
        self.forget_doubt(poll, voter).await;
        Some(doubt)
    }

    /// Whether this replica has ballots noted in doubt.
    pub fn has_doubts(&self) -> bool {
        !self.doubts.lock().is_empty()
    }

    /// One sweep: settles every ballot noted in doubt here at least [`SETTLE_AFTER`] ago (and,
    /// when `durable`, every one noted in the cache by any replica, but those this replica
    /// noted since); returns how many it settled.
    pub async fn reconcile(&self, durable: bool) -> usize {
        let (mut noted, young): (HashSet<_>, HashSet<_>) = {
            let doubts = self.doubts.lock();
            let (old, young): (Vec<_>, Vec<_>) = doubts
                .iter()
                .partition(|(_, (_, at))| at.elapsed() >= SETTLE_AFTER);
            let keys = |entries: Vec<(&(PollId, VoterId), _)>| {
                entries.into_iter().map(|(key, _)| key.clone()).collect()
            };
            (keys(old), keys(young))
        };
        if durable {
            match self.ballots.in_doubt().await {
                Ok(in_cache) => noted.extend(in_cache.into_iter().filter(|k| !young.contains(k))),
                Err(error) => tracing::warn!(
                    error = format!("{error:#}"),
                    "the ballots in doubt could not be read"
                ),
            }
        }
        let mut settled = 0;
        for (poll, voter) in noted {
            match self.settle(&poll, &voter).await {
                Ok(()) => {
                    self.doubts.lock().remove(&(poll.clone(), voter.clone()));
                    self.forget_doubt(&poll, &voter).await;
                    self.recount_later(&poll);
                    self.metrics.ballots_reconciled.inc();
                    (self.dirty)(&poll);
                    settled += 1;
                }
                Err(error) => tracing::debug!(
                    poll_id = %poll.as_str(),
                    error = format!("{error:#}"),
                    "a ballot is still in doubt"
                ),
            }
        }
        settled
    }

    /// Makes the ledger hold what `voter`'s ballot key holds.
    async fn settle(&self, poll_id: &PollId, voter: &VoterId) -> StoreResult<()> {
        for _ in 0..LEDGER_ATTEMPTS * 4 {
            // Released or gone: nothing was counted, nothing to settle.
            let Some(current) = self.ballots.current(poll_id, voter).await? else {
                return Ok(());
            };
            if !current.seated {
                let Some(poll) = self.recent_poll(poll_id).await? else {
                    return Ok(());
                };
                self.seat(&poll, voter, &current).await?;
                continue;
            }
            self.write_ledger(poll_id, voter, &current.choices).await?;
            // Settled unless a revote changed the key meanwhile.
            if self.ballots.current(poll_id, voter).await?.as_ref() == Some(&current) {
                return Ok(());
            }
        }
        Err(anyhow::anyhow!("the voter's ballot kept changing while it was settled").into())
    }

    /// Removes the cache's note of a settled ballot (best effort: a note left behind is settled
    /// again, harmlessly, by a later sweep).
    async fn forget_doubt(&self, poll: &PollId, voter: &VoterId) {
        if let Err(error) = self.ballots.settled(poll, voter).await {
            tracing::debug!(
                error = format!("{error:#}"),
                "a settled ballot is still noted"
            );
        }
    }
}

/// Sweeps every [`SWEEP`] until `shutdown`: the ballots noted here whenever there are any, and
/// those noted in the cache every [`DURABLE_EVERY`]th time.
pub async fn run(pipeline: Arc<Pipeline>, shutdown: CancellationToken) {
    let mut ticker = tokio::time::interval(SWEEP);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    for sweep in 0u64.. {
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = ticker.tick() => {}
        }
        let durable = sweep % DURABLE_EVERY == 0;
        if durable || pipeline.has_doubts() {
            pipeline.reconcile(durable).await;
        }
    }
}
