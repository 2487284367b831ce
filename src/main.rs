//! The `wharf` binary: parse, run, map the outcome to an exit code. Nothing else.

mod cli;

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let args: Vec<std::ffi::OsString> = std::env::args_os().collect();
    let json = cli::wants_json(&args);
    let cli = match cli::Cli::try_parse_from(&args) {
        Ok(cli) => cli,
        Err(e) => match cli::parse_error_report(&e, &args) {
            // With `--json`, a usage error is a JSON document on stdout like every other error.
            Some(report) if json => {
                report.print(true);
                return ExitCode::from(report.exit_code);
            }
            _ => e.exit(),
        },
    };
    let setup = || -> Result<cli::Ctx, cli::CliError> {
        let env = wharf::Env::from_process().map_err(cli::CliError::failed)?;
        let no_color = env.var(wharf::env::vars::NO_COLOR).is_some();
        let wharf = wharf::Wharf::new(env).map_err(|e| cli::CliError::Usage(e.to_string()))?;
        let out = cli::output::Output::new(json, cli.global.quiet, cli.global.verbose, no_color);
        Ok(cli::Ctx { wharf, out, now: chrono::Utc::now() })
    };
    match setup().and_then(|ctx| cli::run(cli, &ctx)) {
        Ok(code) => code,
        Err(e) => {
            let report = e.report();
            report.print(json);
            ExitCode::from(report.exit_code)
        }
    }
}
