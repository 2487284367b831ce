//! One verified transfer: a URL into a temp file, hashed in the same pass, resumed, retried.
//!
//! - The body streams from the network task to a writer on a blocking thread through a bounded
//!   channel (16 chunks), so memory stays bounded whatever the size and hashing overlaps receiving.
//! - Resume: when the temp file already holds N bytes, its prefix is re-hashed and the request
//!   asks `Range: bytes=N-`. Only a `206` whose `Content-Range` is exactly `N-(total-1)/total`
//!   (and agrees with the announced size) is appended to; any other answer restarts from 0.
//! - Bounded: a body is never read past the size announced (by the hub, the `Content-Length` or
//!   the `Content-Range`); one byte more ends the transfer as a final error.
//! - Redirects are followed by [`Http::get_following`]'s rules (at most 10, no scheme change, no
//!   https → http, the token only to its origin).
//! - Retries: transient failures (see `retry.rs`) wait and try again, keeping the temp file so the
//!   next attempt resumes; final ones return at once.
//! - Free space is checked before a transfer of known size; running out mid-way (ENOSPC) deletes
//!   the temp file and reports `disk full`.
//! - [`commit`](super::commit) verifies the digest and only then renames the temp file to its final name: no file
//!   is ever visible under a final name unverified, and a mismatch leaves nothing behind.

use std::fs::File;
use std::io::{self, Seek, Write};
use std::path::Path;

use reqwest::header::{ACCEPT_ENCODING, RANGE};
use reqwest::StatusCode;

use super::hash::{self, Expected, Hasher};
use super::http::{protocol, status_failure, ContentRange, Http, Pace};
use super::progress::{Event, Progress};
use super::request::{Download, Downloaded};
use super::retry::Failure;
use super::worker::blocking;
use super::FetchError;
use crate::fsx::{self, Context, Existing, FsError};

impl Http {
    /// One connection: download `d.url` into `d.temp` (resuming what is there), retrying
    /// transient failures.
    pub(super) async fn stream(&self, d: &Download<'_>, progress: &dyn Progress) -> Result<Downloaded, FetchError> {
        self.policy.run(d.id, &d.url, progress, |_| self.attempt(d, progress)).await
    }

    async fn attempt(&self, d: &Download<'_>, progress: &dyn Progress) -> Result<Downloaded, Failure> {
        let (file, hasher, offset) = self.prepare(d).await?;
        let resp = self
            .get_following(&d.url, d.credential, |u| {
                let req = self.client.get(u.clone()).header(ACCEPT_ENCODING, "identity");
                if offset > 0 {
                    req.header(RANGE, format!("bytes={offset}-"))
                } else {
                    req
                }
            })
            .await?;
        let span = match answer(d, &resp, offset)? {
            Answer::Complete => {
                let (sha256, git_sha1) = hasher.finish();
                return Ok(Downloaded { sha256, git_sha1, size: offset });
            }
            Answer::Restart => {
                let _ = tokio::fs::remove_file(d.temp).await;
                return Err(Failure::transient("the server answered another range than asked; starting over"));
            }
            Answer::Body(span) => span,
        };
        let hasher = if span.start == 0 { Hasher::new(d.expected, d.size) } else { hasher };
        progress.event(Event::Start { id: d.id.to_string(), total: span.total, resumed_from: span.start });
        self.receive(d, resp, (file, hasher), span, progress).await
    }

    /// Check the free space (before the temp file exists, so a refusal leaves nothing behind),
    /// then open the temp file and hash what it holds: the file, the hasher and the prefix length.
    async fn prepare(&self, d: &Download<'_>) -> Result<(File, Hasher, u64), Failure> {
        if let Some(total) = d.size {
            let temp = d.temp.to_path_buf();
            let have = blocking(move || -> Result<u64, Failure> {
                if let Some(dir) = temp.parent() {
                    fsx::create_dir_private(dir)?;
                }
                Ok(std::fs::metadata(&temp).map(|m| m.len()).unwrap_or(0))
            })
            .await?;
            check_space(d.temp, total.saturating_sub(have))?;
        }
        let temp = d.temp.to_path_buf();
        let (expected, size) = (d.expected.clone(), d.size);
        blocking(move || Ok(open_for_resume(&temp, &expected, size)?)).await
    }

