//! The model store: Hugging Face files in the shared hub cache, URL and file sources in wharf's
//! content-addressed blob store (see `layout.rs`), and [`ModelStore`], the one door to both.
//!
//! The library surface follows the seed contract (shared/reference/model-cache-api-contract.md):
//! [`ModelStore::get_model`] (async; see `pull.rs`), [`ModelStore::is_cached`],
//! [`ModelStore::remove_model`], [`ModelStore::clear`], [`ModelStore::stats`] and
//! [`ModelStore::validate_integrity`]; and for `wharf models`: [`ModelStore::list`],
//! [`ModelStore::verify`], [`ModelStore::remove_ids`], [`ModelStore::gc`]. The store-wide ones are
//! blocking: they walk and hash files, so async callers run them with `spawn_blocking`. All the
//! policy (what may be removed, what counts as corrupt) is in `inventory.rs`, `verify.rs` and
//! `partial.rs`; the CLI only renders.

pub mod config;
pub mod error;
pub mod index;
pub mod inventory;
pub mod layout;
pub mod partial;
mod plain;
pub mod pull;
pub mod verify;

pub use pull::{ModelStore, PullOptions, Pulled};

use serde::Serialize;

use crate::ids::source::Source;
use crate::transfer::progress::Silent;
use crate::transfer::FetchError;
use inventory::{Collected, Inventory, InventoryError, Item, Listing, Removed, Usage};
use verify::Verified;

/// Totals, as `wharf models stats` prints them.
#[derive(Debug, Clone, Serialize)]
pub struct Stats {
    pub total_models: usize,
    pub total_size_bytes: u64,
    pub wharf_models: usize,
    pub wharf_size_bytes: u64,
    /// Models some registered project uses.
    pub used_models: usize,
    /// Unfinished downloads (`*.incomplete`, `*.incomplete.ranged`) and their bytes, not counted
    /// in the totals above.
    pub partial_files: usize,
    pub partial_bytes: u64,
    pub hub_cache: std::path::PathBuf,
    pub wharf_cache: std::path::PathBuf,
    /// The items themselves (not part of the `stats` document; `models list` prints them).
    #[serde(skip)]
    pub models: Vec<Item>,
}

impl ModelStore {
    pub fn inventory(&self) -> Inventory<'_> {
        Inventory { hub: &self.hub_cache, blobs: &self.blobs, index: &self.index }
    }

    /// Record in the index a file wharf put in the store by other means (an assembled model).
    pub async fn record(
        &self,
        path: &std::path::Path,
        sha256: &str,
        size: u64,
        source: &str,
        now: chrono::DateTime<chrono::Utc>,
        fetched: bool,
    ) -> Result<(), FetchError> {
        if self.config().offline {
            return Ok(());
        }
        let p = Pulled {
            source: source.to_string(),
            path: path.to_path_buf(),
            sha256: sha256.to_string(),
            size,
            cached: !fetched,
            commit: None,
            hf: None,
        };
        let (index, hub_root) = (self.index.clone(), self.hub_cache.root.clone());
        let stamp = now.to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
        tokio::task::spawn_blocking(move || index.note(pull::record_for(&p, &hub_root, &stamp), fetched))
            .await
            .map_err(|e| FetchError::Protocol { url: String::new(), why: e.to_string() })?
            .map_err(FetchError::from)
    }

    /// True when `source` is in the store, decided without any network call or write.
    pub async fn is_cached(&self, source: &Source) -> bool {
        let offline = ModelStore::new(config::StoreConfig { offline: true, ..self.config().clone() });
        match offline {
            Ok(store) => store.get_model(source, &PullOptions::default(), &Silent).await.is_ok(),
            Err(_) => false,
        }
    }

    /// Every file with its size, origin and users, and the unfinished downloads.
    pub fn list(&self, usage: &Usage) -> Listing {
        self.inventory().list(usage)
    }

    /// Totals.
    pub fn stats(&self, usage: &Usage) -> Stats {
        let Listing { models, partials } = self.list(usage);
        let wharf: Vec<&Item> = models.iter().filter(|i| i.wharf).collect();
        Stats {
            total_models: models.len(),
            total_size_bytes: models.iter().map(|i| i.size).sum(),
            wharf_models: wharf.len(),
            wharf_size_bytes: wharf.iter().map(|i| i.size).sum(),
            used_models: models.iter().filter(|i| !i.used_by.is_empty()).count(),
            partial_files: partials.len(),
            partial_bytes: partials.iter().map(|p| p.size).sum(),
            hub_cache: self.hub_cache.root.clone(),
            wharf_cache: self.blobs.root.clone(),
            models,
        }
    }

    /// Re-hash every file: valid, corrupted, unreadable, missing (nothing is changed).
    pub fn validate_integrity(&self) -> Result<Verified, InventoryError> {
        self.verify(false)
    }

    /// Re-hash every file; with `fix`, remove those proved corrupt and dangling entries (see
    /// `verify.rs`: a file that cannot be read is never removed).
    pub fn verify(&self, fix: bool) -> Result<Verified, InventoryError> {
        verify::run(&self.inventory(), fix)
    }

    /// Remove one file by its id (`hf:ORG/NAME:<etag>` or `sha256:<hex>`), used or not.
    pub fn remove_model(&self, id: &str) -> Result<Item, InventoryError> {
        let inv = self.inventory();
        let item = inv
            .items(&Usage::default())
            .into_iter()
            .find(|i| i.id == id)
            .ok_or_else(|| InventoryError::NotInStore { id: id.to_string() })?;
        inv.remove(&item)?;
        Ok(item)
    }

    /// Remove files and partials by id; refuses, removing nothing, an unknown id or one in use.
    pub fn remove_ids(&self, ids: &[String], usage: &Usage) -> Result<Removed, InventoryError> {
        self.inventory().remove_ids(ids, usage)
    }

    /// Remove every file wharf fetched that `usage` does not protect, and the partial downloads
    /// no process is writing.
    pub fn clear(&self, usage: &Usage) -> Result<Removed, InventoryError> {
        self.inventory().clear(usage)
    }

    /// Remove dead partials, then evict wharf's unused files, least recently used first, until
    /// the finished files take at most `max_bytes`.
    pub fn gc(&self, usage: &Usage, max_bytes: u64, dry_run: bool) -> Result<Collected, InventoryError> {
        self.inventory().gc(usage, max_bytes, dry_run)
    }
}
