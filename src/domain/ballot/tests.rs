use proptest::prelude::*;

use super::*;
use crate::domain::lifecycle::{Event, PollState};
use crate::domain::test_support::{at, new_poll, option, poll};
use crate::domain::NewPoll;

/// A poll of `kind` with `n` options, open from `at(0)` until `at(60)`.
fn open_poll(kind: PollKind, n: usize) -> Poll {
    let poll = NewPoll {
        closes_at: Some(at(60)),
        ..new_poll(kind, n)
    }
    .validate(PollId::parse("p7Kx2").unwrap(), at(-1))
    .unwrap();
    poll.apply(&Event::Open, at(0)).unwrap()
}

fn vote(choices: &[&str]) -> VoteMessage {
    let text = serde_json::json!({"poll_id": "p7Kx2", "choices": choices}).to_string();
    VoteMessage::parse(&text).unwrap()
}

fn check(poll: &Poll, choices: &[&str]) -> Result<Ballot, Rejection> {
    Ballot::validate(poll, &vote(choices), VoteTiming::at(at(1)))
}

#[test]
fn vote_message_parses_the_documented_shape() {
    let message = VoteMessage::parse(r#"{"poll_id":"p7Kx2","choices":["o1"]}"#).unwrap();
    assert_eq!(message.poll_id().as_str(), "p7Kx2");
    assert_eq!(message.answer(), &Answer::Choices(vec!["o1".to_owned()]));
}

#[test]
fn vote_message_ignores_unknown_fields() {
    let text = r#"{"poll_id":"p7Kx2","choices":["o1"],"client":"web/1.2"}"#;
    assert!(VoteMessage::parse(text).is_ok());
}

#[test]
fn vote_message_over_four_kilobytes_is_refused_before_decoding() {
    let padding = " ".repeat(MAX_VOTE_MESSAGE_BYTES);
    let text = format!(r#"{{"poll_id":"p7Kx2","choices":["o1"]}}{padding}"#);
    assert_eq!(VoteMessage::parse(&text).unwrap_err().reason(), "too_large");
    let fits = format!(
        r#"{{"poll_id":"p7Kx2","choices":["o1"]}}{}"#,
        " ".repeat(MAX_VOTE_MESSAGE_BYTES - 36)
    );
    assert_eq!(fits.len(), MAX_VOTE_MESSAGE_BYTES);
    assert!(VoteMessage::parse(&fits).is_ok());
}

#[test]
fn vote_message_of_the_wrong_shape_is_malformed() {
    for text in [
        "",
        "o1",
        "[]",
        r#"{"poll_id":"p7Kx2"}"#,
        r#"{"choices":["o1"]}"#,
        r#"{"poll_id":"p7Kx2","choices":"o1"}"#,
        r#"{"poll_id":"p7Kx2","choices":[1]}"#,
        r#"{"poll_id":"bad id","choices":["o1"]}"#,
        r#"{"poll_id":7,"choices":["o1"]}"#,
    ] {
        let rejection = VoteMessage::parse(text).unwrap_err();
        assert_eq!(rejection.reason(), "malformed", "{text:?}");
    }
}

#[test]
fn voter_comes_from_a_token_for_the_same_poll() {
    let message = vote(&["o1"]);
    assert_eq!(message.voter("p7Kx2:ada").unwrap().as_str(), "ada");
    assert_eq!(message.voter(""), Err(Rejection::MissingToken));
    assert_eq!(
        message.voter("nocolon").unwrap_err().reason(),
        "invalid_token"
    );
    assert_eq!(
        message.voter("other:ada"),
        Err(Rejection::WrongPoll {
            token_poll: PollId::parse("other").unwrap(),
            message_poll: PollId::parse("p7Kx2").unwrap(),
        })
    );
}

#[test]
fn single_poll_takes_exactly_one_choice() {
    let poll = open_poll(PollKind::Single, 3);
    assert_eq!(check(&poll, &["o2"]).unwrap().choices(), [option(2)]);
    assert_eq!(
        check(&poll, &[]),
        Err(Rejection::TooFewChoices { min: 1, got: 0 })
    );
    assert_eq!(
        check(&poll, &["o1", "o2"]),
        Err(Rejection::TooManyChoices { max: 1, got: 2 })
    );
}

#[test]
fn multi_poll_takes_up_to_max_choices_distinct_options_in_canonical_order() {
    let poll = NewPoll {
        max_choices: Some(2),
        closes_at: Some(at(60)),
        ..new_poll(PollKind::Multi, 3)
    }
    .validate(PollId::parse("p7Kx2").unwrap(), at(-1))
    .unwrap()
    .apply(&Event::Open, at(0))
    .unwrap();
    let ballot = check(&poll, &["o3", "o1"]).unwrap();
    assert_eq!(ballot.choices(), [option(1), option(3)]);
    assert_eq!(
        check(&poll, &["o1", "o2", "o3"]).unwrap_err().reason(),
        "too_many_choices"
    );
    assert_eq!(
        check(&poll, &["o1", "o1"]),
        Err(Rejection::DuplicateChoice { choice: option(1) })
    );
}

#[test]
fn ranked_poll_keeps_the_ranking_order() {
    let poll = open_poll(PollKind::Ranked, 4);
    let ballot = check(&poll, &["o3", "o1", "o4"]).unwrap();
    assert_eq!(ballot.choices(), [option(3), option(1), option(4)]);
    assert!(check(&poll, &["o1", "o2", "o3", "o4"]).is_ok());
    assert_eq!(
        check(&poll, &["o2", "o2"]).unwrap_err().reason(),
        "duplicate_choice"
    );
}

#[test]
fn choice_that_is_not_an_option_is_unknown() {
    let poll = open_poll(PollKind::Ranked, 3);
    for bad in ["o4", "o0", "pizza", ""] {
        assert_eq!(
            check(&poll, &["o1", bad]),
            Err(Rejection::UnknownOption {
                choice: bad.to_owned()
            }),
            "{bad:?}"
        );
    }
}

#[test]
fn vote_for_a_poll_that_is_not_open_is_rejected() {
    let draft = poll(PollKind::Single, 2);
    assert_eq!(
        check(&draft, &["o1"]),
        Err(Rejection::PollNotOpen {
            state: PollState::Draft
        })
    );
    let closed = open_poll(PollKind::Single, 2)
        .apply(&Event::Close, at(1))
        .unwrap();
    assert_eq!(
        check(&closed, &["o1"]).unwrap_err().reason(),
        "poll_not_open"
    );
}

#[test]
fn vote_cast_after_closes_at_is_rejected_before_the_scheduler_closes_the_poll() {
    let poll = open_poll(PollKind::Single, 2);
    assert!(Ballot::validate(&poll, &vote(&["o1"]), VoteTiming::at(at(59))).is_ok());
    assert_eq!(
        Ballot::validate(&poll, &vote(&["o1"]), VoteTiming::at(at(60))),
        Err(Rejection::PollNotOpen {
            state: PollState::Closed
        })
    );
}

#[test]
fn a_vote_cast_while_open_counts_when_judged_within_the_grace_window_after_the_close() {
    let closed = open_poll(PollKind::Single, 2)
        .apply(&Event::Close, at(10))
        .unwrap();
    let timing = |cast, judged| VoteTiming {
        cast_at: at(cast),
        judged_at: at(judged),
        close_grace: chrono::Duration::minutes(1),
    };
    let judge = |poll: &Poll, cast, judged| {
        Ballot::validate(poll, &vote(&["o1"]), timing(cast, judged)).map_err(|r| match r {
            Rejection::PollNotOpen { state } => state,
            other => panic!("{other}"),
        })
    };

    // Cast before the (early) close, judged up to a minute after it.
    assert!(judge(&closed, 9, 10).is_ok());
    assert!(judge(&closed, 9, 11).is_ok());
    assert_eq!(judge(&closed, 9, 12), Err(PollState::Closed));
    // Cast at or after the close.
    assert_eq!(judge(&closed, 10, 10), Err(PollState::Closed));
    // Cast before the poll opened.
    assert_eq!(judge(&closed, -1, 10), Err(PollState::Scheduled));
    // Archiving ends the grace window.
    let archived = closed.apply(&Event::Archive, at(10)).unwrap();
    assert_eq!(judge(&archived, 9, 10), Err(PollState::Archived));
    // The clock's close (closes_at reached, not yet stored) is judged the same way.
    let open = open_poll(PollKind::Single, 2);
    assert!(judge(&open, 59, 61).is_ok());
    assert_eq!(judge(&open, 59, 62), Err(PollState::Closed));
}

#[test]
fn a_vote_published_in_the_millisecond_its_poll_opened_counts() {
    let opened_at = at(0) + chrono::Duration::microseconds(123_456);
    let poll = open_poll(PollKind::Single, 2)
        .apply(&Event::Close, at(1))
        .unwrap();
    let poll = Poll {
        opens_at: Some(opened_at),
        ..poll
    };
    let cast = |ms: i64| VoteTiming {
        cast_at: at(0) + chrono::Duration::milliseconds(ms),
        judged_at: at(1),
        close_grace: chrono::Duration::minutes(1),
    };
    assert!(Ballot::validate(&poll, &vote(&["o1"]), cast(123)).is_ok());
    assert_eq!(
        Ballot::validate(&poll, &vote(&["o1"]), cast(122)),
        Err(Rejection::PollNotOpen {
            state: PollState::Scheduled
        })
    );
}

#[test]
fn message_for_another_poll_than_the_one_loaded_is_unknown_poll() {
    let poll = open_poll(PollKind::Single, 2);
    let message = VoteMessage::parse(r#"{"poll_id":"other","choices":["o1"]}"#).unwrap();
    assert_eq!(
        Ballot::validate(&poll, &message, VoteTiming::at(at(1)))
            .unwrap_err()
            .reason(),
        "unknown_poll"
    );
}

#[test]
fn stored_ballot_is_comma_separated_option_ids() {
    let poll = open_poll(PollKind::Ranked, 3);
    let ballot = check(&poll, &["o3", "o1"]).unwrap();
    assert_eq!(ballot.to_bytes(), b"o3,o1");
    assert_eq!(Ballot::from_bytes(b"o3,o1").unwrap(), ballot);
}

#[test]
fn multi_ballots_with_the_same_options_store_the_same_bytes() {
    let poll = open_poll(PollKind::Multi, 3);
    let a = check(&poll, &["o2", "o1"]).unwrap().to_bytes();
    let b = check(&poll, &["o1", "o2"]).unwrap().to_bytes();
    assert_eq!(a, b);
}

#[test]
fn stored_ballot_that_pollcast_did_not_write_does_not_decode() {
    assert_eq!(Ballot::from_bytes(&[0xff]), Err(StoredBallotError::NotUtf8));
    assert_eq!(
        Ballot::from_bytes(b"o1,o1"),
        Err(StoredBallotError::Duplicate)
    );
    for bad in [&b""[..], b"o1, o2", b"o1,", b"[\"o1\"]"] {
        assert!(
            matches!(
                Ballot::from_bytes(bad),
                Err(StoredBallotError::BadOption(_))
            ),
            "{bad:?}"
        );
    }
}

#[test]
fn every_rejection_has_a_distinct_listed_reason() {
    let mut reasons = Rejection::REASONS.to_vec();
    reasons.sort_unstable();
    reasons.dedup();
    assert_eq!(reasons.len(), Rejection::REASONS.len());
    let examples = [
        Rejection::TooLarge { bytes: 5000 },
        Rejection::Malformed {
            detail: String::new(),
        },
        Rejection::MissingToken,
        Rejection::InvalidToken(IdError::MissingSeparator),
        Rejection::UnknownPoll {
            poll_id: PollId::parse("x").unwrap(),
        },
        Rejection::AlreadyVoted,
        Rejection::PollFull { max_voters: 3 },
    ];
    for rejection in examples {
        assert!(Rejection::REASONS.contains(&rejection.reason()));
    }
}

proptest! {
    #[test]
    fn any_text_parses_or_is_rejected_without_panicking(text in "\\PC{0,200}") {
        if let Err(rejection) = VoteMessage::parse(&text) {
            prop_assert!(Rejection::REASONS.contains(&rejection.reason()));
        }
    }

    #[test]
    fn accepted_ballots_obey_the_poll_and_round_trip_through_bytes(
        kind in prop_oneof![Just(PollKind::Single), Just(PollKind::Multi), Just(PollKind::Ranked)],
        n in 2usize..=8,
        picks in prop::collection::vec(0u16..10, 0..10),
    ) {
        let poll = open_poll(kind, n);
        let choices: Vec<String> = picks.iter().map(|p| format!("o{p}")).collect();
        let refs: Vec<&str> = choices.iter().map(String::as_str).collect();
        if let Ok(ballot) = check(&poll, &refs) {
            let (min, max) = poll.choice_bounds();
            prop_assert!((min..=max).contains(&ballot.choices().len()));
            prop_assert!(ballot.choices().iter().all(|&id| poll.option(id).is_some()));
            prop_assert_eq!(Ballot::from_bytes(&ballot.to_bytes()), Ok(ballot.clone()));
            if kind == PollKind::Ranked {
                prop_assert_eq!(ballot.to_string(), choices.join(","));
            }
        }
    }
}
