//! [`ModelStore::get_model`]: bring a source into the store and say where it is.
//!
//! Every file follows the same path: look in the store (offline: only look, never write, never
//! call the network); else take the per-blob lock, look again (another process may have finished
//! it while we waited: N processes pulling one model make one transfer), download into the
//! `.incomplete` temp beside the final name, verify, rename. The lock only saves work: the digest
//! check before the rename is what guarantees a correct file. Hugging Face files are then linked
//! into `snapshots/<commit>/` and the revision recorded in `refs/`.
//!
//! A Hugging Face file or listing is asked of the primary hub, then of each mirror in order
//! ([`Mirrors::try_each`], whose one rule says when the next is worth trying), each waited for as
//! long as its own first-byte limits say (a mirror answering a cold miss may take minutes; see
//! `config.rs`) while every body is held to the one stall rule. A file or repo is an
//! [`HfFile`] or [`RepoRef`] from the parsed spec to the index record; its `hf://` text is only
//! shown and recorded.

use std::path::{Path, PathBuf};

use serde::Serialize;

use super::config::StoreConfig;
use super::index::{Cache, Index, Record};
use super::layout::{BlobStore, HubCache};
use super::serve::Trust;
use crate::fsx::FsError;
use crate::ids::source::Source;
use crate::ids::{CommitId, Etag, HfFile, RepoRef, S3Object, Sha256};
use crate::lock::{self, LockGuard, Mode};
use crate::remote::hf::{self, Hub};
use crate::remote::mirrors::Mirrors;
use crate::remote::s3::{TeamStore, TeamStores};
use crate::transfer::hash::Expected;
use crate::transfer::http::{Asked, Http};
use crate::transfer::progress::{Event, Progress};
use crate::transfer::retry::RetryPolicy;
use crate::transfer::worker::blocking;
use crate::transfer::FetchError;
use crate::transfer::{self, Download};

/// How to pull.
#[derive(Debug, Clone, Default)]
pub struct PullOptions {
    /// Globs a repo's files must match (all files, without one).
    pub include: Vec<String>,
    /// Globs of a repo's files to leave out.
    pub exclude: Vec<String>,
    /// A SHA-256 the file must have (for a single-file source).
    pub sha256: Option<Sha256>,
    /// Recorded as the fetch / last-use time in the store's index.
    pub now: chrono::DateTime<chrono::Utc>,
    /// The size a single-file source must have (a lock's pin): a stored file of another size is
    /// fetched again (see `serve.rs`).
    pub size: Option<u64>,
    /// Re-hash a stored file before serving it; one that does not match its name is fetched again.
    pub verify: bool,
    /// Ask the origin again for what nothing pins (a URL without a digest; a branch of a Hugging
    /// Face repo always is asked) even when it is stored; the new bytes replace the old answer.
    pub refresh: bool,
}

/// Where a single file of the blob store comes from.
pub(super) enum Origin<'a> {
    /// An https URL (or http to loopback), as parsed from the spec.
    Web(&'a str),
    /// An object of an S3 bucket.
    S3(&'a S3Object),
}

impl std::fmt::Display for Origin<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Origin::Web(url) => f.write_str(url),
            Origin::S3(object) => object.fmt(f),
        }
    }
}

/// One file in the store.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Pulled {
    /// What was pulled, as it is shown and recorded (`hf://ORG/NAME@REV/PATH`, the URL, …).
    pub source: String,
    /// The file in the store (for a Hugging Face file, its snapshot link).
    pub path: PathBuf,
    /// Its SHA-256.
    pub sha256: String,
    /// Its size in bytes.
    pub size: u64,
    /// True when no byte had to be transferred.
    pub cached: bool,
    /// The commit a Hugging Face file was taken at.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub commit: Option<CommitId>,
    /// The Hugging Face file this is, typed (`source` is its text).
    #[serde(skip)]
    pub hf: Option<HfFile>,
    /// When the stored bytes that met this pull were first fetched from another source (wharf's
    /// store is content-addressed), that source.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub same_as: Option<String>,
}

/// The one door to the model stores (see the module doc of `store`).
pub struct ModelStore {
    /// The shared Hugging Face cache.
    pub hub_cache: HubCache,
    /// wharf's content-addressed blob store.
    pub blobs: BlobStore,
    /// What wharf fetched, and when it was last used.
    pub index: Index,
    pub(super) http: Http,
    pub(super) hubs: Mirrors<Hub>,
    /// The team stores, asked first for what has a known digest (`team.rs`).
    pub(super) teams: TeamStores,
    /// The team tier's HTTP (fewer retries: the origin is there behind it).
    pub(super) team_http: Http,
    pub(super) cfg: StoreConfig,
}

