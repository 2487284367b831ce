//! One id per stored file, the same in every command and JSON document (`models list`, `verify`,
//! `rm`, `gc`, `clear`, `prune --models`), and the arguments that pick files by it.
//!
//! ```text
//! hf:ORG/NAME:<etag>          a file of the Hugging Face cache: models--ORG--NAME/blobs/<etag>
//! sha256:<hex>                a file of wharf's blob store: blobs/sha256/<hex>
//! hf:ORG/NAME:<temp name>     a partial download beside them (`<etag>.incomplete`, …)
//! sha256:<temp name>          the same in wharf's store
//! ```
//!
//! Invariants: [`StoreId`] is built only here, from where a file lives (its repo and blob name, or
//! its digest); an index record, a blob found on disk and a snapshot link pointing at a gone blob
//! all give the same id for the same file, so a file is listed once. The part after the last `:`
//! is the file's *digest* (its blob name).
//!
//! [`Selector`] is a command-line argument of `models rm` / `models verify`, parsed: a source spec
//! (`hf://…`, `https://…`, `file://…`), a whole id, or a prefix (at least [`MIN_PREFIX`]
//! characters) of an id or of its digest. A model name of the current project is turned into a
//! [`Selector::Sha256`] above this layer (see `ops/select.rs`).

use std::fmt;

use serde::Serialize;

use super::error::InventoryError;
use super::index::{Cache, Record};
use crate::ids::source::Source;
use crate::ids::Sha256;

/// The shortest prefix `models rm` and `models verify` accept.
pub const MIN_PREFIX: usize = 4;

/// The id of one file in the store (see the module doc for its forms).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(transparent)]
pub struct StoreId(String);

impl StoreId {
    /// A file (or a temp file named `name`) in the Hugging Face cache folder of `repo`.
    pub fn hf(repo: &str, name: &str) -> StoreId {
        StoreId(format!("hf:{repo}:{name}"))
    }

    /// A file (or a temp file named `name`) in wharf's blob store.
    pub fn blob(name: &str) -> StoreId {
        StoreId(format!("sha256:{name}"))
    }

    /// The file an index record describes.
    pub fn of_record(r: &Record) -> StoreId {
        match (r.kind, &r.repo, &r.etag) {
            (Cache::Hf, Some(repo), Some(etag)) => StoreId::hf(repo, etag),
            _ => StoreId::blob(&r.sha256),
        }
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The blob name: what follows the last `:`.
    pub fn digest(&self) -> &str {
        self.0.rsplit(':').next().unwrap_or(&self.0)
    }

    /// Does `prefix` (at least [`MIN_PREFIX`] characters) start this id or its digest?
    pub fn has_prefix(&self, prefix: &str) -> bool {
        let p = prefix.to_ascii_lowercase();
        p.len() >= MIN_PREFIX && (self.0.to_ascii_lowercase().starts_with(&p) || self.digest().starts_with(&p))
    }
}

impl fmt::Display for StoreId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl PartialEq<str> for StoreId {
    fn eq(&self, other: &str) -> bool {
        self.0 == other
    }
}

impl PartialEq<String> for StoreId {
    fn eq(&self, other: &String) -> bool {
        &self.0 == other
    }
}

/// Which stored files a command-line argument names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Selector {
    /// A whole id, or a prefix of an id or of its digest.
    Id(String),
    /// A source spec: the files pulled from it (as the index recorded them).
    Source {
        /// As given.
        given: String,
        /// As wharf writes it in its records (`hf://ORG/NAME@REV/PATH`, …), when it parses.
        normal: Option<String>,
    },
    /// The file with these bytes (a model name of the project, pinned in `wharf.lock`).
    Sha256 {
        /// What was given (the model name).
        given: String,
        /// The pinned digest.
        sha256: Sha256,
    },
    /// A model name of the project not pinned in `wharf.lock` yet: the files any of these name
    /// (its source, its fallbacks, the SHA-256 `wharf.toml` asks for).
    AnyOf {
        /// What was given (the model name).
        given: String,
        /// What it stands for.
        of: Vec<Selector>,
    },
}

