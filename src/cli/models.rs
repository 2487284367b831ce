//! `wharf models list | stats | verify [--fix] | rm ID... | gc --max-size SIZE | clear`: the store.

use std::process::ExitCode;

use clap::{Args, Subcommand};
use serde::Serialize;

use wharf::store::inventory::{self, Inventory, Item, Usage, Verified};
use wharf::store::ModelStore;

use super::{CliError, Ctx};
use crate::output::human_bytes;

#[derive(Debug, Args)]
pub struct ModelsArgs {
    #[command(subcommand)]
    pub command: ModelsCommand,
}

#[derive(Debug, Subcommand)]
pub enum ModelsCommand {
    /// Every model file in the store: size, source, last use, the projects using it
    List,
    /// Totals for the store
    Stats,
    /// Re-hash every file (in parallel) and report valid / corrupted / missing
    Verify {
        /// Remove corrupted files and dangling entries so the next pull fetches them again
        #[arg(long)]
        fix: bool,
    },
    /// Remove model files by id (as `models list` shows them)
    Rm {
        #[arg(value_name = "ID", required = true)]
        ids: Vec<String>,
    },
    /// Evict least recently used models that wharf fetched and no project uses, down to a size
    Gc {
        /// The size to get under, e.g. 20G, 500MiB
        #[arg(long, value_name = "SIZE")]
        max_size: String,
        /// Show what would go, remove nothing
        #[arg(long, short = 'n')]
        dry_run: bool,
    },
    /// Remove every model wharf fetched (other tools' files in the Hugging Face cache stay)
    Clear {
        /// Do not ask; needed when not on a terminal
        #[arg(long, short = 'y')]
        yes: bool,
    },
}

fn store(ctx: &Ctx) -> Result<ModelStore, CliError> {
    let cfg =
        wharf::paths::store_config(&ctx.env, &ctx.layout, true, false).map_err(|e| CliError::Usage(e.to_string()))?;
    ModelStore::new(cfg).map_err(CliError::failed)
}

/// Which files registered projects use. Destructive commands need it exactly (`strict`).
fn usage(ctx: &Ctx, strict: bool) -> Result<Usage, CliError> {
    match ctx.registry().read() {
        Ok(l) => Ok(Usage::of(&l.doc, &ctx.env)),
        Err(e) if !strict => {
            ctx.out.warn(format!("cannot tell which projects use which model: {e}"));
            Ok(Usage::default())
        }
        Err(e) => Err(e.into()),
    }
}

#[derive(Serialize)]
struct ListDoc<'a> {
    models: &'a [Item],
}

#[derive(Serialize)]
struct Removed {
    dry_run: bool,
    removed: Vec<String>,
    freed_bytes: u64,
}

