//! The lifecycle of a poll: a pure state machine, `(state, times, event, now) -> state`.
//!
//! ```text
//! from        event                              to
//! draft       schedule(opens_at)                 scheduled
//! draft       open                               open
//! draft       cancel                             cancelled
//! scheduled   schedule(opens_at)                 scheduled  (moves the opening)
//! scheduled   open, or clock at/after opens_at   open
//! scheduled   clock at/after closes_at as well   closed
//! scheduled   cancel                             cancelled
//! open        close, or clock at/after closes_at closed
//! closed      archive                            archived
//! ```
//! Every other pair is refused with a [`TransitionError`] and leaves the poll as it was.
//!
//! Decisions:
//! - `open` is allowed from `draft` (open now) and from `scheduled` (open early). It records the
//!   actual opening time in `opens_at`, and is refused once `closes_at` has passed: a poll
//!   that could take no vote is cancelled, not opened.
//! - `schedule` is allowed from `draft` and again from `scheduled` (to move the opening); the
//!   new `opens_at` must be in the future and before `closes_at`.
//! - `close` is allowed from `open` only; closing early records the actual time in
//!   `closes_at` (never earlier than `opens_at`, whatever the replicas' clocks say). A poll
//!   that never opened is cancelled instead.
//! - `clock` (time has passed) opens a `scheduled` poll once `now >= opens_at` and closes an
//!   `open` one once `now >= closes_at`. A `scheduled` poll whose `opens_at` and `closes_at`
//!   have both passed ends `closed` in one step, never stuck `open` and never silently
//!   skipped to `cancelled`: it is reported, like any close, as a transition to `closed`.
//!   `draft` polls ignore the clock: nothing was promised for them.
//! - A clock event with no deadline due is refused with [`Refusal::NothingDue`], so a tick
//!   that finds nothing to do writes nothing; every successful event bumps `version` by one.
//! - `archived` and `cancelled` are terminal; `closed` never goes back to `open`.

use std::fmt;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use thiserror::Error;

/// Where a poll is in its lifecycle.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PollState {
    /// Being prepared; invisible to the clock.
    Draft,
    /// Will open at `opens_at`.
    Scheduled,
    /// Taking votes.
    Open,
    /// No longer taking votes; results final.
    Closed,
    /// Closed and put away (terminal).
    Archived,
    /// Abandoned before it opened (terminal).
    Cancelled,
}

impl PollState {
    /// Every state, in lifecycle order.
    pub const ALL: [PollState; 6] = [
        PollState::Draft,
        PollState::Scheduled,
        PollState::Open,
        PollState::Closed,
        PollState::Archived,
        PollState::Cancelled,
    ];

    /// The state's name as in JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            PollState::Draft => "draft",
            PollState::Scheduled => "scheduled",
            PollState::Open => "open",
            PollState::Closed => "closed",
            PollState::Archived => "archived",
            PollState::Cancelled => "cancelled",
        }
    }

    /// Whether no event leaves this state.
    pub fn is_terminal(self) -> bool {
        matches!(self, PollState::Archived | PollState::Cancelled)
    }
}

impl fmt::Display for PollState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Whether a poll in `state` takes votes: only `open` does.
pub fn accepts_votes(state: PollState) -> bool {
    state == PollState::Open
}

/// Something that may move a poll along its lifecycle.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum Event {
    /// Admin: open at `opens_at` (from `draft`, or to move a `scheduled` opening).
    Schedule {
        /// When the clock should open the poll.
        opens_at: DateTime<Utc>,
    },
    /// Admin: open now.
    Open,
    /// Admin: close now.
    Close,
    /// Admin: put a closed poll away.
    Archive,
    /// Admin: abandon a poll that has not opened.
    Cancel,
    /// Scheduler: time has passed; apply whichever of `opens_at` and `closes_at` are due.
    Clock,
}

impl Event {
    /// The event without its data, for errors and logs.
    pub fn kind(&self) -> EventKind {
        match self {
            Event::Schedule { .. } => EventKind::Schedule,
            Event::Open => EventKind::Open,
            Event::Close => EventKind::Close,
            Event::Archive => EventKind::Archive,
            Event::Cancel => EventKind::Cancel,
            Event::Clock => EventKind::Clock,
        }
    }
}

/// An [`Event`] without its data.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EventKind {
    /// [`Event::Schedule`].
    Schedule,
    /// [`Event::Open`].
    Open,
    /// [`Event::Close`].
    Close,
    /// [`Event::Archive`].
    Archive,
    /// [`Event::Cancel`].
    Cancel,
    /// [`Event::Clock`].
    Clock,
}

