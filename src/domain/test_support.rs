//! Fixtures shared by the domain's tests.

use chrono::{DateTime, Duration, TimeZone, Utc};

use super::ids::{OptionId, PollId};
use super::new_poll::NewPoll;
use super::poll::{Poll, PollKind};

/// 2026-01-01T00:00:00Z, the tests' "now", in seconds since the epoch.
pub const T0: i64 = 1_767_225_600;

/// The tests' "now" plus `minutes`.
pub fn at(minutes: i64) -> DateTime<Utc> {
    Utc.timestamp_opt(T0, 0).unwrap() + Duration::minutes(minutes)
}

/// Option `o{n}`.
pub fn option(n: u16) -> OptionId {
    OptionId::from_number(n).unwrap()
}

/// A submission with `n` options labelled "Option 1", "Option 2", ...
pub fn new_poll(kind: PollKind, n: usize) -> NewPoll {
    NewPoll {
        title: "Lunch?".to_owned(),
        kind,
        options: (1..=n).map(|i| format!("Option {i}")).collect(),
        ..NewPoll::default()
    }
}

/// A valid draft poll `p7Kx2` with `n` options, created at [`at`]`(0)`.
pub fn poll(kind: PollKind, n: usize) -> Poll {
    new_poll(kind, n)
        .validate(PollId::parse("p7Kx2").unwrap(), at(0))
        .unwrap()
}
