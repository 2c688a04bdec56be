//! The checks of the answers beyond choice: a rating's value, an open-text ballot's entries.
//!
//! Entries are normalised as poll texts are ([`normalise`]: NFC, invisible characters dropped,
//! trimmed) and then checked, in this order: the number of entries, then each entry (empty,
//! control characters including line breaks and bidi controls, length in characters), then
//! repeats (ignoring case), so the first broken rule names the entry.

use std::collections::HashSet;

use super::super::poll::{Poll, PollKind};
use super::super::validation::{is_bidi_control, normalise};
use super::Rejection;

/// What a poll of `kind` takes: `choices`, `value` or `texts`.
pub fn expected(kind: PollKind) -> &'static str {
    match kind {
        PollKind::Single | PollKind::Multi | PollKind::Ranked => "choices",
        PollKind::Rating => "value",
        PollKind::OpenText => "texts",
    }
}

/// A rating: a whole number (`4`, or `4.0`, which JSON cannot tell from it) on the scale.
pub fn rating(poll: &Poll, value: &serde_json::Value) -> Result<i64, Rejection> {
    let whole = value
        .as_i64()
        .or_else(|| {
            value
                .as_f64()
                .filter(|f| f.fract() == 0.0 && f.abs() < 1e15)
                .map(|f| f as i64)
        })
        .ok_or_else(|| Rejection::NotAnInteger {
            value: value.to_string(),
        })?;
    let scale = poll.scale().expect("a rating poll has a scale");
    if !scale.contains(whole) {
        return Err(Rejection::OutOfScale {
            value: whole,
            min: scale.min,
            max: scale.max,
        });
    }
    Ok(whole)
}

