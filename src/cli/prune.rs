//! `wharf prune`: remove orphaned entries and their environments, after asking.
//!
//! On a terminal it shows what would go and asks (default No) unless `--yes`. Without a terminal
//! and without `--yes` it deletes nothing and exits 2: unattended deletion must be asked for.

use std::process::ExitCode;

use clap::Args;

use wharf::ops::prune::{self, Outcome, PruneOptions, Summary, Target};

use super::{prompt, CliError, Ctx};
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
    if !args.dry_run && !args.yes && !prompt::interactive() {
        registry.read()?; // an unreadable registry still says so with exit 3
        return Err(CliError::Usage(
            "not on a terminal, so nothing was removed\n  hint: pass `--yes` to prune without asking, or `--dry-run` to see what would go".into(),
        ));
    }
    let ask = |preview: &Summary| confirm(preview, ctx);
    let confirm_fn: Option<&dyn Fn(&Summary) -> bool> = if args.yes || args.dry_run { None } else { Some(&ask) };
    let Some(summary) = prune::run(&registry, &ctx.layout().envs_dir, store.as_ref(), opts, confirm_fn)? else {
        ctx.out.status("nothing removed");
        return Ok(ExitCode::SUCCESS);
    };
    report(&summary, ctx);
    let failed = summary.items.iter().any(|i| i.action == Outcome::Failed);
    Ok(if failed { ExitCode::from(1) } else { ExitCode::SUCCESS })
}

fn confirm(preview: &Summary, ctx: &Ctx) -> bool {
    let going: Vec<_> = preview.items.iter().filter(|i| i.action == Outcome::Removed).collect();
    if going.is_empty() {
        return true;
    }
    eprintln!("wharf will remove:");
    for i in &going {
        eprintln!(
            "  {:<5} {} {}",
            kind(i.kind),
            i.path,
            if i.bytes > 0 { human_bytes(i.bytes) } else { String::new() }
        );
    }
    let yes = prompt::ask(&format!("Remove {} ({})?", counts(preview), human_bytes(preview.reclaimed_bytes)));
    if !yes {
        ctx.out.status("aborted");
    }
    yes
}

fn kind(k: Target) -> &'static str {
    match k {
        Target::Env => "env",
        Target::Entry => "entry",
        Target::Model => "model",
    }
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
    let rows: Vec<Vec<String>> = s
        .items
        .iter()
        .map(|i| {
            let action = serde_json::to_value(i.action).unwrap_or_default().as_str().unwrap_or("").to_string();
            let bytes = if i.bytes > 0 { human_bytes(i.bytes) } else { String::new() };
            vec![action, kind(i.kind).into(), i.path.clone(), bytes, i.reason.clone().unwrap_or_default()]
        })
        .collect();
    if rows.is_empty() {
        ctx.out.status("nothing to prune");
        return;
    }
    ctx.out.table(&["ACTION", "KIND", "PATH", "SIZE", "REASON"], &rows, None);
    let verb = if s.dry_run { "Would remove" } else { "Removed" };
    ctx.out.status(format!("{verb} {} ({})", counts(s), human_bytes(s.reclaimed_bytes)));
}
