//! `Registry`: the only door to `registry.json`.
//!
//! Every access follows one path: lock the sidecar `registry.lock` (shared to read, exclusive to
//! change) → read → migrate in memory → (mutate → save) → unlock. Saving writes the whole document
//! atomically (see [`crate::fsx::write_atomic`]), pretty-printed with sorted keys, and only when the
//! bytes changed. The first save of a file found in an older version first copies it to
//! `registry.json.v<N>.bak`.
//!
//! Every exclusive update also sweeps the data root of temp files a killed write left there (see
//! [`crate::fsx::sweep_stale_temps`]), whether or not it writes.
//!
//! Refusals, so that nothing is ever lost:
//! - a file over 256 MiB, that is not JSON, or that has the wrong shape is *corrupt*: reported, never
//!   replaced (only `wharf doctor --repair` sets it aside);
//! - a file from a newer wharf is never written.

pub mod migrate;
pub mod schema;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use crate::env::{Env, Layout};
use crate::fsx::{self, Context, FsError};
use crate::lock::{self, LockError, LockGuard, Mode};

pub use migrate::Found;
pub use schema::{EnvRef, ModelRef, ProjectEntry, RegistryDoc, CURRENT_VERSION};

/// Larger than this, a registry is taken for corrupt rather than read into memory.
pub const MAX_BYTES: u64 = 256 * 1024 * 1024;

/// Why the registry could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum RegistryError {
    /// The lock could not be taken in time.
    #[error(transparent)]
    Lock(#[from] LockError),
    /// A file could not be read or written.
    #[error(transparent)]
    Fs(#[from] FsError),
    /// The file is not a registry: left as it is.
    #[error(
        "registry `{path}` is corrupt: {reason}\n  hint: it was left as it is; `wharf doctor --repair` sets it \
         aside and rebuilds the entries from the environments' back-links"
    )]
    Corrupt {
        /// The registry file.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },
    /// The file is from a newer wharf: never written.
    #[error(
        "registry was written by a newer wharf (version {found}, this one reads up to {supported}): `{path}`\n  \
         hint: upgrade wharf; this one will not touch the file"
    )]
    TooNew {
        /// The registry file.
        path: PathBuf,
        /// The version it says.
        found: String,
        /// The newest version this wharf reads.
        supported: u32,
    },
}

impl RegistryError {
    /// True when the registry itself could not be read (the CLI's exit code 3).
    pub fn is_unreadable(&self) -> bool {
        matches!(self, RegistryError::Corrupt { .. } | RegistryError::TooNew { .. } | RegistryError::Lock(_))
            || matches!(self, RegistryError::Fs(e) if e.action == "cannot read")
    }
}

/// A document as read, with where it came from.
#[derive(Debug, Clone)]
pub struct Loaded {
    /// The document, migrated to the current version in memory.
    pub doc: RegistryDoc,
    /// Where it came from.
    pub info: LoadInfo,
    raw: Vec<u8>,
}

/// Where a document came from.
#[derive(Debug, Clone)]
pub struct LoadInfo {
    /// The version the file was in (`V2` for a file that does not exist yet).
    pub found: Found,
    /// Migration steps applied in memory.
    pub steps: Vec<&'static str>,
    /// False when there is no file yet.
    pub exists: bool,
}

type WaitNotice = Box<dyn Fn(&Path) + Send + Sync>;

/// The handle on `registry.json`: every read and write goes through it (see the module doc).
pub struct Registry {
    file: PathBuf,
    lock_file: PathBuf,
    timeout: Duration,
    env: Env,
    on_wait: WaitNotice,
    writes: AtomicUsize,
}

impl Registry {
    /// The registry of `layout`; nothing is read until a method is called.
    pub fn open(layout: &Layout, env: &Env) -> Registry {
        Registry {
            file: layout.registry_file.clone(),
            lock_file: layout.lock_file.clone(),
            timeout: layout.lock_timeout,
            env: env.clone(),
            on_wait: Box::new(|_| {}),
            writes: AtomicUsize::new(0),
        }
    }

    /// Called once when a lock is contended (the CLI prints "waiting for lock on `…`").
    pub fn with_wait_notice(mut self, f: impl Fn(&Path) + Send + Sync + 'static) -> Registry {
        self.on_wait = Box::new(f);
        self
    }

    /// The registry file.
    pub fn path(&self) -> &Path {
        &self.file
    }

    /// `envs.lock` beside the registry: `init` holds it shared while it makes an environment and
    /// registers it, a deleting `prune` holds it exclusively, so no prune ever sees (or deletes) an
    /// environment that an `init` is still making. Kept, like `registry.lock`.
    pub fn envs_lock_file(&self) -> PathBuf {
        self.file.with_file_name("envs.lock")
    }

    /// How many times this handle has written `registry.json` (prune promises one write).
    pub fn writes(&self) -> usize {
        self.writes.load(Ordering::Relaxed)
    }

