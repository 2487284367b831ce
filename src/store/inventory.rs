//! What is in the store, and the policy over all of it: list, stats, rm, clear (gc is in `gc.rs`,
//! verify in `verify.rs`, unfinished downloads in `partial.rs`).
//!
//! Items are finished blobs: `hf:ORG/NAME:<etag>` in the Hugging Face cache and `sha256:<hex>` in
//! wharf's own store (one [`StoreId`] per file, see `id.rs`); temp files (`*.incomplete`, `*.incomplete.ranged`) are never items but
//! partials. An item is *wharf's* when the index has a record for it; only wharf's items are ever
//! evicted by `gc` or removed by `clear`. An item is *used* when a registered project's models
//! name its file or its SHA-256; used items are never evicted. Partials whose lock no process
//! holds are removed by `gc`, `clear` and `prune --models`, whoever started them (they are no
//! model, only bytes a dead transfer left).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Serialize;

use super::id::{self, Candidate, Selector, StoreId};
use super::index::{Cache, Index, Record};
use super::layout::{BlobStore, HubCache};
use super::partial::{self, Kept, Partial, Swept};
use crate::fsx::{Context, FsError};
use crate::registry::{Registry, RegistryError};
use crate::transfer::hash::Expected;

pub use super::error::InventoryError;

/// One finished file in the store, as `models list` shows it.
#[derive(Debug, Clone, Serialize)]
pub struct Item {
    /// `hf:ORG/NAME:<etag>` or `sha256:<hex>`: what `models rm` takes.
    pub id: StoreId,
    /// Which cache holds it.
    pub kind: Cache,
    /// The blob.
    pub path: PathBuf,
    /// Its length in bytes.
    pub size: u64,
    /// The Hugging Face repo (`hf` items only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub repo: Option<String>,
    /// The blob's name in the Hugging Face cache (`hf` items only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub etag: Option<String>,
    /// Its SHA-256, when its name or its record says it.
    pub sha256: Option<String>,
    /// Where wharf fetched it from (`hf://…`, URLs, files).
    pub sources: Vec<String>,
    /// Fetched by wharf (recorded in its index).
    pub wharf: bool,
    /// When a pull last used it (from the index).
    pub last_used: Option<String>,
    /// Registered projects whose models use it.
    pub used_by: Vec<String>,
    /// Whether a team store has its bytes (asked only by `models list --remote`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub in_team_store: Option<bool>,
}

impl Item {
    /// Whether `clear`, `gc` and `prune --models` may remove it: wharf fetched it and no project
    /// uses it.
    pub fn removable(&self) -> bool {
        self.wharf && self.used_by.is_empty()
    }
}

/// Files a project uses: blob path or SHA-256 → the projects.
#[derive(Debug, Clone, Default)]
pub struct Usage {
    /// Canonical blob path → the projects naming it.
    pub by_path: BTreeMap<PathBuf, Vec<String>>,
    /// Lowercase SHA-256 → the projects pinning it.
    pub by_sha256: BTreeMap<String, Vec<String>>,
}

impl Usage {
    /// The model files the projects of `doc` use (paths resolved, digests lowercased).
    pub fn of(doc: &crate::registry::RegistryDoc, env: &crate::env::Env) -> Usage {
        use crate::home_path::HomePath;
        let mut u = Usage::default();
        for (key, entry) in &doc.projects {
            let project =
                HomePath::from_stored(key.clone()).expand(env).map_or(key.clone(), |p| p.display().to_string());
            for m in &entry.models {
                if let Some(p) = m.path.as_ref().and_then(|p| HomePath::from_stored(p.clone()).expand(env).ok()) {
                    u.by_path.entry(crate::fsx::same_place(&p)).or_default().push(project.clone());
                }
                if let Some(h) = &m.sha256 {
                    u.by_sha256.entry(h.to_ascii_lowercase()).or_default().push(project.clone());
                }
            }
        }
        u
    }

    /// The projects that use the file at `path` (any spelling of it) or with the SHA-256
    /// `sha256` (any case), sorted, each once: the one rule for "is this file used".
    pub fn users_of(&self, path: Option<&Path>, sha256: Option<&str>) -> Vec<String> {
        let by_path = path.and_then(|p| self.by_path.get(&crate::fsx::same_place(p)));
        let by_sha = sha256.and_then(|h| self.by_sha256.get(&h.to_ascii_lowercase()));
        let mut users: Vec<String> = by_path.into_iter().chain(by_sha).flatten().cloned().collect();
        users.sort();
        users.dedup();
        users
    }

