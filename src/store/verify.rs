//! `models verify [--fix]`: re-hash every file in the store, in parallel.
//!
//! Each file ends in exactly one list. *valid*: a full read matched its name (an LFS etag or a
//! wharf blob name is a SHA-256; a git blob id is checked as git computes it; a name that is no
//! digest counts as valid). *corrupted*: a full read completed and did not match — proved
//! corrupt. *unreadable*: the file could not be opened or read to its end (permission denied in a
//! shared cache, an I/O error, a recorded blob in a folder we may not enter) — nothing is known
//! about its content. *missing*: an index record whose blob is gone, or a snapshot link that
//! points at nothing (decided from `NotFound` only: a folder we may not enter proves nothing).
//!
//! Invariant: `--fix` deletes only *corrupted* files and *missing* entries. An unreadable file is
//! never deleted: in a shared cache it is another user's valid download.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use rayon::prelude::*;
use serde::Serialize;

use super::id::{self, Candidate, Selector, StoreId};
use super::inventory::{Inventory, InventoryError, Item, Usage};
use crate::transfer::hash::{self, Expected, Hasher};

/// Whether [`run`] only reports (`models verify`) or also removes what is proved corrupt and the
/// dangling entries (`models verify --fix`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Repair {
    /// Change nothing.
    #[default]
    No,
    /// Remove the *corrupted* files and the *missing* entries, so the next pull fetches them again.
    Yes,
}

/// A file that could not be read, and why.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Unreadable {
    /// Its id, as `models list` shows it.
    pub id: StoreId,
    /// The blob.
    pub path: PathBuf,
    /// The I/O error.
    pub error: String,
}

/// What `--fix` removed: a corrupted file, the record and links of a missing one, or a dangling
/// link that names no file (no id).
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Fixed {
    /// Its id, as `models list` shows it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<StoreId>,
    /// The file, record or link removed (the first, when there were several).
    pub path: PathBuf,
}

/// What `verify` found (and, with [`Repair::Yes`], removed). The lists hold ids.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Verified {
    /// Read to their end and matching their name.
    pub valid: Vec<StoreId>,
    /// Read to their end and not matching: proved corrupt.
    pub corrupted: Vec<StoreId>,
    /// Not read to their end: nothing known.
    pub unreadable: Vec<Unreadable>,
    /// Index records whose blob is gone, snapshot links to nothing (one id per file).
    pub missing: Vec<StoreId>,
    /// Snapshot links to nothing that name no file of the store (outside a `models--` folder):
    /// by path, as they have no id.
    pub dangling_links: Vec<PathBuf>,
    /// With [`Repair::Yes`]: what was removed.
    pub removed: Vec<Fixed>,
}

impl Verified {
    /// Corrupted or missing files that were not removed: `verify --fix` would remove them.
    pub fn repairable(&self) -> bool {
        let fixed = |id: &StoreId| self.removed.iter().any(|f| f.id.as_ref() == Some(id));
        let link_fixed = |p: &PathBuf| self.removed.iter().any(|f| f.id.is_none() && &f.path == p);
        self.corrupted.iter().chain(&self.missing).any(|id| !fixed(id))
            || self.dangling_links.iter().any(|p| !link_fixed(p))
    }

    /// Something is not known to be right (the command's exit status): corrupted or missing files
    /// that were not repaired, or files that could not be read at all.
    pub fn failed(&self) -> bool {
        self.repairable() || !self.unreadable.is_empty()
    }
}

/// What a full read of a file said about it.
pub(super) enum Hashed {
    /// It hashes to what its name says.
    Valid,
    /// It was read to its end and does not.
    Corrupt,
    /// It could not be read to its end.
    Unreadable(std::io::Error),
}

