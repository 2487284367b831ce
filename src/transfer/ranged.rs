//! Large files in parallel ranges.
//!
//! The file is cut into pieces (8 MiB); `connections` workers take the next piece in order, ask
//! `Range: bytes=A-B`, and write what arrives at its offset (`pwrite`), so memory stays bounded by
//! one buffer per worker. A hasher thread follows the *contiguous prefix*: it waits for the next
//! piece to complete, reads it back (from the page cache) and hashes it, so the digest is ready
//! moments after the last byte lands. A piece that fails transiently is retried alone, by the one
//! retry loop ([`RetryPolicy::run`](super::retry::RetryPolicy::run)); a final failure or a piece
//! that ran out of retries stops the other workers before their next piece.
//!
//! Ranged transfers write to `<name>.incomplete.ranged`, not to the resumable `<name>.incomplete`:
//! a file with holes must never be taken for a contiguous prefix. A leftover `.ranged` file from a
//! killed run is discarded, and the first answer decides the mode: a `206` goes on in ranges; a
//! server that ignores ranges (`200`) falls back to the single stream.

use std::fs::File;
use std::io::{self, Read};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex};

use reqwest::header::{ACCEPT_ENCODING, RANGE};
use reqwest::StatusCode;

use super::hash::{self, Hasher};
use super::http::{protocol, status_failure, ContentRange, Http, Pace};
use super::progress::{Event, Progress};
use super::request::{Download, Downloaded};
use super::retry::Failure;
use super::stream::write_failure;
use super::worker::blocking;
use super::FetchError;
use crate::fsx::{Context, Existing, FsError};

/// The size of one range (the last may be shorter).
pub const PIECE: u64 = 8 * 1024 * 1024;

/// Which pieces are done, for the hasher to follow.
struct Done {
    pieces: Mutex<Vec<bool>>,
    ready: Condvar,
    failed: AtomicBool,
}

impl Done {
    /// Mark piece `i` written and wake the hasher.
    fn mark(&self, i: usize) -> io::Result<()> {
        self.pieces.lock().map_err(|_| io::Error::other("a worker panicked"))?[i] = true;
        self.ready.notify_all();
        Ok(())
    }

    /// Stop the other workers before their next piece, and the hasher.
    fn fail(&self) {
        self.failed.store(true, Ordering::SeqCst);
        self.ready.notify_all();
    }
}

/// `<temp>.ranged`: the file a ranged transfer writes (it has holes until the end).
pub fn ranged_temp(temp: &Path) -> PathBuf {
    let mut name = temp.file_name().unwrap_or_default().to_os_string();
    name.push(".ranged");
    temp.with_file_name(name)
}

/// What the answer for one piece said.
enum Piece {
    Written,
    /// The server does not do ranges (the first answer was a 200).
    NoRanges,
}

/// Why the workers stopped before every piece was in.
enum Stop {
    NoRanges,
    Failed(FetchError),
}

