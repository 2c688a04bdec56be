//! The measurement behind the choice of storage (feature `storage-bench`; run with
//! `cargo bench -p local-momento --bench storage --features storage-bench`).
//!
//! The server keeps its state in memory and needs from its storage: (1) many small changes per
//! second, each durable (`fdatasync`) before it is acknowledged, from many concurrent writers;
//! (2) the whole state back into memory at start, fast. Three candidates, each given the same
//! group commit (every writer waiting shares one sync):
//! - **journal**: this crate's own append-only journal (`persist::journal`);
//! - **fjall**: an LSM-tree store (inserts, then `Keyspace::persist(SyncData)` per group);
//! - **redb**: a copy-on-write B-tree (one write transaction with `Durability::Immediate` per
//!   group).
//!
//! Figures: durable writes per second with 64 concurrent writers; then, for 1,000,000 records,
//! the bytes on disk and the time to read them all back into a `HashMap` after reopening.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_bytes::Bytes;
use tokio::sync::{mpsc, oneshot};

use crate::persist::journal::Journal;
use crate::persist::record::{decode, frames, Record, HEADER_BYTES};
use crate::persist::FsyncPolicy;

/// One candidate's figures.
#[derive(Debug)]
pub struct Figures {
    /// Candidate name.
    pub name: &'static str,
    /// Durable writes per second, 64 concurrent writers.
    pub durable_writes_per_second: f64,
    /// Syncs per second during that run (how well writes were grouped).
    pub commits: u64,
    /// Bytes on disk after loading `records` records.
    pub bytes_on_disk: u64,
    /// Time to reopen and read every record into memory.
    pub reload: Duration,
    /// Records loaded and read back.
    pub records: usize,
}

type Request = (Vec<u8>, Vec<u8>, oneshot::Sender<()>);

/// A store that applies batches of writes and makes each batch durable.
trait Batches: Send + 'static {
    fn write(&mut self, batch: &[(Vec<u8>, Vec<u8>)], durable: bool);
}

struct FjallStore {
    keyspace: fjall::Keyspace,
    partition: fjall::PartitionHandle,
}

impl Batches for FjallStore {
    fn write(&mut self, batch: &[(Vec<u8>, Vec<u8>)], durable: bool) {
        for (key, value) in batch {
            self.partition
                .insert(key.as_slice(), value.as_slice())
                .expect("fjall insert");
        }
        if durable {
            self.keyspace
                .persist(fjall::PersistMode::SyncData)
                .expect("fjall persist");
        }
    }
}

const TABLE: redb::TableDefinition<&[u8], &[u8]> = redb::TableDefinition::new("items");

struct RedbStore(redb::Database);

impl Batches for RedbStore {
    fn write(&mut self, batch: &[(Vec<u8>, Vec<u8>)], durable: bool) {
        let mut txn = self.0.begin_write().expect("redb txn");
        txn.set_durability(if durable {
            redb::Durability::Immediate
        } else {
            redb::Durability::None
        })
        .expect("redb durability");
        {
            let mut table = txn.open_table(TABLE).expect("redb table");
            for (key, value) in batch {
                table
                    .insert(key.as_slice(), value.as_slice())
                    .expect("redb insert");
            }
        }
        txn.commit().expect("redb commit");
    }
}

/// Runs a group committer for `store` on a thread: each round takes every waiting write,
/// applies them as one batch, syncs once and answers them all. Returns the request queue and
/// a counter of commits.
fn group_committer(
    mut store: impl Batches,
) -> (
    mpsc::UnboundedSender<Request>,
    Arc<std::sync::atomic::AtomicU64>,
) {
    let (send, mut receive) = mpsc::unbounded_channel::<Request>();
    let commits = Arc::new(std::sync::atomic::AtomicU64::new(0));
    let counted = commits.clone();
    std::thread::spawn(move || {
        while let Some(first) = receive.blocking_recv() {
            let mut waiting = vec![first];
            while let Ok(more) = receive.try_recv() {
                waiting.push(more);
            }
            let batch: Vec<_> = waiting
                .iter()
                .map(|(k, v, _)| (k.clone(), v.clone()))
                .collect();
            store.write(&batch, true);
            counted.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            for (_, _, done) in waiting {
                let _ = done.send(());
            }
        }
    });
    (send, commits)
}

