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
//!
//! Serialisation is written by hand (`sorted_map`) so that known fields and preserved unknown keys
//! come out in one sorted order without building a `serde_json::Value` first: at 100,000 projects
//! that detour costs half a second per write.

use std::collections::BTreeMap;

use serde::ser::SerializeMap;
use serde::{Deserialize, Serialize, Serializer};
use serde_json::Value;

/// The version this wharf writes.
pub const CURRENT_VERSION: u32 = 2;

/// Keys this version does not know: kept as they are on every rewrite.
pub type Extra = BTreeMap<String, Value>;

/// `registry.json`.
#[derive(Debug, Clone, Deserialize, PartialEq)]
pub struct RegistryDoc {
    /// The schema version.
    pub version: u32,
    /// Registry key (the project path, `${HOME}/…` under home) → its entry.
    #[serde(default)]
    pub projects: BTreeMap<String, ProjectEntry>,
    /// Unknown keys, kept.
    #[serde(flatten)]
    pub extra: Extra,
}

impl Default for RegistryDoc {
    fn default() -> Self {
        RegistryDoc { version: CURRENT_VERSION, projects: BTreeMap::new(), extra: Extra::new() }
    }
}

/// One registered project.
#[derive(Debug, Clone, Deserialize, PartialEq)]
pub struct ProjectEntry {
    /// Its name (see [`crate::project::project_name`]).
    pub name: String,
    /// First 8 hex of the SHA-256 of its canonical path.
    #[serde(default)]
    pub path_hash: String,
    /// Its project id, as its marker and back-link carry it.
    #[serde(default)]
    pub id: Option<String>,
    /// Its environment.
    pub env: EnvRef,
    /// The models it uses (what `wharf pull` in it recorded).
    #[serde(default)]
    pub models: Vec<ModelRef>,
    /// When it was registered (RFC 3339).
    #[serde(default)]
    pub created_at: String,
    /// When `list` or `check` last validated it.
    #[serde(default)]
    pub last_validated: Option<String>,
    /// Migrated from v1: `.env.uve` counts as the marker until `wharf init` writes `.env.wharf`.
    #[serde(default)]
    pub legacy_marker: bool,
    /// Unknown keys, kept.
    #[serde(flatten)]
    pub extra: Extra,
}

impl ProjectEntry {
    /// Its environment folder with the current home (the stored `${HOME}/…` form expanded).
    pub fn env_dir(&self, env: &crate::env::Env) -> Result<std::path::PathBuf, crate::home_path::HomePathError> {
        crate::home_path::HomePath::from_stored(self.env.path.as_str()).expand(env)
    }
}

/// Where a project's environment is.
#[derive(Debug, Clone, Deserialize, PartialEq)]
pub struct EnvRef {
    /// Stored form (`${HOME}/…`).
    pub path: String,
    /// The expansion when it was written; informative only.
    #[serde(default)]
    pub expanded: String,
    /// Unknown keys, kept.
    #[serde(flatten)]
    pub extra: Extra,
}

/// A model a project uses (filled by the model issues; the registry already carries the list).
#[derive(Debug, Clone, Deserialize, PartialEq)]
pub struct ModelRef {
    /// Its name in the project's wharf.toml.
    pub name: String,
    /// The source it was pulled from (`hf://…`, a URL, `file://…`).
    #[serde(default)]
    pub source: String,
    /// The revision asked for.
    #[serde(default)]
    pub revision: Option<String>,
    /// The commit it resolved to.
    #[serde(default)]
    pub commit: Option<String>,
    /// Its SHA-256.
    #[serde(default)]
    pub sha256: Option<String>,
    /// Its size in bytes.
    #[serde(default)]
    pub size: Option<u64>,
    /// Stored form of the local file.
    #[serde(default)]
    pub path: Option<String>,
    /// Unknown keys, kept.
    #[serde(flatten)]
    pub extra: Extra,
}

