//! `wharf list`: every project, its status and reasons; `--sizes` adds bytes on disk.

use std::process::ExitCode;

use clap::Args;
use rayon::prelude::*;
use serde::Serialize;

use wharf::ops::validate;
use wharf::{fsx, Status};

use super::view::{print_table, project_views, ProjectView};
use super::{CliError, Ctx};

#[derive(Debug, Args)]
pub struct ListArgs {
    /// Show only projects with this status (repeatable: valid, orphaned, mismatch, error)
    #[arg(long, value_name = "STATUS")]
    pub status: Vec<Status>,
    /// Add the bytes each environment takes on disk (counted in parallel)
    #[arg(long)]
    pub sizes: bool,
}

#[derive(Serialize)]
struct ListDoc {
    projects: Vec<ProjectView>,
}

pub fn run(args: ListArgs, ctx: &Ctx) -> Result<ExitCode, CliError> {
    let v = validate::run(&ctx.registry(), None, validate::Options::default(), ctx.now)?;
    if let Some(w) = &v.warning {
        ctx.out.warn(w);
    }
    let keep = |j: &validate::Judged| args.status.is_empty() || args.status.contains(&j.verdict.status);
    let mut views = project_views(&v, keep, ctx.wharf.env());
    if args.sizes {
        let envs: Vec<Option<std::path::PathBuf>> = views
            .iter()
            .map(|p| p.env.as_ref().map(|e| std::path::PathBuf::from(&e.expanded)).filter(|p| p.is_dir()))
            .collect();
        let sizes: Vec<Option<u64>> = envs.par_iter().map(|e| e.as_deref().map(fsx::dir_size)).collect();
        for (view, size) in views.iter_mut().zip(sizes) {
            view.size_bytes = Some(size.unwrap_or(0));
        }
    }
    if ctx.out.json {
        ctx.out.json(&ListDoc { projects: views });
    } else if views.is_empty() {
        ctx.out.status("no projects registered yet; run `wharf init` in a project");
    } else {
        print_table(&ctx.out, &views, args.sizes, ctx.wharf.env());
    }
    Ok(ExitCode::SUCCESS)
}
