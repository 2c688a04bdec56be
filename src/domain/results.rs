//! The results payload: published on `results.{poll_id}`, served by
//! `GET /v1/polls/{id}/results` and streamed over SSE.
//!
//! For `ranked` polls `counts` are first preferences and the instant-runoff report is added
//! (`rounds`, and `winner` or `tie` beyond the bare rounds, so clients need not re-derive
//! the outcome from the rounds). `rating` polls carry [`RatingResults`] (ballots per value,
//! mean, median) and `open_text` polls [`OpenTextResults`] (the visible entries and their word
//! list); their `counts` are empty. Other kinds carry counts only; the leader is plain to see.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::ids::{OptionId, PollId};
use super::irv::{Round, Runoff};
use super::lifecycle::PollState;
use super::open_text::OpenTextResults;
use super::poll::{Poll, PollKind};
use super::rating::RatingResults;
use super::tally::Tally;

/// A snapshot of a poll's results.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Results {
    /// The poll.
    pub poll_id: PollId,
    /// The poll's state when the snapshot was taken.
    pub state: PollState,
    /// Strictly increasing per poll (assigned by the publisher), so clients drop stale
    /// snapshots.
    pub seq: u64,
    /// How many ballots are counted.
    pub ballots: u64,
    /// Votes per option id, every option present; first preferences for `ranked` polls.
    pub counts: BTreeMap<OptionId, u64>,
    /// For `ranked` polls: the instant-runoff rounds.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub rounds: Option<Vec<Round>>,
    /// For `ranked` polls: the instant-runoff winner, if any.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub winner: Option<OptionId>,
    /// For `ranked` polls: the options tied when the count ends in a tie.
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub tie: Vec<OptionId>,
    /// For `rating` polls: ballots per value, the mean and the median.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub rating: Option<RatingResults>,
    /// For `open_text` polls: the visible entries and their word list.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub open_text: Option<OpenTextResults>,
    /// When the snapshot was taken.
    pub at: DateTime<Utc>,
}

impl Results {
    /// The snapshot `seq` of `poll` from its `tally`, taken `at`.
    pub fn new(poll: &Poll, tally: &Tally, seq: u64, at: DateTime<Utc>) -> Results {
        Results {
            poll_id: poll.id().clone(),
            state: poll.state(),
            seq,
            ballots: tally.ballots,
            counts: tally.counts.clone(),
            rounds: None,
            winner: None,
            tie: Vec::new(),
            rating: (poll.kind() == PollKind::Rating).then(|| RatingResults::of(&tally.values)),
            open_text: None,
            at,
        }
    }

    /// Adds what the public sees of an `open_text` poll's entries.
    pub fn with_open_text(self, open_text: OpenTextResults) -> Results {
        Results {
            open_text: Some(open_text),
            ..self
        }
    }

    /// Adds the instant-runoff report of a `ranked` poll.
    pub fn with_runoff(self, runoff: Runoff) -> Results {
        Results {
            rounds: Some(runoff.rounds),
            winner: runoff.winner,
            tie: runoff.tie,
            ..self
        }
    }
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;
    use serde_json::json;

    use super::*;
    use crate::domain::irv::instant_runoff;
    use crate::domain::test_support::{option, poll, T0};
    use crate::domain::PollKind;

    #[test]
    fn results_serialize_to_the_documented_shape() {
        let poll = poll(PollKind::Single, 2);
        let tally = Tally {
            ballots: 4,
            counts: BTreeMap::from([(option(1), 3), (option(2), 1)]),
            values: BTreeMap::new(),
        };
        let at = chrono::Utc.timestamp_opt(T0 + 5, 0).unwrap();

        let results = Results::new(&poll, &tally, 7, at);

        assert_eq!(
            serde_json::to_value(&results).unwrap(),
            json!({
                "poll_id": poll.id().as_str(), "state": "draft", "seq": 7, "ballots": 4,
                "counts": {"o1": 3, "o2": 1}, "at": "2026-01-01T00:00:05Z"
            })
        );
    }

    #[test]
    fn ranked_results_carry_the_rounds_and_the_winner() {
        let poll = poll(PollKind::Ranked, 3);
        let (o1, o2, o3) = (option(1), option(2), option(3));
        let ballots = [(vec![o1], 2), (vec![o2], 2), (vec![o3, o1], 1)];
        let tally = Tally {
            ballots: 5,
            counts: BTreeMap::from([(o1, 2), (o2, 2), (o3, 1)]),
            values: BTreeMap::new(),
        };
        let at = chrono::Utc.timestamp_opt(T0, 0).unwrap();

        let results = Results::new(&poll, &tally, 1, at)
            .with_runoff(instant_runoff(&poll.option_ids(), ballots));

        let value = serde_json::to_value(&results).unwrap();
        assert_eq!(value["winner"], json!("o1"));
        assert_eq!(value["rounds"][1]["counts"], json!({"o1": 3, "o2": 2}));
        assert!(value.get("tie").is_none());
        let back: Results = serde_json::from_value(value).unwrap();
        assert_eq!(back, results);
    }
}