/// Download `d` (whose size is known) over `connections` connections. `Ok(None)`: the server does
/// not do ranges; the caller uses the single stream.
pub async fn download(
    http: &Http,
    d: &Download<'_>,
    connections: usize,
    progress: &dyn Progress,
) -> Result<Option<Downloaded>, FetchError> {
    let total = d.size.unwrap_or(0);
    let path = ranged_temp(d.temp);
    let p = path.clone();
    let file = blocking(move || {
        crate::fsx::open_private(&p, Existing::Truncate).ctx("cannot create", &p).map_err(FetchError::from)
    })
    .await?;
    let file = Arc::new(file);
    let pieces = total.div_ceil(PIECE) as usize;
    let done = Arc::new(Done { pieces: Mutex::new(vec![false; pieces]), ready: Condvar::new(), failed: false.into() });
    progress.event(Event::Start { id: d.id.to_string(), total: Some(total), resumed_from: 0 });

    let hasher = {
        let (file, done, mut h) = (file.clone(), done.clone(), Hasher::new(d.expected, d.size));
        tokio::task::spawn_blocking(move || {
            let n = hash::read_into(&mut InOrder { file: &file, done: &done, at: 0 }, &mut h, total)?;
            if n == total {
                Ok(h)
            } else {
                Err(io::Error::new(io::ErrorKind::UnexpectedEof, format!("hashed {n} of {total} bytes")))
            }
        })
    };
    let stopped = workers(http, d, &file, &done, connections, progress).await;
    if stopped.is_some() {
        done.fail();
    }
    let hashed = hasher.await.map_err(|e| protocol(&d.url, &e.to_string()))?;
    match stopped {
        Some(Stop::NoRanges) => {
            let _ = tokio::fs::remove_file(&path).await;
            return Ok(None);
        }
        Some(Stop::Failed(e)) => {
            let _ = tokio::fs::remove_file(&path).await;
            return Err(e);
        }
        None => {}
    }
    let h = hashed.map_err(|e| FetchError::Fs(FsError::new("cannot hash", &path, e)))?;
    let (f, from, to) = (file.clone(), path.clone(), d.temp.to_path_buf());
    blocking(move || -> Result<(), FetchError> {
        f.sync_all().ctx("cannot sync", &from)?;
        Ok(std::fs::rename(&from, &to).ctx("cannot rename", &to)?)
    })
    .await?;
    let (sha256, git_sha1) = h.finish();
    progress.event(Event::Done { id: d.id.to_string() });
    Ok(Some(Downloaded { sha256, git_sha1, size: total }))
}

/// Run `connections` workers, each taking the next piece until none is left; each piece goes
/// through the retry loop. The first worker to stop stops the others before their next piece: a
/// final error (a lying `Content-Range`, a refused redirect) must not cost the rest of a large
/// file. Returns why they stopped, or `None` when every piece is in.
async fn workers(
    http: &Http,
    d: &Download<'_>,
    file: &Arc<File>,
    done: &Done,
    connections: usize,
    progress: &dyn Progress,
) -> Option<Stop> {
    let total = d.size.unwrap_or(0);
    let pieces = total.div_ceil(PIECE) as usize;
    let next = AtomicUsize::new(0);
    let worker = || async {
        let r = async {
            loop {
                let i = next.fetch_add(1, Ordering::SeqCst);
                if i >= pieces || done.failed.load(Ordering::SeqCst) {
                    return Ok(());
                }
                let (start, end) = (i as u64 * PIECE, ((i as u64 + 1) * PIECE).min(total) - 1);
                let got = http
                    .policy
                    .run(d.id, &d.url, progress, |attempt| {
                        piece(http, d, file, (start, end), i == 0 && attempt == 1, progress)
                    })
                    .await
                    .map_err(Stop::Failed)?;
                if let Piece::NoRanges = got {
                    return Err(Stop::NoRanges);
                }
                done.mark(i).map_err(|e| Stop::Failed(protocol(&d.url, &e.to_string())))?;
            }
        }
        .await;
        if r.is_err() {
            done.fail();
        }
        r
    };
    let results = futures_util::future::join_all((0..connections.max(1)).map(|_| worker())).await;
    results.into_iter().find_map(Result::err)
}