    /// What the projects registered in `registry` use. Whatever removes files needs this exactly:
    /// if the registry cannot be read, nothing is removed.
    pub fn read(registry: &Registry) -> Result<Usage, RegistryError> {
        Ok(Usage::of(&registry.read()?.doc, registry.env()))
    }

    /// For a view of the store (`list`, `stats`): when the registry cannot be read, no file is
    /// known to be used, and the warning says why.
    pub fn read_for_view(registry: &Registry) -> (Usage, Option<String>) {
        match Usage::read(registry) {
            Ok(u) => (u, None),
            Err(e) => (Usage::default(), Some(format!("cannot tell which projects use which model: {e}"))),
        }
    }
}

/// The store's two caches and wharf's index, seen as one set of files.
pub struct Inventory<'a> {
    /// The Hugging Face hub cache.
    pub hub: &'a HubCache,
    /// wharf's content-addressed blob store.
    pub blobs: &'a BlobStore,
    /// What wharf fetched.
    pub index: &'a Index,
}

/// `models list`: the finished files and the unfinished downloads.
#[derive(Debug, Clone, Serialize)]
pub struct Listing {
    /// The finished files.
    pub models: Vec<Item>,
    /// The unfinished downloads.
    pub partials: Vec<Partial>,
    /// Set when which projects use which file could not be told (see [`Usage::read_for_view`]).
    #[serde(skip)]
    pub warning: Option<String>,
}

/// What `rm` and `clear` removed (in a dry run: would remove).
#[derive(Debug, Clone, Default, Serialize)]
pub struct Removed {
    /// Nothing was removed: the lists say what a real run would remove.
    pub dry_run: bool,
    /// Ids of finished files and of partial downloads.
    pub removed: Vec<String>,
    /// Partial downloads left alone (see `partial::Swept::Kept`).
    pub kept: Vec<Kept>,
    /// Bytes freed.
    pub freed_bytes: u64,
}

fn files_in(dir: &Path) -> Vec<PathBuf> {
    let Ok(rd) = std::fs::read_dir(dir) else { return Vec::new() };
    let mut v: Vec<PathBuf> = rd
        .filter_map(Result::ok)
        .filter(|e| e.file_type().is_ok_and(|t| t.is_file()))
        .map(|e| e.path())
        .filter(|p| !partial::is_temp_name(&p.file_name().unwrap_or_default().to_string_lossy()))
        .collect();
    v.sort();
    v
}

/// A file the store should hold and does not (see [`Inventory::missing`]).
#[derive(Debug, Clone, Default)]
pub struct Missing {
    /// Its SHA-256, when its record or its blob name says it: a model name pinned in
    /// `wharf.lock` names it.
    pub sha256: Option<String>,
    /// Where wharf fetched it from (its record's sources).
    pub sources: Vec<String>,
    /// Its record's blob path and the snapshot links to it: what `verify --fix` forgets.
    pub paths: Vec<PathBuf>,
}

/// What is gone from the store: the files by id, and the dangling snapshot links that belong to
/// no file (a folder that is no `models--` repo, a target without a name), by path.
#[derive(Debug, Clone, Default)]
pub struct Gone {
    /// One entry per file.
    pub files: BTreeMap<StoreId, Missing>,
    /// Links that name no file of the store.
    pub odd_links: Vec<PathBuf>,
}

/// A file found in a store, before the index and the registry say more about it.
struct OnDisk {
    id: StoreId,
    kind: Cache,
    path: PathBuf,
    repo: Option<String>,
    etag: Option<String>,
    sha256: Option<String>,
}

