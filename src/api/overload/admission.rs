//! The admission decision of the voter path, without I/O (tested with a clock of its own).
//!
//! **A concurrency limit steered by latency** (AIMD, as TCP steers its window): at most
//! `limit` voter requests are in progress at once. Each admitted request reports how long it
//! took; one slower than the target cuts the limit by a fifth (at most once per
//! [`DECREASE_EVERY`], so a burst of slow answers counts once), and while requests come back within the
//! target and the limit is what holds them back, it grows by one per `limit` completions. So
//! the limit settles where requests in progress finish within the target on whatever CPU the
//! server has, instead of being a number guessed for one machine; `--max-in-flight` caps it.
//!
//! **New voters wait for those already in**: a token request (a voter starting) is admitted
//! only while [`TOKEN_SHARE`] of the limit is free, so under overload the room left goes to
//! publishes, whose voters already hold a token: work is started only for voters who can
//! finish, and refused before anything was done for the others.
//!
//! **Retry-After from the pressure**: a refusal asks the client to come back after the time the
//! excess would take at the rate requests are admitted (refused over admitted in the last
//! second, 1 to [`MAX_RETRY_AFTER`] seconds), so a room refused together comes back spread out
//! rather than all at once a second later.

use std::time::{Duration, Instant};

/// How often the limit may drop: once per this, so one burst of slow answers (all admitted
/// before the drop) counts once.
pub const DECREASE_EVERY: Duration = Duration::from_millis(100);
/// What the limit keeps of itself when it drops.
pub const DECREASE_FACTOR: f64 = 0.8;
/// The smallest limit (or `--max-in-flight`, when smaller): a few requests always go through.
pub const MIN_LIMIT: f64 = 4.0;
/// The share of the limit token requests may fill.
pub const TOKEN_SHARE: f64 = 0.75;
/// The longest `Retry-After`, in seconds.
pub const MAX_RETRY_AFTER: u64 = 10;

/// A voter request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Request {
    /// Taking a token: a voter starting.
    Token,
    /// Publishing a vote: a voter who holds a token.
    Publish,
}

/// Counts of one second, for `Retry-After`.
#[derive(Clone, Copy, Debug, Default)]
struct Second {
    admitted: u64,
    refused: u64,
}

/// The state of the admission.
#[derive(Debug)]
pub struct Admission {
    limit: f64,
    max: f64,
    min: f64,
    target: Duration,
    in_flight: usize,
    last_decrease: Option<Instant>,
    second_started: Option<Instant>,
    current: Second,
    previous: Second,
}

impl Admission {
    /// At most `max` in progress (also the starting limit); `target` the latency it steers to.
    pub fn new(max: usize, target: Duration) -> Self {
        let max = (max as f64).max(1.0);
        Self {
            limit: max,
            max,
            min: MIN_LIMIT.min(max),
            target,
            in_flight: 0,
            last_decrease: None,
            second_started: None,
            current: Second::default(),
            previous: Second::default(),
        }
    }

    /// The limit now.
    pub fn limit(&self) -> f64 {
        self.limit
    }

    /// Requests in progress.
    pub fn in_flight(&self) -> usize {
        self.in_flight
    }

    /// Admits `request` at `now`, or refuses it with the seconds to wait before trying again.
    pub fn admit(&mut self, request: Request, now: Instant) -> Result<(), u64> {
        self.roll(now);
        let room = match request {
            Request::Token => self.limit * TOKEN_SHARE,
            Request::Publish => self.limit,
        };
        if (self.in_flight as f64) < room.floor().max(1.0) {
            self.in_flight += 1;
            self.current.admitted += 1;
            return Ok(());
        }
        self.current.refused += 1;
        Err(self.retry_after())
    }

    /// An admitted request finished at `now`, after `took`.
    pub fn done(&mut self, took: Duration, now: Instant) {
        self.in_flight = self.in_flight.saturating_sub(1);
        if took > self.target {
            let due = self
                .last_decrease
                .is_none_or(|at| now.duration_since(at) >= DECREASE_EVERY);
            if due {
                self.limit = (self.limit * DECREASE_FACTOR).max(self.min);
                self.last_decrease = Some(now);
            }
        } else if (self.in_flight + 1) as f64 >= self.limit.floor() - 1.0 {
            // Fast, and the limit was what held requests back: one more per `limit` answers.
            self.limit = (self.limit + 1.0 / self.limit).min(self.max);
        }
    }

