//! Partial downloads: the temp files of transfers that have not finished, in both stores.
//!
//! ```text
//! <hub>/models--ORG--NAME/blobs/<etag>.incomplete          single stream (resumable)
//! <hub>/models--ORG--NAME/blobs/<etag>.incomplete.ranged   parallel ranges
//!     lock: <hub>/.locks/models--ORG--NAME/<etag>.lock     (huggingface_hub takes the same one)
//! <wharf cache>/blobs/sha256/<hex>.incomplete[.ranged]     a pinned URL, a file copy, an assembly
//! <wharf cache>/blobs/sha256/.url-<h>.incomplete[.ranged]  a URL without a pin
//!     lock: <wharf cache>/.locks/<hex>.lock, .locks/url-<h>.lock
//! ```
//!
//! Invariant: every writer of a temp file holds the lock named above for as long as it writes
//! (`pull.rs`, `plain.rs`, the assembly of parts, and `huggingface_hub`). So a partial whose lock
//! we can take exclusively belongs to a process that died, and deleting it while we hold that lock
//! cannot race a live transfer: the next pull of it starts again from byte 0. A partial whose lock
//! is held is a transfer in progress and is never touched; nor is one whose lock file we cannot
//! open (another user's, in a shared cache): nothing proves its writer dead. Listing a partial takes no lock (and
//! creates no lock file); only removal does.

use std::path::{Path, PathBuf};

use serde::Serialize;

use super::error::InventoryError;
use super::id::StoreId;
use super::layout::{BlobStore, HubCache};
use crate::ids::{Etag, RepoId};
use crate::lock::{self, LockError, Mode};

/// The suffixes of the temp names (`transfer::temp_path`, then `split::ranged_temp`).
const SUFFIXES: [&str; 2] = [".incomplete.ranged", ".incomplete"];

/// One unfinished download.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Partial {
    /// `hf:ORG/NAME:<file name>` or `sha256:<file name>`, like the ids of finished files.
    pub id: StoreId,
    /// The temp file.
    pub path: PathBuf,
    /// Bytes it holds so far (a sparse ranged temp counts its written pieces, not its length).
    pub size: u64,
    /// The lock its writer holds.
    #[serde(skip)]
    pub lock: PathBuf,
}

/// What removal did with a partial.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Swept {
    /// Removed (or, in a dry run, would be).
    Removed,
    /// Left alone, and why: its lock is held (a transfer in progress), or could not be taken at
    /// all (another user's lock file in a shared cache) — then nothing proves the writer dead.
    Kept(String),
    /// Finished or removed by someone else in the meantime.
    AlreadyGone,
}

/// A partial left alone, as `clear`, `gc` and `rm` report it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Kept {
    /// Its id, as `models list` shows it.
    pub id: String,
    /// Why it was kept.
    pub reason: String,
}

/// A download's temp name (never a finished blob), whether or not it is one of ours.
pub fn is_temp_name(file_name: &str) -> bool {
    SUFFIXES.iter().any(|s| file_name.ends_with(s))
}

/// The lock stem a temp file name stands for (`<etag>`, `<hex>`, `url-<h>`), when it is one of
/// ours: only letters, digits, `-` and `_`, so the lock path cannot be anything but one file name.
fn stem(file_name: &str) -> Option<&str> {
    let base = SUFFIXES.iter().find_map(|s| file_name.strip_suffix(s))?;
    let base = base.strip_prefix('.').unwrap_or(base);
    let ok = !base.is_empty() && base.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    ok.then_some(base)
}

/// The bytes a temp file holds: its length, or less when it has holes (a ranged transfer writes
/// pieces at their offsets, so a killed one can be mostly holes).
fn held_bytes(meta: &std::fs::Metadata) -> u64 {
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        meta.len().min(meta.blocks().saturating_mul(512))
    }
    #[cfg(not(unix))]
    {
        meta.len()
    }
}

/// The partials in one `blobs` folder, with the lock each would be written under.
fn scan_dir(dir: &Path, id_for: &dyn Fn(&str) -> StoreId, lock_for: &dyn Fn(&str) -> Option<PathBuf>) -> Vec<Partial> {
    let Ok(rd) = std::fs::read_dir(dir) else { return Vec::new() };
    let mut out: Vec<Partial> = rd
        .filter_map(Result::ok)
        .filter_map(|e| {
            let meta = e.metadata().ok().filter(|m| m.is_file())?;
            let name = e.file_name().to_str()?.to_owned();
            let lock = lock_for(stem(&name)?)?;
            Some(Partial { id: id_for(&name), path: e.path(), size: held_bytes(&meta), lock })
        })
        .collect();
    out.sort_by(|a, b| a.id.cmp(&b.id));
    out
}

