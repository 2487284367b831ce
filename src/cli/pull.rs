//! `wharf pull SPEC...`: fetch models into the store and print where each one is.

use std::collections::HashMap;
use std::io::IsTerminal;
use std::process::ExitCode;
use std::sync::Mutex;

use clap::Args;
use indicatif::{MultiProgress, ProgressBar, ProgressStyle};
use serde::Serialize;

use wharf::fetch::progress::{Event, Progress};
use wharf::fetch::source::Source;
use wharf::project_models::{self, ModelsError, ProjectPull, Resolved};
use wharf::store::{ModelStore, PullOptions, Pulled};

use super::{CliError, Ctx};

#[derive(Debug, Args)]
pub struct PullArgs {
    /// hf://ORG/REPO[@REV]/PATH, hf://ORG/REPO[@REV], https://…[#sha256=HEX] or file:///…;
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
}

#[derive(Serialize)]
struct ProjectDoc<'a> {
    project: String,
    models: &'a [Resolved],
    lock: LockDoc,
    registered: bool,
}

#[derive(Serialize)]
struct LockDoc {
    path: String,
    changed: bool,
}

/// Pull the models of the project at `dir`, write its lock, record them in its registry entry;
/// say on stderr which were downloaded and which came from a fallback.
pub fn pull_project(
    ctx: &Ctx,
    dir: &std::path::Path,
    locked: bool,
    offline: bool,
    allow_http: bool,
) -> Result<(ProjectPull, bool), CliError> {
    let cfg = wharf::paths::store_config(&ctx.env, &ctx.layout, offline, allow_http)
        .map_err(|e| CliError::Usage(e.to_string()))?;
    let store = ModelStore::new(cfg).map_err(CliError::failed)?;
    let bars = Bars::new(!ctx.out.quiet && !ctx.out.json && std::io::stderr().is_terminal());
    let opts = PullOptions { now: ctx.now, ..Default::default() };
    let pulled = runtime()?.block_on(project_models::pull(&store, dir, locked, &opts, &bars)).map_err(|e| match &e {
        ModelsError::Manifest(_) | ModelsError::Lock(wharf::lockfile::LockError::Invalid { .. }) => {
            CliError::Usage(e.to_string())
        }
        other => CliError::failed(other),
    });
    bars.finish();
    let pulled = pulled?;
    for m in &pulled.models {
        let f = &m.file;
        ctx.out.status(format!("{} {} ({})", if f.cached { "cached    " } else { "downloaded" }, m.name, f.source));
        if m.fallback {
            ctx.out.warn(format!("model `{}`: used the fallback `{}` ({})", m.name, f.source, m.skipped.join("; ")));
        }
    }
    let registered = project_models::record_in_registry(&ctx.registry(), dir, &pulled.models)?;
    Ok((pulled, registered))
}

fn runtime() -> Result<tokio::runtime::Runtime, CliError> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| CliError::Failed(format!("cannot start the async runtime: {e}")))
}

fn run_project(args: &PullArgs, ctx: &Ctx) -> Result<ExitCode, CliError> {
    let cwd = Ctx::cwd()?;
    let dir = project_models::find_manifest_dir(&cwd)
        .ok_or_else(|| CliError::Usage(ModelsError::NoManifest(cwd.clone()).to_string()))?;
    let (pulled, registered) = pull_project(ctx, &dir, args.locked, args.offline, args.allow_http)?;
    if ctx.out.json {
        let lock =
            LockDoc { path: dir.join(wharf::lockfile::LOCKFILE).display().to_string(), changed: pulled.lock_changed };
        ctx.out.json(&ProjectDoc { project: dir.display().to_string(), models: &pulled.models, lock, registered });
    } else {
        for m in &pulled.models {
            ctx.out.line(format!("{}\t{}", m.name, m.file.path.display()));
        }
        if pulled.lock_changed {
            ctx.out.status(format!("wrote {}", dir.join(wharf::lockfile::LOCKFILE).display()));
        }
    }
    Ok(ExitCode::SUCCESS)
}

