//! `wharf models list | stats | verify [--fix] [ID…] | rm ID… | gc --max-size SIZE | clear`: the store.
//! `rm`, `gc` and `clear` take `--dry-run`; `rm` and `verify` take ids, unique id prefixes, model
//! names of the current project and source specs (see `wharf::ops::select`).

use std::process::ExitCode;

use clap::{Args, Subcommand};
use serde::Serialize;

use wharf::store::error::SizeError;
use wharf::store::partial::Kept;
use wharf::store::{ByteSize, Collected, Listing, ModelStore, Removed, Repair, Selector, Stats, Verified};

use super::prompt::{Confirm, Going};
use super::{CliError, Ctx};
use crate::cli::output::human_bytes;

#[derive(Debug, Args)]
pub struct ModelsArgs {
    #[command(subcommand)]
    pub command: ModelsCommand,
}

#[derive(Debug, Subcommand)]
pub enum ModelsCommand {
    /// Every model file in the store: size, source, last use, the projects using it; and the
    /// partial downloads
    #[command(after_help = "Examples:
  wharf models list
  wharf models list --json | jq -r '.models[] | select(.used_by == []) | .id'
  wharf models list --remote   which files the team store (WHARF_MIRRORS=s3://…) has too")]
    List {
        /// Also say which files a team store (the s3:// entries of WHARF_MIRRORS) has
        #[arg(long)]
        remote: bool,
    },
    /// Totals for the store
    #[command(after_help = "Examples:
  wharf models stats
  wharf models stats --remote --json")]
    Stats {
        /// Also count the files a team store (the s3:// entries of WHARF_MIRRORS) has
        #[arg(long)]
        remote: bool,
    },
    /// Re-hash every file (in parallel) and report valid / corrupted / unreadable / missing
    #[command(after_help = "Examples:
  wharf models verify                 re-hash every stored file
  wharf models verify --fix           remove what is corrupt; `wharf pull` fetches it again
  wharf models verify tinyllama       one model of this project, by its name in wharf.toml")]
    Verify {
        /// Remove files proved corrupt and dangling entries so the next pull fetches them again
        /// (files that cannot be read are never removed)
        #[arg(long)]
        fix: bool,
        /// Only these files: an id (or a unique prefix of it, 4+ characters), a model name of this
        /// project's wharf.toml, or a source spec (default: every file)
        #[arg(value_name = "ID|NAME|SPEC")]
        ids: Vec<String>,
    },
    /// Remove model files or partial downloads: by id as `models list` shows it (or a unique
    /// prefix of it, 4+ characters), by model name of this project's wharf.toml, or by source spec
    #[command(after_help = "Examples:
  wharf models rm sha256:1a2b3c4d     by a unique prefix of the id `models list` shows
  wharf models rm tinyllama --dry-run by model name of this project
  wharf models rm hf://org/repo@main/model.gguf")]
    Rm {
        #[arg(value_name = "ID|NAME|SPEC", required = true)]
        ids: Vec<String>,
        /// Show what would go, remove nothing
        #[arg(long, short = 'n')]
        dry_run: bool,
    },
    /// Remove dead partial downloads, then evict least recently used models that wharf fetched
    /// and no project uses, down to a size
    #[command(after_help = "Examples:
  wharf models gc --max-size 20G --dry-run
  wharf models gc --max-size 500MiB")]
    Gc {
        /// The size to get under, e.g. 20G, 500MiB
        #[arg(long, value_name = "SIZE")]
        max_size: String,
        /// Show what would go, remove nothing
        #[arg(long, short = 'n')]
        dry_run: bool,
    },
    /// Print the path of a model of the current project by its name in wharf.toml: its view
    /// <env>/models/<name><ext>, a link to the stored file
    #[command(after_help = "Examples:
  wharf models path tinyllama          <env>/models/tinyllama.gguf, a link to the stored file
  wharf models path tinyllama --json
  llama-cli -m \"$(wharf models path tinyllama)\"")]
    Path(PathArgs),
    /// Remove every model wharf fetched that no project uses, and dead partial downloads (other
    /// tools' finished files in the Hugging Face cache stay)
    #[command(after_help = "Examples:
  wharf models clear --dry-run
  wharf models clear --yes")]
    Clear {
        /// Do not ask; needed when not on a terminal
        #[arg(long, short = 'y')]
        yes: bool,
        /// Show what would go, remove nothing
        #[arg(long, short = 'n')]
        dry_run: bool,
    },
}

#[derive(Debug, Args)]
pub struct PathArgs {
    /// The model's name in wharf.toml
    pub name: String,
}