impl ModelStore {
    /// Whether this store never touches the network (`--offline`, `WHARF_OFFLINE`, `HF_HUB_OFFLINE`).
    pub fn is_offline(&self) -> bool {
        self.cfg.offline
    }
}

impl Known {
    /// Whether the file takes the short way of small files (`small.rs`): small, its size known.
    pub(super) fn small(&self) -> bool {
        self.size.is_some_and(|s| s <= crate::transfer::stream::WHOLE)
    }
}

/// What a listing said about a file: spares a request when its blob is already here.
#[derive(Debug, Clone)]
pub(super) struct Known {
    pub commit: CommitId,
    pub etag: Etag,
    pub size: Option<u64>,
}

impl ModelStore {
    /// Open the store described by `cfg` (nothing is touched until a method is called).
    pub fn new(cfg: StoreConfig) -> Result<ModelStore, FetchError> {
        let http = Http::new(cfg.retry, cfg.stall, cfg.low_speed, cfg.allow_http, cfg.connections)?;
        let teams = TeamStores::new(
            cfg.teams
                .iter()
                .map(|url| {
                    let store = TeamStore::new(url.clone(), &cfg.s3, http.client.clone(), cfg.s3_allow_http())
                        .map_err(|e| e.to_string());
                    (url.clone(), store)
                })
                .collect(),
        );
        Ok(ModelStore {
            // The team tier retries once: a store that is down costs little before the origin,
            // which keeps the configured retries, is asked.
            team_http: Http {
                policy: RetryPolicy { max_retries: http.policy.max_retries.min(1), ..http.policy },
                ..http.clone()
            },
            teams,
            hub_cache: HubCache { root: cfg.hub_cache.clone() },
            blobs: BlobStore { root: cfg.wharf_cache.clone() },
            index: Index { dir: cfg.wharf_cache.join("index") },
            http,
            hubs: Hub::mirrors(&cfg.endpoints, cfg.token.clone(), cfg.hub_first_byte, cfg.mirror_first_byte)?,
            cfg,
        })
    }

    /// What the store was opened with.
    pub fn config(&self) -> &StoreConfig {
        &self.cfg
    }

    /// The primary hub's token, for a URL source: like `huggingface_hub`, a URL on the hub's own
    /// origin is fetched with it. [`Credential`] sends it to that origin only, on every redirect hop.
    ///
    /// [`Credential`]: crate::transfer::http::Credential
    pub(super) fn hub_credential(&self) -> Option<&crate::transfer::http::Credential> {
        self.hubs.primary().and_then(|h| h.credential.as_ref())
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
        let pulled = self.note_same_bytes(pulled).await?;
        // A repo's files are recorded as they are done (`repo.rs`).
        if !matches!(source, Source::HfRepo(_)) {
            self.note_in_index(pulled.clone(), opts.now).await?;
        }
        Ok(pulled)
    }

    /// Note `pulled` in the index: a fetch (a new record) or a use (a fresher `last_used`).
    /// Offline, nothing is written.
    pub(super) async fn note_in_index(
        &self,
        pulled: Vec<Pulled>,
        now: chrono::DateTime<chrono::Utc>,
    ) -> Result<(), FetchError> {
        if self.cfg.offline {
            return Ok(());
        }
        let (index, hub) = (self.index.clone(), self.hub_cache.clone());
        blocking(move || {
            use rayon::prelude::*;
            let noter = Noter::open(index.clone(), &hub, now)?;
            Ok(index.note_many(pulled.par_iter().map(|p| noter.record(p)).collect(), now.into())?)
        })
        .await
    }

