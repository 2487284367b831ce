//! Large files in parallel ranges.
//!
//! The file is cut into pieces (8 MiB); `connections` workers take the next piece in order, ask
//! `Range: bytes=A-B`, and write what arrives at its offset (`pwrite`), so memory stays bounded by
//! one buffer per worker. A hasher thread follows the *contiguous prefix*: it waits for the next
//! piece to complete, reads it back (from the page cache) and hashes it, so the digest is ready
//! moments after the last byte lands. A piece that fails transiently is retried alone.
//!
//! Ranged transfers write to `<name>.incomplete.ranged`, not to the resumable `<name>.incomplete`:
//! a file with holes must never be taken for a contiguous prefix. A leftover `.ranged` file from a
//! killed run is discarded, and the first answer decides the mode: a `206` goes on in ranges; a
//! server that ignores ranges (`200`) falls back to the single stream.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex};

use reqwest::header::{ACCEPT_ENCODING, RANGE};
use reqwest::StatusCode;

use super::hash::Hasher;
use super::http::{status_failure, ContentRange, Failure, Http, Pace};
use super::progress::{Event, Progress};
use super::request::{Download, Downloaded};
use super::FetchError;
use crate::fsx::{Context, FsError};

pub const PIECE: u64 = 8 * 1024 * 1024;

/// Which pieces are done, for the hasher to follow.
struct Done {
    pieces: Mutex<Vec<bool>>,
    ready: Condvar,
    failed: std::sync::atomic::AtomicBool,
}

pub fn ranged_temp(temp: &Path) -> PathBuf {
    let mut name = temp.file_name().unwrap_or_default().to_os_string();
    name.push(".ranged");
    temp.with_file_name(name)
}

enum PieceError {
    /// The server does not do ranges (the first answer was a 200).
    NoRanges,
    Transient(String, Option<std::time::Duration>),
    Final(FetchError),
}

impl From<Failure> for PieceError {
    fn from(f: Failure) -> PieceError {
        match f {
            Failure::Transient { why, retry_after } => PieceError::Transient(why, retry_after),
            Failure::Final(e) => PieceError::Final(e),
        }
    }
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
    let file = {
        let p = path.clone();
        tokio::task::spawn_blocking(move || -> Result<File, FsError> {
            crate::fsx::open_temp(&p, true).ctx("cannot create", &p)
        })
        .await
        .map_err(|e| FetchError::Protocol { url: d.url.to_string(), why: e.to_string() })??
    };
    let file = Arc::new(file);
    let pieces = total.div_ceil(PIECE) as usize;
    let done = Arc::new(Done { pieces: Mutex::new(vec![false; pieces]), ready: Condvar::new(), failed: false.into() });
    let next = AtomicUsize::new(0);
    progress.event(Event::Start { id: d.id.to_string(), total: Some(total), resumed_from: 0 });

    let hasher = {
        let (file, done, mut h) = (file.clone(), done.clone(), Hasher::new(d.expected, d.size));
        tokio::task::spawn_blocking(move || hash_prefix(&file, &done, total, &mut h).map(|()| h))
    };
    let worker = || async {
        loop {
            let i = next.fetch_add(1, Ordering::SeqCst);
            if i >= pieces || done.failed.load(Ordering::SeqCst) {
                return Ok::<(), PieceError>(());
            }
            let (start, end) = (i as u64 * PIECE, ((i as u64 + 1) * PIECE).min(total) - 1);
            let mut tries = 0;
            loop {
                tries += 1;
                match piece(http, d, &file, start, end, i == 0 && tries == 1, progress).await {
                    Ok(()) => break,
                    Err(PieceError::Transient(why, ra)) if tries <= http.policy.max_retries => {
                        let wait = http.policy.wait(tries, ra);
                        progress.event(Event::Retry {
                            id: d.id.to_string(),
                            attempt: tries,
                            wait_ms: wait.as_millis() as u64,
                            reason: why,
                        });
                        tokio::time::sleep(wait).await;
                    }
                    Err(PieceError::Transient(why, _)) => {
                        return Err(PieceError::Final(FetchError::GaveUp {
                            url: d.url.to_string(),
                            attempts: tries,
                            last: why,
                        }))
                    }
                    Err(e) => return Err(e),
                }
            }
            let mut p = done.pieces.lock().map_err(|_| PieceError::Transient("poisoned".into(), None))?;
            p[i] = true;
            done.ready.notify_all();
        }
    };
    // The first worker to fail stops the others before their next piece: a final error (a lying
    // `Content-Range`, a refused redirect) must not cost the rest of a large file.
    let stopping = || async {
        let r = worker().await;
        if r.is_err() {
            done.failed.store(true, Ordering::SeqCst);
            done.ready.notify_all();
        }
        r
    };
    let results = futures_util::future::join_all((0..connections.max(1)).map(|_| stopping())).await;
    let failure = results.into_iter().find_map(Result::err);
    if failure.is_some() {
        done.failed.store(true, Ordering::SeqCst);
        done.ready.notify_all();
    }
    let hashed = hasher.await.map_err(|e| FetchError::Protocol { url: d.url.to_string(), why: e.to_string() })?;
    match failure {
        Some(PieceError::NoRanges) => {
            let _ = tokio::fs::remove_file(&path).await;
            return Ok(None);
        }
        Some(PieceError::Final(e)) => {
            let _ = tokio::fs::remove_file(&path).await;
            return Err(e);
        }
        Some(PieceError::Transient(why, _)) => {
            let _ = tokio::fs::remove_file(&path).await;
            return Err(FetchError::GaveUp { url: d.url.to_string(), attempts: 1, last: why });
        }
        None => {}
    }
    let h = hashed.map_err(|e| FetchError::Fs(FsError::new("cannot hash", &path, e)))?;
    let (f, from, to) = (file.clone(), path.clone(), d.temp.to_path_buf());
    tokio::task::spawn_blocking(move || -> Result<(), FsError> {
        f.sync_all().ctx("cannot sync", &from)?;
        std::fs::rename(&from, &to).ctx("cannot rename", &to)
    })
    .await
    .map_err(|e| FetchError::Protocol { url: d.url.to_string(), why: e.to_string() })??;
    let (sha256, git_sha1) = h.finish();
    progress.event(Event::Done { id: d.id.to_string() });
    Ok(Some(Downloaded { sha256, git_sha1, size: total }))
}

