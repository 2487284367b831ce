//! The `wharf` binary: parse, run, map the outcome to an exit code. Nothing else.

mod cli;

use std::process::ExitCode;

fn main() -> ExitCode {
    cli::main(std::env::args_os().collect())
}