pub fn run(args: ModelsArgs, ctx: &Ctx) -> Result<ExitCode, CliError> {
    let store = store(ctx)?;
    let inv = Inventory { hub: &store.hub_cache, blobs_root: &store.blobs.root, index: &store.index };
    match args.command {
        ModelsCommand::List => {
            let items = inv.items(&usage(ctx, false)?);
            if ctx.out.json {
                ctx.out.json(&ListDoc { models: &items });
            } else if items.is_empty() {
                ctx.out.status("the store is empty; `wharf pull SPEC` fetches a model");
            } else {
                let rows: Vec<Vec<String>> = items
                    .iter()
                    .map(|i| {
                        vec![
                            i.id.clone(),
                            human_bytes(i.size),
                            i.sources.first().cloned().unwrap_or_else(|| {
                                if i.wharf {
                                    "-".into()
                                } else {
                                    "(another tool)".into()
                                }
                            }),
                            i.last_used.clone().unwrap_or_else(|| "-".into()),
                            if i.used_by.is_empty() { "-".into() } else { i.used_by.join(", ") },
                        ]
                    })
                    .collect();
                ctx.out.table(&["ID", "SIZE", "SOURCE", "LAST USED", "USED BY"], &rows, None);
            }
        }
        ModelsCommand::Stats => {
            let s = store.stats(&usage(ctx, false)?);
            if ctx.out.json {
                ctx.out.json(&s);
            } else {
                ctx.out.line(format!("models:      {} ({})", s.total_models, human_bytes(s.total_size_bytes)));
                ctx.out.line(format!("from wharf:  {} ({})", s.wharf_models, human_bytes(s.wharf_size_bytes)));
                ctx.out.line(format!("in use:      {}", s.used_models));
                ctx.out.line(format!("hub cache:   {}", s.hub_cache.display()));
                ctx.out.line(format!("wharf cache: {}", s.wharf_cache.display()));
            }
        }
        ModelsCommand::Verify { fix } => return verify(&inv, fix, ctx),
        ModelsCommand::Rm { ids } => {
            let items = inv.items(&usage(ctx, true)?);
            let mut chosen = Vec::new();
            for id in &ids {
                let it = items
                    .iter()
                    .find(|i| &i.id == id)
                    .ok_or_else(|| CliError::Usage(format!("no model `{id}` in the store; see `wharf models list`")))?;
                if !it.used_by.is_empty() {
                    return Err(CliError::Failed(format!(
                        "`{id}` is used by {}; remove it from those projects first",
                        it.used_by.join(", ")
                    )));
                }
                chosen.push(it);
            }
            remove(&inv, &chosen, false, ctx)?;
        }
        ModelsCommand::Gc { max_size, dry_run } => {
            let max = inventory::parse_size(&max_size)
                .ok_or_else(|| CliError::Usage(format!("`{max_size}` is not a size (try 20G or 500MiB)")))?;
            let items = inv.items(&usage(ctx, true)?);
            let (evict, summary) = inventory::gc_plan(&items, max);
            if !dry_run {
                for it in &evict {
                    inv.remove(it).map_err(CliError::failed)?;
                }
            }
            if ctx.out.json {
                #[derive(Serialize)]
                struct GcDoc<'a> {
                    dry_run: bool,
                    #[serde(flatten)]
                    summary: &'a inventory::Collected,
                }
                ctx.out.json(&GcDoc { dry_run, summary: &summary });
            } else {
                let verb = if dry_run { "would evict" } else { "evicted" };
                ctx.out.status(format!(
                    "{verb} {} model(s), {} freed; the store holds {} (cap {})",
                    summary.evicted.len(),
                    human_bytes(summary.freed_bytes),
                    human_bytes(summary.total_bytes),
                    human_bytes(max)
                ));
                if !summary.under_cap {
                    ctx.out.warn("still over the cap: what is left is used by projects or was not fetched by wharf");
                }
            }
        }
        ModelsCommand::Clear { yes } => {
            let usage = usage(ctx, true)?;
            if !yes && !super::interactive() {
                return Err(CliError::Usage("not on a terminal, so nothing was removed\n  hint: pass `--yes`".into()));
            }
            if !yes && !super::prune::ask("Remove every model file wharf fetched that no project uses?") {
                ctx.out.status("nothing removed");
                return Ok(ExitCode::SUCCESS);
            }
            let gone = store.clear(&usage).map_err(CliError::failed)?;
            let doc = Removed {
                dry_run: false,
                removed: gone.iter().map(|i| i.id.clone()).collect(),
                freed_bytes: gone.iter().map(|i| i.size).sum(),
            };
            report_removed(&doc, ctx);
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn remove(inv: &Inventory, chosen: &[&Item], dry_run: bool, ctx: &Ctx) -> Result<(), CliError> {
    let mut doc = Removed { dry_run, removed: Vec::new(), freed_bytes: 0 };
    for it in chosen {
        if !dry_run {
            inv.remove(it).map_err(CliError::failed)?;
        }
        doc.removed.push(it.id.clone());
        doc.freed_bytes += it.size;
    }
    report_removed(&doc, ctx);
    Ok(())
}

fn report_removed(doc: &Removed, ctx: &Ctx) {
    if ctx.out.json {
        ctx.out.json(doc);
    } else {
        ctx.out.status(format!("removed {} model file(s), {} freed", doc.removed.len(), human_bytes(doc.freed_bytes)));
    }
}

fn verify(inv: &Inventory, fix: bool, ctx: &Ctx) -> Result<ExitCode, CliError> {
    let items = inv.items(&Usage::default());
    let (valid, corrupted) = inventory::verify(&items);
    let missing = inv.missing();
    let mut report =
        Verified { valid, corrupted, missing: missing.iter().map(|(id, _)| id.clone()).collect(), removed: Vec::new() };
    if fix {
        for it in items.iter().filter(|i| report.corrupted.contains(&i.id)) {
            inv.remove(it).map_err(CliError::failed)?;
            report.removed.push(it.id.clone());
        }
        for (id, path) in &missing {
            // A dangling snapshot link, or the record of a blob that is gone.
            inv.index.forget(path).map_err(CliError::failed)?;
            report.removed.push(id.clone());
        }
    }
    let bad = !report.corrupted.is_empty() || !report.missing.is_empty();
    if ctx.out.json {
        ctx.out.json(&report);
    } else {
        ctx.out.line(format!(
            "valid: {}, corrupted: {}, missing: {}",
            report.valid.len(),
            report.corrupted.len(),
            report.missing.len()
        ));
        for id in &report.corrupted {
            ctx.out.line(format!("corrupted  {id}"));
        }
        for id in &report.missing {
            ctx.out.line(format!("missing    {id}"));
        }
        if bad && !fix {
            ctx.out
                .status("hint: `wharf models verify --fix` removes them so the next `wharf pull` fetches them again");
        }
    }
    Ok(if bad && !fix { ExitCode::from(1) } else { ExitCode::SUCCESS })
}
