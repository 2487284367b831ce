//! The command line: clap types (their `///` comments are the help text) and the dispatch to one
//! module per subcommand. Each subcommand turns its arguments into the library's options, calls the
//! library, and prints through [`crate::cli::output::Output`].

mod activation;
mod bars;
mod check;
mod completions;
mod doctor;
mod init;
mod list;
mod migrate;
mod models;
pub mod output;
mod project_pull;
mod prompt;
mod prune;
mod pull;
mod push;
mod removals;
mod remove;
mod run;
mod shell_env;
mod view;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};

use wharf::models::lockfile::LockfileError;
use wharf::models::resolve::ModelsError;
use wharf::ops::activate::ActivateError;
use wharf::registry::RegistryError;
use wharf::store::error::InventoryError;
use wharf::store::ModelStore;
use wharf::{Access, Layout, OpenError, Registry, Status, Wharf};

use crate::cli::output::{ErrorReport, Output};

/// Virtual environments and model weights for Python projects, kept outside the project folder.
///
/// Environments: `wharf init` gives a project its own environment in a shared folder and registers it;
/// `wharf run -- CMD` and `eval "$(wharf env)"` use it; `wharf list`/`check` say whether every
/// project still matches its environment; `wharf prune` and `wharf remove` clean up, safely.
///
/// Models: `wharf pull` fetches Hugging Face files and repos, URLs and local files into one verified,
/// shared store (SHA-256, atomic, resumable, offline-capable); a project's `wharf.toml` names its models,
/// `wharf.lock` pins them, and `wharf models` manages the store.
#[derive(Debug, Parser)]
#[command(
    name = "wharf",
    version,
    propagate_version = true,
    max_term_width = 100,
    after_help = "Examples:
  wharf init                      register this project, create its environment, pull its models
  wharf run -- python x.py        run a command in the project's environment
  wharf check --all --json        the CI gate: exit 1 when a project is not valid
  wharf pull hf://org/repo@main/model.gguf

Run `wharf help <COMMAND>` for a command's options and examples."
)]
pub struct Cli {
    #[command(flatten)]
    pub global: Global,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Args)]
