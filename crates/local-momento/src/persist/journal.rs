//! The journal: an append-only log of [`Record`]s, written by one committer thread with group
//! commit.
//!
//! - **Append** ([`Journal::append`]) encodes a record into the shared buffer under a mutex held
//!   for a copy, and returns its log sequence number (LSN, from 1). Callers append while they
//!   hold the lock that orders their change (a cache shard, a topic), so the journal's order is
//!   the order in which changes were made.
//! - **Commit**: the committer thread takes everything buffered, writes it with one `write`,
//!   and, with [`FsyncPolicy::Always`], one `fdatasync`; then it publishes the new durable LSN.
//!   Every writer waiting meanwhile is covered by that one write and sync (group commit).
//! - **Durable** ([`Journal::wait`]) resolves once the record is written (and synced, with
//!   `always`). A write is acknowledged only after that.
//! - **Failure** (disk full, I/O error, a read-only file system): the batch is cut back off the
//!   file, the error is kept and reported to waiters and to new writes (which are refused before
//!   they change anything), and the batch is written again, with backoff, until it succeeds or
//!   the server stops. Nothing half-written stays in the file.
//! - **Rotation** ([`Journal::rotate`]): the committer closes the segment after writing what is
//!   buffered and continues in a new one; compaction uses the boundary (see `snapshot.rs`).

use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use tokio::sync::watch;

use super::dir::{segment_path, sync_dir};
use super::record::{encode_frame, header, Record, MAGIC_JOURNAL};
use super::FsyncPolicy;

/// A log sequence number: the position of a record in the journal, from 1. 0 means "nothing
/// to wait for".
pub(crate) type Lsn = u64;

/// Why a change cannot be made durable.
#[derive(Clone, Debug, thiserror::Error, PartialEq, Eq)]
pub enum Unavailable {
    /// Writing the data dir failed; the message names the path and the cause.
    #[error("{0}")]
    Failing(String),
    /// The server is stopping.
    #[error("the server is shutting down")]
    Closed,
}

/// Counters of the journal, for diagnostics and `/metrics`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct JournalStats {
    /// Records appended.
    pub records: u64,
    /// Commits (each one write, and one sync with `always`).
    pub commits: u64,
    /// Bytes written to segments since the process started.
    pub bytes: u64,
    /// Bytes in the journal since the last snapshot (what a restart would replay).
    pub bytes_since_snapshot: u64,
}

struct Pending {
    /// Encoded frames not yet handed to the committer.
    buf: Vec<u8>,
    /// LSN of the last record in `buf` (or of the last one appended at all).
    last: Lsn,
    /// A rotation asked for, answered with the new segment's number.
    rotate: Option<std::sync::mpsc::Sender<u64>>,
    /// The journal is closing: commit what is buffered and stop.
    stop: bool,
    /// No more appends are taken.
    closed: bool,
}

/// The journal of one data dir.
pub(crate) struct Journal {
    pending: Mutex<Pending>,
    wake: Condvar,
    durable: watch::Sender<Lsn>,
    failure: Mutex<Option<String>>,
    records: AtomicU64,
    commits: AtomicU64,
    bytes: AtomicU64,
    since_snapshot: AtomicU64,
    thread: Mutex<Option<std::thread::JoinHandle<()>>>,
    /// The committer has stopped: records not durable by now never will be.
    stopped: AtomicBool,
}

impl Journal {
    /// Opens a new segment numbered `segment` in `dir` and starts the committer. `next_lsn` is
    /// where numbering continues; `replayed_bytes` what recovery read from segments since the
    /// last snapshot.
    pub(crate) fn open(
        dir: &Path,
        segment: u64,
        policy: FsyncPolicy,
        replayed_bytes: u64,
    ) -> anyhow::Result<Arc<Self>> {
        let segment = Segment::create(dir, segment)?;
        Self::start(dir, segment, policy, replayed_bytes)
    }

