//! One verified transfer: a URL into a temp file, hashed in the same pass, resumed, retried.
//!
//! - The body streams from the network task to a writer on a blocking thread through a bounded
//!   channel (16 chunks), so memory stays bounded whatever the size and hashing overlaps receiving.
//! - Resume: when the temp file already holds N bytes, its prefix is re-hashed and the request
//!   asks `Range: bytes=N-`. Only a `206` starting at N is appended to; any other answer restarts
//!   from 0.
//! - Retries: transient failures (see `retry.rs`) wait and try again, keeping the temp file so the
//!   next attempt resumes; final ones return at once.
//! - Free space is checked before a transfer of known size; running out mid-way (ENOSPC) deletes
//!   the temp file and reports `disk full`.
//! - [`commit`] verifies the digest and only then renames the temp file to its final name: no file
//!   is ever visible under a final name unverified, and a mismatch leaves nothing behind.

use std::fs::{File, OpenOptions};
use std::io::{self, Read, Seek, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

use futures_util::StreamExt;
use reqwest::header::{ACCEPT_ENCODING, AUTHORIZATION, CONTENT_RANGE, RANGE, RETRY_AFTER};
use reqwest::{Response, StatusCode, Url};

use super::hash::{self, Expected, Hasher};
use super::progress::{Event, Progress};
use super::retry::{self, RetryPolicy};
use super::source;
use super::FetchError;
use crate::fsx::{self, Context, FsError};

/// The HTTP side, shared by every transfer of a pull.
#[derive(Debug, Clone)]
pub struct Http {
    pub client: reqwest::Client,
    pub policy: RetryPolicy,
    /// No byte for this long counts as a transient failure.
    pub stall: Duration,
    pub allow_http: bool,
    /// Connections for one large file (1: a single stream); `None`: 4 for remote hosts, 1 for
    /// loopback, where one stream is not held back by the network and ranges only cost CPU.
    pub connections: Option<usize>,
}

/// A bearer token and the one origin (scheme, host, port) it may be sent to.
#[derive(Debug, Clone)]
pub struct Credential {
    pub token: String,
    pub origin: url::Origin,
}

impl Credential {
    /// The `Authorization` value for `url`, only if it goes to the credential's origin: a redirect
    /// to a CDN on another host (or another port) never carries the token.
    pub fn for_url(&self, url: &Url) -> Option<String> {
        (url.origin() == self.origin).then(|| format!("Bearer {}", self.token))
    }
}

/// What to download.
#[derive(Debug, Clone)]
pub struct Download<'a> {
    pub id: &'a str,
    pub url: Url,
    pub credential: Option<&'a Credential>,
    pub size: Option<u64>,
    pub expected: &'a Expected,
    pub temp: &'a Path,
}

/// What was downloaded into the temp file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Downloaded {
    pub sha256: String,
    pub git_sha1: Option<String>,
    pub size: u64,
}

/// Why an attempt failed.
enum Failure {
    Transient { why: String, retry_after: Option<Duration> },
    Final(FetchError),
}

fn transient(why: impl Into<String>) -> Failure {
    Failure::Transient { why: why.into(), retry_after: None }
}

impl From<FsError> for Failure {
    fn from(e: FsError) -> Failure {
        Failure::Final(e.into())
    }
}

/// Classify a response that is not the one we wanted.
pub fn status_failure(url: &Url, resp: &Response) -> Result<(), (bool, Option<Duration>, FetchError)> {
    let status = resp.status().as_u16();
    let retry_after = resp
        .headers()
        .get(RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| retry::parse_retry_after(v, chrono::Utc::now()));
    let url = url.to_string();
    let err = match status {
        404 => FetchError::NotFound { url },
        401 | 403 => FetchError::Http {
            url,
            status,
            hint: "\n  hint: access refused; for a gated or private Hugging Face repo, set `HF_TOKEN`",
        },
        _ => FetchError::Http { url, status, hint: "" },
    };
    Err((retry::transient_status(status), retry_after, err))
}

impl Http {
    pub fn new(
        policy: RetryPolicy,
        stall: Duration,
        allow_http: bool,
        connections: Option<usize>,
    ) -> Result<Http, FetchError> {
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .connect_timeout(Duration::from_secs(30))
            .user_agent(concat!("wharf/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| FetchError::Protocol {
                url: String::new(),
                why: format!("cannot start the HTTP client: {e}"),
            })?;
        Ok(Http { client, policy, stall, allow_http, connections })
    }