/// `models path NAME`: one line, the view's path (`{"schema":1,"name","path"}` with `--json`).
fn model_path(args: PathArgs, ctx: &Ctx) -> Result<ExitCode, CliError> {
    let path = super::activation::model_path(&args.name, ctx)?;
    if ctx.out.json {
        ctx.out.json(&serde_json::json!({ "name": args.name, "path": path }));
    } else {
        ctx.out.line(path.display().to_string());
    }
    Ok(ExitCode::SUCCESS)
}

fn store(ctx: &Ctx) -> Result<ModelStore, CliError> {
    ctx.store(wharf::Access { offline: true, allow_http: false })
}

/// The store's files; with `remote`, each marked with whether a team store has it.
fn listing(ctx: &Ctx, store: &ModelStore, registry: &wharf::Registry, remote: bool) -> Result<Listing, CliError> {
    let mut l = store.list(registry);
    if remote {
        // The team stores are asked with a store that may use the network.
        let online = ctx.store(wharf::Access::default())?;
        super::project_pull::runtime()?.block_on(online.mark_in_team(&mut l.models)).map_err(CliError::failed)?;
    }
    Ok(l)
}

pub fn run(args: ModelsArgs, ctx: &Ctx) -> Result<ExitCode, CliError> {
    let store = store(ctx)?;
    let registry = ctx.registry();
    match args.command {
        ModelsCommand::List { remote } => render_list(&listing(ctx, &store, &registry, remote)?, ctx),
        ModelsCommand::Stats { remote } => render_stats(&store.stats_of(listing(ctx, &store, &registry, remote)?), ctx),
        ModelsCommand::Verify { fix, ids } => {
            let repair = if fix { Repair::Yes } else { Repair::No };
            let only = selectors(&ids)?;
            return Ok(render_verified(&store.validate_integrity(repair, &only).map_err(CliError::from)?, ctx));
        }
        ModelsCommand::Rm { ids, dry_run } => {
            let chosen = selectors(&ids)?;
            render_removed(&store.remove_model(&chosen, &registry, dry_run).map_err(CliError::from)?, ctx)
        }
        ModelsCommand::Gc { max_size, dry_run } => {
            let max: ByteSize = max_size.parse().map_err(|e: SizeError| CliError::Usage(e.to_string()))?;
            render_gc(&store.gc(&registry, max, dry_run).map_err(CliError::from)?, dry_run, ctx);
        }
        ModelsCommand::Path(a) => return model_path(a, ctx),
        ModelsCommand::Clear { yes, dry_run } => {
            if !yes && !dry_run {
                let preview = store.clear(&registry, true).map_err(CliError::from)?;
                let going: Vec<Going> =
                    preview.removed.iter().map(|id| Going { kind: "file", what: id.clone(), bytes: 0 }).collect();
                let confirm = Confirm::new("wharf models clear");
                let question = format!("Remove {} file(s) ({})?", going.len(), human_bytes(preview.freed_bytes));
                if !confirm.ask(&going, &question) {
                    return Err(confirm.refused());
                }
            }
            render_removed(&store.clear(&registry, dry_run).map_err(CliError::from)?, ctx);
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// The arguments of `rm` / `verify`, read with the project around the current folder for names.
fn selectors(args: &[String]) -> Result<Vec<Selector>, CliError> {
    Ok(wharf::ops::select::selectors(args, &Ctx::cwd()?))
}

fn render_stats(s: &Stats, ctx: &Ctx) {
    if let Some(w) = &s.warning {
        ctx.out.warn(w);
    }
    if ctx.out.json {
        return ctx.out.json(s);
    }
    ctx.out.line(format!("models:      {} ({})", s.total_models, human_bytes(s.total_size_bytes)));
    ctx.out.line(format!("from wharf:  {} ({})", s.wharf_models, human_bytes(s.wharf_size_bytes)));
    ctx.out.line(format!("in use:      {}", s.used_models));
    ctx.out.line(format!("partial:     {} ({})", s.partial_files, human_bytes(s.partial_bytes)));
    if let (Some(n), Some(bytes)) = (s.in_team_store, s.in_team_store_bytes) {
        ctx.out.line(format!("team store:  {n} ({})", human_bytes(bytes)));
    }
    ctx.out.line(format!("hub cache:   {}", s.hub_cache.display()));
    ctx.out.line(format!("wharf cache: {}", s.wharf_cache.display()));
}

fn render_list(l: &Listing, ctx: &Ctx) {
    if let Some(w) = &l.warning {
        ctx.out.warn(w);
    }
    if ctx.out.json {
        return ctx.out.json(l);
    }
    if l.models.is_empty() && l.partials.is_empty() {
        return ctx.out.status("the store is empty; `wharf pull SPEC` fetches a model");
    }
    let remote = l.models.iter().any(|i| i.in_team_store.is_some());
    let mut rows: Vec<Vec<String>> = l
        .models
        .iter()
        .map(|i| {
            let source = i.sources.first().cloned();
            let mut row = vec![
                i.id.to_string(),
                human_bytes(i.size),
                source.unwrap_or_else(|| if i.wharf { "-".into() } else { "(another tool)".into() }),
                i.last_used.clone().unwrap_or_else(|| "-".into()),
                if i.used_by.is_empty() { "-".into() } else { i.used_by.join(", ") },
            ];
            if remote {
                row.push(if i.in_team_store == Some(true) { "yes".into() } else { "no".into() });
            }
            row
        })
        .collect();
    rows.extend(l.partials.iter().map(|p| {
        let mut row = vec![p.id.to_string(), human_bytes(p.size), "(partial download)".into(), "-".into(), "-".into()];
        if remote {
            row.push("-".into());
        }
        row
    }));
    let mut header = vec!["ID", "SIZE", "SOURCE", "LAST USED", "USED BY"];
    if remote {
        header.push("TEAM STORE");
    }
    ctx.out.table(&header, &rows, None);
}

fn render_gc(summary: &Collected, dry_run: bool, ctx: &Ctx) {
    if ctx.out.json {
        #[derive(Serialize)]
        struct GcDoc<'a> {
            dry_run: bool,
            #[serde(flatten)]
            summary: &'a Collected,
        }
        return ctx.out.json(&GcDoc { dry_run, summary });
    }
    let verb = if dry_run { "would evict" } else { "evicted" };
    for id in &summary.evicted {
        ctx.out.line(format!("{verb}  {id}"));
    }
    let swept = if dry_run { "would remove" } else { "removed" };
    for id in &summary.partials_removed {
        ctx.out.line(format!("{swept}  {id}"));
    }
    ctx.out.status(format!(
        "{verb} {} model(s) and {} partial download(s), {} freed; the store holds {} (cap {})",
        summary.evicted.len(),
        summary.partials_removed.len(),
        human_bytes(summary.freed_bytes),
        human_bytes(summary.total_bytes),
        human_bytes(summary.max_bytes)
    ));
    kept_note(&summary.kept, ctx);
    if !summary.under_cap {
        ctx.out.warn("still over the cap: what is left is used by projects or was not fetched by wharf");
    }
}

fn render_removed(doc: &Removed, ctx: &Ctx) {
    if ctx.out.json {
        return ctx.out.json(doc);
    }
    let verb = if doc.dry_run { "would remove" } else { "removed" };
    for id in &doc.removed {
        ctx.out.line(format!("{verb}  {id}"));
    }
    ctx.out.status(format!("{verb} {} file(s), {} freed", doc.removed.len(), human_bytes(doc.freed_bytes)));
    kept_note(&doc.kept, ctx);
}

fn kept_note(kept: &[Kept], ctx: &Ctx) {
    for k in kept {
        ctx.out.status(format!("kept {}: {}", k.id, k.reason));
    }
}

fn render_verified(v: &Verified, ctx: &Ctx) -> ExitCode {
    let failed = v.failed();
    if ctx.out.json {
        ctx.out.json(v);
    } else {
        ctx.out.line(format!(
            "valid: {}, corrupted: {}, unreadable: {}, missing: {}",
            v.valid.len(),
            v.corrupted.len(),
            v.unreadable.len(),
            v.missing.len()
        ));
        for id in &v.corrupted {
            ctx.out.line(format!("corrupted   {id}"));
        }
        for u in &v.unreadable {
            ctx.out.line(format!("unreadable  {} (`{}`: {})", u.id, u.path.display(), u.error));
        }
        for id in &v.missing {
            ctx.out.line(format!("missing     {id}"));
        }
        for link in &v.dangling_links {
            ctx.out.line(format!("dangling    `{}` (a link to nothing)", link.display()));
        }
        for f in &v.removed {
            match &f.id {
                Some(id) => ctx.out.line(format!("removed     {id} (`{}`)", f.path.display())),
                None => ctx.out.line(format!("removed     `{}`", f.path.display())),
            }
        }
        if !v.unreadable.is_empty() {
            ctx.out.status("hint: unreadable files were not checked and are never removed; run as their owner");
        }
        if v.repairable() {
            ctx.out
                .status("hint: `wharf models verify --fix` removes them so the next `wharf pull` fetches them again");
        }
    }
    if failed {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    }
}
