//! Recount: a poll's results rebuilt from its stored ballots (the ledger) and compared with
//! what was published, as `pollcast recount POLL_ID` and `POST /v1/polls/{id}/recount` do.
//!
//! The normal path already counts from the ledger, so a difference means a publish was lost
//! (a crash between a ballot landing and the next publish, or a publish that failed): the
//! recount then publishes the corrected results, with a new `seq`, so every watcher gets them.

use std::collections::BTreeMap;

use crate::domain::{OptionId, Poll, Results};
use crate::momento::{StoreError, StoreResult};
use crate::results::Publisher;

/// What a recount found.
#[derive(Debug, Clone)]
pub struct Recount {
    /// The results counted now from the ledger (as published when they differed).
    pub recounted: Results,
    /// The results published before, if any.
    pub published: Option<Results>,
    /// Each option whose count differs: (option, published count, recounted count).
    pub differences: Vec<(OptionId, u64, u64)>,
    /// Whether the recounted results were published (they differed, or none were).
    pub republished: bool,
}

impl Recount {
    /// Whether the published results matched the ledger.
    pub fn matched(&self) -> bool {
        !self.republished
    }
}

impl Publisher {
    /// Counts `poll` from its ledger, compares with the last published results, and publishes
    /// the count when it differs (or nothing was published yet).
    #[tracing::instrument(skip_all, fields(poll_id = %poll.id().as_str()))]
    pub async fn recount(&self, poll: &Poll) -> StoreResult<Recount> {
        let published = self.published(poll).await?;
        let counted = self.count_from_ledger(poll, 0).await?;
        let changed = differences(published.as_ref(), &counted);
        let ballots_differ = published.as_ref().map(|p| p.ballots) != Some(counted.ballots);
        let rounds_differ = published.as_ref().map(|p| &p.rounds) != Some(&counted.rounds);
        // Ratings and entries (what moderation shows) are compared whole.
        let kinds_differ = published.as_ref().map(|p| (&p.rating, &p.open_text))
            != Some((&counted.rating, &counted.open_text));
        if changed.is_empty() && !ballots_differ && !rounds_differ && !kinds_differ {
            return Ok(Recount {
                recounted: Results {
                    seq: published.as_ref().map_or(0, |p| p.seq),
                    ..counted
                },
                published,
                differences: changed,
                republished: false,
            });
        }
        tracing::warn!(
            published = ?published.as_ref().map(|p| p.ballots),
            recounted = counted.ballots,
            "the published results differed from the ledger; publishing the recount"
        );
        if let Some(tallies) = self.tallies() {
            tallies.invalidate(poll.id());
        }
        let recounted = self.publish(poll.id()).await.map_err(StoreError::from)?;
        Ok(Recount {
            differences: differences(published.as_ref(), &recounted),
            recounted,
            published,
            republished: true,
        })
    }

    async fn published(&self, poll: &Poll) -> StoreResult<Option<Results>> {
        self.results().snapshot(poll.id()).await
    }
}

/// Each option whose count in `counted` differs from `published` (0 where nothing was).
fn differences(published: Option<&Results>, counted: &Results) -> Vec<(OptionId, u64, u64)> {
    let empty = BTreeMap::new();
    let before = published.map_or(&empty, |p| &p.counts);
    counted
        .counts
        .iter()
        .filter_map(|(option, &now)| {
            let was = before.get(option).copied().unwrap_or(0);
            (was != now).then_some((*option, was, now))
        })
        .collect()
}
