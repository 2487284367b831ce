//! Where models live on disk.
//!
//! Hugging Face files use the standard hub cache, shared with Python's `huggingface_hub` in both
//! directions (`HF_HUB_CACHE`, else `$HF_HOME/hub`, else `~/.cache/huggingface/hub`):
//!
//! ```text
//! <hub>/models--ORG--NAME/
//!     blobs/<etag>                      the file (etag = sha256 for LFS files, git blob sha1 else)
//!     blobs/<etag>.incomplete           a transfer in progress (resumable)
//!     snapshots/<commit>/<path>         relative symlink → ../../blobs/<etag> (deeper paths add ../)
//!     refs/<rev>                        the commit a branch or tag pointed to, no newline
//! <hub>/.locks/models--ORG--NAME/<etag>.lock
//! ```
//!
//! URL and file sources go to wharf's own store, named by content:
//!
//! ```text
//! <wharf cache>/blobs/sha256/<hex>      the file
//! <wharf cache>/urls/<sha256(url)>      the hex a URL without a pin resolved to (so it is cached)
//! <wharf cache>/.locks/<name>.lock
//! ```

use std::path::{Path, PathBuf};

use crate::fsx::{self, FsError};

#[derive(Debug, Clone)]
pub struct HubCache {
    pub root: PathBuf,
}

impl HubCache {
    /// `models--ORG--NAME`
    pub fn repo_folder(repo: &str) -> String {
        format!("models--{}", repo.replace('/', "--"))
    }

    pub fn repo_dir(&self, repo: &str) -> PathBuf {
        self.root.join(Self::repo_folder(repo))
    }

    pub fn blob(&self, repo: &str, etag: &str) -> PathBuf {
        self.repo_dir(repo).join("blobs").join(etag)
    }

    pub fn snapshot(&self, repo: &str, commit: &str, path: &str) -> PathBuf {
        self.repo_dir(repo).join("snapshots").join(commit).join(path)
    }

    pub fn lock(&self, repo: &str, etag: &str) -> PathBuf {
        self.root.join(".locks").join(Self::repo_folder(repo)).join(format!("{etag}.lock"))
    }

    fn ref_file(&self, repo: &str, rev: &str) -> PathBuf {
        self.repo_dir(repo).join("refs").join(rev)
    }

    /// The commit `rev` names locally: a full commit hash is itself; else what `refs/<rev>` says.
    pub fn commit_for(&self, repo: &str, rev: &str) -> Option<String> {
        if rev.len() == 40 && rev.chars().all(|c| c.is_ascii_hexdigit()) {
            return Some(rev.to_string());
        }
        let text = fsx::read_optional(&self.ref_file(repo, rev)).ok()??;
        Some(text.trim().to_string()).filter(|c| !c.is_empty())
    }

    pub fn write_ref(&self, repo: &str, rev: &str, commit: &str) -> Result<(), FsError> {
        if rev == commit {
            return Ok(());
        }
        let file = self.ref_file(repo, rev);
        if fsx::read_optional(&file)?.as_deref() == Some(commit) {
            return Ok(());
        }
        fsx::write_atomic(&file, commit.as_bytes())
    }

    /// Point `snapshots/<commit>/<path>` at the blob with a relative symlink, replacing what is there.
    pub fn link(&self, repo: &str, commit: &str, path: &str, etag: &str) -> Result<PathBuf, FsError> {
        let link = self.snapshot(repo, commit, path);
        let depth = path.split('/').count() + 1; // up through <path>'s folders and <commit>
        let target: PathBuf = std::iter::repeat_n("..", depth).collect::<PathBuf>().join("blobs").join(etag);
        if let Some(dir) = link.parent() {
            fsx::create_dir_private(dir)?;
        }
        if std::fs::read_link(&link).is_ok_and(|t| t == target) {
            return Ok(link);
        }
        let tmp =
            link.with_file_name(format!(".{}.wharf-link", link.file_name().unwrap_or_default().to_string_lossy()));
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

#[derive(Debug, Clone)]
pub struct BlobStore {
    pub root: PathBuf,
}

impl BlobStore {
    pub fn blob(&self, hex: &str) -> PathBuf {
        self.root.join("blobs").join("sha256").join(hex)
    }

    pub fn url_record(&self, url: &str) -> PathBuf {
        self.root.join("urls").join(crate::fetch::hash::sha256_hex(url.as_bytes()))
    }

    pub fn lock(&self, name: &str) -> PathBuf {
        self.root.join(".locks").join(format!("{name}.lock"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg(unix)]
    #[test]
    fn snapshot_links_are_relative_and_resolve_to_the_blob() {
        let d = tempfile::tempdir().unwrap();
        let hub = HubCache { root: d.path().to_path_buf() };
        let blob = hub.blob("org/m", "abc");
        std::fs::create_dir_all(blob.parent().unwrap()).unwrap();
        std::fs::write(&blob, b"x").unwrap();
        let link = hub.link("org/m", "c0ffee", "sub/dir/f.bin", "abc").unwrap();
        assert_eq!(std::fs::read_link(&link).unwrap(), Path::new("../../../../blobs/abc"));
        assert_eq!(std::fs::read(&link).unwrap(), b"x");
        assert!(link.starts_with(d.path().join("models--org--m/snapshots/c0ffee")));
    }
}
