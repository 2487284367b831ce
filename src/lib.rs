//! wharf keeps one versioned registry of which project owns which virtual environment and which
//! models, validates every mapping against the filesystem, prunes what is orphaned, and fetches
//! models into a shared, verified store.
//!
//! # Layers
//!
//! Top to bottom; a module only uses modules of its own layer or below, never above, and never
//! in a cycle (`tests/architecture.rs` checks this on every build of the tests):
//!
//! ```text
//! cli (the binary: src/main.rs, src/cli/)     parse arguments, one library call, render
//! ops, models                                 the commands' logic: plan, then apply
//! registry, store                             the two doors: registry.json, the model stores
//! remote                                      origins of models (the Hugging Face hub, a team's S3 bucket)
//! transfer                                    HTTP, retries, verified resumable downloads, hashing
//! project, env, home_path, ids, lock, fsx     the vocabulary: identities, boundary types, files
//! ```
//!
//! - [`Wharf`]: the front door: one snapshot of the environment, from which the registry and the
//!   model store open (the CLI and the Python binding start here).
//! - [`ops`]: `init`, `check`, `prune`, `remove`, `doctor` and [`ops::validate`] (the verdict for one mapping).
//! - [`models`]: `wharf.toml`, `wharf.lock` and pulling a project's models through the store.
//! - [`registry::Registry`]: the only door to `registry.json` (lock, load, migrate, mutate, save).
//! - [`store::ModelStore`]: the only door to the Hugging Face cache and wharf's blob store.
//! - [`remote`]: what a hub says a revision is and which files it has; mirrors, tried in turn by
//!   one rule; the team store (an S3 bucket) that `wharf push` fills and pulls read first.
//! - [`transfer`]: one `Failure` type, one retry loop, one read-and-hash.
//! - [`project`]: a project's identity, its marker (`.env.wharf`), back-link and venv.
//! - [`env`](mod@env): every environment variable, read once into [`Env`] and [`Layout`].
//! - [`ids`]: the boundary types every outside value is parsed into before it reaches a path.
//! - [`fsx`], [`lock`]: atomic writes, private opens, removal within a root, sizes and free space;
//!   the sidecar file lock.

#![warn(missing_docs)]

pub mod env;
pub mod fsx;
pub mod home_path;
pub mod ids;
pub mod lock;
pub mod models;
pub mod ops;
pub mod project;
pub mod registry;
pub mod remote;
pub mod store;
pub mod transfer;

pub use env::{Env, Layout, VERSION};
pub use ops::validate::{Status, Verdict};
pub use registry::Registry;

use env::EnvError;
use store::config::StoreConfig;
use store::ModelStore;
use transfer::FetchError;

/// The front door for a program using wharf (the CLI, the Python binding, your own): one snapshot
/// of the environment, from which the registry and the model store are opened.
///
/// ```no_run
/// let wharf = wharf::Wharf::new(wharf::Env::from_process()?)?;
/// let projects = wharf.registry().read()?.doc.projects.len();
/// let store = wharf.store(wharf::Access::default())?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone)]
pub struct Wharf {
    env: Env,
    layout: Layout,
}

/// How the model store may reach the network.
#[derive(Debug, Clone, Copy, Default)]
pub struct Access {
    /// Never touch the network: only what is in the store is served (`WHARF_OFFLINE` and
    /// `HF_HUB_OFFLINE` turn this on too).
    pub offline: bool,
    /// Accept plain `http://` URLs (refused by default).
    pub allow_http: bool,
}

/// Why the store could not be opened.
#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    /// A variable of the environment has a bad value.
    #[error(transparent)]
    Config(#[from] EnvError),
    /// The store's folders or HTTP client could not be set up.
    #[error(transparent)]
    Store(#[from] FetchError),
}

impl OpenError {
    /// True when the user's input (a variable) is at fault, not the machine.
    pub fn is_usage(&self) -> bool {
        matches!(self, OpenError::Config(_))
    }
}

impl Wharf {
    /// Resolve every root from `env` (see [`env`](mod@env) for the variables).
    pub fn new(env: Env) -> Result<Wharf, EnvError> {
        let layout = Layout::from_env(&env)?;
        Ok(Wharf { env, layout })
    }

    /// The environment this was built from.
    pub fn env(&self) -> &Env {
        &self.env
    }

    /// Where the registry, the environments and wharf's store are.
    pub fn layout(&self) -> &Layout {
        &self.layout
    }

    /// The registry (no file is touched until a method of it is called).
    pub fn registry(&self) -> Registry {
        Registry::open(&self.layout, &self.env)
    }

    /// The model store, configured from the environment.
    pub fn store(&self, access: Access) -> Result<ModelStore, OpenError> {
        let cfg = StoreConfig::from_env(&self.env, &self.layout, access.offline, access.allow_http)?;
        Ok(ModelStore::new(cfg)?)
    }
}