    async fn fetch(
        &self,
        source: &Source,
        opts: &PullOptions,
        progress: &dyn Progress,
    ) -> Result<Vec<Pulled>, FetchError> {
        match source {
            Source::HfFile(file) => {
                Ok(vec![self.hf_file(file, None, opts.sha256.as_ref(), &self.trust(opts), progress).await?])
            }
            Source::HfRepo(at) => self.hf_repo(at, opts, progress).await,
            Source::Url { url, sha256 } => {
                let pin = opts.sha256.clone().or_else(|| sha256.clone());
                Ok(vec![self.url(Origin::Web(url), pin, opts, progress).await?])
            }
            Source::S3 { object, sha256 } => {
                let pin = opts.sha256.clone().or_else(|| sha256.clone());
                Ok(vec![self.url(Origin::S3(object), pin, opts, progress).await?])
            }
            Source::File { path, sha256 } => {
                let pin = opts.sha256.clone().or_else(|| sha256.clone());
                Ok(vec![self.file(path, pin, self.trust(opts)).await?])
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

    /// A Hugging Face file. `known` (from a listing) spares a request when the blob is already here;
    /// a stored file that `trust` refuses is fetched again.
    pub(super) async fn hf_file(
        &self,
        file: &HfFile,
        known: Option<Known>,
        pin: Option<&Sha256>,
        trust: &Trust,
        progress: &dyn Progress,
    ) -> Result<Pulled, FetchError> {
        let listed = known.is_some();
        let trust = &trust.sized(known.as_ref().and_then(|k| k.size));
        if let Some(hit) = self.hf_cached(file, trust).await? {
            if self.cfg.offline || file.revision.as_commit().is_some() || listed {
                check_pin(pin, &hit.sha256, &hit.source)?;
                return Ok(hit);
            }
        } else if self.cfg.offline {
            return Err(FetchError::Offline { what: file.to_string() });
        }
        if let Some(known) = &known {
            if let Some(hit) = self.link_existing(file, known.clone(), trust).await? {
                return Ok(hit);
            }
        }
        if let Some(hit) = self.hf_from_team(file, known.as_ref(), pin, trust, progress).await? {
            return Ok(hit);
        }
        let label = file.to_string();
        match known {
            // A listing answered what a `HEAD` would: one GET at the listed commit, no more.
            Some(Known { commit, etag, size: Some(size) }) => {
                self.hubs
                    .try_each(&label, |hub| {
                        let meta = hub.resolve_url(file, commit.as_str()).map(|download| hf::FileMeta {
                            commit: commit.clone(),
                            etag: etag.clone(),
                            size: Some(size),
                            download,
                        });
                        async move { self.hf_fetch_meta(hub, file, meta?, pin, trust, progress).await }
                    })
                    .await
            }
            _ => self.hubs.try_each(&label, |hub| self.hf_fetch(hub, file, pin, trust, progress)).await,
        }
    }

    /// The file as the local cache has it for its revision, without any network call (see
    /// [`cached_in`]).
    async fn hf_cached(&self, file: &HfFile, trust: &Trust) -> Result<Option<Pulled>, FetchError> {
        let (hub, file, trust) = (self.hub_cache.clone(), file.clone(), trust.clone());
        blocking(move || cached_in(&hub.canonical(), file, &trust)).await
    }

    /// With the etag known: link a blob that is already here (another revision, or another tool).
    pub(super) async fn link_existing(
        &self,
        file: &HfFile,
        known: Known,
        trust: &Trust,
    ) -> Result<Option<Pulled>, FetchError> {
        let (hub, file, trust) = (self.hub_cache.clone(), file.clone(), trust.clone());
        blocking(move || linked_if_here(&hub, file, known, &trust)).await
    }

    /// Resolve `file` at `hub` (a `HEAD`), then fetch it.
    async fn hf_fetch(
        &self,
        hub: &Hub,
        file: &HfFile,
        pin: Option<&Sha256>,
        trust: &Trust,
        progress: &dyn Progress,
    ) -> Result<Pulled, FetchError> {
        let meta = hf::resolve(&self.http, hub, file, progress).await?;
        self.hf_fetch_meta(hub, file, meta, pin, trust, progress).await
    }

    /// With what `hub` says of `file` (`meta`): link what is here or download, verify and link it.
    async fn hf_fetch_meta(
        &self,
        hub: &Hub,
        file: &HfFile,
        meta: hf::FileMeta,
        pin: Option<&Sha256>,
        trust: &Trust,
        progress: &dyn Progress,
    ) -> Result<Pulled, FetchError> {
        // Asked at a commit, the answer must be for that commit (a mirror may not substitute one).
        if let Some(want) = file.revision.as_commit().filter(|c| *c != meta.commit) {
            return Err(FetchError::Protocol {
                url: hub.endpoint.to_string(),
                why: format!("asked for commit {want}, answered for commit {}", meta.commit),
            });
        }
        let label = file.to_string();
        let blob = self.hub_cache.blob(&file.repo, &meta.etag)?;
        let _guard = self.lock(self.hub_cache.lock(&file.repo, &meta.etag)?, &label, progress).await?;
        // Double-check under the lock: another process (or another revision) may have the blob;
        // then it is only linked.
        let known = Known { commit: meta.commit.clone(), etag: meta.etag.clone(), size: meta.size };
        if let Some(hit) = self.link_existing(file, known, trust).await? {
            check_pin(pin, &hit.sha256, &hit.source)?;
            return Ok(hit);
        }
        let expected = Expected::from(&meta.etag);
        let temp = transfer::temp_path(&blob);
        let d = Download {
            id: &label,
            url: meta.download.clone(),
            credential: hub.credential.as_ref(),
            asked: Asked::Hub { token: hub.credential.is_some() },
            size: meta.size,
            expected: &expected,
            temp: &temp,
        };
        let got = hub.for_download(&self.http).download(&d, progress).await?;
        if let Err(e) = check_pin(pin, &got.sha256, &label) {
            let _ = tokio::fs::remove_file(&temp).await;
            return Err(e);
        }
        self.commit_hf(file, meta.commit, meta.etag, expected, got).await
    }

    /// The commit point of a Hugging Face file downloaded into its blob's temp file (the caller
    /// holds the blob's lock): verified against `expected` and renamed to its blob, then linked
    /// from the snapshot and its revision's ref written.
    pub(super) async fn commit_hf(
        &self,
        file: &HfFile,
        commit: CommitId,
        etag: Etag,
        expected: Expected,
        got: transfer::Downloaded,
    ) -> Result<Pulled, FetchError> {
        let (hub_cache, file) = (self.hub_cache.clone(), file.clone());
        blocking(move || {
            let blob = hub_cache.blob(&file.repo, &etag)?;
            transfer::commit(&transfer::temp_path(&blob), &blob, &expected, &got, &file.to_string())?;
            let link = hub_cache.link(&file.repo, &commit, &file.path, &etag)?;
            hub_cache.write_ref(&file.repo, &file.revision, &commit)?;
            Ok(hf_pulled(file, link, got.sha256, got.size, false, commit))
        })
        .await
    }
}

/// Blocking: with the etag known, link a blob that is already here (another revision, or another
/// tool) if `trust` accepts it.
pub(super) fn linked_if_here(
    hub: &HubCache,
    file: HfFile,
    known: Known,
    trust: &Trust,
) -> Result<Option<Pulled>, FetchError> {
    let Known { commit, etag, size } = known;
    let blob = hub.blob(&file.repo, &etag)?;
    let Ok(meta) = std::fs::metadata(&blob) else { return Ok(None) };
    if !meta.is_file() || size.is_some_and(|s| s != meta.len()) {
        return Ok(None);
    }
    let key = super::serve::canonical(&blob);
    let Some(sha256) = trust.served_sha256(&blob, meta.len(), &etag, &key) else { return Ok(None) };
    let link = hub.link(&file.repo, &commit, &file.path, &etag)?;
    hub.write_ref(&file.repo, &file.revision, &commit)?;
    Ok(Some(hf_pulled(file, link, sha256, meta.len(), true, commit)))
}

/// Blocking: the file as `hub` (at its canonical path) has it for its revision, without any network
/// call. Only a snapshot entry that is exactly wharf's (and huggingface_hub's) relative link to a
/// blob counts, and only a blob `trust` accepts.
pub(super) fn cached_in(hub: &HubCache, file: HfFile, trust: &Trust) -> Result<Option<Pulled>, FetchError> {
    let Some(commit) = hub.commit_for(&file.repo, &file.revision) else { return Ok(None) };
    let Some(etag) = hub.linked_etag(&file.repo, &commit, &file.path) else { return Ok(None) };
    let snap = hub.snapshot(&file.repo, &commit, &file.path)?;
    let Ok(meta) = std::fs::metadata(&snap) else { return Ok(None) };
    let blob = hub.blob(&file.repo, &etag)?;
    let Some(sha256) = trust.served_sha256(&snap, meta.len(), &etag, &blob) else { return Ok(None) };
    Ok(Some(hf_pulled(file, snap, sha256, meta.len(), true, commit)))
}

/// A Hugging Face file in the store, as pulled.
pub(super) fn hf_pulled(
    file: HfFile,
    path: PathBuf,
    sha256: String,
    size: u64,
    cached: bool,
    commit: CommitId,
) -> Pulled {
    Pulled { source: file.to_string(), path, sha256, size, cached, commit: Some(commit), hf: Some(file), same_as: None }
}

impl Pulled {
    /// This Hugging Face file as the repo `at` was asked for (its revision, where the file was
    /// fetched at the commit it named).
    pub(super) fn with_asked(self, at: &RepoRef) -> Pulled {
        let Some(asked) = self.hf.as_ref().map(|f| at.file(f.path.clone())) else { return self };
        Pulled { source: asked.to_string(), hf: Some(asked), ..self }
    }
}

/// Index records for pulled files, stamped with one time.
pub(super) struct Noter {
    index: Index,
    /// The hub cache's canonical root, if it exists: resolved once, not per file.
    hub_root: Option<PathBuf>,
    stamp: String,
    now: std::time::SystemTime,
}

impl Noter {
    /// Blocking: make the index folder and resolve the hub cache's root.
    pub(super) fn open(index: Index, hub: &HubCache, now: chrono::DateTime<chrono::Utc>) -> Result<Noter, FsError> {
        crate::fsx::create_dir_private(&index.dir)?;
        Ok(Noter {
            index,
            hub_root: std::fs::canonicalize(&hub.root).ok(),
            stamp: now.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
            now: now.into(),
        })
    }

    /// The record of `p` and whether it was fetched (else only used).
    pub(super) fn record(&self, p: &Pulled) -> (Record, bool) {
        (record_for(p, self.hub_root.as_deref(), &self.stamp), !p.cached)
    }

    /// Record `p` now.
    pub(super) fn note(&self, p: &Pulled) -> Result<(), FsError> {
        let (r, fetched) = self.record(p);
        self.index.note(r, fetched, self.now)
    }
}

/// The index record for a pulled file (its blob is the resolved target of a snapshot link).
/// `hub_root` is the hub cache's canonical path, if it exists.
pub(super) fn record_for(p: &Pulled, hub_root: Option<&Path>, stamp: &str) -> Record {
    let blob =
        linked_blob(p, hub_root).unwrap_or_else(|| std::fs::canonicalize(&p.path).unwrap_or_else(|_| p.path.clone()));
    let in_hub = hub_root.is_some_and(|root| blob.starts_with(root));
    Record {
        kind: if in_hub { Cache::Hf } else { Cache::Blob },
        etag: in_hub.then(|| blob.file_name().map(|n| n.to_string_lossy().into_owned())).flatten(),
        repo: p.hf.as_ref().filter(|_| in_hub).map(|f| f.repo.to_string()),
        blob,
        sha256: p.sha256.clone(),
        size: p.size,
        sources: vec![p.source.clone()],
        fetched_at: stamp.to_string(),
        last_used: stamp.to_string(),
    }
}

/// The blob a Hugging Face snapshot link under the canonical `hub_root` points at, by one
/// `readlink` and the link's own `../` steps (the folders between are wharf's, never links):
/// what `canonicalize` gives, without a `readlink` per component for every file of a repo.
fn linked_blob(p: &Pulled, hub_root: Option<&Path>) -> Option<PathBuf> {
    let root = hub_root?;
    if p.hf.is_none() || !p.path.starts_with(root) {
        return None;
    }
    let target = std::fs::read_link(&p.path).ok()?;
    let mut blob = p.path.parent()?.to_path_buf();
    for c in target.components() {
        match c {
            std::path::Component::ParentDir if blob.starts_with(root) && blob != root => {
                blob.pop();
            }
            std::path::Component::Normal(n) => blob.push(n),
            _ => return None,
        }
    }
    blob.starts_with(root).then_some(blob)
}

/// A file (downloaded, copied or cached) must have the pin, when there is one: a lock pins the
/// digest, not only the commit. `what` names the file in the error.
pub(super) fn check_pin(pin: Option<&Sha256>, sha256: &str, what: &str) -> Result<(), FetchError> {
    match pin {
        Some(want) if want.as_str() != sha256 => Err(FetchError::ChecksumMismatch {
            what: what.to_string(),
            expected: want.to_string(),
            actual: sha256.to_string(),
        }),
        _ => Ok(()),
    }
}
