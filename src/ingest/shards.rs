//! Which votes topics this replica reads: replicas share the shards through leases
//! (`momento/leases.rs`), each reading only those it holds, so each vote is processed by about
//! one replica and ingest grows with replicas (up to one per shard).
//!
//! Every [`ROUND_EVERY`] a replica:
//! 1. says it is alive (a heartbeat with a TTL) and counts the replicas alive;
//! 2. renews the leases it holds; a lease it no longer holds (it expired while this replica
//!    was stalled, and another took it) stops that shard's reader at once;
//! 3. gives back leases beyond its share (`ceil(shards / replicas)`): the shard's reader stops
//!    first (it finishes what it read and saves its position), then the lease is released, so
//!    the next holder resumes exactly there;
//! 4. takes free leases up to its share (in an order of its own, so replicas do not all reach
//!    for the same shard), starting a reader that resumes from the shard's saved position.
//!
//! A replica that dies loses its leases when they expire ([`LEASE_TTL`]); the others take them
//! within a round after that. Two readers of one shard for a moment (a stalled replica waking
//! up before it notices) process some votes twice, which counts them once: the pipeline decides
//! by the voter's ballot key. At shutdown every reader stops and every lease is given back, so
//! the others take over at once.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use rand::seq::SliceRandom;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::ingest::pipeline::Pipeline;
use crate::metrics::Metrics;
use crate::momento::keys::VoteShards;
use crate::momento::leases::LeaseStore;
use crate::momento::Momento;

/// How long a lease (and a heartbeat) lives without renewal: how soon a dead replica's shards
/// are taken over.
pub const LEASE_TTL: Duration = Duration::from_secs(10);
/// How often leases are renewed, shares recomputed and free shards taken.
pub const ROUND_EVERY: Duration = Duration::from_secs(2);

/// A shard this replica reads.
struct Held {
    stop: CancellationToken,
    reader: JoinHandle<()>,
    renewed: Instant,
}

/// The shard ingest of one replica.
pub struct ShardIngest {
    /// This replica's id (random per process).
    pub replica: String,
    /// The leases and the registry.
    pub leases: LeaseStore,
    /// The Momento the topics are read from.
    pub momento: Momento,
    /// Where votes go.
    pub pipeline: Arc<Pipeline>,
    /// Where shard changes are counted.
    pub metrics: Arc<Metrics>,
    /// The shards.
    pub shards: VoteShards,
    /// How long saved positions live.
    pub record_ttl: Duration,
    /// Set after the first round: this replica reads its share (readiness waits for it).
    pub live: Arc<AtomicBool>,
    /// How many replicas the last round counted alive (the results budget's deliveries).
    pub replicas_alive: Arc<std::sync::atomic::AtomicUsize>,
}

impl ShardIngest {
    /// Shares the shards with the other replicas until `shutdown`; then stops every reader and
    /// gives every lease back.
    pub async fn run(self, shutdown: CancellationToken) {
        let mut held = BTreeMap::new();
        loop {
            if let Err(error) = self.round(&mut held).await {
                tracing::warn!(error = format!("{error:#}"), "a votes shard round failed");
            }
            self.live.store(true, Ordering::Release);
            tokio::select! {
                _ = shutdown.cancelled() => break,
                _ = tokio::time::sleep(ROUND_EVERY) => {}
            }
        }
        let shards: Vec<u32> = held.keys().copied().collect();
        for shard in shards {
            self.give_back(&mut held, shard).await;
        }
        if let Err(error) = self.leases.leave(&self.replica).await {
            tracing::warn!(
                error = format!("{error:#}"),
                "could not leave the replica list"
            );
        }
    }

    async fn round(&self, held: &mut BTreeMap<u32, Held>) -> anyhow::Result<()> {
        self.leases.heartbeat(&self.replica).await?;
        let alive = self.leases.replicas().await?.len().max(1);
        self.replicas_alive.store(alive, Ordering::Relaxed);
        let alive = alive as u32;
        let share = self.shards.count().div_ceil(alive) as usize;
        self.renew(held).await;
        while held.len() > share {
            let Some(&extra) = held.keys().next_back() else {
                break;
            };
            self.give_back(held, extra).await;
        }
        if held.len() < share {
            let mut free: Vec<u32> = self
                .shards
                .all()
                .filter(|s| !held.contains_key(s))
                .collect();
            free.shuffle(&mut rand::rng());
            for shard in free {
                if held.len() >= share {
                    break;
                }
                if self.leases.acquire(shard, &self.replica).await? {
                    self.change("acquired", shard);
                    held.insert(shard, self.start_reader(shard));
                }
            }
        }
        self.metrics.ingest_shards_held.set(held.len() as i64);
        Ok(())
    }

    /// Renews every lease held; stops the reader of one that is no longer this replica's, or
    /// that could not be renewed for a whole lease (it may have been taken meanwhile).
    async fn renew(&self, held: &mut BTreeMap<u32, Held>) {
        let shards: Vec<u32> = held.keys().copied().collect();
        for shard in shards {
            let lost = match self.leases.renew(shard, &self.replica).await {
                Ok(true) => {
                    if let Some(h) = held.get_mut(&shard) {
                        h.renewed = Instant::now();
                    }
                    false
                }
                Ok(false) => true,
                Err(error) => {
                    tracing::warn!(shard, error = format!("{error:#}"), "lease not renewed");
                    held.get(&shard)
                        .is_some_and(|h| h.renewed.elapsed() >= LEASE_TTL)
                }
            };
            if lost {
                if let Some(h) = held.remove(&shard) {
                    tracing::warn!(shard, "lost the lease on a votes shard: its reader stops");
                    h.stop.cancel();
                    self.change("lost", shard);
                }
            }
        }
    }

    /// Stops the reader of `shard` (it finishes what it read and saves its position), then gives
    /// the lease back.
    async fn give_back(&self, held: &mut BTreeMap<u32, Held>, shard: u32) {
        let Some(h) = held.remove(&shard) else {
            return;
        };
        h.stop.cancel();
        let _ = h.reader.await;
        match self.leases.release(shard, &self.replica).await {
            Ok(_) => self.change("released", shard),
            Err(error) => {
                // It expires by itself within a lease.
                tracing::warn!(shard, error = format!("{error:#}"), "lease not given back");
            }
        }
    }

    fn start_reader(&self, shard: u32) -> Held {
        let stop = CancellationToken::new();
        let reader = tokio::spawn(crate::ingest::subscription::run(
            self.momento.clone(),
            self.pipeline.clone(),
            self.metrics.clone(),
            self.shards.topic(shard),
            Arc::new(AtomicBool::new(false)),
            self.record_ttl,
            stop.clone(),
        ));
        Held {
            stop,
            reader,
            renewed: Instant::now(),
        }
    }

    fn change(&self, change: &'static str, shard: u32) {
        tracing::info!(shard, replica = %self.replica, change, "votes shard lease");
        self.metrics
            .ingest_lease_changes
            .with_label_values(&[change])
            .inc();
    }
}

/// A fresh replica id.
pub fn replica_id() -> String {
    use rand::RngCore;
    let mut bytes = [0u8; 6];
    rand::rng().fill_bytes(&mut bytes);
    format!("r-{}", hex::encode(bytes))
}
