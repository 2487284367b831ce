//! The team stores (`s3://` entries of `WHARF_MIRRORS`) as the first tier of every download whose
//! SHA-256 is known: a pinned URL or S3 object, a Hugging Face LFS file, and any Hugging Face file
//! at a commit that a store's index lists (`hf/<org>/<name>/<commit>.json`, written by `wharf
//! push`); and the listing of a whole repo at a commit, when an index says it is complete.
//!
//! Rules:
//! - The stores are tried in their order, before the origin; a miss (404) goes on quietly.
//! - Bytes are fetched like any download (a presigned URL handed to `transfer`: ranged, resumed,
//!   verified) and must hash to the key's SHA-256 and to the etag the hub cache names them by;
//!   bytes that do not are deleted, named in a warning (`s3://BUCKET/KEY`), and the next tier asked.
//! - A store that fails (down, refused credentials) is warned about **once** and not asked again
//!   by this process; the pull goes on from the origin.
//! - Offline, nothing here is called.

use std::collections::{BTreeSet, HashMap};
use std::path::Path;

use futures_util::{stream, StreamExt, TryStreamExt};

use super::inventory::Item;
use super::pull::{check_pin, Known, ModelStore, Pulled};
use super::serve::Trust;
use crate::ids::{BucketUrl, CommitId, HfFile, RepoId, RepoPath, Sha256};
use crate::remote::hf;
use crate::remote::s3::{blob_rel, HfIndex, IndexedFile, S3Error};
use crate::transfer::hash::Expected;
use crate::transfer::http::Asked;
use crate::transfer::progress::{Event, Progress};
use crate::transfer::request::check_digest;
use crate::transfer::worker::blocking;
use crate::transfer::{self, Download, Downloaded, FetchError};

/// One file to look for in the team stores (`check --remote`, `models list --remote`).
#[derive(Debug, Clone)]
pub struct Wanted {
    /// Its SHA-256: its object is `blobs/sha256/<hex>`.
    pub sha256: Sha256,
    /// Its size: an object of another size does not count.
    pub size: u64,
    /// For a Hugging Face file at a commit, where the repo's index there must list it (with this
    /// digest): a pull finds it through that index.
    pub hf: Option<(RepoId, CommitId, RepoPath)>,
}

impl ModelStore {
    /// For each of `wanted`, the first team store that has it (its object of that size, and for a
    /// Hugging Face file its index entry), or `None`. A store that cannot be asked is an error:
    /// "not there" must not stand for "could not tell".
    pub async fn team_has(&self, wanted: &[Wanted]) -> Result<Vec<Option<BucketUrl>>, S3Error> {
        let stores = self.teams.clients()?;
        let repos: BTreeSet<(&RepoId, &CommitId)> =
            wanted.iter().filter_map(|w| w.hf.as_ref().map(|(r, c, _)| (r, c))).collect();
        let mut indexes = HashMap::new();
        for (i, store) in stores.iter().enumerate() {
            for &(repo, commit) in &repos {
                indexes.insert((i, repo, commit), store.hf_index(repo, commit).await?);
            }
        }
        let indexes = &indexes;
        let stores = &stores;
        stream::iter(wanted)
            .map(|w| async move {
                for (i, store) in stores.iter().enumerate() {
                    let listed = w.hf.as_ref().is_none_or(|(repo, commit, path)| {
                        let index = indexes.get(&(i, repo, commit)).and_then(Option::as_ref);
                        index.and_then(|x| x.files.get(path)).is_some_and(|f| f.sha256 == w.sha256)
                    });
                    if listed && store.size_of(&blob_rel(&w.sha256)).await? == Some(w.size) {
                        return Ok(Some(store.url.clone()));
                    }
                }
                Ok(None)
            })
            .buffered(16)
            .try_collect()
            .await
    }

    /// Into `temp`: the bytes whose SHA-256 is `sha` from the first team store that has them,
    /// hashing to `expected` too. `None`: no store had them; the caller asks the origin.
    pub(super) async fn team_bytes(
        &self,
        sha: &Sha256,
        size: Option<u64>,
        expected: &Expected,
        temp: &Path,
        id: &str,
        progress: &dyn Progress,
    ) -> Option<Downloaded> {
        let rel = blob_rel(sha);
        for (team, store) in self.teams.usable(progress) {
            let object = store.label(&rel);
            let url = match store.get_url(&rel).await {
                Ok(url) => url,
                Err(e) => {
                    self.teams.give_up(team, &e.to_string(), progress);
                    continue;
                }
            };
            let signed = url.to_string();
            let d = Download { id, url, credential: None, asked: Asked::Other, size, expected, temp };
            match self.team_http.download(&d, progress).await {
                Ok(got) => {
                    match check_digest(expected, &got, &object)
                        .and_then(|()| check_pin(Some(sha), &got.sha256, &object))
                    {
                        Ok(()) => return Some(got),
                        Err(e) => {
                            let t = temp.to_path_buf();
                            let _ = blocking(move || {
                                let _ = std::fs::remove_file(t);
                                Ok::<_, FetchError>(())
                            })
                            .await;
                            progress.event(Event::Warning { message: format!("{e}; going on from the next source") });
                        }
                    }
                }
                Err(FetchError::NotFound { .. }) => {}
                // The message names the object, never the signed URL (it is a credential).
                Err(e) => self.teams.give_up(team, &e.naming(&signed, &object).to_string(), progress),
            }
        }
        None
    }

