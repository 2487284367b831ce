//! `wharf doctor [--repair]`: what is wrong with the registry, and mending it from back-links.

use std::process::ExitCode;

use clap::Args;

use wharf::ops::doctor::{self, RegistryState};

use super::{CliError, Ctx};

#[derive(Debug, Args)]
pub struct DoctorArgs {
    /// Set a corrupt registry aside (registry.json.corrupt-<time>) and rebuild entries from back-links
    #[arg(long)]
    pub repair: bool,
}

pub fn run(args: DoctorArgs, ctx: &Ctx) -> Result<ExitCode, CliError> {
    let stamp = ctx.now.format("%Y%m%dT%H%M%SZ").to_string();
    let report = doctor::run(&ctx.registry(), &ctx.layout().envs_dir, args.repair, &stamp)?;
    let unreadable = matches!(report.state, RegistryState::Corrupt | RegistryState::TooNew) && !report.repaired;
    if ctx.out.json {
        ctx.out.json(&report);
    } else {
        let state = serde_json::to_value(report.state).unwrap_or_default();
        ctx.out.line(format!("registry:  {} ({})", report.registry, state.as_str().unwrap_or("")));
        if let Some(v) = report.version_found {
            ctx.out.line(format!("version:   {v} (this wharf writes {})", wharf::registry::CURRENT_VERSION));
        }
        ctx.out.line(format!("entries:   {}", report.entries));
        ctx.out.line(format!("envs dir:  {}", report.envs_dir));
        if let Some(p) = &report.problem {
            ctx.out.line(format!("problem:   {p}"));
        }
        for o in &report.unregistered {
            ctx.out.line(format!("unregistered env: {} (back-link names {})", o.env, o.project));
        }
        if let Some(a) = &report.moved_aside {
            ctx.out.line(format!("moved the corrupt registry aside to `{a}`"));
        }
        if report.repaired {
            ctx.out.line(format!(
                "rebuilt {} entr{} from back-links",
                report.rebuilt.len(),
                if report.rebuilt.len() == 1 { "y" } else { "ies" }
            ));
        } else if unreadable || !report.unregistered.is_empty() {
            ctx.out
                .status("hint: `wharf doctor --repair` rebuilds the missing entries from the environments' back-links");
        }
    }
    Ok(if unreadable { ExitCode::from(3) } else { ExitCode::SUCCESS })
}
