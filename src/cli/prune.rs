//! `wharf prune`: remove orphaned entries and their environments, after asking.
//!
//! On a terminal it shows what would go and asks (default No) unless `--yes`; answered no, it
//! exits 1. Without a terminal and without `--yes` it deletes nothing and exits 2 — unless there is nothing
//! to delete: unattended deletion must be asked for (see `removals.rs`).

use std::process::ExitCode;

use clap::Args;

use wharf::ops::prune::{self, Outcome, PruneOptions, Summary, Target};

use super::{prompt, removals, CliError, Ctx};
use crate::cli::output::human_bytes;

#[derive(Debug, Args)]
pub struct PruneArgs {
    /// Also remove projects whose marker or back-link names another environment
    #[arg(long)]
    pub mismatch: bool,
    /// Also remove environment folders under the envs dir that no entry references
    #[arg(long)]
    pub untracked: bool,
    /// Show exactly what would be removed, in the same shape, and remove nothing
    #[arg(long, short = 'n')]
    pub dry_run: bool,
    /// Also remove model files wharf fetched that no remaining project uses (never other tools' files)
    #[arg(long)]
    pub models: bool,
    /// Do not ask; needed when not on a terminal
    #[arg(long, short = 'y')]
    pub yes: bool,
}

pub fn run(args: PruneArgs, ctx: &Ctx) -> Result<ExitCode, CliError> {
    let opts =
        PruneOptions { mismatch: args.mismatch, untracked: args.untracked, models: args.models, dry_run: args.dry_run };
    let store = match args.models {
        true => Some(ctx.store(wharf::Access { offline: true, allow_http: false })?),
        false => None,
    };
    let registry = ctx.registry();
    let confirm = prompt::Confirm::new("wharf prune");
    let ask = |preview: &Summary| {
        let question = format!("Remove {} ({})?", counts(preview), human_bytes(preview.reclaimed_bytes));
        confirm.ask(&removals::going(preview), &question)
    };
    let confirm_fn: Option<&dyn Fn(&Summary) -> bool> = if args.yes || args.dry_run { None } else { Some(&ask) };
    let Some(summary) = prune::run(&registry, &ctx.layout().envs_dir, store.as_ref(), opts, confirm_fn)? else {
        return Err(confirm.refused());
    };
    report(&summary, ctx);
    Ok(if removals::any_failed(&summary) { ExitCode::from(1) } else { ExitCode::SUCCESS })
}

fn counts(s: &Summary) -> String {
    let envs = s.count(Target::Env, Outcome::Removed);
    let entries = s.count(Target::Entry, Outcome::Removed);
    format!(
        "{envs} environment{} and {entries} entr{}",
        if envs == 1 { "" } else { "s" },
        if entries == 1 { "y" } else { "ies" }
    )
}

fn report(s: &Summary, ctx: &Ctx) {
    if ctx.out.json {
        ctx.out.json(s);
        return;
    }
    if !removals::table(s, &ctx.out) {
        ctx.out.status("nothing to prune");
        return;
    }
    let verb = if s.dry_run { "Would remove" } else { "Removed" };
    ctx.out.status(format!("{verb} {} ({})", counts(s), human_bytes(s.reclaimed_bytes)));
}
