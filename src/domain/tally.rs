//! Counts per option, counted from the ballots of a poll.
//!
//! The ballots come from the poll's ledger (see `momento/ballots.rs`); counts are never stored
//! or incremented per vote, only counted from scratch. What a ballot adds depends on the kind:
//! - `single` and `multi`: one to each chosen option (so `multi` counts add up to more than
//!   the number of ballots);
//! - `ranked`: one to the first preference only; the full result is the instant-runoff of
//!   [`irv`](super::irv) over the rankings, whose first round equals these counts.

use std::collections::BTreeMap;

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
}

impl Tally {
    /// A tally with every option of `poll` at zero.
    pub fn empty(poll: &Poll) -> Tally {
        Tally {
            ballots: 0,
            counts: poll.options().iter().map(|o| (o.id, 0)).collect(),
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
        }
        tally
    }
}

/// The options a ballot adds one to.
fn counted(kind: PollKind, ballot: &Ballot) -> &[OptionId] {
    match kind {
        PollKind::Single | PollKind::Multi => ballot.choices(),
        PollKind::Ranked => &ballot.choices()[..ballot.choices().len().min(1)],
    }
}

#[cfg(test)]
mod tests;