    /// Mark each of `items` (a listing of the store) with whether a team store has its bytes; one
    /// whose digest is not known is marked as not there.
    pub async fn mark_in_team(&self, items: &mut [Item]) -> Result<(), S3Error> {
        let (at, wanted): (Vec<usize>, Vec<Wanted>) = items
            .iter()
            .enumerate()
            .filter_map(|(i, item)| {
                let sha256 = item.sha256.as_deref()?.parse().ok()?;
                Some((i, Wanted { sha256, size: item.size, hf: None }))
            })
            .unzip();
        let found = self.team_has(&wanted).await?;
        for item in items.iter_mut() {
            item.in_team_store = Some(false);
        }
        for (i, there) in at.into_iter().zip(found) {
            items[i].in_team_store = Some(there.is_some());
        }
        Ok(())
    }

    /// The first team store's index of `repo` at `commit` (asked once per process).
    async fn team_index(&self, repo: &RepoId, commit: &CommitId, progress: &dyn Progress) -> Option<HfIndex> {
        let key = (repo.clone(), commit.clone());
        if let Some(known) = self.teams.known_index(&key) {
            return known;
        }
        let mut found = None;
        for (team, store) in self.teams.usable(progress) {
            match store.hf_index(repo, commit).await {
                Ok(Some(index)) => {
                    found = Some(index);
                    break;
                }
                Ok(None) => {}
                Err(e) => self.teams.give_up(team, &e.to_string(), progress),
            }
        }
        self.teams.remember_index(key, found.clone());
        found
    }

    /// The entry of `file` at `commit` in a team store's index, if one lists it.
    async fn team_indexed(&self, file: &HfFile, commit: &CommitId, progress: &dyn Progress) -> Option<IndexedFile> {
        self.team_index(&file.repo, commit, progress).await?.files.get(&file.path).cloned()
    }

    /// Every file of `repo` at `commit` as a team store's complete index lists them (a whole
    /// repo was pushed): a whole-repo pull at a commit then asks the hub nothing. `None`: the
    /// hub lists it.
    pub(super) async fn team_listing(
        &self,
        repo: &RepoId,
        commit: &CommitId,
        progress: &dyn Progress,
    ) -> Option<hf::RepoFiles> {
        if !self.teams.any() || self.cfg.offline {
            return None;
        }
        let index = self.team_index(repo, commit, progress).await.filter(|i| i.complete)?;
        let files = index
            .files
            .into_iter()
            .map(|(name, f)| hf::Listed { name, size: Some(f.size), etag: Some(f.etag) })
            .collect();
        Some(hf::RepoFiles { commit: index.commit, files })
    }

    /// A Hugging Face file from a team store, when its commit is known (asked at a commit, or
    /// listed) and its digest too (an LFS etag, or a store's index); checked against `pin`.
    /// `None`: the origin is asked.
    pub(super) async fn hf_from_team(
        &self,
        file: &HfFile,
        known: Option<&Known>,
        pin: Option<&Sha256>,
        trust: &Trust,
        progress: &dyn Progress,
    ) -> Result<Option<Pulled>, FetchError> {
        if !self.teams.any() || self.cfg.offline {
            return Ok(None);
        }
        let Some(commit) = file.revision.as_commit().or_else(|| known.map(|k| k.commit.clone())) else {
            return Ok(None);
        };
        let (etag, sha, size) = match known.and_then(|k| Some((k, k.etag.sha256()?.clone()))) {
            Some((k, sha)) => (k.etag.clone(), sha, k.size),
            None => {
                let Some(entry) = self.team_indexed(file, &commit, progress).await else { return Ok(None) };
                let etag = entry.etag;
                // An index that disagrees with what the hub listed is not used (nor, below, one
                // that disagrees with the pin).
                if known.is_some_and(|k| k.etag != etag) {
                    return Ok(None);
                }
                (etag, entry.sha256, Some(entry.size))
            }
        };
        if pin.is_some_and(|p| *p != sha) {
            return Ok(None);
        }
        let known = Known { commit: commit.clone(), etag: etag.clone(), size };
        let label = file.to_string();
        let _guard = self.lock(self.hub_cache.lock(&file.repo, &etag)?, &label, progress).await?;
        if let Some(hit) = self.link_existing(file, known, trust).await? {
            return Ok(Some(hit));
        }
        let temp = transfer::temp_path(&self.hub_cache.blob(&file.repo, &etag)?);
        let expected = Expected::from(&etag);
        let Some(got) = self.team_bytes(&sha, size, &expected, &temp, &label, progress).await else { return Ok(None) };
        self.commit_hf(file, commit, etag, expected, got).await.map(Some)
    }
}
