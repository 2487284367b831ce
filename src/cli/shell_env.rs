//! `wharf env [PATH] [--format sh|fish|powershell|dotenv|json]`: print the project's environment as
//! variables for a shell (`eval "$(wharf env)"`, direnv's `.envrc`), read-only.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, ValueEnum};
use serde::ser::{SerializeMap, Serializer};
use serde::Serialize;

use wharf::project::shell::Shell;

use super::{CliError, Ctx};

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    Sh,
    Fish,
    Powershell,
    Dotenv,
    Json,
}

#[derive(Debug, Args)]
pub struct EnvArgs {
    /// The project (default: the one around the current folder, found by its .env.wharf)
    pub path: Option<PathBuf>,
    /// The shell to print for (`--json` means json)
    #[arg(long, value_enum, default_value = "sh")]
    pub format: Format,
}

/// The variables in their order, as a JSON object.
struct Ordered<'a>(&'a [(String, String)]);

impl Serialize for Ordered<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(Some(self.0.len()))?;
        for (k, v) in self.0 {
            map.serialize_entry(k, v)?;
        }
        map.end()
    }
}

#[derive(Serialize)]
struct EnvDoc<'a> {
    project: String,
    env: String,
    vars: Ordered<'a>,
    unset: &'a [String],
}

pub fn run(args: EnvArgs, ctx: &Ctx) -> Result<ExitCode, CliError> {
    let act = super::activation::activation(args.path, ctx)?;
    let shell = match args.format {
        _ if ctx.out.json => None,
        Format::Json => None,
        Format::Sh => Some(Shell::Sh),
        Format::Fish => Some(Shell::Fish),
        Format::Powershell => Some(Shell::PowerShell),
        Format::Dotenv => Some(Shell::Dotenv),
    };
    match shell {
        // The script ends with one newline, after a closing quote or a name.
        Some(shell) => ctx.out.line(shell.script(&act.vars, &act.unset).trim_end_matches('\n')),
        None => ctx.out.json(&EnvDoc {
            project: act.project.display().to_string(),
            env: act.env.display().to_string(),
            vars: Ordered(&act.vars),
            unset: &act.unset,
        }),
    }
    Ok(ExitCode::SUCCESS)
}
