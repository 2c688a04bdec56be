//! Instant-runoff voting over ranked ballots.
//!
//! Each round counts every ballot for its highest-ranked option still in the race
//! ("continuing"); a ballot with none left is exhausted and counted as such in that round.
//! Then, in this order:
//! 1. No continuing ballot at all (no ballots cast): the count ends with no winner and no tie.
//! 2. An option holding a strict majority of the continuing ballots (`2 * votes > continuing`)
//!    wins. Exhausted ballots do not count towards the majority.
//! 3. All continuing options hold the same number of votes: they tie, and the count ends.
//!    This includes two options left at equal counts.
//! 4. Otherwise options are eliminated:
//!    - every option with zero votes at once (they hold no ballots, so removing them one by
//!      one would give the same counts and only lengthen the report);
//!    - else the single option with the fewest votes. A tie for fewest is broken
//!      **backwards**: among the tied, the one with fewer votes in the previous round is
//!      eliminated, then the round before, back to the first preferences; if they were level
//!      in every round, the **latest-listed** option (highest position in the poll's option
//!      list) is eliminated. This is deterministic on purpose: every replica must report the
//!      same result, so there is no drawing of lots.
//!
//! Ballots are weighted (`ranking, count`) so a caller can pass the multiset of distinct
//! rankings stored as counters, rather than every ballot. Choices that are not options of the
//! poll are skipped, and a repeated option counts at its first position.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::ids::OptionId;

/// One round of the count.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Round {
    /// The round's number, from 1.
    pub round: u32,
    /// Votes of each continuing option (eliminated ones are absent).
    pub counts: BTreeMap<OptionId, u64>,
    /// Ballots with no continuing option left.
    pub exhausted: u64,
    /// Options eliminated at the end of this round, ascending (empty in the last round).
    pub eliminated: Vec<OptionId>,
}

/// The outcome of an instant-runoff count.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Runoff {
    /// Every round, in order; empty only when the poll has no options.
    pub rounds: Vec<Round>,
    /// The option with a majority of continuing ballots in the last round, if one has.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub winner: Option<OptionId>,
    /// The options tied in the last round when the count ends in a tie (ascending); empty
    /// otherwise.
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub tie: Vec<OptionId>,
}

/// Counts `ballots` (each a ranking, best first, with how many voters cast it) among
/// `options`, listed in the poll's order (which the last-resort tie-break reads).
pub fn instant_runoff<B: AsRef<[OptionId]>>(
    options: &[OptionId],
    ballots: impl IntoIterator<Item = (B, u64)>,
) -> Runoff {
    let ballots: Vec<(B, u64)> = ballots.into_iter().filter(|(_, n)| *n > 0).collect();
    let total: u64 = ballots.iter().map(|(_, n)| n).sum();
    let mut continuing: Vec<OptionId> = options.to_vec();
    continuing.sort_unstable();
    continuing.dedup();
    let mut rounds: Vec<Round> = Vec::new();

    while !continuing.is_empty() {
        let mut counts: BTreeMap<OptionId, u64> = continuing.iter().map(|&o| (o, 0)).collect();
        for (ranking, n) in &ballots {
            let top = ranking.as_ref().iter().find(|o| counts.contains_key(o));
            if let Some(top) = top {
                *counts.get_mut(top).expect("found among the counts") += n;
            }
        }
        let held: u64 = counts.values().sum();
        let mut round = Round {
            round: rounds.len() as u32 + 1,
            counts,
            exhausted: total - held,
            eliminated: Vec::new(),
        };

        let mut outcome = None;
        if held == 0 {
            outcome = Some((None, Vec::new()));
        } else if let Some((&o, _)) = round.counts.iter().find(|(_, &v)| 2 * v > held) {
            outcome = Some((Some(o), Vec::new()));
        } else if all_equal(round.counts.values()) {
            outcome = Some((None, round.counts.keys().copied().collect()));
        }
        if let Some((winner, tie)) = outcome {
            rounds.push(round);
            return Runoff {
                rounds,
                winner,
                tie,
            };
        }

        round.eliminated = to_eliminate(&round, &rounds, options);
        continuing.retain(|o| !round.eliminated.contains(o));
        rounds.push(round);
    }
    Runoff {
        rounds,
        winner: None,
        tie: Vec::new(),
    }
}

fn all_equal<'a>(mut values: impl Iterator<Item = &'a u64>) -> bool {
    match values.next() {
        Some(first) => values.all(|v| v == first),
        None => true,
    }
}

/// The options eliminated at the end of `round`, given the `earlier` rounds.
fn to_eliminate(round: &Round, earlier: &[Round], options: &[OptionId]) -> Vec<OptionId> {
    let zeros: Vec<OptionId> = round
        .counts
        .iter()
        .filter(|(_, &v)| v == 0)
        .map(|(&o, _)| o)
        .collect();
    if !zeros.is_empty() {
        return zeros;
    }
    let fewest = *round.counts.values().min().expect("a round has options");
    let mut tied: Vec<OptionId> = round
        .counts
        .iter()
        .filter(|(_, &v)| v == fewest)
        .map(|(&o, _)| o)
        .collect();
    // Backwards: the most recent earlier round first. Every tied option was continuing in
    // every earlier round, so each has a count there.
    for previous in earlier.iter().rev() {
        if tied.len() == 1 {
            break;
        }
        let count = |o: &OptionId| previous.counts.get(o).copied().unwrap_or(0);
        let least = tied.iter().map(count).min().expect("tied is never empty");
        tied.retain(|o| count(o) == least);
    }
    let position = |o: &OptionId| options.iter().position(|x| x == o);
    let last = tied
        .into_iter()
        .max_by_key(position)
        .expect("tied is never empty");
    vec![last]
}

#[cfg(test)]
mod tests;