    fn start(
        dir: &Path,
        segment: Segment,
        policy: FsyncPolicy,
        replayed_bytes: u64,
    ) -> anyhow::Result<Arc<Self>> {
        let journal = Arc::new(Self {
            pending: Mutex::new(Pending {
                buf: Vec::with_capacity(64 * 1024),
                last: 0,
                rotate: None,
                stop: false,
                closed: false,
            }),
            wake: Condvar::new(),
            durable: watch::Sender::new(0),
            failure: Mutex::new(None),
            records: AtomicU64::new(0),
            commits: AtomicU64::new(0),
            bytes: AtomicU64::new(0),
            since_snapshot: AtomicU64::new(replayed_bytes),
            thread: Mutex::new(None),
            stopped: AtomicBool::new(false),
        });
        let committer = Committer {
            journal: journal.clone(),
            dir: dir.to_owned(),
            policy,
            segment,
        };
        let thread = std::thread::Builder::new()
            .name("local-momento-journal".into())
            .spawn(move || committer.run())?;
        *lock(&journal.thread) = Some(thread);
        Ok(journal)
    }

    /// Refuses a change before it is made when the journal cannot take it.
    pub(crate) fn check(&self) -> Result<(), Unavailable> {
        if let Some(failure) = lock(&self.failure).as_ref() {
            return Err(Unavailable::Failing(failure.clone()));
        }
        if lock(&self.pending).closed {
            return Err(Unavailable::Closed);
        }
        Ok(())
    }

    /// Appends `record`; returns its LSN. Call [`Journal::wait`] before acknowledging.
    pub(crate) fn append(&self, record: &Record<'_>) -> Lsn {
        let mut pending = lock(&self.pending);
        encode_frame(record, &mut pending.buf);
        pending.last += 1;
        let lsn = pending.last;
        drop(pending);
        self.records.fetch_add(1, Ordering::Relaxed);
        self.wake.notify_one();
        lsn
    }

    /// The highest LSN that is durable.
    pub(crate) fn durable(&self) -> Lsn {
        *self.durable.borrow()
    }

    /// Resolves once `lsn` is durable; fails when the journal is failing or closing first.
    pub(crate) async fn wait(&self, lsn: Lsn) -> Result<(), Unavailable> {
        if self.durable() >= lsn {
            return Ok(());
        }
        let mut durable = self.durable.subscribe();
        loop {
            if *durable.borrow_and_update() >= lsn {
                return Ok(());
            }
            if let Some(failure) = lock(&self.failure).as_ref() {
                return Err(Unavailable::Failing(failure.clone()));
            }
            if self.stopped.load(Ordering::Acquire) {
                return Err(Unavailable::Closed);
            }
            if durable.changed().await.is_err() {
                return Err(Unavailable::Closed);
            }
        }
    }

    /// Ends the current segment once what is buffered is written, continues in a new one, and
    /// returns the new segment's number: every record appended before this call is in an older
    /// segment, every record appended after it in the new one or later.
    pub(crate) fn rotate(&self) -> Result<u64, Unavailable> {
        let (reply, answer) = std::sync::mpsc::channel();
        let mut pending = lock(&self.pending);
        if pending.closed {
            return Err(Unavailable::Closed);
        }
        pending.rotate = Some(reply);
        drop(pending);
        self.wake.notify_one();
        answer.recv().map_err(|_| Unavailable::Closed)
    }

    /// Counts a snapshot that took the place of the journal so far.
    pub(crate) fn snapshot_taken(&self, replaced_bytes: u64) {
        // Bytes written after the rotation stay counted.
        let _ = self
            .since_snapshot
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |bytes| {
                Some(bytes.saturating_sub(replaced_bytes))
            });
    }

    /// Counters so far.
    pub(crate) fn stats(&self) -> JournalStats {
        JournalStats {
            records: self.records.load(Ordering::Relaxed),
            commits: self.commits.load(Ordering::Relaxed),
            bytes: self.bytes.load(Ordering::Relaxed),
            bytes_since_snapshot: self.since_snapshot.load(Ordering::Relaxed),
        }
    }

    /// Takes no more appends, commits what is buffered (and syncs it, whatever the policy),
    /// and stops the committer. Waits for it.
    pub(crate) fn close(&self) {
        let mut pending = lock(&self.pending);
        pending.closed = true;
        pending.stop = true;
        drop(pending);
        self.wake.notify_one();
        if let Some(thread) = lock(&self.thread).take() {
            let _ = thread.join();
        }
        self.stopped.store(true, Ordering::Release);
        // Wake waiters of records that could not be committed.
        self.durable.send_modify(|_| {});
    }
}

