//! The project document shared by `list` and `check` (`P` in the README's JSON contract), and its
//! human table.

use serde::Serialize;

use wharf::ops::validate::{Judged, Reason};
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
    pub path: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct ProjectView {
    pub path: String,
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

fn model_view(m: &ModelRef) -> ModelView {
    ModelView {
        name: m.name.clone(),
        source: m.source.clone(),
        sha256: m.sha256.clone(),
        size: m.size,
        path: m.path.clone(),
    }
}

pub fn project_view(j: &Judged, e: &ProjectEntry) -> ProjectView {
    ProjectView {
        path: j.project.as_ref().map_or(j.key.clone(), |p| p.display().to_string()),
        name: e.name.clone(),
        id: e.id.clone(),
        status: j.verdict.status,
        reasons: j.verdict.reasons.clone(),
        env: Some(EnvView {
            path: e.env.path.clone(),
            expanded: j.env.as_ref().map_or(e.env.expanded.clone(), |p| p.display().to_string()),
        }),
        models: e.models.iter().map(model_view).collect(),
        created_at: Some(e.created_at.clone()),
        last_validated: e.last_validated.clone(),
        size_bytes: None,
    }
}

/// The table `list` and `check` print.
pub fn print_table(out: &Output, views: &[ProjectView], sizes: bool) {
    let mut header = vec!["STATUS", "NAME", "PROJECT", "ENV", "MODELS"];
    if sizes {
        header.push("SIZE");
    }
    let rows: Vec<Vec<String>> = views
        .iter()
        .map(|v| {
            let mut row = vec![
                v.status.to_string(),
                v.name.clone(),
                v.path.clone(),
                v.env.as_ref().map_or("-".into(), |e| e.path.clone()),
                v.models.len().to_string(),
            ];
            if sizes {
                row.push(v.size_bytes.map_or("-".into(), human_bytes));
            }
            row
        })
        .collect();
    out.table(&header, &rows, Some((0, super::status_color)));
    for v in views.iter().filter(|v| !v.reasons.is_empty()) {
        out.line(format!("\n{} {}", out.paint(v.status.as_str(), super::status_color(v.status.as_str())), v.path));
        for r in &v.reasons {
            out.line(format!(
                "  {}: {}",
                serde_json::to_value(r.code).unwrap_or_default().as_str().unwrap_or(""),
                r.message
            ));
        }
    }
}
