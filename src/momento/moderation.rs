//! Moderation decisions on open-text entries: the dictionary `moderation:{poll_id}`, field =
//! entry id, value = the decision (`hidden` or `approved`). An entry without a field is
//! moderated by the poll's setting and the profanity filter (`domain/open_text.rs`). Writing a
//! field is idempotent, and the last decision wins.

use std::collections::HashMap;
use std::time::Duration;

use anyhow::Context;

use crate::domain::{Decision, PollId};
use crate::momento::{keys, Momento, StoreResult};

/// Moderation decisions in the cache.
#[derive(Clone)]
pub struct ModerationStore {
    momento: Momento,
    ttl: Duration,
}

impl ModerationStore {
    /// Decisions live `ttl` after the poll's last one (the scheduler keeps them alive with
    /// the poll).
    pub fn new(momento: Momento, ttl: Duration) -> Self {
        Self { momento, ttl }
    }

    /// Records `decision` on the entry `entry_id` of `poll`.
    #[tracing::instrument(level = "debug", skip_all, fields(poll_id = %poll.as_str(), entry_id = %entry_id))]
    pub async fn decide(
        &self,
        poll: &PollId,
        entry_id: &str,
        decision: Decision,
    ) -> StoreResult<()> {
        let value = serde_json::to_vec(&decision).context("encoding a moderation decision")?;
        let name = keys::moderation(poll);
        let field = (entry_id.as_bytes().to_vec(), value);
        let stored = self.momento.set_fields(
            &name,
            vec![field],
            self.ttl,
            "storing a moderation decision",
        );
        stored.await?;
        Ok(())
    }

    /// Every decision on `poll`'s entries, by entry id (unreadable fields skipped).
    #[tracing::instrument(level = "debug", skip_all, fields(poll_id = %poll.as_str()))]
    pub async fn decisions(&self, poll: &PollId) -> StoreResult<HashMap<String, Decision>> {
        let fields = (self.momento)
            .dictionary(keys::moderation(poll), "reading the moderation decisions")
            .await?;
        Ok(fields
            .into_iter()
            .filter_map(|(field, value)| {
                let id = String::from_utf8(field).ok()?;
                let decision = serde_json::from_slice(&value).ok()?;
                Some((id, decision))
            })
            .collect())
    }
}
