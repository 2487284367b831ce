//! `wharf init`: register a project, create its environment, write its marker and back-link.
//!
//! What happens depends on the registry and on what the project's marker says:
//!
//! | situation | outcome |
//! |---|---|
//! | the path is registered | `existing`: id, env and `created_at` kept (idempotent) |
//! | the marker names an env registered to a path that no longer exists (or shares its id) | `relinked`: the entry is re-keyed to this path, its env kept |
//! | the marker names an env of a project that still exists | `copied`: a copy is a new project, with a new id and env |
//! | the marker names an unregistered env that no other live project claims | `adopted`: that env and id are taken on |
//! | no marker (or `--force`) | `created`: new id, env `<envs>/<name>_<hash8>` |
//!
//! Creating an environment can take seconds, so it happens before the registry lock is taken; the
//! decision is then made again under the exclusive lock, and if another process changed the picture
//! in between, the environment the new decision names is made there.

use std::path::{Path, PathBuf};

use chrono::{DateTime, SecondsFormat, Utc};
use serde::Serialize;

use crate::fsx::FsError;
use crate::home_path::{expand_vars, HomePath, HomePathError};
use crate::paths::{Env, Layout};
use crate::project::{self, BackLink, MarkerInfo, ProjectError};
use crate::registry::{EnvRef, ProjectEntry, Registry, RegistryDoc, RegistryError};
use crate::venv::{self, VenvError, VenvOptions};

#[derive(Debug, thiserror::Error)]
pub enum InitError {
    #[error(transparent)]
    Project(#[from] ProjectError),
    #[error(transparent)]
    Registry(#[from] RegistryError),
    #[error(transparent)]
    Venv(#[from] VenvError),
    #[error(transparent)]
    Fs(#[from] FsError),
    #[error(transparent)]
    Path(#[from] HomePathError),
}

#[derive(Debug, Clone, Default)]
pub struct InitOptions {
    pub venv: VenvOptions,
    /// Ignore what an existing marker says and take a fresh identity.
    pub force: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Action {
    Created,
    Existing,
    Relinked { from: String },
    Copied { from: String },
    Adopted,
}

#[derive(Debug, Clone, Serialize)]
pub struct InitOutcome {
    pub path: PathBuf,
    pub key: String,
    pub id: String,
    pub env: EnvRef,
    pub action: Action,
    pub created_env: bool,
}

/// The decision, before anything is written.
#[derive(Debug, Clone, PartialEq)]
struct Plan {
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
    env: &'a Env,
}

fn expand_key(key: &str, env: &Env) -> Option<PathBuf> {
    HomePath::from_stored(key).expand(env).ok()
}

fn decide(doc: &RegistryDoc, f: &Facts) -> Plan {
    let fresh = |action| Plan { action, env: f.standard_env.clone(), id: None, carried: None };
    if let Some(e) = doc.projects.get(f.key) {
        let env = expand_key(&e.env.path, f.env).unwrap_or_else(|| PathBuf::from(&e.env.expanded));
        return Plan { action: Action::Existing, env, id: e.id.clone(), carried: Some(e.clone()) };
    }
    let Some(marker) = f.marker else { return fresh(Action::Created) };
    let named = marker.env.as_deref().and_then(|raw| expand_vars(raw, f.env).ok()).map(PathBuf::from);
    let owner = doc.projects.iter().find(|(_, e)| {
        let same_env = named.as_deref().is_some_and(|n| expand_key(&e.env.path, f.env).as_deref() == Some(n));
        let same_id = marker.id.is_some() && e.id == marker.id;
        same_env || same_id
    });
    if let Some((old_key, e)) = owner {
        let old_alive = expand_key(old_key, f.env).is_some_and(|p| p.is_dir());
        if old_alive {
            return fresh(Action::Copied { from: old_key.clone() });
        }
        let env = expand_key(&e.env.path, f.env).unwrap_or_else(|| PathBuf::from(&e.env.expanded));
        return Plan {
            action: Action::Relinked { from: old_key.clone() },
            env,
            id: e.id.clone(),
            carried: Some(e.clone()),
        };
    }
    let Some(named) = named else { return fresh(Action::Created) };
    // An unregistered env: take it on unless its back-link says it belongs to another live project.
    if let Ok(Some(link)) = project::read_backlink(&named) {
        if let Ok(p) = expand_vars(&link.project, f.env) {
            if Path::new(&p) != f.dir && Path::new(&p).is_dir() {
                return fresh(Action::Copied { from: link.project });
            }
        }
    }
    Plan { action: Action::Adopted, env: named, id: marker.id.clone(), carried: None }
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
    let key = HomePath::from_path(&dir, env.home())?.as_str().to_string();
    let hash = project::path_hash(&dir);
    let name = project::project_name(&dir);
    let marker = if opts.force { None } else { project::read_marker(&dir, true)? };
    let facts = Facts {
        key: &key,
        dir: &dir,
        marker: marker.as_ref(),
        standard_env: layout.envs_dir.join(project::env_dir_name(&name, &hash)),
        env,
    };

    // Slow part first, outside the lock.
    let first = decide(&registry.read()?.doc, &facts);
    let mut created_env = venv::ensure(&first.env, &opts.venv, env)?;

    let stamp = now.to_rfc3339_opts(SecondsFormat::Secs, true);
    let outcome = registry.update(|doc, _| -> Result<InitOutcome, InitError> {
        let plan = decide(doc, &facts);
        if plan.env != first.env {
            created_env |= venv::ensure(&plan.env, &opts.venv, env)?;
        }
        let id = plan.id.clone().unwrap_or_else(project::new_id);
        let env_stored = HomePath::from_path(&plan.env, env.home())?;
        let env_ref = EnvRef {
            path: env_stored.as_str().to_string(),
            expanded: plan.env.to_string_lossy().into_owned(),
            extra: Default::default(),
        };
        let mut entry = plan.carried.clone().unwrap_or_else(|| ProjectEntry {
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
        let link = BackLink {
            project: key.clone(),
            id: Some(id.clone()),
            created_at: entry.created_at.clone(),
            wharf_version: crate::VERSION.to_string(),
            extra: project::read_backlink(&plan.env).ok().flatten().map(|l| l.extra).unwrap_or_default(),
        };
        project::write_backlink(&plan.env, &link)?;
        if let Action::Relinked { from } = &plan.action {
            doc.projects.remove(from);
        }
        doc.projects.insert(key.clone(), entry);
        Ok(InitOutcome { path: dir.clone(), key: key.clone(), id, env: env_ref, action: plan.action, created_env })
    })?;
    // The marker goes last: until the registry holds the entry, a marker would point nowhere.
    project::write_marker(&dir, &HomePath::from_stored(outcome.env.path.clone()), &outcome.id)?;
    Ok(outcome)
}
