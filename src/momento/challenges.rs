//! Proof-of-work puzzles already answered (`"challenge": "pow"` polls): each puzzle buys one
//! voter token, so its challenge is spent with `SetIf` Absent on `pow:{challenge}`, which
//! lives until the puzzle expires anyway. Replicas share it: an answer spent on one is spent
//! on all.

use std::time::Duration;

use crate::momento::{keys, Condition, Momento, StoreResult};

/// Spent puzzles.
#[derive(Clone)]
pub struct ChallengeStore {
    momento: Momento,
}

impl ChallengeStore {
    /// Spent puzzles in `momento`.
    pub fn new(momento: Momento) -> Self {
        Self { momento }
    }

    /// Spends the puzzle `challenge` (hex), for `ttl` (until it expires): `true` the first
    /// time, `false` when it was spent already.
    #[tracing::instrument(level = "debug", skip_all)]
    pub async fn spend(&self, challenge: &str, ttl: Duration) -> StoreResult<bool> {
        let spent = self
            .momento
            .set_if(
                &keys::spent_challenge(challenge),
                b"1",
                Condition::Absent,
                ttl.max(Duration::from_secs(1)),
                "spending a proof-of-work puzzle",
            )
            .await?;
        Ok(spent)
    }
}
