//! `wharf push`: files of the store into a team store (`remote/s3.rs` has the bucket's layout).
//!
//! Each file goes to `blobs/sha256/<hex>` unless the store has it already (`HEAD`), create-only
//! and with its SHA-256 for the store to check; then, for Hugging Face files, each repo's index
//! at its commit (`hf/<org>/<name>/<commit>.json`) gains their entries — after their bytes, so an
//! index never names an object that is not there. Files go four at a time. A repo pushed whole
//! (every file the hub lists at the commit, see [`missing_from`]) has its index marked complete.
//!
//! Only files the store holds are pushed, as `get_model` found them (offline: nothing is
//! downloaded here); their digests are the store's verified ones.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

use futures_util::{stream, StreamExt, TryStreamExt};
use serde::Serialize;

use super::pull::{ModelStore, Pulled};
use crate::ids::{BucketUrl, CommitId, Etag, RepoId, RepoPath, Sha256};
use crate::remote::hf::RepoFiles;
use crate::remote::s3::{blob_rel, HfIndex, IndexedFile, Put, S3Error, TeamStore};
use crate::transfer::progress::{Event, Progress};
use crate::transfer::worker::blocking;
use crate::transfer::FetchError;

/// What `push` did with one file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PushAction {
    /// Its bytes were uploaded.
    Uploaded,
    /// The team store had them already.
    AlreadyThere,
    /// `--dry-run`: they would be uploaded.
    WouldUpload,
}

/// One file pushed (or not).
#[derive(Debug, Clone, Serialize)]
pub struct Pushed {
    /// The source it was pulled as.
    pub source: String,
    /// Its object, `s3://BUCKET/KEY`.
    pub object: String,
    /// Its SHA-256.
    pub sha256: String,
    /// Its size in bytes.
    pub size: u64,
    /// What was done.
    pub action: PushAction,
}

