//! The server's state and its data dir: rebuilding the state from records at start, writing it
//! into a snapshot, compacting when the journal has grown, and the clean stop.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use secrecy::ExposeSecret;
use serde_bytes::Bytes;
use tokio_util::sync::CancellationToken;

use crate::clock::{monotonic_ms, to_unix};
use crate::persist::dir::DataDir;
use crate::persist::journal::Journal;
use crate::persist::record::{MessageRecord, Record};
use crate::persist::recover::{recover, Recovery};
use crate::persist::snapshot::{compact, RecordSink};
use crate::persist::{Compaction, FsyncPolicy};
use crate::store::Value;
use crate::Shared;

/// The journal is compacted into a snapshot once it holds this much since the last one...
const COMPACT_AT_LEAST: u64 = 64 * 1024 * 1024;
/// ...and more than the last snapshot's size (as Redis's `auto-aof-rewrite-percentage 100`).
const COMPACT_CHECK_EVERY: Duration = Duration::from_secs(1);

/// A server's data dir, open and journaling.
#[derive(Clone)]
pub(crate) struct Durable(Arc<Inner>);

struct Inner {
    dir: DataDir,
    journal: Arc<Journal>,
    shared: Arc<Shared>,
    /// One compaction at a time.
    compacting: tokio::sync::Mutex<()>,
    last_snapshot_bytes: AtomicU64,
}

impl Durable {
    /// Rebuilds `shared` from `dir` and starts journaling there.
    pub(crate) async fn recover(
        dir: DataDir,
        fsync: FsyncPolicy,
        shared: Arc<Shared>,
    ) -> anyhow::Result<(Self, Recovery)> {
        let (dir, recovery) = {
            let shared = shared.clone();
            tokio::task::spawn_blocking(move || {
                let recovery = recover(&dir, |record| apply(&shared, record))?;
                shared.store.drop_expired(monotonic_ms());
                anyhow::Ok((dir, recovery))
            })
            .await
            .context("recovering the data dir")??
        };
        let journal = Journal::open(
            dir.path(),
            recovery.next_segment,
            fsync,
            recovery.journal_bytes,
        )?;
        shared.log.start(journal.clone());
        tracing::info!(
            dir = %dir.path().display(),
            snapshot = ?recovery.snapshot,
            records = recovery.records,
            journal_bytes = recovery.journal_bytes,
            torn_tail_bytes = ?recovery.torn_tail_bytes,
            items = shared.store.item_count(),
            elapsed_ms = recovery.elapsed.as_millis() as u64,
            %fsync,
            "local Momento state recovered"
        );
        let durable = Self(Arc::new(Inner {
            dir,
            journal,
            shared,
            compacting: tokio::sync::Mutex::new(()),
            last_snapshot_bytes: AtomicU64::new(0),
        }));
        Ok((durable, recovery))
    }

    /// Compacts whenever the journal has outgrown the last snapshot, until `shutdown`.
    pub(crate) async fn compact_when_due(self, shutdown: CancellationToken) {
        let mut ticker = tokio::time::interval(COMPACT_CHECK_EVERY);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = shutdown.cancelled() => return,
                _ = ticker.tick() => {}
            }
            let grown = self.0.journal.stats().bytes_since_snapshot;
            let last = self.0.last_snapshot_bytes.load(Ordering::Relaxed);
            if grown > COMPACT_AT_LEAST.max(last) {
                if let Err(error) = self.compact().await {
                    tracing::error!(
                        error = format!("{error:#}"),
                        "compaction failed; the journal keeps growing until one succeeds"
                    );
                }
            }
        }
    }

    /// Writes a snapshot and retires the journal before it.
    pub(crate) async fn compact(&self) -> anyhow::Result<Compaction> {
        let _one = self.0.compacting.lock().await;
        let inner = self.0.clone();
        let done = tokio::task::spawn_blocking(move || {
            compact(&inner.dir, &inner.journal, |writer| {
                write_state(&inner.shared, writer)
            })
        })
        .await
        .context("the compaction task failed")??;
        self.0
            .last_snapshot_bytes
            .store(done.bytes, Ordering::Relaxed);
        Ok(done)
    }

    /// The clean stop: a last snapshot (so the next start replays nothing), then the journal
    /// is closed and the data dir released. Call once nothing writes any more.
    pub(crate) async fn close(self) {
        if let Err(error) = self.compact().await {
            tracing::warn!(
                error = format!("{error:#}"),
                "no snapshot at shutdown; the next start replays the journal"
            );
        }
        let inner = self.0.clone();
        let _ = tokio::task::spawn_blocking(move || inner.journal.close()).await;
    }
}

