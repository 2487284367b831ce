//! `wharf check`: the CI gate. Exit 0 when every checked project is valid, 1 when any is not (or has
//! a status named by `--fail-on`), 2 on usage errors, 3 when the registry cannot be read.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;
use serde::Serialize;

use wharf::home_path::HomePath;
use wharf::ops::validate::{self, Code, Reason};
use wharf::{project, Status};

use super::view::{print_table, project_view, ProjectView};
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
    let opts = validate::Options { full: args.full };
    let only = match (&args.path, args.all) {
        (_, true) => None,
        (path, false) => {
            let path = match path {
                Some(p) => p.clone(),
                None => Ctx::cwd()?,
            };
            let mut dir = project::canonical(&path).map_err(|e| CliError::Usage(e.to_string()))?;
            if args.path.is_none() {
                dir = project::find_root(&dir).unwrap_or(dir);
            }
            Some((dir.clone(), HomePath::from_path_in(&dir, ctx.env()).map_err(CliError::failed)?.to_string()))
        }
    };
    let v = validate::run(&ctx.registry(), only.as_ref().map(|(_, k)| k.as_str()), opts, ctx.now)?;
    if let Some(w) = &v.warning {
        ctx.out.warn(w);
    }
    let mut views: Vec<ProjectView> =
        v.judged.iter().filter_map(|j| Some(project_view(j, v.doc.projects.get(&j.key)?))).collect();
    if let (Some((dir, _)), true) = (&only, views.is_empty()) {
        views.push(unregistered(dir));
    }
    let fail_on =
        if args.fail_on.is_empty() { vec![Status::Orphaned, Status::Mismatch, Status::Error] } else { args.fail_on };
    let ok = views.iter().all(|p| !fail_on.contains(&p.status));
    if ctx.out.json {
        ctx.out.json(&CheckDoc { ok, projects: views });
    } else {
        print_table(&ctx.out, &views, false);
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

/// A project folder with no registry entry: not valid, and the fix is `wharf init`.
fn unregistered(dir: &std::path::Path) -> ProjectView {
    ProjectView {
        path: dir.display().to_string(),
        name: project::project_name(dir),
        id: None,
        status: Status::Orphaned,
        reasons: vec![Reason {
            code: Code::NotRegistered,
            message: format!("`{}` is not registered; run `wharf init` there", dir.display()),
        }],
        env: None,
        models: Vec::new(),
        created_at: None,
        last_validated: None,
        size_bytes: None,
    }
}
