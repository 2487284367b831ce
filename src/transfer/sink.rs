//! Where a transfer's bytes go: a writer thread, a hasher thread and a flusher thread, fed
//! `(offset, bytes)` chunks by any number of connections.
//!
//! - **Writer**: writes each chunk at its offset (`pwrite`), then hands it on to the hasher, so the
//!   hasher only ever sees bytes that are in the file. Every [`FLUSH_EVERY`] bytes it wakes the
//!   flusher.
//! - **Hasher**: hashes the file in order from where the transfer starts. A chunk at the hashed
//!   frontier is hashed from memory (no copy: the same reference-counted buffer the writer wrote);
//!   a chunk ahead of it (another connection's range) is only noted, and read back from the file
//!   (the page cache) once the frontier reaches it. One stream is hashed without reading anything
//!   back; the digest is ready moments after the last byte lands.
//! - **Flusher**: `fdatasync`s the file while the transfer runs, so the disk writes the bytes as they
//!   arrive and the final sync (before the file may be renamed into place) waits only for the tail,
//!   not for the whole file.
//!
//! Memory is bounded by the two channels ([`QUEUE`] chunks each), whatever the size. Each thread
//! runs on tokio's blocking pool; none is started for a body small enough to be held whole (see
//! `stream.rs`).

use std::collections::BTreeMap;
use std::fs::File;
use std::io;
use std::sync::{mpsc, Arc};

use bytes::Bytes;

use super::hash::Hasher;

/// Chunks in flight to the writer, and from the writer to the hasher.
pub const QUEUE: usize = 8;

/// Bytes written between two background syncs.
pub const FLUSH_EVERY: u64 = 64 << 20;

/// The size of one read-back while hashing.
const READ_BACK: usize = 1 << 20;

/// A chunk of the file: `bytes` belong at offset `at`.
pub type Chunk = (u64, Bytes);

/// The three threads of one transfer.
pub struct Sink {
    tx: tokio::sync::mpsc::Sender<Chunk>,
    writer: tokio::task::JoinHandle<io::Result<u64>>,
    hasher: tokio::task::JoinHandle<io::Result<(Hasher, u64)>>,
}

/// What the threads did.
pub struct Sunk {
    /// Bytes written (by every connection), or why writing stopped.
    pub written: io::Result<u64>,
    /// The hasher and the end of the contiguous hashed prefix, or why reading back failed.
    pub hashed: io::Result<(Hasher, u64)>,
}

impl Sink {
    /// Start the threads on `file`; `hasher` has hashed the file's first `from` bytes (a resumed
    /// prefix, else 0). With `truncate`, the file is emptied first; with `flush`, a flusher syncs
    /// it as it grows (for a large file).
    pub fn start(file: File, hasher: Hasher, from: u64, truncate: bool, flush: bool) -> Sink {
        let (tx, mut rx) = tokio::sync::mpsc::channel::<Chunk>(QUEUE);
        let (htx, hrx) = mpsc::sync_channel::<Chunk>(QUEUE);
        let file = Arc::new(file);
        let hasher = {
            let file = file.clone();
            tokio::task::spawn_blocking(move || hash_in_order(&file, hasher, from, &hrx))
        };
        let writer = tokio::task::spawn_blocking(move || {
            if truncate {
                file.set_len(0)?;
            }
            let (ftx, frx) = mpsc::channel::<()>();
            let (done_tx, done_rx) = mpsc::channel::<io::Result<()>>();
            if flush {
                let file = file.clone();
                tokio::task::spawn_blocking(move || {
                    let synced = (|| {
                        while frx.recv().is_ok() {
                            while frx.try_recv().is_ok() {}
                            file.sync_data()?;
                        }
                        Ok(())
                    })();
                    let _ = done_tx.send(synced);
                });
            } else {
                drop(done_tx);
            }
            let mut written = 0u64;
            let mut since_flush = 0u64;
            let result = (|| {
                while let Some((at, bytes)) = rx.blocking_recv() {
                    write_at(&file, &bytes, at)?;
                    written += bytes.len() as u64;
                    since_flush += bytes.len() as u64;
                    if since_flush >= FLUSH_EVERY {
                        since_flush = 0;
                        let _ = ftx.send(());
                    }
                    if htx.send((at, bytes)).is_err() {
                        break; // the hasher stopped; its error is reported
                    }
                }
                Ok::<_, io::Error>(())
            })();
            drop(ftx);
            drop(htx);
            // No flusher (or one that stopped): nothing to wait for.
            let flushed = done_rx.recv().unwrap_or(Ok(()));
            result?;
            flushed?;
            file.sync_data()?;
            Ok(written)
        });
        Sink { tx, writer, hasher }
    }

    /// A sender for a connection: `(offset, bytes)`; a send fails when the writer stopped (its
    /// error comes from [`Sink::finish`]).
    pub fn sender(&self) -> tokio::sync::mpsc::Sender<Chunk> {
        self.tx.clone()
    }