impl Durable {
    /// Closes the journal without a snapshot (see `LocalMomento::stop_without_snapshot`).
    pub(crate) async fn abandon(self) {
        let inner = self.0.clone();
        let _ = tokio::task::spawn_blocking(move || inner.journal.close()).await;
    }
}

/// Applies one record to the state.
pub(crate) fn apply(shared: &Shared, record: &Record<'_>) {
    // A `Publish` is for both the outbox and the topic; the outbox says it did not consume it.
    let _ = shared.topics.webhooks().restore(record)
        || shared.store.restore(record)
        || shared.topics.restore(record);
}

/// Writes the whole state as snapshot records.
pub(crate) fn write_state(shared: &Shared, writer: &mut impl RecordSink) -> anyhow::Result<()> {
    let now = monotonic_ms();
    for cache in shared.store.caches() {
        writer.write(&Record::CreateCache {
            name: cache.name(),
            id: cache.id(),
        })?;
        let mut failed = None;
        cache.for_each_item(now, |key, item| {
            if failed.is_some() {
                return;
            }
            let expires_at = to_unix(item.expires_at);
            let written = match &item.value {
                Value::Scalar(value) => writer.write(&Record::Scalar {
                    cache: cache.name(),
                    key: Bytes::new(key),
                    value: Bytes::new(value),
                    expires_at,
                }),
                Value::Dictionary(dictionary) => writer.write(&Record::Fields {
                    cache: cache.name(),
                    name: Bytes::new(key),
                    fresh: true,
                    expires_at,
                    fields: dictionary
                        .fields
                        .iter()
                        .map(|(field, value)| (Bytes::new(field), Bytes::new(value)))
                        .collect(),
                }),
            };
            if let Err(error) = written {
                failed = Some(error);
            }
        });
        if let Some(error) = failed {
            return Err(error);
        }
    }
    // Messages made durable before the rotation may not be released yet: release them now, so
    // the history and the outbox written below hold them (their records are in the segments
    // this snapshot retires).
    let durable = shared.log.durable();
    let topics = shared.topics.all();
    for (cache, topic, state) in &topics {
        let released = state.release(durable);
        shared.topics.webhooks().enqueue(cache, topic, released);
    }
    for (cache, topic, state) in &topics {
        let (next_sequence, history) = state.snapshot();
        for message in &history {
            writer.write(&Record::History {
                cache,
                topic,
                message: MessageRecord::of(message),
            })?;
        }
        writer.write(&Record::Topic {
            cache,
            topic,
            page: state.page(),
            next_sequence,
        })?;
    }
    for webhook in shared.topics.webhooks().webhooks() {
        writer.write(&Record::Webhook {
            name: &webhook.name,
            cache: &webhook.cache,
            topic: &webhook.topic,
            url: &webhook.url,
            secret: webhook.secret.expose_secret(),
        })?;
    }
    for (key, message) in shared.topics.webhooks().pending() {
        writer.write(&Record::Pending {
            cache: key.hook.cache(),
            webhook: key.hook.name(),
            topic: &key.topic,
            message: MessageRecord::of(&message),
        })?;
    }
    Ok(())
}
