//! `wharf init [PATH]`: register a project and create its environment.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;
use serde::Serialize;

use wharf::ops::init::{self, Action, InitOptions, InitOutcome};
use wharf::project::venv::VenvOptions;

use super::{CliError, Ctx};

#[derive(Debug, Args)]
pub struct InitArgs {
    /// The project folder (default: the current folder)
    pub path: Option<PathBuf>,
    /// Only create the environment folder, no Python environment in it
    #[arg(long)]
    pub no_venv: bool,
    /// The interpreter to create the environment with (passed to `uv venv --python` or run instead of python3)
    #[arg(long, value_name = "PYTHON", conflicts_with = "no_venv")]
    pub python: Option<String>,
    /// Install pip into the environment (like `uv venv --seed`)
    #[arg(long, conflicts_with = "no_venv")]
    pub seed: bool,
    /// Do not pull the models of the project's wharf.toml
    #[arg(long)]
    pub no_models: bool,
    /// For a project not yet registered: ignore the id and environment its marker names (say, a
    /// copied, cloned or hand-edited .env.wharf) and take a new id and the standard environment in
    /// the envs dir. Other lines of .env.wharf are kept
    #[arg(long)]
    pub force: bool,
}

#[derive(Serialize)]
struct InitDoc {
    project: InitOutcome,
    models: Vec<wharf::models::resolve::Resolved>,
}

/// The models failed after the project was registered: say that it is registered, that its
/// models are missing, and the command that fetches them. A bad wharf.toml or wharf.lock (exit 2)
/// keeps its own hint, which names the fix of the input.
fn registered_without_models(dir: &std::path::Path, e: CliError) -> CliError {
    let say = |text: &str, usage: bool| {
        let fetch = format!("run `wharf pull` in `{}` to fetch them (once their source is reachable)", dir.display());
        let (why, hint) = match (text.split_once("\n  hint: "), usage) {
            (Some((why, hint)), true) => (why.to_string(), hint.to_string()),
            (Some((why, hint)), false) => (format!("{why} ({hint})"), fetch),
            (None, _) => (text.to_string(), fetch),
        };
        format!(
            "`{}` is registered (environment and marker written), but its models are missing: {why}\n  hint: {hint}",
            dir.display()
        )
    };
    match e {
        CliError::Failed(m) => CliError::Failed(say(&m, false)),
        CliError::Usage(m) => CliError::Usage(say(&m, true)),
        registry => registry,
    }
}

pub fn run(args: InitArgs, ctx: &Ctx) -> Result<ExitCode, CliError> {
    let path = match args.path.clone() {
        Some(p) => p,
        None => Ctx::cwd()?,
    };
    let opts = InitOptions {
        venv: VenvOptions { no_venv: args.no_venv, python: args.python, seed: args.seed },
        force: args.force,
    };
    let outcome = init::init(&ctx.registry(), ctx.layout(), &path, &opts, ctx.now).map_err(|e| match e {
        init::InitError::Registry(r) => CliError::Registry(r),
        e if e.is_usage() => CliError::Usage(e.to_string()),
        other => CliError::failed(other),
    })?;
    let has_manifest = outcome.path.join(wharf::models::manifest::MANIFEST).is_file();
    let models = if has_manifest && !args.no_models {
        let pulled = super::project_pull::pull_project(ctx, &outcome.path, Default::default());
        pulled.map_err(|e| registered_without_models(&outcome.path, e))?.0.models
    } else {
        Vec::new()
    };
    if let Some(r) = wharf::ops::validate::stray_venv(&outcome.path, std::path::Path::new(&outcome.env.expanded)) {
        ctx.out.warn(r.message);
    }
    if ctx.out.json {
        ctx.out.json(&InitDoc { project: outcome, models });
        return Ok(ExitCode::SUCCESS);
    }
    let shown = outcome.path.display();
    let what = match &outcome.action {
        Action::Created => format!("registered `{shown}`"),
        Action::Existing => format!("`{shown}` was already registered"),
        Action::Relinked { from } => {
            format!("relinked `{shown}` from `{from}` (the project moved; its environment is kept)")
        }
        Action::Copied { from } => format!("registered `{shown}` as a new project (a copy of `{from}`)"),
        Action::Adopted => format!("registered `{shown}` with the environment its marker names"),
    };
    ctx.out.status(what);
    let env_note = if outcome.created_env { "created" } else { "kept" };
    ctx.out.status(format!("  environment ({env_note}): {}", outcome.env.expanded));
    ctx.out.status(format!("  marker: {shown}/.env.wharf"));
    ctx.out
        .status("  use it: `wharf run -- uv run …`, or `eval \"$(wharf env)\"` in the shell (or in direnv's .envrc)");
    ctx.out.line(&outcome.env.expanded);
    Ok(ExitCode::SUCCESS)
}
