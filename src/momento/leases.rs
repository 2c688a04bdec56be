//! Who ingests which votes shard: leases in the cache, and the registry of ingesting replicas.
//!
//! - **A lease** `ingest_lease:{shard}` holds the id of the replica that reads that shard's
//!   topic. It is taken with `SetIf` AbsentOrEqual(`-`) (free, or given back), renewed with
//!   `SetIf` Equal(the holder's id), and given back by setting it to `-`: every change is a
//!   compare-and-set, so two replicas never both think they took it. It expires with its TTL,
//!   which Momento counts: a replica that dies (or stops renewing) loses it within the TTL
//!   whatever its clock says, so a replica with a skewed clock can neither keep a lease longer
//!   nor take one early.
//! - **The registry**: each replica keeps a key `ingest_replica:{id}` alive with a TTL (its
//!   heartbeat) and lists its id in the dictionary `ingest_replicas`; a listed replica whose key
//!   has expired is gone, and is taken off the list. How many are alive sets each one's share.
//! - **The shard count** of the cache (`ingest_shards`) is written once; every start compares.

use std::time::Duration;

use anyhow::Context;

use crate::momento::keys::{self, INGEST_REPLICAS, INGEST_SHARDS};
use crate::momento::{Condition, Momento, StoreResult};

/// A lease's value once given back: free for anyone to take.
const RELEASED: &[u8] = b"-";

/// Leases and the registry.
#[derive(Clone)]
pub struct LeaseStore {
    momento: Momento,
    /// How long a lease (and a heartbeat) lives without renewal.
    ttl: Duration,
}

impl LeaseStore {
    /// Leases and heartbeats that live `ttl` unless renewed.
    pub fn new(momento: Momento, ttl: Duration) -> Self {
        Self { momento, ttl }
    }

    /// Takes the lease on `shard` for `replica` if it is free; whether it did.
    #[tracing::instrument(level = "debug", skip_all, fields(shard, replica))]
    pub async fn acquire(&self, shard: u32, replica: &str) -> StoreResult<bool> {
        let key = keys::ingest_lease(shard);
        let taken = self.momento.set_if(
            &key,
            replica.as_bytes(),
            Condition::AbsentOrEqual(RELEASED),
            self.ttl,
            "taking a votes shard lease",
        );
        Ok(taken.await?)
    }

    /// Renews `replica`'s lease on `shard`; `false` when it is no longer `replica`'s.
    #[tracing::instrument(level = "debug", skip_all, fields(shard, replica))]
    pub async fn renew(&self, shard: u32, replica: &str) -> StoreResult<bool> {
        let key = keys::ingest_lease(shard);
        let renewed = self.momento.set_if(
            &key,
            replica.as_bytes(),
            Condition::Equal(replica.as_bytes()),
            self.ttl,
            "renewing a votes shard lease",
        );
        Ok(renewed.await?)
    }

    /// Gives `replica`'s lease on `shard` back; `false` when it was not `replica`'s any more.
    #[tracing::instrument(level = "debug", skip_all, fields(shard, replica))]
    pub async fn release(&self, shard: u32, replica: &str) -> StoreResult<bool> {
        let key = keys::ingest_lease(shard);
        let released = self.momento.set_if(
            &key,
            RELEASED,
            Condition::Equal(replica.as_bytes()),
            self.ttl,
            "giving a votes shard lease back",
        );
        Ok(released.await?)
    }

    /// Who holds the lease on `shard` (`None` when free).
    pub async fn holder(&self, shard: u32) -> StoreResult<Option<String>> {
        let raw = self
            .momento
            .get(keys::ingest_lease(shard), "reading a votes shard lease")
            .await?;
        Ok(raw
            .filter(|raw| raw != RELEASED)
            .map(|raw| String::from_utf8_lossy(&raw).into_owned()))
    }

    /// Says `replica` is alive (for `ttl`) and lists it.
    #[tracing::instrument(level = "debug", skip_all, fields(replica))]
    pub async fn heartbeat(&self, replica: &str) -> StoreResult<()> {
        let key = keys::ingest_replica(replica);
        let alive = self
            .momento
            .set(&key, b"1", self.ttl, "writing a replica's heartbeat");
        alive.await?;
        let listed = self.momento.set_fields(
            INGEST_REPLICAS,
            vec![(replica.as_bytes().to_vec(), Vec::new())],
            self.ttl.saturating_mul(10),
            "listing an ingesting replica",
        );
        listed.await?;
        Ok(())
    }

    /// Takes `replica` off the list at once (a clean stop), rather than when its heartbeat
    /// expires, so the others take its shares now.
    #[tracing::instrument(level = "debug", skip_all, fields(replica))]
    pub async fn leave(&self, replica: &str) -> StoreResult<()> {
        let key = keys::ingest_replica(replica);
        self.momento
            .delete(&key, "ending a replica's heartbeat")
            .await?;
        let unlisted =
            self.momento
                .remove_field(INGEST_REPLICAS, replica, "taking a replica off the list");
        unlisted.await?;
        Ok(())
    }

    /// The replicas alive now (their heartbeat has not expired), sorted; the others are taken
    /// off the list.
    #[tracing::instrument(level = "debug", skip_all)]
    pub async fn replicas(&self) -> StoreResult<Vec<String>> {
        let listed = (self.momento)
            .dictionary(INGEST_REPLICAS.to_owned(), "reading the ingesting replicas")
            .await?;
        let mut alive = Vec::with_capacity(listed.len());
        for id in listed.into_keys() {
            let id = String::from_utf8_lossy(&id).into_owned();
            let heartbeat = (self.momento)
                .get(keys::ingest_replica(&id), "reading a replica's heartbeat")
                .await?;
            match heartbeat {
                Some(_) => alive.push(id),
                None => {
                    let gone = (self.momento).remove_field(
                        INGEST_REPLICAS,
                        &id,
                        "taking a gone replica off the list",
                    );
                    gone.await?;
                }
            }
        }
        alive.sort();
        Ok(alive)
    }

    /// The shard count of the cache's votes: `shards` when none was recorded yet (it is
    /// recorded, to live `ttl`), else the recorded one (given `ttl` again).
    #[tracing::instrument(level = "debug", skip_all, fields(shards))]
    pub async fn shard_count(&self, shards: u32, ttl: Duration) -> StoreResult<u32> {
        let value = shards.to_string();
        let recorded = self.momento.set_if(
            INGEST_SHARDS,
            value.as_bytes(),
            Condition::Absent,
            ttl,
            "recording the votes shard count",
        );
        if recorded.await? {
            return Ok(shards);
        }
        let raw = self
            .momento
            .get(INGEST_SHARDS.to_owned(), "reading the votes shard count")
            .await?
            .context("the votes shard count is gone")?;
        let stored = std::str::from_utf8(&raw)
            .ok()
            .and_then(|n| n.parse().ok())
            .context("the votes shard count holds garbage")?;
        self.momento
            .update_ttl(INGEST_SHARDS, ttl, "keeping the votes shard count")
            .await?;
        Ok(stored)
    }
}