/// A poisoned lock still guards consistent data here: every section under these locks is a
/// copy or a flag change that cannot panic halfway.
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Space a segment reserves on disk ahead of its writes, a chunk at a time.
///
/// An append that grows a file makes every `fdatasync` also write the file's size (its inode),
/// a second write per commit; writing into space already reserved does not. Measured here on
/// ext4: a 600-byte append plus `fdatasync` took 150 us and 60 us of CPU, the same write into
/// reserved space 110 us and 40 us (PostgreSQL preallocates its WAL for the same reason). The
/// reserved space reads as zeros, which recovery knows for the end of the records
/// (`record::frames`).
const PREALLOCATE_BYTES: u64 = 16 * 1024 * 1024;

/// How long after a commit the committer counts as busy.
const BUSY_WINDOW: Duration = Duration::from_millis(1);
/// How long a busy committer waits for more writes before the next commit (PostgreSQL's
/// `commit_delay`, MySQL's `binlog_group_commit_sync_delay`). Every commit costs a write and an
/// `fdatasync` (tens of microseconds of CPU, more on a virtual disk); under load the writes
/// arriving during one sync are few, so waiting a millisecond before the next one lets several
/// times as many share it. Measured with `scripts/bench-webhook`: 2,200 commits a second for
/// 7,000 votes a second (5 records a commit) without the delay; with it, a fifth less CPU per
/// vote. An idle server (no commit in the last millisecond) commits at once: the delay only
/// ever adds a millisecond to a write that has company.
const COMMIT_DELAY: Duration = Duration::from_millis(1);

/// The open segment file.
struct Segment {
    file: File,
    path: PathBuf,
    number: u64,
    /// Bytes known to be in the file (the header and every committed batch).
    len: u64,
    /// Bytes reserved on disk (0: never reserved, as for a file that cannot be).
    reserved: u64,
}

impl Segment {
    fn create(dir: &Path, number: u64) -> anyhow::Result<Self> {
        use anyhow::Context;
        let path = segment_path(dir, number);
        let mut file = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&path)
            .with_context(|| format!("creating the journal segment {}", path.display()))?;
        let header = header(MAGIC_JOURNAL);
        file.write_all(&header)
            .and_then(|()| file.sync_all())
            .with_context(|| format!("writing {}", path.display()))?;
        sync_dir(dir)?;
        let mut segment = Self {
            file,
            path,
            number,
            len: header.len() as u64,
            reserved: 0,
        };
        segment.reserve(0);
        Ok(segment)
    }

    /// Reserves the next chunk of disk space when `incoming` bytes would not fit in what is
    /// reserved. Best effort: without it (a file system that cannot, a full disk) writes still
    /// work, only each commit costs more; the write itself reports a full disk.
    fn reserve(&mut self, incoming: u64) {
        if self.len + incoming <= self.reserved {
            return;
        }
        let want = (self.len + incoming).next_multiple_of(PREALLOCATE_BYTES);
        match preallocate(&self.file, want) {
            Ok(()) => self.reserved = want,
            Err(error) => {
                tracing::debug!(path = %self.path.display(), %error, "journal space not reserved");
                self.reserved = self.len + incoming; // not again before the next chunk is due
            }
        }
    }

    /// Writes `batch` (and syncs it when `sync`); on failure cuts the file back to where it
    /// was, so a retry never follows a half-written batch.
    fn commit(&mut self, batch: &[u8], sync: bool) -> std::io::Result<()> {
        self.reserve(batch.len() as u64);
        let result =
            self.file.write_all(batch).and_then(
                |()| {
                    if sync {
                        self.file.sync_data()
                    } else {
                        Ok(())
                    }
                },
            );
        match result {
            Ok(()) => {
                self.len += batch.len() as u64;
                Ok(())
            }
            Err(error) => {
                // Best effort: if even this fails, recovery treats the tail as torn. Cutting
                // the file gives back what was reserved; the next commit reserves again.
                let _ = self.file.set_len(self.len);
                let _ = std::io::Seek::seek(&mut self.file, std::io::SeekFrom::Start(self.len));
                self.reserved = self.len;
                Err(error)
            }
        }
    }
}