/// An open-text ballot's entries, normalised and checked.
pub fn texts(poll: &Poll, sent: &[String]) -> Result<Vec<String>, Rejection> {
    let max_entries = poll.max_entries().unwrap_or(1);
    let max_length = poll.max_length().unwrap_or(0);
    if sent.is_empty() {
        return Err(Rejection::EmptyEntry { index: 0 });
    }
    if sent.len() > max_entries as usize {
        return Err(Rejection::TooManyEntries {
            max: max_entries,
            got: sent.len(),
        });
    }
    let mut texts = Vec::with_capacity(sent.len());
    let mut seen = HashSet::new();
    for (index, raw) in sent.iter().enumerate() {
        let text = normalise(raw);
        if text.is_empty() {
            return Err(Rejection::EmptyEntry { index });
        }
        if text.chars().any(|c| c.is_control() || is_bidi_control(c)) {
            return Err(Rejection::ControlCharacter { index });
        }
        let chars = text.chars().count();
        if chars > max_length as usize {
            return Err(Rejection::EntryTooLong {
                index,
                chars,
                max: max_length,
            });
        }
        if !seen.insert(text.to_lowercase()) {
            return Err(Rejection::DuplicateEntry { index });
        }
        texts.push(text);
    }
    Ok(texts)
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;
    use serde_json::json;

    use super::super::{Ballot, VoteMessage, VoteTiming};
    use super::*;
    use crate::domain::lifecycle::Event;
    use crate::domain::test_support::at;
    use crate::domain::{NewPoll, PollId, Scale};

    fn open(new: NewPoll) -> Poll {
        let poll = new
            .validate(PollId::parse("p7Kx2").unwrap(), at(-1))
            .unwrap();
        poll.apply(&Event::Open, at(0)).unwrap()
    }

    fn rating_poll() -> Poll {
        open(NewPoll {
            title: "How was it?".into(),
            kind: PollKind::Rating,
            scale: Some(Scale {
                min: 1,
                max: 5,
                min_label: None,
                max_label: None,
            }),
            ..NewPoll::default()
        })
    }

    fn text_poll(max_length: u32, max_entries: u32) -> Poll {
        open(NewPoll {
            title: "One word?".into(),
            kind: PollKind::OpenText,
            max_length: Some(max_length),
            max_entries: Some(max_entries),
            ..NewPoll::default()
        })
    }

    fn check(poll: &Poll, message: serde_json::Value) -> Result<Ballot, Rejection> {
        let message = VoteMessage::parse(&message.to_string())?;
        Ballot::validate(poll, &message, VoteTiming::at(at(1)))
    }

    #[test]
    fn a_rating_is_a_whole_number_on_the_scale() {
        let poll = rating_poll();
        let ok = check(&poll, json!({"poll_id": "p7Kx2", "value": 4})).unwrap();
        assert_eq!((ok.value(), ok.to_bytes()), (Some(4), b"v4".to_vec()));
        assert_eq!(
            check(&poll, json!({"poll_id": "p7Kx2", "value": 4.0}))
                .unwrap()
                .value(),
            Some(4)
        );
        let reason = |v: serde_json::Value| {
            check(&poll, json!({"poll_id": "p7Kx2", "value": v}))
                .unwrap_err()
                .reason()
        };
        assert_eq!(reason(json!(6)), "out_of_scale");
        assert_eq!(reason(json!(0)), "out_of_scale");
        assert_eq!(reason(json!(3.5)), "not_an_integer");
        assert_eq!(reason(json!("4")), "not_an_integer");
        let texts = check(&poll, json!({"poll_id": "p7Kx2", "texts": ["4"]}));
        assert_eq!(texts.unwrap_err().reason(), "wrong_kind");
        let choices = check(&poll, json!({"poll_id": "p7Kx2", "choices": ["o1"]}));
        assert_eq!(choices.unwrap_err().reason(), "wrong_kind");
    }

    #[test]
    fn entries_are_normalised_and_checked_in_order() {
        let poll = text_poll(10, 2);
        let ok = check(
            &poll,
            json!({"poll_id": "p7Kx2", "texts": ["  Cafe\u{301} ", "Rust"]}),
        )
        .unwrap();
        assert_eq!(ok.texts(), ["Café", "Rust"]);
        assert_eq!(Ballot::from_bytes(&ok.to_bytes()), Ok(ok.clone()));
        let reason = |texts: serde_json::Value| {
            check(&poll, json!({"poll_id": "p7Kx2", "texts": texts}))
                .unwrap_err()
                .reason()
        };
        assert_eq!(reason(json!([])), "empty_entry");
        assert_eq!(reason(json!(["  "])), "empty_entry");
        assert_eq!(reason(json!(["a", "b", "c"])), "too_many_entries");
        assert_eq!(reason(json!(["eleven chars"])), "entry_too_long");
        assert_eq!(reason(json!(["a\nb"])), "control_character");
        assert_eq!(reason(json!(["a\u{202E}b"])), "control_character");
        assert_eq!(reason(json!(["Rust", "rust"])), "duplicate_entry");
        let value = check(&poll, json!({"poll_id": "p7Kx2", "value": 3}));
        assert_eq!(value.unwrap_err().reason(), "wrong_kind");
        let mixed = VoteMessage::parse(r#"{"poll_id":"p7Kx2","value":3,"texts":["a"]}"#);
        assert_eq!(mixed.unwrap_err().reason(), "mixed_ballot");
    }

    proptest! {
        #[test]
        fn accepted_entries_obey_the_poll_and_round_trip_through_bytes(
            texts in prop::collection::vec("\\PC{0,12}", 0..4),
            max_length in 1u32..=12,
            max_entries in 1u32..=3,
        ) {
            let poll = text_poll(max_length, max_entries);
            if let Ok(ballot) = check(&poll, json!({"poll_id": "p7Kx2", "texts": texts})) {
                prop_assert!(!ballot.texts().is_empty());
                prop_assert!(ballot.texts().len() <= max_entries as usize);
                for text in ballot.texts() {
                    prop_assert!(!text.is_empty() && text.chars().count() <= max_length as usize);
                    prop_assert!(!text.chars().any(char::is_control));
                }
                prop_assert_eq!(Ballot::from_bytes(&ballot.to_bytes()), Ok(ballot.clone()));
            }
        }

        #[test]
        fn accepted_ratings_lie_on_the_scale(value in -10i64..20) {
            let poll = rating_poll();
            match check(&poll, json!({"poll_id": "p7Kx2", "value": value})) {
                Ok(ballot) => prop_assert!((1..=5).contains(&ballot.value().unwrap())),
                Err(r) => prop_assert_eq!(r.reason(), "out_of_scale"),
            }
        }
    }
}
