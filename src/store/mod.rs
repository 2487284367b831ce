//! The model store: Hugging Face files in the shared hub cache, URL and file sources in wharf's
//! content-addressed blob store (see `layout.rs`), and [`ModelStore`], the one door to both.
//!
//! The library surface follows the seed contract (shared/reference/model-cache-api-contract.md):
//! [`ModelStore::get_model`] (async; see `pull.rs`), [`ModelStore::is_cached`],
//! [`ModelStore::remove_model`], [`ModelStore::clear`], [`ModelStore::stats`] and
//! [`ModelStore::validate_integrity`] (with [`Repair::Yes`] for `models verify --fix`); beside
//! them, for `wharf models`, [`ModelStore::list`] and [`ModelStore::gc`]. Each `wharf models`
//! subcommand is one call of these. The store-wide ones are blocking: they walk and hash files,
//! so async callers run them with `spawn_blocking`. Those that need to know which files projects
//! use take the [`Registry`] and read it themselves: removal refuses to run when it cannot be read,
//! a view shows every file unused, with a warning (see [`Usage`]).
//!
//! All the policy (what may be removed, what counts as corrupt, what a size is) is in
//! `inventory.rs`, `gc.rs`, `verify.rs` and `partial.rs`; the CLI only renders.

pub mod assemble;
pub mod config;
pub mod error;
pub mod gc;
pub mod id;
pub mod index;
pub mod inventory;
pub mod layout;
pub mod partial;
mod plain;
pub mod pull;
pub mod push;
mod repo;
pub mod serve;
mod small;
pub mod team;
pub mod verify;

pub use gc::{ByteSize, Collected};
pub use id::{Selector, StoreId};
pub use inventory::{Listing, Removed, Usage};
pub use pull::{ModelStore, PullOptions, Pulled};
pub use verify::{Repair, Verified};

use serde::Serialize;

use crate::ids::source::Source;
use crate::registry::Registry;
use crate::transfer::progress::Silent;
use crate::transfer::FetchError;
use inventory::{Inventory, InventoryError, Item};

/// Totals, as `wharf models stats` prints them.
#[derive(Debug, Clone, Serialize)]
pub struct Stats {
    /// Finished files in both caches.
    pub total_models: usize,
    /// Their bytes.
    pub total_size_bytes: u64,
    /// Finished files wharf fetched (recorded in its index).
    pub wharf_models: usize,
    /// Their bytes.
    pub wharf_size_bytes: u64,
    /// Models some registered project uses.
    pub used_models: usize,
    /// Unfinished downloads (`*.incomplete`, `*.incomplete.ranged`), not counted in the totals
    /// above.
    pub partial_files: usize,
    /// Their bytes.
    pub partial_bytes: u64,
    /// The Hugging Face hub cache.
    pub hub_cache: std::path::PathBuf,
    /// wharf's blob store.
    pub wharf_cache: std::path::PathBuf,
    /// Set when which projects use which file could not be told (see [`Usage::read_for_view`]).
    #[serde(skip)]
    pub warning: Option<String>,
    /// Finished files whose bytes a team store has (asked only by `models stats --remote`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub in_team_store: Option<usize>,
    /// Their bytes.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub in_team_store_bytes: Option<u64>,
}

impl ModelStore {
    /// The files of both caches, for the policies of `inventory.rs` and `prune --models`.
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
        let p = Pulled {
            source: source.to_string(),
            path: path.to_path_buf(),
            sha256: sha256.to_string(),
            size,
            cached: !fetched,
            commit: None,
            hf: None,
            same_as: None,
        };
        self.note_in_index(vec![p], now).await
    }

    /// True when `source` (with the digest `sha256`, when given, as a pull would pin it) is in
    /// the store, decided without any network call or write.
    pub async fn is_cached(&self, source: &Source, sha256: Option<crate::ids::Sha256>) -> bool {
        let offline = ModelStore::new(config::StoreConfig { offline: true, ..self.config().clone() });
        let opts = PullOptions { sha256, ..PullOptions::default() };
        match offline {
            Ok(store) => store.get_model(source, &opts, &Silent).await.is_ok(),
            Err(_) => false,
        }
    }

    /// Every file with its size, origin and users, and the unfinished downloads.
    pub fn list(&self, registry: &Registry) -> Listing {
        let (usage, warning) = Usage::read_for_view(registry);
        Listing { warning, ..self.inventory().list(&usage) }
    }

    /// Totals.
    pub fn stats(&self, registry: &Registry) -> Stats {
        self.stats_of(self.list(registry))
    }

    /// [`ModelStore::stats`] of a listing (one marked by [`ModelStore::mark_in_team`] counts
    /// what the team stores have too).
    pub fn stats_of(&self, listing: Listing) -> Stats {
        let Listing { models, partials, warning } = listing;
        let marked = models.iter().any(|i| i.in_team_store.is_some());
        let in_team: Vec<&Item> = models.iter().filter(|i| i.in_team_store == Some(true)).collect();
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
            warning,
            in_team_store: marked.then_some(in_team.len()),
            in_team_store_bytes: marked.then(|| in_team.iter().map(|i| i.size).sum()),
        }
    }

    /// Re-hash every file: valid, corrupted, unreadable, missing. With [`Repair::Yes`], remove
    /// those proved corrupt and the dangling entries (see `verify.rs`: a file that cannot be read
    /// is never removed).
    /// `only` (empty: every file) restricts it to the files those arguments name.
    pub fn validate_integrity(&self, repair: Repair, only: &[Selector]) -> Result<Verified, InventoryError> {
        verify::run(&self.inventory(), repair, only)
    }

    /// Remove files and partial downloads by [`Selector`]: a whole id (`hf:ORG/NAME:<etag>`,
    /// `sha256:<hex>`, as `list` shows them), a unique prefix of one, a source, a pinned digest.
    /// Refuses, removing nothing, an argument that names nothing or more than one file (a prefix),
    /// or a file a project of `registry` uses; a partial whose download is in progress is kept.
    /// A dry run removes nothing and reports what would go.
    pub fn remove_model(
        &self,
        selectors: &[Selector],
        registry: &Registry,
        dry_run: bool,
    ) -> Result<Removed, InventoryError> {
        self.inventory().remove_selected(selectors, &Usage::read(registry)?, dry_run)
    }

    /// Remove every file wharf fetched that no project of `registry` uses, and the partial
    /// downloads no process is writing (a dry run: report them).
    pub fn clear(&self, registry: &Registry, dry_run: bool) -> Result<Removed, InventoryError> {
        self.inventory().clear(&Usage::read(registry)?, dry_run)
    }

    /// Remove dead partials, then evict wharf's files no project of `registry` uses, least
    /// recently used first, until the finished files take at most `max`.
    pub fn gc(&self, registry: &Registry, max: ByteSize, dry_run: bool) -> Result<Collected, InventoryError> {
        self.inventory().gc(&Usage::read(registry)?, max, dry_run)
    }
}
