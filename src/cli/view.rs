//! The project document shared by `list` and `check` (`P` in the README's JSON contract), and its
//! human table.

use std::path::Path;

use serde::Serialize;

use wharf::home_path::{HomePath, HOME_VAR};
use wharf::Env;

use rayon::prelude::*;

use wharf::ops::validate::{Judged, Reason, Validation};
use wharf::registry::{ModelRef, ProjectEntry};
use wharf::Status;

use crate::cli::output::{human_bytes, Output};

#[derive(Debug, Serialize)]
pub struct EnvView {
    pub path: String,
    pub expanded: String,
}

#[derive(Debug, Serialize)]
pub struct ModelView {
    pub name: String,
    pub source: String,
    pub sha256: Option<String>,
    pub size: Option<u64>,
    /// As stored (`${HOME}/…`).
    pub path: Option<String>,
    /// `path` with the current home: the file to open.
    pub expanded: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct ProjectView {
    /// The project folder, expanded.
    pub path: String,
    /// The registry key: the folder as stored (`${HOME}/…`).
    pub key: Option<String>,
    pub name: String,
    pub id: Option<String>,
    pub status: Status,
    pub reasons: Vec<Reason>,
    pub env: Option<EnvView>,
    pub models: Vec<ModelView>,
    pub created_at: Option<String>,
    pub last_validated: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub size_bytes: Option<u64>,
}

fn model_view(m: &ModelRef, env: &Env) -> ModelView {
    ModelView {
        name: m.name.clone(),
        source: m.source.clone(),
        sha256: m.sha256.clone(),
        size: m.size,
        path: m.path.clone(),
        expanded: m
            .path
            .as_ref()
            .and_then(|p| HomePath::from_stored(p.as_str()).expand(env).ok())
            .map(|p| p.display().to_string()),
    }
}

pub fn project_view(j: &Judged, e: &ProjectEntry, env: &Env) -> ProjectView {
    ProjectView {
        path: j.project.as_ref().map_or(j.key.clone(), |p| p.display().to_string()),
        key: Some(j.key.clone()),
        name: e.name.clone(),
        id: e.id.clone(),
        status: j.verdict.status,
        reasons: j.verdict.reasons.clone(),
        env: Some(EnvView {
            path: e.env.path.clone(),
            expanded: j.env.as_ref().map_or(e.env.expanded.clone(), |p| p.display().to_string()),
        }),
        models: e.models.iter().map(|m| model_view(m, env)).collect(),
        created_at: Some(e.created_at.clone()),
        last_validated: e.last_validated.clone(),
        size_bytes: None,
    }
}

/// The views of the judged projects that `keep` keeps, in key order; built in parallel, since at
/// 100,000 projects copying every entry's strings is a tenth of a second on one core.
pub fn project_views(v: &Validation, keep: impl Fn(&Judged) -> bool + Sync, env: &Env) -> Vec<ProjectView> {
    v.judged
        .par_iter()
        .filter(|j| keep(j))
        .filter_map(|j| Some(project_view(j, v.doc.projects.get(&j.key)?, env)))
        .collect()
}

/// A path as a table shows it: expanded, with `~` for the home folder (by the rule the registry
/// stores `${HOME}` with, so a home reached through a symlink is `~` too).
pub fn shown(path: &str, env: &Env) -> String {
    HomePath::from_path_in(Path::new(path), env)
        .ok()
        .and_then(|h| h.as_str().strip_prefix(HOME_VAR).map(|rest| format!("~{rest}")))
        .unwrap_or_else(|| path.to_string())
}

/// The table `list` and `check` print. Paths are expanded (`~/…`); when two projects share a
/// name, an ID column tells them apart.
pub fn print_table(out: &Output, views: &[ProjectView], sizes: bool, env: &Env) {
    let mut names = std::collections::HashSet::new();
    let ids = views.iter().any(|v| !names.insert(v.name.as_str()));
    let mut header = vec!["STATUS", "NAME"];
    if ids {
        header.push("ID");
    }
    header.extend(["PROJECT", "ENV", "MODELS"]);
    if sizes {
        header.push("SIZE");
    }
    let rows: Vec<Vec<String>> = views
        .iter()
        .map(|v| {
            let mut row = vec![v.status.to_string(), v.name.clone()];
            if ids {
                row.push(v.id.as_deref().map_or("-".into(), |id| id.chars().take(8).collect()));
            }
            row.extend([
                shown(&v.path, env),
                v.env.as_ref().map_or("-".into(), |e| shown(&e.expanded, env)),
                v.models.len().to_string(),
            ]);
            if sizes {
                row.push(v.size_bytes.map_or("-".into(), human_bytes));
            }
            row
        })
        .collect();
    out.table(&header, &rows, Some((0, super::status_color)));
    for v in views.iter().filter(|v| !v.reasons.is_empty()) {
        out.line(format!(
            "\n{} {}",
            out.paint(v.status.as_str(), super::status_color(v.status.as_str())),
            shown(&v.path, env)
        ));
        for r in &v.reasons {
            out.line(format!(
                "  {}: {}",
                serde_json::to_value(r.code).unwrap_or_default().as_str().unwrap_or(""),
                r.message
            ));
        }
    }
}
