//! The verdict on one registered project, decided against the filesystem.
//!
//! | status     | when |
//! |------------|------|
//! | `valid`    | project, env and marker exist, the marker names the registered env, every model is right |
//! | `orphaned` | project, env or marker missing (`project_missing`, `env_missing`, `marker_missing`, `moved`; `not_registered` from `check PATH`) |
//! | `mismatch` | marker names another env, back-link names another project, a model is missing or differs, wharf.lock disagrees with wharf.toml |
//! | `error`    | undecidable: `permission_denied`, `io_error`, `unset_variable` |
//!
//! `stray_venv` (the project has a `.venv` of its own) is a warning: its status is `valid`.
//!
//! A project collects every reason that applies; its status is the gravest one's, in the order
//! error > orphaned > mismatch > valid, so nothing undecidable is ever pruned by default.
//! Validation only reads: it never changes a file.

use std::collections::HashMap;
use std::io;
use std::path::{Path, PathBuf};

use rayon::prelude::*;

use crate::env::Env;
use crate::fsx::Near;
use crate::home_path::{expand_vars, HomePath, HomePathError};
use crate::project::{self, ProjectError};
use crate::registry::{ProjectEntry, RegistryDoc};

pub use super::verdict::{Code, Reason, Status, Verdict};

/// How thoroughly to validate.
#[derive(Debug, Clone, Copy, Default)]
pub struct Options {
    /// Re-hash model files instead of trusting their size.
    pub full: bool,
}

/// One project's verdict together with the paths it was judged on.
#[derive(Debug, Clone)]
pub struct Judged {
    /// The registry key.
    pub key: String,
    /// The project folder (expanded), if its key could be expanded.
    pub project: Option<PathBuf>,
    /// The environment folder (expanded), if its stored path could be expanded.
    pub env: Option<PathBuf>,
    /// The verdict.
    pub verdict: Verdict,
}

fn io_reason(e: &io::Error, what: &str, path: &Path) -> Reason {
    let code = if e.kind() == io::ErrorKind::PermissionDenied { Code::PermissionDenied } else { Code::IoError };
    Reason { code, message: format!("{what} `{}`: {e}", path.display()) }
}

fn expand(stored: &str, env: &Env, reasons: &mut Vec<Reason>) -> Option<PathBuf> {
    match HomePath::from_stored(stored).expand(env) {
        Ok(p) => Some(p),
        Err(e @ HomePathError::UnsetVar { .. }) => {
            reasons.push(Reason { code: Code::UnsetVariable, message: e.to_string() });
            None
        }
        Err(e) => {
            reasons.push(Reason { code: Code::IoError, message: e.to_string() });
            None
        }
    }
}

/// Judge one entry on its own (`moved` needs the others: see [`validate_all`]).
///
/// The marker and the back-link are read directly: a file read inside a folder proves the folder
/// exists, so the common valid case costs two small reads and no `stat`. Only when a read fails is
/// the folder examined, to say why.
pub fn validate_entry(key: &str, entry: &ProjectEntry, env: &Env, opts: Options) -> Judged {
    judge(key, entry, env, opts, &mut Near::direct())
}

/// [`validate_entry`], with the project's files found through `near` (see [`Near`]).
fn judge(key: &str, entry: &ProjectEntry, env: &Env, opts: Options, near: &mut Near) -> Judged {
    let mut reasons = Vec::new();
    let project = expand(key, env, &mut reasons);
    let env_dir = expand(&entry.env.path, env, &mut reasons);
    if let Some(p) = &project {
        check_marker(p, env_dir.as_deref(), entry, env, near, &mut reasons);
    }
    if let Some(e) = &env_dir {
        check_backlink(project.as_deref(), e, env, near, &mut reasons);
    }
    check_models(entry, env, opts, &mut reasons);
    if let Some(p) = &project {
        if !near.is_missing(&p.join(crate::models::manifest::MANIFEST)) {
            check_declared(p, entry, &mut reasons);
        }
    }
    if let (Some(p), Some(e)) = (&project, &env_dir) {
        if !near.is_missing(&p.join(".venv")) {
            reasons.extend(stray_venv(p, e));
        }
    }
    Judged { key: key.to_string(), project, env: env_dir, verdict: Verdict::from_reasons(reasons) }
}

