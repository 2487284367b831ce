//! `wharf check`: the CI gate. Which project is meant, its verdict (a folder with no entry is
//! `orphaned` with `not_registered`, fixed by `wharf init`), and which statuses fail the check.
//! Judging only reads; afterwards the model views of each judged project whose environment is its
//! own are brought in step ([`views::sync`]: missing or stale links made again, links of models no
//! longer declared removed), which never changes a verdict.

use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};

use crate::home_path::{HomePath, HomePathError};
use crate::models::views;
use crate::ops::validate::{self, Code, Options, Reason, Status, Validation, Verdict};
use crate::project::{self, ProjectError};
use crate::registry::{Registry, RegistryError};

/// Which projects `check` judges.
#[derive(Debug, Clone)]
pub enum Scope {
    /// Every registered project.
    All,
    /// The project at this folder.
    Folder(PathBuf),
    /// The project around this folder (the current one): the nearest folder at or above it that
    /// holds a marker, else the folder itself.
    Around(PathBuf),
}

/// The statuses that fail the check when `--fail-on` names none.
pub const FAIL_ON: [Status; 3] = [Status::Orphaned, Status::Mismatch, Status::Error];

/// Why `check` could not judge.
#[derive(Debug, thiserror::Error)]
pub enum CheckError {
    /// The folder cannot be resolved (the user's input: exit 2).
    #[error(transparent)]
    Project(#[from] ProjectError),
    /// The folder cannot be stored as a registry key.
    #[error(transparent)]
    Key(#[from] HomePathError),
    /// The registry cannot be read.
    #[error(transparent)]
    Registry(#[from] RegistryError),
    /// The folder is no project: no marker at or above it, and no registry entry.
    #[error(transparent)]
    NoProject(#[from] project::NoProject),
}

/// What `check` found.
#[derive(Debug, Clone)]
pub struct Checked {
    /// The registered projects judged (all, or the one meant).
    pub validation: Validation,
    /// The folder meant, when it has no registry entry, and its verdict.
    pub unregistered: Option<(PathBuf, Verdict)>,
    /// Model views left alone or not updated, one line each.
    pub view_warnings: Vec<String>,
}

impl Checked {
    /// True when no project judged has a status of `fail_on` (empty: [`FAIL_ON`]).
    pub fn passes(&self, fail_on: &[Status]) -> bool {
        let fail_on = if fail_on.is_empty() { &FAIL_ON[..] } else { fail_on };
        let judged = self.validation.judged.iter().map(|j| j.verdict.status);
        let mut statuses = judged.chain(self.unregistered.iter().map(|(_, v)| v.status));
        statuses.all(|s| !fail_on.contains(&s))
    }
}

/// The verdict on a project folder with no registry entry.
pub fn unregistered(dir: &Path) -> Verdict {
    let message = format!("`{}` is not registered; run `wharf init` there", dir.display());
    Verdict { status: Status::Orphaned, reasons: vec![Reason { code: Code::NotRegistered, message }] }
}

/// Judge the projects of `scope` (see [`validate::run`], which also records `last_validated`).
pub fn run(registry: &Registry, scope: &Scope, opts: Options, now: DateTime<Utc>) -> Result<Checked, CheckError> {
    let dir = match scope {
        Scope::All => None,
        Scope::Folder(p) => Some(project::canonical(p)?),
        Scope::Around(p) => {
            let dir = project::canonical(p)?;
            Some(project::find_root(&dir).unwrap_or(dir))
        }
    };
    // No marker and no entry: there is nothing to judge, and calling the folder "orphaned" would
    // suggest something was lost.
    let no_marker = dir.as_deref().is_some_and(|d| project::find_root(d).is_none());
    let key = dir.as_deref().map(|d| HomePath::from_path_in(d, registry.env())).transpose()?;
    let validation = validate::run(registry, key.as_ref().map(HomePath::as_str), opts, now)?;
    if no_marker && validation.judged.is_empty() {
        return Err(project::NoProject { dir: dir.unwrap_or_default() }.into());
    }
    let unregistered = dir.filter(|_| validation.judged.is_empty()).map(|d| {
        let verdict = unregistered(&d);
        (d, verdict)
    });
    let view_warnings = sync_views(&validation, registry.env());
    Ok(Checked { validation, unregistered, view_warnings })
}

/// The views of every judged project that has its own environment (not orphaned, undecidable or
/// claimed by another project's back-link).
fn sync_views(validation: &Validation, env: &crate::env::Env) -> Vec<String> {
    let mut warnings = Vec::new();
    for j in &validation.judged {
        let own =
            matches!(j.verdict.status, Status::Valid | Status::Mismatch) && !j.verdict.has(Code::BacklinkMismatch);
        let (Some(project), Some(env_dir), Some(entry)) = (&j.project, &j.env, validation.doc.projects.get(&j.key))
        else {
            continue;
        };
        if own {
            warnings.extend(views::warnings(views::sync(env_dir, project, &entry.models, env).map(Some)));
        }
    }
    warnings
}
