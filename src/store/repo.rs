//! A whole Hugging Face repo at one commit: the listing, what is here already judged in one pass
//! (a cached repo of hundreds of files costs no thread hop per file), small files each on a short
//! way (`small.rs`), the rest one by one through the per-file path (`pull.rs`), at the same time;
//! offline, the files of the snapshot folder the revision names.

use futures_util::{stream, StreamExt, TryStreamExt};

use super::pull::{cached_in, Known, ModelStore, PullOptions, Pulled};
use super::serve::Trust;
use crate::ids::{HfFile, RepoPath, RepoRef, Revision};
use crate::remote::filter::Filter;
use crate::remote::hf;
use crate::transfer::progress::Progress;
use crate::transfer::worker::blocking;
use crate::transfer::FetchError;

impl ModelStore {
    /// Every file of a repo (as `opts` filters them) at one commit.
    pub(super) async fn hf_repo(
        &self,
        at: &RepoRef,
        opts: &PullOptions,
        progress: &dyn Progress,
    ) -> Result<Vec<Pulled>, FetchError> {
        let filter = Filter::new(&opts.include, &opts.exclude)?;
        if self.cfg.offline {
            return self.hf_repo_offline(at, &filter, opts).await;
        }
        // At a commit, a team store's complete index spares the hub's listing.
        let teamed = match at.revision.as_commit() {
            Some(commit) => self.team_listing(&at.repo, &commit, progress).await,
            None => None,
        };
        let listing = match teamed {
            Some(listing) => listing,
            None => self.hf_listing(at, progress).await?,
        };
        let commit = listing.commit;
        let at_commit = RepoRef { repo: at.repo.clone(), revision: commit.clone().into() };
        let files: Vec<_> = listing.files.into_iter().filter(|f| filter.keep(&f.name)).collect();
        // A pinned size is one file's: each file of a repo is held to its own record.
        let trust = &self.trust(&PullOptions { size: None, ..opts.clone() });
        // What is here already, in one go; only the rest goes through the per-file path.
        let here = self.hf_cached_many(files.iter().map(|f| (at_commit.file(f.name.clone()), f.size)).collect(), trust);
        let mut pulled = Vec::with_capacity(files.len());
        let mut missing = Vec::new();
        for (f, hit) in files.into_iter().zip(here.await?) {
            match hit {
                Some(p) => pulled.push(p.with_asked(at)),
                None => missing.push(f),
            }
        }
        // Small listed files on their short way (`small.rs`), the rest one by one, at the same
        // time; a small file another process is fetching goes the per-file way after.
        let known = |f: &hf::Listed| f.etag.clone().map(|etag| Known { commit: commit.clone(), etag, size: f.size });
        let (small, large): (Vec<_>, Vec<_>) =
            // With team stores, each file goes the per-file way, which asks them first.
            missing.into_iter().partition(|f| !self.teams.any() && known(f).is_some_and(|k| k.small()));
        let small = small.into_iter().filter_map(|f| Some((at_commit.file(f.name.clone()), known(&f)?))).collect();
        let one_by_one = |files: Vec<hf::Listed>| {
            stream::iter(files)
                .map(|f| {
                    let known = known(&f);
                    let file = at_commit.file(f.name);
                    async move {
                        Ok::<_, FetchError>(self.hf_file(&file, known, None, trust, progress).await?.with_asked(at))
                    }
                })
                .buffer_unordered(self.cfg.parallel_files.max(1))
                .try_collect::<Vec<Pulled>>()
        };
        let ((recorded, busy), fetched) =
            tokio::try_join!(self.hf_small_files(at, small, trust, opts.now, progress), one_by_one(large))?;
        pulled.extend(fetched);
        let busy = busy
            .into_iter()
            .map(|(file, k)| hf::Listed { name: file.path, size: k.size, etag: Some(k.etag) })
            .collect();
        pulled.extend(one_by_one(busy).await?);
        self.note_in_index(pulled.clone(), opts.now).await?;
        pulled.extend(recorded);
        let (hub, at) = (self.hub_cache.clone(), at.clone());
        blocking(move || hub.write_ref(&at.repo, &at.revision, &commit).map_err(FetchError::from)).await?;
        pulled.sort_by(|a, b| a.source.cmp(&b.source));
        Ok(pulled)
    }

    /// The hub's listing of a repo at a revision (the primary, then each mirror).
    pub async fn hf_listing(&self, at: &RepoRef, progress: &dyn Progress) -> Result<hf::RepoFiles, FetchError> {
        if self.cfg.offline {
            return Err(FetchError::Offline { what: at.to_string() });
        }
        self.hubs.try_each(at.repo.as_ref(), |hub| hf::list(&self.http, hub, at, progress)).await
    }

    async fn hf_repo_offline(
        &self,
        at: &RepoRef,
        filter: &Filter,
        opts: &PullOptions,
    ) -> Result<Vec<Pulled>, FetchError> {
        let (hub, at_c) = (self.hub_cache.clone(), at.clone());
        let found = blocking(move || {
            let Some(commit) = hub.commit_for(&at_c.repo, &at_c.revision) else { return Ok::<_, FetchError>(None) };
            let root = hub.snapshot_dir(&at_c.repo, &commit)?;
            // Names found on disk are parsed like a listing's: one that is no repo path is skipped.
            let names: Vec<RepoPath> = walkdir::WalkDir::new(&root)
                .into_iter()
                .filter_map(Result::ok)
                .filter(|e| !e.file_type().is_dir() && !crate::fsx::is_temp_name(&e.file_name().to_string_lossy()))
                .filter_map(|e| e.path().strip_prefix(&root).ok()?.to_str()?.parse().ok())
                .collect();
            Ok(Some((commit, names)))
        })
        .await?;
        let Some((commit, names)) = found else { return Err(FetchError::Offline { what: at.to_string() }) };
        let names: Vec<RepoPath> = names.into_iter().filter(|n| filter.keep(n)).collect();
        if names.is_empty() {
            return Err(FetchError::Offline { what: at.to_string() });
        }
        let at_commit = RepoRef { repo: at.repo.clone(), revision: Revision::from(commit) };
        let trust = self.trust(&PullOptions { size: None, ..opts.clone() });
        let files = names.into_iter().map(|n| (at_commit.file(n), None)).collect();
        self.hf_cached_many(files, &trust)
            .await?
            .into_iter()
            .map(|hit| hit.ok_or_else(|| FetchError::Offline { what: at.to_string() }))
            .collect()
    }

    /// [`ModelStore::hf_cached`] for many files in one blocking call, in parallel (a cached repo is
    /// served without a thread hop per file). Each file is held to its own listed size.
    async fn hf_cached_many(
        &self,
        files: Vec<(HfFile, Option<u64>)>,
        trust: &Trust,
    ) -> Result<Vec<Option<Pulled>>, FetchError> {
        use rayon::prelude::*;
        let (hub, trust) = (self.hub_cache.clone(), trust.clone());
        blocking(move || {
            let hub = hub.canonical();
            files.into_par_iter().map(|(f, size)| cached_in(&hub, f, &trust.sized(size))).collect()
        })
        .await
    }
}