    /// The environment its paths expand in.
    pub fn env(&self) -> &Env {
        &self.env
    }

    fn lock(&self, mode: Mode) -> Result<LockGuard, LockError> {
        lock::acquire(&self.lock_file, mode, self.timeout, &*self.on_wait)
    }

    /// Lock another sidecar file (the envs dir's lock, say) with this registry's timeout and
    /// waiting notice, so every wait of a command reads the same.
    pub fn lock_sidecar(&self, path: &Path, mode: Mode) -> Result<LockGuard, RegistryError> {
        Ok(lock::acquire(path, mode, self.timeout, &*self.on_wait)?)
    }

    /// Read under a shared lock.
    pub fn read(&self) -> Result<Loaded, RegistryError> {
        let _guard = self.lock(Mode::Shared)?;
        self.load()
    }

    /// Lock exclusively, read, let `f` change the document, save if it changed, unlock.
    pub fn update<T, E>(&self, f: impl FnOnce(&mut RegistryDoc, &LoadInfo) -> Result<T, E>) -> Result<T, E>
    where
        E: From<RegistryError>,
    {
        let _guard = self.lock(Mode::Exclusive).map_err(RegistryError::from)?;
        self.update_locked(f).map(|(_, t)| t)
    }

    /// For a change nobody waits on (the `last_validated` stamp): lock exclusively, read, let
    /// `change` edit the document, then save it on a thread of its own while `work` reads it on
    /// this one. The lock is let go as soon as the save is done, not when `work` is. Gives up at
    /// once (`Ok(None)`) if the lock is busy; a failed save (a read-only registry) does not fail the
    /// call: it comes back in [`Beside::saved`], beside `work`'s result.
    pub fn try_update_beside<T>(
        &self,
        change: impl FnOnce(&mut RegistryDoc),
        work: impl FnOnce(&RegistryDoc) -> T,
    ) -> Result<Option<Beside<T>>, RegistryError> {
        let guard = match lock::try_acquire(&self.lock_file, Mode::Exclusive) {
            Ok(g) => g,
            Err(LockError::Busy { .. }) => return Ok(None),
            Err(e) => return Err(e.into()),
        };
        let Loaded { mut doc, info, raw } = self.load()?;
        change(&mut doc);
        let (saved, out) = std::thread::scope(|s| {
            let doc = &doc;
            let saving = s.spawn(move || {
                let saved = self.save(&info, &raw, doc);
                self.sweep_temps();
                drop(guard);
                saved
            });
            let out = work(doc);
            (saving.join().unwrap_or_else(|panic| std::panic::resume_unwind(panic)), out)
        });
        Ok(Some(Beside { doc, out, saved }))
    }

    /// `wharf doctor --repair`: like [`Registry::update`], but a corrupt file is first renamed to
    /// `registry.json.corrupt-<stamp>` (never deleted) and `f` starts from an empty document.
    /// A file from a newer wharf is still refused. Returns where the corrupt file went.
    pub fn recover<T, E>(
        &self,
        stamp: &str,
        f: impl FnOnce(&mut RegistryDoc, &LoadInfo) -> Result<T, E>,
    ) -> Result<(Option<PathBuf>, T), E>
    where
        E: From<RegistryError>,
    {
        let _guard = self.lock(Mode::Exclusive).map_err(RegistryError::from)?;
        match self.load() {
            Err(RegistryError::Corrupt { .. }) => {
                let mut name = self.file.file_name().unwrap_or_default().to_os_string();
                name.push(format!(".corrupt-{stamp}"));
                let aside = self.file.with_file_name(name);
                std::fs::rename(&self.file, &aside)
                    .ctx("cannot move aside", &self.file)
                    .map_err(RegistryError::from)?;
                let (_, out) = self.update_locked(f)?;
                Ok((Some(aside), out))
            }
            Err(e) => Err(e.into()),
            Ok(_) => self.update_locked(f).map(|(_, t)| (None, t)),
        }
    }

    /// Rewrite the file in the current version now (with the `.v<N>.bak` copy), or with `dry_run`
    /// only say what would happen.
    pub fn migrate(&self, dry_run: bool) -> Result<MigrateReport, RegistryError> {
        let report = |doc: &RegistryDoc, l: &LoadInfo| MigrateReport {
            registry: self.file.display().to_string(),
            dry_run,
            from: l.found.number(),
            to: CURRENT_VERSION,
            steps: l.steps.iter().map(|s| s.to_string()).collect(),
            backup: (l.exists && l.found < Found::V2).then(|| backup_path(&self.file, l.found).display().to_string()),
            entries: doc.projects.len(),
        };
        if dry_run {
            let l = self.read()?;
            return Ok(report(&l.doc, &l.info));
        }
        self.update(|doc, l| Ok(report(doc, l)))
    }