    /// Seconds to wait: what the last second's excess would take at its admission rate.
    fn retry_after(&self) -> u64 {
        let seen = if self.previous.admitted + self.previous.refused > 0 {
            self.previous
        } else {
            self.current
        };
        let admitted = seen.admitted.max(1);
        seen.refused.div_ceil(admitted).clamp(1, MAX_RETRY_AFTER)
    }

    /// Starts a new second of counts when one has passed.
    fn roll(&mut self, now: Instant) {
        let started = *self.second_started.get_or_insert(now);
        if now.duration_since(started) >= Duration::from_secs(1) {
            self.previous = self.current;
            self.current = Second::default();
            self.second_started = Some(now);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TARGET: Duration = Duration::from_millis(250);

    #[test]
    fn requests_are_admitted_up_to_the_limit_and_new_voters_up_to_their_share() {
        let now = Instant::now();
        let mut a = Admission::new(8, TARGET);
        for _ in 0..6 {
            assert_eq!(a.admit(Request::Token, now), Ok(()));
        }
        assert!(
            a.admit(Request::Token, now).is_err(),
            "tokens fill 3/4 of 8"
        );
        assert_eq!(a.admit(Request::Publish, now), Ok(()));
        assert_eq!(a.admit(Request::Publish, now), Ok(()));
        assert!(a.admit(Request::Publish, now).is_err(), "8 in progress");
        a.done(Duration::from_millis(10), now);
        assert_eq!(a.admit(Request::Publish, now), Ok(()));
    }

    #[test]
    fn slow_answers_shrink_the_limit_once_per_interval_down_to_the_floor() {
        let start = Instant::now();
        let mut a = Admission::new(100, TARGET);
        let slow = Duration::from_secs(1);
        for _ in 0..10 {
            a.admit(Request::Publish, start).unwrap();
            a.done(slow, start);
        }
        assert_eq!(a.limit(), 80.0, "one drop for a burst");
        let mut now = start;
        for _ in 0..100 {
            now += DECREASE_EVERY;
            a.admit(Request::Publish, now).unwrap();
            a.done(slow, now);
        }
        assert_eq!(a.limit(), MIN_LIMIT);
    }

    #[test]
    fn a_max_below_the_floor_is_kept() {
        let now = Instant::now();
        let mut a = Admission::new(1, TARGET);
        assert_eq!(a.admit(Request::Publish, now), Ok(()));
        assert!(a.admit(Request::Publish, now).is_err());
        a.done(Duration::from_secs(5), now);
        assert_eq!(a.limit(), 1.0);
        assert_eq!(
            a.admit(Request::Token, now),
            Ok(()),
            "one token request still goes"
        );
    }

    #[test]
    fn fast_answers_while_the_limit_binds_grow_it_back_to_the_cap() {
        let now = Instant::now();
        let mut a = Admission::new(20, TARGET);
        a.admit(Request::Publish, now).unwrap();
        a.done(Duration::from_secs(1), now);
        assert_eq!(a.limit(), 16.0);
        for _ in 0..1_000 {
            while a.admit(Request::Publish, now).is_ok() {}
            a.done(Duration::from_millis(5), now);
        }
        assert_eq!(a.limit(), 20.0, "never past --max-in-flight");
    }

    #[test]
    fn fast_answers_while_the_limit_does_not_bind_leave_it_alone() {
        let now = Instant::now();
        let mut a = Admission::new(100, TARGET);
        a.admit(Request::Publish, now).unwrap();
        a.done(Duration::from_secs(1), now);
        for _ in 0..1_000 {
            a.admit(Request::Publish, now).unwrap();
            a.done(Duration::from_millis(5), now);
        }
        assert_eq!(
            a.limit(),
            80.0,
            "one request at a time says nothing about room"
        );
    }

    #[test]
    fn retry_after_grows_with_the_excess_of_the_last_second() {
        let start = Instant::now();
        let mut a = Admission::new(4, TARGET);
        for _ in 0..4 {
            a.admit(Request::Publish, start).unwrap();
        }
        assert_eq!(a.admit(Request::Publish, start), Err(1));
        for _ in 0..11 {
            let _ = a.admit(Request::Publish, start);
        }
        // The next second reads the last one: 12 refused for 4 admitted.
        let later = start + Duration::from_secs(1);
        assert_eq!(a.admit(Request::Publish, later), Err(3));
        for _ in 0..1_000 {
            let _ = a.admit(Request::Publish, later);
        }
        let even_later = later + Duration::from_secs(1);
        assert_eq!(a.admit(Request::Publish, even_later), Err(MAX_RETRY_AFTER));
    }
}
