//! How often a poll's results are published: at most once per interval, and less often when
//! its count is costly ([`COST_FACTOR`]), when many watch it ([`spacing_for`]), or when
//! Momento's operations budget asks ([`OpsBudget`]). Watchers and the budget space publishes by
//! a second at most, so a change shows within a second unless counting itself takes longer than
//! a quarter of one (a very large ranked poll: then [`COST_FACTOR`] spaces them further).

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use crate::domain::PollId;
use crate::momento::keys::LEDGER_SHARDS;

/// A poll's next publish starts no sooner than this many times its last publish's duration
/// after that one started.
pub const COST_FACTOR: u32 = 4;

/// Deliveries to watchers a second the publisher plans for on one poll. A results message
/// answers every long poll waiting on the poll's results topic, and each comes back with a
/// new request: 4,000 long-polling phones at 10 messages a second would be 40,000 requests a
/// second. So a poll's publishes are spaced by its watchers over this rate (4,000 watchers:
/// one message every 0.4 s), within `MAX_SPACING`. See `docs/PERFORMANCE.md` ("Watchers")
/// for the runs behind the figure.
pub const WATCHER_DELIVERIES_PER_SECOND: u32 = 10_000;

/// The longest spacing of a poll's publishes for its watchers: with the time a message takes to
/// reach them, a change still reaches every watcher within a second.
pub const MAX_SPACING: Duration = Duration::from_millis(600);

/// How long after a publish of a poll with `watchers` watchers its next one may start:
/// `watchers / WATCHER_DELIVERIES_PER_SECOND`, at most [`MAX_SPACING`].
pub fn spacing_for(watchers: usize) -> Duration {
    let seconds = watchers as f64 / f64::from(WATCHER_DELIVERIES_PER_SECOND);
    Duration::from_secs_f64(seconds).min(MAX_SPACING)
}

/// Counts the watchers of a poll (long polls on its results topics, SSE streams).
pub type WatcherCount = Arc<dyn Fn(&PollId) -> usize + Send + Sync>;

/// The share of the operations budget results publishes may use; the rest is the votes'
/// (each costs several operations: see `docs/SCALING.md`).
pub const RESULTS_SHARE: f64 = 0.5;

/// The longest the budget spaces a poll's publishes: a change still shows within a second,
/// even when that takes more than the share.
pub const MAX_BUDGET_SPACING: Duration = Duration::from_secs(1);

/// How long a poll's next publish waits after Momento refused one over a rate limit.
pub const THROTTLED_WAIT: Duration = Duration::from_secs(1);

/// Momento operations of one results publish in service mode, before its deliveries: the count
/// reads the poll's whole ledger ([`LEDGER_SHARDS`] dictionaries: replicas keep no running
/// counts there), then the next `seq`, the poll, the snapshot, the snapshot's compare-and-set
/// and the publish itself. (Measured: 23-25 per publish with the stragglers of the pipeline
/// beside it; `docs/SCALING.md`.)
pub const OPERATIONS_PER_PUBLISH: u64 = LEDGER_SHARDS + 5;

/// Momento's operations budget as results publishes see it (service mode): each publish costs
/// [`OPERATIONS_PER_PUBLISH`], plus one per subscriber it is delivered to, which is at least one
/// per replica (each replica's shared feed of the poll, when it has watchers). Publishes are
/// spaced so that, over the polls being published, they use at most [`RESULTS_SHARE`] of the
/// budget.
/// Subscribers pollcast cannot see (clients subscribed to Momento directly) are not counted:
/// see `docs/SCALING.md` for what they cost.
#[derive(Clone)]
pub struct OpsBudget {
    /// The namespace's operations a second (`--momento-ops-budget`).
    pub ops_per_second: u32,
    /// Replicas alive (each may hold a subscription to any poll's results).
    pub replicas: Arc<AtomicUsize>,
}

impl OpsBudget {
    /// The spacing of each poll's publishes when `polls` polls are being published.
    pub fn spacing(&self, polls: usize) -> Duration {
        let replicas = self.replicas.load(Ordering::Relaxed).max(1);
        let per_publish = OPERATIONS_PER_PUBLISH as usize + replicas;
        let cost = (polls.max(1) * per_publish) as f64;
        let share = RESULTS_SHARE * f64::from(self.ops_per_second.max(1));
        Duration::from_secs_f64(cost / share).min(MAX_BUDGET_SPACING)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_polls_publishes_are_spaced_by_its_watchers_within_the_bound() {
        assert_eq!(spacing_for(0), Duration::ZERO);
        assert_eq!(spacing_for(1_000), Duration::from_millis(100));
        assert_eq!(spacing_for(4_000), Duration::from_millis(400));
        assert_eq!(spacing_for(1_000_000), MAX_SPACING);
    }

    #[test]
    fn the_budget_spaces_publishes_by_polls_and_replicas_within_a_second() {
        let budget = OpsBudget {
            ops_per_second: 1_000,
            replicas: Arc::new(AtomicUsize::new(3)),
        };
        // One poll, three replicas: 24 operations a publish, 500 a second for results.
        assert_eq!(budget.spacing(1), Duration::from_millis(48));
        assert_eq!(budget.spacing(10), Duration::from_millis(480));
        assert_eq!(budget.spacing(10_000), MAX_BUDGET_SPACING);
    }
}
