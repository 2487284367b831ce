//! The command line: clap types (their `///` comments are the help text) and the dispatch to one
//! module per subcommand. Each subcommand turns its arguments into the library's options, calls the
//! library, and prints through [`crate::cli::output::Output`].

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
mod removals;
mod remove;
mod view;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};

use wharf::registry::RegistryError;
use wharf::store::ModelStore;
use wharf::{Access, Layout, Registry, Status, Wharf};

use crate::cli::output::Output;

/// wharf keeps track of which project owns which virtual environment, checks every mapping against
/// the filesystem, and prunes what is orphaned, safely.
#[derive(Debug, Parser)]
#[command(name = "wharf", version, propagate_version = true, max_term_width = 100)]
pub struct Cli {
    #[command(flatten)]
    pub global: Global,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Args)]
pub struct Global {
    /// Print one JSON document on stdout (diagnostics stay on stderr)
    #[arg(long, global = true)]
    pub json: bool,
    /// Print only data and errors
    #[arg(short, long, global = true, conflicts_with = "verbose")]
    pub quiet: bool,
    /// Say more about what happens (registry path, decisions)
    #[arg(short, long, global = true)]
    pub verbose: bool,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Register a project: create its environment, marker (.env.wharf) and back-link
    Init(init::InitArgs),
    /// List every registered project with its status
    List(list::ListArgs),
    /// Check projects for CI: exit 0 if valid, 1 if not, 2 on usage errors, 3 if the registry is unreadable
    Check(check::CheckArgs),
    /// Remove orphaned entries and their environments
    Prune(prune::PruneArgs),
    /// Unregister one project: its environment, wharf's keys in its marker, its entry
    Remove(remove::RemoveArgs),
    /// Fetch models (Hugging Face files or repos, URLs, local files) into the verified store
    Pull(pull::PullArgs),
    /// The model store: list, stats, verify, rm, gc, clear
    Models(models::ModelsArgs),
    /// Bring the registry file to the current schema version
    Migrate(migrate::MigrateArgs),
    /// Diagnose the registry; with --repair, rebuild it from the environments' back-links
    Doctor(doctor::DoctorArgs),
    /// Print a shell completion script
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
        self.wharf.store(access).map_err(|e| {
            if e.is_usage() {
                CliError::Usage(e.to_string())
            } else {
                CliError::failed(e)
            }
        })
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
        Command::Models(a) => models::run(a, ctx),
        Command::Migrate(a) => migrate::run(a, ctx),
        Command::Doctor(a) => doctor::run(a, ctx),
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
