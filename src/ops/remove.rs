//! `wharf remove [PATH] [--keep-env]`: unregister one project, undoing what `init` did.
//!
//! Which project: the one around the current folder (found by its marker, like `check`), or
//! PATH — an existing folder (its real path), or a registered path whose folder is gone, matched
//! against the registry's keys after `${HOME}` normalisation (a relative PATH is taken against
//! the current folder lexically, since there is nothing left to resolve).
//!
//! What goes, in the order reported (prune's item shape, one `kind` per row):
//! - `env`: its environment folder, deleted by prune's own rules and code
//!   (`removal::judge_env`): strictly inside the envs dir, an environment, through the trash; the
//!   project being removed holding it does not protect it, another entry using it does. With
//!   `--keep-env` the folder stays (`skipped`), but its back-link goes when it names this project:
//!   nothing then attributes the folder to a project that is no longer registered (`doctor --repair`
//!   would otherwise bring the entry back), and `prune --untracked` may reclaim it later.
//! - `marker`: wharf's keys ([`project::WHARF_KEYS`]) taken out of `.env.wharf`, every other line
//!   kept byte for byte; a marker that held nothing else is deleted. A marker whose
//!   `WHARF_PROJECT_ID` names another project, or a symlinked one, is `skipped`.
//! - `entry`: the registry entry, in one registry write.
//!
//! Models the project used stay in the store (`prune --models` and `models gc` remove what no
//! project uses); [`Outcome::unreferenced_models`] counts those no remaining project uses.
//! A dry run judges the same way and reports the same items, changing nothing.

use std::path::{Component, Path, PathBuf};

use serde::Serialize;

use crate::env::Env;
use crate::fsx::{self, Context};
use crate::home_path::{HomePath, HomePathError};
use crate::ops::removal::{self, EnvCandidate, Outcome as Action, Removal, Summary, Target};
use crate::project::{self, ProjectError, Stripped};
use crate::registry::{Registry, RegistryDoc, RegistryError};
use crate::store::inventory::Usage;

/// Which project `remove` is about.
#[derive(Debug, Clone)]
pub enum Which {
    /// The project around this folder (the current one).
    Around(PathBuf),
    /// This path (relative ones against `cwd`), which may be gone.
    Path {
        /// As given.
        path: PathBuf,
        /// The current folder.
        cwd: PathBuf,
    },
}

/// What `remove` may leave.
#[derive(Debug, Clone, Copy, Default)]
pub struct RemoveOptions {
    /// Keep the environment folder (only its back-link goes).
    pub keep_env: bool,
    /// Judge and report, change nothing.
    pub dry_run: bool,
}

