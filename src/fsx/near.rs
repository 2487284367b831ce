//! Reading many small files under a few shared folders, with short path walks.
//!
//! `list` of 100,000 projects reads a marker in every project folder and a back-link in every env
//! folder, and looks for `wharf.toml` and `.venv`: 400,000 lookups of paths six or seven
//! components deep. The kernel resolves every component of every path again, and on a machine with
//! a million cached names that walk is a quarter of `list`'s time (`__d_lookup_rcu`). [`Near`]
//! opens the folder two levels above each path once (`…/code` for `…/code/p0/.env.wharf`,
//! `O_PATH`) and resolves only the last two components relative to it (`openat`, `fstatat`).
//!
//! Invariants:
//! - The answer is the one the plain path gives: the base folder is opened by its path (symlinks
//!   followed, as a path walk follows them), and only two plain components (no `.`, `..`, root) are
//!   resolved relative to it. A path of another shape, or a base that cannot be opened, is read by
//!   its full path, so every error is the plain call's, naming the full path.
//! - At most [`MAX_BASES`] folders are held open; beyond them paths are read in full. The
//!   descriptors live as long as the `Near` (one validation run), so a folder replaced meanwhile
//!   is seen as it was when first opened: the same as a read that happened a moment earlier.

use std::ffi::OsStr;
use std::fs::File;
use std::io;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use rustix::fs::{AtFlags, Mode, OFlags};

use super::{read_small, regular, FsError};

/// The most base folders one [`Near`] holds open.
pub const MAX_BASES: usize = 16;

/// Open descriptors of base folders (see the module doc). One per thread: it is not shared.
#[derive(Default)]
pub struct Near {
    /// Each base folder with its descriptor (`None`: it could not be opened; use full paths).
    bases: Vec<(PathBuf, Option<OwnedFd>)>,
    /// Whether new bases may be opened (`false`: a reader of full paths, for one-off reads).
    caching: bool,
}

impl Near {
    /// A reader that opens base folders as it meets them.
    pub fn new() -> Near {
        Near { bases: Vec::new(), caching: true }
    }

    /// A reader of full paths (for a single read, where opening a base costs more than it saves).
    pub fn direct() -> Near {
        Near { bases: Vec::new(), caching: false }
    }