fn key_value(writer: usize, n: usize) -> (Vec<u8>, Vec<u8>) {
    (
        format!("ballot:p7Kx2:voter-{writer:03}-{n:07}").into_bytes(),
        format!("{n}|o1,o3,o2 and some padding to 40B").into_bytes(),
    )
}

const WRITERS: usize = 64;

/// Durable writes per second through a group committer.
async fn run_committer(send: mpsc::UnboundedSender<Request>, per_writer: usize) -> (f64, Duration) {
    let started = Instant::now();
    let tasks: Vec<_> = (0..WRITERS)
        .map(|w| {
            let send = send.clone();
            tokio::spawn(async move {
                for n in 0..per_writer {
                    let (key, value) = key_value(w, n);
                    let (done, wait) = oneshot::channel();
                    send.send((key, value, done)).expect("committer runs");
                    wait.await.expect("committer answers");
                }
            })
        })
        .collect();
    for task in tasks {
        task.await.expect("writer");
    }
    let elapsed = started.elapsed();
    (
        (WRITERS * per_writer) as f64 / elapsed.as_secs_f64(),
        elapsed,
    )
}

fn dir_bytes(dir: &Path) -> u64 {
    walk(dir)
}

fn walk(path: &Path) -> u64 {
    match std::fs::metadata(path) {
        Ok(meta) if meta.is_dir() => std::fs::read_dir(path)
            .map(|entries| {
                entries
                    .filter_map(Result::ok)
                    .map(|e| walk(&e.path()))
                    .sum()
            })
            .unwrap_or(0),
        Ok(meta) => meta.len(),
        Err(_) => 0,
    }
}

/// The journal: durable writes through `Journal::append` + `wait` (its own group commit).
async fn journal_figures(root: &Path, per_writer: usize, records: usize) -> Figures {
    let dir = root.join("journal-writes");
    std::fs::create_dir_all(&dir).unwrap();
    let journal = Journal::open(&dir, 1, FsyncPolicy::Always, 0).unwrap();
    let started = Instant::now();
    let tasks: Vec<_> = (0..WRITERS)
        .map(|w| {
            let journal = journal.clone();
            tokio::spawn(async move {
                for n in 0..per_writer {
                    let (key, value) = key_value(w, n);
                    let lsn = journal.append(&Record::Scalar {
                        cache: "c",
                        key: Bytes::new(&key),
                        value: Bytes::new(&value),
                        expires_at: 0,
                    });
                    journal.wait(lsn).await.unwrap();
                }
            })
        })
        .collect();
    for task in tasks {
        task.await.unwrap();
    }
    let rate = (WRITERS * per_writer) as f64 / started.elapsed().as_secs_f64();
    let commits = journal.stats().commits;
    journal.close();

    let dir = root.join("journal-load");
    std::fs::create_dir_all(&dir).unwrap();
    let journal = Journal::open(&dir, 1, FsyncPolicy::Never, 0).unwrap();
    for n in 0..records {
        let (key, value) = key_value(n % WRITERS, n);
        journal.append(&Record::Scalar {
            cache: "c",
            key: Bytes::new(&key),
            value: Bytes::new(&value),
            expires_at: 0,
        });
    }
    journal.close();
    let bytes_on_disk = dir_bytes(&dir);
    let started = Instant::now();
    let mut map = HashMap::with_capacity(records);
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "log") {
            let bytes = std::fs::read(&path).unwrap();
            frames::<()>(&bytes[HEADER_BYTES..], |_, payload| {
                if let Ok(Record::Scalar { key, value, .. }) = decode(payload) {
                    map.insert(key.to_vec(), value.to_vec());
                }
                Ok(())
            })
            .unwrap();
        }
    }
    Figures {
        name: "journal (this crate)",
        durable_writes_per_second: rate,
        commits,
        bytes_on_disk,
        reload: started.elapsed(),
        records: map.len(),
    }
}

