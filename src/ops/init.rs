//! `wharf init`: register a project, create its environment, write its marker and back-link.
//!
//! What happens depends on the registry and on what the project's marker says:
//!
//! | situation | outcome |
//! |---|---|
//! | the path is registered | `existing`: id, env and `created_at` kept (idempotent) |
//! | the marker names an env registered to a path that no longer exists (or shares its id) | `relinked`: the entry is re-keyed to this path, its env kept |
//! | the marker names an env of a project that still exists | `copied`: a copy is a new project, with a new id and env |
//! | the marker names an unregistered env that no other live project claims, and that is safe (see [`adopt`](crate::project::adopt)) | `adopted`: that env and id are taken on |
//! | the marker names any other place | refused ([`adopt::Untrusted`](crate::project::adopt::Untrusted)): nothing is written |
//! | no marker (or `--force`) | `created`: new id, env `<envs>/<name>_<hash8>` |
//!
//! `/` and the home folder itself are never projects.
//!
//! Ordering, so that neither a racing `prune` nor a kill loses anything:
//! 1. `init` holds `envs.lock` shared from start to end ([`Registry::envs_lock_file`]); a deleting
//!    prune holds it exclusively, so it never runs while an environment is being made.
//! 2. A new environment folder is made as a temp folder holding the back-link, then renamed into
//!    place, then the venv tool runs in it: at every instant the folder either does not exist or
//!    carries a back-link naming this project, so a prune after a kill can attribute it.
//! 3. Creating an environment can take seconds, so it happens before the registry lock is taken;
//!    the decision is made again under the exclusive lock (and if another process changed the
//!    picture in between, the environment the new decision names is made there).
//! 4. Under that lock the back-link, then the marker are written, and only then is the entry saved:
//!    an entry is never visible without its marker and back-link.

use std::path::{Path, PathBuf};

use chrono::{DateTime, SecondsFormat, Utc};
use serde::Serialize;

use crate::env::{Env, Layout};
use crate::fsx::{self, Context, FsError};
use crate::home_path::{expand_vars, HomePath, HomePathError};
use crate::lock::Mode;
use crate::project::adopt::{AdoptableEnv, Untrusted};
use crate::project::liveness::Liveness;
use crate::project::venv::{self, VenvError, VenvOptions};
use crate::project::{self, BackLink, MarkerInfo, ProjectError};
use crate::registry::{EnvRef, ProjectEntry, Registry, RegistryDoc, RegistryError};