/// Why a push failed.
#[derive(Debug, thiserror::Error)]
pub enum PushError {
    /// The team store refused or failed.
    #[error(transparent)]
    Store(#[from] S3Error),
    /// A stored file could not be read.
    #[error(transparent)]
    Fetch(#[from] FetchError),
    /// The store has an object under a file's digest, of another size.
    #[error("team store `{object}` has {there} bytes, the file `{source_spec}` has {size}\n  hint: the object was altered or is broken; delete it from the bucket and push again")]
    Mismatch {
        /// The object.
        object: String,
        /// The file.
        source_spec: String,
        /// Its size there.
        there: u64,
        /// The file's size.
        size: u64,
    },
}

impl ModelStore {
    /// Push `files` (as pulled from this store) to the team store `to`; the indexes of the repos
    /// at commits in `complete` are marked complete. With `dry_run`, only say what would go.
    pub async fn push(
        &self,
        to: &BucketUrl,
        files: &[Pulled],
        complete: &[(RepoId, CommitId)],
        dry_run: bool,
        progress: &dyn Progress,
    ) -> Result<Vec<Pushed>, PushError> {
        let store = TeamStore::new(to.clone(), &self.cfg.s3, self.http.client.clone(), self.cfg.s3_allow_http())?;
        let store = &store;
        let pushed: Vec<Pushed> = stream::iter(files)
            .map(|p| async move { push_one(store, p, dry_run, progress).await })
            .buffered(4)
            .try_collect()
            .await?;
        if !dry_run {
            self.push_indexes(store, files, complete).await?;
        }
        Ok(pushed)
    }

    /// Add the Hugging Face files among `files` to their repo's index at their commit.
    async fn push_indexes(
        &self,
        store: &TeamStore,
        files: &[Pulled],
        complete: &[(RepoId, CommitId)],
    ) -> Result<(), PushError> {
        let mut by_commit: BTreeMap<(RepoId, CommitId), Vec<&Pulled>> = BTreeMap::new();
        for p in files {
            if let (Some(f), Some(c)) = (&p.hf, &p.commit) {
                by_commit.entry((f.repo.clone(), c.clone())).or_default().push(p);
            }
        }
        for ((repo, commit), pulled) in by_commit {
            // The etag is the blob's name in the hub cache: the snapshot link's target.
            let paths: Vec<PathBuf> = pulled.iter().map(|p| p.path.clone()).collect();
            let etags = blocking(move || {
                let name =
                    |p: &PathBuf| Some(std::fs::canonicalize(p).ok()?.file_name()?.to_string_lossy().into_owned());
                Ok::<_, FetchError>(paths.iter().map(name).collect::<Vec<_>>())
            })
            .await?;
            let mut add = BTreeMap::new();
            for (p, etag) in pulled.iter().zip(etags) {
                let (Some(f), Some(etag)) = (&p.hf, etag.and_then(|e| e.parse::<Etag>().ok())) else { continue };
                let Ok(sha256) = p.sha256.parse::<Sha256>() else { continue };
                add.insert(f.path.clone(), IndexedFile { sha256, etag, size: p.size });
            }
            let whole = complete.contains(&(repo.clone(), commit.clone()));
            merge_index(store, &repo, &commit, add, whole).await?;
        }
        Ok(())
    }
}

/// The files of `listing` (a repo at a commit, as the hub lists it) that are not among `have`:
/// none, and the repo can be pushed whole.
pub fn missing_from(listing: &RepoFiles, have: &[Pulled]) -> Vec<RepoPath> {
    let here: BTreeSet<&RepoPath> = have
        .iter()
        .filter(|p| p.commit.as_ref() == Some(&listing.commit))
        .filter_map(|p| p.hf.as_ref().map(|f| &f.path))
        .collect();
    listing.files.iter().map(|f| &f.name).filter(|n| !here.contains(n)).cloned().collect()
}

/// Add `add` to the index of `repo` at `commit` (marked complete when `whole`): created
/// create-only when there is none; when there is one (or another push created it meanwhile),
/// rewritten only if it gains something.
async fn merge_index(
    store: &TeamStore,
    repo: &RepoId,
    commit: &CommitId,
    add: BTreeMap<RepoPath, IndexedFile>,
    whole: bool,
) -> Result<(), PushError> {
    let rel = HfIndex::rel(repo, commit);
    let encode = |index: &HfIndex| {
        serde_json::to_vec_pretty(index).map_err(|e| S3Error::Failed { what: store.label(&rel), why: e.to_string() })
    };
    let existing = match store.hf_index(repo, commit).await? {
        Some(index) => Some(index),
        None => {
            let mut index = HfIndex::new(repo.clone(), commit.clone());
            index.complete = whole;
            index.files.extend(add.clone());
            if store.put_bytes(&rel, encode(&index)?).await? == Put::Uploaded {
                return Ok(());
            }
            // Another push created it meanwhile: merge into theirs.
            store.hf_index(repo, commit).await?
        }
    };
    let Some(mut index) = existing else { return Ok(()) };
    let mut changed = whole && !index.complete;
    index.complete |= whole;
    for (path, f) in add {
        changed |= index.files.get(&path) != Some(&f);
        index.files.insert(path, f);
    }
    if changed {
        store.replace_bytes(&rel, encode(&index)?).await?;
    }
    Ok(())
}

async fn push_one(store: &TeamStore, p: &Pulled, dry_run: bool, progress: &dyn Progress) -> Result<Pushed, PushError> {
    let sha: Sha256 = p
        .sha256
        .parse()
        .map_err(|e: crate::ids::IdError| FetchError::Protocol { url: p.source.clone(), why: e.to_string() })?;
    let rel = blob_rel(&sha);
    let object = store.label(&rel);
    let done = |action| Pushed {
        source: p.source.clone(),
        object: object.clone(),
        sha256: p.sha256.clone(),
        size: p.size,
        action,
    };
    match store.size_of(&rel).await? {
        Some(there) if there == p.size => return Ok(done(PushAction::AlreadyThere)),
        Some(there) => {
            return Err(PushError::Mismatch { object, source_spec: p.source.clone(), there, size: p.size });
        }
        None if dry_run => return Ok(done(PushAction::WouldUpload)),
        None => {}
    }
    progress.event(Event::Start { id: p.source.clone(), total: Some(p.size), resumed_from: 0 });
    let put = store.put_file(&rel, &p.path, p.size).await?;
    progress.event(Event::Bytes { id: p.source.clone(), n: p.size });
    progress.event(Event::Done { id: p.source.clone() });
    Ok(done(match put {
        Put::Uploaded => PushAction::Uploaded,
        Put::AlreadyThere => PushAction::AlreadyThere,
    }))
}
