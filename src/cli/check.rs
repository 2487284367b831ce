//! `wharf check`: the CI gate. Exit 0 when every checked project is valid, 1 when any is not (or has
//! a status named by `--fail-on`), 2 on usage errors, 3 when the registry cannot be read.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;
use serde::Serialize;

use wharf::models::manifest;
use wharf::models::remote::{in_team_store, InTeam, RemoteError};
use wharf::ops::check::{self, CheckError, Scope};
use wharf::ops::validate::{self, Verdict};
use wharf::{project, Status};

use super::project_pull::runtime;
use super::view::{print_table, project_views, ProjectView};
use super::{CliError, Ctx};

#[derive(Debug, Args)]
pub struct CheckArgs {
    /// The project to check (default: the project around the current folder, found by its marker)
    #[arg(conflicts_with = "all")]
    pub path: Option<PathBuf>,
    /// Check every registered project
    #[arg(long)]
    pub all: bool,
    /// Re-hash model files instead of trusting their recorded size
    #[arg(long)]
    pub full: bool,
    /// Statuses that fail the check (default: orphaned,mismatch,error)
    #[arg(long, value_delimiter = ',', value_name = "STATUS,...")]
    pub fail_on: Vec<Status>,
    /// Also fail unless every model the project's wharf.lock pins is in a team store (the s3://
    /// entries of WHARF_MIRRORS): for CI that must not reach the hub
    #[arg(long)]
    pub remote: bool,
}

#[derive(Serialize)]
struct CheckDoc {
    ok: bool,
    projects: Vec<ProjectView>,
    #[serde(skip_serializing_if = "Option::is_none")]
    remote: Option<Vec<RemoteDoc>>,
}

/// `--remote`: a project's pinned models and the team store that has each.
#[derive(Serialize)]
struct RemoteDoc {
    project: String,
    models: Vec<InTeam>,
}

/// The pinned models of each checked project that has a `wharf.toml`, and which team store has
/// them; false when one is missing.
fn remote(ctx: &Ctx, dirs: &[PathBuf]) -> Result<(bool, Vec<RemoteDoc>), CliError> {
    let store = ctx.store(wharf::Access::default())?;
    let runtime = runtime()?;
    let mut docs = Vec::new();
    for dir in dirs.iter().filter(|d| d.join(manifest::MANIFEST).is_file()) {
        let models = runtime.block_on(in_team_store(&store, dir)).map_err(|e| match e {
            RemoteError::NoLock(_) | RemoteError::Lockfile(_) => CliError::Usage(e.to_string()),
            e => CliError::failed(e),
        })?;
        docs.push(RemoteDoc { project: dir.display().to_string(), models });
    }
    let ok = docs.iter().all(|d| d.models.iter().all(|m| m.team_store.is_some()));
    Ok((ok, docs))
}

pub fn run(args: CheckArgs, ctx: &Ctx) -> Result<ExitCode, CliError> {
    let scope = match (args.path, args.all) {
        (_, true) => Scope::All,
        (Some(p), false) => Scope::Folder(p),
        (None, false) => Scope::Around(Ctx::cwd()?),
    };
    let checked =
        check::run(&ctx.registry(), &scope, validate::Options { full: args.full }, ctx.now).map_err(|e| match e {
            CheckError::Registry(e) => CliError::Registry(e),
            e @ CheckError::Project(_) => CliError::Usage(e.to_string()),
            e @ CheckError::NoProject(_) => CliError::Coded("no_project", e.to_string()),
            e => CliError::failed(e),
        })?;
    let v = &checked.validation;
    for w in v.warning.iter().chain(&checked.view_warnings) {
        ctx.out.warn(w);
    }
    let mut views = project_views(v, |_| true, ctx.wharf.env());
    if let Some((dir, verdict)) = &checked.unregistered {
        views.push(unregistered(dir, verdict));
    }
    let mut ok = checked.passes(&args.fail_on);
    let remote = match args.remote {
        true => {
            let dirs: Vec<PathBuf> = v
                .judged
                .iter()
                .filter_map(|j| j.project.clone())
                .chain(checked.unregistered.iter().map(|(d, _)| d.clone()))
                .collect();
            let (in_team, docs) = remote(ctx, &dirs)?;
            ok &= in_team;
            Some(docs)
        }
        false => None,
    };
    if ctx.out.json {
        ctx.out.json(&CheckDoc { ok, projects: views, remote });
    } else {
        print_table(&ctx.out, &views, false, ctx.wharf.env());
        for doc in remote.iter().flatten() {
            let there = doc.models.iter().filter(|m| m.team_store.is_some()).count();
            for m in doc.models.iter().filter(|m| m.team_store.is_none()) {
                ctx.out.line(format!(
                    "not in the team store: model `{}` of {} (sha256 {})",
                    m.name, doc.project, m.sha256
                ));
            }
            ctx.out.status(format!("{}: {there} of {} pinned models in the team store", doc.project, doc.models.len()));
        }
        let bad = views.iter().filter(|p| p.status != Status::Valid).count();
        ctx.out.status(format!(
            "{} checked: {} valid, {bad} not{}",
            plural(views.len(), "project"),
            views.len() - bad,
            if ok { "" } else { " — check failed" }
        ));
    }
    Ok(if ok { ExitCode::SUCCESS } else { ExitCode::from(1) })
}

fn plural(n: usize, word: &str) -> String {
    if n == 1 {
        format!("1 {word}")
    } else {
        format!("{n} {word}s")
    }
}

/// The row of a project folder with no registry entry.
fn unregistered(dir: &std::path::Path, verdict: &Verdict) -> ProjectView {
    ProjectView {
        path: dir.display().to_string(),
        key: None,
        name: project::project_name(dir),
        id: None,
        status: verdict.status,
        reasons: verdict.reasons.clone(),
        env: None,
        models: Vec::new(),
        created_at: None,
        last_validated: None,
        size_bytes: None,
    }
}