impl Inventory<'_> {
    /// Every blob in both stores.
    pub fn items(&self, usage: &Usage) -> Vec<Item> {
        let records: BTreeMap<PathBuf, Record> = self.index.all().into_iter().map(|r| (r.blob.clone(), r)).collect();
        let mut items = Vec::new();
        for repo_dir in std::fs::read_dir(&self.hub.root).into_iter().flatten().filter_map(Result::ok).map(|e| e.path())
        {
            let Some(folder) = repo_dir.file_name().map(|n| n.to_string_lossy().into_owned()) else { continue };
            let Some(repo) = folder.strip_prefix("models--").map(|r| r.replacen("--", "/", 1)) else { continue };
            for blob in files_in(&repo_dir.join("blobs")) {
                let etag = blob.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
                let sha256 = match Expected::from_etag(&etag) {
                    Expected::Sha256(h) => Some(h),
                    _ => None,
                };
                let id = StoreId::hf(&repo, &etag);
                let found =
                    OnDisk { id, kind: Cache::Hf, path: blob, repo: Some(repo.clone()), etag: Some(etag), sha256 };
                items.push(self.item(found, &records, usage));
            }
        }
        for blob in files_in(&self.blobs.root.join("blobs/sha256")) {
            let hex = blob.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
            let found = OnDisk {
                id: StoreId::blob(&hex),
                kind: Cache::Blob,
                path: blob,
                repo: None,
                etag: None,
                sha256: Some(hex),
            };
            items.push(self.item(found, &records, usage));
        }
        items
    }

    /// What the index and the registry add to a file found on disk.
    fn item(&self, found: OnDisk, records: &BTreeMap<PathBuf, Record>, usage: &Usage) -> Item {
        let OnDisk { id, kind, path, repo, etag, sha256 } = found;
        let canon = std::fs::canonicalize(&path).unwrap_or_else(|_| path.clone());
        let rec = records.get(&canon).or_else(|| records.get(&path));
        let sha256 = sha256.or_else(|| rec.map(|r| r.sha256.clone()));
        let used_by = usage.users_of(Some(&canon), sha256.as_deref());
        Item {
            id,
            kind,
            size: std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0),
            path,
            repo,
            etag,
            sha256,
            sources: rec.map(|r| r.sources.clone()).unwrap_or_default(),
            wharf: rec.is_some(),
            last_used: rec.map(Index::last_used),
            used_by,
            in_team_store: None,
        }
    }

    /// Records whose blob is gone, and snapshot links that point at nothing: one entry per file
    /// (a record and the links to its blob share its id), with every path that `verify --fix`
    /// forgets for it; a link that names no file of the store is kept apart, by its path.
    pub fn missing(&self) -> Gone {
        let mut out = Gone::default();
        for r in self.index.all().into_iter().filter(|r| is_gone(&r.blob)) {
            let m = out.files.entry(StoreId::of_record(&r)).or_default();
            m.sha256 = Some(r.sha256.to_ascii_lowercase());
            m.sources.extend(r.sources);
            m.paths.push(r.blob);
        }
        for e in walkdir::WalkDir::new(&self.hub.root).into_iter().filter_map(Result::ok) {
            if !(e.path_is_symlink()
                && is_gone_through(e.path())
                && e.path().components().any(|c| c.as_os_str() == "snapshots"))
            {
                continue;
            }
            match self.link_target(e.path()) {
                Some((repo, etag)) => {
                    let m = out.files.entry(StoreId::hf(&repo, &etag)).or_default();
                    if let Expected::Sha256(h) = Expected::from_etag(&etag) {
                        m.sha256.get_or_insert(h);
                    }
                    m.paths.push(e.path().to_path_buf());
                }
                None => out.odd_links.push(e.path().to_path_buf()),
            }
        }
        out
    }

    /// The repo folder and blob name a snapshot link points at, as [`Inventory::items`] reads
    /// them for the blob itself; `None` outside a `models--` folder or for a target without a name.
    fn link_target(&self, link: &Path) -> Option<(String, String)> {
        let rel = link.strip_prefix(&self.hub.root).ok()?;
        let folder = rel.components().next()?.as_os_str().to_str()?;
        let repo = folder.strip_prefix("models--")?.replacen("--", "/", 1);
        let target = std::fs::read_link(link).ok()?;
        Some((repo, target.file_name()?.to_string_lossy().into_owned()))
    }

    /// Every unfinished download in both caches.
    pub fn partials(&self) -> Vec<Partial> {
        partial::scan(self.hub, self.blobs)
    }

    /// The finished files (with their users per `usage`) and the unfinished downloads.
    pub fn list(&self, usage: &Usage) -> Listing {
        Listing { models: self.items(usage), partials: self.partials(), warning: None }
    }

    /// The finished files and partials `selectors` name, each once (see [`id::pick`]).
    pub fn select(&self, selectors: &[Selector], usage: &Usage) -> Result<(Vec<Item>, Vec<Partial>), InventoryError> {
        let (items, partials) = (self.items(usage), self.partials());
        let candidates: Vec<Candidate> = items
            .iter()
            .map(|i| Candidate { id: &i.id, sources: &i.sources, sha256: i.sha256.as_deref() })
            .chain(partials.iter().map(|p| Candidate { id: &p.id, sources: &[], sha256: None }))
            .collect();
        let chosen = id::pick(selectors, &candidates)?;
        Ok((
            items.into_iter().filter(|i| chosen.contains(&i.id)).collect(),
            partials.into_iter().filter(|p| chosen.contains(&p.id)).collect(),
        ))
    }

    /// Remove the items and partials `selectors` name (see [`Inventory::select`]). Every one is
    /// checked first, so an unknown or ambiguous argument, or a file a project uses, removes
    /// nothing; a partial whose transfer is in progress is left alone. A dry run removes nothing
    /// and reports what would go.
    pub fn remove_selected(
        &self,
        selectors: &[Selector],
        usage: &Usage,
        dry_run: bool,
    ) -> Result<Removed, InventoryError> {
        let (items, partials) = self.select(selectors, usage)?;
        if let Some(it) = items.iter().find(|i| !i.used_by.is_empty()) {
            return Err(InventoryError::InUse { id: it.id.to_string(), users: it.used_by.join(", ") });
        }
        let mut out = Removed::default();
        self.remove_items(&items, dry_run, &mut out)?;
        sweep_into(&partials, dry_run, &mut out)?;
        Ok(out)
    }

    /// `clear`: every item wharf fetched that `usage` does not protect, and every partial whose
    /// lock is free (in a dry run: what would go).
    pub fn clear(&self, usage: &Usage, dry_run: bool) -> Result<Removed, InventoryError> {
        let mut out = Removed::default();
        let items: Vec<Item> = self.items(usage).into_iter().filter(Item::removable).collect();
        self.remove_items(&items, dry_run, &mut out)?;
        sweep_into(&self.partials(), dry_run, &mut out)?;
        Ok(out)
    }

    fn remove_items(&self, items: &[Item], dry_run: bool, out: &mut Removed) -> Result<(), InventoryError> {
        for it in items {
            if !dry_run {
                self.remove(it)?;
            }
            out.removed.push(it.id.to_string());
            out.freed_bytes += it.size;
        }
        Ok(())
    }

    /// Delete one item: its blob, the snapshot links to it, its record.
    pub fn remove(&self, item: &Item) -> Result<(), FsError> {
        // The record is read back from disk: its repo is parsed before it names a folder.
        let repo = item.repo.as_deref().and_then(|r| r.parse::<crate::ids::RepoId>().ok());
        if let (Cache::Hf, Some(repo), Some(etag)) = (item.kind, repo, &item.etag) {
            let snaps = self.hub.repo_dir(&repo)?.join("snapshots");
            for e in walkdir::WalkDir::new(&snaps).into_iter().filter_map(Result::ok) {
                let is_link_to_it = e.path_is_symlink()
                    && std::fs::read_link(e.path()).is_ok_and(|t| t.file_name().is_some_and(|n| n == etag.as_str()));
                if is_link_to_it {
                    std::fs::remove_file(e.path()).ctx("cannot remove", e.path())?;
                }
            }
        }
        self.index.forget(&item.path)
    }
}