    /// Write the body of `resp` into `file` from `span.start` (emptying it first when that is 0)
    /// while `hasher` hashes it, then check what arrived against what was announced.
    async fn receive(
        &self,
        d: &Download<'_>,
        resp: reqwest::Response,
        (file, mut hasher): (File, Hasher),
        span: Span,
        progress: &dyn Progress,
    ) -> Result<Downloaded, Failure> {
        // Writing and hashing each get a thread, fed the same (reference-counted) chunks: SHA-256
        // runs at about the speed of the network on loopback, so doing both in one thread would
        // make the transfer take their sum.
        let (wtx, mut wrx) = tokio::sync::mpsc::channel::<bytes::Bytes>(16);
        let (htx, mut hrx) = tokio::sync::mpsc::channel::<bytes::Bytes>(16);
        let restart = span.start == 0;
        let writer = tokio::task::spawn_blocking(move || write_all(file, restart, &mut wrx));
        let digest = tokio::task::spawn_blocking(move || {
            while let Some(chunk) = hrx.blocking_recv() {
                hasher.update(&chunk);
            }
            hasher
        });
        let (cut, got) = self.pump(d, resp, [wtx, htx], span, progress).await;
        let hasher = digest.await.map_err(|e| Failure::transient(format!("hasher stopped: {e}")))?;
        let written = match writer.await {
            Ok(Ok(done)) => done,
            Ok(Err(e)) => {
                let (temp, need) = (d.temp.to_path_buf(), d.size.map(|s| s.saturating_sub(span.start)));
                return Err(blocking(move || Err::<(), _>(write_failure(&temp, e, need))).await.unwrap_err());
            }
            Err(e) => return Err(Failure::transient(format!("writer stopped: {e}"))),
        };
        if let Some(want) = span.total.filter(|&t| got > t) {
            let _ = tokio::fs::remove_file(d.temp).await;
            return Err(Failure::Final(protocol(
                &d.url,
                &format!("sent more than the {want} bytes announced; stopped reading and deleted the download"),
            )));
        }
        if let Some(why) = cut {
            return Err(Failure::transient(why));
        }
        let got = span.start + written;
        if let Some(want) = span.total.filter(|&t| got < t) {
            return Err(Failure::transient(format!("connection closed after {got} of {want} bytes")));
        }
        let (sha256, git_sha1) = hasher.finish();
        progress.event(Event::Done { id: d.id.to_string() });
        Ok(Downloaded { sha256, git_sha1, size: got })
    }

    /// Read the body, sending every chunk to the writer and the hasher, until its end, a failure
    /// (returned as why it was cut), a writer that stopped, or one byte past the announced size
    /// (not one more is read). Also returns the file's length as counted, from `span.start`.
    async fn pump(
        &self,
        d: &Download<'_>,
        resp: reqwest::Response,
        to: [tokio::sync::mpsc::Sender<bytes::Bytes>; 2],
        span: Span,
        progress: &dyn Progress,
    ) -> (Option<String>, u64) {
        let [wtx, htx] = to;
        let mut stream = resp.bytes_stream();
        let mut pace = Pace::start();
        let mut got = span.start;
        loop {
            let chunk = match self.next_chunk(&mut stream, &mut pace).await {
                Err(why) => return (Some(why), got),
                Ok(None) => return (None, got),
                Ok(Some(chunk)) => chunk,
            };
            let n = chunk.len() as u64;
            got += n;
            if span.total.is_some_and(|t| got > t) {
                return (None, got); // more than announced: the caller refuses the download
            }
            if wtx.send(chunk.clone()).await.is_err() || htx.send(chunk).await.is_err() {
                return (None, got); // the writer failed; the caller reports its error
            }
            progress.event(Event::Bytes { id: d.id.to_string(), n });
        }
    }
}