#[command(next_help_heading = "Global options")]
pub struct Global {
    /// Print one JSON document on stdout (diagnostics stay on stderr)
    #[arg(long, global = true)]
    pub json: bool,
    /// Print only data and errors
    #[arg(short, long, global = true, conflicts_with = "verbose")]
    pub quiet: bool,
    /// Say more about what happens (registry path, decisions, causes of errors)
    #[arg(short, long, global = true)]
    pub verbose: bool,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Register a project: create its environment, marker (.env.wharf) and back-link
    #[command(after_help = "Examples:
  wharf init                   register the project in this folder (creates its env, pulls its models)
  wharf init ~/code/app --python 3.12
  wharf init --no-models       skip the models of wharf.toml (pull them later with `wharf pull`)")]
    Init(init::InitArgs),
    /// Run a command in the project's environment (uv, python, pytest find it; models by name)
    #[command(after_help = "Examples:
  wharf run -- python train.py         python of the project's environment, WHARF_MODEL_<NAME> set
  wharf run -- uv run pytest           uv uses wharf's environment and makes no .venv
  wharf run ~/code/app -- python -c 'import sys; print(sys.prefix)'")]
    Run(run::RunArgs),
    /// Print the project's environment as variables for a shell: eval "$(wharf env)"
    #[command(after_help = "Examples:
  wharf env                            sh/bash/zsh: eval \"$(wharf env)\" (also in a direnv .envrc)
  wharf env --format fish | source
  wharf env --format json | jq -r .vars.WHARF_MODELS_DIR")]
    Env(shell_env::EnvArgs),
    /// List every registered project with its status
    #[command(after_help = "Examples:
  wharf list                   every project: valid / orphaned / mismatch / error
  wharf list --status orphaned --sizes
  wharf list --json | jq '.projects[] | select(.status != \"valid\") | .path'")]
    List(list::ListArgs),
    /// Check projects for CI: exit 0 if valid, 1 if not, 2 on usage errors, 3 if the registry is unreadable
    #[command(after_help = "Examples:
  wharf check                  the project around this folder
  wharf check --all --full     every project, model files re-hashed
  wharf check --all --fail-on mismatch,error --json
  wharf check --remote         also fail unless the team store (WHARF_MIRRORS=s3://…) has every pinned model")]
    Check(check::CheckArgs),
    /// Remove orphaned entries and their environments
    #[command(after_help = "Examples:
  wharf prune --dry-run        what would go, nothing removed
  wharf prune --yes            remove orphaned entries and their environments without asking
  wharf prune --untracked --models --yes")]
    Prune(prune::PruneArgs),
    /// Unregister one project: its environment, wharf's keys in its marker, its entry
    #[command(after_help = "Examples:
  wharf remove --dry-run               what would go for the project around this folder
  wharf remove ~/code/old-app --yes    also when the folder is already gone (its registered path)
  wharf remove --keep-env              unregister, but leave the environment folder")]
    Remove(remove::RemoveArgs),
    /// Fetch models (Hugging Face files or repos, URLs, S3 objects, local files) into the verified store
    #[command(after_help = "Examples:
  wharf pull                   the models of this project's wharf.toml, pinned in wharf.lock
  wharf pull hf://TheBloke/TinyLlama-1.1B-Chat-v1.0-GGUF@main/tinyllama-1.1b-chat-v1.0.Q4_K_M.gguf
  wharf pull 's3://team-models/bert/model.bin#sha256=<64 hex>' --offline
  wharf pull --push-to s3://team-models   then write what was pulled through to the team store")]
    Pull(pull::PullArgs),
    /// Upload stored models to a team store (an S3 bucket) that `WHARF_MIRRORS=s3://…` reads
    #[command(after_help = "Examples:
  wharf push s3://team-models                     what this project's wharf.lock pins
  wharf push s3://team-models/wharf --project ~/code/app --dry-run
  wharf push s3://team-models hf://org/repo@main/model.safetensors
  wharf push s3://team-models hf://org/repo@main  a whole repo: its index is marked complete
  AWS_ENDPOINT_URL=https://s3.internal:9000 wharf push s3://models

Objects: blobs/sha256/<hex> (create-only, checked by the store against their SHA-256) and, for
Hugging Face files, hf/<org>/<name>/<commit>.json. Another machine reads them with
WHARF_MIRRORS=s3://team-models: every byte is verified before it is used.")]
    Push(push::PushArgs),
    /// The model store: list, stats, verify, rm, gc, clear
    #[command(after_help = "Examples:
  wharf models list            every stored file, its size and the projects using it
  wharf models verify --fix    re-hash everything; remove what is corrupt so `wharf pull` fetches it again
  wharf models gc --max-size 20G --dry-run")]
    Models(models::ModelsArgs),
    /// Bring the registry file to the current schema version
    #[command(after_help = "Examples:
  wharf migrate --dry-run      say what would change
  wharf migrate                rewrite the registry now (keeps registry.json.v<N>.bak)")]
    Migrate(migrate::MigrateArgs),
    /// Diagnose the registry; with --repair, rebuild it from the environments' back-links
    #[command(after_help = "Examples:
  wharf doctor                 the registry's health
  wharf doctor --repair        move a corrupt registry aside and rebuild it from the back-links")]
    Doctor(doctor::DoctorArgs),
    /// Print a shell completion script
    #[command(after_help = "Examples:
  wharf completions bash > ~/.local/share/bash-completion/completions/wharf
  wharf completions fish > ~/.config/fish/completions/wharf.fish
  wharf completions zsh > \"${fpath[1]}/_wharf\"")]
    Completions(completions::CompletionsArgs),
}

/// How a command ended, beyond success.
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    #[error(transparent)]
    Registry(#[from] RegistryError),
    /// Bad input the user can fix (exit 2).
    #[error("{0}")]
    Usage(String),
    /// Anything else (exit 1).
    #[error("{0}")]
    Failed(String),
    /// A failure (exit 1) with its own `code` in the JSON error document.
    #[error("{1}")]
    Coded(&'static str, String),
}

impl CliError {
    pub fn failed(e: impl std::fmt::Display) -> CliError {
        CliError::Failed(e.to_string())
    }

    pub fn exit_code(&self) -> u8 {
        match self {
            CliError::Registry(e) if e.is_unreadable() => 3,
            CliError::Usage(_) => 2,
            _ => 1,
        }
    }

    /// A stable, machine-readable name for the kind of failure (the `code` of a JSON error).
    pub fn code(&self) -> &'static str {
        match self {
            CliError::Registry(RegistryError::Corrupt { .. }) => "registry_corrupt",
            CliError::Registry(RegistryError::TooNew { .. }) => "registry_too_new",
            CliError::Registry(RegistryError::Lock(_)) => "lock_timeout",
            CliError::Registry(_) => "registry_io",
            CliError::Usage(_) => "usage",
            CliError::Failed(_) => "failed",
            CliError::Coded(code, _) => code,
        }
    }

    pub fn report(&self) -> ErrorReport {
        ErrorReport::from_text(self.code(), &self.to_string(), self.exit_code())
    }
}

