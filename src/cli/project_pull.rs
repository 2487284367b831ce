//! Pulling a project's models, as `wharf pull` (in a project) and `wharf init` both do: the store
//! from the environment, bars on a terminal, one line per model, a warning per fallback used.

use std::io::IsTerminal;

use wharf::models::resolve::{self, ModelsError, ProjectPull};
use wharf::store::PullOptions;

use super::bars::Bars;
use super::{CliError, Ctx};

/// [`resolve::pull_project`] with bars on a terminal; say on stderr which models were downloaded
/// and which came from a fallback.
pub fn pull_project(
    ctx: &Ctx,
    dir: &std::path::Path,
    locked: bool,
    offline: bool,
    allow_http: bool,
) -> Result<(ProjectPull, bool), CliError> {
    let store = ctx.store(wharf::Access { offline, allow_http })?;
    let bars = Bars::new(!ctx.out.quiet && !ctx.out.json && std::io::stderr().is_terminal());
    let opts = PullOptions { now: ctx.now, ..Default::default() };
    let pulled = runtime()?.block_on(resolve::pull_project(&store, ctx.registry(), dir, locked, &opts, &bars));
    bars.finish();
    let (pulled, registered) = pulled.map_err(|e| match e {
        ModelsError::Registry(r) => CliError::Registry(r),
        ModelsError::Manifest(_) | ModelsError::Lockfile(wharf::models::lockfile::LockfileError::Invalid { .. }) => {
            CliError::Usage(e.to_string())
        }
        other => CliError::failed(other),
    })?;
    for w in &pulled.view_warnings {
        ctx.out.warn(w);
    }
    for m in &pulled.models {
        let f = &m.file;
        ctx.out.status(format!("{} {} ({})", if f.cached { "cached    " } else { "downloaded" }, m.name, f.source));
        if m.fallback {
            ctx.out.warn(format!("model `{}`: used the fallback `{}` ({})", m.name, f.source, m.skipped.join("; ")));
        }
    }
    Ok((pulled, registered))
}

pub fn runtime() -> Result<tokio::runtime::Runtime, CliError> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| CliError::Failed(format!("cannot start the async runtime: {e}")))
}
