//! `wharf remove [PATH] [--keep-env] [--dry-run] [--yes]`: unregister one project (see
//! `wharf::ops::remove`). Asks like `prune` (see `prompt.rs`); reports in prune's item shape.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;

use wharf::ops::prune::Summary;
use wharf::ops::remove::{self, RemoveError, RemoveOptions, Which};

use super::{prompt, removals, CliError, Ctx};
use crate::cli::output::human_bytes;

#[derive(Debug, Args)]
pub struct RemoveArgs {
    /// The project (default: the one around the current folder); may be a registered path whose
    /// folder is gone
    pub path: Option<PathBuf>,
    /// Keep the environment folder (its back-link is removed, so it is no longer attributed)
    #[arg(long)]
    pub keep_env: bool,
    /// Show exactly what would be removed, in the same shape, and remove nothing
    #[arg(long, short = 'n')]
    pub dry_run: bool,
    /// Do not ask; needed when not on a terminal
    #[arg(long, short = 'y')]
    pub yes: bool,
}

pub fn run(args: RemoveArgs, ctx: &Ctx) -> Result<ExitCode, CliError> {
    let cwd = Ctx::cwd()?;
    let which = match args.path {
        Some(path) => Which::Path { path, cwd },
        None => Which::Around(cwd),
    };
    let registry = ctx.registry();
    let asker = prompt::Confirm::new("wharf remove");
    let ask = |preview: &Summary| {
        let question = format!("Unregister this project ({})?", human_bytes(preview.reclaimed_bytes));
        asker.ask(&removals::going(preview), &question)
    };
    let confirm: Option<&dyn Fn(&Summary) -> bool> = if args.yes || args.dry_run { None } else { Some(&ask) };
    let opts = RemoveOptions { keep_env: args.keep_env, dry_run: args.dry_run };
    let outcome = remove::run(&registry, &ctx.layout().envs_dir, &which, opts, confirm).map_err(|e| match e {
        RemoveError::Registry(e) => CliError::Registry(e),
        e @ (RemoveError::NotRegistered { .. } | RemoveError::Project(_)) => CliError::Usage(e.to_string()),
        e => CliError::failed(e),
    })?;
    let Some(outcome) = outcome else { return Err(asker.refused()) };
    if ctx.out.json {
        ctx.out.json(&outcome);
    } else {
        removals::table(&outcome.summary, &ctx.out);
        let verb = if outcome.summary.dry_run { "Would unregister" } else { "Unregistered" };
        ctx.out.status(format!(
            "{verb} `{}` ({} freed)",
            outcome.project,
            human_bytes(outcome.summary.reclaimed_bytes)
        ));
        if outcome.unreferenced_models > 0 {
            ctx.out.status(format!(
                "{} model(s) it used are now unreferenced and stay in the store: `wharf models gc` or `wharf prune --models` removes them",
                outcome.unreferenced_models
            ));
        }
    }
    Ok(if removals::any_failed(&outcome.summary) { ExitCode::from(1) } else { ExitCode::SUCCESS })
}
