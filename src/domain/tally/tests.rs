use super::*;
use crate::domain::test_support::{option, poll};

fn ballot(bytes: &str) -> Ballot {
    Ballot::from_bytes(bytes.as_bytes()).unwrap()
}

#[test]
fn multi_ballot_counts_every_chosen_option() {
    let poll = poll(PollKind::Multi, 3);
    let tally = Tally::count(&poll, &[ballot("o1,o2"), ballot("o2")]);
    assert_eq!(tally.ballots, 2);
    assert_eq!((tally.counts[&option(1)], tally.counts[&option(2)]), (1, 2));
}

#[test]
fn ranked_ballot_counts_its_first_preference_only() {
    let poll = poll(PollKind::Ranked, 3);
    let tally = Tally::count(&poll, &[ballot("o3,o1,o2")]);
    assert_eq!(tally.counts[&option(3)], 1);
    assert_eq!(tally.counts[&option(1)], 0);
}
