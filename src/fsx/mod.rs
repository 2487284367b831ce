//! Filesystem helpers whose errors always name the path.
//!
//! Invariants:
//! - [`write_atomic`] never truncates a file in place: temp file in the same folder, write, `fsync`,
//!   rename over the target, `fsync` the folder. A reader sees the old file or the new one, never half.
//! - [`remove_dir_within`] deletes only a real folder strictly inside `root`, compared component-wise
//!   after resolving symlinks; a symlink is never followed.
//! - Folders wharf creates are 0700 and files 0600 (unix); every file wharf writes is opened by
//!   [`open_private`], never through a symlink.
//! - Every temp name wharf makes starts with [`TEMP_PREFIX`] (`.wharf-tmp-<target>-<pid>-<random>`),
//!   so one rule finds them: [`sweep_stale_temps`] removes those older than [`STALE_AFTER`] (a
//!   process still writing one renames it within seconds), and the `.<name>.tmp-…` names of earlier
//!   versions. Each write sweeps its own folder, so a crash's leftovers go with the next write there.
//! - Deleting a tree goes through a rename to [`TRASH_PREFIX`]`…` in the same root first
//!   ([`trash_dir_within`]): a process killed mid-way leaves a folder whose name says it is trash
//!   (finished by [`finish_trash`]), never a half-deleted folder under its real name.
//! - [`Near`] reads many small files under a few shared folders with short path walks, and answers
//!   exactly what [`read_optional`] answers for the full path.

mod near;
mod space;
mod within;

pub use near::Near;
pub use space::{available, dir_size, is_disk_full};
pub use within::{
    check_within, finish_trash, remove_dir_within, resolve_parent, same_place, trash_dir_within, trash_in, Refusal,
    Within,
};

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

/// A file operation that failed, with the path it failed on.
#[derive(Debug, thiserror::Error)]
#[error("{action} `{path}`: {source}")]
pub struct FsError {
    /// What was tried (`cannot read`, `cannot create`, …).
    pub action: &'static str,
    /// On what.
    pub path: PathBuf,
    /// Why it failed.
    #[source]
    pub source: io::Error,
}

impl FsError {
    /// `action` on `path` failed with `source`.
    pub fn new(action: &'static str, path: &Path, source: io::Error) -> FsError {
        FsError { action, path: path.to_path_buf(), source }
    }
}

/// Attach the action and path to an `io::Result`.
pub trait Context<T> {
    /// Name the action and the path in the error.
    fn ctx(self, action: &'static str, path: &Path) -> Result<T, FsError>;
}

impl<T> Context<T> for io::Result<T> {
    fn ctx(self, action: &'static str, path: &Path) -> Result<T, FsError> {
        self.map_err(|e| FsError::new(action, path, e))
    }
}

/// Create `dir` and its parents, new folders with mode 0700.
pub fn create_dir_private(dir: &Path) -> Result<(), FsError> {
    // Most calls find the folder there: one `stat` instead of a failing `mkdir` and a `stat`.
    if fs::metadata(dir).is_ok_and(|m| m.is_dir()) {
        return Ok(());
    }
    let mut b = fs::DirBuilder::new();
    b.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut b, 0o700);
    b.create(dir).ctx("cannot create folder", dir)
}

/// What [`open_private`] does with a file already at the path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Existing {
    /// Refuse it: only a new file is made (`O_EXCL`; whatever is there, even a symlink, is an error).
    Refuse,
    /// Keep its bytes (a download to resume, a lock file).
    Keep,
    /// Empty it (a download starting over).
    Truncate,
}

/// The one open of wharf's private files (temp files, downloads, copies, locks): read and write,
/// created with mode 0600 on unix, and never through a symlink (`O_NOFOLLOW`): in a cache shared
/// with other users, a planted `<blob>.incomplete -> ~/.bashrc` must not make us write there.
pub fn open_private(path: &Path, existing: Existing) -> io::Result<File> {
    let mut o = OpenOptions::new();
    o.read(true).write(true);
    match existing {
        Existing::Refuse => o.create_new(true),
        Existing::Keep => o.create(true).truncate(false),
        Existing::Truncate => o.create(true).truncate(true),
    };
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        o.mode(0o600).custom_flags(rustix::fs::OFlags::NOFOLLOW.bits() as i32);
    }
    o.open(path)
}

/// The first characters of every temp file or folder wharf makes.
pub const TEMP_PREFIX: &str = ".wharf-tmp-";
/// The first characters of a folder being deleted (see the module invariants).
pub const TRASH_PREFIX: &str = ".wharf-trash-";
/// A temp file this old belongs to a process that died: no write of wharf takes an hour.
pub const STALE_AFTER: Duration = Duration::from_secs(3600);

/// A fresh temp name in `dir` for a file or folder that will become `target`.
pub fn temp_path(dir: &Path, target: &str) -> PathBuf {
    dir.join(format!("{TEMP_PREFIX}{target}-{}-{:x}", std::process::id(), unique_suffix()))
}