/// Allocates the file's blocks up to `len` bytes (its size grows to `len`, reading as zeros).
fn preallocate(file: &File, len: u64) -> std::io::Result<()> {
    use std::os::fd::AsRawFd;
    let len = libc::off_t::try_from(len).map_err(std::io::Error::other)?;
    // SAFETY: a plain system call on a file descriptor this `File` owns and keeps open.
    let code = unsafe { libc::posix_fallocate(file.as_raw_fd(), 0, len) };
    match code {
        0 => Ok(()),
        errno => Err(std::io::Error::from_raw_os_error(errno)),
    }
}

struct Committer {
    journal: Arc<Journal>,
    dir: PathBuf,
    policy: FsyncPolicy,
    segment: Segment,
}

impl Committer {
    fn run(mut self) {
        let mut spare = Vec::with_capacity(64 * 1024);
        let mut last_sync = Instant::now();
        let mut unsynced = false;
        let mut last_commit: Option<Instant> = None;
        loop {
            // Busy (the last commit just ended): let the batch grow a little before the next
            // sync, so more writers share it. Idle: commit at once.
            let busy = last_commit.is_some_and(|at| at.elapsed() < BUSY_WINDOW);
            if busy && self.policy == FsyncPolicy::Always && !COMMIT_DELAY.is_zero() {
                std::thread::sleep(COMMIT_DELAY);
            }
            let (batch, last, rotate, stop) = {
                let mut pending = lock(&self.journal.pending);
                loop {
                    if !pending.buf.is_empty() || pending.rotate.is_some() || pending.stop {
                        break;
                    }
                    if self.policy == FsyncPolicy::EverySec && unsynced {
                        let left = Duration::from_secs(1).saturating_sub(last_sync.elapsed());
                        let (guard, timeout) = self
                            .journal
                            .wake
                            .wait_timeout(pending, left)
                            .unwrap_or_else(PoisonError::into_inner);
                        pending = guard;
                        if timeout.timed_out() {
                            break;
                        }
                    } else {
                        pending = self
                            .journal
                            .wake
                            .wait(pending)
                            .unwrap_or_else(PoisonError::into_inner);
                    }
                }
                spare.clear();
                let batch = std::mem::replace(&mut pending.buf, std::mem::take(&mut spare));
                (batch, pending.last, pending.rotate.take(), pending.stop)
            };
            if !batch.is_empty() {
                let sync = self.policy == FsyncPolicy::Always;
                if !self.commit(&batch, sync, stop) {
                    return; // stopping with a failing disk: nothing more can be made durable
                }
                unsynced = !sync;
                self.journal.commits.fetch_add(1, Ordering::Relaxed);
                let written = batch.len() as u64;
                self.journal.bytes.fetch_add(written, Ordering::Relaxed);
                self.journal
                    .since_snapshot
                    .fetch_add(written, Ordering::Relaxed);
                self.journal.durable.send_replace(last);
                last_commit = Some(Instant::now());
            }
            spare = batch;
            if unsynced
                && (stop || rotate.is_some() || last_sync.elapsed() >= Duration::from_secs(1))
                && self.policy != FsyncPolicy::Never
            {
                if let Err(error) = self.segment.file.sync_data() {
                    tracing::error!(path = %self.segment.path.display(), %error, "journal fsync failed");
                }
                unsynced = false;
                last_sync = Instant::now();
            }
            if let Some(reply) = rotate {
                match self.next_segment() {
                    Ok(number) => {
                        let _ = reply.send(number);
                    }
                    Err(error) => {
                        // The old segment stays open; compaction will try again later.
                        tracing::error!(error = format!("{error:#}"), "journal rotation failed");
                    }
                }
            }
            if stop {
                let _ = self.segment.file.sync_all();
                return;
            }
        }
    }

