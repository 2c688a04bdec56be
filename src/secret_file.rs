//! Files that hold a secret (the admin key, a local Momento's API key): created readable and
//! writable by their owner only (mode 0600 on Unix).

use std::io::Write;
use std::path::Path;

use anyhow::Context;

/// What to do when the file is already there.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Existing {
    /// Replace its contents (it keeps its mode).
    Replace,
    /// Fail: the file must be new.
    Refuse,
}

/// Writes `secret` to `path`.
pub fn write(path: &Path, secret: &str, existing: Existing) -> anyhow::Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true);
    match existing {
        Existing::Replace => options.create(true).truncate(true),
        Existing::Refuse => options.create_new(true),
    };
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options
        .open(path)
        .with_context(|| format!("writing {}", path.display()))?;
    file.write_all(secret.as_bytes())?;
    Ok(())
}
