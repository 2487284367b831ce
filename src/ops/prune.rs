//! `wharf prune`: a pure plan, then an apply that re-checks every folder before deleting it.
//!
//! [`plan`] turns verdicts into candidates: entries that go (orphaned; mismatch with `--mismatch`) and
//! env folders that may go with them (and, with `--untracked`, folders under the envs dir no entry
//! references). [`apply`] then judges each folder on the filesystem and deletes only:
//! - a real folder strictly inside the envs dir (component-wise after resolving; never the root,
//!   a sibling, or through a symlink — see [`crate::fsx::check_within`]);
//! - that is an environment (`pyvenv.cfg` or a wharf back-link), or what an older, interrupted
//!   prune left of one (only names a venv has at its top, see [`ENV_NAMES`]);
//! - that no kept entry uses, and whose back-link does not name a live project (one that exists and
//!   whose marker names this folder; paths compared as real paths, so a home reached through a
//!   symlink is still the same home).
//!
//! Anything refused is reported `skipped` with the reason; its registry entry may still go. A dry run
//! performs the same judgement and reports the same items, deleting nothing. The caller writes the
//! registry once, after apply.
//!
//! Crashes and races: a real run holds `envs.lock` exclusively (so no `init` is making an
//! environment meanwhile, see [`crate::ops::init`]) and deletes each folder by renaming it to
//! `.wharf-trash-…` inside the envs dir first. Every prune first finishes the trash a killed one
//! left (reported as `env` items with the reason) and removes the temp folders of killed inits.

use std::collections::{BTreeSet, HashMap};
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::env::Env;
use crate::fsx::{self, Within};
use crate::lock::Mode;
use crate::ops::validate::{self, Judged, Status};
use crate::project;
use crate::project::liveness::Liveness;
use crate::registry::{Registry, RegistryDoc, RegistryError};
use crate::store::inventory::{Item, Usage};
use crate::store::partial::{self, Swept};
use crate::store::ModelStore;

/// What `prune` may remove beside orphaned entries and their environments.
#[derive(Debug, Clone, Copy, Default)]
pub struct PruneOptions {
    /// Also projects whose marker or back-link names another environment.
    pub mismatch: bool,
    /// Also folders under the envs dir that no entry references.
    pub untracked: bool,
    /// Also model files wharf fetched that no remaining project uses.
    pub models: bool,
    /// Judge and report, remove nothing.
    pub dry_run: bool,
}

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

/// What [`plan`] chose: the entries to drop and the environment folders that may go with them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Plan {
    /// Registry keys to remove, with their expanded project path.
    pub entries: Vec<(String, String)>,
    /// The folders to judge and, if they pass, delete.
    pub envs: Vec<EnvCandidate>,
}

impl Plan {
    /// Nothing to do.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty() && self.envs.is_empty()
    }
}

fn display(j: &Judged) -> String {
    j.project.as_ref().map_or(j.key.clone(), |p| p.display().to_string())
}

/// Decide what to prune from the verdicts. `untracked` are folders under the envs dir (only used with
/// `--untracked`). Pure: no filesystem access.
pub fn plan(judged: &[Judged], opts: PruneOptions, untracked: &[PathBuf]) -> Plan {
    let goes = |j: &Judged| match j.verdict.status {
        Status::Orphaned => true,
        Status::Mismatch => opts.mismatch,
        Status::Valid | Status::Error => false,
    };
    let kept_envs: HashMap<&Path, String> =
        judged.iter().filter(|j| !goes(j)).filter_map(|j| Some((j.env.as_deref()?, display(j)))).collect();
    let mut out = Plan::default();
    let mut seen = BTreeSet::new();
    for j in judged.iter().filter(|j| goes(j)) {
        out.entries.push((j.key.clone(), display(j)));
        let Some(env) = &j.env else { continue };
        if !seen.insert(env.clone()) {
            continue;
        }
        let skip = kept_envs.get(env.as_path()).map(|p| format!("in use by project `{p}`"));
        out.envs.push(EnvCandidate { path: env.clone(), project: Some(display(j)), skip });
    }
    if opts.untracked {
        let known: BTreeSet<&Path> = judged.iter().filter_map(|j| j.env.as_deref()).collect();
        for dir in untracked.iter().filter(|d| !known.contains(d.as_path())) {
            out.envs.push(EnvCandidate { path: dir.clone(), project: None, skip: None });
        }
    }
    out
}

