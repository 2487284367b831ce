//! What to download, what came of it, and the commit point.
//!
//! A transfer writes into `<dest>.incomplete` ([`temp_path`]); [`commit`] verifies the digest and
//! only then renames the temp file to its final name: no file is ever visible under a final name
//! unverified, and a mismatch leaves nothing behind.

use std::path::{Path, PathBuf};

use reqwest::Url;

use super::hash::{self, Expected};
use super::http::{Asked, Credential};
use super::FetchError;
use crate::fsx::{self, Context};

/// What to download.
#[derive(Debug, Clone)]
pub struct Download<'a> {
    /// The file, in progress events.
    pub id: &'a str,
    /// Where its bytes are.
    pub url: Url,
    /// A token, sent only to its own origin.
    pub credential: Option<&'a Credential>,
    /// What kind of source the file is, for the hint of a refusal: a hub file stays the hub's
    /// even when a redirect leads to a CDN (whose 403 is still about `HF_TOKEN`).
    pub asked: Asked,
    /// The announced size: nothing past it is read.
    pub size: Option<u64>,
    /// What the bytes must hash to.
    pub expected: &'a Expected,
    /// The temp file (resumed when it holds a prefix).
    pub temp: &'a Path,
}

/// What was downloaded into the temp file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Downloaded {
    /// The SHA-256 of the bytes.
    pub sha256: String,
    /// Their git blob id, when one was expected.
    pub git_sha1: Option<String>,
    /// How many bytes.
    pub size: u64,
}

/// Verify `got` against `expected`; on success rename `temp` to `dest` (the commit point), on a
/// mismatch delete `temp`. Blocking.
pub fn commit(temp: &Path, dest: &Path, expected: &Expected, got: &Downloaded, what: &str) -> Result<(), FetchError> {
    if let Err(e) = check_digest(expected, got, what) {
        let _ = std::fs::remove_file(temp);
        return Err(e);
    }
    if let Some(dir) = dest.parent() {
        fsx::create_dir_private(dir)?;
    }
    std::fs::rename(temp, dest).ctx("cannot move into place", dest)?;
    Ok(())
}

/// `got` hashes to `expected`, else [`FetchError::ChecksumMismatch`] naming `what`.
pub fn check_digest(expected: &Expected, got: &Downloaded, what: &str) -> Result<(), FetchError> {
    hash::verify(expected, &got.sha256, got.git_sha1.as_deref())
        .map_err(|(expected, actual)| FetchError::ChecksumMismatch { what: what.to_string(), expected, actual })
}

/// `<dest>.incomplete`: the temp name beside a final name (the same one huggingface_hub uses, so
/// either tool can resume the other's transfer under the shared blob lock).
pub fn temp_path(dest: &Path) -> PathBuf {
    let mut name = dest.file_name().unwrap_or_default().to_os_string();
    name.push(".incomplete");
    dest.with_file_name(name)
}
