//! Durability: everything the server holds survives a restart and a crash.
//!
//! The state lives in memory (the store, the topics, the webhook outbox) and every change is
//! also appended to a **journal** on disk, as the state it left behind ([`record`]). A change is
//! acknowledged only once its record is durable ([`journal`]: group commit, one write and one
//! `fdatasync` for every change waiting, with [`FsyncPolicy::Always`]). At start the state is
//! rebuilt from the latest snapshot and the journal after it ([`recover`]); when the journal
//! has grown past the snapshot, a new snapshot replaces it ([`snapshot`]), as Redis rewrites
//! its append-only file.
//!
//! What a caller may observe is never ahead of the disk:
//! - a **write** is answered once its record is durable;
//! - a **read** of an item whose last change is not durable yet waits for it (each item keeps
//!   the LSN of its last change; a miss waits for the cache's last removal), so nobody sees a
//!   value a crash could take back;
//! - a **published message** reaches subscribers, the topic's history and the webhook outbox
//!   only once durable, so a sequence number seen by anyone is never handed out again.
//!
//! In memory ([`Persistence::InMemory`]) there is no journal: every LSN is 0 and nothing waits.

pub(crate) mod dir;
pub(crate) mod journal;
pub(crate) mod record;
pub(crate) mod recover;
pub(crate) mod snapshot;
#[cfg(test)]
mod tests;

use std::path::PathBuf;
use std::str::FromStr;
use std::sync::{Arc, OnceLock};

pub(crate) use journal::{Journal, Lsn};
pub use journal::{JournalStats, Unavailable};
use record::Record;
pub use snapshot::Compaction;

/// When the journal is flushed to stable storage (the meaning Redis gives `appendfsync`).
///
/// Every policy writes a change to the operating system before acknowledging it, so a crash of
/// the **process** (SIGKILL, a panic, OOM kill) loses nothing acknowledged under any of them.
/// They differ when the **machine** stops (power loss, kernel panic):
/// - `always`: nothing acknowledged is lost. Concurrent changes share one `fdatasync`.
/// - `everysec`: up to about one second of acknowledged changes may be lost.
/// - `never`: the operating system decides when to flush (Linux: typically within 30 s); that
///   much may be lost.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum FsyncPolicy {
    /// `fdatasync` before every acknowledgement (shared by concurrent writers). The default.
    #[default]
    Always,
    /// `fdatasync` at most once a second, in the background.
    EverySec,
    /// Never `fdatasync`; the operating system flushes when it likes.
    Never,
}

impl FromStr for FsyncPolicy {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "always" => Ok(FsyncPolicy::Always),
            "everysec" => Ok(FsyncPolicy::EverySec),
            "never" => Ok(FsyncPolicy::Never),
            other => Err(format!(
                "unknown fsync policy '{other}': expected always, everysec or never"
            )),
        }
    }
}

impl std::fmt::Display for FsyncPolicy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            FsyncPolicy::Always => "always",
            FsyncPolicy::EverySec => "everysec",
            FsyncPolicy::Never => "never",
        })
    }
}

/// Where a local Momento keeps its state.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum Persistence {
    /// Nothing outlives the process (tests, demos).
    #[default]
    InMemory,
    /// In a data dir, durable as `fsync` says.
    Durable {
        /// The data dir (created if missing; locked while the server runs).
        dir: PathBuf,
        /// When the journal is synced.
        fsync: FsyncPolicy,
    },
}

/// The journal as the rest of the server sees it. Shared by every part of the state; set once
/// recovery is done (until then, and forever in memory, nothing is journaled and nothing
/// waits).
#[derive(Clone, Default)]
pub(crate) struct Log(Arc<OnceLock<Arc<Journal>>>);

impl Log {
    /// Starts journaling to `journal`.
    pub(crate) fn start(&self, journal: Arc<Journal>) {
        // Set once, at start; a second call would be a bug in start-up, and is ignored.
        let _ = self.0.set(journal);
    }

    fn get(&self) -> Option<&Arc<Journal>> {
        self.0.get()
    }

    /// Whether changes are journaled (callers skip building records otherwise).
    pub(crate) fn is_on(&self) -> bool {
        self.get().is_some()
    }

    /// Refuses a change before it is made when it could not be made durable.
    pub(crate) fn check(&self) -> Result<(), Unavailable> {
        match self.get() {
            Some(journal) => journal.check(),
            None => Ok(()),
        }
    }

    /// Journals `record` (built only when journaling); returns its LSN (0 otherwise).
    pub(crate) fn append<'a>(&self, record: impl FnOnce() -> Record<'a>) -> Lsn {
        match self.get() {
            Some(journal) => journal.append(&record()),
            None => 0,
        }
    }

    /// The highest durable LSN (everything, when nothing is journaled).
    pub(crate) fn durable(&self) -> Lsn {
        match self.get() {
            Some(journal) => journal.durable(),
            None => Lsn::MAX,
        }
    }

    /// Whether `lsn` is durable already.
    pub(crate) fn is_durable(&self, lsn: Lsn) -> bool {
        lsn == 0 || self.durable() >= lsn
    }

    /// Resolves once `lsn` is durable.
    pub(crate) async fn wait(&self, lsn: Lsn) -> Result<(), Unavailable> {
        match self.get() {
            Some(journal) if lsn > 0 => journal.wait(lsn).await,
            _ => Ok(()),
        }
    }

    /// The journal, once there is one.
    pub(crate) fn journal(&self) -> Option<&Arc<Journal>> {
        self.get()
    }
}
