//! `wharf pull SPEC...`: fetch models into the store and print where each one is.

use std::io::IsTerminal;
use std::process::ExitCode;

use clap::Args;
use futures_util::{stream, StreamExt, TryStreamExt};
use serde::Serialize;

use wharf::ids::source::Source;
use wharf::models::resolve::{self, ModelsError, Resolved};
use wharf::store::push::Pushed;
use wharf::store::{PullOptions, Pulled};

use super::bars::Bars;
use super::project_pull::{self, pull_project, runtime, same_bytes, verb, How};
use super::{CliError, Ctx};

#[derive(Debug, Args)]
pub struct PullArgs {
    /// hf://ORG/REPO[@REV]/PATH, hf://ORG/REPO[@REV], https://…[#sha256=HEX], s3://BUCKET/KEY or file:///…;
    /// none: the models of the project's wharf.toml (found from the current folder upwards)
    #[arg(value_name = "SPEC")]
    pub specs: Vec<String>,
    /// Use only what is in the store: no network call, no write (also WHARF_OFFLINE=1, HF_HUB_OFFLINE=1)
    #[arg(long)]
    pub offline: bool,
    /// For the project's models: fail if wharf.lock would change
    #[arg(long, conflicts_with = "specs")]
    pub locked: bool,
    /// The SHA-256 the file must have
    #[arg(long, value_name = "HEX")]
    pub sha256: Option<wharf::ids::Sha256>,
    /// For a whole repo: only files matching this glob (repeatable)
    #[arg(long, value_name = "GLOB")]
    pub include: Vec<String>,
    /// For a whole repo: skip files matching this glob (repeatable)
    #[arg(long, value_name = "GLOB")]
    pub exclude: Vec<String>,
    /// Allow plain http to hosts that are not loopback
    #[arg(long)]
    pub allow_http: bool,
    /// Re-hash stored files first and fetch again any that does not match (a corrupt model)
    #[arg(long)]
    pub verify: bool,
    /// Ask again for what nothing pins (a URL without sha256, a branch like @main) even when
    /// stored, and pin the answer in wharf.lock
    #[arg(long, conflicts_with = "offline")]
    pub refresh: bool,
    /// Then push what was pulled to this team store (s3://BUCKET[/PREFIX]), as `wharf push` does
    #[arg(long, value_name = "S3_URL", conflicts_with = "offline")]
    pub push_to: Option<wharf::ids::BucketUrl>,
}

#[derive(Serialize)]
struct ProjectDoc<'a> {
    project: String,
    models: &'a [Resolved],
    lock: LockDoc,
    registered: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pushed: Option<Vec<Pushed>>,
}

#[derive(Serialize)]
struct LockDoc {
    path: String,
    changed: bool,
    /// Offline: how wharf.lock would change (it was not written).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    would_change: Vec<String>,
}

fn run_project(args: &PullArgs, ctx: &Ctx) -> Result<ExitCode, CliError> {
    let cwd = Ctx::cwd()?;
    let dir = resolve::find_manifest_dir(&cwd)
        .ok_or_else(|| CliError::Usage(ModelsError::NoManifest(cwd.clone()).to_string()))?;
    let access = wharf::Access { offline: args.offline, allow_http: args.allow_http };
    let how = How { locked: args.locked, access, verify: args.verify, refresh: args.refresh };
    let (pulled, registered) = pull_project(ctx, &dir, how)?;
    let pushed = match &args.push_to {
        Some(to) => {
            let files: Vec<Pulled> = pulled.models.iter().map(|m| m.file.clone()).collect();
            let store = ctx.store(access)?;
            Some(project_pull::push_files(ctx, &runtime()?, &store, to, &files, &[], false)?)
        }
        None => None,
    };
    if let (Some(to), Some(p), false) = (&args.push_to, &pushed, ctx.out.json) {
        ctx.out.status(project_pull::summary(to, p));
    }
    if ctx.out.json {
        let lock = LockDoc {
            path: dir.join(wharf::models::lockfile::LOCKFILE).display().to_string(),
            changed: pulled.lock_changed,
            would_change: pulled.lock_pending.clone(),
        };
        let project = dir.display().to_string();
        ctx.out.json(&ProjectDoc { project, models: &pulled.models, lock, registered, pushed });
    } else {
        for m in &pulled.models {
            ctx.out.line(format!("{}\t{}", m.name, m.file.path.display()));
        }
        if pulled.lock_changed {
            ctx.out.status(format!("wrote {}", dir.join(wharf::models::lockfile::LOCKFILE).display()));
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Specs fetched at once by `wharf pull SPEC…`.
const PARALLEL_SPECS: usize = 8;

#[derive(Serialize)]
struct PullDoc {
    models: Vec<Pulled>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pushed: Option<Vec<Pushed>>,
}

pub fn run(args: PullArgs, ctx: &Ctx) -> Result<ExitCode, CliError> {
    if args.specs.is_empty() {
        return run_project(&args, ctx);
    }
    let sources = args
        .specs
        .iter()
        .map(|s| Source::parse(s))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| CliError::Usage(e.to_string()))?;
    let store = ctx.store(wharf::Access { offline: args.offline, allow_http: args.allow_http })?;
    let opts = PullOptions {
        include: args.include,
        exclude: args.exclude,
        sha256: args.sha256,
        now: ctx.now,
        verify: args.verify,
        refresh: args.refresh,
        size: None,
    };
    let bars = Bars::new(!ctx.out.quiet && !ctx.out.json && std::io::stderr().is_terminal());
    let runtime = runtime()?;
    // The specs are fetched at the same time (as many as a repo's files are): 200 small pinned
    // files are 200 round trips, not to be waited for one after the other. Each keeps its place.
    let fetched = runtime.block_on(
        stream::iter(&sources)
            .map(|source| store.get_model(source, &opts, &bars))
            .buffered(PARALLEL_SPECS)
            .try_collect::<Vec<Vec<Pulled>>>(),
    );
    let fetched = fetched.map_err(|e| {
        bars.finish();
        if e.is_usage() {
            CliError::Usage(e.to_string())
        } else {
            CliError::failed(e)
        }
    })?;
    let mut models = Vec::new();
    let mut complete = Vec::new();
    // A whole repo pulled unfiltered from the network is every file the hub lists.
    let unfiltered = opts.include.is_empty() && opts.exclude.is_empty() && !store.is_offline();
    for (source, pulled) in sources.iter().zip(fetched) {
        if let (Source::HfRepo(at), true) = (source, unfiltered) {
            if let Some(commit) = pulled.first().and_then(|p| p.commit.clone()) {
                complete.push((at.repo.clone(), commit));
            }
        }
        models.extend(pulled);
    }
    bars.finish();
    let pushed = match &args.push_to {
        Some(to) => Some(project_pull::push_files(ctx, &runtime, &store, to, &models, &complete, false)?),
        None => None,
    };
    if let (Some(to), Some(p), false) = (&args.push_to, &pushed, ctx.out.json) {
        ctx.out.status(project_pull::summary(to, p));
    }
    if ctx.out.json {
        ctx.out.json(&PullDoc { models, pushed });
    } else {
        for m in &models {
            ctx.out.status(format!("{} {}{}", verb(m), m.source, same_bytes(m)));
            ctx.out.line(m.path.display().to_string());
        }
    }
    Ok(ExitCode::SUCCESS)
}