    fn update_locked<T, E>(
        &self,
        f: impl FnOnce(&mut RegistryDoc, &LoadInfo) -> Result<T, E>,
    ) -> Result<(RegistryDoc, T), E>
    where
        E: From<RegistryError>,
    {
        let Loaded { mut doc, info, raw } = self.load()?;
        let out = f(&mut doc, &info)?;
        self.save(&info, &raw, &doc)?;
        self.sweep_temps();
        Ok((doc, out))
    }

    /// Remove the temp files a killed write left beside the registry; the caller holds the
    /// exclusive lock.
    fn sweep_temps(&self) {
        if let Some(dir) = self.file.parent() {
            fsx::sweep_stale_temps(dir, std::time::SystemTime::now(), fsx::STALE_AFTER);
        }
    }

    /// Read and migrate; the caller holds the lock.
    fn load(&self) -> Result<Loaded, RegistryError> {
        let corrupt = |reason: String| RegistryError::Corrupt { path: self.file.clone(), reason };
        let raw = match std::fs::metadata(&self.file) {
            Ok(m) if m.len() > MAX_BYTES => {
                return Err(corrupt(format!("{} bytes is over the 256 MiB limit", m.len())))
            }
            Ok(_) => std::fs::read(&self.file).ctx("cannot read", &self.file)?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let info = LoadInfo { found: Found::V2, steps: vec![], exists: false };
                return Ok(Loaded { doc: RegistryDoc::default(), info, raw: vec![] });
            }
            Err(e) => return Err(FsError::new("cannot read", &self.file, e).into()),
        };
        // The common case, a current file, is read straight into the structs; anything else (older,
        // newer, or broken) goes through `Value` so migrations and diagnostics see the raw shape.
        if let Ok(doc) = serde_json::from_slice::<RegistryDoc>(&raw) {
            if doc.version == CURRENT_VERSION {
                let info = LoadInfo { found: Found::V2, steps: vec![], exists: true };
                return Ok(Loaded { doc, info, raw });
            }
        }
        let value: serde_json::Value = serde_json::from_slice(&raw).map_err(|e| corrupt(e.to_string()))?;
        let (value, found, steps) = migrate::migrate(value, &self.env).map_err(|e| match e {
            migrate::MigrateError::Newer(found) => {
                RegistryError::TooNew { path: self.file.clone(), found, supported: CURRENT_VERSION }
            }
            migrate::MigrateError::Shape(reason) => corrupt(reason),
        })?;
        let doc: RegistryDoc = serde_json::from_value(value).map_err(|e| corrupt(e.to_string()))?;
        Ok(Loaded { doc, info: LoadInfo { found, steps, exists: true }, raw })
    }

    /// Write `doc` if it differs from what was read; the caller holds the exclusive lock.
    fn save(&self, info: &LoadInfo, raw: &[u8], doc: &RegistryDoc) -> Result<(), RegistryError> {
        if !info.exists && *doc == RegistryDoc::default() {
            return Ok(());
        }
        let bytes = render(doc);
        if info.exists && bytes == raw {
            return Ok(());
        }
        if info.exists && info.found < Found::V2 {
            let bak = backup_path(&self.file, info.found);
            if !bak.exists() {
                fsx::write_atomic(&bak, raw)?;
            }
        }
        fsx::write_atomic(&self.file, &bytes)?;
        self.writes.fetch_add(1, Ordering::Relaxed);
        Ok(())
    }
}

/// What [`Registry::try_update_beside`] hands back.
#[derive(Debug)]
pub struct Beside<T> {
    /// The document as changed (whether or not the save succeeded).
    pub doc: RegistryDoc,
    /// What `work` returned.
    pub out: T,
    /// How the save went.
    pub saved: Result<(), RegistryError>,
}

/// What `migrate` did or would do.
#[derive(Debug, Clone, serde::Serialize)]
pub struct MigrateReport {
    /// The registry file.
    pub registry: String,
    /// Nothing was written.
    pub dry_run: bool,
    /// The version found.
    pub from: u32,
    /// The version written (the current one).
    pub to: u32,
    /// The migration steps applied.
    pub steps: Vec<String>,
    /// Where the old file was kept, when it was older.
    pub backup: Option<String>,
    /// How many projects it registers.
    pub entries: usize,
}

/// Pretty JSON with sorted keys (see `schema.rs`), newline-terminated.
pub fn render(doc: &RegistryDoc) -> Vec<u8> {
    let mut bytes = serde_json::to_vec_pretty(doc).unwrap_or_default();
    bytes.push(b'\n');
    bytes
}

/// `registry.json.v<N>.bak`.
pub fn backup_path(file: &Path, found: Found) -> PathBuf {
    let mut name = file.file_name().unwrap_or_default().to_os_string();
    name.push(format!(".v{}.bak", found.number()));
    file.with_file_name(name)
}