    /// Commits one batch, retrying with backoff while the disk fails (waiters are told at the
    /// first failure). Returns `false` if it gave up because the journal is stopping.
    fn commit(&mut self, batch: &[u8], sync: bool, stopping: bool) -> bool {
        let mut backoff = Duration::from_millis(50);
        loop {
            match self.segment.commit(batch, sync) {
                Ok(()) => {
                    if lock(&self.journal.failure).take().is_some() {
                        tracing::info!(path = %self.segment.path.display(), "journal writes work again");
                    }
                    return true;
                }
                Err(error) => {
                    let message = format!(
                        "cannot write the data dir ({}): {error}; free space or fix permissions \
                         there, writes resume by themselves",
                        self.segment.path.display()
                    );
                    let first = lock(&self.journal.failure)
                        .replace(message.clone())
                        .is_none();
                    if first {
                        tracing::error!("{message}");
                        // Wake waiters so they report the failure instead of hanging.
                        self.journal.durable.send_modify(|_| {});
                    }
                    if stopping || lock(&self.journal.pending).stop {
                        return false;
                    }
                    std::thread::sleep(backoff);
                    backoff = (backoff * 2).min(Duration::from_secs(2));
                }
            }
        }
    }

    fn next_segment(&mut self) -> anyhow::Result<u64> {
        self.segment.file.sync_all()?;
        let next = Segment::create(&self.dir, self.segment.number + 1)?;
        self.segment = next;
        Ok(self.segment.number)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_bytes::Bytes;

    fn record() -> Record<'static> {
        Record::Scalar {
            cache: "c",
            key: Bytes::new(b"k"),
            value: Bytes::new(b"v"),
            expires_at: 0,
        }
    }

    /// A journal whose segment is `/dev/full`: every write fails with "no space left on
    /// device", as on a full disk.
    fn on_a_full_disk() -> Arc<Journal> {
        let file = std::fs::OpenOptions::new()
            .write(true)
            .open("/dev/full")
            .expect("/dev/full exists on Linux");
        let segment = Segment {
            file,
            path: PathBuf::from("/dev/full"),
            number: 1,
            len: 0,
            reserved: u64::MAX, // /dev/full cannot reserve space
        };
        Journal::start(Path::new("/tmp"), segment, FsyncPolicy::Always, 0).unwrap()
    }

    #[tokio::test]
    async fn on_a_full_disk_a_write_is_not_acknowledged_and_new_writes_are_refused() {
        let journal = on_a_full_disk();
        assert_eq!(journal.check(), Ok(()), "nothing has failed yet");

        let lsn = journal.append(&record());
        let waited = tokio::time::timeout(std::time::Duration::from_secs(10), journal.wait(lsn))
            .await
            .expect("the failure is reported, not waited out");

        let Err(Unavailable::Failing(message)) = waited else {
            panic!("a write that cannot be made durable must fail: {waited:?}");
        };
        assert!(
            message.contains("/dev/full") && message.contains("No space left"),
            "{message}"
        );
        assert!(
            matches!(journal.check(), Err(Unavailable::Failing(_))),
            "new writes are refused before they change anything"
        );
        assert_eq!(journal.durable(), 0, "nothing was acknowledged");
        journal.close();
        assert_eq!(journal.check(), Err(Unavailable::Failing(message)));
    }
}
