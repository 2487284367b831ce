//! Filesystem helpers whose errors always name the path.
//!
//! Invariants:
//! - [`write_atomic`] never truncates a file in place: temp file in the same folder, write, `fsync`,
//!   rename over the target, `fsync` the folder. A reader sees the old file or the new one, never half.
//! - [`remove_dir_within`] deletes only a real folder strictly inside `root`, compared component-wise
//!   after resolving symlinks; a symlink is never followed.
//! - Folders wharf creates are 0700 and files 0600 (unix).

use std::collections::HashSet;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
#[error("{action} `{path}`: {source}")]
pub struct FsError {
    pub action: &'static str,
    pub path: PathBuf,
    #[source]
    pub source: io::Error,
}

impl FsError {
    pub fn new(action: &'static str, path: &Path, source: io::Error) -> FsError {
        FsError { action, path: path.to_path_buf(), source }
    }
}

/// Attach the action and path to an `io::Result`.
pub trait Context<T> {
    fn ctx(self, action: &'static str, path: &Path) -> Result<T, FsError>;
}

impl<T> Context<T> for io::Result<T> {
    fn ctx(self, action: &'static str, path: &Path) -> Result<T, FsError> {
        self.map_err(|e| FsError::new(action, path, e))
    }
}

/// Create `dir` and its parents, new folders with mode 0700.
pub fn create_dir_private(dir: &Path) -> Result<(), FsError> {
    let mut b = fs::DirBuilder::new();
    b.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut b, 0o700);
    b.create(dir).ctx("cannot create folder", dir)
}

/// Create a new file (never an existing one), mode 0600 on unix.
pub fn open_private(path: &Path) -> io::Result<File> {
    let mut o = OpenOptions::new();
    o.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut o, 0o600);
    o.open(path)
}

/// Write `bytes` to `path` atomically (see the module invariants). A new file is 0600; a file that
/// existed keeps its permissions (a user's `.env.wharf` stays as readable as they made it).
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), FsError> {
    let dir = path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    create_dir_private(dir)?;
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let tmp = dir.join(format!(".{name}.tmp-{}-{}", std::process::id(), unique_suffix()));
    let result = (|| {
        let mut f = open_private(&tmp).ctx("cannot create", &tmp)?;
        f.write_all(bytes).ctx("cannot write", &tmp)?;
        if let Ok(old) = fs::metadata(path) {
            f.set_permissions(old.permissions()).ctx("cannot set permissions of", &tmp)?;
        }
        f.sync_all().ctx("cannot sync", &tmp)?;
        fs::rename(&tmp, path).ctx("cannot replace", path)?;
        sync_dir(dir);
        Ok(())
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result
}

/// `fsync` a folder so a rename inside it survives a crash; best effort (not every filesystem allows it).
fn sync_dir(dir: &Path) {
    if let Ok(d) = File::open(dir) {
        let _ = d.sync_all();
    }
}

fn unique_suffix() -> u64 {
    getrandom::u64().unwrap_or_else(|_| {
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_nanos() as u64).unwrap_or(0)
    })
}

/// Read a small file (a marker, a back-link) to a string; `Ok(None)` when it does not exist.
///
/// `fs::read_to_string` first asks the file's size (`statx` + `lseek`); for files of a few hundred
/// bytes that doubles the system calls, and `list` reads two such files per project.
pub fn read_optional(path: &Path) -> Result<Option<String>, FsError> {
    let read = || -> io::Result<String> {
        let mut f = File::open(path)?;
        let mut buf = Vec::new();
        let mut chunk = [0u8; 2048];
        loop {
            match io::Read::read(&mut f, &mut chunk) {
                Ok(0) => break,
                Ok(n) => buf.extend_from_slice(&chunk[..n]),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        String::from_utf8(buf).map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))
    };
    match read() {
        Ok(s) => Ok(Some(s)),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(FsError::new("cannot read", path, e)),
    }
}

/// Why a folder may not be deleted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    Symlink,
    NotADirectory,
    IsRoot,
    Outside { root: PathBuf },
    RootMissing { root: PathBuf },
}

impl std::fmt::Display for Refusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Refusal::Symlink => f.write_str("is a symlink; wharf never follows one out"),
            Refusal::NotADirectory => f.write_str("is not a folder"),
            Refusal::IsRoot => f.write_str("is the root folder itself"),
            Refusal::Outside { root } => write!(f, "is not inside `{}`", root.display()),
            Refusal::RootMissing { root } => write!(f, "the root `{}` does not exist", root.display()),
        }
    }
}

/// What [`check_within`] found.
#[derive(Debug)]
pub enum Within {
    /// A real folder strictly inside the root, at this resolved path.
    Inside(PathBuf),
    Gone,
    Refused(Refusal),
}

