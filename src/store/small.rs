//! Many small files of one Hugging Face repo, each finished as soon as its body is in.
//!
//! A repo of hundreds of small files (configs, tokenizers, JSON shards) costs per file what a
//! large file costs once: a lock, a temp file, a sync, a rename, a link, an index record, and the
//! thread hops between them. Each listed file of known etag and known size (at most [`WHOLE`])
//! goes here:
//!
//! 1. its blob lock, taken **without waiting**, [`LOCKS_AT_ONCE`] files to one blocking call, two
//!    such calls at once (a file another process holds is left to the per-file path, which waits
//!    for it and then finds it done); a blob already here is linked, and its use recorded;
//! 2. its body, over the shared connection pool (`parallel_files` at once), into memory
//!    ([`Http::fetch_whole`]; asked of the hub then its mirrors like any file);
//! 3. on a blocking thread started as the body arrives, while the connections fetch the next
//!    ones: hashed and checked against its etag, written to its `.incomplete` temp, synced,
//!    renamed to its blob, linked and recorded in the index; then its lock is released.
//!
//! The syncs are what makes a small file wait, and they wait on the disk: from many threads at
//! once they share its flushes, and behind the transfers they add little time of their own. The
//! hashing, too, is off the thread that drives the connections. (This module once held the
//! syncs back for one barrier after the batch's last body, with the renames, links and records
//! after it, and hashed as bodies arrived: 200 files of 4–64 KiB from a local nginx took 0.073 s
//! where they take 0.053 s now, one `bench/speed.sh` run, both binaries in the same rounds.)
//! At most [`MEMORY`] bytes of bodies wait for the disk: a slow disk slows the fetching instead
//! of filling memory.
//!
//! Crash safety is the per-file path's: a blob is renamed into place only after its verified bytes
//! are durable; a kill before leaves a temp file that the next pull overwrites.
//!
//! [`Http::fetch_whole`]: crate::transfer::http::Http::fetch_whole

use std::io::Write;
use std::sync::Arc;

use futures_util::{stream, StreamExt, TryStreamExt};
use tokio::sync::Semaphore;

use super::layout::HubCache;
use super::pull::{hf_pulled, linked_if_here, Known, ModelStore, Noter, Pulled};
use super::serve::Trust;
use crate::fsx::{self, Context, Existing};
use crate::ids::{HfFile, RepoRef};
use crate::lock::{self, LockGuard, Mode};
use crate::transfer::hash::Expected;
use crate::transfer::http::Asked;
use crate::transfer::progress::Progress;
use crate::transfer::stream::{Unverified, WHOLE};
use crate::transfer::worker::blocking;
use crate::transfer::{self, Download, FetchError};

/// Bodies fetched and not yet written, in bytes at most.
pub const MEMORY: u64 = 32 << 20;

const _: () = assert!(WHOLE <= MEMORY, "a small file must fit in the room for bodies");

/// Files under way at once (locked, fetching, or being written)…
const IN_FLIGHT: usize = 64;

/// …whose locks are taken this many at a time (a lock is an open file: a repo of ten thousand
/// small files must not hold ten thousand).
const LOCKS_AT_ONCE: usize = 32;

/// A file whose lock is held, to be fetched.
struct Held {
    file: HfFile,
    known: Known,
    _guard: LockGuard,
}

/// What became of one file.
enum Done {
    /// In the store, linked and recorded.
    Pulled(Pulled),
    /// Another process holds its lock: left to the per-file path.
    Busy((HfFile, Known)),
}

impl ModelStore {
    /// Fetch `files` (at the commit of `at`, the repo as it was asked, which each file is recorded
    /// under); returns what was pulled, each already recorded in the index, and the files left to
    /// the per-file path (another process holds their lock).
    pub(super) async fn hf_small_files(
        &self,
        at: &RepoRef,
        files: Vec<(HfFile, Known)>,
        trust: &Trust,
        now: chrono::DateTime<chrono::Utc>,
        progress: &dyn Progress,
    ) -> Result<(Vec<Pulled>, Vec<(HfFile, Known)>), FetchError> {
        if files.is_empty() {
            return Ok((Vec::new(), Vec::new()));
        }
        let (hub, index) = (self.hub_cache.clone(), self.index.clone());
        // The hub cache is about to be written: its root exists before the records name it.
        let noter = Arc::new(
            blocking(move || {
                fsx::create_dir_private(&hub.root)?;
                Ok::<_, FetchError>(Noter::open(index, &hub, now)?)
            })
            .await?,
        );
        let fetching = &Semaphore::new(self.cfg.parallel_files.max(1));
        let memory = &Semaphore::new(kib(MEMORY) as usize);
        let mut files = files.into_iter();
        let chunks = std::iter::from_fn(|| Some(files.by_ref().take(LOCKS_AT_ONCE).collect::<Vec<_>>()))
            .take_while(|chunk| !chunk.is_empty());
        let done: Vec<Done> = stream::iter(chunks)
            .map(|chunk| {
                let (hub, trust, at, noter) = (self.hub_cache.clone(), trust.clone(), at.clone(), noter.clone());
                blocking::<_, FetchError>(move || take_locks(&hub, chunk, &trust, &at, &noter))
            })
            .buffered(2)
            .map_ok(|took| stream::iter(took.into_iter().map(Ok)))
            .try_flatten()
            .map_ok(|took| {
                let noter = noter.clone();
                async move {
                    let held = match took {
                        Ok(held) => held,
                        Err(done) => return Ok(done),
                    };
                    let room = memory.acquire_many(kib(held.known.size.unwrap_or(WHOLE))).await;
                    let net = fetching.acquire().await;
                    let body = self.fetch_small(&held, progress).await?;
                    drop(net);
                    let (hub, at) = (self.hub_cache.clone(), at.clone());
                    let p = blocking(move || commit(&hub, held, body, &at, &noter)).await?;
                    drop(room);
                    Ok::<_, FetchError>(Done::Pulled(p))
                }
            })
            .try_buffer_unordered(IN_FLIGHT)
            .try_collect()
            .await?;
        let (mut pulled, mut busy) = (Vec::with_capacity(done.len()), Vec::new());
        for d in done {
            match d {
                Done::Pulled(p) => pulled.push(p),
                Done::Busy(b) => busy.push(b),
            }
        }
        Ok((pulled, busy))
    }