    /// The base folder's descriptor and the rest of `path` relative to it, when `path` ends in two
    /// plain components under an absolute base that could be opened.
    fn split<'p>(&mut self, path: &'p Path) -> Option<(BorrowedFd<'_>, &'p Path)> {
        if !self.caching {
            return None;
        }
        // On bytes, not `Path::components`: this runs four times per project.
        let bytes = path.as_os_str().as_bytes();
        let last = bytes.iter().rposition(|&b| b == b'/')?;
        let cut = bytes[..last].iter().rposition(|&b| b == b'/')?;
        let plain = |c: &[u8]| !c.is_empty() && c != b"." && c != b"..";
        if cut == 0 || !plain(&bytes[cut + 1..last]) || !plain(&bytes[last + 1..]) || bytes[0] != b'/' {
            return None;
        }
        let (base, rel) = (&bytes[..cut], Path::new(OsStr::from_bytes(&bytes[cut + 1..])));
        let at = match self.bases.iter().position(|(b, _)| b.as_os_str().as_bytes() == base) {
            Some(at) => at,
            None if self.bases.len() < MAX_BASES => {
                let base = PathBuf::from(OsStr::from_bytes(base));
                let flags = OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC;
                let fd = rustix::fs::open(&base, flags, Mode::empty()).ok();
                self.bases.push((base, fd));
                self.bases.len() - 1
            }
            None => return None,
        };
        Some((self.bases[at].1.as_ref()?.as_fd(), rel))
    }

    /// [`read_optional`](super::read_optional) of `path`, resolved near its base.
    pub fn read_optional(&mut self, path: &Path) -> Result<Option<String>, FsError> {
        let Some((base, rel)) = self.split(path) else { return super::read_optional(path) };
        let flags = OFlags::RDONLY | OFlags::NONBLOCK | OFlags::CLOEXEC | OFlags::NOCTTY;
        let opened = rustix::fs::openat(base, rel, flags, Mode::empty()).map_err(io::Error::from);
        read_small(path, || regular(File::from(opened?)))
    }

    /// Whether nothing is at `path` (not even a dangling symlink): `true` only when the lookup
    /// says so ([`is_absent`](super::is_absent)); any other answer is `false`, for the caller to
    /// look closer.
    pub fn is_missing(&mut self, path: &Path) -> bool {
        let e = match self.split(path) {
            Some((base, rel)) => match rustix::fs::statat(base, rel, AtFlags::SYMLINK_NOFOLLOW) {
                Ok(_) => return false,
                Err(e) => io::Error::from(e),
            },
            None => match std::fs::symlink_metadata(path) {
                Ok(_) => return false,
                Err(e) => e,
            },
        };
        super::is_absent(&e)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_near_a_base_as_the_full_path_reads() {
        let d = tempfile::tempdir().unwrap();
        let root = d.path().canonicalize().unwrap();
        std::fs::create_dir_all(root.join("code/p0")).unwrap();
        std::fs::write(root.join("code/p0/.env.wharf"), "A=1\n").unwrap();
        std::os::unix::fs::symlink(root.join("code"), root.join("link")).unwrap();
        std::os::unix::fs::symlink("/nowhere", root.join("code/p0/dangling")).unwrap();
        let mut near = Near::new();
        for p in ["code/p0/.env.wharf", "link/p0/.env.wharf", "code/p0/../p0/.env.wharf", "code/p0/missing"] {
            let p = root.join(p);
            assert_eq!(near.read_optional(&p).unwrap(), super::super::read_optional(&p).unwrap(), "{p:?}");
        }
        assert_eq!(near.bases.len(), 3, "one base per folder spelling met: {:?}", near.bases);
        for odd in ["code/p0/", "code/p0/.", "code/p0/..", "code/./x", "code//x"] {
            assert!(near.split(&root.join(odd)).is_none(), "{odd} is read by its full path");
        }
        assert!(near.split(Path::new("code/p0/.env.wharf")).is_none(), "a relative path");
        assert!(near.is_missing(&root.join("code/p0/wharf.toml")));
        assert!(near.is_missing(&root.join("code/nothing/wharf.toml")));
        assert!(near.is_missing(&root.join("code/p0/.env.wharf/x")), "under a file: ENOTDIR");
        assert!(!near.is_missing(&root.join("code/p0/dangling")), "a dangling link is something");
        assert!(!near.is_missing(&root.join("code/p0")));
        // A folder is refused with the full path named, as read_optional refuses it.
        let e = near.read_optional(&root.join("code/p0")).unwrap_err();
        assert_eq!(e.path, root.join("code/p0"));
        assert_eq!(e.source.kind(), io::ErrorKind::InvalidInput, "{e}");
    }

    #[test]
    fn a_fifo_does_not_hang_and_a_missing_base_falls_back() {
        let d = tempfile::tempdir().unwrap();
        let root = d.path().canonicalize().unwrap();
        std::fs::create_dir_all(root.join("code/p0")).unwrap();
        rustix::fs::mknodat(
            rustix::fs::CWD,
            root.join("code/p0/.env.wharf"),
            rustix::fs::FileType::Fifo,
            Mode::from_raw_mode(0o600),
            0,
        )
        .unwrap();
        let mut near = Near::new();
        assert!(near.read_optional(&root.join("code/p0/.env.wharf")).is_err());
        assert_eq!(near.read_optional(&root.join("gone/p0/.env.wharf")).unwrap(), None);
        assert!(near.is_missing(&root.join("gone/p0/.env.wharf")));
    }
}
