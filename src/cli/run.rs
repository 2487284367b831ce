//! `wharf run [PATH] -- CMD…`: run CMD in the project's environment (its variables from
//! [`wharf::ops::activate`]); the exit status is CMD's, since on unix wharf becomes CMD (`exec`).

use std::ffi::OsString;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;

use wharf::ops::activate;

use super::{CliError, Ctx};

#[derive(Debug, Args)]
pub struct RunArgs {
    /// The project (default: the one around the current folder, found by its .env.wharf)
    pub path: Option<PathBuf>,
    /// The command and its arguments, after `--`
    #[arg(last = true, required = true, value_name = "CMD")]
    pub cmd: Vec<OsString>,
}

pub fn run(args: RunArgs, ctx: &Ctx) -> Result<ExitCode, CliError> {
    let act = super::activation::activation(args.path, ctx)?;
    let (program, rest) = args.cmd.split_first().ok_or_else(|| CliError::Usage("no command after `--`".into()))?;
    let shown = program.to_string_lossy();
    let path = act.vars.iter().find(|(k, _)| k == "PATH").map(|(_, v)| v.as_str()).unwrap_or_default();
    let Some(resolved) = activate::which(program, path) else {
        // The fix depends on what is missing: uv itself is installed beside wharf, anything else
        // comes from a package installed into the environment (its name may differ: a placeholder).
        let hint = match shown.as_ref() {
            "uv" => "install uv (`pip install uv`, or see https://docs.astral.sh/uv/), then run the command again".to_string(),
            _ => format!(
                "install the package that provides `{shown}` into the environment (`wharf run -- uv pip install PACKAGE`), or give the program's path"
            ),
        };
        return Err(CliError::Failed(format!(
            "cannot run `{shown}`: not found in `{}` or on PATH\n  hint: {hint}",
            activate::bin_dir(&act.env).display()
        )));
    };
    let mut cmd = std::process::Command::new(&resolved);
    cmd.args(rest);
    for (k, v) in &act.vars {
        cmd.env(k, v);
    }
    for k in &act.unset {
        cmd.env_remove(k);
    }
    ctx.out.detail(format!("running `{}` in `{}`", resolved.display(), act.env.display()));
    #[cfg(unix)]
    {
        let e = std::os::unix::process::CommandExt::exec(&mut cmd);
        Err(CliError::Failed(format!(
            "cannot run `{shown}` (`{}`): {e}\n  hint: check that it is an executable program; `wharf run -- sh -c '…'` runs a shell line",
            resolved.display()
        )))
    }
    #[cfg(not(unix))]
    {
        let status = cmd.status().map_err(|e| CliError::Failed(format!("cannot run `{shown}`: {e}")))?;
        Ok(ExitCode::from(status.code().unwrap_or(1).clamp(0, 255) as u8))
    }
}
