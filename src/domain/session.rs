//! Events: one join code for a whole session of polls. (The REST API says *event*; the type is
//! [`Session`] here, since [`Event`](super::Event) is the lifecycle's.)
//!
//! - An event has a title, an ordered list of polls (at most [`MAX_EVENT_POLLS`], no poll
//!   twice) and at most one **active** poll, the one every phone shows; none: "waiting for the
//!   next question".
//! - Its [`JoinCode`] is 6 characters from [`JOIN_ALPHABET`] (no look-alikes: no `0`/`O`,
//!   `1`/`I`/`L`), read case-insensitively; 31^6 is about 887 million codes. Uniqueness among
//!   live events is the store's (set-if-absent on the code's key).
//! - Changes are pure functions returning the next record with `version` one higher, so the
//!   store can compare-and-set (as polls change).

use chrono::{DateTime, Utc};
use rand::Rng;
use serde::{Deserialize, Serialize};
use thiserror::Error;

use super::ids::{IdError, PollId};
use super::validation::{normalise, Collector, ValidationErrors, TITLE_MAX_CHARS};

/// The characters of a join code: upper-case letters and digits without look-alikes.
pub const JOIN_ALPHABET: &str = "ABCDEFGHJKMNPQRSTUVWXYZ23456789";
/// Length of a join code.
pub const JOIN_CODE_LEN: usize = 6;
/// Most polls in one event.
pub const MAX_EVENT_POLLS: usize = 100;

/// An event's id: generated like a poll id (10 base62 characters), parsed by the same rules.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct EventId(PollId);

impl EventId {
    /// Parses an event id (the charset and length of a poll id).
    pub fn parse(s: &str) -> Result<Self, IdError> {
        PollId::parse(s).map(Self)
    }

    /// A new random id.
    pub fn generate() -> Self {
        Self(PollId::generate())
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        self.0.as_str()
    }
}

impl TryFrom<String> for EventId {
    type Error = IdError;
    fn try_from(s: String) -> Result<Self, IdError> {
        Self::parse(&s)
    }
}

impl From<EventId> for String {
    fn from(id: EventId) -> String {
        id.as_str().to_owned()
    }
}

/// Why a text is not a join code.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("a join code is {JOIN_CODE_LEN} characters of {JOIN_ALPHABET}")]
pub struct BadJoinCode;

/// An event's join code, upper case.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct JoinCode(String);

impl JoinCode {
    /// Parses a code as a person types it: case-insensitive, surrounding spaces ignored.
    pub fn parse(s: &str) -> Result<Self, BadJoinCode> {
        let code = s.trim().to_ascii_uppercase();
        let valid = code.len() == JOIN_CODE_LEN && code.chars().all(|c| JOIN_ALPHABET.contains(c));
        valid.then_some(Self(code)).ok_or(BadJoinCode)
    }

    /// A new random code.
    pub fn generate() -> Self {
        let alphabet = JOIN_ALPHABET.as_bytes();
        let mut rng = rand::rng();
        let code = (0..JOIN_CODE_LEN)
            .map(|_| char::from(alphabet[rng.random_range(0..alphabet.len())]))
            .collect();
        Self(code)
    }

    /// The code, upper case.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for JoinCode {
    type Error = BadJoinCode;
    fn try_from(s: String) -> Result<Self, BadJoinCode> {
        Self::parse(&s)
    }
}

impl From<JoinCode> for String {
    fn from(code: JoinCode) -> String {
        code.0
    }
}

/// An event, as stored under `event:{id}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Session {
    /// Its id.
    pub id: EventId,
    /// The title phones and the presenter show.
    pub title: String,
    /// Its join code.
    pub code: JoinCode,
    /// Its polls, in the presenter's order.
    pub poll_ids: Vec<PollId>,
    /// The poll every phone shows now, if any.
    pub active_poll_id: Option<PollId>,
    /// Starts at 1, one more per change.
    pub version: u64,
    /// When it was created.
    pub created_at: DateTime<Utc>,
}

/// Why an event change is refused.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum SessionError {
    /// The poll is not one of the event's.
    #[error("poll {0} is not one of this event's polls")]
    NotInEvent(PollId),
}

