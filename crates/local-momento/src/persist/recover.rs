//! Recovery: the state at start is the newest snapshot with every journal segment from its
//! number on replayed over it, in order.
//!
//! - A **torn tail** (the last segment ends in a frame cut short or failing its checksum, with
//!   no valid frame after it: what a crash in the middle of a write leaves) is cut off, and
//!   recovery ends at the last complete record. Nothing acknowledged is in it: a change is
//!   acknowledged only once its whole batch is written.
//! - **Damage anywhere else** (a snapshot that fails its checksum or lacks its end record, a
//!   bad frame followed by valid ones, a missing segment, an unknown file version) stops the
//!   start with an error naming the file, the offset and what to do. The server never starts
//!   empty, or with a silently shortened history, over a data dir it cannot read.

use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};

use super::dir::{segment_path, snapshot_path, DataDir};
use super::record::{
    any_frame_in, decode, frames, Record, Stop, FORMAT_VERSION, HEADER_BYTES, MAGIC_JOURNAL,
    MAGIC_SNAPSHOT,
};

/// What recovery did.
#[derive(Debug, Default, Clone)]
pub struct Recovery {
    /// The snapshot loaded, if any.
    pub snapshot: Option<u64>,
    /// Records applied (snapshot and journal).
    pub records: u64,
    /// Journal bytes replayed after the snapshot.
    pub journal_bytes: u64,
    /// Bytes of a torn tail cut off the last segment, if there was one.
    pub torn_tail_bytes: Option<u64>,
    /// How long it took.
    pub elapsed: Duration,
    /// The number the next journal segment gets.
    pub(crate) next_segment: u64,
}

