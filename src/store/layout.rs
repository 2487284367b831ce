//! Where models live on disk.
//!
//! Hugging Face files use the standard hub cache, shared with Python's `huggingface_hub` in both
//! directions (`HF_HUB_CACHE`, else `$HF_HOME/hub`, else `~/.cache/huggingface/hub`):
//!
//! ```text
//! <hub>/models--ORG--NAME/
//!     blobs/<etag>                      the file (etag = sha256 for LFS files, git blob sha1 else)
//!     blobs/<etag>.incomplete           a transfer in progress (resumable)
//!     blobs/<etag>.incomplete.ranged    a transfer in parallel ranges (not resumable; has holes)
//!     snapshots/<commit>/<path>         relative symlink → ../../blobs/<etag> (deeper paths add ../)
//!     refs/<rev>                        the commit a branch or tag pointed to, no newline
//! <hub>/.locks/models--ORG--NAME/<etag>.lock
//! ```
//!
//! URL and file sources go to wharf's own store, named by content:
//!
//! ```text
//! <wharf cache>/blobs/sha256/<hex>      the file
//! <wharf cache>/blobs/sha256/<hex>.incomplete, .url-<sha256(url)>.incomplete   transfers in progress
//! <wharf cache>/urls/<sha256(url)>      the hex a URL without a pin resolved to (so it is cached)
//! <wharf cache>/.locks/<name>.lock
//! ```
//!
//! Invariant: every path below a store root is made by [`join_within`] from boundary types
//! ([`RepoId`], [`CommitId`], [`RepoPath`], [`Etag`], [`Revision`], [`Sha256`]), so no value a
//! server, a lock file or a ref file holds can name a path outside the root. What is read back
//! from the cache (a ref, a snapshot link) is parsed the same way, and a snapshot link is trusted
//! only when it is exactly the link wharf (or `huggingface_hub`) would have made.

use std::io;
use std::path::{Component, Path, PathBuf};

use crate::fsx::{self, FsError};
use crate::ids::{CommitId, Etag, RepoId, RepoPath, Revision, Sha256};

/// The one join for paths inside a store: `rel` is `/`-separated and every part must be a plain
/// name (no `..`, `.`, root or empty part), so the result stays inside `root`.
pub fn join_within(root: &Path, rel: &str) -> Result<PathBuf, FsError> {
    let plain = !rel.is_empty()
        && !rel.contains('\0')
        && rel.split('/').all(|p| {
            let mut c = Path::new(p).components();
            matches!((c.next(), c.next()), (Some(Component::Normal(n)), None) if n == p)
        });
    if !plain {
        let why = io::Error::new(io::ErrorKind::InvalidInput, "the name would leave the store; refused");
        return Err(FsError::new("refusing to write", &root.join(rel.replace('\0', "\\0")), why));
    }
    Ok(root.join(rel))
}

/// The Hugging Face hub cache (see the module doc for its layout).
#[derive(Debug, Clone)]
pub struct HubCache {
    /// `HF_HUB_CACHE`, else `$HF_HOME/hub`, else `~/.cache/huggingface/hub`.
    pub root: PathBuf,
}

impl HubCache {
    /// `models--ORG--NAME/`.
    pub fn repo_dir(&self, repo: &RepoId) -> Result<PathBuf, FsError> {
        join_within(&self.root, &repo.cache_folder())
    }

    /// The same cache named by its canonical path (when it exists), so that the paths it builds
    /// are the ones the index records (its keys are canonical paths).
    pub fn canonical(&self) -> HubCache {
        HubCache { root: std::fs::canonicalize(&self.root).unwrap_or_else(|_| self.root.clone()) }
    }

    /// `models--ORG--NAME/blobs/<etag>`.
    pub fn blob(&self, repo: &RepoId, etag: &Etag) -> Result<PathBuf, FsError> {
        join_within(&self.root, &format!("{}/blobs/{etag}", repo.cache_folder()))
    }

    /// `models--ORG--NAME/snapshots/<commit>/`.
    pub fn snapshot_dir(&self, repo: &RepoId, commit: &CommitId) -> Result<PathBuf, FsError> {
        join_within(&self.root, &format!("{}/snapshots/{commit}", repo.cache_folder()))
    }

    /// `models--ORG--NAME/snapshots/<commit>/<path>`.
    pub fn snapshot(&self, repo: &RepoId, commit: &CommitId, path: &RepoPath) -> Result<PathBuf, FsError> {
        join_within(&self.root, &format!("{}/snapshots/{commit}/{path}", repo.cache_folder()))
    }