impl Session {
    /// A new event `id` with `code`, checked: a title of 1..=200 characters (normalised), and
    /// 0..=100 polls, none twice. (Whether the polls exist, and are not archived, is the
    /// caller's to check: it needs the store.)
    pub fn new(
        id: EventId,
        code: JoinCode,
        title: &str,
        poll_ids: Vec<PollId>,
        now: DateTime<Utc>,
    ) -> Result<Self, ValidationErrors> {
        let title = normalise(title);
        let mut c = Collector::default();
        c.line("title", &title, TITLE_MAX_CHARS);
        c.no_bidi("title", &title);
        check_polls(&mut c, &poll_ids);
        c.finish(|| Session {
            id,
            title,
            code,
            poll_ids,
            active_poll_id: None,
            version: 1,
            created_at: now,
        })
    }

    /// The event with `poll_ids` as its polls (added, removed, reordered); the active poll
    /// stays active if it is still one of them, else none is.
    pub fn with_polls(&self, poll_ids: Vec<PollId>) -> Result<Session, ValidationErrors> {
        let mut c = Collector::default();
        check_polls(&mut c, &poll_ids);
        c.finish(|| Session {
            active_poll_id: self
                .active_poll_id
                .clone()
                .filter(|active| poll_ids.contains(active)),
            poll_ids,
            version: self.version + 1,
            ..self.clone()
        })
    }

    /// The event with `poll` active (`None`: waiting for the next question).
    pub fn activate(&self, poll: Option<PollId>) -> Result<Session, SessionError> {
        if let Some(poll) = &poll {
            if !self.poll_ids.contains(poll) {
                return Err(SessionError::NotInEvent(poll.clone()));
            }
        }
        Ok(Session {
            active_poll_id: poll,
            version: self.version + 1,
            ..self.clone()
        })
    }
}

fn check_polls(c: &mut Collector, poll_ids: &[PollId]) {
    use super::validation::Rule;
    if poll_ids.len() > MAX_EVENT_POLLS {
        c.push(
            "poll_ids",
            Rule::TooMany,
            format!("has {} polls, more than {MAX_EVENT_POLLS}", poll_ids.len()),
        );
    }
    for (i, id) in poll_ids.iter().enumerate() {
        if poll_ids[..i].contains(id) {
            c.push(
                format!("poll_ids[{i}]"),
                Rule::Duplicate,
                format!("lists poll {id} twice"),
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn poll(s: &str) -> PollId {
        PollId::parse(s).unwrap()
    }

    fn event(polls: &[&str]) -> Session {
        let ids = polls.iter().map(|p| poll(p)).collect();
        Session::new(
            EventId::generate(),
            JoinCode::generate(),
            "Town hall",
            ids,
            Utc::now(),
        )
        .unwrap()
    }

    #[test]
    fn join_codes_are_read_case_insensitively_and_avoid_look_alikes() {
        assert_eq!(JoinCode::parse(" abc234 ").unwrap().as_str(), "ABC234");
        for bad in ["ABC23", "ABC2345", "ABC0O1", "ABCIL2", "ABC-23", ""] {
            assert_eq!(JoinCode::parse(bad), Err(BadJoinCode), "{bad:?}");
        }
    }

    #[test]
    fn activating_follows_the_event_s_polls() {
        let e = event(&["p1", "p2"]);
        let active = e.activate(Some(poll("p2"))).unwrap();
        assert_eq!(active.active_poll_id, Some(poll("p2")));
        assert_eq!(active.version, 2);
        assert_eq!(
            e.activate(Some(poll("p9"))),
            Err(SessionError::NotInEvent(poll("p9")))
        );
        assert_eq!(active.activate(None).unwrap().active_poll_id, None);
        // Removing the active poll leaves none active; reordering keeps it.
        assert_eq!(
            active.with_polls(vec![poll("p1")]).unwrap().active_poll_id,
            None
        );
        let reordered = active.with_polls(vec![poll("p2"), poll("p1")]).unwrap();
        assert_eq!(reordered.active_poll_id, Some(poll("p2")));
    }

    #[test]
    fn an_event_needs_a_title_and_distinct_polls() {
        let now = Utc::now();
        let errors = Session::new(
            EventId::generate(),
            JoinCode::generate(),
            " ",
            vec![poll("p1"), poll("p1")],
            now,
        )
        .unwrap_err();
        assert!(errors.has("title", super::super::validation::Rule::Required));
        assert!(errors.has("poll_ids[1]", super::super::validation::Rule::Duplicate));
    }

    proptest! {
        #[test]
        fn generated_codes_parse_back_in_any_case(_n in 0..50u8) {
            let code = JoinCode::generate();
            prop_assert_eq!(JoinCode::parse(&code.as_str().to_lowercase()), Ok(code.clone()));
        }
    }
}
