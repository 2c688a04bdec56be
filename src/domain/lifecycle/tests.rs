use proptest::prelude::*;

use super::*;
use crate::domain::poll::{next_clock_deadline, Poll};
use crate::domain::test_support::{at, new_poll, poll};
use crate::domain::{PollId, PollKind};

use PollState::*;

/// A poll in `state` with the times a poll in that state typically has, relative to `at(0)`:
/// scheduled to open at +60 min, open since -60, closed at -60; every unclosed poll closes at
/// +120.
fn poll_in(state: PollState) -> Poll {
    let (opens_at, closes_at) = match state {
        Draft | Cancelled => (None, Some(at(120))),
        Scheduled => (Some(at(60)), Some(at(120))),
        Open => (Some(at(-60)), Some(at(120))),
        Closed | Archived => (Some(at(-120)), Some(at(-60))),
    };
    Poll {
        state,
        opens_at,
        closes_at,
        ..poll(PollKind::Single, 2)
    }
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Want {
    To(PollState),
    No(Refusal),
}
use Want::{No, To};

const NA: Want = No(Refusal::NotAllowed);
const ND: Want = No(Refusal::NothingDue);

#[test]
fn every_state_and_event_has_the_documented_outcome() {
    let columns: [(&str, Event, i64); 8] = [
        ("schedule", Event::Schedule { opens_at: at(30) }, 0),
        ("open", Event::Open, 0),
        ("close", Event::Close, 0),
        ("archive", Event::Archive, 0),
        ("cancel", Event::Cancel, 0),
        ("clock before any deadline", Event::Clock, 0),
        ("clock between opens_at and closes_at", Event::Clock, 90),
        ("clock past every deadline", Event::Clock, 180),
    ];
    #[rustfmt::skip]
    let table: [(PollState, [Want; 8]); 6] = [
        //          schedule       open      close        archive        cancel         clock0 clock90   clock180
        (Draft,     [To(Scheduled), To(Open), NA,          NA,            To(Cancelled), ND,    ND,       ND]),
        (Scheduled, [To(Scheduled), To(Open), NA,          NA,            To(Cancelled), ND,    To(Open), To(Closed)]),
        (Open,      [NA,            NA,       To(Closed),  NA,            NA,            ND,    ND,       To(Closed)]),
        (Closed,    [NA,            NA,       NA,          To(Archived),  NA,            ND,    ND,       ND]),
        (Archived,  [NA,            NA,       NA,          NA,            NA,            ND,    ND,       ND]),
        (Cancelled, [NA,            NA,       NA,          NA,            NA,            ND,    ND,       ND]),
    ];
    assert_eq!(table.map(|(s, _)| s), PollState::ALL, "one row per state");

    for (state, row) in table {
        let poll = poll_in(state);
        for ((label, event, minutes), want) in columns.iter().zip(row) {
            let got = match poll.apply(event, at(*minutes)) {
                Ok(next) => To(next.state()),
                Err(e) => {
                    assert_eq!((e.from, e.event), (state, event.kind()));
                    No(e.refusal)
                }
            };
            assert_eq!(got, want, "{state} x {label}");
        }
    }
}

#[test]
fn refused_event_reads_as_a_sentence() {
    let error = poll_in(Draft).apply(&Event::Close, at(0)).unwrap_err();
    assert_eq!(error.to_string(), "cannot close a poll that is draft");
    let error = poll_in(Open).apply(&Event::Clock, at(0)).unwrap_err();
    assert_eq!(
        error.to_string(),
        "no deadline is due for a poll that is open"
    );
}

#[test]
fn successful_transition_bumps_version_and_leaves_the_original_alone() {
    let draft = poll_in(Draft);
    let open = draft.apply(&Event::Open, at(0)).unwrap();
    assert_eq!(open.version(), draft.version() + 1);
    assert_eq!(draft.state(), Draft);
    assert_eq!(
        Poll {
            state: Draft,
            opens_at: None,
            version: 1,
            ..open
        },
        draft
    );
}

#[test]
fn opening_records_the_actual_opening_time() {
    let opened_early = poll_in(Scheduled).apply(&Event::Open, at(5)).unwrap();
    assert_eq!(opened_early.opens_at(), Some(at(5)));
    assert_eq!(opened_early.closes_at(), Some(at(120)));
}

#[test]
fn opening_after_closes_at_is_refused() {
    let error = poll_in(Draft).apply(&Event::Open, at(120)).unwrap_err();
    assert_eq!(
        error.refusal,
        Refusal::ClosesAtPassed { closes_at: at(120) }
    );
    assert!(error.to_string().contains("has passed"), "{error}");
}

#[test]
fn closing_early_records_the_actual_closing_time() {
    let closed = poll_in(Open).apply(&Event::Close, at(10)).unwrap();
    assert_eq!(closed.closes_at(), Some(at(10)));
}

#[test]
fn closing_after_a_missed_deadline_keeps_the_deadline() {
    let closed = poll_in(Open).apply(&Event::Close, at(500)).unwrap();
    assert_eq!(closed.closes_at(), Some(at(120)));
}

#[test]
fn closing_never_records_a_time_before_the_opening() {
    // Another replica, its clock ahead, opened the poll "later" than our now.
    let open = poll_in(Draft).apply(&Event::Open, at(10)).unwrap();
    let closed = open.apply(&Event::Close, at(9)).unwrap();
    assert_eq!(closed.closes_at(), Some(at(10)));
}

#[test]
fn schedule_must_be_in_the_future_and_before_closes_at() {
    let draft = poll_in(Draft);
    let past = draft.apply(&Event::Schedule { opens_at: at(0) }, at(0));
    assert_eq!(
        past.unwrap_err().refusal,
        Refusal::OpensAtNotInFuture { opens_at: at(0) }
    );
    let late = draft.apply(&Event::Schedule { opens_at: at(120) }, at(0));
    assert!(matches!(
        late.unwrap_err().refusal,
        Refusal::OpensAtNotBeforeClosesAt { .. }
    ));
}

#[test]
fn rescheduling_moves_the_opening() {
    let moved = poll_in(Scheduled)
        .apply(&Event::Schedule { opens_at: at(90) }, at(0))
        .unwrap();
    assert_eq!((moved.state(), moved.opens_at()), (Scheduled, Some(at(90))));
}

#[test]
fn clock_opens_exactly_at_opens_at_and_closes_exactly_at_closes_at() {
    let scheduled = poll_in(Scheduled);
    assert!(scheduled.apply(&Event::Clock, at(59)).is_err());
    let open = scheduled.apply(&Event::Clock, at(60)).unwrap();
    assert_eq!(open.state(), Open);
    assert_eq!(open.opens_at(), Some(at(60)));
    assert!(open.apply(&Event::Clock, at(119)).is_err());
    assert_eq!(open.apply(&Event::Clock, at(120)).unwrap().state(), Closed);
}

#[test]
fn scheduled_poll_past_both_deadlines_ends_closed_in_one_step() {
    let scheduled = poll_in(Scheduled);
    let closed = scheduled.apply(&Event::Clock, at(500)).unwrap();
    assert_eq!(closed.state(), Closed);
    assert_eq!(closed.version(), scheduled.version() + 1);
    assert_eq!(closed.times(), scheduled.times());
}

#[test]
fn next_clock_deadline_is_opening_then_closing_then_none() {
    let want = [
        (Draft, None),
        (Scheduled, Some(at(60))),
        (Open, Some(at(120))),
        (Closed, None),
        (Archived, None),
        (Cancelled, None),
    ];
    for (state, deadline) in want {
        assert_eq!(next_clock_deadline(&poll_in(state)), deadline, "{state}");
    }
    let open_ended = Poll {
        closes_at: None,
        ..poll_in(Open)
    };
    assert_eq!(next_clock_deadline(&open_ended), None);
}

#[test]
fn only_open_polls_accept_votes() {
    let accepting: Vec<_> = PollState::ALL
        .into_iter()
        .filter(|&s| accepts_votes(s))
        .collect();
    assert_eq!(accepting, [Open]);
}

#[test]
fn state_at_applies_due_deadlines_without_storing_them() {
    let open = poll_in(Open);
    assert_eq!(open.state_at(at(0)), Open);
    assert_eq!(open.state_at(at(120)), Closed);
    assert_eq!(poll_in(Scheduled).state_at(at(60)), Open);
    assert_eq!(poll_in(Draft).state_at(at(500)), Draft);
}

#[test]
fn events_and_states_serialize_in_snake_case() {
    let event = Event::Schedule { opens_at: at(0) };
    assert_eq!(
        serde_json::to_string(&event).unwrap(),
        r#"{"event":"schedule","opens_at":"2026-01-01T00:00:00Z"}"#
    );
    assert_eq!(
        serde_json::to_string(&Event::Clock).unwrap(),
        r#"{"event":"clock"}"#
    );
    for state in PollState::ALL {
        assert_eq!(
            serde_json::to_string(&state).unwrap(),
            format!("\"{}\"", state.as_str())
        );
    }
}

// ---- Property tests against a reference model --------------------------------------------

/// The reference model: states as strings, times as whole minutes, rules as plain `if`s.
/// Written independently of `transition`, from the module documentation.
#[derive(Debug, Clone, PartialEq)]
struct Model {
    state: &'static str,
    opens: Option<i64>,
    closes: Option<i64>,
}

#[derive(Debug, Clone, Copy)]
enum Step {
    Schedule(i64),
    Open,
    Close,
    Archive,
    Cancel,
    Clock,
}

fn model(m: &Model, step: Step, now: i64) -> Option<Model> {
    let before_opening = m.state == "draft" || m.state == "scheduled";
    let closes_passed = m.closes.is_some_and(|c| now >= c);
    let mut next = m.clone();
    match step {
        Step::Schedule(t) if before_opening && t > now && m.closes.is_none_or(|c| t < c) => {
            next.state = "scheduled";
            next.opens = Some(t);
        }
        Step::Open if before_opening && !closes_passed => {
            next.state = "open";
            next.opens = Some(now);
        }
        Step::Close if m.state == "open" => {
            next.state = "closed";
            let mut end = if closes_passed {
                m.closes.unwrap()
            } else {
                now
            };
            if let Some(o) = m.opens {
                end = end.max(o);
            }
            next.closes = Some(end);
        }
        Step::Archive if m.state == "closed" => next.state = "archived",
        Step::Cancel if before_opening => next.state = "cancelled",
        Step::Clock if m.state == "scheduled" && m.opens.is_some_and(|o| now >= o) => {
            next.state = if closes_passed { "closed" } else { "open" };
        }
        Step::Clock if m.state == "open" && closes_passed => next.state = "closed",
        _ => return None,
    }
    Some(next)
}

fn minutes(t: Option<DateTime<Utc>>) -> Option<i64> {
    t.map(|t| (t - at(0)).num_minutes())
}

fn step() -> impl Strategy<Value = (Step, i64)> {
    let event = prop_oneof![
        (-50i64..400).prop_map(Step::Schedule),
        Just(Step::Open),
        Just(Step::Close),
        Just(Step::Archive),
        Just(Step::Cancel),
        Just(Step::Clock),
    ];
    (event, -50i64..400)
}

fn initial_times() -> impl Strategy<Value = (Option<i64>, Option<i64>)> {
    (prop::option::of(1i64..200), prop::option::of(1i64..300)).prop_map(|(o, c)| match (o, c) {
        (Some(o), Some(c)) => (Some(o), Some(o + c)),
        other => other,
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn random_event_sequences_follow_the_reference_model(
        (opens, closes) in initial_times(),
        steps in prop::collection::vec(step(), 0..40),
    ) {
        let mut poll = crate::domain::NewPoll {
            opens_at: opens.map(at),
            closes_at: closes.map(at),
            ..new_poll(PollKind::Ranked, 3)
        }
        .validate(PollId::parse("prop").unwrap(), at(0))
        .unwrap();
        let mut m = Model { state: poll.state().as_str(), opens, closes };
        let mut was_closed = false;

        for (step, now) in steps {
            let event = match step {
                Step::Schedule(t) => Event::Schedule { opens_at: at(t) },
                Step::Open => Event::Open,
                Step::Close => Event::Close,
                Step::Archive => Event::Archive,
                Step::Cancel => Event::Cancel,
                Step::Clock => Event::Clock,
            };
            let before = poll.clone();
            match (poll.apply(&event, at(now)), model(&m, step, now)) {
                (Ok(next), Some(want)) => {
                    prop_assert_eq!(next.version(), before.version() + 1);
                    prop_assert!(!before.state().is_terminal(), "left {}", before.state());
                    prop_assert_eq!(next.state().as_str(), want.state);
                    prop_assert_eq!(minutes(next.opens_at()), want.opens);
                    prop_assert_eq!(minutes(next.closes_at()), want.closes);
                    // Every poll the lifecycle makes is a valid stored record.
                    let json = serde_json::to_string(&next).unwrap();
                    prop_assert_eq!(&serde_json::from_str::<Poll>(&json).unwrap(), &next);
                    poll = next;
                    m = want;
                }
                (Err(e), None) => prop_assert_eq!(e.from, before.state()),
                (got, want) => prop_assert!(false, "{:?} x {:?} at {}: got {:?}, model {:?}",
                    before.state(), step, now, got, want),
            }
            was_closed |= poll.state() == Closed;
            if was_closed {
                prop_assert!(matches!(poll.state(), Closed | Archived), "reopened");
            }
            if poll.state() == Scheduled {
                prop_assert!(poll.opens_at().is_some());
            }
        }
    }
}