/// Every partial in the hub cache and in wharf's blob store.
pub fn scan(hub: &HubCache, blobs: &BlobStore) -> Vec<Partial> {
    let mut out = Vec::new();
    let mut repos: Vec<PathBuf> =
        std::fs::read_dir(&hub.root).into_iter().flatten().filter_map(Result::ok).map(|e| e.path()).collect();
    repos.sort();
    for repo_dir in repos {
        let Some(folder) = repo_dir.file_name().and_then(|n| n.to_str()) else { continue };
        // Names read from disk are parsed like any outside value before they name a lock file.
        let Some(repo) = folder.strip_prefix("models--").and_then(|r| r.replacen("--", "/", 1).parse::<RepoId>().ok())
        else {
            continue;
        };
        let lock_for = |s: &str| hub.lock(&repo, &s.parse::<Etag>().ok()?).ok();
        let id_for = |name: &str| StoreId::hf(repo.as_str(), name);
        out.extend(scan_dir(&repo_dir.join("blobs"), &id_for, &lock_for));
    }
    out.extend(scan_dir(&blobs.root.join("blobs").join("sha256"), &StoreId::blob, &|s| blobs.partial_lock(s)));
    out
}

/// Remove `p` if no process holds its lock (a dry run only tries the lock). The lock is held
/// while the file goes, so a pull that starts meanwhile waits and then begins from byte 0.
pub fn sweep(p: &Partial, dry_run: bool) -> Result<Swept, InventoryError> {
    let _guard = match lock::try_acquire(&p.lock, Mode::Exclusive) {
        Ok(g) => g,
        Err(LockError::Busy { .. }) => return Ok(Swept::Kept("a download in progress holds its lock".into())),
        Err(e) => return Ok(Swept::Kept(format!("its lock cannot be taken ({e})"))),
    };
    if dry_run {
        return Ok(if p.path.exists() { Swept::Removed } else { Swept::AlreadyGone });
    }
    match std::fs::remove_file(&p.path) {
        Ok(()) => Ok(Swept::Removed),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Swept::AlreadyGone),
        Err(e) => Err(InventoryError::Remove { path: p.path.clone(), source: e }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn temp_names_map_to_their_lock_stem() {
        let hex = "ab".repeat(32);
        assert_eq!(stem(&format!("{hex}.incomplete")), Some(hex.as_str()));
        assert_eq!(stem(&format!("{hex}.incomplete.ranged")), Some(hex.as_str()));
        assert_eq!(stem(".url-0f.incomplete"), Some("url-0f"));
        assert_eq!(stem(&hex), None, "a finished blob is no partial");
        assert_eq!(stem("..incomplete"), None);
        assert_eq!(stem("a b.incomplete"), None);
    }

    #[test]
    fn a_held_lock_keeps_the_partial_and_a_free_one_lets_it_go() {
        let d = tempfile::tempdir().unwrap();
        let blobs = BlobStore { root: d.path().to_path_buf() };
        let hub = HubCache { root: d.path().join("hub") };
        let dir = d.path().join("blobs/sha256");
        std::fs::create_dir_all(&dir).unwrap();
        let (a, b) = ("a".repeat(64), "b".repeat(64));
        std::fs::write(dir.join(format!("{a}.incomplete")), b"12345").unwrap();
        std::fs::write(dir.join(format!("{b}.incomplete.ranged")), b"123").unwrap();
        // Not a temp name any downloader uses: never listed, never removed.
        std::fs::write(dir.join("notadigest.incomplete"), b"1").unwrap();
        let found = scan(&hub, &blobs);
        assert_eq!(
            found.iter().map(|p| (p.id.to_string(), p.size)).collect::<Vec<_>>(),
            [(format!("sha256:{a}.incomplete"), 5), (format!("sha256:{b}.incomplete.ranged"), 3)]
        );
        let key: crate::ids::Sha256 = a.parse().unwrap();
        let held =
            lock::try_acquire(&blobs.lock(super::super::layout::BlobKey::Digest(&key)).unwrap(), Mode::Exclusive)
                .unwrap();
        assert!(matches!(sweep(&found[0], false).unwrap(), Swept::Kept(why) if why.contains("in progress")));
        assert_eq!(sweep(&found[1], true).unwrap(), Swept::Removed);
        assert!(found[1].path.exists(), "a dry run removes nothing");
        assert_eq!(sweep(&found[1], false).unwrap(), Swept::Removed);
        assert!(found[0].path.exists() && !found[1].path.exists());
        drop(held);
        assert_eq!(sweep(&found[0], false).unwrap(), Swept::Removed);
        assert_eq!(sweep(&found[0], false).unwrap(), Swept::AlreadyGone);
    }
}