/// Why `init` registered nothing.
#[derive(Debug, thiserror::Error)]
pub enum InitError {
    /// The project folder cannot be resolved or its marker or back-link read.
    #[error(transparent)]
    Project(#[from] ProjectError),
    /// The registry cannot be read or written.
    #[error(transparent)]
    Registry(#[from] RegistryError),
    /// The environment cannot be created.
    #[error(transparent)]
    Venv(#[from] VenvError),
    /// A file cannot be written.
    #[error(transparent)]
    Fs(#[from] FsError),
    /// A path cannot be stored in `${HOME}` form.
    #[error(transparent)]
    Path(#[from] HomePathError),
    /// The marker names an environment wharf will not use.
    #[error(transparent)]
    Untrusted(#[from] Box<Untrusted>),
    /// `/` or the home folder itself.
    #[error("`{path}` cannot be a project: it is {why}\n  hint: run `wharf init` in the project's own folder", path = .path.display())]
    NotAProject {
        /// The folder.
        path: PathBuf,
        /// What it is.
        why: &'static str,
    },
}

impl InitError {
    /// True for input the user can fix (the CLI's exit code 2).
    pub fn is_usage(&self) -> bool {
        matches!(self, InitError::Project(_) | InitError::Untrusted(_) | InitError::NotAProject { .. })
    }
}

/// How to register a project.
#[derive(Debug, Clone, Default)]
pub struct InitOptions {
    /// How to create its environment.
    pub venv: VenvOptions,
    /// Ignore what an existing marker says and take a fresh identity.
    pub force: bool,
}

/// What `init` did with the project (the JSON `action`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Action {
    /// A new project: new id, the standard environment.
    Created,
    /// Already registered at this path: nothing changed.
    Existing,
    /// Registered before at `from`, a path that no longer exists: the entry moved here.
    Relinked {
        /// The old key.
        from: String,
    },
    /// Its marker names the environment of the live project `from`: registered as a new project.
    Copied {
        /// The key (or back-linked path) of the project it was copied from.
        from: String,
    },
    /// Its marker names an unregistered environment that was safe to take on.
    Adopted,
}

/// The result of `init`.
#[derive(Debug, Clone, Serialize)]
pub struct InitOutcome {
    /// The project folder (canonical).
    pub path: PathBuf,
    /// Its registry key (`${HOME}/…` under home).
    pub key: String,
    /// Its project id.
    pub id: String,
    /// Its environment.
    pub env: EnvRef,
    /// What was done.
    pub action: Action,
    /// True when the environment folder or the venv in it was made now.
    pub created_env: bool,
}

/// The decision, before anything is written.
#[derive(Debug, Clone, PartialEq)]
struct Decision {
    action: Action,
    env: PathBuf,
    id: Option<String>,
    /// The entry to carry over (existing or relinked).
    carried: Option<ProjectEntry>,
}

struct Facts<'a> {
    key: &'a str,
    dir: &'a Path,
    marker: Option<&'a MarkerInfo>,
    standard_env: PathBuf,
    envs_dir: &'a Path,
    env: &'a Env,
}

fn expand_key(key: &str, env: &Env) -> Option<PathBuf> {
    HomePath::from_stored(key).expand(env).ok()
}

fn decide(doc: &RegistryDoc, f: &Facts) -> Result<Decision, InitError> {
    let fresh = |action| Ok(Decision { action, env: f.standard_env.clone(), id: None, carried: None });
    if let Some(e) = doc.projects.get(f.key) {
        let env = expand_key(&e.env.path, f.env).unwrap_or_else(|| PathBuf::from(&e.env.expanded));
        return Ok(Decision { action: Action::Existing, env, id: e.id.clone(), carried: Some(e.clone()) });
    }
    let Some(marker) = f.marker else { return fresh(Action::Created) };
    // Only for finding a registered owner: the registry's own paths are trusted, the marker's are not.
    let named =
        marker.env.as_deref().and_then(|raw| expand_vars(raw, f.env).ok()).map(|p| fsx::same_place(Path::new(&p)));
    let owner = doc.projects.iter().find(|(_, e)| {
        // Real paths are compared only where the folder names agree: one `canonicalize` per
        // candidate, not per registered project.
        let same_env = named.as_deref().is_some_and(|n| {
            expand_key(&e.env.path, f.env).is_some_and(|p| p.file_name() == n.file_name() && fsx::same_place(&p) == n)
        });
        let same_id = marker.id.is_some() && e.id == marker.id;
        same_env || same_id
    });
    if let Some((old_key, e)) = owner {
        let old_alive = expand_key(old_key, f.env).is_some_and(|p| p.is_dir());
        if old_alive {
            return fresh(Action::Copied { from: old_key.clone() });
        }
        let env = expand_key(&e.env.path, f.env).unwrap_or_else(|| PathBuf::from(&e.env.expanded));
        return Ok(Decision {
            action: Action::Relinked { from: old_key.clone() },
            env,
            id: e.id.clone(),
            carried: Some(e.clone()),
        });
    }
    let Some(raw) = marker.env.as_deref() else { return fresh(Action::Created) };
    let named = AdoptableEnv::judge(&marker.file, raw, f.dir, f.envs_dir, f.env).map_err(Box::new)?;
    // An env in the envs dir whose back-link names another existing project: a copy, not a
    // takeover (even when that project's marker names another env: it may still want this one).
    if let Ok(Some(link)) = project::read_backlink(named.path()) {
        let owner = link.owner(named.path(), f.env);
        if owner.is_some_and(|o| o.real != f.dir && o.liveness != Liveness::Gone) {
            return fresh(Action::Copied { from: link.project });
        }
    }
    Ok(Decision { action: Action::Adopted, env: named.path().to_path_buf(), id: marker.id.clone(), carried: None })
}

/// `/` and the home folder hold everything else: never a project (a stray `.env.wharf` there would
/// make every folder below look like part of it).
fn refuse_root_or_home(dir: &Path, env: &Env) -> Result<(), InitError> {
    let why = if dir.parent().is_none() {
        "the root of the filesystem"
    } else if fsx::same_place(env.home()) == dir {
        "your home folder itself"
    } else {
        return Ok(());
    };
    Err(InitError::NotAProject { path: dir.to_path_buf(), why })
}

/// Make sure `dir` exists as an environment folder (see the module doc, step 2). Returns true when
/// it made the folder or the venv in it.
fn make_env(dir: &Path, link: &BackLink, opts: &VenvOptions, env: &Env) -> Result<bool, InitError> {
    let missing = match std::fs::symlink_metadata(dir) {
        Ok(_) => false,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => true,
        Err(e) => return Err(FsError::new("cannot examine", dir, e).into()),
    };
    if missing {
        let parent = dir.parent().unwrap_or(Path::new("/"));
        fsx::create_dir_private(parent)?;
        let name = dir.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        let tmp = fsx::temp_path(parent, &name);
        fsx::create_dir_private(&tmp)?;
        let placed = project::write_backlink(&tmp, link).and_then(|()| {
            // Another init may have placed the same folder meanwhile: then that one is used.
            match std::fs::rename(&tmp, dir) {
                Err(_) if dir.is_dir() => Ok(()),
                r => r.ctx("cannot create", dir),
            }
        });
        let _ = std::fs::remove_dir_all(&tmp);
        placed?;
    }
    Ok(venv::ensure(dir, opts, env)? || missing)
}

/// Register the project at `path`.
pub fn init(
    registry: &Registry,
    layout: &Layout,
    path: &Path,
    opts: &InitOptions,
    now: DateTime<Utc>,
) -> Result<InitOutcome, InitError> {
    let env = registry.env();
    let dir = project::canonical(path)?;
    refuse_root_or_home(&dir, env)?;
    let key = HomePath::from_path_in(&dir, env)?.as_str().to_string();
    let hash = project::path_hash(&dir);
    let name = project::project_name(&dir);
    let marker = if opts.force { None } else { project::read_marker(&dir, true)? };
    let facts = Facts {
        key: &key,
        dir: &dir,
        marker: marker.as_ref(),
        standard_env: layout.envs_dir.join(project::env_dir_name(&name, &hash)),
        envs_dir: &layout.envs_dir,
        env,
    };
    let _making_envs = registry.lock_sidecar(&registry.envs_lock_file(), Mode::Shared)?;
    let clock = std::time::SystemTime::from(now);
    for folder in [dir.as_path(), layout.envs_dir.as_path()] {
        fsx::sweep_stale_temps(folder, clock, fsx::STALE_AFTER);
    }

    // Slow part first, outside the lock.
    let first = decide(&registry.read()?.doc, &facts)?;
    let stamp = now.to_rfc3339_opts(SecondsFormat::Secs, true);
    let id_hint = first.id.clone().unwrap_or_else(project::new_id);
    let link = |id: &str, created_at: &str| BackLink {
        project: key.clone(),
        id: Some(id.to_string()),
        created_at: created_at.to_string(),
        wharf_version: crate::env::VERSION.to_string(),
        extra: Default::default(),
    };
    let mut created_env = make_env(&first.env, &link(&id_hint, &stamp), &opts.venv, env)?;

    registry.update(|doc, _| -> Result<InitOutcome, InitError> {
        let decision = decide(doc, &facts)?;
        if decision.env != first.env {
            created_env |= make_env(&decision.env, &link(&id_hint, &stamp), &opts.venv, env)?;
        }
        let id = decision.id.clone().unwrap_or_else(|| id_hint.clone());
        let env_stored = HomePath::from_path_in(&decision.env, env)?;
        let env_ref = EnvRef {
            path: env_stored.as_str().to_string(),
            expanded: decision.env.to_string_lossy().into_owned(),
            extra: Default::default(),
        };
        let mut entry = decision.carried.clone().unwrap_or_else(|| ProjectEntry {
            name: name.clone(),
            path_hash: hash.clone(),
            id: None,
            env: env_ref.clone(),
            models: Vec::new(),
            created_at: stamp.clone(),
            last_validated: None,
            legacy_marker: false,
            extra: Default::default(),
        });
        entry.name = name.clone();
        entry.path_hash = hash.clone();
        entry.id = Some(id.clone());
        entry.env = EnvRef { extra: std::mem::take(&mut entry.env.extra), ..env_ref.clone() };
        entry.legacy_marker = false;
        if entry.created_at.is_empty() {
            entry.created_at = stamp.clone();
        }
        let mut back = link(&id, &entry.created_at);
        back.extra = project::read_backlink(&decision.env).ok().flatten().map(|l| l.extra).unwrap_or_default();
        project::write_backlink(&decision.env, &back)?;
        fsx::sweep_stale_temps(&decision.env, clock, fsx::STALE_AFTER);
        // The marker before the entry (saved when this closure returns): a prune never sees an
        // entry whose marker is still to come, and a kill in between leaves a marker that the next
        // init adopts (its env is in the envs dir and its back-link names this project).
        project::write_marker(&dir, &env_stored, &id)?;
        if let Action::Relinked { from } = &decision.action {
            doc.projects.remove(from);
        }
        doc.projects.insert(key.clone(), entry);
        Ok(InitOutcome { path: dir.clone(), key: key.clone(), id, env: env_ref, action: decision.action, created_env })
    })
}
