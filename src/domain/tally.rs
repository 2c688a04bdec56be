//! Counts per option, counted from the ballots of a poll.
//!
//! The ballots come from the poll's ledger (see `momento/ballots.rs`): the ledger is the
//! truth, and [`Tally::count`] counts it from scratch. [`RunningTally`] is the same count kept
//! up to date ballot by ballot (a ballot added, a revote's old ballot taken away), so a
//! publish costs what changed, not what the poll holds; it is seeded from the ledger and must
//! equal [`Tally::count`] of the same ballots (a property test checks it). What a ballot adds
//! depends on the kind:
//! - `single` and `multi`: one to each chosen option (so `multi` counts add up to more than
//!   the number of ballots);
//! - `ranked`: one to the first preference only; the full result is the instant-runoff of
//!   [`irv`](super::irv) over the rankings, whose first round equals these counts;
//! - `rating`: one to its value (`values`, every value of the scale present);
//! - `open_text`: nothing but the ballot: entries need their voter (for their ids), so
//!   open-text results are built from the ledger ([`open_text`](super::open_text)).

use std::collections::{BTreeMap, HashMap};

use serde::{Deserialize, Serialize};

use super::ballot::Ballot;
use super::ids::OptionId;
use super::poll::{Poll, PollKind};

/// Counts per option of one poll, every option present (zero when unvoted).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tally {
    /// How many ballots were counted.
    pub ballots: u64,
    /// What each option received, by option id.
    pub counts: BTreeMap<OptionId, u64>,
    /// `rating` polls: ballots per value, every value of the scale present.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub values: BTreeMap<i64, u64>,
}

impl Tally {
    /// A tally with every option of `poll` at zero.
    pub fn empty(poll: &Poll) -> Tally {
        Tally {
            ballots: 0,
            counts: poll.options().iter().map(|o| (o.id, 0)).collect(),
            values: scale_values(poll).map(|v| (v, 0)).collect(),
        }
    }

    /// The tally of `ballots`, counted from scratch.
    pub fn count<'a>(poll: &Poll, ballots: impl IntoIterator<Item = &'a Ballot>) -> Tally {
        let mut tally = Tally::empty(poll);
        for ballot in ballots {
            tally.ballots += 1;
            for id in counted(poll.kind(), ballot) {
                if let Some(count) = tally.counts.get_mut(id) {
                    *count += 1;
                }
            }
            if let Some(count) = ballot.value().and_then(|v| tally.values.get_mut(&v)) {
                *count += 1;
            }
        }
        tally
    }
}

/// A tally kept up to date as ballots come and go: the counts, and for `ranked` polls how many
/// ballots hold each ranking (what instant-runoff needs, so its cost is the number of distinct
/// rankings, not of ballots).
///
/// Changes commute: a revote's `remove` of the old ballot may be applied before the `add` of
/// that very ballot (two votes of one voter finishing out of order), so counts are kept signed
/// and may dip below zero in between; once every change is in, they equal a count from
/// scratch. [`RunningTally::tally`] reports negatives as zero.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunningTally {
    kind: PollKind,
    ballots: i64,
    counts: BTreeMap<OptionId, i64>,
    values: BTreeMap<i64, i64>,
    rankings: HashMap<Vec<OptionId>, i64>,
}

impl RunningTally {
    /// An empty tally of `poll`.
    pub fn new(poll: &Poll) -> Self {
        Self {
            kind: poll.kind(),
            ballots: 0,
            counts: poll.options().iter().map(|o| (o.id, 0)).collect(),
            values: scale_values(poll).map(|v| (v, 0)).collect(),
            rankings: HashMap::new(),
        }
    }

    /// Counts `ballot` in.
    pub fn add(&mut self, ballot: &Ballot) {
        self.change(ballot, 1);
    }

    /// Counts `ballot` out (a revote replaced it).
    pub fn remove(&mut self, ballot: &Ballot) {
        self.change(ballot, -1);
    }

    fn change(&mut self, ballot: &Ballot, by: i64) {
        self.ballots += by;
        for id in counted(self.kind, ballot) {
            if let Some(count) = self.counts.get_mut(id) {
                *count += by;
            }
        }
        if let Some(count) = ballot.value().and_then(|v| self.values.get_mut(&v)) {
            *count += by;
        }
        if self.kind == PollKind::Ranked {
            let count = self.rankings.entry(ballot.choices().to_vec()).or_default();
            *count += by;
            if *count == 0 {
                self.rankings.remove(ballot.choices());
            }
        }
    }

    /// The counts so far.
    pub fn tally(&self) -> Tally {
        let whole = |n: i64| u64::try_from(n).unwrap_or(0);
        Tally {
            ballots: whole(self.ballots),
            counts: self.counts.iter().map(|(id, &n)| (*id, whole(n))).collect(),
            values: self.values.iter().map(|(v, &n)| (*v, whole(n))).collect(),
        }
    }

    /// For `ranked` polls: each ranking held and by how many ballots (empty otherwise).
    pub fn rankings(&self) -> impl Iterator<Item = (&[OptionId], u64)> {
        self.rankings
            .iter()
            .filter(|(_, &count)| count > 0)
            .map(|(ranking, &count)| (ranking.as_slice(), count as u64))
    }
}

/// The options a ballot adds one to.
fn counted(kind: PollKind, ballot: &Ballot) -> &[OptionId] {
    match kind {
        PollKind::Single | PollKind::Multi => ballot.choices(),
        PollKind::Ranked => &ballot.choices()[..ballot.choices().len().min(1)],
        PollKind::Rating | PollKind::OpenText => &[],
    }
}

/// Every value of a rating poll's scale (none for other kinds).
fn scale_values(poll: &Poll) -> impl Iterator<Item = i64> + '_ {
    poll.scale().into_iter().flat_map(|s| s.values())
}

#[cfg(test)]
mod tests;
