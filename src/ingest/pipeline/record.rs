//! The dedupe decision: what a checked vote does to the voter's ballot key and to the poll's
//! ledger (first ballot, duplicate, revote, refused, or given back).
//!
//! - **Claim**: `SetIf` AbsentOrEqual(`-`) on the ballot key. Held with the same choices: a
//!   duplicate (the ledger is written again, completing any half-done earlier attempt). Held
//!   with other choices: a revote if the poll allows it and the vote is newer
//!   ([`VotePosition::supersedes`](crate::domain::VotePosition::supersedes)), replaced by
//!   compare-and-set; an older vote is a duplicate.
//! - **Seats** (`max_voters`): a first ballot is claimed *awaiting its seat* (`~` in the key),
//!   takes a seat from the poll's counter, and only then is marked seated. Nobody counts a
//!   claim awaiting its seat: a copy of the vote (both ingest paths, a retried delivery) that
//!   meets one waits until it is seated or given back, and decides again. So a claim that
//!   finds the poll full is given back before anything could count it, and the ledger never
//!   holds more voters than seats were taken. A claim still awaiting its seat after about a
//!   second (its delivery gone) is seated by the copy that found it.
//! - **Failures**: a claim awaiting its seat is given back when the seat cannot be taken
//!   (nothing counted it). A seated claim never is: if its ledger write fails, the ledger is
//!   read back (a write that landed but reported failure counts), else the ballot is in doubt
//!   and the sweep settles it (`reconcile.rs`). A compare-and-set of the key that fails (a
//!   claim, a seat, a revote) may still have been applied, its answer lost: the ballot is in
//!   doubt too, so that whichever settles it (the vote coming again, or the sweep) counts it.

use std::time::Duration;

use super::reconcile::Doubt;
use super::{Outcome, Pipeline, LEDGER_ATTEMPTS};
use crate::domain::{Poll, PollId, Rejection, VoterId};
use crate::momento::ballots::{Claim, StoredBallot};
use crate::momento::StoreResult;

/// How long a copy waits for another delivery's claim to take its seat before seating it
/// itself: the sum of waits doubling from [`SEAT_WAIT_FIRST`] up to this.
const SEAT_WAIT_LAST: Duration = Duration::from_millis(640);
/// The first wait for another delivery's claim to take its seat.
const SEAT_WAIT_FIRST: Duration = Duration::from_millis(5);

/// What taking a seat for a claim came to.
pub(super) enum Seating {
    /// The claim holds its seat (the key says so).
    Seated,
    /// The poll is full: the claim was given back.
    Full(Rejection),
    /// The key changed meanwhile (another copy seated it or gave it back): decide again.
    Changed,
}

impl Pipeline {
    /// Records `mine`, a checked vote of `voter` in `poll`, against the voter's ballot key and
    /// the ledger.
    pub(super) async fn record(
        &self,
        poll: &Poll,
        voter: &VoterId,
        mine: StoredBallot,
    ) -> StoreResult<Outcome> {
        let id = poll.id();
        let claim = match poll.max_voters() {
            Some(_) => mine.awaiting_seat(),
            None => mine.clone(),
        };
        loop {
            let claimed = self.ballots.claim(id, voter, &claim);
            let held = match self.unsure(id, voter, Doubt::First, claimed).await? {
                Claim::Won => {
                    if !claim.seated {
                        match self.seat(poll, voter, &claim).await? {
                            Seating::Seated => {}
                            Seating::Full(rejection) => return Ok(Outcome::Rejected(rejection)),
                            Seating::Changed => continue,
                        }
                    }
                    return self.count_first(poll, voter, &mine).await;
                }
                Claim::Held(held) if !held.seated => {
                    self.wait_for_seat(poll, voter, &held).await?;
                    continue;
                }
                Claim::Held(held) => held,
            };
            if held.choices == mine.choices {
                // A newer vote with the ballot's choices is still the voter's latest: record its
                // position, so that a late older vote cannot undo it.
                if poll.allow_revote()
                    && mine.position.supersedes(&held.position)
                    && !self.ballots.replace(id, voter, &held, &mine).await?
                {
                    continue;
                }
                // The same choices are already the voter's ballot: make sure the ledger has
                // them (a no-op unless an earlier attempt failed half-way, in which case this
                // delivery settles it and reports what that attempt would have).
                self.write_and_settle(poll, voter, &mine, Doubt::Copy, None)
                    .await?;
                return Ok(match self.settled_by_delivery(id, voter).await {
                    Some(doubt) => {
                        self.recount_later(id);
                        doubt.outcome()
                    }
                    None => Outcome::Duplicate,
                });
            }
            if !mine.position.supersedes(&held.position) {
                // An older vote than the one that set the ballot: already superseded.
                return Ok(Outcome::Duplicate);
            }
            if !poll.allow_revote() {
                return Ok(Outcome::Rejected(Rejection::AlreadyVoted));
            }
            let replaced = self.ballots.replace(id, voter, &held, &mine);
            if !self.unsure(id, voter, Doubt::Revote, replaced).await? {
                continue; // another delivery of this voter won the race: decide again
            }
            return self
                .write_and_settle(poll, voter, &mine, Doubt::Revote, Some(&held.choices))
                .await;
        }
    }

