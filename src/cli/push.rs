//! `wharf push s3://BUCKET[/PREFIX] [SPEC… | --project PATH]`: stored files into a team store.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;
use serde::Serialize;

use wharf::ids::source::Source;
use wharf::ids::{BucketUrl, CommitId, RepoId, RepoRef};
use wharf::models::resolve;
use wharf::store::push::{missing_from, PushAction, Pushed};
use wharf::store::{PullOptions, Pulled};
use wharf::transfer::progress::Silent;

use super::project_pull::{self, runtime};
use super::{CliError, Ctx};

#[derive(Debug, Args)]
pub struct PushArgs {
    /// The team store: s3://BUCKET or s3://BUCKET/PREFIX (credentials from AWS_ACCESS_KEY_ID,
    /// AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN, AWS_REGION; another endpoint from AWS_ENDPOINT_URL)
    #[arg(value_name = "S3_URL")]
    pub to: BucketUrl,
    /// What to push, as `wharf pull` names it (it must be in the store); none: the models the
    /// project's wharf.lock pins
    #[arg(value_name = "SPEC", conflicts_with = "project")]
    pub specs: Vec<String>,
    /// The project whose wharf.lock names what to push (default: the one around this folder)
    #[arg(long, value_name = "PATH")]
    pub project: Option<PathBuf>,
    /// Say what would be uploaded; upload nothing
    #[arg(long)]
    pub dry_run: bool,
    /// Allow plain http to an endpoint that is not loopback
    #[arg(long)]
    pub allow_http: bool,
}

/// The repo and commit of `at` when `pulled` holds every file the hub lists there: its index is
/// then marked complete, and a whole-repo pull at that commit needs no hub. Else a warning says
/// why not (the hub cannot be asked, or files are missing).
fn whole_repo(
    ctx: &Ctx,
    runtime: &tokio::runtime::Runtime,
    at: &RepoRef,
    pulled: &[Pulled],
    allow_http: bool,
) -> Result<Option<(RepoId, CommitId)>, CliError> {
    let hub = ctx.store(wharf::Access { offline: false, allow_http })?;
    let not_whole = |why: String| {
        ctx.out.warn(format!(
            "{at}: {why}; its index in the team store is not marked complete (a whole-repo pull will ask the hub for the list)"
        ));
        Ok(None)
    };
    let listing = match runtime.block_on(hub.hf_listing(at, &Silent)) {
        Ok(listing) => listing,
        Err(e) => return not_whole(format!("the hub could not list it ({e})")),
    };
    let missing = missing_from(&listing, pulled);
    if !missing.is_empty() {
        let shown: Vec<String> = missing.iter().take(3).map(ToString::to_string).collect();
        return not_whole(format!(
            "{} of its files are not in the store ({}{}); `wharf pull {at}` first",
            missing.len(),
            shown.join(", "),
            if missing.len() > 3 { ", …" } else { "" }
        ));
    }
    Ok(Some((at.repo.clone(), listing.commit)))
}

#[derive(Serialize)]
struct PushDoc<'a> {
    to: String,
    dry_run: bool,
    files: &'a [Pushed],
}

pub fn run(args: PushArgs, ctx: &Ctx) -> Result<ExitCode, CliError> {
    // Only what the store holds is pushed: it is opened offline, nothing is downloaded here.
    let store = ctx.store(wharf::Access { offline: true, allow_http: args.allow_http })?;
    let runtime = runtime()?;
    let mut complete = Vec::new();
    let files: Vec<Pulled> = if args.specs.is_empty() {
        let cwd = Ctx::cwd()?;
        let start = args.project.clone().unwrap_or(cwd);
        let dir = resolve::find_manifest_dir(&start)
            .ok_or_else(|| CliError::Usage(resolve::ModelsError::NoManifest(start.clone()).to_string()))?;
        let opts = PullOptions { now: ctx.now, ..Default::default() };
        let pulled = runtime
            .block_on(resolve::pull_project(&store, ctx.registry(), &dir, true, &opts, &Silent))
            .map_err(|e| {
                CliError::failed(format!(
                    "{e}\n  hint: push sends what the store holds: run `wharf pull` in `{}` first",
                    dir.display()
                ))
            })?;
        pulled.0.models.into_iter().map(|m| m.file).collect()
    } else {
        let mut files = Vec::new();
        let opts = PullOptions { now: ctx.now, ..Default::default() };
        for spec in &args.specs {
            let source = Source::parse(spec).map_err(|e| CliError::Usage(e.to_string()))?;
            let pulled = runtime.block_on(store.get_model(&source, &opts, &Silent)).map_err(|e| {
                CliError::failed(format!("{e}\n  hint: push sends what the store holds: `wharf pull {spec}` first"))
            })?;
            if let Source::HfRepo(at) = &source {
                if let Some(whole) = whole_repo(ctx, &runtime, at, &pulled, args.allow_http)? {
                    complete.push(whole);
                }
            }
            files.extend(pulled);
        }
        files
    };
    let pushed = project_pull::push_files(ctx, &runtime, &store, &args.to, &files, &complete, args.dry_run)?;
    if ctx.out.json {
        ctx.out.json(&PushDoc { to: args.to.to_string(), dry_run: args.dry_run, files: &pushed });
    } else {
        for p in &pushed {
            let verb = match p.action {
                PushAction::Uploaded => "uploaded",
                PushAction::AlreadyThere => "already there",
                PushAction::WouldUpload => "would upload",
            };
            ctx.out.status(format!("{verb} {} ({} bytes)", p.source, p.size));
            ctx.out.line(p.object.clone());
        }
    }
    Ok(ExitCode::SUCCESS)
}
