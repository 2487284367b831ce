//! Errors of the download core. Each names the URL or path and says what to do.

use std::path::PathBuf;

use crate::fsx::FsError;

use crate::ids::source::SourceError;

/// Why a file could not be brought into the store.
#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    /// A spec, scheme or redirect refused before any byte moved.
    #[error(transparent)]
    Source(#[from] SourceError),
    #[error("`{url}` was not found (HTTP 404)\n  hint: {hint}")]
    /// The server has no such file.
    NotFound {
        /// What was asked.
        url: String,
        /// What to check: the hub's hint names `HF_TOKEN`, another server's does not.
        hint: &'static str,
    },
    #[error("`{url}` answered HTTP {status}{hint}")]
    /// The server answered with an error status.
    Http {
        /// What was asked.
        url: String,
        /// The HTTP status.
        status: u16,
        /// A hint for the status (empty, or a line that starts with a newline).
        hint: &'static str,
    },
    #[error("gave up on `{url}` after {attempts} attempt{plural}: {last}\n  hint: check the network or the server; `WHARF_MAX_RETRIES` allows more attempts", plural = if *.attempts == 1 { "" } else { "s" })]
    /// Every attempt failed transiently.
    GaveUp {
        /// What was asked.
        url: String,
        /// How many attempts were made.
        attempts: u32,
        /// Why the last one failed.
        last: String,
    },
    #[error("checksum mismatch for `{what}`: expected {expected}, got {actual}\n  hint: nothing was kept. Either the pin is wrong (a `sha256` in wharf.toml, `#sha256=`, `--sha256`, wharf.lock) — if you trust this source, pin {actual} — or the server (or a mirror) sent other bytes than it promised: then try again later or another source")]
    /// The bytes do not hash to what they must; they were deleted.
    ChecksumMismatch {
        /// The file (its source).
        what: String,
        /// The digest it must have.
        expected: String,
        /// The digest it has.
        actual: String,
    },
    #[error("disk full: need {need} bytes, have {have} in `{path}`\n  hint: free some space (`wharf models gc --max-size …`) or point `WHARF_CACHE_DIR`/`HF_HUB_CACHE` elsewhere")]
    /// Not enough free space.
    DiskFull {
        /// Where the file was to be written.
        path: PathBuf,
        /// Bytes needed.
        need: u64,
        /// Bytes free.
        have: u64,
    },
    #[error("`{what}` is not in the cache and wharf is offline\n  hint: run `wharf pull {what}` with network access (without `--offline`, `WHARF_OFFLINE`, `HF_HUB_OFFLINE`)")]
    /// Not in the store, and the network may not be used (or no endpoint is configured).
    Offline {
        /// The source.
        what: String,
    },
    #[error("a worker thread stopped: {why}\n  hint: this is a bug in wharf; please report it")]
    /// A blocking worker panicked or was cancelled (see [`crate::transfer::worker`]).
    Worker {
        /// What the runtime said.
        why: String,
    },
    #[error("`{url}`: {why}")]
    /// The server broke the protocol (a bad header, a lying range, a refused redirect).
    Protocol {
        /// The server's URL.
        url: String,
        /// What it did.
        why: String,
    },
    #[error("`{url}` sent a `{field}` wharf does not trust: {source}\n  hint: the server (or a mirror) is broken or hostile; nothing was written. Check `HF_ENDPOINT`/`WHARF_MIRRORS`")]
    /// A server sent a value that does not parse into its boundary type.
    Untrusted {
        /// The server's URL.
        url: String,
        /// The header or JSON field.
        field: &'static str,
        /// The value and why it was refused.
        source: crate::ids::IdError,
    },
    #[error("`{}` {why}\n  hint: a `file://` source must name a regular file (devices, FIFOs, sockets and folders are refused)", path.display())]
    /// A `file://` source is not a regular file.
    NotAFile {
        /// The source's path.
        path: PathBuf,
        /// What it is instead.
        why: String,
    },
    #[error("bad glob `{glob}`: {why}\n  hint: globs look like `*.json` or `onnx/**`")]
    /// An `--include`/`--exclude` glob does not compile.
    BadGlob {
        /// The glob.
        glob: String,
        /// Why.
        why: String,
    },
    /// An origin's client failed before any transfer (an S3 bucket without credentials, a
    /// refused signature); the message names the origin and gives the hint.
    #[error("{message}")]
    Remote {
        /// What the origin's client said.
        message: String,
    },
    /// A file of the store could not be read or written.
    #[error(transparent)]
    Fs(#[from] FsError),
    /// A blob's lock could not be had.
    #[error(transparent)]
    Lock(#[from] crate::lock::LockError),
}

impl FetchError {
    /// This error with every mention of `url` (a signed URL: a credential) replaced by `label`
    /// (the object's name), so that no message shows it.
    pub fn naming(self, url: &str, label: &str) -> FetchError {
        let fix = |s: String| s.replace(url, label);
        match self {
            FetchError::NotFound { url: u, hint } => FetchError::NotFound { url: fix(u), hint },
            FetchError::Http { url: u, status, hint } => FetchError::Http { url: fix(u), status, hint },
            FetchError::GaveUp { url: u, attempts, last } => {
                FetchError::GaveUp { url: fix(u), attempts, last: fix(last) }
            }
            FetchError::Protocol { url: u, why } => FetchError::Protocol { url: fix(u), why: fix(why) },
            FetchError::Untrusted { url: u, field, source } => FetchError::Untrusted { url: fix(u), field, source },
            other => other,
        }
    }

    /// Bad input the user can fix (exit 2): a refused spec or scheme, a bad glob.
    pub fn is_usage(&self) -> bool {
        matches!(self, FetchError::Source(_) | FetchError::BadGlob { .. } | FetchError::NotAFile { .. })
    }
}