    /// Writes the ledger for a first ballot whose claim (seated) this delivery won.
    async fn count_first(
        &self,
        poll: &Poll,
        voter: &VoterId,
        mine: &StoredBallot,
    ) -> StoreResult<Outcome> {
        self.write_and_settle(poll, voter, mine, Doubt::First, None)
            .await
    }

    /// Writes `mine`'s choices, the voter's seated ballot, into the ledger and settles it;
    /// `doubt` says what this delivery is, and so what it reports when all goes well; `old` is
    /// the ballot a revote replaced. A first ballot or a revote that lands is counted in the
    /// running counts (`+ mine`, or `- old + mine`).
    ///
    /// A seated claim is never given back: a copy of the vote may already have written the
    /// ledger from it. So when the writes fail, the ledger is read back: a write that landed
    /// but reported failure is counted (and reported so); otherwise the ballot is **in doubt**:
    /// noted for the sweep (`reconcile.rs`), which writes the key's choices into the ledger
    /// once the backend answers, and the vote is answered `Err` (5xx; retrying is safe).
    async fn write_and_settle(
        &self,
        poll: &Poll,
        voter: &VoterId,
        mine: &StoredBallot,
        doubt: Doubt,
        old: Option<&[u8]>,
    ) -> StoreResult<Outcome> {
        let id = poll.id();
        let written = match self.write_ledger(id, voter, &mine.choices).await {
            Ok(()) => Ok(()),
            Err(error) => match self.ballots.ledger_entry(id, voter).await {
                Ok(Some(entry)) if entry == mine.choices => Ok(()),
                _ => Err(error),
            },
        };
        let settled = match written {
            Ok(()) => self.settle_ledger(poll, voter, &mine.choices).await,
            Err(error) => Err(error),
        };
        match settled {
            Ok(()) => {
                match doubt {
                    Doubt::First | Doubt::Revote => self.counted(poll, old, &mine.choices),
                    Doubt::Copy => {}
                }
                // An earlier delivery of this voter left the ballot in doubt (below, or in
                // `unsure`): its change may have landed without the running counts seeing it,
                // so they are counted from the ledger again. A copy's caller does that itself.
                if doubt != Doubt::Copy && self.settled_by_delivery(id, voter).await.is_some() {
                    self.recount_later(id);
                }
                Ok(doubt.outcome())
            }
            Err(error) => {
                self.recount_later(id);
                self.doubt(id, voter, doubt).await;
                Err(error)
            }
        }
    }

    /// Runs `change`, a compare-and-set of `voter`'s ballot key. When it fails, whether the key
    /// changed is unknown: the cache may have applied it and the answer been lost (a broken
    /// connection, a deadline). Nothing counted that change, so the ballot is noted in doubt as
    /// `doubt`: the delivery of the vote that comes again (a webhook retry, the subscription's)
    /// then counts it and answers what this one would have, or the sweep settles it.
    async fn unsure<T>(
        &self,
        id: &PollId,
        voter: &VoterId,
        doubt: Doubt,
        change: impl std::future::Future<Output = StoreResult<T>>,
    ) -> StoreResult<T> {
        let result = change.await;
        if result.is_err() {
            self.doubt(id, voter, doubt).await;
        }
        result
    }

    /// Takes a seat for `claim` (a first ballot awaiting one) and marks the key seated. A full
    /// poll, or a failure taking the seat, gives the claim back: nothing can have counted it.
    pub(super) async fn seat(
        &self,
        poll: &Poll,
        voter: &VoterId,
        claim: &StoredBallot,
    ) -> StoreResult<Seating> {
        let id = poll.id();
        match self.over_capacity(poll).await {
            Ok(None) => {}
            Ok(Some(rejection)) => {
                let released = self.ballots.release(id, voter, claim).await;
                self.count_release(&released);
                return Ok(match released? {
                    true => Seating::Full(rejection),
                    false => Seating::Changed,
                });
            }
            Err(error) => {
                self.give_back(id, voter, claim).await;
                return Err(error);
            }
        }
        let seated = claim.with_seat();
        let replaced = self.ballots.replace(id, voter, claim, &seated);
        Ok(
            match self.unsure(id, voter, Doubt::First, replaced).await? {
                true => Seating::Seated,
                false => Seating::Changed,
            },
        )
    }