/// The part of a file a body carries: from byte `start` of a file of `total` bytes (if known).
#[derive(Debug, Clone, Copy)]
struct Span {
    start: u64,
    total: Option<u64>,
}

/// What an answer to a (possibly ranged) GET lets us do.
enum Answer {
    /// The body, to be written from where its span starts.
    Body(Span),
    /// `416` for a temp file that already holds every byte.
    Complete,
    /// A `206` for another range than asked: start over.
    Restart,
}

/// Check the status and the size headers against what was asked (`offset`) and announced
/// (`d.size`); only a `206` that is exactly the rest of the announced file resumes.
fn answer(d: &Download<'_>, resp: &reqwest::Response, offset: u64) -> Result<Answer, Failure> {
    let lying = |why: String| Failure::Final(protocol(&d.url, &why));
    match resp.status() {
        StatusCode::OK => {
            if let (Some(want), Some(len)) = (d.size, resp.content_length()) {
                if want != len {
                    return Err(lying(format!("Content-Length {len} differs from the announced size {want}")));
                }
            }
            Ok(Answer::Body(Span { start: 0, total: d.size.or(resp.content_length()) }))
        }
        StatusCode::PARTIAL_CONTENT if offset > 0 => {
            let Some(cr) = ContentRange::of(resp) else { return Ok(Answer::Restart) };
            let total = cr.total.or(d.size);
            let exact = cr.start == offset
                && total.is_some_and(|t| cr.end + 1 == t)
                && d.size.is_none_or(|s| Some(s) == total)
                && resp.content_length().is_none_or(|n| n == cr.bytes());
            Ok(if exact { Answer::Body(Span { start: offset, total }) } else { Answer::Restart })
        }
        StatusCode::PARTIAL_CONTENT => Ok(Answer::Restart),
        StatusCode::RANGE_NOT_SATISFIABLE if offset > 0 && d.size == Some(offset) => Ok(Answer::Complete),
        _ => Err(status_failure(&d.url, resp, d.asked)),
    }
}

/// Open (or create) the temp file; re-hash what it already holds. Returns the file positioned at
/// its end, the hasher fed with the prefix, and the prefix length.
fn open_for_resume(temp: &Path, expected: &Expected, size: Option<u64>) -> Result<(File, Hasher, u64), FsError> {
    if let Some(dir) = temp.parent() {
        fsx::create_dir_private(dir)?;
    }
    let mut file = fsx::open_private(temp, Existing::Keep).ctx("cannot open", temp)?;
    let mut hasher = Hasher::new(expected, size);
    let len = hash::read_into(&mut file, &mut hasher, u64::MAX).ctx("cannot read", temp)?;
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

/// A write that failed: disk full (the temp file is deleted, so the space comes back) or another
/// error naming the file; final either way.
pub(super) fn write_failure(temp: &Path, e: io::Error, need: Option<u64>) -> Failure {
    if fsx::is_disk_full(&e) {
        let _ = std::fs::remove_file(temp);
        let have = fsx::available(temp).unwrap_or(0);
        return Failure::Final(FetchError::DiskFull { path: temp.to_path_buf(), need: need.unwrap_or(0), have });
    }
    Failure::Final(FsError::new("cannot write", temp, e).into())
}

/// Refuse a transfer of `need` bytes into `temp`'s folder when the disk has less free.
pub(super) fn check_space(temp: &Path, need: u64) -> Result<(), FetchError> {
    if let Some(dir) = temp.parent() {
        let _ = fsx::create_dir_private(dir);
    }
    match fsx::available(temp) {
        Some(have) if have < need => {
            Err(FetchError::DiskFull { path: temp.parent().unwrap_or(temp).to_path_buf(), need, have })
        }
        _ => Ok(()),
    }
}
