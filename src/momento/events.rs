//! Events in Momento cache: the record `event:{id}` (JSON of [`Session`]), its join code
//! `join_code:{CODE}` (= the event id) and the index dictionary `events` (field = event id).
//!
//! - A code is claimed with `SetIf` Absent before the record is written, so two live events
//!   never share one; a taken code makes the caller draw another. A code lives as long as its
//!   event's record (both refreshed on each change).
//! - Every change is a compare-and-set on the record's exact bytes (`SetIf` Equal), re-read
//!   and re-decided when another writer got there first, as polls change.

use std::time::Duration;

use anyhow::Context;
use chrono::{DateTime, Utc};

use crate::domain::session::{EventId, JoinCode, Session};
use crate::momento::{keys, Condition, Momento, StoreError, StoreResult};

/// How often a compare-and-set that lost a race is retried before giving up.
const CAS_ATTEMPTS: usize = 8;

/// Why an event change did not happen.
#[derive(Debug, thiserror::Error)]
pub enum EventChangeError<E> {
    /// No such event.
    #[error("event not found")]
    NotFound,
    /// The change refused itself.
    #[error(transparent)]
    Refused(E),
    /// Other writers kept winning the race.
    #[error("the event kept changing under us; try again")]
    Contended,
    /// Momento failed.
    #[error(transparent)]
    Backend(#[from] StoreError),
}

/// Events in the cache.
#[derive(Clone)]
pub struct EventStore {
    momento: Momento,
    ttl: Duration,
}

impl EventStore {
    /// Records live `ttl` after their last write.
    pub fn new(momento: Momento, ttl: Duration) -> Self {
        Self { momento, ttl }
    }

    /// Claims `code` for `event`; `false` when a live event has it.
    #[tracing::instrument(level = "debug", skip_all, fields(event_id = %event.as_str()))]
    pub async fn claim_code(&self, code: &JoinCode, event: &EventId) -> StoreResult<bool> {
        let key = keys::join_code(code);
        let claimed = self.momento.set_if(
            &key,
            event.as_str().as_bytes(),
            Condition::Absent,
            self.ttl,
            "claiming a join code",
        );
        Ok(claimed.await?)
    }

    /// Stores a new event (its code claimed first); `false` if the id is taken.
    #[tracing::instrument(level = "debug", skip_all, fields(event_id = %event.id.as_str()))]
    pub async fn create(&self, event: &Session) -> StoreResult<bool> {
        let bytes = serde_json::to_vec(event).context("encoding the event")?;
        let key = keys::event(&event.id);
        let stored = self.momento.set_if(
            &key,
            &bytes,
            Condition::Absent,
            self.ttl,
            "storing the event",
        );
        let stored = stored.await?;
        if stored {
            self.write_index(&event.id, event.created_at).await?;
        }
        Ok(stored)
    }

    /// Reads an event, with the bytes a compare-and-set must match.
    #[tracing::instrument(level = "debug", skip_all, fields(event_id = %id.as_str()))]
    pub async fn get(&self, id: &EventId) -> StoreResult<Option<(Session, Vec<u8>)>> {
        let Some(raw) = self
            .momento
            .get(keys::event(id), "reading the event")
            .await?
        else {
            return Ok(None);
        };
        let event = serde_json::from_slice(&raw).context("decoding a stored event")?;
        Ok(Some((event, raw)))
    }

    /// The event `code` belongs to, if a live one does.
    #[tracing::instrument(level = "debug", skip_all)]
    pub async fn by_code(&self, code: &JoinCode) -> StoreResult<Option<Session>> {
        let key = keys::join_code(code);
        let Some(raw) = self.momento.get(key, "reading a join code").await? else {
            return Ok(None);
        };
        let Some(id) = std::str::from_utf8(&raw)
            .ok()
            .and_then(|id| EventId::parse(id).ok())
        else {
            return Ok(None);
        };
        Ok(self
            .get(&id)
            .await?
            .map(|(event, _)| event)
            .filter(|e| &e.code == code))
    }

    /// Applies `change` to the event by compare-and-set (re-read and re-decided when another
    /// writer got there first); returns the event as stored after it.
    #[tracing::instrument(level = "debug", skip_all, fields(event_id = %id.as_str()))]
    pub async fn update<E>(
        &self,
        id: &EventId,
        change: impl Fn(&Session) -> Result<Session, E>,
    ) -> Result<Session, EventChangeError<E>> {
        for _ in 0..CAS_ATTEMPTS {
            let (current, raw) = self.get(id).await?.ok_or(EventChangeError::NotFound)?;
            let next = change(&current).map_err(EventChangeError::Refused)?;
            let bytes = serde_json::to_vec(&next)
                .context("encoding the event")
                .map_err(StoreError::from)?;
            let key = keys::event(id);
            let stored = self.momento.set_if(
                &key,
                &bytes,
                Condition::Equal(&raw),
                self.ttl,
                "compare-and-set of the event",
            );
            if stored.await.map_err(StoreError::from)? {
                // The code lives as long as its event.
                let code = keys::join_code(&next.code);
                let refreshed =
                    self.momento
                        .update_ttl(&code, self.ttl, "refreshing the join code's TTL");
                refreshed.await.map_err(StoreError::from)?;
                return Ok(next);
            }
        }
        Err(EventChangeError::Contended)
    }

    /// Every event id of the index, newest first.
    #[tracing::instrument(level = "debug", skip_all)]
    pub async fn index(&self) -> StoreResult<Vec<EventId>> {
        let fields = (self.momento)
            .dictionary(keys::EVENT_INDEX.to_owned(), "reading the event index")
            .await?;
        let mut ids: Vec<(String, EventId)> = fields
            .into_iter()
            .filter_map(|(id, created)| {
                let id = EventId::parse(std::str::from_utf8(&id).ok()?).ok()?;
                Some((String::from_utf8(created).ok()?, id))
            })
            .collect();
        // RFC 3339 times in UTC sort as text; ties by id, so the order is stable.
        ids.sort_by(|a, b| b.0.cmp(&a.0).then_with(|| a.1.cmp(&b.1)));
        Ok(ids.into_iter().map(|(_, id)| id).collect())
    }

    async fn write_index(&self, id: &EventId, created_at: DateTime<Utc>) -> StoreResult<()> {
        let field = (
            id.as_str().as_bytes().to_vec(),
            created_at.to_rfc3339().into_bytes(),
        );
        let written = self.momento.set_fields(
            keys::EVENT_INDEX,
            vec![field],
            self.ttl,
            "writing the event index",
        );
        written.await?;
        Ok(())
    }
}