    /// Another delivery claimed this voter's ballot and is taking its seat: waits until it has
    /// (or has given the claim back), reading the key again with doubling waits. A claim still
    /// awaiting its seat after that (its delivery may be gone: a crash, a dropped request) is
    /// seated here on its behalf. The caller decides again either way.
    async fn wait_for_seat(
        &self,
        poll: &Poll,
        voter: &VoterId,
        held: &StoredBallot,
    ) -> StoreResult<()> {
        let mut wait = SEAT_WAIT_FIRST;
        while wait <= SEAT_WAIT_LAST {
            tokio::time::sleep(wait).await;
            if self.ballots.current(poll.id(), voter).await?.as_ref() != Some(held) {
                return Ok(());
            }
            wait *= 2;
        }
        // Seated here, its own delivery gone: no delivery counts this first ballot in the
        // running counts, so they are counted from the ledger again (which, by the time any
        // seed reads it, holds it: this vote keeps the poll's gate until it is written).
        self.recount_later(poll.id());
        self.seat(poll, voter, held).await.map(|_| ())
    }

    /// On polls that allow revoting, concurrent deliveries of one voter may write the ledger
    /// out of order (a first ballot's or a copy's write landing after a revote's). So after
    /// each ledger write the ballot key is read again, and the ledger rewritten while it
    /// differs from what was written: whoever writes last sees the key's choices, and the
    /// ledger ends equal to the key. Without revoting the choices never change.
    async fn settle_ledger(&self, poll: &Poll, voter: &VoterId, written: &[u8]) -> StoreResult<()> {
        if !poll.allow_revote() {
            return Ok(());
        }
        let id = poll.id();
        let mut written = written.to_vec();
        for _ in 0..LEDGER_ATTEMPTS * 4 {
            match self.ballots.current(id, voter).await? {
                Some(current) if current.seated && current.choices != written => {
                    self.write_ledger(id, voter, &current.choices).await?;
                    written = current.choices;
                }
                // Released, awaiting a seat, or the ledger has the key's choices.
                _ => return Ok(()),
            }
        }
        Err(anyhow::anyhow!("the voter's ballot kept changing while settling the ledger").into())
    }

    pub(super) async fn write_ledger(
        &self,
        id: &PollId,
        voter: &VoterId,
        choices: &[u8],
    ) -> StoreResult<()> {
        let mut last = None;
        for attempt in 0..LEDGER_ATTEMPTS {
            if attempt > 0 {
                tokio::time::sleep(Duration::from_millis(20 << attempt)).await;
            }
            match self.ballots.record(id, voter, choices).await {
                Ok(()) => return Ok(()),
                Err(error) => last = Some(error),
            }
        }
        Err(last.expect("at least one attempt"))
    }

    /// Gives back a claim that could not take its seat (nothing can have counted it).
    async fn give_back(&self, id: &PollId, voter: &VoterId, claim: &StoredBallot) {
        let result = self.ballots.release(id, voter, claim).await;
        self.count_release(&result);
    }

    /// Counts a give-back: `released`, or `in_doubt` when the claim could not be given back (it
    /// stays awaiting its seat; the next copy of the vote, or the sweep, seats it).
    fn count_release<E>(&self, result: &Result<bool, E>) {
        let outcome = match result {
            Ok(true) => "released",
            Ok(false) | Err(_) => "in_doubt",
        };
        self.metrics
            .ballots_released
            .with_label_values(&[outcome])
            .inc();
    }

    /// `max_voters`: each first ballot takes a seat from an atomic counter (`Increment` on
    /// `seats:{poll_id}`), so concurrent first ballots can never exceed the cap. A seat taken by
    /// a ballot that is then given back (backend failure) stays taken: the cap errs on the side
    /// of fewer voters, never more.
    async fn over_capacity(&self, poll: &Poll) -> StoreResult<Option<Rejection>> {
        let Some(max_voters) = poll.max_voters() else {
            return Ok(None);
        };
        let seat = self.ballots.take_seat(poll.id()).await?;
        Ok((seat > i64::from(max_voters)).then_some(Rejection::PollFull { max_voters }))
    }
}