/// The whole command: parse `args` (the program name first), run, map the outcome to an exit code.
/// The binary (`src/main.rs`) and the Python wheel's `wharf` command (`python/src/lib.rs`) both
/// call this.
pub fn main(args: Vec<std::ffi::OsString>) -> ExitCode {
    let json = wants_json(&args);
    let cli = match Cli::try_parse_from(&args) {
        Ok(cli) => cli,
        Err(e) => match parse_error_report(&e, &args) {
            // With `--json`, a usage error is a JSON document on stdout like every other error.
            Some(report) if json => {
                report.print(true);
                return ExitCode::from(report.exit_code);
            }
            _ => e.exit(),
        },
    };
    let setup = || -> Result<Ctx, CliError> {
        let env = wharf::Env::from_process().map_err(CliError::failed)?;
        let no_color = env.var(wharf::env::vars::NO_COLOR).is_some();
        let wharf = Wharf::new(env).map_err(|e| CliError::Usage(e.to_string()))?;
        let out = output::Output::new(json, cli.global.quiet, cli.global.verbose, no_color);
        Ok(Ctx { wharf, out, now: chrono::Utc::now() })
    };
    match setup().and_then(|ctx| run(cli, &ctx)) {
        Ok(code) => code,
        Err(e) => {
            let report = e.report();
            report.print(json);
            ExitCode::from(report.exit_code)
        }
    }
}

/// Whether `--json` is on the command line, looked for before parsing so that a usage error is a JSON
/// document too. Arguments after `--` belong to the command `wharf run` starts, not to wharf.
pub fn wants_json(args: &[std::ffi::OsString]) -> bool {
    args.iter().skip(1).take_while(|a| *a != "--").any(|a| a == "--json")
}

/// The (sub)command the arguments name, as far as they name real ones: `wharf models gc`.
fn command_path(args: &[std::ffi::OsString]) -> String {
    use clap::CommandFactory;
    let mut cmd = Cli::command();
    let mut path = vec!["wharf".to_string()];
    for a in args.iter().skip(1).take_while(|a| *a != "--").filter_map(|a| a.to_str()) {
        if a.starts_with('-') {
            continue;
        }
        match cmd.find_subcommand(a) {
            Some(sub) => {
                path.push(sub.get_name().to_string());
                cmd = sub.clone();
            }
            None => break,
        }
    }
    path.join(" ")
}

// How each kind of library error ends a command (the Python binding raises by the same rules).

impl From<OpenError> for CliError {
    /// A bad variable is the user's to fix.
    fn from(e: OpenError) -> CliError {
        if e.is_usage() {
            CliError::Usage(e.to_string())
        } else {
            CliError::failed(e)
        }
    }
}

impl From<ActivateError> for CliError {
    fn from(e: ActivateError) -> CliError {
        match e {
            ActivateError::Registry(r) => CliError::Registry(r),
            e @ ActivateError::NoProject(_) => CliError::Coded("no_project", e.to_string()),
            e if e.is_usage() => CliError::Usage(e.to_string()),
            e => CliError::failed(e),
        }
    }
}

impl From<ModelsError> for CliError {
    fn from(e: ModelsError) -> CliError {
        match e {
            ModelsError::Registry(r) => CliError::Registry(r),
            ModelsError::Manifest(_) | ModelsError::Lockfile(LockfileError::Invalid { .. }) => {
                CliError::Usage(e.to_string())
            }
            other => CliError::failed(other),
        }
    }
}

impl From<InventoryError> for CliError {
    fn from(e: InventoryError) -> CliError {
        match e {
            InventoryError::Registry(e) => CliError::Registry(e),
            e if e.is_usage() => CliError::Usage(e.to_string()),
            e => CliError::failed(e),
        }
    }
}

