//! Polls in Momento cache: the record `poll:{id}` (JSON of [`Poll`]), and the index dictionary
//! `polls` (field = poll id, value = [`IndexEntry`] JSON) that listing and the scheduler read.
//!
//! The record is the truth; every state change is a compare-and-set on its exact bytes
//! (`SetIf` Equal), so when replicas race on one poll exactly one change wins and the others
//! re-read and re-decide. The index is derived and may lag: it is written before the record
//! on creation (a dangling entry is skipped when listed) and after each change (a stale deadline
//! only makes the scheduler look at a poll too early, never too late, because the scheduler
//! re-reads the record and applies the lifecycle to it).

use std::collections::HashMap;
use std::time::Duration;

use anyhow::Context;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::domain::{next_clock_deadline, Event, Poll, PollId, PollState, TransitionError};
use crate::momento::keys::{self, POLL_INDEX};
use crate::momento::{Condition, Momento, StoreError, StoreResult};
/// How often a compare-and-set that lost a race is retried before giving up.
const CAS_ATTEMPTS: usize = 8;

/// What the index keeps per poll.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct IndexEntry {
    /// When the poll was created.
    pub created_at: DateTime<Utc>,
    /// Its state at the last write.
    pub state: PollState,
    /// The next time the clock changes its state, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_deadline: Option<DateTime<Utc>>,
}

/// A poll as read, with the exact stored bytes a compare-and-set must match.
#[derive(Debug, Clone)]
pub struct StoredPoll {
    /// The poll.
    pub poll: Poll,
    raw: Vec<u8>,
}

/// Why a transition did not happen.
#[derive(Debug, thiserror::Error)]
pub enum ChangeError {
    /// No such poll.
    #[error("poll {0} not found")]
    NotFound(PollId),
    /// The lifecycle refuses the event in the poll's current state.
    #[error(transparent)]
    Refused(#[from] TransitionError),
    /// Other writers kept winning the race (contention far beyond what a poll sees).
    #[error("the poll kept changing under us; try again")]
    Contended,
    /// Momento failed.
    #[error(transparent)]
    Backend(#[from] StoreError),
}

impl From<anyhow::Error> for ChangeError {
    fn from(error: anyhow::Error) -> Self {
        ChangeError::Backend(StoreError::from(error))
    }
}

/// Polls in the cache.
#[derive(Clone)]
pub struct PollStore {
    momento: Momento,
    ttl: Duration,
}

impl PollStore {
    /// Records live `ttl` after their last write.
    pub fn new(momento: Momento, ttl: Duration) -> Self {
        Self { momento, ttl }
    }

    /// Stores a new poll; `false` if the id is taken (ids are random: the caller retries).
    #[tracing::instrument(level = "debug", skip_all, fields(poll_id = %poll.id().as_str()))]
    pub async fn create(&self, poll: &Poll) -> StoreResult<bool> {
        self.write_index(poll).await?;
        let bytes = serde_json::to_vec(poll).context("encoding the poll")?;
        Ok(self
            .momento
            .set_if(
                &keys::poll(poll.id()),
                &bytes,
                Condition::Absent,
                self.ttl,
                "storing the poll",
            )
            .await?)
    }

    /// Reads a poll.
    #[tracing::instrument(level = "debug", skip_all, fields(poll_id = %id.as_str()))]
    pub async fn get(&self, id: &PollId) -> StoreResult<Option<StoredPoll>> {
        let Some(raw) = self.momento.get(keys::poll(id), "reading the poll").await? else {
            return Ok(None);
        };
        let poll: Poll = serde_json::from_slice(&raw)
            .with_context(|| format!("decoding stored poll {}", id.as_str()))?;
        Ok(Some(StoredPoll { poll, raw }))
    }

    /// Applies `event` at `now` (after any clock deadline already due) by compare-and-set,
    /// re-reading and re-deciding when another writer got there first. Returns the poll as
    /// stored after the change.
    #[tracing::instrument(level = "debug", skip_all, fields(poll_id = %id.as_str(), event = %event.kind()))]
    pub async fn apply(
        &self,
        id: &PollId,
        event: &Event,
        now: DateTime<Utc>,
    ) -> Result<Poll, ChangeError> {
        for _ in 0..CAS_ATTEMPTS {
            let current = self
                .get(id)
                .await?
                .ok_or_else(|| ChangeError::NotFound(id.clone()))?;
            // Judge the event against the state readers see (`Poll::state_at`): a deadline
            // already passed that no scheduler has stored yet is applied first, in the same
            // write, so an admin cannot cancel a poll everyone sees open, nor be told it is
            // still scheduled when closing it. Each of the two changes counts in `version`.
            let caught_up = match event {
                Event::Clock => None,
                _ => current.poll.apply(&Event::Clock, now).ok(),
            };
            let next = caught_up
                .as_ref()
                .unwrap_or(&current.poll)
                .apply(event, now)?;
            let bytes = serde_json::to_vec(&next).context("encoding the poll")?;
            if self
                .momento
                .set_if(
                    &keys::poll(id),
                    &bytes,
                    Condition::Equal(&current.raw),
                    self.ttl,
                    "compare-and-set of the poll",
                )
                .await?
            {
                if let Err(error) = self.write_index(&next).await {
                    // The record changed; the index only guides listing and the scheduler.
                    tracing::warn!(error = format!("{error:#}"), "poll index not updated");
                }
                return Ok(next);
            }
        }
        Err(ChangeError::Contended)
    }

    /// How long records live after their last write.
    pub fn ttl(&self) -> Duration {
        self.ttl
    }

    /// The index: every poll id with its last known state and deadline.
    #[tracing::instrument(level = "debug", skip_all)]
    pub async fn index(&self) -> StoreResult<HashMap<PollId, IndexEntry>> {
        let raw = (self.momento)
            .dictionary(POLL_INDEX.to_owned(), "reading the poll index")
            .await?;
        let mut index = HashMap::with_capacity(raw.len());
        for (field, value) in raw {
            let id = std::str::from_utf8(&field)
                .ok()
                .and_then(|f| PollId::parse(f).ok());
            let entry = serde_json::from_slice::<IndexEntry>(&value).ok();
            match (id, entry) {
                (Some(id), Some(entry)) => {
                    index.insert(id, entry);
                }
                _ => tracing::warn!("skipping a malformed poll index entry"),
            }
        }
        Ok(index)
    }

    #[tracing::instrument(level = "debug", skip_all, fields(poll_id = %poll.id().as_str()))]
    async fn write_index(&self, poll: &Poll) -> StoreResult<()> {
        let entry = IndexEntry {
            created_at: poll.created_at(),
            state: poll.state(),
            next_deadline: next_clock_deadline(poll),
        };
        let value = serde_json::to_vec(&entry).context("encoding the index entry")?;
        let field = poll.id().as_str().as_bytes().to_vec();
        self.momento
            .set_fields(
                POLL_INDEX,
                vec![(field, value)],
                self.ttl,
                "writing the poll index",
            )
            .await?;
        Ok(())
    }
}