    /// Send `req` to `url`, with the credential's token only if `url` is its origin. A connection
    /// error, or no answer within the stall time, is transient: `Err` says why.
    pub async fn send(
        &self,
        mut req: reqwest::RequestBuilder,
        url: &Url,
        credential: Option<&Credential>,
    ) -> Result<Response, String> {
        if let Some(auth) = credential.and_then(|c| c.for_url(url)) {
            req = req.header(AUTHORIZATION, auth);
        }
        match tokio::time::timeout(self.stall, req.send()).await {
            Err(_) => Err(format!("no answer for {}s", self.stall.as_secs())),
            Ok(Err(e)) => Err(e.to_string()),
            Ok(Ok(r)) => Ok(r),
        }
    }

    /// The next chunk of a body (`Ok(None)` at its end), or why it stopped: no byte for the stall
    /// time, or a broken connection, both transient.
    pub async fn next_chunk<S>(&self, stream: &mut S) -> Result<Option<bytes::Bytes>, String>
    where
        S: futures_util::Stream<Item = reqwest::Result<bytes::Bytes>> + Unpin,
    {
        match tokio::time::timeout(self.stall, stream.next()).await {
            Err(_) => Err(format!("stalled: no byte for {}s", self.stall.as_secs())),
            Ok(None) => Ok(None),
            Ok(Some(Err(e))) => Err(format!("connection broken: {e}")),
            Ok(Some(Ok(chunk))) => Ok(Some(chunk)),
        }
    }

    /// Run `attempt` until it succeeds, fails finally, or the retries run out.
    pub async fn with_retries<T, F, Fut>(
        &self,
        id: &str,
        url: &Url,
        progress: &dyn Progress,
        mut attempt: F,
    ) -> Result<T, FetchError>
    where
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = Result<T, (bool, Option<Duration>, FetchError)>>,
    {
        let mut tries = 0u32;
        loop {
            tries += 1;
            match attempt().await {
                Ok(t) => return Ok(t),
                Err((false, _, e)) => return Err(e),
                Err((true, retry_after, e)) => {
                    if tries > self.policy.max_retries {
                        return Err(FetchError::GaveUp { url: url.to_string(), attempts: tries, last: e.to_string() });
                    }
                    let wait = self.policy.wait(tries, retry_after);
                    progress.event(Event::Retry {
                        id: id.to_string(),
                        attempt: tries,
                        wait_ms: wait.as_millis() as u64,
                        reason: e.to_string(),
                    });
                    tokio::time::sleep(wait).await;
                }
            }
        }
    }

    /// Download `d.url` into `d.temp` (resuming what is there), retrying transient failures.
    /// A large file of known size with nothing to resume goes in parallel ranges (`ranged.rs`).
    pub async fn download(&self, d: &Download<'_>, progress: &dyn Progress) -> Result<Downloaded, FetchError> {
        source::check_scheme(&d.url, self.allow_http)?;
        let fresh = tokio::fs::metadata(d.temp).await.map(|m| m.len() == 0).unwrap_or(true);
        let connections = self.connections.unwrap_or(if source::is_loopback(&d.url) { 1 } else { 4 });
        if connections > 1 && fresh && d.size.is_some_and(|s| s >= 2 * super::ranged::PIECE) {
            check_space(d.temp, d.size.unwrap_or(0)).map_err(|f| match f {
                Failure::Final(e) => e,
                Failure::Transient { why, .. } => FetchError::Protocol { url: d.url.to_string(), why },
            })?;
            if let Some(done) = super::ranged::download(self, d, connections, progress).await? {
                return Ok(done);
            }
        }
        self.with_retries(d.id, &d.url, progress, || async {
            self.attempt(d, progress).await.map_err(|f| match f {
                Failure::Transient { why, retry_after } => {
                    (true, retry_after, FetchError::Protocol { url: d.url.to_string(), why })
                }
                Failure::Final(e) => (false, None, e),
            })
        })
        .await
    }

