//! One verified transfer: a URL into a temp file, hashed in the same pass, resumed, retried.
//!
//! - A body of at most [`WHOLE`] bytes is held whole, then hashed, written and synced in one
//!   blocking call. A larger one goes to the [`Sink`] (writer, in-order hasher and flusher threads
//!   behind bounded channels: memory stays bounded whatever the size, hashing overlaps receiving),
//!   over as many connections as make it faster (`split.rs`).
//! - Resume: when the temp file already holds N bytes, its prefix is re-hashed and the request
//!   asks `Range: bytes=N-`. Only a `206` whose `Content-Range` is exactly `N-(total-1)/total`
//!   (and agrees with the announced size) is appended to; any other answer restarts from 0.
//! - Bounded: a body is never read past the size announced (by the hub, the `Content-Length` or
//!   the `Content-Range`); one byte more ends the transfer as a final error.
//! - Redirects are followed by [`Http::get_following`]'s rules (at most 10, no scheme change, no
//!   https → http, the token only to its origin).
//! - Retries: transient failures (see `retry.rs`) wait and try again, keeping the temp file so the
//!   next attempt resumes; final ones return at once. Once a second connection has started, each
//!   connection retries its own part instead (`split.rs`).
//! - Free space is checked before a transfer of known size; running out mid-way (ENOSPC) deletes
//!   the temp file and reports `disk full`.
//! - [`commit`](super::commit) verifies the digest and only then renames the temp file to its final name: no file
//!   is ever visible under a final name unverified, and a mismatch leaves nothing behind.

use std::fs::File;
use std::io::{self, Seek};
use std::path::Path;

use reqwest::header::{ACCEPT_ENCODING, RANGE};
use reqwest::StatusCode;

