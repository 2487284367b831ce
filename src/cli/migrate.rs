//! `wharf migrate`: bring the registry file to the current schema version now (every writing
//! command does it anyway, on its first write).

use std::process::ExitCode;

use clap::Args;

use super::{CliError, Ctx};

#[derive(Debug, Args)]
pub struct MigrateArgs {
    /// Say what would change, and write nothing
    #[arg(long, short = 'n')]
    pub dry_run: bool,
}

pub fn run(args: MigrateArgs, ctx: &Ctx) -> Result<ExitCode, CliError> {
    let report = ctx.registry().migrate(args.dry_run)?;
    if ctx.out.json {
        ctx.out.json(&report);
    } else if report.steps.is_empty() {
        ctx.out.status(format!("`{}` is already at version {}", report.registry, report.to));
    } else {
        let verb = if args.dry_run { "would migrate" } else { "migrated" };
        ctx.out.status(format!(
            "{verb} `{}` from version {} to {} ({}; {} entries)",
            report.registry,
            report.from,
            report.to,
            report.steps.join(", "),
            report.entries
        ));
        if let Some(b) = &report.backup {
            ctx.out.status(format!("  the old file is kept as `{b}`"));
        }
    }
    Ok(ExitCode::SUCCESS)
}
