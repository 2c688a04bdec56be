use serde_json::json;

use super::*;
use crate::domain::test_support::{at, new_poll, option, poll};
use crate::domain::validation::Rule;

fn id() -> PollId {
    PollId::parse("p7Kx2").unwrap()
}

fn rejected(submission: NewPoll) -> ValidationErrors {
    submission.validate(id(), at(0)).unwrap_err()
}

#[test]
fn valid_submission_becomes_a_draft_poll_with_numbered_options() {
    let poll = NewPoll {
        title: "  Lunch?  ".to_owned(),
        description: Some("  ".to_owned()),
        options: vec![" Pizza".to_owned(), "Sushi ".to_owned()],
        ..NewPoll::default()
    }
    .validate(id(), at(0))
    .unwrap();

    assert_eq!(poll.title(), "Lunch?");
    assert_eq!(poll.description(), None);
    assert_eq!(poll.state(), PollState::Draft);
    assert_eq!(poll.version(), 1);
    assert_eq!(poll.created_at(), at(0));
    assert_eq!(
        poll.options(),
        [
            PollOption {
                id: option(1),
                label: "Pizza".to_owned()
            },
            PollOption {
                id: option(2),
                label: "Sushi".to_owned()
            }
        ]
    );
}

#[test]
fn submission_with_opens_at_starts_scheduled() {
    let poll = NewPoll {
        opens_at: Some(at(10)),
        closes_at: Some(at(70)),
        ..new_poll(PollKind::Single, 2)
    }
    .validate(id(), at(0))
    .unwrap();
    assert_eq!(poll.state(), PollState::Scheduled);
    assert_eq!(poll.opens_at(), Some(at(10)));
}

#[test]
fn multi_poll_max_choices_defaults_to_the_number_of_options() {
    let poll = new_poll(PollKind::Multi, 4).validate(id(), at(0)).unwrap();
    assert_eq!(poll.max_choices(), Some(4));
    assert_eq!(poll.choice_bounds(), (1, 4));
}

#[test]
fn title_must_be_one_to_two_hundred_characters_on_one_line() {
    for (title, rule) in [
        ("   ", Rule::Required),
        (&*"é".repeat(201), Rule::TooLong),
        ("Lunch\ntoday?", Rule::ControlCharacter),
    ] {
        let errors = rejected(NewPoll {
            title: title.to_owned(),
            ..new_poll(PollKind::Single, 2)
        });
        assert!(errors.has("title", rule), "{title:?}: {errors}");
    }
    // 200 two-byte characters: counted as characters, not bytes.
    let ok = NewPoll {
        title: "é".repeat(200),
        ..new_poll(PollKind::Single, 2)
    };
    assert!(ok.validate(id(), at(0)).is_ok());
}

#[test]
fn description_allows_line_breaks_up_to_two_thousand_characters() {
    let ok = NewPoll {
        description: Some("line one\nline two\ttabbed".to_owned()),
        ..new_poll(PollKind::Single, 2)
    };
    assert!(ok.validate(id(), at(0)).is_ok());
    let errors = rejected(NewPoll {
        description: Some("x".repeat(2001)),
        ..new_poll(PollKind::Single, 2)
    });
    assert!(errors.has("description", Rule::TooLong));
}

#[test]
fn options_must_number_two_to_thirty_two() {
    assert!(rejected(new_poll(PollKind::Single, 1)).has("options", Rule::TooFew));
    assert!(rejected(new_poll(PollKind::Single, 33)).has("options", Rule::TooMany));
    assert!(new_poll(PollKind::Single, 32).validate(id(), at(0)).is_ok());
}

#[test]
fn labels_must_be_non_blank_short_and_unique_ignoring_case() {
    let errors = rejected(NewPoll {
        options: vec![
            "Pizza".to_owned(),
            " ".to_owned(),
            " pizza".to_owned(),
            "x".repeat(201),
        ],
        ..NewPoll::default()
    });
    assert!(errors.has("options[1]", Rule::Required));
    assert!(errors.has("options[2]", Rule::Duplicate));
    assert!(errors.has("options[3]", Rule::TooLong));
    assert_eq!(errors.errors().len(), 4, "{errors}"); // plus the title
}

