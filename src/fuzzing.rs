//! Entry points for the fuzzer (`fuzz/`, cargo-fuzz) and their proptest twins (the tests
//! below, run by `scripts/test`): each feeds arbitrary input to the real code a hostile client
//! reaches, which must answer without panicking. The local Momento's own (voter tokens, the
//! HTTP topics API, journal recovery) are `local_momento::fuzzing`.
//!
//! - [`webhook`]: a webhook call's body and `momento-signature`, checked as the endpoint does;
//!   the same body signed with the right secret too, so the payload's parsing and the replay
//!   window are reached.
//! - [`vote_message`]: a vote message and its publisher's `token_id`, judged against an open
//!   poll of every kind, as the pipeline does.
//! - [`rest_bodies`]: a request body read as every REST body type (and a poll's validated).
//!
//! Not part of the API: hidden from the docs, kept stable only for `fuzz/`.

use std::sync::OnceLock;
use std::time::Duration;

use chrono::{DateTime, TimeZone, Utc};
use secrecy::SecretString;

use crate::domain::{Ballot, Event, NewPoll, Poll, PollId, PollKind, Scale, VoteMessage};
use crate::ingest::webhook::{sign, Verifier};

/// The signing secret of the fuzzed verifier.
const SECRET: &str = "whsec_fuzzing_secret_0123456789";

/// A webhook call: `body` with `signature`, then `body` rightly signed.
pub fn webhook(signature: Option<&str>, body: &[u8]) {
    static VERIFIER: OnceLock<Verifier> = OnceLock::new();
    let verifier = VERIFIER.get_or_init(|| {
        Verifier::new(
            SecretString::from(SECRET),
            Duration::from_secs(60),
            Duration::from_secs(5),
        )
    });
    let now = Utc::now();
    let _ = verifier.verify(signature, body, now);
    if let Ok(event) = verifier.verify(Some(&sign(SECRET, body)), body, now) {
        let _ = (event.token_id(), event.text(), event.published_at());
    }
}

/// An open poll of each kind, opened at a fixed time.
fn polls() -> &'static [Poll] {
    static POLLS: OnceLock<Vec<Poll>> = OnceLock::new();
    POLLS.get_or_init(|| {
        let created = Utc
            .timestamp_opt(1_767_225_600, 0)
            .single()
            .expect("a time");
        let options = |n: usize| (1..=n).map(|i| format!("Option {i}")).collect();
        let kinds = [
            (PollKind::Single, options(3), None, None),
            (PollKind::Multi, options(4), Some(2), None),
            (PollKind::Ranked, options(4), None, None),
            (
                PollKind::Rating,
                Vec::new(),
                None,
                Some(Scale {
                    min: 1,
                    max: 5,
                    min_label: None,
                    max_label: None,
                }),
            ),
            (PollKind::OpenText, Vec::new(), None, None),
        ];
        kinds
            .into_iter()
            .map(|(kind, options, max_choices, scale)| {
                let poll = NewPoll {
                    title: "Fuzz?".into(),
                    kind,
                    options,
                    max_choices,
                    scale,
                    max_entries: (kind == PollKind::OpenText).then_some(3),
                    ..NewPoll::default()
                }
                .validate(PollId::parse("pFuzz1").expect("an id"), created)
                .expect("a valid poll");
                poll.apply(&Event::Open, created).expect("a draft opens")
            })
            .collect()
    })
}

/// A vote `text` from `token_id`, judged against an open poll of every kind at `cast_ms`.
pub fn vote_message(text: &str, token_id: &str, cast_ms: i64) {
    let Ok(message) = VoteMessage::parse(text) else {
        return;
    };
    let _ = message.voter(token_id);
    let opened = Utc
        .timestamp_opt(1_767_225_600, 0)
        .single()
        .expect("a time");
    let cast_at: DateTime<Utc> = Utc.timestamp_millis_opt(cast_ms).single().unwrap_or(opened);
    for poll in polls() {
        let timing = crate::domain::VoteTiming {
            cast_at,
            judged_at: opened + chrono::Duration::minutes(1),
            close_grace: chrono::Duration::seconds(60),
        };
        if let Ok(ballot) = Ballot::validate(poll, &message, timing) {
            let stored = ballot.to_bytes();
            let _ = Ballot::from_bytes(&stored);
        }
    }
}

/// `body` as every REST request body; a poll's is validated as creating it would.
pub fn rest_bodies(body: &[u8]) {
    crate::api::fuzz_bodies(body);
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    proptest! {
        #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

        #[test]
        fn any_webhook_call_is_checked_without_panicking(
            signature in proptest::option::of("[0-9a-fA-F ]{0,70}"),
            body in proptest::collection::vec(any::<u8>(), 0..400),
            fields in (any::<i64>(), any::<i64>(), any::<u64>(), ".{0,20}", ".{0,40}"),
        ) {
            webhook(signature.as_deref(), &body);
            let (event_ms, publish_ms, seq, token_id, text) = fields;
            let event = serde_json::json!({
                "cache": "pollcast", "topic": "votes", "event_timestamp": event_ms,
                "publish_timestamp": publish_ms, "topic_sequence_number": seq,
                "token_id": token_id, "text": text,
            });
            webhook(None, event.to_string().as_bytes());
        }

        #[test]
        fn any_vote_message_is_judged_without_panicking(
            text in ".{0,200}",
            token_id in "(pFuzz1|p[a-zA-Z0-9]{0,8}|):[a-zA-Z0-9._@+-]{0,50}",
            cast_ms in any::<i64>(),
            choices in proptest::collection::vec("o[0-9]{0,3}|[a-z]{0,3}", 0..6),
            value in any::<f64>(),
            texts in proptest::collection::vec(".{0,30}", 0..5),
        ) {
            vote_message(&text, &token_id, cast_ms);
            let shaped = serde_json::json!({
                "poll_id": "pFuzz1", "choices": choices, "value": value, "texts": texts,
            });
            vote_message(&shaped.to_string(), &token_id, cast_ms);
        }

        #[test]
        fn any_rest_body_is_read_without_panicking(
            body in proptest::collection::vec(any::<u8>(), 0..300),
            title in ".{0,250}",
            options in proptest::collection::vec(".{0,30}", 0..40),
            numbers in proptest::collection::vec(any::<i64>(), 4),
        ) {
            rest_bodies(&body);
            let poll = serde_json::json!({
                "title": title, "options": options, "max_choices": numbers[0],
                "max_voters": numbers[1], "challenge": "pow", "challenge_difficulty": numbers[2],
                "scale": {"min": numbers[3], "max": numbers[0]}, "kind": "rating",
            });
            rest_bodies(poll.to_string().as_bytes());
        }
    }
}
