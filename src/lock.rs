//! A sidecar lock file over `fd-lock` (`flock` on unix): shared for readers, exclusive for writers.
//!
//! We lock `registry.lock`, never `registry.json`: the registry is replaced by rename, and a lock on
//! the old inode would protect nothing. On contention we say once what we wait for, then block up to
//! the timeout. The blocking wait runs on a helper thread holding a clone of the descriptor; `flock`
//! belongs to the open file description, so a lock taken through the clone is held by our handle too.
//! If we give up, the helper releases the lock as soon as it gets it.
//!
//! The lock file is kept (never deleted): deleting it would let two processes lock two inodes.

use std::fs::File;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::time::Duration;

use crate::env::vars::WHARF_LOCK_TIMEOUT;

/// How a lock is held.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Readers: many at once.
    Shared,
    /// A writer: alone.
    Exclusive,
}

/// Why a lock was not taken.
#[derive(Debug, thiserror::Error)]
pub enum LockError {
    #[error("cannot open lock file `{path}`: {source}")]
    /// The lock file could not be opened or created.
    Open {
        /// The lock file.
        path: PathBuf,
        /// The cause.
        source: io::Error,
    },
    #[error("cannot lock `{path}`: {source}")]
    /// The system refused the lock.
    Lock {
        /// The lock file.
        path: PathBuf,
        /// The cause.
        source: io::Error,
    },
    #[error(
        "timed out after {secs:.0}s waiting for the lock on `{path}`\n  hint: is another wharf process running? \
         Raise the limit with `{var}=<seconds>`",
        secs = .waited.as_secs_f64(), var = WHARF_LOCK_TIMEOUT
    )]
    /// Another process held it for longer than the timeout.
    Timeout {
        /// The lock file.
        path: PathBuf,
        /// How long we waited.
        waited: Duration,
    },
    #[error("the lock on `{path}` is held by another process")]
    /// Another process holds it and we were not to wait.
    Busy {
        /// The lock file.
        path: PathBuf,
    },
}

/// A held lock; released when dropped (the descriptor closes). `None` when there was nothing to
/// lock: a reader on a filesystem where the lock file cannot be created.
#[derive(Debug)]
pub struct LockGuard {
    _file: Option<File>,
}

/// The lock file may not be written here: a registry on a read-only filesystem (`EROFS`) or in a
/// folder of another user (`EACCES`).
fn cannot_write(e: &io::Error) -> bool {
    e.kind() == io::ErrorKind::PermissionDenied || e.kind() == io::ErrorKind::ReadOnlyFilesystem
}

/// Open (creating) the lock file. A reader that may not write there (a read-only registry) still
/// gets a shared lock through a read-only descriptor, or — when the lock file does not exist and
/// cannot be made — no lock at all: nobody can write a registry there either, and the registry is
/// only ever replaced by an atomic rename, so an unlocked reader still sees a whole file.
fn open(path: &Path, mode: Mode) -> Result<Option<File>, LockError> {
    let err = |source| LockError::Open { path: path.to_path_buf(), source };
    if let Some(dir) = path.parent() {
        if let Err(e) = crate::fsx::create_dir_private(dir) {
            if mode == Mode::Exclusive || !dir.is_dir() {
                return Err(err(e.source));
            }
        }
    }
    match crate::fsx::open_private(path, crate::fsx::Existing::Keep) {
        Err(e) if mode == Mode::Shared && cannot_write(&e) => match File::open(path) {
            Ok(f) => Ok(Some(f)),
            Err(e2) if e2.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(e2) => Err(err(e2)),
        },
        r => r.map(Some).map_err(err),
    }
}

