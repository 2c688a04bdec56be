//! The admin key of a run: configured (`--admin-key`), stored in the data dir by an earlier
//! start, or generated (and stored when a data dir is set). Checked on requests in
//! `api/auth.rs`.

use std::path::{Path, PathBuf};

use anyhow::Context;
use rand::RngCore;
use secrecy::{ExposeSecret, SecretString};

use crate::config::ServeArgs;
use crate::secret_file::{self, Existing};

/// Shortest admin key accepted, configured or stored.
const MIN_ADMIN_KEY_LEN: usize = 16;
/// The file in the data dir a generated admin key is kept in.
const FILE_NAME: &str = "admin-key";

/// The admin key, and where it came from (for the banner).
pub struct AdminKey {
    /// The key.
    pub key: SecretString,
    source: Source,
}

/// Where an admin key came from.
enum Source {
    Configured,
    Generated { stored_in: Option<PathBuf> },
    Stored(PathBuf),
}

impl AdminKey {
    /// The configured key, else the one stored in the data dir, else a new one (stored when a
    /// data dir is set). A key shorter than 16 characters is refused, configured or stored.
    pub fn load(settings: &ServeArgs) -> anyhow::Result<Self> {
        if let Some(key) = &settings.admin_key {
            anyhow::ensure!(
                key.expose_secret().len() >= MIN_ADMIN_KEY_LEN,
                "--admin-key must be at least {MIN_ADMIN_KEY_LEN} characters"
            );
            return Ok(Self::from(key.clone(), Source::Configured));
        }
        let generated = || random_secret("pca_");
        if settings.in_memory {
            return Ok(Self::from(
                generated(),
                Source::Generated { stored_in: None },
            ));
        }
        let dir = &settings.data_dir;
        let path = dir.join(FILE_NAME);
        if path.exists() {
            return Ok(Self::from(read_stored(&path)?, Source::Stored(path)));
        }
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        let key = generated();
        secret_file::write(&path, key.expose_secret(), Existing::Refuse)?;
        let stored_in = Some(path);
        Ok(Self::from(key, Source::Generated { stored_in }))
    }

    fn from(key: SecretString, source: Source) -> Self {
        Self { key, source }
    }

    /// The banner's line about the key: where it is from, and the key itself only when it was
    /// just generated (shown once).
    pub fn banner_line(&self) -> String {
        match &self.source {
            Source::Configured => "  admin key:  from --admin-key / POLLCAST_ADMIN_KEY\n".into(),
            Source::Stored(path) => format!("  admin key:  stored in {}\n", path.display()),
            Source::Generated { stored_in } => {
                let kept = match stored_in {
                    Some(path) => format!(", kept in {})", path.display()),
                    None => "; in memory, so set --admin-key to choose one)".into(),
                };
                format!(
                    "  admin key:  {}   (generated; shown only now{kept}\n",
                    self.key.expose_secret()
                )
            }
        }
    }
}

/// A random secret, `prefix` and 48 hex digits: generated admin keys and webhook secrets.
pub fn random_secret(prefix: &str) -> SecretString {
    let mut bytes = [0u8; 24];
    rand::rng().fill_bytes(&mut bytes);
    SecretString::from(format!("{prefix}{}", hex::encode(bytes)))
}

/// The key stored at `path`, held to the same rule as `--admin-key`: an edited or truncated
/// file must not weaken the key.
fn read_stored(path: &Path) -> anyhow::Result<SecretString> {
    let key =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    let key = key.trim();
    anyhow::ensure!(
        key.len() >= MIN_ADMIN_KEY_LEN,
        "{} must hold an admin key of at least {MIN_ADMIN_KEY_LEN} characters; \
         delete it to have a new one generated",
        path.display()
    );
    Ok(SecretString::from(key.to_owned()))
}

/// The admin key `pollcast serve` generated and stored in `data_dir` (for `pollcast recount`).
pub fn stored_key(data_dir: &Path) -> anyhow::Result<SecretString> {
    read_stored(&data_dir.join(FILE_NAME))
}
