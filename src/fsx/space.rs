//! Sizes and free space: what a folder takes on disk, and what is left for a download.

use std::collections::HashSet;
use std::fs;
use std::io;
use std::path::Path;

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

/// ENOSPC, however the platform reports it.
pub fn is_disk_full(e: &io::Error) -> bool {
    e.kind() == io::ErrorKind::StorageFull || e.raw_os_error() == Some(28)
}

/// Bytes free for an unprivileged writer in the folder of `path`.
pub fn available(path: &Path) -> Option<u64> {
    let dir = path.parent().unwrap_or(path);
    let st = rustix::fs::statvfs(dir).ok()?;
    Some(st.f_bavail.saturating_mul(st.f_frsize))
}

#[cfg(test)]
mod tests {
    use super::*;

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
