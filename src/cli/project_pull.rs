//! Pulling a project's models, as `wharf pull` (in a project) and `wharf init` both do: the store
//! from the environment, bars on a terminal, one line per model, a warning per fallback used; and
//! pushing stored files to a team store, as `wharf push` and `wharf pull --push-to` both do.

use std::io::IsTerminal;

use wharf::ids::{BucketUrl, CommitId, RepoId};
use wharf::models::resolve::{self, ProjectPull};
use wharf::store::push::{PushAction, Pushed};
use wharf::store::{ModelStore, PullOptions, Pulled};

use super::bars::Bars;
use super::{CliError, Ctx};

/// How to pull a project's models (`wharf init` takes the defaults).
#[derive(Debug, Clone, Copy, Default)]
pub struct How {
    /// Fail when wharf.lock would change.
    pub locked: bool,
    /// Network and plain http.
    pub access: wharf::Access,
    /// Re-hash stored files first; fetch again those that do not match.
    pub verify: bool,
    /// Ask again for what nothing pins (URLs without a digest, branches).
    pub refresh: bool,
}

/// [`resolve::pull_project`] with bars on a terminal; say on stderr which models were downloaded,
/// which came from a fallback, and which were met by bytes another source brought.
pub fn pull_project(ctx: &Ctx, dir: &std::path::Path, how: How) -> Result<(ProjectPull, bool), CliError> {
    let store = ctx.store(how.access)?;
    let bars = Bars::new(!ctx.out.quiet && !ctx.out.json && std::io::stderr().is_terminal());
    let opts = PullOptions { now: ctx.now, verify: how.verify, refresh: how.refresh, ..Default::default() };
    let pulled = runtime()?.block_on(resolve::pull_project(&store, ctx.registry(), dir, how.locked, &opts, &bars));
    bars.finish();
    let (pulled, registered) = pulled.map_err(CliError::from)?;
    for w in &pulled.view_warnings {
        ctx.out.warn(w);
    }
    for m in &pulled.models {
        ctx.out.status(format!("{} {} ({}){}", verb(&m.file), m.name, m.file.source, same_bytes(&m.file)));
        if m.fallback {
            ctx.out.warn(format!(
                "model `{}`: used the fallback `{}` ({})",
                m.name,
                m.file.source,
                m.skipped.join("; ")
            ));
        }
    }
    if !pulled.lock_pending.is_empty() {
        let what: String = pulled.lock_pending.iter().map(|x| format!("\n  - {x}")).collect();
        ctx.out.warn(format!(
            "offline: wharf.lock was not written, and it would change:{what}\n  run `wharf pull` with network access to write it"
        ));
    }
    Ok((pulled, registered))
}

/// `cached` or `downloaded`, padded to one width.
pub fn verb(p: &Pulled) -> &'static str {
    if p.cached {
        "cached    "
    } else {
        "downloaded"
    }
}

/// ` — same bytes as SOURCE` when other bytes met this pull (see [`Pulled::same_as`]), else nothing.
pub fn same_bytes(p: &Pulled) -> String {
    p.same_as.as_ref().map(|s| format!(" — same bytes as {s}")).unwrap_or_default()
}

pub fn runtime() -> Result<tokio::runtime::Runtime, CliError> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| CliError::Failed(format!("cannot start the async runtime: {e}")))
}

/// `files` (and the indexes of the repos in `complete`, marked complete) into the team store `to`,
/// with bars on a terminal: `wharf push`, and `wharf pull --push-to` after its pull.
pub fn push_files(
    ctx: &Ctx,
    runtime: &tokio::runtime::Runtime,
    store: &ModelStore,
    to: &BucketUrl,
    files: &[Pulled],
    complete: &[(RepoId, CommitId)],
    dry_run: bool,
) -> Result<Vec<Pushed>, CliError> {
    let bars = Bars::new(!ctx.out.quiet && !ctx.out.json && std::io::stderr().is_terminal());
    let pushed = runtime.block_on(store.push(to, files, complete, dry_run, &bars));
    bars.finish();
    pushed.map_err(CliError::failed)
}

/// One status line for what `pull --push-to` sent.
pub fn summary(to: &BucketUrl, pushed: &[Pushed]) -> String {
    let uploaded = pushed.iter().filter(|p| p.action == PushAction::Uploaded).count();
    format!("pushed to {to}: {uploaded} uploaded, {} already there", pushed.len() - uploaded)
}
