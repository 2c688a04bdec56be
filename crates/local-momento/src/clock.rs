//! The two clocks of the server.
//!
//! - [`monotonic_ms`]: milliseconds on a monotonic clock, for item expiry in memory (immune to
//!   wall-clock jumps while the server runs).
//! - [`unix_ms`]: milliseconds since the Unix epoch, for what leaves the process: message
//!   timestamps, token expiry, and expiry times written to the data dir, which must mean the
//!   same thing after a restart. [`to_unix`] and [`from_unix`] convert between the two.

use std::sync::OnceLock;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

/// The monotonic clock's origin and the Unix time it corresponds to.
fn origin() -> &'static (Instant, u64) {
    static ORIGIN: OnceLock<(Instant, u64)> = OnceLock::new();
    ORIGIN.get_or_init(|| (Instant::now(), unix_ms()))
}

/// Milliseconds on the monotonic clock (its origin is the first call in the process).
pub(crate) fn monotonic_ms() -> u64 {
    // Truncation is impossible in practice: u64 milliseconds last 584 million years.
    origin().0.elapsed().as_millis() as u64
}

/// Milliseconds since the Unix epoch (0 if the clock is before 1970, rather than panicking).
pub(crate) fn unix_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

/// The Unix time of a monotonic instant (saturating at the far future).
pub(crate) fn to_unix(monotonic: u64) -> u64 {
    origin().1.saturating_add(monotonic)
}

/// The monotonic instant of a Unix time; times before this process started map to 0, which
/// every expiry check treats as passed.
pub(crate) fn from_unix(unix: u64) -> u64 {
    unix.saturating_sub(origin().1)
}