    async fn attempt(&self, d: &Download<'_>, progress: &dyn Progress) -> Result<Downloaded, Failure> {
        if let Some(total) = d.size {
            // Before the temp file exists, so a refusal leaves nothing behind.
            let temp = d.temp.to_path_buf();
            let have = blocking(move || -> Result<u64, FsError> {
                if let Some(dir) = temp.parent() {
                    fsx::create_dir_private(dir)?;
                }
                Ok(std::fs::metadata(&temp).map(|m| m.len()).unwrap_or(0))
            })
            .await??;
            check_space(d.temp, total.saturating_sub(have))?;
        }
        let temp = d.temp.to_path_buf();
        let (expected, size) = (d.expected.clone(), d.size);
        let (file, mut hasher, offset) = blocking(move || open_for_resume(&temp, &expected, size)).await??;
        let mut req = self.client.get(d.url.clone()).header(ACCEPT_ENCODING, "identity");
        if offset > 0 {
            req = req.header(RANGE, format!("bytes={offset}-"));
        }
        let resp = self.send(req, &d.url, d.credential).await.map_err(transient)?;
        let restart = match resp.status() {
            StatusCode::PARTIAL_CONTENT if offset > 0 && range_start(&resp) == Some(offset) => false,
            StatusCode::OK => true,
            StatusCode::RANGE_NOT_SATISFIABLE if offset > 0 && d.size == Some(offset) => {
                let (sha256, git_sha1) = hasher.finish();
                return Ok(Downloaded { sha256, git_sha1, size: offset });
            }
            StatusCode::PARTIAL_CONTENT => {
                // A range we did not ask for: start over next time.
                let _ = tokio::fs::remove_file(d.temp).await;
                return Err(transient("the server answered another range than asked"));
            }
            _ => {
                return Err(match status_failure(&d.url, &resp) {
                    Err((true, retry_after, e)) => Failure::Transient { why: e.to_string(), retry_after },
                    Err((false, _, e)) => Failure::Final(e),
                    Ok(()) => transient("unexpected answer"),
                })
            }
        };
        let start = if restart { 0 } else { offset };
        if restart {
            hasher = Hasher::new(d.expected, d.size);
        }
        let total = d.size.or_else(|| resp.content_length().map(|n| n + start));
        progress.event(Event::Start { id: d.id.to_string(), total, resumed_from: start });

        // Writing and hashing each get a thread, fed the same (reference-counted) chunks: SHA-256
        // runs at about the speed of the network on loopback, so doing both in one thread would
        // make the transfer take their sum.
        let (wtx, mut wrx) = tokio::sync::mpsc::channel::<bytes::Bytes>(16);
        let (htx, mut hrx) = tokio::sync::mpsc::channel::<bytes::Bytes>(16);
        let writer = tokio::task::spawn_blocking(move || write_all(file, restart, &mut wrx));
        let digest = tokio::task::spawn_blocking(move || {
            while let Some(chunk) = hrx.blocking_recv() {
                hasher.update(&chunk);
            }
            hasher
        });
        let mut stream = resp.bytes_stream();
        let mut cut: Option<String> = None;
        loop {
            match self.next_chunk(&mut stream).await {
                Err(why) => {
                    cut = Some(why);
                    break;
                }
                Ok(None) => break,
                Ok(Some(chunk)) => {
                    let n = chunk.len() as u64;
                    if wtx.send(chunk.clone()).await.is_err() || htx.send(chunk).await.is_err() {
                        break; // the writer failed; its error is reported below
                    }
                    progress.event(Event::Bytes { id: d.id.to_string(), n });
                }
            }
        }
        drop(wtx);
        drop(htx);
        let hasher = digest.await.map_err(|e| transient(format!("hasher stopped: {e}")))?;
        let written = match writer.await {
            Ok(Ok(done)) => done,
            Ok(Err(e)) => {
                let (temp, need) = (d.temp.to_path_buf(), d.size.map(|s| s.saturating_sub(start)));
                return Err(blocking(move || write_failure(&temp, e, need)).await.unwrap_or_else(|f| f));
            }
            Err(e) => return Err(transient(format!("writer stopped: {e}"))),
        };
        let got = start + written;
        if let Some(why) = cut {
            return Err(transient(why));
        }
        match d.size {
            Some(want) if got < want => {
                return Err(transient(format!("connection closed after {got} of {want} bytes")))
            }
            Some(want) if got > want => {
                let _ = tokio::fs::remove_file(d.temp).await;
                return Err(Failure::Final(FetchError::Protocol {
                    url: d.url.to_string(),
                    why: format!("sent {got} bytes, {want} were announced"),
                }));
            }
            _ => {}
        }
        let (sha256, git_sha1) = hasher.finish();
        progress.event(Event::Done { id: d.id.to_string() });
        Ok(Downloaded { sha256, git_sha1, size: got })
    }
}

async fn blocking<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> Result<T, Failure> {
    tokio::task::spawn_blocking(f).await.map_err(|e| transient(format!("worker stopped: {e}")))
}

