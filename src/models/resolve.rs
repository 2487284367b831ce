//! A project's models: `wharf.toml` → the store → `wharf.lock` (and the registry entry, by the caller).
//!
//! For each model: when `wharf.lock` agrees with the manifest, its pin is used (a Hugging Face file
//! at its exact commit, a URL by its sha256), so a second pull finds everything in the store with no
//! request at all. Otherwise the primary source is tried, then each `fallback` in order; the one
//! that could be had is recorded in the lock and reported. A model in `parts` has each part fetched
//! (and checked when the part carries its own `#sha256=`, so a bad part is named), then the store
//! assembles them ([`ModelStore::assemble`]: concatenated in order, the whole checked against
//! `sha256` before it becomes visible); when the assembled file is already there, no part is
//! fetched.

use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::fsx::FsError;
use crate::ids::source::Source;
use crate::ids::Sha256;
use crate::models::lockfile::{self, Lock, Locked, LockedPart, LockfileError};
use crate::models::manifest::{self, ManifestError, ModelSpec};
use crate::models::views;
use crate::store::serve::Found;
use crate::store::{ModelStore, PullOptions, Pulled};
use crate::transfer::progress::Progress;
use crate::transfer::FetchError;

/// Why a project's models could not be pulled.
#[derive(Debug, thiserror::Error)]
pub enum ModelsError {
    /// `wharf.toml` is invalid.
    #[error(transparent)]
    Manifest(#[from] ManifestError),
    /// `wharf.lock` is invalid or cannot be written.
    #[error(transparent)]
    Lockfile(#[from] LockfileError),
    /// No `wharf.toml` at or above the folder.
    #[error("no wharf.toml in `{0}` or above it\n  hint: declare models in wharf.toml, or name what to pull: `wharf pull SPEC`")]
    NoManifest(PathBuf),
    /// No source of a model (the primary, its fallbacks) could be had.
    #[error("model `{name}` could not be had from any of its sources:{tried}")]
    Unavailable {
        /// The model.
        name: String,
        /// Each source tried and why it failed, one per line.
        tried: String,
    },
    /// One part of a model could not be had.
    #[error("model `{name}`: part {index} of {count} (`{source_spec}`): {error}")]
    Part {
        /// The model.
        name: String,
        /// Which part (from 1).
        index: usize,
        /// Of how many.
        count: usize,
        /// The part's spec.
        source_spec: String,
        /// Why.
        error: Box<FetchError>,
    },
    /// A model could not be had or assembled.
    #[error("model `{name}`: {error}")]
    Model {
        /// The model.
        name: String,
        /// Why.
        error: Box<FetchError>,
    },
    /// Offline, a model in parts whose assembled file is not in the store (making it writes).
    #[error("model `{name}` is not assembled in the store and wharf is offline\n  hint: run `wharf pull` in the project with network access (without `--offline`, `WHARF_OFFLINE`, `HF_HUB_OFFLINE`)")]
    OfflineAssembly {
        /// The model.
        name: String,
    },
    /// `--locked`, and `wharf.lock` would change.
    #[error("wharf.lock would change (`--locked`):{what}\n  hint: run `wharf pull` without `--locked` and commit the new wharf.lock")]
    LockWouldChange {
        /// What differs, one per line.
        what: String,
    },
    /// A file could not be read or written.
    #[error(transparent)]
    Fs(#[from] FsError),
    /// The registry could not record the models (exit 3 when it cannot be read).
    #[error(transparent)]
    Registry(#[from] crate::registry::RegistryError),
}

/// One model as pulled.
#[derive(Debug, Clone, Serialize)]
pub struct Resolved {
    /// Its name in `wharf.toml`.
    pub name: String,
    /// The file; its `source` is the one that was used (the primary or a fallback; for parts, the
    /// first part).
    #[serde(flatten)]
    pub file: Pulled,
    /// True when a fallback was used.
    pub fallback: bool,
    /// Why earlier candidates were passed over.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub skipped: Vec<String>,
}

/// What pulling a project's models did.
#[derive(Debug, Clone)]
pub struct ProjectPull {
    /// Every model, in the manifest's order.
    pub models: Vec<Resolved>,
    /// True when `wharf.lock` was written (it was missing or differed).
    pub lock_changed: bool,
    /// Model views left alone or not updated ([`crate::models::views`]), one line each.
    pub view_warnings: Vec<String>,
    /// Offline, nothing is written: how `wharf.lock` would change (empty when it would not).
    pub lock_pending: Vec<String>,
}

/// The folder at or above `start` that holds a `wharf.toml`.
pub fn find_manifest_dir(start: &Path) -> Option<PathBuf> {
    start.ancestors().find(|d| d.join(manifest::MANIFEST).is_file()).map(Path::to_path_buf)
}

/// The source a lock entry pins for `asked`: a Hugging Face file at its commit, a URL or file by
/// its digest.
fn pinned(locked: &Locked, asked: &Source) -> Option<Source> {
    Some(match asked.clone() {
        Source::HfFile(file) => match &locked.commit {
            Some(c) => Source::HfFile(file.at(c.clone().into())),
            None => Source::HfFile(file),
        },
        Source::Url { url, .. } => Source::Url { url, sha256: Some(locked.sha256.clone()) },
        Source::File { path, .. } => Source::File { path, sha256: Some(locked.sha256.clone()) },
        Source::S3 { object, .. } => Source::S3 { object, sha256: Some(locked.sha256.clone()) },
        Source::HfRepo(_) => return None,
    })
}

/// What the models of one project pull share.
struct Pull<'a> {
    store: &'a ModelStore,
    /// The project folder: `wharf.toml`'s relative sources are read from it.
    dir: &'a Path,
    opts: &'a PullOptions,
    progress: &'a dyn Progress,
}

impl Pull<'_> {
    /// One file of `src`, which must hash to `sha256` (and be `size` bytes) when given.
    async fn one(&self, src: &Source, sha256: Option<Sha256>, size: Option<u64>) -> Result<Pulled, FetchError> {
        let o = PullOptions { sha256, size, ..self.opts.clone() };
        let mut got = self.store.get_model(src, &o, self.progress).await?;
        got.pop().ok_or_else(|| FetchError::Protocol { url: src.to_string(), why: "nothing was pulled".into() })
    }

    /// A model of one file: the lock's pin, else the primary source, then each fallback.
    async fn single(&self, spec: &ModelSpec, locked: Option<&Locked>) -> Result<(Resolved, Locked), ModelsError> {
        let mut skipped: Vec<String> = Vec::new();
        let locked_source = locked.and_then(|l| l.source.clone());
        for (i, cand) in spec.candidates().into_iter().enumerate() {
            // With an agreeing lock, go straight to what it pinned.
            if locked_source.as_deref().is_some_and(|s| s != cand) {
                continue;
            }
            let asked = Source::parse_in(cand, self.dir)
                .map_err(|e| ModelsError::Model { name: spec.name.clone(), error: Box::new(e.into()) })?;
            // A lock's pin is checked like a manifest's: its sha256 for every kind of source (for a
            // Hugging Face file also its commit, which `pinned` asks for).
            let (src, want, size) = match locked.and_then(|l| Some((pinned(l, &asked)?, l))) {
                Some((p, l)) => (p, Some(l.sha256.clone()), Some(l.size)),
                None => (asked.clone(), if i == 0 { spec.sha256.clone() } else { None }, None),
            };
            match self.one(&src, want, size).await {
                Ok(p) => {
                    let locked = Locked {
                        name: spec.name.clone(),
                        source: Some(cand.to_string()),
                        commit: p.commit.clone(),
                        sha256: p.sha256.parse().map_err(|e| model_err(&spec.name, e))?,
                        size: p.size,
                        parts: Vec::new(),
                    };
                    // Shown and recorded as asked (a branch, not the commit the lock pinned).
                    let file = Pulled { source: cand.to_string(), hf: asked.hf_file().cloned(), ..p };
                    let r = Resolved { name: spec.name.clone(), file, fallback: i > 0, skipped: skipped.clone() };
                    return Ok((r, locked));
                }
                Err(e) => skipped.push(format!("`{cand}`: {}", e.to_string().lines().next().unwrap_or_default())),
            }
        }
        let tried = skipped.iter().map(|s| format!("\n  - {s}")).collect();
        Err(ModelsError::Unavailable { name: spec.name.clone(), tried })
    }

    /// A model in parts: each part fetched, then assembled and checked (see the module doc).
    async fn parts(&self, spec: &ModelSpec, locked: Option<&Locked>) -> Result<(Resolved, Locked), ModelsError> {
        let (store, opts) = (self.store, self.opts);
        let Some(whole) = spec.sha256.clone() else {
            return Err(model_err(&spec.name, "`parts` need the `sha256` of the assembled file"));
        };
        let model = |error: FetchError| ModelsError::Model { name: spec.name.clone(), error: Box::new(error) };
        let dest = store.assembled_path(&whole).map_err(model)?;
        let asked = spec
            .parts
            .iter()
            .enumerate()
            .map(|(i, part)| Source::parse_in(part, self.dir).map_err(|e| part_err(spec, i, e.into())))
            .collect::<Result<Vec<_>, _>>()?;
        let resolved = |size: u64, cached: bool| Resolved {
            name: spec.name.clone(),
            file: Pulled {
                source: spec.parts.first().cloned().unwrap_or_default(),
                path: dest.clone(),
                sha256: whole.to_string(),
                size,
                cached,
                commit: None,
                hf: asked.first().and_then(Source::hf_file).cloned(),
                same_as: None,
            },
            fallback: false,
            skipped: Vec::new(),
        };
        // The assembled file is what the project uses: when it is here (and sound), no part is
        // fetched, lock or no lock.
        let looking = PullOptions { size: locked.map(|l| l.size), ..opts.clone() };
        let replace = match store.find_blob(&whole, &looking).await.map_err(model)? {
            Found::Sound(size) => {
                let l = locked.cloned().unwrap_or_else(|| parts_entry(spec, &whole, size, &asked));
                return Ok((resolved(size, true), l));
            }
            Found::Unsound => true,
            Found::Absent => false,
        };
        if store.config().offline {
            return Err(ModelsError::OfflineAssembly { name: spec.name.clone() });
        }
        let mut got: Vec<(String, Pulled)> = Vec::with_capacity(asked.len());
        for (i, (part, src)) in spec.parts.iter().zip(&asked).enumerate() {
            let pin = locked.and_then(|l| l.parts.get(i));
            let (sha, size) = (pin.and_then(|p| p.sha256.clone()), pin.and_then(|p| p.size));
            got.push((part.clone(), self.one(src, sha, size).await.map_err(|e| part_err(spec, i, e))?));
        }
        let parts: Vec<Pulled> = got.iter().map(|(_, p)| p.clone()).collect();
        let size = store.assemble(&spec.name, &parts, &whole, replace, opts.now).await.map_err(model)?.size;
        // The lock must not depend on what this machine's store held: a machine that had the
        // assembled file and one that fetched the parts write the same entry (or keep the lock's).
        let locked = locked.cloned().unwrap_or_else(|| parts_entry(spec, &whole, size, &asked));
        let cached = got.iter().all(|(_, p)| p.cached);
        Ok((resolved(size, cached), locked))
    }
}

/// The lock entry of a model in parts, the same whether its parts were fetched or its assembled
/// file was already stored: each part's digest only when its spec carries `#sha256=`, its size not
/// at all (the whole is pinned by its own digest, which is what is checked).
fn parts_entry(spec: &ModelSpec, whole: &Sha256, size: u64, asked: &[Source]) -> Locked {
    let parts = spec
        .parts
        .iter()
        .zip(asked)
        .map(|(s, src)| LockedPart { source: s.clone(), sha256: Source::digest(src).cloned(), size: None })
        .collect();
    Locked { name: spec.name.clone(), source: None, commit: None, sha256: whole.clone(), size, parts }
}

/// Is nothing in `wharf.toml` pinning this model's bytes (a URL or file without a digest, a
/// Hugging Face branch)? Then `--refresh` asks its origin again, past the lock.
fn floats(spec: &ModelSpec) -> bool {
    match spec.source.as_deref().map(Source::parse) {
        Some(Ok(Source::HfFile(f))) => f.revision.as_commit().is_none(),
        Some(Ok(src @ (Source::Url { .. } | Source::File { .. } | Source::S3 { .. }))) => {
            spec.sha256.is_none() && src.digest().is_none()
        }
        // No scheme: a file of the project (the manifest checked it with `Source::parse_in`), which
        // may be edited like any `file://` source.
        Some(Err(_)) => spec.sha256.is_none(),
        Some(Ok(Source::HfRepo(_))) | None => false,
    }
}

/// Part `i` of `spec` could not be had.
fn part_err(spec: &ModelSpec, i: usize, error: FetchError) -> ModelsError {
    ModelsError::Part {
        name: spec.name.clone(),
        index: i + 1,
        count: spec.parts.len(),
        source_spec: spec.parts[i].clone(),
        error: Box::new(error),
    }
}

/// A model-level error with a message (for values that cannot be: a digest we computed ourselves
/// that does not parse).
fn model_err(name: &str, why: impl std::fmt::Display) -> ModelsError {
    ModelsError::Model {
        name: name.to_string(),
        error: Box::new(FetchError::Protocol { url: String::new(), why: why.to_string() }),
    }
}

/// Pull every model of the project at `dir`; write `wharf.lock` (or, `locked`, refuse to change it).
pub async fn pull(
    store: &ModelStore,
    dir: &Path,
    locked: bool,
    opts: &PullOptions,
    progress: &dyn Progress,
) -> Result<ProjectPull, ModelsError> {
    let manifest = manifest::read(dir)?.ok_or_else(|| ModelsError::NoManifest(dir.to_path_buf()))?;
    let old = lockfile::read(dir)?;
    let run = Pull { store, dir, opts, progress };
    let mut models = Vec::new();
    let mut entries = Vec::new();
    for spec in &manifest.models {
        let l = old.as_ref().and_then(|l| l.get(&spec.name)).filter(|l| lockfile::agrees(spec, l));
        let l = l.filter(|_| !(opts.refresh && floats(spec)));
        let (r, e) = if spec.parts.is_empty() { run.single(spec, l).await? } else { run.parts(spec, l).await? };
        models.push(r);
        entries.push(e);
    }
    let lock = Lock::new(entries);
    let changes = if old.as_ref() == Some(&lock) { Vec::new() } else { lock_changes(&manifest.models, old.as_ref()) };
    if locked && !changes.is_empty() {
        let what = changes.iter().map(|x| format!("\n  - {x}")).collect();
        return Err(ModelsError::LockWouldChange { what });
    }
    if store.config().offline {
        // Offline writes nothing: the caller says what the lock would need.
        return Ok(ProjectPull { models, lock_changed: false, view_warnings: Vec::new(), lock_pending: changes });
    }
    let d = dir.to_path_buf();
    let lock_changed = tokio::task::spawn_blocking(move || lockfile::write(&d, &lock))
        .await
        .map_err(|e| FsError::new("cannot write", &dir.join(lockfile::LOCKFILE), std::io::Error::other(e)))??;
    Ok(ProjectPull { models, lock_changed, view_warnings: Vec::new(), lock_pending: Vec::new() })
}

/// How a new lock differs from `old` (which differs from it).
fn lock_changes(specs: &[ModelSpec], old: Option<&Lock>) -> Vec<String> {
    let Some(old) = old else { return vec!["there is no wharf.lock".to_string()] };
    let mut d = lockfile::disagreements(specs, old);
    if d.is_empty() {
        d.push("the pinned commits or digests differ".into());
    }
    d
}

/// What `wharf pull` does in a project (and `wharf init` in one with a `wharf.toml`): [`pull`]
/// every model and write the lock, then record the models in the project's registry entry, when
/// it has one, and bring its model views in step ([`views::sync_entry`]). Returns the pull and
/// whether the project is registered.
pub async fn pull_project(
    store: &ModelStore,
    registry: crate::Registry,
    dir: &Path,
    locked: bool,
    opts: &PullOptions,
    progress: &dyn Progress,
) -> Result<(ProjectPull, bool), ModelsError> {
    let pulled = pull(store, dir, locked, opts, progress).await?;
    let (d, models, offline) = (dir.to_path_buf(), pulled.models.clone(), store.config().offline);
    let (registered, view_warnings) = tokio::task::spawn_blocking(move || match offline {
        // Offline writes nothing (no registry, no views): only say whether the project is registered.
        true => Ok((is_registered(&registry, &d)?, Vec::new())),
        false => {
            // The entry as recorded serves the views: no second read of the registry.
            let entry = record_in_registry(&registry, &d, &models)?;
            let warnings = entry.as_ref().map(|e| views::warnings(views::sync_entry(e, &d, registry.env())));
            Ok::<_, crate::registry::RegistryError>((entry.is_some(), warnings.unwrap_or_default()))
        }
    })
    .await
    .map_err(|e| FsError::new("cannot update the registry for", dir, std::io::Error::other(e)))??;
    Ok((ProjectPull { view_warnings, ..pulled }, registered))
}

/// Is the project at `dir` registered? (Read only.)
fn is_registered(registry: &crate::Registry, dir: &Path) -> Result<bool, crate::registry::RegistryError> {
    let Ok(key) = crate::home_path::HomePath::from_path_in(dir, registry.env()) else { return Ok(false) };
    Ok(registry.read()?.doc.projects.contains_key(key.as_str()))
}

/// Record `models` in the registry entry of the project at `dir`, if it is registered.
/// Returns the entry as recorded (`None`: not registered).
pub fn record_in_registry(
    registry: &crate::Registry,
    dir: &Path,
    models: &[Resolved],
) -> Result<Option<crate::registry::ProjectEntry>, crate::registry::RegistryError> {
    let env = registry.env();
    let Ok(key) = crate::home_path::HomePath::from_path_in(dir, env) else { return Ok(None) };
    let refs: Vec<crate::registry::ModelRef> = models
        .iter()
        .map(|m| crate::registry::ModelRef {
            name: m.name.clone(),
            source: m.file.source.clone(),
            revision: m.file.hf.as_ref().map(|f| f.revision.to_string()),
            commit: m.file.commit.as_ref().map(ToString::to_string),
            sha256: Some(m.file.sha256.clone()),
            size: Some(m.file.size),
            path: crate::home_path::HomePath::from_path_in(&m.file.path, env).ok().map(|h| h.to_string()),
            extra: Default::default(),
        })
        .collect();
    registry.update(|doc, _| {
        Ok::<_, crate::registry::RegistryError>(doc.projects.get_mut(key.as_str()).map(|e| {
            e.models = refs;
            e.clone()
        }))
    })
}
