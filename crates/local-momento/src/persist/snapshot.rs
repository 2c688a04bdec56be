//! Compaction: a snapshot of the whole state takes the place of the journal so far, so the
//! data dir and the time to start stay proportional to the state, not to its history.
//!
//! 1. The journal is **rotated**: records appended from now on go to a new segment `N`.
//! 2. The state is written to `snapshot-N.tmp` while the server keeps serving: each key is
//!    read under its shard's lock, so it is written as it was at some moment after the
//!    rotation. Such a "fuzzy" snapshot is still exact once segment `N` is replayed over it,
//!    because records are post-images: replaying the changes since the rotation, in order,
//!    ends every key in its latest state whether or not the snapshot already held them.
//!    (Topics skip messages the snapshot holds by sequence number; the outbox adds an event
//!    once and removes it on its `Delivered` record.)
//! 3. An end record, `fsync`, rename to `snapshot-N.snap`, `fsync` of the directory: only a
//!    complete snapshot ever carries the name recovery looks for.
//! 4. Older snapshots and segments below `N` are deleted.
//!
//! A crash at any step leaves either the old snapshot with every segment after it, or the new
//! one with every segment from `N`: recovery reads whichever is complete and newest.

use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::Context;

use super::dir::{private_file, segment_path, snapshot_path, sync_dir, DataDir};
use super::journal::Journal;
use super::record::{encode_frame, header, Record, MAGIC_SNAPSHOT};

/// Where the records of a snapshot go.
pub(crate) trait RecordSink {
    /// Adds a record.
    fn write(&mut self, record: &Record<'_>) -> anyhow::Result<()>;
}

/// Writes records into a snapshot file, buffered.
pub(crate) struct SnapshotWriter {
    file: File,
    path: PathBuf,
    buf: Vec<u8>,
    records: u64,
    bytes: u64,
}

/// Bytes buffered before a write to the file.
const FLUSH_AT: usize = 1 << 20;

impl SnapshotWriter {
    fn create(path: PathBuf) -> anyhow::Result<Self> {
        let file = private_file(&path)
            .write(true)
            .create(true)
            .truncate(true)
            .open(&path)
            .with_context(|| format!("creating the snapshot {}", path.display()))?;
        Ok(Self {
            file,
            path,
            buf: header(MAGIC_SNAPSHOT).to_vec(),
            records: 0,
            bytes: 0,
        })
    }

    fn flush(&mut self) -> anyhow::Result<()> {
        self.file
            .write_all(&self.buf)
            .with_context(|| format!("writing the snapshot {}", self.path.display()))?;
        self.bytes += self.buf.len() as u64;
        self.buf.clear();
        Ok(())
    }

    fn finish(mut self) -> anyhow::Result<u64> {
        let records = self.records;
        encode_frame(&Record::End { records }, &mut self.buf);
        self.flush()?;
        self.file
            .sync_all()
            .with_context(|| format!("syncing the snapshot {}", self.path.display()))?;
        Ok(self.bytes)
    }
}

impl RecordSink for SnapshotWriter {
    fn write(&mut self, record: &Record<'_>) -> anyhow::Result<()> {
        encode_frame(record, &mut self.buf);
        self.records += 1;
        if self.buf.len() >= FLUSH_AT {
            self.flush()?;
        }
        Ok(())
    }
}

/// What a compaction did.
#[derive(Debug, Clone, Copy)]
pub struct Compaction {
    /// The new snapshot's number.
    pub snapshot: u64,
    /// Records in it.
    pub records: u64,
    /// Its size in bytes.
    pub bytes: u64,
}

/// Takes a snapshot of the state `write_state` writes, and retires the journal before it.
pub(crate) fn compact(
    dir: &DataDir,
    journal: &Journal,
    write_state: impl FnOnce(&mut SnapshotWriter) -> anyhow::Result<()>,
) -> anyhow::Result<Compaction> {
    let journal_before = journal.stats().bytes_since_snapshot;
    let n = journal
        .rotate()
        .context("rotating the journal for a snapshot")?;
    let tmp = dir.path().join(format!("snapshot-{n:020}.tmp"));
    let mut writer = SnapshotWriter::create(tmp.clone())?;
    let written = write_state(&mut writer);
    let records = writer.records;
    let finished = written.and_then(|()| writer.finish());
    let bytes = match finished {
        Ok(bytes) => bytes,
        Err(error) => {
            let _ = std::fs::remove_file(&tmp);
            return Err(error);
        }
    };
    let path = snapshot_path(dir.path(), n);
    std::fs::rename(&tmp, &path)
        .with_context(|| format!("renaming {} to {}", tmp.display(), path.display()))?;
    sync_dir(dir.path())?;
    retire_before(dir, n)?;
    journal.snapshot_taken(journal_before);
    tracing::info!(snapshot = %path.display(), records, bytes, "snapshot written");
    Ok(Compaction {
        snapshot: n,
        records,
        bytes,
    })
}

fn retire_before(dir: &DataDir, n: u64) -> anyhow::Result<()> {
    let listing = dir.list()?;
    let remove = |path: &Path| {
        std::fs::remove_file(path).with_context(|| format!("removing {}", path.display()))
    };
    for &s in listing.snapshots.iter().filter(|&&s| s < n) {
        remove(&snapshot_path(dir.path(), s))?;
    }
    for &s in listing.segments.iter().filter(|&&s| s < n) {
        remove(&segment_path(dir.path(), s))?;
    }
    sync_dir(dir.path())
}
