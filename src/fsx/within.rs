//! Deleting only inside a root. [`remove_dir_within`] deletes only a real folder strictly inside
//! `root`, compared component-wise after resolving symlinks; a symlink is never followed. Deleting a
//! tree goes through a rename to `TRASH_PREFIX…` in the same root first ([`trash_dir_within`]): a
//! process killed mid-way leaves a folder whose name says it is trash (finished by
//! [`finish_trash`]), never a half-deleted folder under its real name.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use super::{unique_suffix, Context, FsError, TRASH_PREFIX};

/// Why a folder may not be deleted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// The path is a symlink.
    Symlink,
    /// The path is not a folder.
    NotADirectory,
    /// The path is the root itself.
    IsRoot,
    /// The path is not inside the root.
    Outside {
        /// The root, resolved.
        root: PathBuf,
    },
    /// The root does not exist.
    RootMissing {
        /// The root as given.
        root: PathBuf,
    },
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
    /// Nothing is there.
    Gone,
    /// Something is there that may not be deleted.
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

/// Like [`remove_dir_within`], but the folder is first renamed to a [`TRASH_PREFIX`] name inside
/// `root` and deleted from there, so a kill mid-way never leaves a half-deleted folder under its
/// real name. `Inside` carries the path the folder had.
pub fn trash_dir_within(root: &Path, path: &Path) -> Result<Within, FsError> {
    let resolved = match check_within(root, path) {
        Within::Inside(resolved) => resolved,
        other => return Ok(other),
    };
    let Some(parent) = resolved.parent() else { return Ok(Within::Refused(Refusal::IsRoot)) };
    let trash = parent.join(format!("{TRASH_PREFIX}{:x}", unique_suffix()));
    fs::rename(&resolved, &trash).ctx("cannot move to the trash", &resolved)?;
    fs::remove_dir_all(&trash).ctx("cannot remove", &trash)?;
    Ok(Within::Inside(resolved))
}

/// The trash folders directly inside `root` (left by a process killed while deleting).
pub fn trash_in(root: &Path) -> Vec<PathBuf> {
    let Ok(rd) = fs::read_dir(root) else { return Vec::new() };
    let mut found: Vec<PathBuf> = rd
        .filter_map(Result::ok)
        .filter(|e| e.file_name().to_string_lossy().starts_with(TRASH_PREFIX))
        .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
        .map(|e| e.path())
        .collect();
    found.sort();
    found
}

/// Finish deleting one trash folder found by [`trash_in`].
pub fn finish_trash(trash: &Path) -> Result<(), FsError> {
    match fs::remove_dir_all(trash) {
        Err(e) if e.kind() != io::ErrorKind::NotFound => Err(FsError::new("cannot remove", trash, e)),
        _ => Ok(()),
    }
}

/// `path` with its parent folders resolved but not its last component (a symlink stays a symlink,
/// so it can be reported and refused); `path` itself when the parent cannot be resolved.
pub fn resolve_parent(path: &Path) -> PathBuf {
    match (path.parent(), path.file_name()) {
        (Some(parent), Some(name)) => parent.canonicalize().map_or_else(|_| path.to_path_buf(), |p| p.join(name)),
        _ => path.to_path_buf(),
    }
}

/// `path` fully resolved when it exists, else as given: for comparing two spellings of one place.
pub fn same_place(path: &Path) -> PathBuf {
    path.canonicalize().unwrap_or_else(|_| path.to_path_buf())
}

#[cfg(test)]
mod tests {
    use super::*;

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

    #[test]
    fn trashing_renames_first_and_leaves_nothing() {
        let d = tempfile::tempdir().unwrap();
        let root = d.path().join("envs");
        fs::create_dir_all(root.join("e/lib")).unwrap();
        fs::write(root.join("e/lib/f"), "x").unwrap();
        assert!(matches!(trash_dir_within(&root, &root.join("e")).unwrap(), Within::Inside(_)));
        assert_eq!(fs::read_dir(&root).unwrap().count(), 0);
        fs::create_dir_all(root.join(".wharf-trash-1/x")).unwrap();
        let found = trash_in(&root);
        assert_eq!(found.len(), 1);
        finish_trash(&found[0]).unwrap();
        assert!(trash_in(&root).is_empty());
    }
}