async fn fjall_figures(root: &Path, per_writer: usize, records: usize) -> Figures {
    let open = |dir: &Path| {
        let keyspace = fjall::Config::new(dir)
            .manual_journal_persist(true)
            .open()
            .unwrap();
        let partition = keyspace
            .open_partition("items", fjall::PartitionCreateOptions::default())
            .unwrap();
        FjallStore {
            keyspace,
            partition,
        }
    };
    let (send, commits) = group_committer(open(&root.join("fjall-writes")));
    let (rate, _) = run_committer(send, per_writer).await;

    let dir = root.join("fjall-load");
    {
        let mut store = open(&dir);
        let batch: Vec<_> = (0..records).map(|n| key_value(n % WRITERS, n)).collect();
        for chunk in batch.chunks(10_000) {
            store.write(chunk, false);
        }
        store.keyspace.persist(fjall::PersistMode::SyncAll).unwrap();
    }
    let bytes_on_disk = dir_bytes(&dir);
    let started = Instant::now();
    let store = open(&dir);
    let mut map = HashMap::with_capacity(records);
    for pair in store.partition.iter() {
        let (key, value) = pair.unwrap();
        map.insert(key.to_vec(), value.to_vec());
    }
    Figures {
        name: "fjall 2 (LSM tree)",
        durable_writes_per_second: rate,
        commits: commits.load(std::sync::atomic::Ordering::Relaxed),
        bytes_on_disk,
        reload: started.elapsed(),
        records: map.len(),
    }
}

async fn redb_figures(root: &Path, per_writer: usize, records: usize) -> Figures {
    use redb::{ReadableDatabase, ReadableTable};
    std::fs::create_dir_all(root).unwrap();
    let writes = root.join("redb-writes.redb");
    let (send, commits) = group_committer(RedbStore(redb::Database::create(&writes).unwrap()));
    let (rate, _) = run_committer(send, per_writer).await;

    let path = root.join("redb-load.redb");
    {
        let mut store = RedbStore(redb::Database::create(&path).unwrap());
        let batch: Vec<_> = (0..records).map(|n| key_value(n % WRITERS, n)).collect();
        for chunk in batch.chunks(10_000) {
            store.write(chunk, false);
        }
        store.write(&[], true);
    }
    let bytes_on_disk = dir_bytes(&path);
    let started = Instant::now();
    let db = redb::Database::open(&path).unwrap();
    let txn = db.begin_read().unwrap();
    let table = txn.open_table(TABLE).unwrap();
    let mut map = HashMap::with_capacity(records);
    for pair in table.iter().unwrap() {
        let (key, value) = pair.unwrap();
        map.insert(key.value().to_vec(), value.value().to_vec());
    }
    Figures {
        name: "redb 4 (B-tree)",
        durable_writes_per_second: rate,
        commits: commits.load(std::sync::atomic::Ordering::Relaxed),
        bytes_on_disk,
        reload: started.elapsed(),
        records: map.len(),
    }
}

/// Measures every candidate in `root` (a fresh directory), interleaved in rounds so a noisy
/// machine affects them alike.
pub async fn run(root: &Path, per_writer: usize, records: usize, rounds: usize) -> Vec<Figures> {
    let mut all = Vec::new();
    for round in 0..rounds {
        let dir = root.join(format!("round-{round}"));
        all.push(journal_figures(&dir.join("journal"), per_writer, records).await);
        all.push(fjall_figures(&dir.join("fjall"), per_writer, records).await);
        all.push(redb_figures(&dir.join("redb"), per_writer, records).await);
    }
    all
}