/// Sweep `partials` (see `partial::sweep`), adding what went to `out`.
pub(super) fn sweep_into(partials: &[Partial], dry_run: bool, out: &mut Removed) -> Result<(), InventoryError> {
    out.dry_run = dry_run;
    for p in partials {
        match partial::sweep(p, dry_run)? {
            Swept::Removed => {
                out.removed.push(p.id.to_string());
                out.freed_bytes += p.size;
            }
            Swept::Kept(reason) => out.kept.push(Kept { id: p.id.to_string(), reason }),
            Swept::AlreadyGone => {}
        }
    }
    Ok(())
}

/// `NotFound` proves a file gone; any other error (a folder we may not enter) proves nothing.
fn is_gone(path: &Path) -> bool {
    std::fs::symlink_metadata(path).is_err_and(|e| e.kind() == std::io::ErrorKind::NotFound)
}

/// The same for what a link points at.
fn is_gone_through(link: &Path) -> bool {
    std::fs::metadata(link).is_err_and(|e| e.kind() == std::io::ErrorKind::NotFound)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_file_is_used_by_its_path_in_any_spelling_or_by_its_digest_in_any_case() {
        let d = tempfile::tempdir().unwrap();
        let blob = d.path().join("blob");
        std::fs::write(&blob, b"x").unwrap();
        std::os::unix::fs::symlink(&blob, d.path().join("link")).unwrap();
        let mut u = Usage::default();
        u.by_path.insert(crate::fsx::same_place(&blob), vec!["/p".into()]);
        u.by_sha256.insert("ab".repeat(32), vec!["/q".into(), "/p".into()]);
        assert_eq!(u.users_of(Some(&d.path().join("link")), None), ["/p"]);
        assert_eq!(u.users_of(Some(&blob), Some(&"AB".repeat(32))), ["/p", "/q"], "sorted, each once");
        assert!(u.users_of(Some(&d.path().join("other")), Some(&"cd".repeat(32))).is_empty());
    }
}