    /// One small file's body, from the hub then its mirrors.
    async fn fetch_small(&self, h: &Held, progress: &dyn Progress) -> Result<Unverified, FetchError> {
        let label = h.file.to_string();
        let expected = Expected::from(&h.known.etag);
        let temp = self.hub_cache.blob(&h.file.repo, &h.known.etag)?;
        self.hubs
            .try_each(&label, |hub| {
                let d = hub.resolve_url(&h.file, h.known.commit.as_str()).map(|url| Download {
                    id: &label,
                    url,
                    credential: hub.credential.as_ref(),
                    asked: Asked::Hub { token: hub.credential.is_some() },
                    size: h.known.size,
                    expected: &expected,
                    temp: &temp,
                });
                async move { hub.for_download(&self.http).fetch_whole(&d?, progress).await }
            })
            .await
    }
}

/// Semaphore permits for `bytes`: one per KiB begun (a 4 KiB file takes 4 of [`MEMORY`]'s).
fn kib(bytes: u64) -> u32 {
    u32::try_from(bytes.div_ceil(1024)).unwrap_or(u32::MAX)
}

/// Step 1 (see the module doc), for a few files in one blocking call (a thread hop per file
/// would cost more than the lock), one after the other: each file's lock, or what became of it
/// without a fetch (already here: linked and its use recorded; another process holds it: busy).
/// Not on rayon's pool: its idle workers spin between two calls, and `perf` counted that spin
/// as 8% of a 200-file pull's CPU; two calls run at once instead (see `hf_small_files`).
fn take_locks(
    hub: &HubCache,
    files: Vec<(HfFile, Known)>,
    trust: &Trust,
    at: &RepoRef,
    noter: &Noter,
) -> Result<Vec<Result<Held, Done>>, FetchError> {
    files
        .into_iter()
        .map(|(file, known)| {
            let guard = match lock::try_acquire(&hub.lock(&file.repo, &known.etag)?, Mode::Exclusive) {
                Ok(g) => g,
                Err(lock::LockError::Busy { .. }) => return Ok(Err(Done::Busy((file, known)))),
                Err(e) => return Err(FetchError::from(e)),
            };
            match linked_if_here(hub, file.clone(), known.clone(), &trust.sized(known.size))? {
                Some(p) => {
                    let p = p.with_asked(at);
                    noter.note(&p)?;
                    Ok(Err(Done::Pulled(p)))
                }
                None => Ok(Ok(Held { file, known, _guard: guard })),
            }
        })
        .collect()
}

/// Step 3 (see the module doc): a body verified, then into its blob, durable before it is
/// renamed there; linked and recorded, then the lock (in `held`) released.
fn commit(hub: &HubCache, held: Held, body: Unverified, at: &RepoRef, noter: &Noter) -> Result<Pulled, FetchError> {
    let (body, got) = body.verify()?;
    let blob = hub.blob(&held.file.repo, &held.known.etag)?;
    let temp = transfer::temp_path(&blob);
    if let Some(dir) = temp.parent() {
        fsx::create_dir_private(dir)?;
    }
    let mut f = fsx::open_private(&temp, Existing::Truncate).ctx("cannot create", &temp)?;
    f.write_all(&body).ctx("cannot write", &temp)?;
    f.sync_data().ctx("cannot sync", &temp)?;
    std::fs::rename(&temp, &blob).ctx("cannot move into place", &blob)?;
    let Held { file, known, _guard } = held;
    let link = hub.link(&file.repo, &known.commit, &file.path, &known.etag)?;
    let p = hf_pulled(file, link, got.sha256, got.size, false, known.commit).with_asked(at);
    noter.note(&p)?;
    Ok(p)
}