/// Take the lock on a clone of `file`, keeping it held through the open file description.
/// `blocking` chooses `write()`/`read()` over `try_write()`/`try_read()`.
fn lock_clone(file: &File, mode: Mode, blocking: bool) -> io::Result<bool> {
    let mut rw = fd_lock::RwLock::new(file.try_clone()?);
    let got = match (mode, blocking) {
        (Mode::Exclusive, true) => rw.write().map(std::mem::forget),
        (Mode::Exclusive, false) => rw.try_write().map(std::mem::forget),
        (Mode::Shared, true) => rw.read().map(std::mem::forget),
        (Mode::Shared, false) => rw.try_read().map(std::mem::forget),
    };
    match got {
        Ok(()) => Ok(true),
        Err(e) if e.kind() == io::ErrorKind::WouldBlock => Ok(false),
        Err(e) => Err(e),
    }
}

/// Try once, without waiting.
pub fn try_acquire(path: &Path, mode: Mode) -> Result<LockGuard, LockError> {
    let Some(file) = open(path, mode)? else { return Ok(LockGuard { _file: None }) };
    match lock_clone(&file, mode, false) {
        Ok(true) => Ok(LockGuard { _file: Some(file) }),
        Ok(false) => Err(LockError::Busy { path: path.to_path_buf() }),
        Err(source) => Err(LockError::Lock { path: path.to_path_buf(), source }),
    }
}

/// Acquire, printing `on_wait` once through the callback if we have to wait, for at most `timeout`.
pub fn acquire(path: &Path, mode: Mode, timeout: Duration, on_wait: &dyn Fn(&Path)) -> Result<LockGuard, LockError> {
    let Some(file) = open(path, mode)? else { return Ok(LockGuard { _file: None }) };
    let lock_err = |source| LockError::Lock { path: path.to_path_buf(), source };
    if lock_clone(&file, mode, false).map_err(lock_err)? {
        return Ok(LockGuard { _file: Some(file) });
    }
    on_wait(path);
    let clone = file.try_clone().map_err(lock_err)?;
    // A rendezvous channel: the helper's send succeeds only if we are still waiting to receive.
    let (tx, rx) = mpsc::sync_channel::<io::Result<()>>(0);
    std::thread::spawn(move || {
        let mut rw = fd_lock::RwLock::new(clone);
        match mode {
            Mode::Exclusive => hand_over(rw.write(), &tx),
            Mode::Shared => hand_over(rw.read(), &tx),
        }
    });
    match rx.recv_timeout(timeout) {
        Ok(Ok(())) => Ok(LockGuard { _file: Some(file) }),
        Ok(Err(source)) => Err(lock_err(source)),
        Err(_) => Err(LockError::Timeout { path: path.to_path_buf(), waited: timeout }),
    }
}

/// On the helper thread: keep the lock (forget the guard) only if the waiter is still there to take
/// it; otherwise the guard drops and the lock is released at once.
fn hand_over<G>(got: io::Result<G>, tx: &mpsc::SyncSender<io::Result<()>>) {
    match got {
        Ok(guard) => {
            if tx.send(Ok(())).is_ok() {
                std::mem::forget(guard);
            }
        }
        Err(e) => drop(tx.send(Err(e))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::Cell;

    #[test]
    fn exclusive_excludes_and_times_out_with_a_hint() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("x.lock");
        let held = acquire(&p, Mode::Exclusive, Duration::from_secs(1), &|_| {}).unwrap();
        assert!(matches!(try_acquire(&p, Mode::Shared), Err(LockError::Busy { .. })));
        let waited = Cell::new(0);
        let err =
            acquire(&p, Mode::Exclusive, Duration::from_millis(200), &|_| waited.set(waited.get() + 1)).unwrap_err();
        assert_eq!(waited.get(), 1);
        assert!(err.to_string().contains("WHARF_LOCK_TIMEOUT"), "{err}");
        drop(held);
        let _again = acquire(&p, Mode::Exclusive, Duration::from_secs(1), &|_| {}).unwrap();
    }

    #[test]
    fn shared_locks_coexist() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("x.lock");
        let _a = acquire(&p, Mode::Shared, Duration::from_secs(1), &|_| {}).unwrap();
        let _b = try_acquire(&p, Mode::Shared).unwrap();
        assert!(matches!(try_acquire(&p, Mode::Exclusive), Err(LockError::Busy { .. })));
    }
}