/// Fetch bytes `start..=end` into the file at their offset.
async fn piece(
    http: &Http,
    d: &Download<'_>,
    file: &Arc<File>,
    (start, end): (u64, u64),
    first: bool,
    progress: &dyn Progress,
) -> Result<Piece, Failure> {
    let resp = http
        .get_following(&d.url, d.credential, |u| {
            http.client.get(u.clone()).header(ACCEPT_ENCODING, "identity").header(RANGE, format!("bytes={start}-{end}"))
        })
        .await?;
    match resp.status() {
        StatusCode::PARTIAL_CONTENT => {}
        StatusCode::OK if first => return Ok(Piece::NoRanges),
        StatusCode::OK => return Err(Failure::transient("the server stopped honouring ranges")),
        _ => return Err(status_failure(&d.url, &resp, d.asked)),
    }
    check_range(d, &resp, start, end)?;
    let mut stream = resp.bytes_stream();
    let mut pace = Pace::start();
    let mut at = start;
    loop {
        let Some(chunk) = http.next_chunk(&mut stream, &mut pace).await.map_err(Failure::transient)? else {
            break;
        };
        if at + chunk.len() as u64 > end + 1 {
            return Err(Failure::Final(protocol(&d.url, "more bytes than the range asked")));
        }
        let (f, off, n) = (file.clone(), at, chunk.len() as u64);
        let (temp, need) = (d.temp.to_path_buf(), end + 1 - at);
        tokio::task::spawn_blocking(move || write_at(&f, &chunk, off).map_err(|e| write_failure(&temp, e, Some(need))))
            .await
            .map_err(|e| Failure::transient(e.to_string()))??;
        at += n;
        progress.event(Event::Bytes { id: d.id.to_string(), n });
    }
    if at != end + 1 {
        // Cut short: the whole piece is asked for again.
        return Err(Failure::transient(format!("range {start}-{end} closed after {} bytes", at - start)));
    }
    Ok(Piece::Written)
}

/// Exactly the range asked, of a file of the announced size; anything else is a lie about which
/// bytes these are, and they would land at the wrong offset.
fn check_range(d: &Download<'_>, resp: &reqwest::Response, start: u64, end: u64) -> Result<(), Failure> {
    let want = ContentRange { start, end, total: d.size };
    if ContentRange::of(resp) == Some(want) && resp.content_length().is_none_or(|n| n == want.bytes()) {
        return Ok(());
    }
    let got = resp.headers().get(reqwest::header::CONTENT_RANGE).and_then(|v| v.to_str().ok()).unwrap_or("none");
    let total = d.size.unwrap_or(0);
    let why = format!("asked for bytes {start}-{end}/{total}, the answer's Content-Range is `{got}`");
    Err(Failure::Final(protocol(&d.url, &why)))
}

#[cfg(unix)]
fn write_at(f: &File, buf: &[u8], offset: u64) -> io::Result<()> {
    std::os::unix::fs::FileExt::write_all_at(f, buf, offset)
}

#[cfg(not(unix))]
fn write_at(f: &File, buf: &[u8], offset: u64) -> io::Result<()> {
    let mut written = 0;
    while written < buf.len() {
        written += std::os::windows::fs::FileExt::seek_write(f, &buf[written..], offset + written as u64)?;
    }
    Ok(())
}

#[cfg(unix)]
fn read_at(f: &File, buf: &mut [u8], offset: u64) -> io::Result<usize> {
    std::os::unix::fs::FileExt::read_at(f, buf, offset)
}

#[cfg(not(unix))]
fn read_at(f: &File, buf: &mut [u8], offset: u64) -> io::Result<usize> {
    std::os::windows::fs::FileExt::seek_read(f, buf, offset)
}

/// The file read from the start, in order, each byte only once its piece is written (positional
/// reads: the workers' writes do not share a cursor with it). Ends early (`Ok(0)`) when the
/// transfer failed.
struct InOrder<'a> {
    file: &'a File,
    done: &'a Done,
    at: u64,
}

impl Read for InOrder<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let i = (self.at / PIECE) as usize;
        {
            let mut p = self.done.pieces.lock().map_err(|_| io::Error::other("a worker panicked"))?;
            if i >= p.len() {
                return Ok(0);
            }
            while !p[i] {
                if self.done.failed.load(Ordering::SeqCst) {
                    return Ok(0);
                }
                p = self.done.ready.wait(p).map_err(|_| io::Error::other("a worker panicked"))?;
            }
        }
        let left_in_piece = (i as u64 + 1) * PIECE - self.at;
        let n = buf.len().min(left_in_piece as usize);
        let n = read_at(self.file, &mut buf[..n], self.at)?;
        self.at += n as u64;
        Ok(n)
    }
}
