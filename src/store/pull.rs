//! [`ModelStore::get_model`]: bring a source into the store and say where it is.
//!
//! Every file follows the same path: look in the store (offline: only look, never write, never
//! call the network); else take the per-blob lock, look again (another process may have finished
//! it while we waited: N processes pulling one model make one transfer), download into the
//! `.incomplete` temp beside the final name, verify, rename. The lock only saves work: the digest
//! check before the rename is what guarantees a correct file. Hugging Face files are then linked
//! into `snapshots/<commit>/` and the revision recorded in `refs/`.

use std::path::{Path, PathBuf};

use futures_util::{stream, StreamExt, TryStreamExt};
use serde::Serialize;

use super::config::StoreConfig;
use super::index::{Cache as IndexKind, Index, Record};
use super::layout::{BlobStore, HubCache};
use crate::fsx::Context;
use crate::ids::source::Source;
use crate::ids::{CommitId, Etag, RepoId, RepoPath, Revision, Sha256};
use crate::lock::{self, LockGuard, Mode};
use crate::remote::hf::{self, Hub};
use crate::transfer::hash::Expected;
use crate::transfer::http::Http;
use crate::transfer::progress::{Event, Progress};
use crate::transfer::FetchError;
use crate::transfer::{self, Download, Downloaded};

#[derive(Debug, Clone, Default)]
pub struct PullOptions {
    pub include: Vec<String>,
    pub exclude: Vec<String>,
    /// A SHA-256 the file must have (for a single-file source).
    pub sha256: Option<Sha256>,
    /// Recorded as the fetch / last-use time in the store's index.
    pub now: chrono::DateTime<chrono::Utc>,
}

/// One file in the store.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Pulled {
    pub source: String,
    pub path: PathBuf,
    pub sha256: String,
    pub size: u64,
    /// True when no byte had to be transferred.
    pub cached: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub commit: Option<String>,
}

pub struct ModelStore {
    pub hub_cache: HubCache,
    pub blobs: BlobStore,
    pub index: Index,
    pub(super) http: Http,
    hubs: Vec<Hub>,
    pub(super) cfg: StoreConfig,
}

pub(super) async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, FetchError> + Send + 'static,
) -> Result<T, FetchError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| FetchError::Protocol { url: String::new(), why: format!("worker stopped: {e}") })?
}

pub(super) fn sha256_of(path: &Path) -> Result<String, FetchError> {
    crate::transfer::hash::sha256_file(path).ctx("cannot hash", path).map_err(FetchError::from)
}

/// An LFS etag is the file's SHA-256; any other file is hashed (they are small).
fn sha256_for(etag: &Etag, file: &Path) -> Result<String, FetchError> {
    match etag.sha256() {
        Some(h) => Ok(h.to_string()),
        None => sha256_of(file),
    }
}

impl ModelStore {
    pub fn new(cfg: StoreConfig) -> Result<ModelStore, FetchError> {
        let http = Http::new(cfg.retry, cfg.stall, cfg.low_speed, cfg.allow_http, cfg.connections)?;
        let hubs = cfg
            .endpoints
            .iter()
            .enumerate()
            // The token is for the primary endpoint only; mirrors get none.
            .map(|(i, e)| Hub::new(e, if i == 0 { cfg.token.clone() } else { None }))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(ModelStore {
            hub_cache: HubCache { root: cfg.hub_cache.clone() },
            blobs: BlobStore { root: cfg.wharf_cache.clone() },
            index: Index { dir: cfg.wharf_cache.join("index") },
            http,
            hubs,
            cfg,
        })
    }

    pub fn config(&self) -> &StoreConfig {
        &self.cfg
    }

    /// The primary hub's token, for a URL source: like `huggingface_hub`, a URL on the hub's own
    /// origin is fetched with it. [`Credential`] sends it to that origin only, on every redirect hop.
    pub(super) fn hub_credential(&self) -> Option<&crate::transfer::http::Credential> {
        self.hubs.first().and_then(|h| h.credential.as_ref())
    }

    /// Bring `source` into the store; a whole repo gives one [`Pulled`] per file. What was
    /// downloaded is recorded in the index (and a use of something recorded refreshes it), except
    /// offline, where nothing is written.
    pub async fn get_model(
        &self,
        source: &Source,
        opts: &PullOptions,
        progress: &dyn Progress,
    ) -> Result<Vec<Pulled>, FetchError> {
        let pulled = self.fetch(source, opts, progress).await?;
        if !self.cfg.offline {
            let stamp = opts.now.to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
            let (index, hub_root, items) = (self.index.clone(), self.hub_cache.root.clone(), pulled.clone());
            blocking(move || {
                for p in &items {
                    index.note(record_for(p, &hub_root, &stamp), !p.cached)?;
                }
                Ok(())
            })
            .await?;
        }
        Ok(pulled)
    }