/// The files earlier versions of wharf wrote through a `.<file>.tmp-<pid>-<n>` temp file.
const LEGACY_TEMP_TARGETS: [&str; 4] = ["registry.json", ".env.wharf", "wharf.lock", ".wharf-project.json"];

/// Whether a lookup's error says nothing is at the path: it is not there (`ENOENT`), or a folder
/// on the way is a file (`ENOTDIR`). Any other error (permissions, I/O) says nothing of the kind.
pub fn is_absent(e: &io::Error) -> bool {
    matches!(e.kind(), io::ErrorKind::NotFound | io::ErrorKind::NotADirectory)
}

/// Is `name` a temp name of wharf: of today, or an earlier version's temp file of one of its own
/// files (`.<file>.tmp-<pid>-<n>`; only those names, so a user's file that merely looks alike is
/// never taken for ours).
pub fn is_temp_name(name: &str) -> bool {
    name.starts_with(TEMP_PREFIX) || is_legacy_temp(name)
}

fn is_legacy_temp(name: &str) -> bool {
    let legacy = || {
        let (head, tail) = name.rsplit_once(".tmp-")?;
        let (pid, n) = tail.split_once('-')?;
        let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
        Some(LEGACY_TEMP_TARGETS.contains(&head.strip_prefix('.')?) && digits(pid) && digits(n))
    };
    legacy() == Some(true)
}

/// Remove the temp files and folders in `dir` (not below) whose last change is older than
/// `max_age` at `now`. Best effort: a folder we cannot read or an entry we cannot remove is left
/// for a later sweep. Symlinks are removed as links. Returns how many went.
pub fn sweep_stale_temps(dir: &Path, now: SystemTime, max_age: Duration) -> usize {
    let Ok(rd) = fs::read_dir(dir) else { return 0 };
    let mut removed = 0;
    for e in rd.filter_map(Result::ok) {
        if !is_temp_name(&e.file_name().to_string_lossy()) {
            continue;
        }
        let Ok(meta) = fs::symlink_metadata(e.path()) else { continue };
        // Earlier versions only ever left files; a folder of that name is not ours.
        if meta.is_dir() && is_legacy_temp(&e.file_name().to_string_lossy()) {
            continue;
        }
        let age = meta.modified().ok().and_then(|m| now.duration_since(m).ok()).unwrap_or_default();
        if age < max_age {
            continue;
        }
        let gone = if meta.is_dir() { fs::remove_dir_all(e.path()) } else { fs::remove_file(e.path()) };
        removed += usize::from(gone.is_ok());
    }
    removed
}

/// Write `bytes` to `path` atomically (see the module invariants). A new file is 0600; a file that
/// existed keeps its permissions (a user's `.env.wharf` stays as readable as they made it).
/// Afterwards, stale temp files in the folder are swept (see [`sweep_stale_temps`]).
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), FsError> {
    write_atomic_at(path, bytes, SystemTime::now())
}

/// [`write_atomic`] with the clock passed in: temp files older than [`STALE_AFTER`] at `now` go.
pub fn write_atomic_at(path: &Path, bytes: &[u8], now: SystemTime) -> Result<(), FsError> {
    let dir = path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    create_dir_private(dir)?;
    replace(path, bytes, true)?;
    sync_dir(dir);
    sweep_stale_temps(dir, now, STALE_AFTER);
    Ok(())
}

/// Replace `path` (whose folder exists) by a temp file renamed over it, like [`write_atomic`],
/// but without a sync: a reader sees the old file or the new one, while a crash may lose the new
/// one. For records that are advisory and written by the hundred (the store's index); the caller
/// sweeps stale temp files once for the batch ([`sweep_stale_temps`]).
pub fn write_replace(path: &Path, bytes: &[u8]) -> Result<(), FsError> {
    replace(path, bytes, false)
}

