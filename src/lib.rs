//! wharf keeps one versioned registry of which project owns which environment (and, later, which
//! models), validates every mapping against the filesystem and prunes what is orphaned, safely.
//!
//! The registry lives in [`registry`]; a project's identity, marker and back-link in [`project`];
//! the verdict for one project in [`validate`]; the commands' logic in [`init`], [`prune`] and
//! [`doctor`]. The binary (`src/main.rs`, `src/cli/`) only turns arguments into calls to these.

pub mod doctor;
pub mod dotenv;
pub mod fetch;
pub mod fsx;
pub mod home_path;
pub mod ids;
pub mod init;
pub mod lock;
pub mod lockfile;
pub mod manifest;
pub mod paths;
pub mod project;
pub mod project_models;
pub mod prune;
pub mod registry;
pub mod store;
pub mod validate;
pub mod venv;

pub use paths::{Env, Layout};
pub use registry::Registry;
pub use validate::{Status, Verdict};

/// The version written into back-links.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
