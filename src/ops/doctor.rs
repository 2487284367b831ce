//! `wharf doctor [--repair]`: how healthy the registry is, and rebuilding it from back-links.
//!
//! Every environment wharf makes holds a back-link (`.wharf-project.json`) naming its project, so
//! the registry can always be rebuilt from the envs dir. Without `--repair` the doctor only reads.
//! With it, a corrupt `registry.json` is moved aside to `registry.json.corrupt-<timestamp>` (never
//! deleted) and every environment whose back-link names a project not yet registered gets its
//! entry back — whether or not that project still exists, so that `list` can then show it and
//! `prune` can clean it up.

use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::env::Env;
use crate::home_path::{expand_vars, HomePath};
use crate::project::{self, BackLink};
use crate::registry::{EnvRef, ProjectEntry, Registry, RegistryDoc, RegistryError};

/// What state `registry.json` was found in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RegistryState {
    /// Read and in the current or an older version.
    Ok,
    /// Not there yet (no project registered).
    Missing,
    /// Not JSON, or not the registry's shape: left as it is until `--repair`.
    Corrupt,
    /// Written by a newer wharf: never touched.
    TooNew,
}

/// An environment whose back-link names a project the registry has no entry for.
#[derive(Debug, Clone, Serialize)]
pub struct Orphan {
    /// The env folder.
    pub env: String,
    /// The project its back-link names (stored form).
    pub project: String,
}

/// What `wharf doctor` found and, with `--repair`, did.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// The registry file.
    pub registry: String,
    /// The state it was found in.
    pub state: RegistryState,
    /// What is wrong with the registry, if anything.
    pub problem: Option<String>,
    /// The schema version it was found in (none when missing or unreadable).
    pub version_found: Option<u32>,
    /// How many projects it registers.
    pub entries: usize,
    /// The envs dir searched for back-links.
    pub envs_dir: String,
    /// Env folders with a back-link whose project has no entry.
    pub unregistered: Vec<Orphan>,
    /// True when `--repair` ran.
    pub repaired: bool,
    /// Where a corrupt registry was moved (`registry.json.corrupt-<stamp>`).
    pub moved_aside: Option<String>,
    /// The projects whose entries were rebuilt from back-links.
    pub rebuilt: Vec<String>,
}

/// Back-linked env folders under `envs_dir` whose project is not a key of `doc`.
fn unregistered(doc: &RegistryDoc, envs_dir: &Path, env: &Env) -> Vec<(PathBuf, BackLink, String)> {
    let registered_envs: std::collections::HashSet<PathBuf> =
        doc.projects.values().filter_map(|e| e.env_dir(env).ok()).collect();
    crate::ops::prune::scan_envs_dir(envs_dir)
        .into_iter()
        .filter(|d| !d.is_symlink() && !registered_envs.contains(d))
        .filter_map(|d| {
            let link = project::read_backlink(&d).ok().flatten()?;
            // Store the key in `${HOME}` form whatever form the back-link used.
            let key = expand_vars(&link.project, env)
                .ok()
                .and_then(|abs| HomePath::from_path_in(Path::new(&abs), env).ok())
                .map_or(link.project.clone(), |h| h.to_string());
            (!doc.projects.contains_key(&key)).then_some((d, link, key))
        })
        .collect()
}

fn entry_from(dir: &Path, link: &BackLink, key: &str, env: &Env) -> Option<ProjectEntry> {
    let folder = dir.file_name()?.to_string_lossy().into_owned();
    let (name, hash) = folder.rsplit_once('_').unwrap_or((folder.as_str(), ""));
    let path = HomePath::from_path_in(dir, env).ok()?;
    Some(ProjectEntry {
        name: name.to_string(),
        path_hash: expand_vars(key, env).map(|p| project::path_hash(Path::new(&p))).unwrap_or_else(|_| hash.into()),
        id: link.id.clone(),
        env: EnvRef { path: path.to_string(), expanded: dir.display().to_string(), extra: Default::default() },
        models: Vec::new(),
        created_at: link.created_at.clone(),
        last_validated: None,
        legacy_marker: false,
        extra: Default::default(),
    })
}

/// Examine (and with `repair`, mend) the registry. `stamp` names a moved-aside corrupt file.
pub fn run(registry: &Registry, envs_dir: &Path, repair: bool, stamp: &str) -> Result<Report, RegistryError> {
    let env = registry.env();
    let mut report = Report {
        registry: registry.path().display().to_string(),
        state: RegistryState::Ok,
        problem: None,
        version_found: None,
        entries: 0,
        envs_dir: envs_dir.display().to_string(),
        unregistered: Vec::new(),
        repaired: false,
        moved_aside: None,
        rebuilt: Vec::new(),
    };
    let empty = RegistryDoc::default();
    let loaded = registry.read();
    let doc = match &loaded {
        Ok(l) => {
            report.state = if l.info.exists { RegistryState::Ok } else { RegistryState::Missing };
            report.version_found = l.info.exists.then_some(l.info.found.number());
            report.entries = l.doc.projects.len();
            &l.doc
        }
        Err(e @ RegistryError::Corrupt { .. }) => {
            report.state = RegistryState::Corrupt;
            report.problem = Some(e.to_string());
            &empty
        }
        Err(e @ RegistryError::TooNew { .. }) => {
            report.state = RegistryState::TooNew;
            report.problem = Some(e.to_string());
            &empty
        }
        Err(_) => return loaded.map(|_| report),
    };
    report.unregistered = unregistered(doc, envs_dir, env)
        .into_iter()
        .map(|(d, _, key)| Orphan { env: d.display().to_string(), project: key })
        .collect();
    if !repair || report.state == RegistryState::TooNew {
        return Ok(report);
    }
    let (aside, rebuilt) = registry.recover(stamp, |doc, _| {
        let mut rebuilt = Vec::new();
        for (dir, link, key) in unregistered(doc, envs_dir, env) {
            if let Some(entry) = entry_from(&dir, &link, &key, env) {
                doc.projects.insert(key.clone(), entry);
                rebuilt.push(key);
            }
        }
        Ok::<_, RegistryError>(rebuilt)
    })?;
    report.repaired = true;
    report.moved_aside = aside.map(|p| p.display().to_string());
    report.rebuilt = rebuilt;
    Ok(report)
}