fn replace(path: &Path, bytes: &[u8], durable: bool) -> Result<(), FsError> {
    let dir = path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let tmp = temp_path(dir, &name);
    let result = (|| {
        let mut f = open_private(&tmp, Existing::Refuse).ctx("cannot create", &tmp)?;
        f.write_all(bytes).ctx("cannot write", &tmp)?;
        if let Ok(old) = fs::metadata(path) {
            f.set_permissions(old.permissions()).ctx("cannot set permissions of", &tmp)?;
        }
        if durable {
            f.sync_all().ctx("cannot sync", &tmp)?;
        }
        fs::rename(&tmp, path).ctx("cannot replace", path)?;
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

/// The largest file [`read_optional`] reads whole (markers, back-links, manifests, locks, refs).
pub const MAX_SMALL_FILE: u64 = 16 << 20;

/// Open `path` to read it without counting as a use: `O_NOATIME` where the system allows it (Linux,
/// for the file's owner), so that wharf's own hashing (`models verify`, `check --full`) does not
/// move the access time the store takes as a file's last use. Elsewhere, a plain open.
pub fn open_unnoticed(path: &Path) -> io::Result<File> {
    #[cfg(target_os = "linux")]
    {
        let mut o = OpenOptions::new();
        o.read(true);
        std::os::unix::fs::OpenOptionsExt::custom_flags(&mut o, rustix::fs::OFlags::NOATIME.bits() as i32);
        match o.open(path) {
            Err(e) if e.kind() == io::ErrorKind::PermissionDenied => {}
            other => return other,
        }
    }
    File::open(path)
}

/// Open `path` for reading only if it is a regular file (after symlinks): opened non-blocking, so
/// a FIFO cannot hang the open, and checked with `fstat` on what was opened, so a device, FIFO,
/// socket or folder is refused before a byte is read. Returns the file and its size.
pub fn open_regular(path: &Path) -> io::Result<(File, u64)> {
    let mut o = OpenOptions::new();
    o.read(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::custom_flags(&mut o, rustix::fs::OFlags::NONBLOCK.bits() as i32);
    regular(o.open(path)?)
}

/// `file` and its size if it is a regular file (see [`open_regular`]), else the error saying what it is.
fn regular(file: File) -> io::Result<(File, u64)> {
    let meta = file.metadata()?;
    if !meta.is_file() {
        let why = format!("is {}, not a regular file", file_kind(&meta.file_type()));
        return Err(io::Error::new(io::ErrorKind::InvalidInput, why));
    }
    Ok((file, meta.len()))
}

fn file_kind(t: &fs::FileType) -> &'static str {
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        if t.is_fifo() {
            return "a FIFO";
        }
        if t.is_char_device() || t.is_block_device() {
            return "a device";
        }
        if t.is_socket() {
            return "a socket";
        }
    }
    if t.is_dir() {
        "a folder"
    } else {
        "something else"
    }
}

/// Read a small file (a marker, a back-link, a manifest) to a string; `Ok(None)` when it does not
/// exist. Such files may arrive with a cloned repo, so only a regular file of at most
/// [`MAX_SMALL_FILE`] bytes is read (see [`open_regular`]): a link to `/dev/zero` or a FIFO is an
/// error, not an endless read.
pub fn read_optional(path: &Path) -> Result<Option<String>, FsError> {
    read_small(path, || open_regular(path))
}

/// [`read_optional`] of the file `open` opens (`path` names it in errors).
fn read_small(path: &Path, open: impl FnOnce() -> io::Result<(File, u64)>) -> Result<Option<String>, FsError> {
    let read = || -> io::Result<String> {
        let (mut f, len) = open()?;
        // Sized from `fstat`: the file as it was then, in one `read` (`list` of 100,000 projects
        // reads two such files per project); one that grew since is read on to its end.
        let mut buf = vec![0u8; len.min(MAX_SMALL_FILE) as usize + 1];
        let mut got = 0;
        while got < buf.len() {
            match io::Read::read(&mut f, &mut buf[got..]) {
                Ok(0) => break,
                Ok(n) => got += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            }
            if got as u64 == len {
                break;
            }
        }
        buf.truncate(got);
        if got == buf.capacity() {
            io::Read::read_to_end(&mut io::Read::take(f, MAX_SMALL_FILE + 1 - got as u64), &mut buf)?;
        }
        if buf.len() as u64 > MAX_SMALL_FILE {
            let why = format!("larger than {MAX_SMALL_FILE} bytes; not a file wharf wrote");
            return Err(io::Error::new(io::ErrorKind::InvalidData, why));
        }
        String::from_utf8(buf).map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))
    };
    match read() {
        Ok(s) => Ok(Some(s)),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(FsError::new("cannot read", path, e)),
    }
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

    #[test]
    fn stale_temps_of_today_and_of_earlier_versions_go_fresh_ones_and_other_files_stay() {
        let d = tempfile::tempdir().unwrap();
        for n in [".wharf-tmp-a-1-2", "..env.wharf.tmp-12-34", ".registry.json.tmp-1-99", "keep", ".x.tmp-notes"] {
            fs::write(d.path().join(n), "x").unwrap();
        }
        fs::create_dir(d.path().join(".wharf-tmp-env-1-3")).unwrap();
        let later = SystemTime::now() + Duration::from_secs(2 * 3600);
        assert_eq!(sweep_stale_temps(d.path(), SystemTime::now(), STALE_AFTER), 0, "fresh ones stay");
        assert_eq!(sweep_stale_temps(d.path(), later, STALE_AFTER), 4);
        let mut left: Vec<_> = fs::read_dir(d.path()).unwrap().map(|e| e.unwrap().file_name()).collect();
        left.sort();
        assert_eq!(left, [".x.tmp-notes", "keep"]);
    }
}