    /// `.locks/models--ORG--NAME/<etag>.lock`.
    pub fn lock(&self, repo: &RepoId, etag: &Etag) -> Result<PathBuf, FsError> {
        join_within(&self.root, &format!(".locks/{}/{etag}.lock", repo.cache_folder()))
    }

    fn ref_file(&self, repo: &RepoId, rev: &Revision) -> Result<PathBuf, FsError> {
        join_within(&self.root, &format!("{}/refs/{rev}", repo.cache_folder()))
    }

    /// The commit `rev` names locally: a full commit hash is itself; else what `refs/<rev>` says,
    /// if that is a commit id (a ref file holding anything else is ignored).
    pub fn commit_for(&self, repo: &RepoId, rev: &Revision) -> Option<CommitId> {
        if let Some(c) = rev.as_commit() {
            return Some(c);
        }
        let text = fsx::read_optional(&self.ref_file(repo, rev).ok()?).ok()??;
        text.trim().parse().ok()
    }

    /// Record that `rev` is at `commit` (`refs/<rev>`), unless `rev` is the commit itself or the
    /// ref already says so.
    pub fn write_ref(&self, repo: &RepoId, rev: &Revision, commit: &CommitId) -> Result<(), FsError> {
        if rev.as_str() == commit.as_str() {
            return Ok(());
        }
        let file = self.ref_file(repo, rev)?;
        if fsx::read_optional(&file)?.as_deref() == Some(commit.as_str()) {
            return Ok(());
        }
        fsx::write_atomic(&file, commit.as_bytes())
    }

    /// The relative target of `snapshots/<commit>/<path>`: up through `<path>`'s folders and
    /// `<commit>`, then `blobs/<etag>`.
    fn link_target(path: &RepoPath, etag: &Etag) -> PathBuf {
        let depth = path.split('/').count() + 1;
        std::iter::repeat_n("..", depth).collect::<PathBuf>().join("blobs").join(etag.as_str())
    }

    /// The etag a snapshot entry links to, only if the entry is exactly the relative link to a
    /// blob of this repo that [`HubCache::link`] makes; anything else (a file, a link elsewhere)
    /// is not trusted as cached.
    pub fn linked_etag(&self, repo: &RepoId, commit: &CommitId, path: &RepoPath) -> Option<Etag> {
        let target = std::fs::read_link(self.snapshot(repo, commit, path).ok()?).ok()?;
        let etag: Etag = target.file_name()?.to_str()?.parse().ok()?;
        (target == Self::link_target(path, &etag)).then_some(etag)
    }

    /// Point `snapshots/<commit>/<path>` at the blob with a relative symlink, replacing what is there.
    pub fn link(&self, repo: &RepoId, commit: &CommitId, path: &RepoPath, etag: &Etag) -> Result<PathBuf, FsError> {
        let link = self.snapshot(repo, commit, path)?;
        let target = Self::link_target(path, etag);
        if let Some(dir) = link.parent() {
            fsx::create_dir_private(dir)?;
        }
        // Nothing there yet (a fresh pull): the link is made in place, one call.
        match symlink(&target, &link) {
            Ok(()) => return Ok(link),
            Err(e) if e.kind() != std::io::ErrorKind::AlreadyExists => {
                return Err(FsError::new("cannot create link", &link, e));
            }
            Err(_) => {}
        }
        if std::fs::read_link(&link).is_ok_and(|t| t == target) {
            return Ok(link);
        }
        // Something else is there: replaced atomically. wharf's one temp prefix: swept when stale, and never taken for a repo file.
        let tmp = fsx::temp_path(
            link.parent().unwrap_or(&self.root),
            &link.file_name().unwrap_or_default().to_string_lossy(),
        );
        let _ = std::fs::remove_file(&tmp);
        symlink(&target, &tmp).map_err(|e| FsError::new("cannot create link", &tmp, e))?;
        std::fs::rename(&tmp, &link).map_err(|e| FsError::new("cannot place link", &link, e))?;
        Ok(link)
    }
}

#[cfg(unix)]
fn symlink(target: &Path, link: &Path) -> std::io::Result<()> {
    std::os::unix::fs::symlink(target, link)
}

#[cfg(not(unix))]
fn symlink(target: &Path, link: &Path) -> std::io::Result<()> {
    std::os::windows::fs::symlink_file(target, link)
}

/// wharf's content-addressed store (see the module doc for its layout).
#[derive(Debug, Clone)]
pub struct BlobStore {
    /// The wharf cache folder.
    pub root: PathBuf,
}

impl BlobStore {
    /// `blobs/sha256/<hex>`.
    pub fn blob(&self, hex: &Sha256) -> Result<PathBuf, FsError> {
        join_within(&self.root, &format!("blobs/sha256/{hex}"))
    }