/// A `.venv` in the project folder (uv makes one when it runs without wharf's variables): a warning
/// that names the way in and the fix, with the status kept valid.
pub fn stray_venv(project_dir: &Path, env_dir: &Path) -> Option<Reason> {
    let venv = project_dir.join(".venv");
    let meta = std::fs::symlink_metadata(&venv).ok()?;
    // A `.venv` link to wharf's own env is a way in the user chose, not a stray environment.
    if meta.file_type().is_symlink() && venv.canonicalize().ok()? == env_dir.canonicalize().ok()? {
        return None;
    }
    // The fix is printed to be pasted: the path is quoted for the shell, spaces and all.
    let message = format!(
        "`{}` is a stray environment: wharf's is `{}`; run commands with `wharf run -- CMD` or \
         `eval \"$(wharf env)\"` so uv uses it, and delete the stray one (`rm -rf {}`)",
        venv.display(),
        env_dir.display(),
        crate::project::shell::sh_quote(&venv.to_string_lossy())
    );
    Some(Reason { code: Code::StrayVenv, message })
}

/// After a failed read inside `dir`: is `dir` itself missing (push `missing` and return true)?
fn folder_missing(dir: &Path, what: &str, missing: Code, reasons: &mut Vec<Reason>) -> bool {
    let why = match std::fs::metadata(dir) {
        Ok(m) if m.is_dir() => return false,
        Ok(_) => "is not a folder".to_string(),
        Err(e) if crate::fsx::is_absent(&e) => "does not exist".to_string(),
        Err(e) => {
            reasons.push(io_reason(&e, &format!("cannot read {what}"), dir));
            return true;
        }
    };
    // A missing project folder is most often a moved one: say how to relink it, not only how to drop it.
    let fix = match missing {
        Code::ProjectMissing => {
            "; if it was moved, run `wharf init` in its new folder (that relinks it and keeps its env), \
             else `wharf remove` drops it"
        }
        _ => "",
    };
    reasons.push(Reason { code: missing, message: format!("{what} `{}` {why}{fix}", dir.display()) });
    true
}

fn check_marker(
    project_dir: &Path,
    env_dir: Option<&Path>,
    entry: &ProjectEntry,
    env: &Env,
    near: &mut Near,
    reasons: &mut Vec<Reason>,
) {
    let marker = match project::read_marker_near(project_dir, entry.legacy_marker, near) {
        Ok(Some(m)) => m,
        Ok(None) => {
            if !folder_missing(project_dir, "project", Code::ProjectMissing, reasons) {
                let message =
                    format!("no `{}` in `{}`; run `wharf init` there", project::MARKER, project_dir.display());
                reasons.push(Reason { code: Code::MarkerMissing, message });
            }
            return;
        }
        Err(e) => {
            if !folder_missing(project_dir, "project", Code::ProjectMissing, reasons) {
                reasons.push(io_reason(&e.source, "cannot read marker", &e.path));
            }
            return;
        }
    };
    let file = marker.file.display();
    match marker.env.as_deref().map(|raw| expand_vars(raw, env)) {
        None => reasons.push(Reason {
            code: Code::MarkerMismatch,
            message: format!("`{file}` names no environment ({} is missing)", project::KEY_ENV),
        }),
        Some(Err(e)) => reasons.push(Reason { code: Code::UnsetVariable, message: format!("`{file}`: {e}") }),
        Some(Ok(named)) => match env_dir {
            Some(e) if Path::new(&named) != e => reasons.push(Reason {
                code: Code::MarkerMismatch,
                message: format!("`{file}` names `{named}`, the registry has `{}`", e.display()),
            }),
            _ => {}
        },
    }
    if let Some(theirs) = marker.contradicting_id(entry.id.as_deref()) {
        let mine = entry.id.as_deref().unwrap_or_default();
        let message = format!("`{file}` has project id {theirs}, the registry has {mine}");
        reasons.push(Reason { code: Code::MarkerMismatch, message });
    }
}

fn check_backlink(project_dir: Option<&Path>, env_dir: &Path, env: &Env, near: &mut Near, reasons: &mut Vec<Reason>) {
    match project::read_backlink_near(env_dir, near) {
        Ok(None) => {
            folder_missing(env_dir, "environment", Code::EnvMissing, reasons);
        }
        Ok(Some(link)) => match expand_vars(&link.project, env) {
            Ok(p) if project_dir.is_none_or(|d| Path::new(&p) == d) => {}
            Ok(p) => reasons.push(Reason {
                code: Code::BacklinkMismatch,
                message: format!("environment `{}` belongs to `{p}`", env_dir.display()),
            }),
            Err(e) => reasons.push(Reason { code: Code::UnsetVariable, message: e.to_string() }),
        },
        Err(ProjectError::Fs(e)) => {
            if !folder_missing(env_dir, "environment", Code::EnvMissing, reasons) {
                reasons.push(io_reason(&e.source, "cannot read back-link", &e.path));
            }
        }
        Err(e) => reasons.push(Reason { code: Code::BacklinkMismatch, message: e.to_string() }),
    }
}

