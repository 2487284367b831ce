//! What deleting commands (`prune`, `remove`) share: the rows they report, the rules under which
//! an environment folder may be deleted (`judge_env`), and the order they follow (`guarded`).
//!
//! A folder is deleted only when it is a real folder strictly inside the envs dir (component-wise
//! after resolving; never the root, a sibling, or through a symlink — see
//! [`crate::fsx::check_within`]); is an environment (`pyvenv.cfg` or a wharf back-link), or what an
//! older, interrupted prune left of one (only names a venv has at its top, see [`ENV_NAMES`]); was
//! not refused by the plan (another entry uses it); and its back-link does not name a live project
//! other than the one being removed (one that exists and whose marker names this folder; paths
//! compared as real paths). It goes by a rename into the envs dir's trash first, so a crash leaves
//! nothing half-deleted under its name.

use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::env::Env;
use crate::fsx::{self, Within};
use crate::lock::Mode;
use crate::project;
use crate::project::liveness::Liveness;
use crate::registry::{Registry, RegistryDoc, RegistryError};
use crate::store::id::StoreId;

/// What a removal is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Target {
    /// An environment folder.
    Env,
    /// A registry entry.
    Entry,
    /// A model file or a partial download (`--models`).
    Model,
    /// wharf's keys in a project's marker (`wharf remove`).
    Marker,
}

/// What happened to one thing `prune` looked at.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// Removed (in a dry run: would be).
    Removed,
    /// Someone else removed it first.
    AlreadyGone,
    /// Refused; the reason says why.
    Skipped,
    /// Removing it failed; the reason says why.
    Failed,
}

/// One thing `prune` looked at, and what happened to it (a row of its report).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Removal {
    /// Environment, entry or model.
    pub kind: Target,
    /// The folder, the project (for an entry) or the file.
    pub path: String,
    /// The project it belonged to, if known.
    pub project: Option<String>,
    /// What happened.
    pub action: Outcome,
    /// Why it was skipped or failed, or what left it (a killed prune's trash).
    pub reason: Option<String>,
    /// Bytes freed (0 unless removed).
    pub bytes: u64,
    /// A model's id, as `models list` shows it (`model` rows only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
}

/// What `prune` did (or, in a dry run, would do).
#[derive(Debug, Clone, Default, Serialize)]
pub struct Summary {
    /// Nothing was removed.
    pub dry_run: bool,
    /// Everything looked at, in order: trash of a killed prune, environments, entries, models.
    pub items: Vec<Removal>,
    /// Bytes freed by what was removed.
    pub reclaimed_bytes: u64,
}

impl Summary {
    /// How many removals of `kind` ended in `action`.
    pub fn count(&self, kind: Target, action: Outcome) -> usize {
        self.items.iter().filter(|i| i.kind == kind && i.action == action).count()
    }

    /// Add a `model` row (its bytes count as reclaimed when it was removed).
    pub(crate) fn push_model(&mut self, id: &StoreId, path: &Path, size: u64, action: Outcome, reason: Option<String>) {
        let bytes = if action == Outcome::Removed { size } else { 0 };
        self.reclaimed_bytes += bytes;
        let path = path.display().to_string();
        let id = Some(id.to_string());
        self.items.push(Removal { kind: Target::Model, path, project: None, action, reason, bytes, id });
    }
}

/// An env folder that may be deleted, and why it was chosen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EnvCandidate {
    /// The folder.
    pub path: PathBuf,
    /// The project it belonged to (expanded path), or `None` for an untracked folder.
    pub project: Option<String>,
    /// Set when the plan itself already refuses it.
    pub skip: Option<String>,
}

/// The names an environment made by `venv`, `uv venv` or wharf may hold at its top.
pub const ENV_NAMES: &[&str] = &[
    "bin",
    "lib",
    "lib64",
    "include",
    "share",
    "Lib",
    "Scripts",
    "Include",
    "pyvenv.cfg",
    ".gitignore",
    "CACHEDIR.TAG",
    ".lock",
    "models",
    project::BACKLINK,
];

/// What an interrupted delete of an older wharf (one without the trash rename) left of an
/// environment: its `pyvenv.cfg` and back-link may be gone, but nothing else than a venv's own top
/// folders is there.
fn remains_of_env(dir: &Path) -> bool {
    let Ok(rd) = std::fs::read_dir(dir) else { return false };
    let names: Vec<String> = rd.filter_map(Result::ok).map(|e| e.file_name().to_string_lossy().into_owned()).collect();
    !names.is_empty() && names.iter().all(|n| ENV_NAMES.contains(&n.as_str()) || fsx::is_temp_name(n))
}

