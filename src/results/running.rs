//! Results at the cost of a change, not of a poll: each poll's counts are kept up to date in
//! memory as this process records ballots, so a publish no longer reads the whole ledger.
//!
//! **Only where this process is the only writer of the ledger**: with the embedded local
//! Momento. Against Momento's service, replicas each record only some of the ballots, so there
//! every publish counts the ledger from scratch (`Publisher::count`).
//!
//! - **Seeded from the ledger** the first time a poll's results are counted (and again after
//!   anything that may have put the counts off: a ballot in doubt, a recount that found a
//!   difference): one read of the ledger, shard by shard.
//! - **Kept up to date by key transitions**: the pipeline knows exactly how a voter's ballot
//!   changed, because it changes it by compare-and-set (a first ballot: `+ new`; a revote:
//!   `- old + new`; a duplicate: nothing), and applies that once the ledger write landed.
//! - **A gate per poll** makes the seed exact: the pipeline records each vote holding the
//!   poll's gate shared; a seed holds it exclusively, so no vote is between its ballot key and
//!   its count while the ledger is read, and the ledger then equals the ballot keys (but for
//!   ballots in doubt, which count once settled, as in a count from scratch).

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use tokio::sync::{OwnedRwLockReadGuard, RwLock};

use crate::domain::{Ballot, Poll, PollId, RunningTally};
use crate::momento::ballots::BallotStore;
use crate::momento::StoreResult;

/// One poll's gate and counts.
#[derive(Default)]
struct PollTally {
    gate: Arc<RwLock<()>>,
    /// `None` until seeded, and again once invalidated. A std mutex: a clone or an update,
    /// never held across an await.
    running: Mutex<Option<RunningTally>>,
}

impl PollTally {
    fn running(&self) -> MutexGuard<'_, Option<RunningTally>> {
        self.running.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// The running tallies of every poll this process counts.
#[derive(Default)]
pub struct Tallies {
    // A std mutex: a map lookup, never held across an await.
    polls: Mutex<HashMap<PollId, Arc<PollTally>>>,
}

impl Tallies {
    fn of(&self, poll: &PollId) -> Arc<PollTally> {
        self.polls
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .entry(poll.clone())
            .or_default()
            .clone()
    }

    /// The gate of `poll`, held shared while a vote of it is recorded.
    pub async fn enter(&self, poll: &PollId) -> OwnedRwLockReadGuard<()> {
        let gate = self.of(poll).gate.clone();
        gate.read_owned().await
    }

    /// A ballot of `poll` changed from `old` (none: a first ballot) to `new`, and the ledger
    /// holds it. Call holding the poll's gate.
    pub fn counted(&self, poll: &Poll, old: Option<&[u8]>, new: &[u8]) {
        let tally = self.of(poll.id());
        let mut slot = tally.running();
        let Some(running) = slot.as_mut() else {
            return; // not seeded: the seed will read it from the ledger
        };
        let decoded = |bytes: &[u8]| Ballot::from_bytes(bytes).ok();
        let applied = match (old.map(decoded), decoded(new)) {
            (None, Some(new)) => {
                running.add(&new);
                true
            }
            (Some(Some(old)), Some(new)) => {
                running.remove(&old);
                running.add(&new);
                true
            }
            // An unreadable ballot (never written by this code): count from the ledger again.
            _ => false,
        };
        if !applied {
            *slot = None;
        }
    }

    /// Forgets `poll`'s counts: the next count seeds them from the ledger again.
    pub fn invalidate(&self, poll: &PollId) {
        *self.of(poll).running() = None;
    }

    /// `poll`'s counts, seeded from the ledger first if they are not.
    pub async fn tally(&self, poll: &Poll, ballots: &BallotStore) -> StoreResult<RunningTally> {
        let tally = self.of(poll.id());
        if let Some(running) = tally.running().as_ref() {
            return Ok(running.clone());
        }
        // No vote of this poll is being recorded while the ledger is read.
        let _exclusive = tally.gate.write().await;
        if let Some(running) = tally.running().as_ref() {
            return Ok(running.clone()); // seeded while this waited
        }
        let seeded = seed(poll, ballots).await?;
        *tally.running() = Some(seeded.clone());
        Ok(seeded)
    }
}

/// Counts `poll`'s ledger from scratch, shard by shard.
pub async fn seed(poll: &Poll, ballots: &BallotStore) -> StoreResult<RunningTally> {
    let mut running = RunningTally::new(poll);
    ballots
        .for_each_ballot(poll.id(), |_, choices| match Ballot::from_bytes(choices) {
            Ok(ballot) => running.add(&ballot),
            Err(error) => tracing::warn!(%error, "skipping an unreadable ledger entry"),
        })
        .await?;
    Ok(running)
}