/// Folders directly under the envs dir (symlinks included, so they can be reported), but not
/// wharf's own temp and trash folders.
pub fn scan_envs_dir(envs_dir: &Path) -> Vec<PathBuf> {
    let Ok(rd) = std::fs::read_dir(envs_dir) else { return Vec::new() };
    let ours = |n: &str| n.starts_with(fsx::TEMP_PREFIX) || n.starts_with(fsx::TRASH_PREFIX);
    let mut dirs: Vec<PathBuf> = rd
        .filter_map(Result::ok)
        .filter(|e| !ours(&e.file_name().to_string_lossy()))
        .filter(|e| e.file_type().is_ok_and(|t| t.is_dir() || t.is_symlink()))
        .map(|e| e.path())
        .collect();
    dirs.sort();
    dirs
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

/// Trash folders a killed prune left in the envs dir: finished (or, in a dry run, reported).
fn finish_trash(envs_dir: &Path, dry_run: bool) -> Vec<Removal> {
    fsx::trash_in(envs_dir)
        .into_iter()
        .map(|trash| {
            let bytes = fsx::dir_size(&trash);
            let (action, reason, bytes) = match if dry_run { Ok(()) } else { fsx::finish_trash(&trash) } {
                Ok(()) => (Outcome::Removed, "left by an interrupted prune".to_string(), bytes),
                Err(e) => (Outcome::Failed, e.to_string(), 0),
            };
            Removal {
                kind: Target::Env,
                path: trash.display().to_string(),
                project: None,
                action,
                reason: Some(reason),
                bytes,
            }
        })
        .collect()
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

/// Carry out `plan`: judge and (unless a dry run) delete each folder, and drop the entries from `doc`.
pub fn apply(plan: &Plan, doc: &mut RegistryDoc, envs_dir: &Path, env: &Env, dry_run: bool) -> Summary {
    let mut items: Vec<Removal> = plan.envs.iter().map(|c| judge_env(c, envs_dir, env, dry_run, None)).collect();
    for (key, shown) in &plan.entries {
        if !dry_run {
            doc.projects.remove(key);
        }
        items.push(Removal {
            kind: Target::Entry,
            path: shown.clone(),
            project: Some(shown.clone()),
            action: Outcome::Removed,
            reason: None,
            bytes: 0,
        });
    }
    let reclaimed_bytes = items.iter().filter(|i| i.action == Outcome::Removed).map(|i| i.bytes).sum();
    Summary { dry_run, items, reclaimed_bytes }
}

/// With `--models`: remove the files wharf fetched that no project left in `doc` uses (in a dry
/// run, the entries `plan` would drop do not count as users either), and dead partial downloads.
fn prune_models(
    store: &ModelStore,
    doc: &RegistryDoc,
    plan: &Plan,
    env: &Env,
    dry_run: bool,
    preview: Option<&Summary>,
    summary: &mut Summary,
) {
    let mut remaining = doc.clone();
    for (key, _) in &plan.entries {
        remaining.projects.remove(key);
    }
    let usage = Usage::of(&remaining, env);
    let inv = store.inventory();
    for it in inv.items(&usage).into_iter().filter(Item::removable) {
        let shown = it.path.display().to_string();
        if preview.is_some_and(|p| !p.items.iter().any(|i| i.kind == Target::Model && i.path == shown)) {
            continue;
        }
        let (action, reason) = match dry_run {
            true => (Outcome::Removed, None),
            false => match inv.remove(&it) {
                Ok(()) => (Outcome::Removed, None),
                Err(e) => (Outcome::Failed, Some(e.to_string())),
            },
        };
        let bytes = if action == Outcome::Removed { it.size } else { 0 };
        summary.reclaimed_bytes += bytes;
        summary.items.push(Removal { kind: Target::Model, path: shown, project: None, action, reason, bytes });
    }
    // Partial downloads no process is writing (`store/partial.rs` decides by their lock).
    for p in inv.partials() {
        let shown = p.path.display().to_string();
        if preview.is_some_and(|pv| !pv.items.iter().any(|i| i.kind == Target::Model && i.path == shown)) {
            continue;
        }
        let (action, reason) = match partial::sweep(&p, dry_run) {
            Ok(Swept::Removed) => (Outcome::Removed, None),
            Ok(Swept::AlreadyGone) => (Outcome::AlreadyGone, None),
            Ok(Swept::Kept(why)) => (Outcome::Skipped, Some(why)),
            Err(e) => (Outcome::Failed, Some(e.to_string())),
        };
        let bytes = if action == Outcome::Removed { p.size } else { 0 };
        summary.reclaimed_bytes += bytes;
        summary.items.push(Removal { kind: Target::Model, path: shown, project: None, action, reason, bytes });
    }
}

/// Keep only the parts of `plan` that a confirmed preview showed as removable.
pub fn restrict(plan: &mut Plan, preview: &Summary) {
    let ok: BTreeSet<(Target, &str)> =
        preview.items.iter().filter(|i| i.action == Outcome::Removed).map(|i| (i.kind, i.path.as_str())).collect();
    plan.entries.retain(|(_, shown)| ok.contains(&(Target::Entry, shown.as_str())));
    plan.envs.retain(|c| ok.contains(&(Target::Env, c.path.to_string_lossy().as_ref())));
}

/// The whole command: read, judge, plan, optionally confirm a preview, then apply under the
/// exclusive lock with one registry write. Returns `None` when `confirm` declined.
pub fn run(
    registry: &Registry,
    envs_dir: &Path,
    store: Option<&ModelStore>,
    opts: PruneOptions,
    confirm: Option<&dyn Fn(&Summary) -> bool>,
) -> Result<Option<Summary>, RegistryError> {
    let env = registry.env();
    let real_envs_dir = fsx::same_place(envs_dir);
    let compute = |doc: &mut RegistryDoc, dry_run: bool, preview: Option<&Summary>| {
        let mut judged = validate::validate_all(doc, env, validate::Options::default());
        // Compare env folders as real paths (a home reached through a symlink is the same home);
        // the last component stays unresolved so that a symlink is refused, not followed.
        for j in &mut judged {
            j.env = j.env.as_deref().map(fsx::resolve_parent);
        }
        let untracked = if opts.untracked { scan_envs_dir(&real_envs_dir) } else { Vec::new() };
        let mut p = plan(&judged, opts, &untracked);
        if let Some(preview) = preview {
            restrict(&mut p, preview);
        }
        let trash = finish_trash(&real_envs_dir, dry_run);
        let mut summary = apply(&p, doc, envs_dir, env, dry_run);
        summary.reclaimed_bytes += trash.iter().map(|i| i.bytes).sum::<u64>();
        summary.items.splice(0..0, trash);
        if let (true, Some(store)) = (opts.models, store) {
            prune_models(store, doc, &p, env, dry_run, preview, &mut summary);
        }
        summary
    };
    guarded(registry, &real_envs_dir, opts.dry_run, confirm, |doc, dry_run, preview| Ok(compute(doc, dry_run, preview)))
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