/// Fetch bytes `start..=end` into the file at their offset.
async fn piece(
    http: &Http,
    d: &Download<'_>,
    file: &Arc<File>,
    start: u64,
    end: u64,
    first: bool,
    progress: &dyn Progress,
) -> Result<(), PieceError> {
    let resp = http
        .get_following(&d.url, d.credential, |u| {
            http.client.get(u.clone()).header(ACCEPT_ENCODING, "identity").header(RANGE, format!("bytes={start}-{end}"))
        })
        .await
        .map_err(PieceError::from)?;
    match resp.status() {
        StatusCode::PARTIAL_CONTENT => {}
        StatusCode::OK if first => return Err(PieceError::NoRanges),
        StatusCode::OK => return Err(PieceError::Transient("the server stopped honouring ranges".into(), None)),
        _ => return Err(status_failure(&d.url, &resp).into()),
    }
    // Exactly the range asked, of a file of the announced size; anything else is a lie about
    // which bytes these are, and they would land at the wrong offset.
    let want = ContentRange { start, end, total: d.size };
    if ContentRange::of(&resp) != Some(want) || resp.content_length().is_some_and(|n| n != want.bytes()) {
        let got = resp.headers().get(reqwest::header::CONTENT_RANGE).and_then(|v| v.to_str().ok()).unwrap_or("none");
        return Err(PieceError::Final(FetchError::Protocol {
            url: d.url.to_string(),
            why: format!(
                "asked for bytes {start}-{end}/{}, the answer's Content-Range is `{got}`",
                d.size.unwrap_or(0)
            ),
        }));
    }
    let mut stream = resp.bytes_stream();
    let mut pace = Pace::start();
    let mut at = start;
    loop {
        let chunk =
            match http.next_chunk(&mut stream, &mut pace).await.map_err(|why| PieceError::Transient(why, None))? {
                Some(c) => c,
                None => break,
            };
        if at + chunk.len() as u64 > end + 1 {
            return Err(PieceError::Final(FetchError::Protocol {
                url: d.url.to_string(),
                why: "more bytes than the range asked".into(),
            }));
        }
        let (f, off, n) = (file.clone(), at, chunk.len() as u64);
        tokio::task::spawn_blocking(move || write_at(&f, &chunk, off))
            .await
            .map_err(|e| PieceError::Transient(e.to_string(), None))?
            .map_err(|e| {
                if crate::fsx::is_disk_full(&e) {
                    PieceError::Final(FetchError::DiskFull {
                        path: d.temp.to_path_buf(),
                        need: end + 1 - at,
                        have: crate::fsx::available(d.temp).unwrap_or(0),
                    })
                } else {
                    PieceError::Final(FsError::new("cannot write", d.temp, e).into())
                }
            })?;
        at += n;
        progress.event(Event::Bytes { id: d.id.to_string(), n });
    }
    if at != end + 1 {
        // Cut short: the whole piece is asked for again.
        return Err(PieceError::Transient(format!("range {start}-{end} closed after {} bytes", at - start), None));
    }
    Ok(())
}

#[cfg(unix)]
fn write_at(f: &File, buf: &[u8], offset: u64) -> std::io::Result<()> {
    std::os::unix::fs::FileExt::write_all_at(f, buf, offset)
}

#[cfg(not(unix))]
fn write_at(f: &File, buf: &[u8], offset: u64) -> std::io::Result<()> {
    let mut written = 0;
    while written < buf.len() {
        written += std::os::windows::fs::FileExt::seek_write(f, &buf[written..], offset + written as u64)?;
    }
    Ok(())
}

#[cfg(unix)]
fn read_at(f: &File, buf: &mut [u8], offset: u64) -> std::io::Result<()> {
    std::os::unix::fs::FileExt::read_exact_at(f, buf, offset)
}

#[cfg(not(unix))]
fn read_at(f: &File, buf: &mut [u8], offset: u64) -> std::io::Result<()> {
    let mut read = 0;
    while read < buf.len() {
        read += std::os::windows::fs::FileExt::seek_read(f, &mut buf[read..], offset + read as u64)?;
    }
    Ok(())
}

/// Hash pieces in order as they complete (reading them back from the file).
fn hash_prefix(file: &File, done: &Done, total: u64, h: &mut Hasher) -> std::io::Result<()> {
    let pieces = total.div_ceil(PIECE) as usize;
    let mut buf = vec![0u8; 1 << 20];
    for i in 0..pieces {
        {
            let mut p = done.pieces.lock().map_err(|_| std::io::Error::other("poisoned"))?;
            while !p[i] {
                if done.failed.load(Ordering::SeqCst) {
                    return Ok(());
                }
                p = done.ready.wait(p).map_err(|_| std::io::Error::other("poisoned"))?;
            }
        }
        let (start, end) = (i as u64 * PIECE, ((i as u64 + 1) * PIECE).min(total));
        let mut at = start;
        while at < end {
            let n = ((end - at) as usize).min(buf.len());
            read_at(file, &mut buf[..n], at)?;
            h.update(&buf[..n]);
            at += n as u64;
        }
    }
    Ok(())
}
