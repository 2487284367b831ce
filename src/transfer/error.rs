//! Errors of the download core. Each names the URL or path and says what to do.

use std::path::PathBuf;

use crate::fsx::FsError;

use crate::ids::source::SourceError;

#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    #[error(transparent)]
    Source(#[from] SourceError),
    #[error("`{url}` was not found (HTTP 404)\n  hint: check the repo, revision and file name; private repos need `HF_TOKEN`")]
    NotFound { url: String },
    #[error("`{url}` answered HTTP {status}{hint}")]
    Http { url: String, status: u16, hint: &'static str },
    #[error("gave up on `{url}` after {attempts} attempts: {last}\n  hint: check the network or the server; `WHARF_MAX_RETRIES` allows more attempts")]
    GaveUp { url: String, attempts: u32, last: String },
    #[error("checksum mismatch for `{what}`: expected {expected}, got {actual}\n  hint: the server sent other bytes than it promised; the download was deleted, try again later or pin another source")]
    ChecksumMismatch { what: String, expected: String, actual: String },
    #[error("disk full: need {need} bytes, have {have} in `{path}`\n  hint: free some space (`wharf models gc --max-size …`) or point `WHARF_CACHE_DIR`/`HF_HUB_CACHE` elsewhere")]
    DiskFull { path: PathBuf, need: u64, have: u64 },
    #[error("`{what}` is not in the cache and wharf is offline\n  hint: run `wharf pull {what}` with network access (without `--offline`, `WHARF_OFFLINE`, `HF_HUB_OFFLINE`)")]
    Offline { what: String },
    #[error("`{url}`: {why}")]
    Protocol { url: String, why: String },
    #[error("no model `{id}` in the store\n  hint: `wharf models list` shows the ids")]
    NotInStore { id: String },
    #[error("`{url}` sent a `{field}` wharf does not trust: {source}\n  hint: the server (or a mirror) is broken or hostile; nothing was written. Check `HF_ENDPOINT`/`WHARF_MIRRORS`")]
    Untrusted { url: String, field: &'static str, source: crate::ids::IdError },
    #[error("`{}` {why}\n  hint: a `file://` source must name a regular file (devices, FIFOs, sockets and folders are refused)", path.display())]
    NotAFile { path: PathBuf, why: String },
    #[error("bad glob `{glob}`: {why}\n  hint: globs look like `*.json` or `onnx/**`")]
    BadGlob { glob: String, why: String },
    #[error(transparent)]
    Fs(#[from] FsError),
    #[error(transparent)]
    Lock(#[from] crate::lock::LockError),
}

impl FetchError {
    /// Bad input the user can fix (exit 2): a refused spec or scheme, a bad glob.
    pub fn is_usage(&self) -> bool {
        matches!(self, FetchError::Source(_) | FetchError::BadGlob { .. } | FetchError::NotAFile { .. })
    }
}
