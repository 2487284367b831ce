//! The `wharf` binary: parse, run, map the outcome to an exit code. Nothing else.

mod cli;

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = cli::Cli::parse();
    let json = cli.global.json;
    let setup = || -> Result<cli::Ctx, cli::CliError> {
        let env = wharf::Env::from_process().map_err(cli::CliError::failed)?;
        let no_color = env.var(wharf::env::vars::NO_COLOR).is_some();
        let wharf = wharf::Wharf::new(env).map_err(|e| cli::CliError::Usage(e.to_string()))?;
        let out = cli::output::Output::new(json, cli.global.quiet, cli.global.verbose, no_color);
        Ok(cli::Ctx { wharf, out, now: chrono::Utc::now() })
    };
    let result = setup().and_then(|ctx| cli::run(cli, &ctx));
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e}");
            if json {
                let doc = serde_json::json!({"schema": cli::output::SCHEMA, "error": {"message": e.to_string(), "exit_code": e.exit_code()}});
                println!("{}", serde_json::to_string_pretty(&doc).unwrap_or_default());
            }
            ExitCode::from(e.exit_code())
        }
    }
}