use super::hash::{self, Expected, Hasher};
use super::http::{protocol, status_failure, ContentRange, Http, Pace};
use super::progress::{Event, Progress};
use super::request::{Download, Downloaded};
use super::retry::Failure;
use super::sink::{self, Sink};
use super::split::{self, Plan};
use super::worker::blocking;
use super::FetchError;
use crate::fsx::{self, Context, Existing, FsError};
use crate::ids::source;

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
    /// while `hasher` hashes it, then check what arrived against what was announced. A body small
    /// enough is held whole and written in one go; a larger one goes through the [`Sink`] threads,
    /// over as many connections as pay (`split.rs`).
    async fn receive(
        &self,
        d: &Download<'_>,
        resp: reqwest::Response,
        (file, hasher): (File, Hasher),
        span: Span,
        progress: &dyn Progress,
    ) -> Result<Downloaded, Failure> {
        if span.total.is_some_and(|t| t - span.start <= WHOLE) {
            return self.receive_whole(d, resp, (file, hasher), span, progress).await;
        }
        let ranges = split::accepts_ranges(&resp);
        let plan = Plan::new(
            span.start,
            span.total,
            ranges && span.total.is_some_and(|t| t - span.start >= 2 * split::MIN_SPLIT),
        );
        let flush = span.total.is_none_or(|t| t - span.start >= 2 * sink::FLUSH_EVERY);
        let sink = Sink::start(file, hasher, span.start, span.start == 0, flush);
        let mode = match self.connections {
            Some(n) if n <= 1 => None,
            Some(n) => Some(split::Mode::Fixed(n.min(split::MAX_CONNECTIONS))),
            None => Some(split::Mode::Adaptive),
        };
        let ran = self.connections_for(d, &plan, resp, &sink, mode, progress).await;
        let sunk = sink.finish().await;
        let renamed = if plan.has_split() {
            // The temp file has holes: it was renamed to `.ranged`; back only when complete.
            let (from, to) = (split::ranged_temp(d.temp), d.temp.to_path_buf());
            let complete = ran.is_ok() && plan.complete() && sunk.written.is_ok();
            blocking(move || {
                if complete {
                    std::fs::rename(&from, &to).ctx("cannot rename", &to)?;
                } else {
                    let _ = std::fs::remove_file(&from);
                }
                Ok::<_, Failure>(())
            })
            .await
        } else {
            Ok(())
        };
        if let Err(e) = sunk.written {
            let (temp, need) = (d.temp.to_path_buf(), span.total.map(|t| t.saturating_sub(span.start)));
            return Err(blocking(move || Err::<(), _>(write_failure(&temp, e, need))).await.unwrap_err());
        }
        if let Err(Failure::Final(e)) = ran {
            if matches!(e, FetchError::Protocol { .. }) {
                let _ = tokio::fs::remove_file(d.temp).await;
            }
            return Err(Failure::Final(e));
        }
        ran?;
        renamed?;
        let (hasher, hashed) =
            sunk.hashed.map_err(|e| Failure::Final(FsError::new("cannot hash", d.temp, e).into()))?;
        let got = if plan.total == u64::MAX { hashed } else { plan.total };
        if hashed != got {
            return Err(Failure::transient(format!("connection closed after {hashed} of {got} bytes")));
        }
        let (sha256, git_sha1) = hasher.finish();
        progress.event(Event::Done { id: d.id.to_string() });
        Ok(Downloaded { sha256, git_sha1, size: got })
    }

    /// The first answer's connection and, when `mode` allows, more (see `split.rs`), until every
    /// byte is claimed or one fails finally. Before a second connection starts, a failure of the
    /// first is the caller's to retry (it resumes from the file); after, each connection retries its
    /// own segment.
    async fn connections_for(
        &self,
        d: &Download<'_>,
        plan: &Plan,
        resp: reqwest::Response,
        sink: &Sink,
        mode: Option<split::Mode>,
        progress: &dyn Progress,
    ) -> Result<(), Failure> {
        use futures_util::stream::{FuturesUnordered, StreamExt};
        let connection = |id: usize, seg: usize, first: Option<reqwest::Response>| {
            let tx = sink.sender();
            async move {
                let mut seg = seg;
                let mut first = first;
                loop {
                    if let Some(resp) = first.take() {
                        match self.pump(d, plan, seg, (resp, 0), &tx, progress).await {
                            Ok(split::Pumped::Done) => {}
                            Ok(split::Pumped::Short) if !plan.has_split() => {
                                let (at, end) = plan.left(seg);
                                return Err(Failure::transient(format!("connection closed after {at} of {end} bytes")));
                            }
                            Err(f @ Failure::Transient { .. }) if !plan.has_split() => return Err(f),
                            Err(Failure::Final(e)) => return Err(Failure::Final(e)),
                            _ => {}
                        }
                    }
                    let fetched =
                        self.policy.run(d.id, &d.url, progress, |_| self.fetch_rest(d, plan, seg, &tx, progress)).await;
                    match fetched {
                        Ok(()) => {}
                        // A helper the server will not serve (an error status, retries spent)
                        // costs nothing when its share goes back to the stream it came from,
                        // whose answer still covers it; no more helpers start. A server that
                        // lies about its ranges is not forgiven.
                        Err(e) if id > 0 && !matches!(e, FetchError::Protocol { .. }) && plan.give_back(seg) => {
                            return Ok(());
                        }
                        Err(e) => return Err(Failure::Final(e)),
                    }
                    if !split::Control::may_continue(plan, id) {
                        return Ok(());
                    }
                    match plan.steal(None) {
                        Some(s) => seg = s,
                        None => return Ok(()),
                    }
                }
            }
        };
        let mut running = FuturesUnordered::new();
        running.push(Box::pin(connection(0, 0, Some(resp))));
        let Some(mode) = mode else {
            return running.next().await.unwrap_or(Ok(()));
        };
        let mut ctl = split::Control::new(mode, plan, std::time::Instant::now());
        let mut tick = tokio::time::interval(ctl.window());
        tick.tick().await;
        let mut next_id = 1;
        loop {
            tokio::select! {
                done = running.next() => match done {
                    None => return Ok(()),
                    Some(Ok(())) => {}
                    Some(Err(e)) => {
                        plan.failed.store(true, std::sync::atomic::Ordering::SeqCst);
                        return Err(e);
                    }
                },
                _ = tick.tick(), if ctl.live() => {
                    let (add, cap) = ctl.tick(plan, running.len(), next_id, std::time::Instant::now());
                    for _ in 0..add {
                        let first_split = !plan.has_split();
                        let Some(seg) = plan.steal(cap) else { break };
                        if first_split {
                            // Holes from now on: never under the resumable name.
                            let (from, to) = (d.temp.to_path_buf(), split::ranged_temp(d.temp));
                            blocking(move || std::fs::rename(&from, &to).ctx("cannot rename", &from).map_err(Failure::from)).await?;
                        }
                        running.push(Box::pin(connection(next_id, seg, None)));
                        next_id += 1;
                    }
                }
            }
        }
    }

    /// A body of at most [`WHOLE`] bytes: held whole, then hashed, written and synced in one
    /// blocking call (no thread per stage for a small file). What arrived before a cut is written
    /// too, so the next attempt resumes after it.
    async fn receive_whole(
        &self,
        d: &Download<'_>,
        resp: reqwest::Response,
        (file, mut hasher): (File, Hasher),
        span: Span,
        progress: &dyn Progress,
    ) -> Result<Downloaded, Failure> {
        let total = span.total.unwrap_or(0);
        let (body, cut) = match self.read_whole(d, resp, total - span.start).await {
            Ok(got) => got,
            Err(f) => {
                let _ = tokio::fs::remove_file(d.temp).await;
                return Err(f);
            }
        };
        progress.event(Event::Bytes { id: d.id.to_string(), n: body.len() as u64 });
        let (start, temp) = (span.start, d.temp.to_path_buf());
        let need = Some(total - span.start);
        let hasher = blocking(move || {
            hasher.update(&body);
            let wrote = (|| {
                if start == 0 {
                    file.set_len(0)?;
                }
                sink::write_at(&file, &body, start)?;
                file.sync_data()
            })();
            wrote.map_err(|e| write_failure(&temp, e, need))?;
            Ok::<_, Failure>((hasher, start + body.len() as u64))
        })
        .await;
        let (hasher, got) = hasher?;
        if let Some(why) = cut {
            return Err(Failure::transient(why));
        }
        if got < total {
            return Err(Failure::transient(format!("connection closed after {got} of {total} bytes")));
        }
        let (sha256, git_sha1) = hasher.finish();
        progress.event(Event::Done { id: d.id.to_string() });
        Ok(Downloaded { sha256, git_sha1, size: got })
    }
}