#[derive(Serialize)]
struct PullDoc {
    models: Vec<Pulled>,
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
    let cfg = wharf::paths::store_config(&ctx.env, &ctx.layout, args.offline, args.allow_http)
        .map_err(|e| CliError::Usage(e.to_string()))?;
    let store = ModelStore::new(cfg).map_err(CliError::failed)?;
    let opts = PullOptions { include: args.include, exclude: args.exclude, sha256: args.sha256, now: ctx.now };
    let bars = Bars::new(!ctx.out.quiet && !ctx.out.json && std::io::stderr().is_terminal());
    let runtime = runtime()?;
    let mut models = Vec::new();
    for source in &sources {
        let pulled = runtime.block_on(store.get_model(source, &opts, &bars)).map_err(|e| {
            bars.finish();
            if e.is_usage() {
                CliError::Usage(e.to_string())
            } else {
                CliError::failed(e)
            }
        })?;
        models.extend(pulled);
    }
    bars.finish();
    if ctx.out.json {
        ctx.out.json(&PullDoc { models });
    } else {
        for m in &models {
            ctx.out.status(format!("{} {}", if m.cached { "cached    " } else { "downloaded" }, m.source));
            ctx.out.line(m.path.display().to_string());
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// One bar per file on a terminal, and a total bar once a second file starts; notes about
/// retries and waits in any case.
struct Bars {
    draw: bool,
    multi: MultiProgress,
    bars: Mutex<HashMap<String, ProgressBar>>,
    total: Mutex<Total>,
}

#[derive(Default)]
struct Total {
    files: usize,
    length: u64,
    done: u64,
    bar: Option<ProgressBar>,
}

const BAR: &str = "{msg:40!} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec} eta {eta}";

fn bar_style() -> ProgressStyle {
    ProgressStyle::with_template(BAR).unwrap_or_else(|_| ProgressStyle::default_bar()).progress_chars("=> ")
}

impl Bars {
    fn new(draw: bool) -> Bars {
        Bars {
            draw,
            multi: MultiProgress::new(),
            bars: Mutex::new(HashMap::new()),
            total: Mutex::new(Total::default()),
        }
    }

    fn finish(&self) {
        for b in self.bars.lock().map(|m| m.values().cloned().collect::<Vec<_>>()).unwrap_or_default() {
            b.finish_and_clear();
        }
        if let Some(b) = self.total.lock().ok().and_then(|t| t.bar.clone()) {
            b.finish_and_clear();
        }
    }

    fn count(&self, length: u64, bytes: u64) {
        let Ok(mut t) = self.total.lock() else { return };
        t.length += length;
        t.done += bytes;
        if t.files >= 2 && t.bar.is_none() {
            let bar = self.multi.add(ProgressBar::new(t.length));
            bar.set_style(bar_style());
            bar.set_message(format!("total ({} files)", t.files));
            bar.set_position(t.done);
            t.bar = Some(bar);
        } else if let Some(b) = &t.bar {
            b.set_length(t.length);
            b.set_position(t.done);
        }
    }
}

impl Progress for Bars {
    fn event(&self, e: Event) {
        match e {
            Event::Retry { id, attempt, wait_ms, reason } => {
                self.multi.suspend(|| {
                    eprintln!("retrying {id} in {:.1}s (attempt {attempt} failed: {reason})", wait_ms as f64 / 1000.0)
                });
            }
            Event::Waiting { id, lock } => {
                self.multi
                    .suspend(|| eprintln!("waiting for another process downloading {id} (lock `{}`)", lock.display()));
            }
            Event::Start { id, total, resumed_from } if self.draw => {
                if let Ok(mut t) = self.total.lock() {
                    t.files += 1;
                    if let Some(b) = &t.bar {
                        b.set_message(format!("total ({} files)", t.files));
                    }
                }
                self.count(total.unwrap_or(0), resumed_from);
                // File bars go above the total bar, which stays last.
                let has_total = self.total.lock().is_ok_and(|t| t.bar.is_some());
                let fresh = ProgressBar::new(total.unwrap_or(0));
                let bar = if has_total { self.multi.insert_from_back(1, fresh) } else { self.multi.add(fresh) };
                bar.set_style(bar_style());
                bar.set_message(id.rsplit('/').next().unwrap_or(&id).to_string());
                bar.set_position(resumed_from);
                if let Ok(mut m) = self.bars.lock() {
                    m.insert(id, bar);
                }
            }
            Event::Bytes { id, n } if self.draw => {
                if let Some(b) = self.bars.lock().ok().and_then(|m| m.get(&id).cloned()) {
                    b.inc(n);
                }
                self.count(0, n);
            }
            Event::Done { id } if self.draw => {
                if let Some(b) = self.bars.lock().ok().and_then(|mut m| m.remove(&id)) {
                    b.finish_and_clear();
                }
            }
            _ => {}
        }
    }
}
