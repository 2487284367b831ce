//! wharf as a library: pull a model through the facade, then check a project, without the CLI.
//!
//! ```text
//! cargo run --example pull_and_check -- hf://ORG/NAME/FILE [PROJECT_DIR]
//! ```
//!
//! Prints one line per file (`sha256 size path`), whether the source is now cached, and, given a
//! project, its status (`valid`, `orphaned`, `mismatch`, `error`) with the reasons. Exits 1 when
//! the project is not valid. Set `HF_ENDPOINT` to choose the hub.

use std::error::Error;
use std::path::PathBuf;
use std::process::ExitCode;

use wharf::ids::source::Source;
use wharf::ops::check::{self, Scope};
use wharf::store::PullOptions;
use wharf::transfer::progress::Silent;
use wharf::{Access, Env, Wharf};

fn main() -> Result<ExitCode, Box<dyn Error>> {
    let mut args = std::env::args().skip(1);
    let spec = args.next().ok_or("usage: pull_and_check SOURCE [PROJECT_DIR]")?;
    let project = args.next().map(PathBuf::from);
    let now = chrono::Utc::now();

    let wharf = Wharf::new(Env::from_process()?)?;
    let store = wharf.store(Access::default())?;
    let source = Source::parse(&spec)?;
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    let opts = PullOptions { now, ..PullOptions::default() };
    for file in runtime.block_on(store.get_model(&source, &opts, &Silent))? {
        println!("{} {} {}", file.sha256, file.size, file.path.display());
    }
    println!("cached: {}", runtime.block_on(store.is_cached(&source, None)));

    let Some(dir) = project else { return Ok(ExitCode::SUCCESS) };
    let checked = check::run(&wharf.registry(), &Scope::Folder(dir.clone()), Default::default(), now)?;
    let verdicts =
        checked.validation.judged.iter().map(|j| &j.verdict).chain(checked.unregistered.iter().map(|(_, v)| v));
    for verdict in verdicts {
        println!("{}: {}", dir.display(), verdict.status.as_str());
        for reason in &verdict.reasons {
            println!("  {}", reason.message);
        }
    }
    Ok(if checked.passes(&[]) { ExitCode::SUCCESS } else { ExitCode::from(1) })
}