#[test]
fn max_choices_is_only_for_multi_polls_and_within_the_options() {
    for kind in [PollKind::Single, PollKind::Ranked] {
        let errors = rejected(NewPoll {
            max_choices: Some(1),
            ..new_poll(kind, 3)
        });
        assert!(errors.has("max_choices", Rule::NotAllowed));
    }
    for bad in [0, 4] {
        let errors = rejected(NewPoll {
            max_choices: Some(bad),
            ..new_poll(PollKind::Multi, 3)
        });
        assert!(errors.has("max_choices", Rule::OutOfRange), "{bad}");
    }
}

#[test]
fn times_must_be_in_the_future_and_close_after_opening() {
    let errors = rejected(NewPoll {
        opens_at: Some(at(0)),
        closes_at: Some(at(-1)),
        ..new_poll(PollKind::Single, 2)
    });
    assert!(errors.has("opens_at", Rule::NotInFuture));
    assert!(errors.has("closes_at", Rule::NotInFuture));
    assert!(errors.has("closes_at", Rule::NotAfterOpensAt));

    let errors = rejected(NewPoll {
        opens_at: Some(at(20)),
        closes_at: Some(at(20)),
        ..new_poll(PollKind::Single, 2)
    });
    assert!(errors.has("closes_at", Rule::NotAfterOpensAt));
}

#[test]
fn max_voters_must_be_at_least_one() {
    let errors = rejected(NewPoll {
        max_voters: Some(0),
        ..new_poll(PollKind::Single, 2)
    });
    assert!(errors.has("max_voters", Rule::OutOfRange));
}

#[test]
fn every_broken_rule_is_reported_at_once() {
    let errors = rejected(NewPoll {
        title: String::new(),
        options: vec!["only".to_owned()],
        max_voters: Some(0),
        ..NewPoll::default()
    });
    let fields: Vec<_> = errors.errors().iter().map(|e| e.field.as_str()).collect();
    assert_eq!(fields, ["title", "options", "max_voters"]);
    assert_eq!(
        errors.to_string(),
        "invalid poll: title: must not be blank; options: has 1 options, fewer than 2; \
         max_voters: must be at least 1"
    );
}

#[test]
fn submission_json_uses_defaults_and_refuses_unknown_fields() {
    let submission: NewPoll =
        serde_json::from_value(json!({"title": "Lunch?", "options": ["Pizza", "Sushi"]})).unwrap();
    assert_eq!(submission.kind, PollKind::Single);
    assert_eq!(submission.results_visibility, ResultsVisibility::Live);
    assert_eq!(submission.access, Access::Open);
    assert!(!submission.allow_revote);

    let typo =
        json!({"title": "Lunch?", "options": ["a", "b"], "close_at": "2026-01-02T00:00:00Z"});
    assert!(serde_json::from_value::<NewPoll>(typo).is_err());
}

#[test]
fn stored_poll_round_trips_through_json() {
    let poll = NewPoll {
        description: Some("Friday".to_owned()),
        max_voters: Some(10),
        closes_at: Some(at(60)),
        ..new_poll(PollKind::Multi, 3)
    }
    .validate(id(), at(0))
    .unwrap();
    let text = serde_json::to_string(&poll).unwrap();
    assert_eq!(serde_json::from_str::<Poll>(&text).unwrap(), poll);
}

#[test]
fn stored_poll_that_breaks_a_rule_does_not_load() {
    let mut value = serde_json::to_value(poll(PollKind::Single, 2)).unwrap();
    value["options"][1]["id"] = json!("o1");
    value["max_choices"] = json!(1);
    let error = serde_json::from_value::<Poll>(value)
        .unwrap_err()
        .to_string();
    assert!(error.contains("option ids must be unique"), "{error}");
    assert!(
        error.contains("max_choices: is only for multi polls"),
        "{error}"
    );
}