    async fn fetch(
        &self,
        source: &Source,
        opts: &PullOptions,
        progress: &dyn Progress,
    ) -> Result<Vec<Pulled>, FetchError> {
        match source {
            Source::HfFile { repo, revision, path } => {
                Ok(vec![self.hf_file(repo, revision, path, None, opts.sha256.as_ref(), progress).await?])
            }
            Source::HfRepo { repo, revision } => self.hf_repo(repo, revision, opts, progress).await,
            Source::Url { url, sha256 } => {
                let pin = opts.sha256.clone().or_else(|| sha256.clone());
                Ok(vec![self.url(url, pin, progress).await?])
            }
            Source::File { path, sha256 } => {
                let pin = opts.sha256.clone().or_else(|| sha256.clone());
                Ok(vec![self.file(path, pin).await?])
            }
        }
    }

    pub(super) async fn lock(
        &self,
        lock_path: PathBuf,
        id: &str,
        progress: &dyn Progress,
    ) -> Result<LockGuard, FetchError> {
        if let Ok(g) = blocking({
            let p = lock_path.clone();
            move || lock::try_acquire(&p, Mode::Exclusive).map_err(FetchError::from)
        })
        .await
        {
            return Ok(g);
        }
        progress.event(Event::Waiting { id: id.to_string(), lock: lock_path.clone() });
        let wait = self.cfg.blob_lock_timeout;
        blocking(move || lock::acquire(&lock_path, Mode::Exclusive, wait, &|_| {}).map_err(FetchError::from)).await
    }

    /// A Hugging Face file. `known` = (commit, etag, size) from a listing, which spares a request
    /// when the blob is already here.
    async fn hf_file(
        &self,
        repo: &RepoId,
        rev: &Revision,
        path: &RepoPath,
        known: Option<(&CommitId, &Etag, Option<u64>)>,
        pin: Option<&Sha256>,
        progress: &dyn Progress,
    ) -> Result<Pulled, FetchError> {
        let label = format!("hf://{repo}@{rev}/{path}");
        if let Some(hit) = self.hf_cached(repo, rev, path, &label).await? {
            if self.cfg.offline || rev.as_commit().is_some() || known.is_some() {
                check_cached_pin(pin, &hit)?;
                return Ok(hit);
            }
        } else if self.cfg.offline {
            return Err(FetchError::Offline { what: label });
        }
        if let Some((commit, etag, size)) = known {
            if let Some(hit) = self.link_existing(repo, rev, commit, path, etag, size, &label).await? {
                return Ok(hit);
            }
        }
        let mut last = None;
        for hub in &self.hubs {
            match self.hf_fetch(hub, repo, rev, path, pin, &label, progress).await {
                Ok(p) => return Ok(p),
                Err(e @ (FetchError::ChecksumMismatch { .. } | FetchError::DiskFull { .. } | FetchError::Fs(_))) => {
                    return Err(e)
                }
                Err(e) => last = Some(e),
            }
        }
        Err(last.unwrap_or(FetchError::Offline { what: label }))
    }

    /// The file as the local cache has it for `rev`, without any network call. Only a snapshot
    /// entry that is exactly wharf's (and huggingface_hub's) relative link to a blob counts.
    async fn hf_cached(
        &self,
        repo: &RepoId,
        rev: &Revision,
        path: &RepoPath,
        label: &str,
    ) -> Result<Option<Pulled>, FetchError> {
        let hub = self.hub_cache.clone();
        let (repo, rev, path, label) = (repo.clone(), rev.clone(), path.clone(), label.to_string());
        blocking(move || {
            let Some(commit) = hub.commit_for(&repo, &rev) else { return Ok(None) };
            let Some(etag) = hub.linked_etag(&repo, &commit, &path) else { return Ok(None) };
            let snap = hub.snapshot(&repo, &commit, &path)?;
            let Ok(meta) = std::fs::metadata(&snap) else { return Ok(None) };
            let sha256 = sha256_for(&etag, &snap)?;
            let commit = Some(commit.to_string());
            Ok(Some(Pulled { source: label, path: snap, sha256, size: meta.len(), cached: true, commit }))
        })
        .await
    }