/// Decide whether `path` is a real folder strictly inside `root` without touching anything.
pub fn check_within(root: &Path, path: &Path) -> Within {
    let meta = match fs::symlink_metadata(path) {
        Ok(m) => m,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Within::Gone,
        Err(_) => return Within::Refused(Refusal::NotADirectory),
    };
    if meta.file_type().is_symlink() {
        return Within::Refused(Refusal::Symlink);
    }
    if !meta.is_dir() {
        return Within::Refused(Refusal::NotADirectory);
    }
    let Ok(root) = root.canonicalize() else {
        return Within::Refused(Refusal::RootMissing { root: root.to_path_buf() });
    };
    // The folder itself is no symlink (checked above), so resolving it resolves only its parents.
    let Ok(resolved) = path.canonicalize() else {
        return Within::Refused(Refusal::NotADirectory);
    };
    if resolved == root {
        return Within::Refused(Refusal::IsRoot);
    }
    if !resolved.starts_with(&root) {
        return Within::Refused(Refusal::Outside { root });
    }
    Within::Inside(resolved)
}

/// Remove the folder `path` and everything in it, only if [`check_within`] says it is inside `root`.
/// Symlinks inside are removed as links, never followed (`remove_dir_all` does not follow them).
pub fn remove_dir_within(root: &Path, path: &Path) -> Result<Within, FsError> {
    match check_within(root, path) {
        Within::Inside(resolved) => {
            fs::remove_dir_all(&resolved).ctx("cannot remove", &resolved)?;
            Ok(Within::Inside(resolved))
        }
        other => Ok(other),
    }
}

/// Bytes a folder really takes on disk: allocated blocks, symlinks not followed, hard links once.
pub fn dir_size(path: &Path) -> u64 {
    let mut seen = HashSet::new();
    walkdir::WalkDir::new(path)
        .follow_links(false)
        .into_iter()
        .filter_map(Result::ok)
        .filter_map(|e| e.metadata().ok())
        .map(|m| disk_bytes(&m, &mut seen))
        .sum()
}

#[cfg(unix)]
fn disk_bytes(m: &fs::Metadata, seen: &mut HashSet<(u64, u64)>) -> u64 {
    use std::os::unix::fs::MetadataExt;
    if m.nlink() > 1 && !m.is_dir() && !seen.insert((m.dev(), m.ino())) {
        return 0;
    }
    m.blocks() * 512
}

#[cfg(not(unix))]
fn disk_bytes(m: &fs::Metadata, _seen: &mut HashSet<(u64, u64)>) -> u64 {
    m.len()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn write_atomic_replaces_and_leaves_no_temp() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("a.json");
        write_atomic(&p, b"one").unwrap();
        write_atomic(&p, b"two").unwrap();
        assert_eq!(fs::read_to_string(&p).unwrap(), "two");
        assert_eq!(fs::read_dir(d.path()).unwrap().count(), 1);
    }

    #[cfg(unix)]
    #[test]
    fn new_files_are_private_and_rewrites_keep_the_mode() {
        use std::os::unix::fs::PermissionsExt;
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("new");
        write_atomic(&p, b"x").unwrap();
        assert_eq!(fs::metadata(&p).unwrap().permissions().mode() & 0o777, 0o600);
        fs::set_permissions(&p, fs::Permissions::from_mode(0o644)).unwrap();
        write_atomic(&p, b"y").unwrap();
        assert_eq!(fs::metadata(&p).unwrap().permissions().mode() & 0o777, 0o644);
    }

    #[cfg(unix)]
    #[test]
    fn remove_within_refuses_root_sibling_and_symlink() {
        let d = tempfile::tempdir().unwrap();
        let root = d.path().join("envs");
        let sibling = d.path().join("envs-old");
        fs::create_dir_all(root.join("x")).unwrap();
        fs::create_dir_all(&sibling).unwrap();
        std::os::unix::fs::symlink(&sibling, root.join("link")).unwrap();
        assert!(matches!(remove_dir_within(&root, &root).unwrap(), Within::Refused(Refusal::IsRoot)));
        assert!(matches!(remove_dir_within(&root, &sibling).unwrap(), Within::Refused(Refusal::Outside { .. })));
        assert!(matches!(remove_dir_within(&root, &root.join("link")).unwrap(), Within::Refused(Refusal::Symlink)));
        assert!(matches!(remove_dir_within(&root, &root.join("x")).unwrap(), Within::Inside(_)));
        assert!(sibling.exists() && !root.join("x").exists());
    }

    #[cfg(unix)]
    #[test]
    fn dir_size_counts_hard_links_once() {
        let d = tempfile::tempdir().unwrap();
        fs::write(d.path().join("a"), vec![1u8; 64 * 1024]).unwrap();
        let one = dir_size(d.path());
        fs::hard_link(d.path().join("a"), d.path().join("b")).unwrap();
        assert_eq!(dir_size(d.path()), one);
        assert!(one >= 64 * 1024);
    }
}