/// Why a folder that passed the root check still may not go. `dir` is a resolved path;
/// `leaving` is the project being removed (`wharf remove`): its holding the folder does not count.
fn env_refusal(dir: &Path, env: &Env, leaving: Option<&Path>) -> Option<String> {
    let link = project::read_backlink(dir).ok().flatten();
    if link.is_none() && !dir.join("pyvenv.cfg").is_file() && !remains_of_env(dir) {
        return Some("not an environment (no `pyvenv.cfg` and no wharf back-link)".into());
    }
    let owner = link?.owner(dir, env)?;
    let leaves = leaving.is_some_and(|p| fsx::same_place(p) == owner.real);
    (owner.liveness == Liveness::Live && !leaves)
        .then(|| format!("its back-link names live project `{}`", owner.project.display()))
}

/// Judge one folder by the rules of the module doc and, unless `dry_run`, delete it (through the
/// envs dir's trash). `leaving`: see [`env_refusal`]. `prune` and `remove` both delete only here.
pub(crate) fn judge_env(
    c: &EnvCandidate,
    envs_dir: &Path,
    env: &Env,
    dry_run: bool,
    leaving: Option<&Path>,
) -> Removal {
    let item = |action, reason: Option<String>, bytes| Removal {
        kind: Target::Env,
        id: None,
        path: c.path.display().to_string(),
        project: c.project.clone(),
        action,
        reason,
        bytes,
    };
    if let Some(why) = &c.skip {
        return item(Outcome::Skipped, Some(why.clone()), 0);
    }
    let resolved = match fsx::check_within(envs_dir, &c.path) {
        Within::Gone => return item(Outcome::AlreadyGone, None, 0),
        Within::Refused(r) => return item(Outcome::Skipped, Some(r.to_string()), 0),
        Within::Inside(p) => p,
    };
    if let Some(why) = env_refusal(&resolved, env, leaving) {
        return item(Outcome::Skipped, Some(why), 0);
    }
    let bytes = fsx::dir_size(&resolved);
    if dry_run {
        return item(Outcome::Removed, None, bytes);
    }
    match fsx::trash_dir_within(envs_dir, &c.path) {
        Ok(Within::Inside(_)) => item(Outcome::Removed, None, bytes),
        Ok(Within::Gone) => item(Outcome::AlreadyGone, None, 0),
        Ok(Within::Refused(r)) => item(Outcome::Skipped, Some(r.to_string()), 0),
        Err(e) => item(Outcome::Failed, Some(e.to_string()), 0),
    }
}

/// The order every deleting command follows (`prune`, `remove`): `compute(doc, dry_run, preview)`
/// once as a dry run on a shared read (that is all a dry run does, and what `confirm` is shown);
/// then, when `confirm` agrees, for real under `envs.lock` (exclusive, taken only after the
/// question was answered, so inits wait while this deletes) and the registry's lock, with at most
/// one registry write. Returns `None` when `confirm` declined.
pub(crate) fn guarded<E: From<RegistryError>>(
    registry: &Registry,
    real_envs_dir: &Path,
    dry_run: bool,
    confirm: Option<&dyn Fn(&Summary) -> bool>,
    compute: impl Fn(&mut RegistryDoc, bool, Option<&Summary>) -> Result<Summary, E>,
) -> Result<Option<Summary>, E> {
    let preview = if dry_run || confirm.is_some() {
        let mut doc = registry.read()?.doc;
        Some(compute(&mut doc, true, None)?)
    } else {
        None
    };
    if dry_run {
        return Ok(preview);
    }
    if let (Some(ask), Some(preview)) = (confirm, &preview) {
        if !ask(preview) {
            return Ok(None);
        }
    }
    let _deleting = registry.lock_sidecar(&registry.envs_lock_file(), Mode::Exclusive)?;
    // No init runs while we hold the lock, so every temp folder in the envs dir is a dead one's.
    fsx::sweep_stale_temps(real_envs_dir, std::time::SystemTime::now(), std::time::Duration::ZERO);
    registry.update(|doc, _| compute(doc, false, preview.as_ref()).map(Some))
}