fn check_models(entry: &ProjectEntry, env: &Env, opts: Options, reasons: &mut Vec<Reason>) {
    for model in &entry.models {
        let Some(stored) = &model.path else { continue };
        let Some(path) = expand(stored, env, reasons) else { continue };
        let name = &model.name;
        let fix = "run `wharf pull` in the project";
        // Same size, other bytes: only a re-hash finds it, so only a re-hashing pull repairs it.
        let rehash = "run `wharf pull --verify` in the project";
        match std::fs::metadata(&path) {
            Err(e) if e.kind() == io::ErrorKind::NotFound => reasons.push(Reason {
                code: Code::ModelMissing,
                message: format!("model `{name}`: `{}` is missing; {fix}", path.display()),
            }),
            Err(e) => reasons.push(io_reason(&e, "cannot read model", &path)),
            Ok(m) if model.size.is_some_and(|s| s != m.len()) => reasons.push(Reason {
                code: Code::ModelCorrupt,
                message: format!(
                    "model `{name}`: `{}` is {} bytes, expected {}; {fix}",
                    path.display(),
                    m.len(),
                    model.size.unwrap_or(0)
                ),
            }),
            Ok(_) if opts.full => match (&model.sha256, crate::transfer::hash::sha256_file(&path)) {
                (Some(want), Ok(got)) if !want.eq_ignore_ascii_case(&got) => reasons.push(Reason {
                    code: Code::ModelCorrupt,
                    message: format!(
                        "model `{name}`: sha256 of `{}` is {got}, expected {want}; {rehash}",
                        path.display()
                    ),
                }),
                (_, Err(e)) => reasons.push(io_reason(&e, "cannot hash model", &path)),
                _ => {}
            },
            Ok(_) => {}
        }
    }
}

/// For a project whose wharf.toml declares models, whatever happened before: every one was
/// pulled into the store and recorded (else `model_missing`), and wharf.lock pins each as
/// wharf.toml asks and as the registry recorded it (else `lock_mismatch`). A project without
/// wharf.toml costs one failed open.
fn check_declared(project_dir: &Path, entry: &ProjectEntry, reasons: &mut Vec<Reason>) {
    use crate::models::{lockfile, manifest};
    let fix = "run `wharf pull` in the project";
    let mut push = |code: Code, message: String| reasons.push(Reason { code, message });
    let manifest = match manifest::read(project_dir) {
        Ok(Some(m)) => m,
        Ok(None) => return,
        // Line 0: the file could not be read at all, which decides nothing about it.
        Err(e) if e.line == 0 => return push(Code::IoError, e.to_string()),
        Err(e) => return push(Code::LockMismatch, format!("{e}; fix wharf.toml, then {fix}")),
    };
    for spec in manifest.models.iter().filter(|s| !entry.models.iter().any(|m| m.name == s.name)) {
        let message = format!("model `{}` of wharf.toml is not in the store (never pulled); {fix}", spec.name);
        push(Code::ModelMissing, message);
    }
    let lock = match lockfile::read(project_dir) {
        Ok(Some(lock)) => lock,
        Ok(None) if manifest.models.is_empty() => return,
        Ok(None) => {
            let message = format!("no wharf.lock in `{}`; {fix} and commit wharf.lock", project_dir.display());
            return push(Code::LockMismatch, message);
        }
        Err(lockfile::LockfileError::Fs(e)) => return push(Code::IoError, e.to_string()),
        Err(e) => return push(Code::LockMismatch, e.to_string()),
    };
    let mut problems = lockfile::disagreements(&manifest.models, &lock);
    for m in &entry.models {
        match (lock.get(&m.name), &m.sha256) {
            (Some(l), Some(recorded)) if !l.sha256.as_str().eq_ignore_ascii_case(recorded) => problems
                .push(format!("model `{}`: wharf.lock pins sha256 {}, the store has {recorded}", m.name, l.sha256)),
            _ => {}
        }
    }
    for p in problems {
        push(Code::LockMismatch, format!("{p}; {fix} and commit wharf.lock"));
    }
}

