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
//! These rules, and the order of preview, question, lock and one registry write, are shared with
//! `remove`: they live in [`crate::ops::removal`].
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

use crate::env::Env;
use crate::fsx;
use crate::ops::removal::{guarded, judge_env};
use crate::ops::validate::{self, Judged, Status};
use crate::registry::{Registry, RegistryDoc, RegistryError};

pub use crate::ops::removal::{EnvCandidate, Outcome, Removal, Summary, Target, ENV_NAMES};
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
                id: None,
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

/// Carry out `plan`: judge and (unless a dry run) delete each folder, and drop the entries from `doc`.
pub fn apply(plan: &Plan, doc: &mut RegistryDoc, envs_dir: &Path, env: &Env, dry_run: bool) -> Summary {
    let mut items: Vec<Removal> = plan.envs.iter().map(|c| judge_env(c, envs_dir, env, dry_run, None)).collect();
    for (key, shown) in &plan.entries {
        if !dry_run {
            doc.projects.remove(key);
        }
        items.push(Removal {
            id: None,
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
    // A preview that was shown and agreed to bounds what a real run removes.
    let shown_before =
        |path: &str| preview.is_none_or(|p| p.items.iter().any(|i| i.kind == Target::Model && i.path == path));
    for it in inv.items(&usage).into_iter().filter(Item::removable) {
        if !shown_before(&it.path.display().to_string()) {
            continue;
        }
        let (action, reason) = match dry_run {
            true => (Outcome::Removed, None),
            false => match inv.remove(&it) {
                Ok(()) => (Outcome::Removed, None),
                Err(e) => (Outcome::Failed, Some(e.to_string())),
            },
        };
        summary.push_model(&it.id, &it.path, it.size, action, reason);
    }
    // Partial downloads no process is writing (`store/partial.rs` decides by their lock).
    for p in inv.partials() {
        if !shown_before(&p.path.display().to_string()) {
            continue;
        }
        let (action, reason) = match partial::sweep(&p, dry_run) {
            Ok(Swept::Removed) => (Outcome::Removed, None),
            Ok(Swept::AlreadyGone) => (Outcome::AlreadyGone, None),
            Ok(Swept::Kept(why)) => (Outcome::Skipped, Some(why)),
            Err(e) => (Outcome::Failed, Some(e.to_string())),
        };
        summary.push_model(&p.id, &p.path, p.size, action, reason);
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
