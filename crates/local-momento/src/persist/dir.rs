//! The data dir: its lock, its format version, its files.
//!
//! ```text
//! <dir>/LOCK                          held (flock) by the server using the dir
//! <dir>/FORMAT                        "local-momento <version>"
//! <dir>/signing-key                   the secret that signs API keys and tokens (mode 0600)
//! <dir>/snapshot-<N>.snap             the state when segment N began (roughly; see snapshot.rs)
//! <dir>/journal-<N>.log               journal segments, replayed in order from the snapshot's N
//! ```
//! The directory is created with mode 0700 and every file with 0600: it holds the signing key
//! and webhook secrets.

use std::fs::{File, OpenOptions, TryLockError};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use anyhow::{bail, Context};
use rand::RngCore;
use secrecy::SecretBox;

use super::record::FORMAT_VERSION;

/// A data dir, locked for this process until dropped.
pub(crate) struct DataDir {
    path: PathBuf,
    /// Holds the lock: closing the file releases it.
    _lock: File,
}

/// The files found in a data dir.
#[derive(Debug, Default)]
pub(crate) struct Listing {
    /// Snapshot numbers, ascending.
    pub(crate) snapshots: Vec<u64>,
    /// Segment numbers, ascending.
    pub(crate) segments: Vec<u64>,
}

impl DataDir {
    /// Creates (if needed), locks and checks the data dir.
    pub(crate) fn open(path: &Path) -> anyhow::Result<Self> {
        create_private_dir(path)?;
        let lock_path = path.join("LOCK");
        let lock = private_file(&lock_path)
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&lock_path)
            .with_context(|| {
                format!(
                    "opening {} (is the directory writable by this user?)",
                    lock_path.display()
                )
            })?;
        match lock.try_lock() {
            Ok(()) => {}
            Err(TryLockError::WouldBlock) => bail!(
                "the data dir {} is in use by another process (its LOCK is held); stop that \
                 process, or give this one another --data-dir (or --in-memory)",
                path.display()
            ),
            Err(TryLockError::Error(error)) => {
                return Err(error).with_context(|| format!("locking {}", lock_path.display()))
            }
        }
        let dir = Self {
            path: path.to_owned(),
            _lock: lock,
        };
        dir.check_format()?;
        Ok(dir)
    }

    /// The directory.
    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    /// Refuses a dir written by a newer format; stamps a new dir with this build's.
    fn check_format(&self) -> anyhow::Result<()> {
        let path = self.path.join("FORMAT");
        match std::fs::read_to_string(&path) {
            Ok(text) => {
                let version = text
                    .trim()
                    .strip_prefix("local-momento ")
                    .and_then(|v| v.parse::<u32>().ok())
                    .with_context(|| {
                        format!(
                            "{} does not name a local-momento data format (found {:?}); this \
                             is not a data dir of this program",
                            path.display(),
                            text.trim()
                        )
                    })?;
                if version > FORMAT_VERSION {
                    bail!(
                        "the data dir {} was written in data format {version} by a newer \
                         version; this build reads format {FORMAT_VERSION} at most: run the \
                         newer version, or point --data-dir elsewhere",
                        self.path.display()
                    );
                }
                Ok(())
            }
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
                let listing = self.list()?;
                if !listing.snapshots.is_empty() || !listing.segments.is_empty() {
                    bail!(
                        "the data dir {} holds journal files but no FORMAT file; it was damaged \
                         or written by something else: move it aside",
                        self.path.display()
                    );
                }
                write_private(
                    &path,
                    format!("local-momento {FORMAT_VERSION}\n").as_bytes(),
                )?;
                sync_dir(&self.path)
            }
            Err(error) => Err(error).with_context(|| format!("reading {}", path.display())),
        }
    }

    /// The snapshots and segments present, and removes leftovers of an interrupted snapshot.
    pub(crate) fn list(&self) -> anyhow::Result<Listing> {
        let mut listing = Listing::default();
        let entries = std::fs::read_dir(&self.path)
            .with_context(|| format!("listing {}", self.path.display()))?;
        for entry in entries {
            let entry = entry.with_context(|| format!("listing {}", self.path.display()))?;
            let name = entry.file_name();
            let Some(name) = name.to_str() else { continue };
            if name.ends_with(".tmp") {
                // A snapshot that was being written when the process stopped.
                let _ = std::fs::remove_file(entry.path());
            } else if let Some(n) = numbered(name, "snapshot-", ".snap") {
                listing.snapshots.push(n);
            } else if let Some(n) = numbered(name, "journal-", ".log") {
                listing.segments.push(n);
            }
        }
        listing.snapshots.sort_unstable();
        listing.segments.sort_unstable();
        Ok(listing)
    }

    /// The secret that signs keys and tokens: read, or made and stored on first use.
    pub(crate) fn signing_key(&self) -> anyhow::Result<SecretBox<[u8]>> {
        let path = self.path.join("signing-key");
        match File::open(&path) {
            Ok(mut file) => {
                let mut hex_key = String::new();
                file.read_to_string(&mut hex_key)
                    .with_context(|| format!("reading {}", path.display()))?;
                let key = hex::decode(hex_key.trim())
                    .ok()
                    .filter(|key| key.len() >= 32)
                    .with_context(|| {
                        format!(
                            "{} is damaged (not 32+ bytes of hex); without it no key or token \
                             issued before works. Restore it from a backup, or delete it to \
                             start with a new one (every issued key stops working)",
                            path.display()
                        )
                    })?;
                Ok(SecretBox::new(key.into_boxed_slice()))
            }
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
                let mut key = vec![0u8; 32];
                rand::rng().fill_bytes(&mut key);
                write_private(&path, hex::encode(&key).as_bytes())?;
                sync_dir(&self.path)?;
                Ok(SecretBox::new(key.into_boxed_slice()))
            }
            Err(error) => Err(error).with_context(|| format!("reading {}", path.display())),
        }
    }
}

fn numbered(name: &str, prefix: &str, suffix: &str) -> Option<u64> {
    name.strip_prefix(prefix)?
        .strip_suffix(suffix)?
        .parse()
        .ok()
}

/// The path of journal segment `n`.
pub(crate) fn segment_path(dir: &Path, n: u64) -> PathBuf {
    dir.join(format!("journal-{n:020}.log"))
}

/// The path of snapshot `n`.
pub(crate) fn snapshot_path(dir: &Path, n: u64) -> PathBuf {
    dir.join(format!("snapshot-{n:020}.snap"))
}

/// Makes renames and new files in `dir` durable.
pub(crate) fn sync_dir(dir: &Path) -> anyhow::Result<()> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .with_context(|| format!("syncing the directory {}", dir.display()))
}

/// Open options for a file only its owner may read.
pub(crate) fn private_file(_path: &Path) -> OpenOptions {
    let mut options = OpenOptions::new();
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    options
}

fn write_private(path: &Path, contents: &[u8]) -> anyhow::Result<()> {
    let mut file = private_file(path)
        .write(true)
        .create_new(true)
        .open(path)
        .with_context(|| format!("creating {}", path.display()))?;
    file.write_all(contents)
        .and_then(|()| file.sync_all())
        .with_context(|| format!("writing {}", path.display()))
}

fn create_private_dir(path: &Path) -> anyhow::Result<()> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder.create(path).with_context(|| {
        format!(
            "creating the data dir {} (is its parent writable?)",
            path.display()
        )
    })?;
    if !path.is_dir() {
        bail!("the data dir {} is not a directory", path.display());
    }
    Ok(())
}