/// Judge every entry (in parallel), then mark `moved` the missing projects whose id lives on at
/// another registered path. Results are in key order.
pub fn validate_all(doc: &RegistryDoc, env: &Env, opts: Options) -> Vec<Judged> {
    let entries: Vec<(&String, &ProjectEntry)> = doc.projects.iter().collect();
    // One `Near` per worker: each opens the few shared folders above the projects once.
    let mut judged: Vec<Judged> =
        entries.par_iter().map_init(Near::new, |near, (k, e)| judge(k, e, env, opts, near)).collect();
    let live_by_id: HashMap<&str, &str> = entries
        .iter()
        .zip(&judged)
        .filter(|(_, j)| !j.verdict.has(Code::ProjectMissing))
        .filter_map(|((k, e), _)| Some((e.id.as_deref()?, k.as_str())))
        .collect();
    for ((key, entry), j) in entries.iter().zip(judged.iter_mut()) {
        let Some(id) = entry.id.as_deref() else { continue };
        match live_by_id.get(id) {
            Some(other) if *other != key.as_str() && j.verdict.has(Code::ProjectMissing) => {
                let mut reasons = std::mem::take(&mut j.verdict.reasons);
                reasons.push(Reason {
                    code: Code::Moved,
                    message: format!("project {id} now lives at `{other}`; `wharf prune` removes this old entry"),
                });
                j.verdict = Verdict::from_reasons(reasons);
            }
            _ => {}
        }
    }
    judged
}

/// The outcome of a validating command (`list`, `check`).
#[derive(Debug, Clone)]
pub struct Validation {
    /// The registry as read (with `last_validated` updated when it could be written).
    pub doc: crate::registry::RegistryDoc,
    /// The verdicts, in key order.
    pub judged: Vec<Judged>,
    /// Set when `last_validated` could not be recorded (busy lock, read-only registry).
    pub warning: Option<String>,
}

/// Validate every project (or only the key `only`) and record `last_validated = now` for them in
/// one best-effort write: if the lock is busy or the registry cannot be written, the verdicts are
/// still given, with a warning.
///
/// The stamp does not depend on the verdicts, so the registry is saved on a thread of its own
/// while the projects are judged (see [`Registry::try_update_beside`]): at 100,000 projects the
/// rewrite (40 MB and an `fsync`) overlaps the judging instead of following it, and the lock is
/// held for the read and the write only, not for the judging.
///
/// [`Registry::try_update_beside`]: crate::registry::Registry::try_update_beside
pub fn run(
    registry: &crate::registry::Registry,
    only: Option<&str>,
    opts: Options,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<Validation, crate::registry::RegistryError> {
    use crate::registry::{Beside, RegistryError};
    let env = registry.env();
    let judge = |doc: &RegistryDoc| match only {
        None => validate_all(doc, env, opts),
        Some(k) => doc.projects.get(k).map(|e| vec![validate_entry(k, e, env, opts)]).unwrap_or_default(),
    };
    let stamp = now.to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let mut previous = Vec::new();
    let change = |doc: &mut RegistryDoc| {
        previous = stamps(doc, only).into_iter().map(|s| s.replace(stamp.clone())).collect();
    };
    let warning = match registry.try_update_beside(change, judge) {
        Ok(Some(Beside { doc, out: judged, saved: Ok(()) })) => return Ok(Validation { doc, judged, warning: None }),
        Ok(Some(Beside { mut doc, out: judged, saved: Err(e) })) => {
            // Not written: show the stamps the file still has.
            for (s, old) in stamps(&mut doc, only).into_iter().zip(previous) {
                *s = old;
            }
            return Ok(Validation { doc, judged, warning: Some(format!("last_validated not recorded: {e}")) });
        }
        Ok(None) => "the registry is busy".to_string(),
        Err(e @ (RegistryError::Corrupt { .. } | RegistryError::TooNew { .. })) => return Err(e),
        Err(e) => e.to_string(),
    };
    let doc = registry.read()?.doc;
    let judged = judge(&doc);
    Ok(Validation { doc, judged, warning: Some(format!("last_validated not recorded: {warning}")) })
}

/// The `last_validated` fields a validation of `only` (or of every project) stamps.
fn stamps<'a>(doc: &'a mut RegistryDoc, only: Option<&str>) -> Vec<&'a mut Option<String>> {
    match only {
        None => doc.projects.values_mut().map(|e| &mut e.last_validated).collect(),
        Some(k) => doc.projects.get_mut(k).map(|e| &mut e.last_validated).into_iter().collect(),
    }
}
