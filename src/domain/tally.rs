//! Counts per option, and how one ballot (or a revote) changes them.
//!
//! The stored tally is the dictionary `tally:{poll_id}`: one field per option id plus
//! [`BALLOTS_FIELD`]. What a ballot adds depends on the kind:
//! - `single` and `multi`: one to each chosen option (so `multi` counts add up to more than
//!   the number of ballots);
//! - `ranked`: one to the first preference only; the full result is the instant-runoff of
//!   [`irv`](super::irv) over the stored rankings, whose first round equals these counts.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::ballot::Ballot;
use super::ids::OptionId;
use super::poll::{Poll, PollKind};

/// The tally dictionary's field holding the number of ballots.
pub const BALLOTS_FIELD: &str = "_ballots";

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

    /// The tally from stored counters (`option id -> n`) and the ballot count. Counters for
    /// options the poll lacks are ignored; negative ones (a transient of concurrent revotes
    /// moving a count down before another moves it up) read as zero.
    pub fn from_counts(
        poll: &Poll,
        counts: impl IntoIterator<Item = (OptionId, i64)>,
        ballots: i64,
    ) -> Tally {
        let mut tally = Tally::empty(poll);
        tally.ballots = clamp(ballots);
        for (id, n) in counts {
            if let Some(count) = tally.counts.get_mut(&id) {
                *count = clamp(n);
            }
        }
        tally
    }

    /// The tally from the raw dictionary fields (`"o1" -> 3`, `"_ballots" -> 5`), ignoring
    /// fields that are neither.
    pub fn from_fields<'a>(poll: &Poll, fields: impl IntoIterator<Item = (&'a str, i64)>) -> Tally {
        let mut ballots = 0;
        let mut counts = Vec::new();
        for (name, n) in fields {
            if name == BALLOTS_FIELD {
                ballots = n;
            } else if let Ok(id) = OptionId::parse(name) {
                counts.push((id, n));
            }
        }
        Tally::from_counts(poll, counts, ballots)
    }

    /// The tally of `ballots` counted from scratch (a recount, and the reference the
    /// incremental [`delta`]s must agree with).
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

    /// What `id` received.
    pub fn count_of(&self, id: OptionId) -> u64 {
        self.counts.get(&id).copied().unwrap_or(0)
    }
}

fn clamp(n: i64) -> u64 {
    u64::try_from(n).unwrap_or(0)
}

/// The options a ballot adds one to in the per-option counters.
fn counted(kind: PollKind, ballot: &Ballot) -> &[OptionId] {
    match kind {
        PollKind::Single | PollKind::Multi => ballot.choices(),
        PollKind::Ranked => &ballot.choices()[..ballot.choices().len().min(1)],
    }
}

/// The increments that record a ballot: applied to the tally dictionary with one
/// `DictionaryIncrement` per non-zero entry.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct TallyDelta {
    /// Added to [`BALLOTS_FIELD`]: 1 for a first ballot, 0 for a revote.
    pub ballots: i64,
    /// Added to each option's counter; options that do not change are absent.
    pub options: BTreeMap<OptionId, i64>,
}

impl TallyDelta {
    /// Whether nothing changes (a revote with the same meaning).
    pub fn is_empty(&self) -> bool {
        self.ballots == 0 && self.options.is_empty()
    }
}

/// How the counters change when a voter whose stored ballot was `old` (`None` for a first
/// vote) casts `new`: a revote moves the voter's counts and leaves the ballot count alone.
pub fn delta(kind: PollKind, old: Option<&Ballot>, new: &Ballot) -> TallyDelta {
    let mut options: BTreeMap<OptionId, i64> = BTreeMap::new();
    if let Some(old) = old {
        for &id in counted(kind, old) {
            *options.entry(id).or_default() -= 1;
        }
    }
    for &id in counted(kind, new) {
        *options.entry(id).or_default() += 1;
    }
    options.retain(|_, n| *n != 0);
    TallyDelta {
        ballots: i64::from(old.is_none()),
        options,
    }
}

#[cfg(test)]
mod tests;