/// Why `remove` did nothing.
#[derive(Debug, thiserror::Error)]
pub enum RemoveError {
    /// No entry has this path.
    #[error(
        "`{path}` is not a registered project\n  hint: `wharf list` shows the registered projects and their paths"
    )]
    NotRegistered {
        /// The path meant.
        path: PathBuf,
    },
    /// The current folder cannot be resolved.
    #[error(transparent)]
    Project(#[from] ProjectError),
    /// The path cannot be written as a registry key.
    #[error(transparent)]
    Key(#[from] HomePathError),
    /// The registry cannot be read or written.
    #[error(transparent)]
    Registry(#[from] RegistryError),
}

/// What `remove` did (or, in a dry run, would do).
#[derive(Debug, Clone, Serialize)]
pub struct Outcome {
    /// The project (expanded path).
    pub project: String,
    /// The rows, as `prune` reports them.
    #[serde(flatten)]
    pub summary: Summary,
    /// Models the project used that no remaining project uses (they stay in the store).
    pub unreferenced_models: usize,
}

/// `path` made absolute against `cwd` and `.`/`..` folded, without touching the filesystem.
fn lexical(path: &Path, cwd: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for c in cwd.join(path).components() {
        match c {
            Component::CurDir => {}
            Component::ParentDir => {
                out.pop();
            }
            c => out.push(c),
        }
    }
    out
}

/// The registry key of the project meant, and its expanded path.
fn find_key(doc: &RegistryDoc, which: &Which, env: &Env) -> Result<(String, PathBuf), RemoveError> {
    let candidates: Vec<PathBuf> = match which {
        Which::Around(cwd) => {
            let dir = project::canonical(cwd)?;
            vec![project::find_root(&dir).unwrap_or(dir)]
        }
        Which::Path { path, cwd } => {
            let plain = lexical(path, cwd);
            std::fs::canonicalize(&plain).into_iter().chain([plain]).collect()
        }
    };
    for dir in &candidates {
        let key = HomePath::from_path_in(dir, env)?;
        if doc.projects.contains_key(key.as_str()) {
            return Ok((key.as_str().to_string(), dir.clone()));
        }
        // A key written by hand or by an older wharf may spell the same place otherwise.
        let same = |k: &String| HomePath::from_stored(k.clone()).expand(env).is_ok_and(|p| &p == dir);
        if let Some(k) = doc.projects.keys().find(|k| same(k)) {
            return Ok((k.clone(), dir.clone()));
        }
    }
    Err(RemoveError::NotRegistered { path: candidates.last().cloned().unwrap_or_default() })
}

/// How many of the models of `key`'s entry no other project of `doc` uses.
fn unreferenced(doc: &RegistryDoc, key: &str, env: &Env) -> usize {
    let Some(entry) = doc.projects.get(key) else { return 0 };
    let mut others = doc.clone();
    others.projects.remove(key);
    let used = Usage::of(&others, env);
    let unused = |m: &&crate::registry::ModelRef| {
        let path = m.path.as_ref().and_then(|p| HomePath::from_stored(p.clone()).expand(env).ok());
        used.users_of(path.as_deref(), m.sha256.as_deref()).is_empty()
    };
    entry.models.iter().filter(unused).count()
}

/// The row for the environment of `key`'s entry.
/// `held_back`: why the question (if one was asked) did not show it going; it is kept for that
/// reason, whatever changed since.
struct EnvJob<'a> {
    envs_dir: &'a Path,
    keep: bool,
    held_back: Option<String>,
    dry_run: bool,
}

/// Why the preview the question showed did not have the environment going (`None`: it did, or
/// nobody was asked).
fn held_back(preview: Option<&Summary>) -> Option<String> {
    let row = preview?.items.iter().find(|i| i.kind == Target::Env);
    match row {
        Some(r) if r.action == Action::Removed => None,
        Some(Removal { reason: Some(why), .. }) => Some(why.clone()),
        _ => Some("not shown as going when you were asked".into()),
    }
}

fn env_row(doc: &RegistryDoc, key: &str, project: &Path, env: &Env, job: EnvJob) -> Option<Removal> {
    let entry = doc.projects.get(key)?;
    let dir = fsx::resolve_parent(&entry.env_dir(env).ok()?);
    let shown = project.display().to_string();
    let user = doc
        .projects
        .iter()
        .filter(|(k, _)| k.as_str() != key)
        .find(|(_, e)| e.env_dir(env).is_ok_and(|p| fsx::resolve_parent(&p) == dir));
    let mut skip = user.map(|(k, _)| format!("in use by project `{k}`"));
    if let Some(why) = job.held_back {
        skip.get_or_insert(why);
    }
    let candidate = EnvCandidate { path: dir.clone(), project: Some(shown.clone()), skip };
    if !job.keep {
        return Some(removal::judge_env(&candidate, job.envs_dir, env, job.dry_run, Some(project)));
    }
    // The back-link goes only when it names this project (by id, or by path for an entry without
    // one) and no other entry uses the folder.
    let link = project::read_backlink(&dir).ok().flatten();
    let names_us = |l: &project::BackLink| {
        (l.id.is_some() && l.id == entry.id) || l.owner(&dir, env).is_some_and(|o| o.real == fsx::same_place(project))
    };
    let ours = user.is_none() && link.as_ref().is_some_and(names_us);
    let mut reason = match ours {
        true => "kept (--keep-env); its back-link goes, so nothing attributes it to the project any more".to_string(),
        false => "kept (--keep-env)".to_string(),
    };
    let mut action = if dir.exists() { Action::Skipped } else { Action::AlreadyGone };
    if ours && !job.dry_run {
        let file = dir.join(project::BACKLINK);
        if let Err(e) = std::fs::remove_file(&file).ctx("cannot remove", &file) {
            (action, reason) = (Action::Failed, format!("kept (--keep-env), but its back-link stays: {e}"));
        }
    }
    Some(Removal {
        id: None,
        kind: Target::Env,
        path: dir.display().to_string(),
        project: Some(shown),
        action,
        reason: Some(reason),
        bytes: 0,
    })
}

/// The row for the marker: wharf's keys out of `.env.wharf`.
fn marker_row(doc: &RegistryDoc, key: &str, project: &Path, dry_run: bool) -> Removal {
    let file = project.join(project::MARKER);
    let row = |action, reason: Option<String>| Removal {
        id: None,
        kind: Target::Marker,
        path: file.display().to_string(),
        project: Some(project.display().to_string()),
        action,
        reason,
        bytes: 0,
    };
    let marker = project::read_marker(project, false).ok().flatten();
    let entry_id = doc.projects.get(key).and_then(|e| e.id.as_deref());
    if let Some(found) = marker.as_ref().and_then(|m| m.contradicting_id(entry_id)) {
        return row(Action::Skipped, Some(format!("it names another project (id `{found}`)")));
    }
    match project::strip_marker(project, dry_run) {
        Ok(Stripped::Rewritten) => row(Action::Removed, Some("wharf's keys removed; your lines stay".into())),
        Ok(Stripped::Deleted) => row(Action::Removed, Some("held only wharf's keys: deleted".into())),
        Ok(Stripped::NothingThere) => row(Action::AlreadyGone, None),
        Err(e) => row(Action::Failed, Some(e.to_string())),
    }
}

/// The whole command: find the entry, then (after `confirm`, unless a dry run) delete its
/// environment, strip its marker and drop its entry, with one registry write. `None` when
/// `confirm` declined.
pub fn run(
    registry: &Registry,
    envs_dir: &Path,
    which: &Which,
    opts: RemoveOptions,
    confirm: Option<&dyn Fn(&Summary) -> bool>,
) -> Result<Option<Outcome>, RemoveError> {
    let env = registry.env();
    let doc = registry.read()?.doc;
    let (key, project) = find_key(&doc, which, env)?;
    let unreferenced_models = unreferenced(&doc, &key, env);
    let real_envs_dir = fsx::same_place(envs_dir);
    let compute = |doc: &mut RegistryDoc, dry_run: bool, preview: Option<&Summary>| {
        let mut items = Vec::new();
        let job = EnvJob { envs_dir, keep: opts.keep_env, held_back: held_back(preview), dry_run };
        items.extend(env_row(doc, &key, &project, env, job));
        items.push(marker_row(doc, &key, &project, dry_run));
        let gone = match dry_run {
            true => doc.projects.contains_key(&key),
            false => doc.projects.remove(&key).is_some(),
        };
        let shown = project.display().to_string();
        let action = if gone { Action::Removed } else { Action::AlreadyGone };
        items.push(Removal {
            id: None,
            kind: Target::Entry,
            path: shown.clone(),
            project: Some(shown),
            action,
            reason: None,
            bytes: 0,
        });
        let reclaimed_bytes = items.iter().filter(|i| i.action == Action::Removed).map(|i| i.bytes).sum();
        Ok::<_, RemoveError>(Summary { dry_run, items, reclaimed_bytes })
    };
    let summary = removal::guarded(registry, &real_envs_dir, opts.dry_run, confirm, compute)?;
    Ok(summary.map(|summary| Outcome { project: project.display().to_string(), summary, unreferenced_models }))
}