    /// With the etag known: link a blob that is already here (another revision, or another tool).
    #[allow(clippy::too_many_arguments)]
    async fn link_existing(
        &self,
        repo: &RepoId,
        rev: &Revision,
        commit: &CommitId,
        path: &RepoPath,
        etag: &Etag,
        size: Option<u64>,
        label: &str,
    ) -> Result<Option<Pulled>, FetchError> {
        let hub = self.hub_cache.clone();
        let (repo, rev, commit, path, etag, label) =
            (repo.clone(), rev.clone(), commit.clone(), path.clone(), etag.clone(), label.to_string());
        blocking(move || {
            let blob = hub.blob(&repo, &etag)?;
            let Ok(meta) = std::fs::metadata(&blob) else { return Ok(None) };
            if !meta.is_file() || size.is_some_and(|s| s != meta.len()) {
                return Ok(None);
            }
            let link = hub.link(&repo, &commit, &path, &etag)?;
            hub.write_ref(&repo, &rev, &commit)?;
            let sha256 = sha256_for(&etag, &blob)?;
            let commit = Some(commit.to_string());
            Ok(Some(Pulled { source: label, path: link, sha256, size: meta.len(), cached: true, commit }))
        })
        .await
    }

    #[allow(clippy::too_many_arguments)]
    async fn hf_fetch(
        &self,
        hub: &Hub,
        repo: &RepoId,
        rev: &Revision,
        path: &RepoPath,
        pin: Option<&Sha256>,
        label: &str,
        progress: &dyn Progress,
    ) -> Result<Pulled, FetchError> {
        let r = hf::resolve(&self.http, hub, repo, rev, path, progress).await?;
        // Asked at a commit, the answer must be for that commit (a mirror may not substitute one).
        if let Some(want) = rev.as_commit().filter(|c| *c != r.commit) {
            return Err(FetchError::Protocol {
                url: hub.endpoint.to_string(),
                why: format!("asked for commit {want}, answered for commit {}", r.commit),
            });
        }
        let blob = self.hub_cache.blob(repo, &r.etag)?;
        let _guard = self.lock(self.hub_cache.lock(repo, &r.etag)?, label, progress).await?;
        // Double-check under the lock: another process (or another revision) may have the blob;
        // then it is only linked.
        if let Some(hit) = self.link_existing(repo, rev, &r.commit, path, &r.etag, r.size, label).await? {
            check_cached_pin(pin, &hit)?;
            return Ok(hit);
        }
        let expected = Expected::from(&r.etag);
        let temp = transfer::temp_path(&blob);
        let d = Download {
            id: label,
            url: r.download.clone(),
            credential: hub.credential.as_ref(),
            size: r.size,
            expected: &expected,
            temp: &temp,
        };
        let got = self.http.download(&d, progress).await?;
        check_pin(pin, &got, label, &temp)?;
        let (t, b, e, l, g) = (temp.clone(), blob.clone(), expected.clone(), label.to_string(), got.clone());
        blocking(move || transfer::commit(&t, &b, &e, &g, &l)).await?;
        let hub_cache = self.hub_cache.clone();
        let (repo, rev, commit, path, etag) = (repo.clone(), rev.clone(), r.commit.clone(), path.clone(), r.etag);
        let link = blocking(move || {
            let link = hub_cache.link(&repo, &commit, &path, &etag)?;
            hub_cache.write_ref(&repo, &rev, &commit)?;
            Ok(link)
        })
        .await?;
        Ok(Pulled {
            source: label.to_string(),
            path: link,
            sha256: got.sha256,
            size: got.size,
            cached: false,
            commit: Some(r.commit.to_string()),
        })
    }

    async fn hf_repo(
        &self,
        repo: &RepoId,
        rev: &Revision,
        opts: &PullOptions,
        progress: &dyn Progress,
    ) -> Result<Vec<Pulled>, FetchError> {
        let filter = Filter::new(&opts.include, &opts.exclude)?;
        if self.cfg.offline {
            return self.hf_repo_offline(repo, rev, &filter).await;
        }
        let mut listing = None;
        let mut last = None;
        for hub in &self.hubs {
            match hf::list(&self.http, hub, repo, rev, progress).await {
                Ok(l) => {
                    listing = Some(l);
                    break;
                }
                Err(e) => last = Some(e),
            }
        }
        let listing = listing.ok_or_else(|| last.unwrap_or(FetchError::Offline { what: repo.to_string() }))?;
        let commit = listing.commit.clone();
        let at: Revision = commit.clone().into();
        let files: Vec<_> = listing.files.into_iter().filter(|f| filter.keep(&f.name)).collect();
        let pulled: Vec<Pulled> = stream::iter(files)
            .map(|f| {
                let (commit, at) = (&commit, &at);
                async move {
                    let known = f.etag.as_ref().map(|e| (commit, e, f.size));
                    let mut p = self.hf_file(repo, at, &f.name, known, None, progress).await?;
                    p.source = format!("hf://{repo}@{rev}/{}", f.name);
                    Ok::<_, FetchError>(p)
                }
            })
            .buffer_unordered(self.cfg.parallel_files.max(1))
            .try_collect()
            .await?;
        let (hub, repo, rev) = (self.hub_cache.clone(), repo.clone(), rev.clone());
        blocking(move || hub.write_ref(&repo, &rev, &commit).map_err(FetchError::from)).await?;
        let mut pulled = pulled;
        pulled.sort_by(|a, b| a.source.cmp(&b.source));
        Ok(pulled)
    }

