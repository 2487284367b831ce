//! Serde types of the current registry version (2).
//!
//! ```json
//! {
//!   "version": 2,
//!   "projects": {
//!     "${HOME}/code/demo": {
//!       "name": "demo", "path_hash": "1a2b3c4d", "id": "5f0c2d9e8a7b6c41",
//!       "env": {"path": "${HOME}/.local/share/wharf/envs/demo_1a2b3c4d",
//!               "expanded": "/home/ann/.local/share/wharf/envs/demo_1a2b3c4d"},
//!       "models": [],
//!       "created_at": "2026-11-21T12:00:00Z", "last_validated": "2026-11-21T12:05:00Z"
//!     }
//!   }
//! }
//! ```
//!
//! Keys are the projects' canonical paths in stored form (`${HOME}/…`). `env.expanded` is a cache of
//! the expansion at write time; readers always re-expand `env.path` with the current home. Every
//! object keeps the keys it does not know in `extra` (`#[serde(flatten)]`), so a file written by a
//! newer minor release, or annotated by another tool, survives a round trip. Timestamps stay strings
//! (RFC 3339) so a slightly different format from another writer never makes the file unreadable.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

pub const CURRENT_VERSION: u32 = 2;

pub type Extra = BTreeMap<String, Value>;

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct RegistryDoc {
    pub version: u32,
    #[serde(default)]
    pub projects: BTreeMap<String, ProjectEntry>,
    #[serde(flatten)]
    pub extra: Extra,
}

impl Default for RegistryDoc {
    fn default() -> Self {
        RegistryDoc { version: CURRENT_VERSION, projects: BTreeMap::new(), extra: Extra::new() }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ProjectEntry {
    pub name: String,
    #[serde(default)]
    pub path_hash: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    pub env: EnvRef,
    #[serde(default)]
    pub models: Vec<ModelRef>,
    #[serde(default)]
    pub created_at: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_validated: Option<String>,
    /// Migrated from v1: `.env.uve` counts as the marker until `wharf init` writes `.env.wharf`.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub legacy_marker: bool,
    #[serde(flatten)]
    pub extra: Extra,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct EnvRef {
    /// Stored form (`${HOME}/…`).
    pub path: String,
    /// The expansion when it was written; informative only.
    #[serde(default)]
    pub expanded: String,
    #[serde(flatten)]
    pub extra: Extra,
}

/// A model a project uses (filled by the model issues; the registry already carries the list).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ModelRef {
    pub name: String,
    #[serde(default)]
    pub source: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revision: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub commit: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sha256: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub size: Option<u64>,
    /// Stored form of the local file.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    #[serde(flatten)]
    pub extra: Extra,
}