/// An argument-parsing failure as an error report (exit 2), or `None` for `--help`/`--version`,
/// which clap prints itself with exit 0.
pub fn parse_error_report(e: &clap::Error, args: &[std::ffi::OsString]) -> Option<ErrorReport> {
    use clap::error::ErrorKind as K;
    let code = match e.kind() {
        K::DisplayHelp | K::DisplayVersion => return None,
        K::InvalidSubcommand => "unknown_command",
        K::UnknownArgument => "unknown_argument",
        K::MissingRequiredArgument | K::DisplayHelpOnMissingArgumentOrSubcommand => "missing_argument",
        K::MissingSubcommand => "missing_command",
        K::InvalidValue | K::ValueValidation | K::InvalidUtf8 => "invalid_value",
        K::ArgumentConflict => "conflicting_arguments",
        K::TooManyValues | K::TooFewValues | K::WrongNumberOfValues | K::NoEquals => "wrong_number_of_values",
        _ => "usage",
    };
    // clap renders "error: <what>\n\n  tip: <tip>\n\nUsage: <usage>\n\nFor more information, try '--help'."
    let text = e.render().to_string();
    let mut message = String::new();
    let mut tips = Vec::new();
    let mut usage = None;
    for line in text.lines().map(str::trim).filter(|l| !l.is_empty()) {
        if let Some(tip) = line.strip_prefix("tip: ") {
            tips.push(tip.to_string());
        } else if let Some(u) = line.strip_prefix("Usage: ") {
            usage = Some(u.to_string());
        } else if line.starts_with("For more information") {
        } else if message.is_empty() {
            message = line.strip_prefix("error: ").unwrap_or(line).to_string();
        } else if usage.is_none() && tips.is_empty() {
            message.push('\n');
            message.push_str(line);
        }
    }
    if message.is_empty() {
        message = "a command is needed".into();
    }
    let mut hint = tips.join("; ");
    if let Some(u) = usage {
        if !hint.is_empty() {
            hint.push_str("; ");
        }
        hint.push_str(&format!("usage: {u}"));
    }
    if !hint.is_empty() {
        hint.push_str("; ");
    }
    hint.push_str(&format!("see `{} --help`", command_path(args)));
    Some(ErrorReport { code, message, hint: Some(hint), exit_code: 2 })
}

/// What every subcommand gets.
pub struct Ctx {
    pub wharf: Wharf,
    pub out: Output,
    pub now: chrono::DateTime<chrono::Utc>,
}

impl Ctx {
    pub fn registry(&self) -> Registry {
        self.wharf.registry().with_wait_notice(|p| eprintln!("waiting for lock on `{}`", p.display()))
    }

    /// The model store; a bad variable is a usage error.
    pub fn store(&self, access: Access) -> Result<ModelStore, CliError> {
        self.wharf.store(access).map_err(CliError::from)
    }

    pub fn layout(&self) -> &Layout {
        self.wharf.layout()
    }

    pub fn cwd() -> Result<PathBuf, CliError> {
        std::env::current_dir().map_err(|e| CliError::Failed(format!("cannot read the current folder: {e}")))
    }
}

pub fn run(cli: Cli, ctx: &Ctx) -> Result<ExitCode, CliError> {
    ctx.out.detail(format!("registry: {}", ctx.layout().registry_file.display()));
    match cli.command {
        Command::Init(a) => init::run(a, ctx),
        Command::List(a) => list::run(a, ctx),
        Command::Check(a) => check::run(a, ctx),
        Command::Prune(a) => prune::run(a, ctx),
        Command::Remove(a) => remove::run(a, ctx),
        Command::Pull(a) => pull::run(a, ctx),
        Command::Push(a) => push::run(a, ctx),
        Command::Models(a) => models::run(a, ctx),
        Command::Migrate(a) => migrate::run(a, ctx),
        Command::Doctor(a) => doctor::run(a, ctx),
        Command::Run(a) => run::run(a, ctx),
        Command::Env(a) => shell_env::run(a, ctx),
        Command::Completions(a) => completions::run(a),
    }
}

/// The colour of a status word.
pub fn status_color(s: &str) -> &'static str {
    match s.parse::<Status>() {
        Ok(Status::Valid) => "32",
        Ok(Status::Orphaned) => "33",
        Ok(Status::Mismatch) => "35",
        _ => "31",
    }
}