/// `Content-Range: bytes START-END/TOTAL` → START.
fn range_start(resp: &Response) -> Option<u64> {
    let v = resp.headers().get(CONTENT_RANGE)?.to_str().ok()?;
    v.strip_prefix("bytes ")?.split('-').next()?.trim().parse().ok()
}

/// Open (or create) the temp file; re-hash what it already holds. Returns the file positioned at
/// its end, the hasher fed with the prefix, and the prefix length.
fn open_for_resume(temp: &Path, expected: &Expected, size: Option<u64>) -> Result<(File, Hasher, u64), FsError> {
    if let Some(dir) = temp.parent() {
        fsx::create_dir_private(dir)?;
    }
    let mut o = OpenOptions::new();
    o.read(true).write(true).create(true).truncate(false);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut o, 0o600);
    let mut file = o.open(temp).ctx("cannot open", temp)?;
    let mut hasher = Hasher::new(expected, size);
    let mut buf = vec![0u8; 1 << 20];
    let mut len = 0u64;
    loop {
        let n = file.read(&mut buf).ctx("cannot read", temp)?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
        len += n as u64;
    }
    // A prefix longer than the file can be is garbage: start over.
    if size.is_some_and(|s| len > s) {
        file.set_len(0).ctx("cannot truncate", temp)?;
        file.rewind().ctx("cannot seek", temp)?;
        return Ok((file, Hasher::new(expected, size), 0));
    }
    Ok((file, hasher, len))
}

/// The writer thread: write every chunk, then flush and sync. Returns bytes written.
fn write_all(mut file: File, restart: bool, rx: &mut tokio::sync::mpsc::Receiver<bytes::Bytes>) -> io::Result<u64> {
    if restart {
        file.set_len(0)?;
        file.rewind()?;
    }
    let mut out = io::BufWriter::with_capacity(1 << 20, file);
    let mut written = 0u64;
    while let Some(chunk) = rx.blocking_recv() {
        out.write_all(&chunk)?;
        written += chunk.len() as u64;
    }
    let file = out.into_inner().map_err(|e| e.into_error())?;
    file.sync_all()?;
    Ok(written)
}

/// ENOSPC, however the platform reports it.
pub fn is_disk_full(e: &io::Error) -> bool {
    e.kind() == io::ErrorKind::StorageFull || e.raw_os_error() == Some(28)
}

fn write_failure(temp: &Path, e: io::Error, need: Option<u64>) -> Failure {
    if is_disk_full(&e) {
        let _ = std::fs::remove_file(temp);
        let have = available(temp).unwrap_or(0);
        return Failure::Final(FetchError::DiskFull { path: temp.to_path_buf(), need: need.unwrap_or(0), have });
    }
    Failure::Final(FsError::new("cannot write", temp, e).into())
}

/// Bytes free for an unprivileged writer in the folder of `path`.
pub fn available(path: &Path) -> Option<u64> {
    let dir = path.parent().unwrap_or(path);
    let st = rustix::fs::statvfs(dir).ok()?;
    Some(st.f_bavail.saturating_mul(st.f_frsize))
}

fn check_space(temp: &Path, need: u64) -> Result<(), Failure> {
    if let Some(dir) = temp.parent() {
        let _ = fsx::create_dir_private(dir);
    }
    match available(temp) {
        Some(have) if have < need => {
            Err(Failure::Final(FetchError::DiskFull { path: temp.parent().unwrap_or(temp).to_path_buf(), need, have }))
        }
        _ => Ok(()),
    }
}

/// Verify `got` against `expected`; on success rename `temp` to `dest` (the commit point), on a
/// mismatch delete `temp`. Blocking.
pub fn commit(temp: &Path, dest: &Path, expected: &Expected, got: &Downloaded, what: &str) -> Result<(), FetchError> {
    if let Err((expected, actual)) = hash::verify(expected, &got.sha256, got.git_sha1.as_deref()) {
        let _ = std::fs::remove_file(temp);
        return Err(FetchError::ChecksumMismatch { what: what.to_string(), expected, actual });
    }
    if let Some(dir) = dest.parent() {
        fsx::create_dir_private(dir)?;
    }
    std::fs::rename(temp, dest).ctx("cannot move into place", dest)?;
    Ok(())
}

/// `<dest>.incomplete`: the temp name beside a final name (the same one huggingface_hub uses, so
/// either tool can resume the other's transfer under the shared blob lock).
pub fn temp_path(dest: &Path) -> PathBuf {
    let mut name = dest.file_name().unwrap_or_default().to_os_string();
    name.push(".incomplete");
    dest.with_file_name(name)
}
