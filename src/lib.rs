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
//! remote                                      origins of models (the Hugging Face hub)
//! transfer                                    HTTP, retries, verified resumable downloads, hashing
//! project, env, home_path, ids, lock, fsx     the vocabulary: identities, boundary types, files
//! ```
//!
//! - [`ops`]: `init`, `prune`, `doctor` and [`ops::validate`] (the verdict for one mapping).
//! - [`models`]: `wharf.toml`, `wharf.lock` and pulling a project's models through the store.
//! - [`registry::Registry`]: the only door to `registry.json` (lock, load, migrate, mutate, save).
//! - [`store::ModelStore`]: the only door to the Hugging Face cache and wharf's blob store.
//! - [`remote`]: what a hub says a revision is and which files it has.
//! - [`transfer`]: one `Failure` type, one retry loop, one read-and-hash.
//! - [`project`]: a project's identity, its marker (`.env.wharf`), back-link and venv.
//! - [`env`]: every environment variable, read once into [`Env`] and [`Layout`].
//! - [`ids`]: the boundary types every outside value is parsed into before it reaches a path.
//! - [`fsx`], [`lock`]: atomic writes, private files, disk space; the sidecar file lock.

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