/// One value of a hand-serialised object.
enum Field<'a> {
    Str(&'a str),
    U64(u64),
    Bool(bool),
    Any(&'a Value),
    Env(&'a EnvRef),
    Models(&'a [ModelRef]),
    Projects(&'a BTreeMap<String, ProjectEntry>),
}

impl Serialize for Field<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Field::Str(v) => s.serialize_str(v),
            Field::U64(v) => s.serialize_u64(*v),
            Field::Bool(v) => s.serialize_bool(*v),
            Field::Any(v) => v.serialize(s),
            Field::Env(v) => v.serialize(s),
            Field::Models(v) => v.serialize(s),
            Field::Projects(v) => v.serialize(s),
        }
    }
}

/// Serialise `known` fields and the preserved `extra` keys as one object with sorted keys.
fn sorted_map<'a, S: Serializer>(
    s: S,
    mut fields: Vec<(&'a str, Field<'a>)>,
    extra: &'a Extra,
) -> Result<S::Ok, S::Error> {
    for (k, v) in extra {
        if !fields.iter().any(|(known, _)| known == k) {
            fields.push((k, Field::Any(v)));
        }
    }
    fields.sort_by(|a, b| a.0.cmp(b.0));
    let mut map = s.serialize_map(Some(fields.len()))?;
    for (k, v) in &fields {
        map.serialize_entry(k, v)?;
    }
    map.end()
}

fn opt<'a>(fields: &mut Vec<(&'static str, Field<'a>)>, key: &'static str, value: Option<Field<'a>>) {
    if let Some(v) = value {
        fields.push((key, v));
    }
}

impl Serialize for RegistryDoc {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let fields = vec![("projects", Field::Projects(&self.projects)), ("version", Field::U64(self.version.into()))];
        sorted_map(s, fields, &self.extra)
    }
}

impl Serialize for ProjectEntry {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut fields = vec![
            ("created_at", Field::Str(&self.created_at)),
            ("env", Field::Env(&self.env)),
            ("models", Field::Models(&self.models)),
            ("name", Field::Str(&self.name)),
            ("path_hash", Field::Str(&self.path_hash)),
        ];
        opt(&mut fields, "id", self.id.as_deref().map(Field::Str));
        opt(&mut fields, "last_validated", self.last_validated.as_deref().map(Field::Str));
        opt(&mut fields, "legacy_marker", self.legacy_marker.then_some(Field::Bool(true)));
        sorted_map(s, fields, &self.extra)
    }
}

impl Serialize for EnvRef {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let fields = vec![("expanded", Field::Str(&self.expanded)), ("path", Field::Str(&self.path))];
        sorted_map(s, fields, &self.extra)
    }
}

impl Serialize for ModelRef {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut fields = vec![("name", Field::Str(&self.name)), ("source", Field::Str(&self.source))];
        opt(&mut fields, "revision", self.revision.as_deref().map(Field::Str));
        opt(&mut fields, "commit", self.commit.as_deref().map(Field::Str));
        opt(&mut fields, "sha256", self.sha256.as_deref().map(Field::Str));
        opt(&mut fields, "size", self.size.map(Field::U64));
        opt(&mut fields, "path", self.path.as_deref().map(Field::Str));
        sorted_map(s, fields, &self.extra)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn output_keys_are_sorted_with_unknown_keys_in_place() {
        let text = r#"{"version": 2, "zeta": 1, "alpha": {"b": 1, "a": 2}, "projects": {"/p": {
            "name": "p", "env": {"path": "/e", "zz": true, "a": 0}, "created_at": "t", "mid": "x"}}}"#;
        let doc: RegistryDoc = serde_json::from_str(text).unwrap();
        let out = serde_json::to_string(&doc).unwrap();
        assert_eq!(
            out,
            r#"{"alpha":{"a":2,"b":1},"projects":{"/p":{"created_at":"t","env":{"a":0,"expanded":"","path":"/e","zz":true},"mid":"x","models":[],"name":"p","path_hash":""}},"version":2,"zeta":1}"#
        );
        let back: RegistryDoc = serde_json::from_str(&out).unwrap();
        assert_eq!(back, doc);
    }
}
