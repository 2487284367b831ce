//! A model in parts, assembled in wharf's blob store: the parts (already in the store) are
//! concatenated in order into `blobs/sha256/<whole>`, hashed on the way, and the file becomes
//! visible only when its digest is the one asked for.
//!
//! - Assembly holds the whole digest's blob lock (the one a pull of that digest takes), so `models
//!   clear` leaves its `<hex>.incomplete` temp alone, and two projects assembling one model do it
//!   once.
//! - Parts this pull fetched into wharf's own blob store duplicate the assembled file, so they are
//!   forgotten from the index (their blobs become unused and `gc` evicts them). Kept: a part that
//!   *is* the assembled file (a model of one part), parts in the shared Hugging Face cache (their
//!   snapshot links are what huggingface_hub reads), and parts that were here before (a failed
//!   earlier assembly left them so they need not be fetched again).
//! - The assembled file is recorded in the index as wharf's, so `gc` and `prune --models` know it.

use std::path::{Path, PathBuf};

use super::layout::BlobKey;
use super::serve::Found;
use super::{ModelStore, PullOptions, Pulled};
use crate::fsx::{self, Context, Existing, FsError};
use crate::ids::Sha256;
use crate::lock::{self, Mode};
use crate::transfer::hash::{self, CopyError, Expected, Hasher};
use crate::transfer::worker::blocking;
use crate::transfer::{self, Downloaded, FetchError};

/// What [`ModelStore::assemble`] made.
#[derive(Debug, Clone)]
pub struct Assembled {
    /// The assembled file in the blob store.
    pub path: PathBuf,
    /// Its size in bytes.
    pub size: u64,
}

impl ModelStore {
    /// Where the model whose bytes hash to `whole` lives once assembled (it may not exist yet).
    pub fn assembled_path(&self, whole: &Sha256) -> Result<PathBuf, FetchError> {
        Ok(self.blobs.blob(whole)?)
    }

    /// Is the file whose bytes hash to `sha256` in wharf's blob store, and fit to serve under
    /// `opts` (see `serve.rs`)? A model in parts is looked for this way before any part is fetched.
    pub async fn find_blob(&self, sha256: &Sha256, opts: &PullOptions) -> Result<Found, FetchError> {
        let (path, trust) = (self.blobs.blob(sha256)?, self.trust(opts));
        let expected = Expected::Sha256(sha256.to_string());
        blocking(move || Ok(trust.judge(&path, &expected))).await
    }

    /// Concatenate `parts` (files of this store, in order) into the blob of `whole`, check the
    /// digest, forget the parts it makes redundant and record the result as `source`. `name` is
    /// the model's name, for messages. `replace`: the file there was found wrong (see
    /// `serve.rs`), so it is made anew and renamed over, not taken as the answer.
    pub async fn assemble(
        &self,
        name: &str,
        parts: &[Pulled],
        whole: &Sha256,
        replace: bool,
        now: chrono::DateTime<chrono::Utc>,
    ) -> Result<Assembled, FetchError> {
        let dest = self.assembled_path(whole)?;
        let files: Vec<PathBuf> = parts.iter().map(|p| p.path.clone()).collect();
        let (lock_file, wait) = (self.blobs.lock(BlobKey::Digest(whole))?, self.config().blob_lock_timeout);
        let (d, want, what) = (dest.clone(), whole.clone(), format!("{name} (assembled from its parts)"));
        let size = blocking(move || {
            let _guard = lock::acquire(&lock_file, Mode::Exclusive, wait, &|_| {})?;
            concatenate(&files, &d, &want, replace, &what)
        })
        .await?;
        let fetched: Vec<PathBuf> =
            parts.iter().filter(|p| !p.cached && p.hf.is_none()).map(|p| p.path.clone()).collect();
        let (index, d) = (self.index.clone(), dest.clone());
        blocking(move || {
            let whole = std::fs::canonicalize(&d).unwrap_or(d);
            for f in fetched {
                // A part that cannot be forgotten only costs space.
                if std::fs::canonicalize(&f).is_ok_and(|c| c != whole) {
                    let _ = index.forget(&f);
                }
            }
            Ok::<_, FetchError>(())
        })
        .await?;
        self.record(&dest, whole, size, &format!("parts of {name}"), now, true).await?;
        Ok(Assembled { path: dest, size })
    }
}

/// Concatenate `files` into `dest` (hashing on the way), verify against `want`, then rename.
/// Blocking; `dest` already there is the answer, unless it is to be replaced.
fn concatenate(files: &[PathBuf], dest: &Path, want: &Sha256, replace: bool, what: &str) -> Result<u64, FetchError> {
    match std::fs::metadata(dest) {
        Ok(m) if !replace => return Ok(m.len()),
        _ => {}
    }
    let temp = transfer::temp_path(dest);
    if let Some(dir) = temp.parent() {
        fsx::create_dir_private(dir)?;
    }
    let mut out = std::io::BufWriter::new(fsx::open_private(&temp, Existing::Truncate).ctx("cannot create", &temp)?);
    let mut h = Hasher::new(&Expected::Nothing, None);
    let mut size = 0u64;
    for f in files {
        let mut r = std::fs::File::open(f).ctx("cannot open", f)?;
        size += hash::copy_into(&mut r, &mut h, u64::MAX, &mut out).map_err(|e| match e {
            CopyError::Read(e) => FsError::new("cannot read", f, e),
            CopyError::Write(e) => FsError::new("cannot write", &temp, e),
        })?;
    }
    let file = out.into_inner().map_err(|e| FsError::new("cannot write", &temp, e.into_error()))?;
    file.sync_all().ctx("cannot sync", &temp)?;
    let (sha256, _) = h.finish();
    transfer::commit(
        &temp,
        dest,
        &Expected::Sha256(want.to_string()),
        &Downloaded { sha256, git_sha1: None, size },
        what,
    )?;
    Ok(size)
}
