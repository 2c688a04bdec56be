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

mod running {
    use proptest::prelude::*;

    use super::*;
    use crate::domain::irv::instant_runoff;

    /// A ballot of `kind` over 4 options: a nonempty subset (`multi`), one option (`single`),
    /// or an ordering of some of them (`ranked`), from `seed`.
    fn some_ballot(kind: PollKind, seed: &[u8]) -> Ballot {
        let mut options: Vec<u16> = Vec::new();
        for &n in seed {
            let option = u16::from(n % 4) + 1;
            if !options.contains(&option) {
                options.push(option);
            }
        }
        let options = match kind {
            PollKind::Single => vec![options[0]],
            PollKind::Multi => {
                options.sort_unstable();
                options
            }
            PollKind::Ranked | PollKind::Rating | PollKind::OpenText => options,
        };
        let text: Vec<String> = options.iter().map(|o| format!("o{o}")).collect();
        ballot(&text.join(","))
    }

    fn kinds() -> impl Strategy<Value = PollKind> {
        prop_oneof![
            Just(PollKind::Single),
            Just(PollKind::Multi),
            Just(PollKind::Ranked)
        ]
    }

    proptest! {
        /// The changes of two votes of one voter may be applied in either order (a revote's
        /// removal of the first ballot before the first ballot's addition): once both are in,
        /// the tally is the same.
        #[test]
        fn changes_applied_out_of_order_end_in_the_same_tally(
            kind in kinds(),
            first in proptest::collection::vec(any::<u8>(), 1..5),
            second in proptest::collection::vec(any::<u8>(), 1..5),
        ) {
            let poll = poll(kind, 4);
            let (a, b) = (some_ballot(kind, &first), some_ballot(kind, &second));
            let mut in_order = RunningTally::new(&poll);
            in_order.add(&a);
            in_order.remove(&a);
            in_order.add(&b);
            let mut reversed = RunningTally::new(&poll);
            reversed.remove(&a);
            reversed.add(&b);
            reversed.add(&a);
            prop_assert_eq!(in_order.tally(), reversed.tally());
            prop_assert_eq!(reversed.tally(), Tally::count(&poll, [&b]));
        }

        /// Voters vote and revote in any order; after each step the running tally equals a
        /// count from scratch of each voter's current ballot, and for ranked polls so does the
        /// instant-runoff over its rankings.
        #[test]
        fn a_running_tally_equals_a_count_from_scratch_after_every_vote_and_revote(
            kind in kinds(),
            steps in proptest::collection::vec(
                (0..12u8, proptest::collection::vec(any::<u8>(), 1..5)),
                1..80,
            ),
        ) {
            let poll = poll(kind, 4);
            let mut running = RunningTally::new(&poll);
            let mut current: std::collections::BTreeMap<u8, Ballot> = Default::default();
            for (voter, seed) in steps {
                let new = some_ballot(kind, &seed);
                if let Some(old) = current.insert(voter, new.clone()) {
                    running.remove(&old);
                }
                running.add(&new);
                let scratch = Tally::count(&poll, current.values());
                prop_assert_eq!(running.tally(), scratch);
                if kind == PollKind::Ranked {
                    let mut from_ballots: std::collections::BTreeMap<&[OptionId], u64> =
                        Default::default();
                    for ballot in current.values() {
                        *from_ballots.entry(ballot.choices()).or_default() += 1;
                    }
                    prop_assert_eq!(
                        instant_runoff(&poll.option_ids(), running.rankings()),
                        instant_runoff(&poll.option_ids(), from_ballots)
                    );
                }
            }
        }
    }
}