/// Read `path` to its end, hashing, and compare with what its name says.
pub(super) fn check(path: &Path, expected: &Expected, size: u64) -> Hashed {
    let read = || -> std::io::Result<bool> {
        let mut f = crate::fsx::open_unnoticed(path)?;
        let mut h = Hasher::new(expected, Some(size));
        hash::read_into(&mut f, &mut h, u64::MAX)?;
        let (sha, git) = h.finish();
        Ok(hash::verify(expected, &sha, git.as_deref()).is_ok())
    };
    match read() {
        Ok(true) => Hashed::Valid,
        Ok(false) => Hashed::Corrupt,
        Err(e) => Hashed::Unreadable(e),
    }
}

/// Re-hash `items` in parallel.
fn classify(items: &[Item]) -> Verified {
    let outcomes: Vec<(&Item, Hashed)> = items
        .par_iter()
        .map(|it| {
            let name = it.etag.clone().or_else(|| it.sha256.clone()).unwrap_or_default();
            match Expected::from_etag(&name) {
                Expected::Nothing => (it, Hashed::Valid),
                expected => (it, check(&it.path, &expected, it.size)),
            }
        })
        .collect();
    let mut v = Verified::default();
    for (it, outcome) in outcomes {
        match outcome {
            Hashed::Valid => v.valid.push(it.id.clone()),
            Hashed::Corrupt => v.corrupted.push(it.id.clone()),
            Hashed::Unreadable(e) => {
                v.unreadable.push(Unreadable { id: it.id.clone(), path: it.path.clone(), error: e.to_string() })
            }
        }
    }
    v
}

/// Recorded blobs we cannot even look at (their folder may not be entered): not listed as items,
/// and not missing either, so they are unreadable.
fn hidden_records(inv: &Inventory, items: &[Item]) -> Vec<Unreadable> {
    let listed: HashSet<&Path> = items.iter().map(|i| i.path.as_path()).collect();
    let mut out = Vec::new();
    for r in inv.index.all() {
        let Err(e) = std::fs::symlink_metadata(&r.blob) else { continue };
        if e.kind() == std::io::ErrorKind::NotFound || listed.contains(r.blob.as_path()) {
            continue;
        }
        out.push(Unreadable { id: StoreId::of_record(&r), path: r.blob, error: e.to_string() });
    }
    out
}

/// Verify the whole store, or with `only`, the files those arguments name (see
/// [`Inventory::select`]); with [`Repair::Yes`], remove what is proved corrupt and the dangling
/// entries.
pub fn run(inv: &Inventory, repair: Repair, only: &[Selector]) -> Result<Verified, InventoryError> {
    let mut items = inv.items(&Usage::default());
    let gone = inv.missing();
    let mut missing = gone.files;
    if !only.is_empty() {
        let candidates: Vec<Candidate> = items
            .iter()
            .map(|i| Candidate { id: &i.id, sources: &i.sources, sha256: i.sha256.as_deref() })
            .chain(missing.iter().map(|(id, m)| Candidate { id, sources: &m.sources, sha256: m.sha256.as_deref() }))
            .collect();
        let chosen = id::pick(only, &candidates)?;
        items.retain(|i| chosen.contains(&i.id));
        missing.retain(|id, _| chosen.contains(id));
    }
    let mut v = classify(&items);
    if only.is_empty() {
        v.unreadable.extend(hidden_records(inv, &items));
        v.dangling_links = gone.odd_links;
    }
    v.missing = missing.keys().cloned().collect();
    if repair == Repair::No {
        return Ok(v);
    }
    for it in items.iter().filter(|i| v.corrupted.contains(&i.id)) {
        inv.remove(it)?;
        v.removed.push(Fixed { id: Some(it.id.clone()), path: it.path.clone() });
    }
    for (id, m) in &missing {
        // A dangling snapshot link, or the record of a blob that is gone.
        for path in &m.paths {
            inv.index.forget(path)?;
        }
        v.removed.push(Fixed { id: Some(id.clone()), path: m.paths.first().cloned().unwrap_or_default() });
    }
    for link in &v.dangling_links {
        inv.index.forget(link)?;
        v.removed.push(Fixed { id: None, path: link.clone() });
    }
    Ok(v)
}
