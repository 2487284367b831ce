//! Whether a file already in the store may be served as it is, and what is said about it.
//!
//! `pull` repairs what it finds wrong. A stored file is served only when its size is the one
//! expected — the lock's pin when there is one, else the size the index recorded when wharf
//! fetched it — and, with `pull --verify`, when a full read hashes to its name (a wharf blob's
//! SHA-256, a Hugging Face etag). Contents are otherwise trusted like a large file's: a small
//! Hugging Face file (named by its git blob id) is served with the SHA-256 wharf recorded when it
//! fetched it, and only one another tool fetched is hashed (and so checked) to learn it; `check
//! --full`, `models verify` and `pull --verify` read every byte. A file that fails is not deleted here: the caller goes on to the
//! normal download, which verifies the new bytes in a temp file and renames them over the bad one
//! (the commit point), so a repair never shows unverified bytes and never leaves a moment with no
//! file at all. Offline, a file that fails is simply not served.
//!
//! wharf's blob store is content-addressed, so a pin can be met by bytes another source brought
//! (two URLs of one file, a URL pinned with another model's digest). The index remembers which
//! source fetched a blob first; a cached pull of a different source says so
//! ([`Pulled::same_as`](super::Pulled::same_as), noted in `plain.rs`).

use std::path::{Path, PathBuf};

use super::index::Index;
use super::verify::{self, Hashed};
use crate::ids::Etag;
use crate::transfer::hash::{self, Expected, Hasher};

/// What a stored file must be to be served (see the module doc). Cheap to clone into a worker.
#[derive(Debug, Clone)]
pub(super) struct Trust {
    /// The size pinned for it (a lock's), if any.
    pub size: Option<u64>,
    /// Re-hash it before serving it (`pull --verify`).
    pub verify: bool,
    index: Index,
}

/// A file looked for in the store.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Found {
    /// There, with this size, and fit to serve.
    Sound(u64),
    /// There, but of the wrong size or content: to be fetched (or made) again.
    Unsound,
    /// Not there.
    Absent,
}

impl Trust {
    /// The rule for a file that must be `size` bytes (when pinned), re-hashed when `verify`;
    /// otherwise held to the size `index` recorded.
    pub fn new(size: Option<u64>, verify: bool, index: Index) -> Trust {
        Trust { size, verify, index }
    }

    /// The same rule, for a file whose size a listing gave: that size is the one expected.
    pub fn sized(&self, size: Option<u64>) -> Trust {
        Trust { size: size.or(self.size), ..self.clone() }
    }

    /// Blocking: may read the index record and, with `verify`, the whole file. `len` is the size
    /// the file has on disk; `expected` is what its name says it hashes to.
    pub fn sound(&self, path: &Path, len: u64, expected: &Expected) -> bool {
        let want = self.size.or_else(|| self.index.get(&canonical(path)).map(|r| r.size));
        if want.is_some_and(|w| w != len) {
            return false;
        }
        // A file named by its git blob id is small (not LFS) and hashed whenever it is served:
        // it is always checked.
        let verify = self.verify || matches!(expected, Expected::GitSha1(_));
        !verify || *expected == Expected::Nothing || matches!(verify::check(path, expected, len), Hashed::Valid)
    }

    /// Blocking: [`Trust::sound`] for a Hugging Face file `path` (a blob, or a link to it) named
    /// `etag`, giving its SHA-256 when it is sound: the etag's own for an LFS file, else the one
    /// wharf recorded when it fetched the file (`blob` is the blob's canonical path, the record's
    /// key), else from one read that checks it against its git blob id. With `verify`, always
    /// that read.
    pub fn served_sha256(&self, path: &Path, len: u64, etag: &Etag, blob: &Path) -> Option<String> {
        // The record is read only when a size or a digest must come from it (not for an LFS file
        // whose listed or pinned size is known: the common case of a cached repo's large files).
        let needs_record = self.size.is_none() || (!self.verify && etag.sha256().is_none());
        let record = if needs_record { self.index.get(blob) } else { None };
        let want = self.size.or_else(|| record.as_ref().map(|r| r.size));
        if want.is_some_and(|w| w != len) {
            return None;
        }
        if !self.verify {
            if let Some(h) = etag.sha256() {
                return Some(h.to_string());
            }
            if let Some(r) = record.filter(|r| r.size == len && r.sha256.parse::<crate::ids::Sha256>().is_ok()) {
                return Some(r.sha256);
            }
        }
        let expected = Expected::from(etag);
        let mut h = Hasher::new(&expected, Some(len));
        // One byte past the size: a file that grew does not hash to its name.
        hash::read_into(&mut crate::fsx::open_unnoticed(path).ok()?, &mut h, len + 1).ok()?;
        let (sha256, git) = h.finish();
        hash::verify(&expected, &sha256, git.as_deref()).is_ok().then_some(sha256)
    }

    /// Blocking: is the regular file at `path` there, and fit to serve?
    pub fn judge(&self, path: &Path, expected: &Expected) -> Found {
        match std::fs::metadata(path) {
            Ok(m) if m.is_file() && self.sound(path, m.len(), expected) => Found::Sound(m.len()),
            Ok(_) => Found::Unsound,
            Err(_) => Found::Absent,
        }
    }
}

/// The path as the index records it (a link resolved).
pub(super) fn canonical(path: &Path) -> PathBuf {
    std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf())
}