impl Selector {
    /// Read an argument: a source spec when it has a scheme, else an id or a prefix of one.
    pub fn parse(arg: &str) -> Selector {
        if arg.contains("://") {
            Selector::source(arg)
        } else {
            Selector::Id(arg.to_string())
        }
    }

    /// The files pulled from the source `spec`.
    pub fn source(spec: &str) -> Selector {
        let normal = Source::parse(spec).ok().map(|s| s.to_string());
        Selector::Source { given: spec.to_string(), normal }
    }

    /// The argument as given.
    pub fn given(&self) -> &str {
        match self {
            Selector::Id(s)
            | Selector::Source { given: s, .. }
            | Selector::Sha256 { given: s, .. }
            | Selector::AnyOf { given: s, .. } => s,
        }
    }

    /// Does this name the file `id` (with its recorded `sources` and `sha256`)?
    pub fn matches(&self, id: &StoreId, sources: &[String], sha256: Option<&str>) -> bool {
        match self {
            Selector::Id(s) => id == s || id.has_prefix(s),
            Selector::Source { given, normal } => {
                sources.iter().any(|src| src == given || normal.as_ref().is_some_and(|n| n == src))
            }
            Selector::Sha256 { sha256: want, .. } => sha256.is_some_and(|h| h.eq_ignore_ascii_case(want.as_str())),
            Selector::AnyOf { of, .. } => of.iter().any(|sel| sel.matches(id, sources, sha256)),
        }
    }

    /// A whole id names exactly one file: an exact match wins over a longer id it prefixes.
    pub fn exact(&self, id: &StoreId) -> bool {
        matches!(self, Selector::Id(s) if id == s)
    }
}

/// A file a [`Selector`] may name: its id, the sources it was pulled from, its SHA-256.
#[derive(Debug, Clone, Copy)]
pub struct Candidate<'a> {
    /// Its id.
    pub id: &'a StoreId,
    /// Its recorded sources.
    pub sources: &'a [String],
    /// Its SHA-256, when known.
    pub sha256: Option<&'a str>,
}

/// The ids `selectors` name among `candidates`. An argument that names nothing, or an id prefix
/// that names more than one file, is an error; a whole id names its file even when it also
/// prefixes another; a source or a digest may name several files.
pub fn pick(selectors: &[Selector], candidates: &[Candidate]) -> Result<Vec<StoreId>, InventoryError> {
    let mut out: Vec<StoreId> = Vec::new();
    for sel in selectors {
        let mut hits: Vec<&StoreId> =
            candidates.iter().filter(|c| sel.matches(c.id, c.sources, c.sha256)).map(|c| c.id).collect();
        hits.dedup();
        if let Some(exact) = hits.iter().find(|id| sel.exact(id)) {
            hits = vec![*exact];
        }
        if hits.is_empty() {
            return Err(InventoryError::NotInStore { id: sel.given().to_string() });
        }
        if hits.len() > 1 && matches!(sel, Selector::Id(_)) {
            let candidates = hits.iter().map(|h| h.to_string()).collect::<Vec<_>>().join(", ");
            return Err(InventoryError::Ambiguous { given: sel.given().to_string(), candidates });
        }
        for id in hits {
            if !out.contains(id) {
                out.push(id.clone());
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefixes_of_the_id_and_of_its_digest_match() {
        let id = StoreId::hf("org/name", &"ab12".repeat(16));
        assert_eq!(id.digest(), "ab12".repeat(16));
        assert!(id.has_prefix("ab12ab") && id.has_prefix("hf:org") && id.has_prefix("AB12"));
        assert!(!id.has_prefix("ab1"), "shorter than the minimum");
        assert!(!id.has_prefix("sha256:ab12"));
        let sel = Selector::parse("ab12ab12");
        assert!(sel.matches(&id, &[], None));
        assert!(!Selector::parse("https://x.org/m.bin").matches(&id, &[], None));
        assert!(Selector::parse("https://x.org/m.bin").matches(&id, &["https://x.org/m.bin".into()], None));
    }
}