    /// Wait until every chunk sent is written, synced and hashed (drop every [`Sink::sender`]
    /// first).
    pub async fn finish(self) -> Sunk {
        drop(self.tx);
        let joined = |e: tokio::task::JoinError| io::Error::other(format!("a transfer thread stopped: {e}"));
        let written = self.writer.await.map_err(joined).and_then(|r| r);
        let hashed = self.hasher.await.map_err(joined).and_then(|r| r);
        Sunk { written, hashed }
    }
}

/// The hasher thread: hash from `from` on, in order (see the module doc). Returns the hasher and
/// where the contiguous hashed prefix ends.
fn hash_in_order(file: &File, mut h: Hasher, from: u64, rx: &mpsc::Receiver<Chunk>) -> io::Result<(Hasher, u64)> {
    let mut at = from;
    // Written but not hashed yet: start → end, coalesced.
    let mut ahead: BTreeMap<u64, u64> = BTreeMap::new();
    let mut buf = Vec::new();
    while let Ok((off, bytes)) = rx.recv() {
        let end = off + bytes.len() as u64;
        if off <= at && end > at {
            h.update(&bytes[(at - off) as usize..]);
            at = end;
        } else if off > at {
            note(&mut ahead, off, end);
        }
        // Catch up with what other connections wrote, reading it back.
        while let Some((&start, &stop)) = ahead.first_key_value() {
            if start > at {
                break;
            }
            ahead.pop_first();
            if stop <= at {
                continue;
            }
            if buf.is_empty() {
                buf = vec![0u8; READ_BACK];
            }
            while at < stop {
                let n = ((stop - at) as usize).min(READ_BACK);
                let got = read_at(file, &mut buf[..n], at)?;
                if got == 0 {
                    return Err(io::Error::new(io::ErrorKind::UnexpectedEof, "the file is shorter than written"));
                }
                h.update(&buf[..got]);
                at += got as u64;
            }
        }
    }
    Ok((h, at))
}

/// Add `[start, end)` to the ranges, merging with its neighbours.
fn note(ahead: &mut BTreeMap<u64, u64>, mut start: u64, mut end: u64) {
    if let Some((&s, &e)) = ahead.range(..=start).next_back() {
        if e >= start {
            start = s;
            end = end.max(e);
            ahead.remove(&s);
        }
    }
    while let Some((&s, &e)) = ahead.range(start..).next() {
        if s > end {
            break;
        }
        end = end.max(e);
        ahead.remove(&s);
    }
    ahead.insert(start, end);
}

/// Write all of `buf` at `offset`.
#[cfg(unix)]
pub fn write_at(f: &File, buf: &[u8], offset: u64) -> io::Result<()> {
    std::os::unix::fs::FileExt::write_all_at(f, buf, offset)
}

/// Write all of `buf` at `offset`.
#[cfg(not(unix))]
pub fn write_at(f: &File, buf: &[u8], offset: u64) -> io::Result<()> {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::transfer::hash::{sha256_hex, Expected};

    #[test]
    fn ranges_coalesce() {
        let mut m = BTreeMap::new();
        note(&mut m, 10, 20);
        note(&mut m, 30, 40);
        note(&mut m, 20, 30);
        assert_eq!(m.into_iter().collect::<Vec<_>>(), vec![(10, 40)]);
        let mut m = BTreeMap::new();
        note(&mut m, 50, 60);
        note(&mut m, 0, 5);
        note(&mut m, 4, 55);
        assert_eq!(m.into_iter().collect::<Vec<_>>(), vec![(0, 60)]);
    }

    /// Chunks out of order, from several "connections", hash to the digest of the whole file.
    #[test]
    fn chunks_in_any_order_hash_to_the_files_digest() {
        let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().unwrap();
        let data: Vec<u8> = (0..3_000_003u32).map(|i| (i * 7 + i / 13) as u8).collect();
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        let file = std::fs::OpenOptions::new().read(true).write(true).create(true).truncate(true).open(&path).unwrap();
        let sunk = rt.block_on(async {
            let sink = Sink::start(file, Hasher::new(&Expected::Nothing, None), 0, true, true);
            let tx = sink.sender();
            // Second half first, in 100 KB chunks, then the first half.
            let half = data.len() / 2;
            for (lo, hi) in [(half, data.len()), (0, half)] {
                let mut at = lo;
                while at < hi {
                    let end = (at + 100_000).min(hi);
                    assert!(tx.send((at as u64, Bytes::copy_from_slice(&data[at..end]))).await.is_ok());
                    at = end;
                }
            }
            drop(tx);
            sink.finish().await
        });
        assert_eq!(sunk.written.unwrap(), data.len() as u64);
        let (h, at) = sunk.hashed.unwrap();
        assert_eq!(at, data.len() as u64);
        assert_eq!(h.finish().0, sha256_hex(&data));
        assert_eq!(std::fs::read(&path).unwrap(), data);
    }
}