    async fn hf_repo_offline(&self, repo: &RepoId, rev: &Revision, filter: &Filter) -> Result<Vec<Pulled>, FetchError> {
        let what = format!("hf://{repo}@{rev}");
        let (hub, repo_c, rev_c) = (self.hub_cache.clone(), repo.clone(), rev.clone());
        let found = blocking(move || {
            let Some(commit) = hub.commit_for(&repo_c, &rev_c) else { return Ok(None) };
            let root = hub.snapshot_dir(&repo_c, &commit)?;
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
        let Some((commit, names)) = found else { return Err(FetchError::Offline { what }) };
        let names: Vec<RepoPath> = names.into_iter().filter(|n| filter.keep(n)).collect();
        if names.is_empty() {
            return Err(FetchError::Offline { what });
        }
        let at: Revision = commit.into();
        let mut out = Vec::new();
        for n in names {
            out.push(self.hf_file(repo, &at, &n, None, None, &crate::transfer::progress::Silent).await?);
        }
        Ok(out)
    }
}

/// The index record for a pulled file (its blob is the resolved target of a snapshot link).
pub(super) fn record_for(p: &Pulled, hub_root: &Path, stamp: &str) -> Record {
    let blob = std::fs::canonicalize(&p.path).unwrap_or_else(|_| p.path.clone());
    let in_hub = std::fs::canonicalize(hub_root).is_ok_and(|root| blob.starts_with(root));
    let repo = p.source.strip_prefix("hf://").and_then(|r| r.split('@').next()).map(str::to_owned);
    Record {
        kind: if in_hub { IndexKind::Hf } else { IndexKind::Blob },
        etag: in_hub.then(|| blob.file_name().map(|n| n.to_string_lossy().into_owned())).flatten(),
        repo: if in_hub { repo } else { None },
        blob,
        sha256: p.sha256.clone(),
        size: p.size,
        sources: vec![p.source.clone()],
        fetched_at: stamp.to_string(),
        last_used: stamp.to_string(),
    }
}

/// A cached file must have the pin too (a lock pins the digest, not only the commit).
fn check_cached_pin(pin: Option<&Sha256>, hit: &Pulled) -> Result<(), FetchError> {
    match pin {
        Some(want) if want.as_str() != hit.sha256 => Err(FetchError::ChecksumMismatch {
            what: hit.source.clone(),
            expected: want.to_string(),
            actual: hit.sha256.clone(),
        }),
        _ => Ok(()),
    }
}

fn check_pin(pin: Option<&Sha256>, got: &Downloaded, label: &str, temp: &Path) -> Result<(), FetchError> {
    match pin {
        Some(want) if want.as_str() != got.sha256 => {
            let _ = std::fs::remove_file(temp);
            Err(FetchError::ChecksumMismatch {
                what: label.to_string(),
                expected: want.to_string(),
                actual: got.sha256.clone(),
            })
        }
        _ => Ok(()),
    }
}

/// `--include` / `--exclude` globs over repo file names.
struct Filter {
    include: Option<globset::GlobSet>,
    exclude: Option<globset::GlobSet>,
}

impl Filter {
    fn new(include: &[String], exclude: &[String]) -> Result<Filter, FetchError> {
        let set = |globs: &[String]| -> Result<Option<globset::GlobSet>, FetchError> {
            if globs.is_empty() {
                return Ok(None);
            }
            let mut b = globset::GlobSetBuilder::new();
            for g in globs {
                let glob = globset::Glob::new(g)
                    .map_err(|e| FetchError::BadGlob { glob: g.clone(), why: e.kind().to_string() })?;
                b.add(glob);
            }
            b.build().map(Some).map_err(|e| FetchError::BadGlob { glob: globs.join(", "), why: e.to_string() })
        };
        Ok(Filter { include: set(include)?, exclude: set(exclude)? })
    }

    fn keep(&self, name: &str) -> bool {
        self.include.as_ref().is_none_or(|s| s.is_match(name))
            && !self.exclude.as_ref().is_some_and(|s| s.is_match(name))
    }
}