    /// The SHA-256 of a URL: its name under `urls/` and in lock names.
    pub fn url_key(url: &str) -> String {
        crate::transfer::hash::sha256_hex(url.as_bytes())
    }

    /// The temp file of an unpinned URL's download (its digest is known only at the end).
    pub fn url_temp(&self, url: &str) -> Result<PathBuf, FsError> {
        join_within(&self.root, &format!("blobs/sha256/.url-{}.incomplete", Self::url_key(url)))
    }

    /// `urls/<sha256 of the URL>`: the digest an unpinned URL resolved to.
    pub fn url_record(&self, url: &str) -> Result<PathBuf, FsError> {
        join_within(&self.root, &format!("urls/{}", Self::url_key(url)))
    }

    /// The digest recorded for an unpinned URL, if there is one and it is a digest.
    pub fn recorded(&self, url: &str) -> Result<Option<Sha256>, FsError> {
        Ok(fsx::read_optional(&self.url_record(url)?)?.and_then(|s| s.trim().parse().ok()))
    }

    /// The lock of a blob (by its digest) or of an unpinned URL (by the URL's digest).
    pub fn lock(&self, key: BlobKey<'_>) -> Result<PathBuf, FsError> {
        let name = match key {
            BlobKey::Digest(h) => h.to_string(),
            BlobKey::Url(u) => format!("url-{}", Self::url_key(u)),
        };
        join_within(&self.root, &format!(".locks/{name}.lock"))
    }
}

impl BlobStore {
    /// The lock of a temp file in `blobs/sha256/` from its name without the suffix: `<hex>` (a
    /// pinned download or a copy) or `url-<sha256 of the URL>` (an unpinned URL).
    pub fn partial_lock(&self, stem: &str) -> Option<PathBuf> {
        let name = match stem.strip_prefix("url-") {
            Some(key) => format!("url-{}", key.parse::<Sha256>().ok()?),
            None => stem.parse::<Sha256>().ok()?.to_string(),
        };
        join_within(&self.root, &format!(".locks/{name}.lock")).ok()
    }
}

/// What a lock in the blob store guards.
#[derive(Debug, Clone, Copy)]
pub enum BlobKey<'a> {
    /// A blob by its digest.
    Digest(&'a Sha256),
    /// An unpinned URL's download.
    Url(&'a str),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg(unix)]
    #[test]
    fn snapshot_links_are_relative_and_resolve_to_the_blob() {
        let d = tempfile::tempdir().unwrap();
        let hub = HubCache { root: d.path().to_path_buf() };
        let (repo, etag): (RepoId, Etag) = ("org/m".parse().unwrap(), "a".repeat(40).parse().unwrap());
        let commit: CommitId = "c".repeat(40).parse().unwrap();
        let blob = hub.blob(&repo, &etag).unwrap();
        std::fs::create_dir_all(blob.parent().unwrap()).unwrap();
        std::fs::write(&blob, b"x").unwrap();
        let path: RepoPath = "sub/dir/f.bin".parse().unwrap();
        let link = hub.link(&repo, &commit, &path, &etag).unwrap();
        assert_eq!(std::fs::read_link(&link).unwrap(), Path::new("../../../../blobs").join(etag.as_str()));
        assert_eq!(std::fs::read(&link).unwrap(), b"x");
        assert!(link.starts_with(d.path().join("models--org--m/snapshots").join(commit.as_str())));
        assert_eq!(hub.linked_etag(&repo, &commit, &path), Some(etag));
    }

    #[cfg(unix)]
    #[test]
    fn a_snapshot_link_pointing_elsewhere_is_not_trusted() {
        let d = tempfile::tempdir().unwrap();
        let hub = HubCache { root: d.path().to_path_buf() };
        let repo: RepoId = "org/m".parse().unwrap();
        let commit: CommitId = "c".repeat(40).parse().unwrap();
        let path: RepoPath = "f.bin".parse().unwrap();
        let snap = hub.snapshot(&repo, &commit, &path).unwrap();
        std::fs::create_dir_all(snap.parent().unwrap()).unwrap();
        symlink(Path::new("/etc/passwd"), &snap).unwrap();
        assert_eq!(hub.linked_etag(&repo, &commit, &path), None);
    }

    #[test]
    fn the_join_refuses_to_leave_its_root() {
        let root = Path::new("/store");
        assert_eq!(join_within(root, "a/b").unwrap(), Path::new("/store/a/b"));
        for bad in ["../x", "a/../../x", "/etc/passwd", "", "a//b", "a/./b", "a\0b/.."] {
            assert!(join_within(root, bad).is_err(), "{bad:?}");
        }
    }
}
