use std::collections::HashMap;

use proptest::prelude::*;

use super::*;
use crate::domain::test_support::{option, poll};

fn ballot(bytes: &str) -> Ballot {
    Ballot::from_bytes(bytes.as_bytes()).unwrap()
}

#[test]
fn tally_from_dictionary_fields_lists_every_option() {
    let poll = poll(PollKind::Single, 3);
    let tally = Tally::from_fields(&poll, [("o1", 4), ("_ballots", 5), ("o3", 1)]);
    assert_eq!(tally.ballots, 5);
    assert_eq!(
        tally.counts,
        BTreeMap::from([(option(1), 4), (option(2), 0), (option(3), 1)])
    );
}

#[test]
fn tally_ignores_foreign_fields_and_reads_negative_counts_as_zero() {
    let poll = poll(PollKind::Single, 2);
    let tally = Tally::from_fields(&poll, [("o9", 4), ("junk", 7), ("o2", -1)]);
    assert_eq!(tally, Tally::empty(&poll));
}

#[test]
fn multi_ballot_counts_every_chosen_option() {
    let poll = poll(PollKind::Multi, 3);
    let tally = Tally::count(&poll, &[ballot("o1,o2"), ballot("o2")]);
    assert_eq!(tally.ballots, 2);
    assert_eq!(
        (tally.count_of(option(1)), tally.count_of(option(2))),
        (1, 2)
    );
}

#[test]
fn ranked_ballot_counts_its_first_preference_only() {
    let poll = poll(PollKind::Ranked, 3);
    let tally = Tally::count(&poll, &[ballot("o3,o1,o2")]);
    assert_eq!(tally.count_of(option(3)), 1);
    assert_eq!(tally.count_of(option(1)), 0);
}

#[test]
fn first_vote_adds_a_ballot_and_its_options() {
    let d = delta(PollKind::Multi, None, &ballot("o1,o2"));
    assert_eq!(d.ballots, 1);
    assert_eq!(d.options, BTreeMap::from([(option(1), 1), (option(2), 1)]));
}

#[test]
fn revote_moves_only_what_changed() {
    let d = delta(PollKind::Multi, Some(&ballot("o1,o2")), &ballot("o2,o3"));
    assert_eq!(d.ballots, 0);
    assert_eq!(d.options, BTreeMap::from([(option(1), -1), (option(3), 1)]));
}

#[test]
fn ranked_revote_that_keeps_the_first_preference_changes_no_counter() {
    let d = delta(PollKind::Ranked, Some(&ballot("o1,o2")), &ballot("o1,o3"));
    assert!(d.is_empty());
}

proptest! {
    /// Applying the deltas of any sequence of votes and revotes gives the recount of the final
    /// ballots: the incremental tally and the from-scratch one never drift apart.
    #[test]
    fn incremental_deltas_agree_with_a_recount(
        kind in prop_oneof![Just(PollKind::Single), Just(PollKind::Multi), Just(PollKind::Ranked)],
        votes in prop::collection::vec(
            (0u8..5, prop::sample::subsequence(vec![1u16, 2, 3, 4], 1..=4).prop_shuffle()),
            0..40,
        ),
    ) {
        let poll = poll(kind, 4);
        let mut stored: HashMap<u8, Ballot> = HashMap::new();
        let mut counters: HashMap<String, i64> = HashMap::new();
        for (voter, picks) in votes {
            let picks = if kind == PollKind::Single { &picks[..1] } else { &picks[..] };
            let text: Vec<String> = picks.iter().map(|n| option(*n).to_string()).collect();
            let new = ballot(&text.join(","));
            let d = delta(kind, stored.get(&voter), &new);
            *counters.entry(BALLOTS_FIELD.to_owned()).or_default() += d.ballots;
            for (id, n) in d.options {
                *counters.entry(id.to_string()).or_default() += n;
                prop_assert!(counters[&id.to_string()] >= 0);
            }
            stored.insert(voter, new);
        }
        let incremental =
            Tally::from_fields(&poll, counters.iter().map(|(k, v)| (k.as_str(), *v)));
        prop_assert_eq!(incremental, Tally::count(&poll, stored.values()));
    }
}