/// Rebuilds the state of `dir` through `apply`, which gets every record in order.
pub(crate) fn recover(
    dir: &DataDir,
    mut apply: impl FnMut(&Record<'_>),
) -> anyhow::Result<Recovery> {
    let started = Instant::now();
    let listing = dir.list()?;
    let mut recovery = Recovery::default();
    let first_segment = match listing.snapshots.last() {
        Some(&n) => {
            recovery.records += load_snapshot(&snapshot_path(dir.path(), n), &mut apply)?;
            recovery.snapshot = Some(n);
            // Older snapshots and segments are leftovers of a compaction cut short.
            for &old in listing.snapshots.iter().filter(|&&s| s < n) {
                let _ = std::fs::remove_file(snapshot_path(dir.path(), old));
            }
            for &old in listing.segments.iter().filter(|&&s| s < n) {
                let _ = std::fs::remove_file(segment_path(dir.path(), old));
            }
            n
        }
        None => listing.segments.first().copied().unwrap_or(1),
    };
    let segments: Vec<u64> = listing
        .segments
        .iter()
        .copied()
        .filter(|&s| s >= first_segment)
        .collect();
    for (i, &n) in segments.iter().enumerate() {
        let expected = first_segment + i as u64;
        if n != expected {
            bail!(
                "the journal segment {} is missing from the data dir {} (found {} after it); \
                 the data dir is damaged: restore it from a backup",
                segment_path(dir.path(), expected).display(),
                dir.path().display(),
                segment_path(dir.path(), n).display()
            );
        }
        let last = i + 1 == segments.len();
        let replayed = replay_segment(&segment_path(dir.path(), n), last, &mut apply)?;
        recovery.records += replayed.records;
        recovery.journal_bytes += replayed.bytes;
        if replayed.torn_tail_bytes.is_some() {
            recovery.torn_tail_bytes = replayed.torn_tail_bytes;
        }
    }
    recovery.next_segment = segments.last().map_or(first_segment, |&n| n + 1);
    recovery.elapsed = started.elapsed();
    Ok(recovery)
}

fn read_file(path: &Path) -> anyhow::Result<Vec<u8>> {
    std::fs::read(path).with_context(|| format!("reading {}", path.display()))
}

/// Checks a file's header; `Ok(false)` when it is too short to hold one.
fn check_header(path: &Path, bytes: &[u8], magic: &[u8; 8]) -> anyhow::Result<bool> {
    if bytes.len() < HEADER_BYTES {
        return Ok(false);
    }
    if &bytes[..8] != magic {
        bail!(
            "{} is not a local-momento {} (bad magic bytes); the data dir is damaged or holds \
             foreign files: move this file aside",
            path.display(),
            if magic == MAGIC_JOURNAL {
                "journal segment"
            } else {
                "snapshot"
            }
        );
    }
    let version = u32::from_le_bytes(bytes[8..12].try_into().expect("4 bytes"));
    if version > FORMAT_VERSION {
        bail!(
            "{} is in data format {version}, written by a newer version; this build reads \
             format {FORMAT_VERSION} at most: run the newer version",
            path.display()
        );
    }
    Ok(true)
}

fn load_snapshot(path: &Path, apply: &mut impl FnMut(&Record<'_>)) -> anyhow::Result<u64> {
    let bytes = read_file(path)?;
    if !check_header(path, &bytes, MAGIC_SNAPSHOT)? {
        bail!(
            "the snapshot {} is cut short (no header); the data dir is damaged: restore it \
             from a backup",
            path.display()
        );
    }
    let mut count = 0u64;
    let mut ended = false;
    let stop = frames(&bytes[HEADER_BYTES..], |offset, payload| {
        let record = decode(payload).map_err(|error| {
            anyhow::anyhow!(
                "{} at byte {offset}: undecodable record: {error}",
                path.display()
            )
        })?;
        if ended {
            bail!("{} has records after its end record", path.display());
        }
        match record {
            Record::End { records } => {
                if records != count {
                    bail!(
                        "{} ends after {records} records but holds {count}",
                        path.display()
                    );
                }
                ended = true;
            }
            record => {
                apply(&record);
                count += 1;
            }
        }
        anyhow::Ok(())
    })
    .with_context(|| "the data dir is damaged: restore it from a backup".to_string())?;
    if let Stop::Damaged { offset, reason } = stop {
        bail!(
            "the snapshot {} is damaged at byte {offset} ({reason}); the data dir cannot be \
             read: restore it from a backup",
            path.display()
        );
    }
    if !ended {
        bail!(
            "the snapshot {} is incomplete (no end record); the data dir cannot be read: \
             restore it from a backup",
            path.display()
        );
    }
    Ok(count)
}

struct Replayed {
    records: u64,
    bytes: u64,
    torn_tail_bytes: Option<u64>,
}

fn replay_segment(
    path: &Path,
    last: bool,
    apply: &mut impl FnMut(&Record<'_>),
) -> anyhow::Result<Replayed> {
    let bytes = read_file(path)?;
    if !check_header(path, &bytes, MAGIC_JOURNAL)? {
        if last {
            // Created by a crash between creating the file and writing its header: no record
            // was ever in it.
            tracing::warn!(path = %path.display(), "removing a journal segment without a header");
            std::fs::remove_file(path).with_context(|| format!("removing {}", path.display()))?;
            return Ok(Replayed {
                records: 0,
                bytes: 0,
                torn_tail_bytes: Some(bytes.len() as u64),
            });
        }
        bail!(
            "the journal segment {} is cut short (no header) but is not the last one; the data \
             dir is damaged: restore it from a backup",
            path.display()
        );
    }
    let mut records = 0;
    let stop = frames(&bytes[HEADER_BYTES..], |offset, payload| {
        let record = decode(payload).map_err(|error| {
            anyhow::anyhow!(
                "the journal segment {} holds an undecodable record at byte {offset} ({error}); \
                 the data dir is damaged: restore it from a backup",
                path.display()
            )
        })?;
        apply(&record);
        records += 1;
        anyhow::Ok(())
    })?;
    let mut torn_tail_bytes = None;
    let end = match &stop {
        Stop::Clean { end } => *end,
        Stop::Damaged { offset, .. } => *offset,
    };
    if let Stop::Damaged { offset, reason } = stop {
        let rest = &bytes[offset..];
        if !last || any_frame_in(&rest[1.min(rest.len())..]) {
            bail!(
                "the journal segment {} is damaged at byte {offset} ({reason}) and valid records \
                 follow, so this is not a write cut short by a crash. The records before byte \
                 {offset} can be kept by truncating the file there (e.g. `truncate -s {offset} \
                 {}`), losing what follows; or restore the data dir from a backup",
                path.display(),
                path.display()
            );
        }
        let cut = (bytes.len() - offset) as u64;
        tracing::warn!(
            path = %path.display(), offset, bytes = cut, reason,
            "the journal ends in a torn write (a crash during a write); cutting it off at the \
             last complete record"
        );
        let file = std::fs::OpenOptions::new()
            .write(true)
            .open(path)
            .with_context(|| format!("opening {} to cut its torn tail", path.display()))?;
        file.set_len(offset as u64)
            .and_then(|()| file.sync_all())
            .with_context(|| format!("cutting the torn tail of {}", path.display()))?;
        torn_tail_bytes = Some(cut);
    }
    Ok(Replayed {
        records,
        bytes: (end - HEADER_BYTES) as u64,
        torn_tail_bytes,
    })
}
