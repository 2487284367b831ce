//! `wharf check`: the CI gate. Exit 0 when every checked project is valid, 1 when any is not (or has
//! a status named by `--fail-on`), 2 on usage errors, 3 when the registry cannot be read.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;
use serde::Serialize;

use wharf::ops::check::{self, CheckError, Scope};
use wharf::ops::validate::{self, Verdict};
use wharf::{project, Status};

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
}

#[derive(Serialize)]
struct CheckDoc {
    ok: bool,
    projects: Vec<ProjectView>,
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
    let ok = checked.passes(&args.fail_on);
    if ctx.out.json {
        ctx.out.json(&CheckDoc { ok, projects: views });
    } else {
        print_table(&ctx.out, &views, false, ctx.wharf.env());
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