impl fmt::Display for EventKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            EventKind::Schedule => "schedule",
            EventKind::Open => "open",
            EventKind::Close => "close",
            EventKind::Archive => "archive",
            EventKind::Cancel => "cancel",
            EventKind::Clock => "clock",
        })
    }
}

/// The times the lifecycle reads and writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct PollTimes {
    /// When the poll opens or opened.
    pub opens_at: Option<DateTime<Utc>>,
    /// When the poll closes or closed.
    pub closes_at: Option<DateTime<Utc>>,
}

/// Why an event was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// The event never applies in this state.
    NotAllowed,
    /// A clock event found no deadline due.
    NothingDue,
    /// `open` after `closes_at` has passed.
    ClosesAtPassed {
        /// The poll's `closes_at`.
        closes_at: DateTime<Utc>,
    },
    /// `schedule` to a time that is not in the future.
    OpensAtNotInFuture {
        /// The requested opening.
        opens_at: DateTime<Utc>,
    },
    /// `schedule` to a time that is not before `closes_at`.
    OpensAtNotBeforeClosesAt {
        /// The requested opening.
        opens_at: DateTime<Utc>,
        /// The poll's `closes_at`.
        closes_at: DateTime<Utc>,
    },
}

/// An event the poll's state refuses, e.g. "cannot close a poll that is draft".
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
#[error("{}", self.describe())]
pub struct TransitionError {
    /// The state the poll is in (and stays in).
    pub from: PollState,
    /// The refused event.
    pub event: EventKind,
    /// Why.
    pub refusal: Refusal,
}

impl TransitionError {
    fn describe(&self) -> String {
        let (event, from) = (self.event, self.from);
        match self.refusal {
            Refusal::NotAllowed => format!("cannot {event} a poll that is {from}"),
            Refusal::NothingDue => format!("no deadline is due for a poll that is {from}"),
            Refusal::ClosesAtPassed { closes_at } => format!(
                "cannot {event} a poll that is {from}: its closes_at ({closes_at}) has passed"
            ),
            Refusal::OpensAtNotInFuture { opens_at } => format!(
                "cannot {event} a poll that is {from}: opens_at ({opens_at}) is not in the future"
            ),
            Refusal::OpensAtNotBeforeClosesAt {
                opens_at,
                closes_at,
            } => format!(
                "cannot {event} a poll that is {from}: opens_at ({opens_at}) is not before \
                 closes_at ({closes_at})"
            ),
        }
    }
}

/// The lifecycle: the state and times after `event` at `now`, or why it is refused.
pub fn transition(
    state: PollState,
    times: PollTimes,
    event: &Event,
    now: DateTime<Utc>,
) -> Result<(PollState, PollTimes), TransitionError> {
    use PollState::*;
    let refuse = |refusal| TransitionError {
        from: state,
        event: event.kind(),
        refusal,
    };
    let closes_passed = times.closes_at.filter(|&c| c <= now);
    match (state, event) {
        (Draft | Scheduled, &Event::Schedule { opens_at }) => {
            if opens_at <= now {
                return Err(refuse(Refusal::OpensAtNotInFuture { opens_at }));
            }
            if let Some(closes_at) = times.closes_at.filter(|&c| opens_at >= c) {
                return Err(refuse(Refusal::OpensAtNotBeforeClosesAt {
                    opens_at,
                    closes_at,
                }));
            }
            let opens_at = Some(opens_at);
            Ok((Scheduled, PollTimes { opens_at, ..times }))
        }
        (Draft | Scheduled, Event::Open) => match closes_passed {
            Some(closes_at) => Err(refuse(Refusal::ClosesAtPassed { closes_at })),
            None => Ok((
                Open,
                PollTimes {
                    opens_at: Some(now),
                    ..times
                },
            )),
        },
        (Open, Event::Close) => {
            // Keep an earlier, already-passed closes_at: that is when voting really ended. Never
            // before opens_at, which another replica with a clock ahead of ours may have set.
            let ended = times.closes_at.map_or(now, |c| c.min(now));
            let closes_at = Some(times.opens_at.map_or(ended, |o| ended.max(o)));
            Ok((Closed, PollTimes { closes_at, ..times }))
        }
        (Closed, Event::Archive) => Ok((Archived, times)),
        (Draft | Scheduled, Event::Cancel) => Ok((Cancelled, times)),
        (Scheduled, Event::Clock) if times.opens_at.is_some_and(|o| o <= now) => Ok((
            if closes_passed.is_some() {
                Closed
            } else {
                Open
            },
            times,
        )),
        (Open, Event::Clock) if closes_passed.is_some() => Ok((Closed, times)),
        (_, Event::Clock) => Err(refuse(Refusal::NothingDue)),
        _ => Err(refuse(Refusal::NotAllowed)),
    }
}

#[cfg(test)]
mod tests;
