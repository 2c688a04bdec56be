//! Group commit of ledger writes: the writes of many voters into one ledger shard share one
//! `DictionarySetFields` round trip.
//!
//! No write waits for company: the first write finds no flush under way and starts one at once;
//! the writes that arrive while a flush is in flight are taken together by the next, one
//! request per shard, shards in parallel. So an idle server writes each ballot as soon as it
//! comes, and a busy one makes fewer, larger calls (the same natural batching as the local
//! Momento's journal). Each writer is answered with the result of the request that carried its
//! write, so "written" still means written: a failed batch fails every write in it, and each is
//! retried by its caller as before.
//!
//! Within one batch a voter written twice (a revote racing its first ballot) keeps the later
//! write, as two calls in that order would; the pipeline settles any order against the ballot
//! key anyway.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use tokio::sync::oneshot;

use crate::momento::{Momento, StoreError, StoreResult};

/// One voter's write waiting for its batch.
struct Pending {
    field: String,
    value: Vec<u8>,
    done: oneshot::Sender<Result<(), Arc<anyhow::Error>>>,
}

#[derive(Default)]
struct Queue {
    /// Writes by ledger shard, in arrival order.
    pending: HashMap<String, Vec<Pending>>,
    /// A flush task is running; it takes whatever is pending before it stops.
    flushing: bool,
}

/// The ledger writes of a process.
pub struct LedgerWriter {
    momento: Momento,
    ttl: Duration,
    queue: Mutex<Queue>,
}

impl LedgerWriter {
    /// Writes through `momento`; every write refreshes its shard's TTL to `ttl`.
    pub fn new(momento: Momento, ttl: Duration) -> Arc<Self> {
        Arc::new(Self {
            momento,
            ttl,
            queue: Mutex::new(Queue::default()),
        })
    }

    fn queue(&self) -> MutexGuard<'_, Queue> {
        // A std mutex: a push or a swap, never held across an await.
        self.queue.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Writes `value` into `field` of the ledger shard `shard`, together with whatever else is
    /// waiting; resolves once the request that carried it has been answered.
    pub async fn write(
        self: &Arc<Self>,
        shard: String,
        field: &str,
        value: &[u8],
    ) -> StoreResult<()> {
        let (done, answer) = oneshot::channel();
        let start = {
            let mut queue = self.queue();
            queue.pending.entry(shard).or_default().push(Pending {
                field: field.to_owned(),
                value: value.to_vec(),
                done,
            });
            !std::mem::replace(&mut queue.flushing, true)
        };
        if start {
            // A task of its own: a caller that goes away must not take the others' writes with it.
            tokio::spawn(self.clone().flush());
        }
        match answer.await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(error)) => Err(StoreError::from(anyhow::anyhow!("{error:#}"))),
            Err(_) => Err(anyhow::anyhow!("the ledger writer stopped before answering").into()),
        }
    }

    /// Writes what is pending, batch after batch, until nothing is.
    async fn flush(self: Arc<Self>) {
        loop {
            let batch = {
                let mut queue = self.queue();
                if queue.pending.is_empty() {
                    queue.flushing = false;
                    return;
                }
                std::mem::take(&mut queue.pending)
            };
            let shards = batch
                .into_iter()
                .map(|(shard, writes)| self.write_shard(shard, writes));
            futures::future::join_all(shards).await;
        }
    }

    /// One `DictionarySetFields` for every write waiting for `shard`; answers each.
    async fn write_shard(&self, shard: String, writes: Vec<Pending>) {
        let mut fields: Vec<(Vec<u8>, Vec<u8>)> = Vec::with_capacity(writes.len());
        let mut at: HashMap<&str, usize> = HashMap::with_capacity(writes.len());
        for write in &writes {
            match at.get(write.field.as_str()) {
                // The later write of the same voter wins, as two calls in order would.
                Some(&i) => fields[i].1.clone_from(&write.value),
                None => {
                    at.insert(&write.field, fields.len());
                    fields.push((write.field.as_bytes().to_vec(), write.value.clone()));
                }
            }
        }
        let result = self
            .momento
            .set_fields(&shard, fields, self.ttl, "writing the ballot ledger")
            .await
            .map(|_| ())
            .map_err(Arc::new);
        for write in writes {
            let _ = write.done.send(result.clone());
        }
    }
}
