//! A TCP proxy on loopback in front of a real server (the S3 fixture), that counts what passes and
//! can cut connections: the tests see how many connections a transfer used at once, how many
//! ranged requests it made and how many bytes came down, without trusting wharf's own account.
//!
//! It forwards bytes untouched (a SigV4 signature covers the `Host` the client sent, which is the
//! proxy's: the server checks it against the same header). Requests are seen only as the bytes a
//! client sends; a `range: bytes=` line (any case) is one ranged request.
#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;

#[derive(Default)]
struct Counters {
    connections: AtomicUsize,
    open: AtomicUsize,
    max_open: AtomicUsize,
    ranges: AtomicUsize,
    /// Bytes from the client to the server, and back.
    up: AtomicU64,
    down: AtomicU64,
    /// Cut a connection once it has sent this many bytes down (0: never), this many more times.
    cut_after: AtomicU64,
    cuts_left: AtomicUsize,
    cuts: AtomicUsize,
}

pub struct Proxy {
    /// `http://127.0.0.1:PORT`.
    pub endpoint: String,
    c: Arc<Counters>,
}

impl Proxy {
    /// A proxy to `upstream` (`http://HOST:PORT`) on a free loopback port.
    pub fn start(upstream: &str) -> Proxy {
        let to: SocketAddr = upstream.trim_start_matches("http://").trim_end_matches('/').parse().unwrap();
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let endpoint = format!("http://{}", listener.local_addr().unwrap());
        let c = Arc::new(Counters::default());
        let counters = c.clone();
        std::thread::spawn(move || {
            for client in listener.incoming().flatten() {
                let c = counters.clone();
                std::thread::spawn(move || relay(client, to, c));
            }
        });
        Proxy { endpoint, c }
    }

    /// Cut the next `times` connections that send more than `bytes` down, each once.
    pub fn cut_after(&self, bytes: u64, times: usize) {
        self.c.cuts_left.store(times, Ordering::SeqCst);
        self.c.cut_after.store(bytes, Ordering::SeqCst);
    }

    /// Forget what was counted (connections still open stay counted as open).
    pub fn reset(&self) {
        for a in [&self.c.connections, &self.c.ranges, &self.c.cuts] {
            a.store(0, Ordering::SeqCst);
        }
        self.c.max_open.store(self.c.open.load(Ordering::SeqCst), Ordering::SeqCst);
        self.c.up.store(0, Ordering::SeqCst);
        self.c.down.store(0, Ordering::SeqCst);
    }

    pub fn connections(&self) -> usize {
        self.c.connections.load(Ordering::SeqCst)
    }
    pub fn max_open(&self) -> usize {
        self.c.max_open.load(Ordering::SeqCst)
    }
    pub fn ranges(&self) -> usize {
        self.c.ranges.load(Ordering::SeqCst)
    }
    pub fn up(&self) -> u64 {
        self.c.up.load(Ordering::SeqCst)
    }
    pub fn down(&self) -> u64 {
        self.c.down.load(Ordering::SeqCst)
    }
    pub fn cuts(&self) -> usize {
        self.c.cuts.load(Ordering::SeqCst)
    }
}

fn relay(client: TcpStream, to: SocketAddr, c: Arc<Counters>) {
    let Ok(server) = TcpStream::connect(to) else { return };
    c.connections.fetch_add(1, Ordering::SeqCst);
    let open = c.open.fetch_add(1, Ordering::SeqCst) + 1;
    c.max_open.fetch_max(open, Ordering::SeqCst);
    let (mut c_read, mut s_write) = (client.try_clone().unwrap(), server.try_clone().unwrap());
    let up = {
        let c = c.clone();
        std::thread::spawn(move || {
            let mut buf = vec![0u8; 64 << 10];
            while let Ok(n) = c_read.read(&mut buf) {
                if n == 0 || s_write.write_all(&buf[..n]).is_err() {
                    break;
                }
                c.up.fetch_add(n as u64, Ordering::SeqCst);
                let seen = String::from_utf8_lossy(&buf[..n]).to_ascii_lowercase();
                c.ranges.fetch_add(seen.matches("\r\nrange: bytes=").count(), Ordering::SeqCst);
            }
            let _ = s_write.shutdown(Shutdown::Write);
        })
    };
    let (mut s_read, mut c_write) = (server.try_clone().unwrap(), client.try_clone().unwrap());
    let mut sent = 0u64;
    let mut buf = vec![0u8; 256 << 10];
    while let Ok(n) = s_read.read(&mut buf) {
        if n == 0 || c_write.write_all(&buf[..n]).is_err() {
            break;
        }
        sent += n as u64;
        c.down.fetch_add(n as u64, Ordering::SeqCst);
        let limit = c.cut_after.load(Ordering::SeqCst);
        let take_cut = || c.cuts_left.fetch_update(Ordering::SeqCst, Ordering::SeqCst, |l| l.checked_sub(1)).is_ok();
        if limit > 0 && sent > limit && take_cut() {
            c.cuts.fetch_add(1, Ordering::SeqCst);
            let _ = client.shutdown(Shutdown::Both);
            let _ = server.shutdown(Shutdown::Both);
            break;
        }
    }
    let _ = c_write.shutdown(Shutdown::Write);
    let _ = up.join();
    c.open.fetch_sub(1, Ordering::SeqCst);
}
