//! Whether a file already in the store may be served as it is, and what is said about it.
//!
//! `pull` repairs what it finds wrong. A stored file is served only when its size is the one
//! expected — the lock's pin when there is one, else the size the index recorded when wharf
//! fetched it — and, with `pull --verify`, when a full read hashes to its name (a wharf blob's
//! SHA-256, a Hugging Face etag; a small Hugging Face file, named by its git blob id, is hashed
//! whenever it is served anyway, so it is always checked). A file that fails is not deleted here: the caller goes on to the
//! normal download, which verifies the new bytes in a temp file and renames them over the bad one
//! (the commit point), so a repair never shows unverified bytes and never leaves a moment with no
//! file at all. Offline, a file that fails is simply not served.
//!
//! wharf's blob store is content-addressed, so a pin can be met by bytes another source brought
//! (two URLs of one file, a URL pinned with another model's digest). The index remembers which
//! source fetched a blob first; a cached pull of a different source says so ([`Pulled::same_as`]).

use std::path::{Path, PathBuf};

use super::index::{Cache, Index};
use super::verify::{self, Hashed};
use super::{ModelStore, PullOptions, Pulled};
use crate::transfer::hash::Expected;
use crate::transfer::worker::blocking;
use crate::transfer::FetchError;

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

    /// Blocking: is the regular file at `path` there, and fit to serve?
    pub fn judge(&self, path: &Path, expected: &Expected) -> Found {
        match std::fs::metadata(path) {
            Ok(m) if m.is_file() && self.sound(path, m.len(), expected) => Found::Sound(m.len()),
            Ok(_) => Found::Unsound,
            Err(_) => Found::Absent,
        }
    }
}

fn canonical(path: &Path) -> PathBuf {
    std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf())
}

impl ModelStore {
    /// The rule for a stored file under `opts` (the pinned size applies to single-file sources).
    pub(super) fn trust(&self, opts: &PullOptions) -> Trust {
        Trust { size: opts.size, verify: opts.verify, index: self.index.clone() }
    }

    /// Is the file whose bytes hash to `sha256` in wharf's blob store, and fit to serve under
    /// `opts`? (A model assembled from parts is looked for this way before any part is fetched.)
    pub async fn find_blob(&self, sha256: &crate::ids::Sha256, opts: &PullOptions) -> Result<Found, FetchError> {
        let (path, trust) = (self.blobs.blob(sha256)?, self.trust(opts));
        let expected = Expected::Sha256(sha256.to_string());
        blocking(move || Ok(trust.judge(&path, &expected))).await
    }

    /// Name, for each cached file of wharf's blob store, the other source that first brought its
    /// bytes, if it was not this one.
    pub(super) async fn note_same_bytes(&self, mut pulled: Vec<Pulled>) -> Result<Vec<Pulled>, FetchError> {
        let index = self.index.clone();
        blocking(move || {
            for p in pulled.iter_mut().filter(|p| p.cached && p.hf.is_none()) {
                let Some(r) = index.get(&canonical(&p.path)) else { continue };
                match r.sources.first() {
                    Some(first) if r.kind == Cache::Blob && *first != p.source => p.same_as = Some(first.clone()),
                    _ => {}
                }
            }
            Ok(pulled)
        })
        .await
    }
}
