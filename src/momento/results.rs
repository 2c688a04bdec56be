//! Results in Momento cache and topics: the counter `results_seq:{poll_id}` every `seq` is
//! taken from, the snapshot `results:{poll_id}` (JSON of [`Results`]) that
//! `GET /v1/polls/{id}/results` serves, and the topics they are published on: `results.{poll_id}`
//! (voter tokens may subscribe to it) for results voters may see, `results-admin.{poll_id}` for
//! the others. When and what to publish is decided in `results/` (the publisher); this is only
//! the I/O.

use std::time::Duration;

use anyhow::Context;
use futures::{Stream, StreamExt};

use crate::domain::{PollId, Results};
use crate::momento::{keys, Condition, Momento, StoreResult};

/// How many times a snapshot write that lost a race is decided again.
const SNAPSHOT_ATTEMPTS: usize = 8;

/// Results seq, snapshots and topics.
#[derive(Clone)]
pub struct ResultsStore {
    momento: Momento,
    ttl: Duration,
}

impl ResultsStore {
    /// The seq counter and snapshots live `ttl` after their last write.
    pub fn new(momento: Momento, ttl: Duration) -> Self {
        Self { momento, ttl }
    }

    /// The next `seq` of `poll` (1 for the first), from an atomic `Increment`: across replicas
    /// no two publishes of a poll get the same one.
    #[tracing::instrument(level = "debug", skip_all, fields(poll_id = %poll.as_str()))]
    pub async fn next_seq(&self, poll: &PollId) -> StoreResult<u64> {
        Ok(self
            .momento
            .increment(
                &keys::results_seq(poll),
                1,
                self.ttl,
                "taking the next results seq",
            )
            .await? as u64)
    }

    /// Stores `results` as their poll's snapshot, then publishes them: on the poll's results
    /// topic when voters may see them (`public`), else on the admins' results topic. The
    /// snapshot is only ever replaced by results with a higher `seq` (compare-and-set on its
    /// bytes), so a count that lands late from another replica cannot take readers back; such
    /// results are neither stored nor published, and `false` is returned.
    #[tracing::instrument(level = "debug", skip_all, fields(poll_id = %results.poll_id.as_str(), seq = results.seq))]
    pub async fn publish(&self, results: &Results, public: bool) -> StoreResult<bool> {
        let poll = &results.poll_id;
        let json = serde_json::to_string(results).context("encoding results")?;
        if !self.store_if_newer(results, &json).await? {
            return Ok(false);
        }
        let topic = match public {
            true => keys::results_topic(poll),
            false => keys::admin_results_topic(poll),
        };
        self.momento
            .publish(&topic, json, "publishing results")
            .await?;
        Ok(true)
    }

    /// Replaces the snapshot with `json` (the encoded `results`) unless it holds results with
    /// a `seq` as high already; `false` when it does.
    async fn store_if_newer(&self, results: &Results, json: &str) -> StoreResult<bool> {
        let key = keys::results(&results.poll_id);
        for _ in 0..SNAPSHOT_ATTEMPTS {
            let current = (self.momento)
                .get(key.clone(), "reading the results snapshot")
                .await?;
            let stored = match current {
                None => {
                    self.momento
                        .set_if(
                            &key,
                            json.as_bytes(),
                            Condition::Absent,
                            self.ttl,
                            "storing the first results snapshot",
                        )
                        .await?
                }
                Some(raw) => {
                    let newer = serde_json::from_slice::<Results>(&raw)
                        .map_or(true, |current| results.seq > current.seq);
                    if !newer {
                        return Ok(false);
                    }
                    self.momento
                        .set_if(
                            &key,
                            json.as_bytes(),
                            Condition::Equal(&raw),
                            self.ttl,
                            "replacing the results snapshot",
                        )
                        .await?
                }
            };
            if stored {
                return Ok(true);
            }
        }
        Err(anyhow::anyhow!("the results snapshot kept changing").into())
    }

    /// How many subscribers of the poll's results topics (voters' long polls and streams, the
    /// shared SSE feeds) wait for its next results, where the engine can tell (in process).
    pub fn subscribers(&self, poll: &PollId) -> Option<usize> {
        let engine = &self.momento.engine;
        let cache = self.momento.cache_name();
        let public = engine.subscribers(cache, &keys::results_topic(poll))?;
        let admin = engine.subscribers(cache, &keys::admin_results_topic(poll))?;
        Some(public + admin)
    }

    /// The last published results of `poll`, if any.
    #[tracing::instrument(level = "debug", skip_all, fields(poll_id = %poll.as_str()))]
    pub async fn snapshot(&self, poll: &PollId) -> StoreResult<Option<Results>> {
        let key = keys::results(poll);
        let Some(raw) = self
            .momento
            .get(key, "reading the results snapshot")
            .await?
        else {
            return Ok(None);
        };
        let results = serde_json::from_slice(&raw).context("decoding a results snapshot")?;
        Ok(Some(results))
    }

    /// Every results message published for `poll` from now on that the caller may see: the
    /// results topic's, and for an admin the admins' results topic's too (merged as they
    /// arrive: the caller orders them by `seq`). A message that is not results is skipped.
    #[tracing::instrument(level = "debug", skip_all, fields(poll_id = %poll.as_str(), admin))]
    pub async fn subscribe(
        &self,
        poll: &PollId,
        admin: bool,
    ) -> StoreResult<impl Stream<Item = Results> + Send + 'static> {
        let public = self.subscribe_to(keys::results_topic(poll)).await?;
        let hidden = match admin {
            true => Some(self.subscribe_to(keys::admin_results_topic(poll)).await?),
            false => None,
        };
        let hidden = futures::stream::iter(hidden).flatten();
        Ok(futures::stream::select(public, hidden))
    }

    async fn subscribe_to(
        &self,
        topic: String,
    ) -> StoreResult<impl Stream<Item = Results> + Send + 'static> {
        let subscription = self
            .momento
            .subscribe(&topic, None, "subscribing to a results topic")
            .await?;
        Ok(subscription.filter_map(|message| {
            let results = message
                .text
                .and_then(|text| serde_json::from_str::<Results>(&text).ok());
            async move { results }
        }))
    }
}