impl Http {
    /// A small file of known size (at most [`WHOLE`]) into memory, retrying transient failures
    /// from its start: no temp file (`d.temp` is not touched). Its bytes are had only through
    /// [`Unverified::verify`], which the caller runs where hashing does not hold up the
    /// connections (a blocking thread). For many small files whose writing the caller does.
    pub async fn fetch_whole(&self, d: &Download<'_>, progress: &dyn Progress) -> Result<Unverified, FetchError> {
        source::check_scheme(&d.url, self.allow_http)?;
        let total = d.size.unwrap_or(WHOLE).min(WHOLE);
        self.policy
            .run(d.id, &d.url, progress, |_| async {
                let resp = self
                    .get_following(&d.url, d.credential, |u| {
                        self.client.get(u.clone()).header(ACCEPT_ENCODING, "identity")
                    })
                    .await?;
                let Answer::Body(span) = answer(d, &resp, 0)? else {
                    return Err(Failure::transient("the server answered a range that was not asked"));
                };
                progress.event(Event::Start { id: d.id.to_string(), total: span.total, resumed_from: 0 });
                let (body, cut) = self.read_whole(d, resp, total).await?;
                if let Some(why) = cut {
                    return Err(Failure::transient(why));
                }
                if span.total.is_some_and(|t| (body.len() as u64) < t) {
                    return Err(Failure::transient(format!("connection closed after {} of {total} bytes", body.len())));
                }
                progress.event(Event::Done { id: d.id.to_string() });
                Ok(Unverified { body, expected: d.expected.clone(), what: d.id.to_string() })
            })
            .await
    }

    /// Read a body of at most `total` bytes into memory; one byte more is a final error. Returns
    /// what arrived and, if the body was cut, why.
    async fn read_whole(
        &self,
        d: &Download<'_>,
        resp: reqwest::Response,
        total: u64,
    ) -> Result<(Vec<u8>, Option<String>), Failure> {
        let mut body = Vec::with_capacity(total as usize);
        let mut stream = resp.bytes_stream();
        let mut pace = Pace::start();
        loop {
            match self.next_chunk(&mut stream, &mut pace).await {
                Err(why) => return Ok((body, Some(why))),
                Ok(None) => return Ok((body, None)),
                Ok(Some(chunk)) => {
                    if (body.len() + chunk.len()) as u64 > total {
                        return Err(Failure::Final(protocol(
                            &d.url,
                            &format!("sent more than the {total} bytes announced; stopped reading"),
                        )));
                    }
                    body.extend_from_slice(&chunk);
                }
            }
        }
    }
}

/// A whole body as it arrived ([`Http::fetch_whole`]), not yet checked against the digest its
/// download asked for, which it carries: no other digest can be checked in its place.
#[derive(Debug)]
pub struct Unverified {
    body: Vec<u8>,
    expected: Expected,
    /// The download's id, for the error.
    what: String,
}

impl Unverified {
    /// The bytes, if they hash to what the download expected (else
    /// [`FetchError::ChecksumMismatch`] naming it). Hashes: blocking work.
    pub fn verify(self) -> Result<(Vec<u8>, Downloaded), FetchError> {
        let mut h = Hasher::new(&self.expected, Some(self.body.len() as u64));
        h.update(&self.body);
        let (sha256, git_sha1) = h.finish();
        let got = Downloaded { sha256, git_sha1, size: self.body.len() as u64 };
        super::request::check_digest(&self.expected, &got, &self.what)?;
        Ok((self.body, got))
    }
}

/// A body up to this size is held whole and written in one go (and a listed file up to it takes
/// the short way of small files, `store/small.rs`).
pub const WHOLE: u64 = 2 << 20;

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
