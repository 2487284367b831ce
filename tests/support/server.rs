//! A loopback HTTP/1.1 server for the download tests, started on 127.0.0.1 port 0.
//!
//! It speaks what wharf needs from the Hugging Face hub — `HEAD/GET /{repo}/resolve/{rev}/{path}`
//! (small files answered directly with their git blob id as ETag; LFS files redirected to a second
//! loopback "CDN" server with `X-Repo-Commit`, `X-Linked-Etag`, `X-Linked-Size`), the listing
//! `GET /api/models/{repo}/revision/{rev}` — plus plain files under `/files/NAME` and blobs under
//! `/blobs/SHA256`, with `Range` support. It can misbehave on demand: fail the next N requests with
//! a status (and `Retry-After`), answer late (nothing, not even headers, for a while), drop the
//! connection after K body bytes, ignore `Range`, send wrong bytes, or stall mid-body; and it
//! counts requests and body bytes. One thread per connection,
//! `Connection: close` on every answer.
#![allow(dead_code)]

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use sha1::Digest as _;

#[derive(Debug, Clone)]
pub struct Logged {
    pub method: String,
    pub path: String,
    pub headers: HashMap<String, String>,
}

#[derive(Default)]
pub struct Faults {
    /// Answer the next requests with these statuses (and optional Retry-After seconds).
    pub fail_next: VecDeque<(u16, Option<u64>)>,
    /// Close the connection after this many body bytes, on the next body sent only.
    pub drop_after: Option<u64>,
    pub ignore_range: bool,
    /// Flip one byte in the middle of every body sent.
    pub corrupt: bool,
    /// Flip one byte in the middle of the bodies of these paths only.
    pub corrupt_paths: Vec<String>,
    /// Send the headers and this many body bytes, then go silent for the duration.
    pub stall: Option<(u64, Duration)>,
    /// Send nothing for this long after reading a request, then answer it (every request): a
    /// mirror that fetches a cold file from upstream before its first byte.
    pub first_byte_after: Option<Duration>,
    /// Lies of a hostile hub: these headers replace (or join) those of every resolve answer.
    pub resolve_headers: Vec<(String, String)>,
    /// A hostile hub's listing: this body instead of the real one.
    pub listing_body: Option<String>,
    /// Send bodies without `Content-Length`, endlessly (until the client hangs up, at most 1 GiB).
    pub endless: bool,
    /// Answer a range request with another range: start and end shifted by this many bytes (the
    /// header names the bytes really sent).
    pub range_shift: u64,
    /// Lie in `Content-Range`: this total instead of the real one.
    pub range_total: Option<u64>,
    /// Lie in a `206` body: this many bytes more than its `Content-Range` says (the
    /// `Content-Length` counts them).
    pub range_extra: u64,
    /// Send the body one byte at a time, with this pause between bytes (at most 60 s in all).
    pub trickle: Option<Duration>,
    /// Send each answer at most this many bytes a second (a CDN's per-connection cap).
    pub per_connection_rate: Option<u64>,
    /// Answer every request with a `Range` header with this status (and an empty body), though
    /// `Accept-Ranges: bytes` is announced.
    pub range_status: Option<u16>,
}

#[derive(Clone)]
pub struct Repo {
    pub commit: String,
    pub files: BTreeMap<String, Arc<Vec<u8>>>,
    /// Names the listing shows besides the real files (for the path-traversal tests).
    pub extra_listed: Vec<String>,
}

#[derive(Default)]
pub struct State {
    files: Mutex<HashMap<String, Arc<Vec<u8>>>>,
    repos: Mutex<HashMap<String, Repo>>,
    redirects: Mutex<HashMap<String, String>>,
    cdn: Mutex<Option<String>>,
    pub faults: Mutex<Faults>,
    pub log: Mutex<Vec<Logged>>,
    pub body_bytes: AtomicU64,
    stop: AtomicBool,
}

pub struct Server {
    pub addr: SocketAddr,
    pub state: Arc<State>,
}

/// Files at or above this size are LFS files (redirected to the CDN, ETag = SHA-256).
pub const LFS_THRESHOLD: usize = 1024;

pub fn sha256_hex(b: &[u8]) -> String {
    format!("{:x}", sha2::Sha256::digest(b))
}

pub fn git_blob_id(b: &[u8]) -> String {
    let mut h = sha1::Sha1::new();
    h.update(format!("blob {}\0", b.len()).as_bytes());
    h.update(b);
    format!("{:x}", h.finalize())
}

/// Deterministic bytes that do not repeat in short periods.
pub fn pattern(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}

impl Server {
    pub fn start() -> Server {
        Server::start_on(0)
    }

    /// On a chosen loopback port (0: any), e.g. to bring a dead server back where it was.
    pub fn start_on(port: u16) -> Server {
        let listener = TcpListener::bind(("127.0.0.1", port)).unwrap();
        let addr = listener.local_addr().unwrap();
        let state = Arc::new(State::default());
        let st = state.clone();
        std::thread::spawn(move || {
            for conn in listener.incoming() {
                if st.stop.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(conn) = conn else { continue };
                let st = st.clone();
                std::thread::spawn(move || {
                    let _ = handle(conn, &st);
                });
            }
        });
        Server { addr, state }
    }

    /// A hub server with its CDN.
    pub fn hub() -> (Server, Server) {
        let hub = Server::start();
        let cdn = Server::start();
        *hub.state.cdn.lock().unwrap() = Some(cdn.url(""));
        (hub, cdn)
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    pub fn put_file(&self, name: &str, body: Vec<u8>) -> String {
        self.state.files.lock().unwrap().insert(format!("/files/{name}"), Arc::new(body));
        self.url(&format!("/files/{name}"))
    }

    /// Publish a repo on the hub; LFS files are also put on `cdn`.
    pub fn put_repo(&self, cdn: &Server, repo: &str, commit: &str, files: &[(&str, Vec<u8>)]) {
        let mut map = BTreeMap::new();
        for (name, body) in files {
            let body = Arc::new(body.clone());
            if body.len() >= LFS_THRESHOLD {
                cdn.state.files.lock().unwrap().insert(format!("/blobs/{}", sha256_hex(&body)), body.clone());
            }
            map.insert(name.to_string(), body);
        }
        let r = Repo { commit: commit.to_string(), files: map, extra_listed: Vec::new() };
        self.state.repos.lock().unwrap().insert(repo.to_string(), r);
    }

    /// Answer requests for `path` with `302 Location: location`.
    pub fn put_redirect(&self, path: &str, location: &str) {
        self.state.redirects.lock().unwrap().insert(path.to_string(), location.to_string());
    }

    pub fn list_extra(&self, repo: &str, name: &str) {
        self.state.repos.lock().unwrap().get_mut(repo).unwrap().extra_listed.push(name.to_string());
    }

    pub fn faults(&self) -> std::sync::MutexGuard<'_, Faults> {
        self.state.faults.lock().unwrap()
    }

    pub fn requests(&self) -> Vec<Logged> {
        self.state.log.lock().unwrap().clone()
    }

    pub fn request_count(&self) -> usize {
        self.state.log.lock().unwrap().len()
    }

    pub fn body_bytes(&self) -> u64 {
        self.state.body_bytes.load(Ordering::SeqCst)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.state.stop.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect(self.addr);
    }
}

fn handle(conn: TcpStream, st: &State) -> std::io::Result<()> {
    let mut reader = BufReader::new(conn.try_clone()?);
    let mut line = String::new();
    reader.read_line(&mut line)?;
    let mut parts = line.split_whitespace();
    let (method, target) = (parts.next().unwrap_or("").to_string(), parts.next().unwrap_or("").to_string());
    let mut headers = HashMap::new();
    loop {
        let mut h = String::new();
        if reader.read_line(&mut h)? == 0 || h.trim().is_empty() {
            break;
        }
        if let Some((k, v)) = h.split_once(':') {
            headers.insert(k.trim().to_ascii_lowercase(), v.trim().to_string());
        }
    }
    if st.stop.load(Ordering::SeqCst) || method.is_empty() {
        return Ok(());
    }
    let path = target.split('?').next().unwrap_or("").to_string();
    st.log.lock().unwrap().push(Logged { method: method.clone(), path: path.clone(), headers: headers.clone() });
    let late = st.faults.lock().unwrap().first_byte_after;
    if let Some(wait) = late {
        std::thread::sleep(wait);
    }
    let mut out = conn;
    let failure = st.faults.lock().unwrap().fail_next.pop_front();
    if let Some((status, retry_after)) = failure {
        let extra = retry_after.map(|s| format!("Retry-After: {s}\r\n")).unwrap_or_default();
        return write!(out, "HTTP/1.1 {status} Failing\r\n{extra}Content-Length: 0\r\nConnection: close\r\n\r\n");
    }
    let head = method == "HEAD";
    let redirect = st.redirects.lock().unwrap().get(&path).cloned();
    if let Some(to) = redirect {
        return write!(out, "HTTP/1.1 302 Found\r\nLocation: {to}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
    }
    if let Some(rest) = path.strip_prefix("/api/models/") {
        return listing(&mut out, st, rest);
    }
    if let Some(idx) = path.find("/resolve/") {
        return resolve(&mut out, st, &path[1..idx], &path[idx + "/resolve/".len()..], head);
    }
    let body = st.files.lock().unwrap().get(&path).cloned();
    match body {
        Some(b) => {
            let only_this = st.faults.lock().unwrap().corrupt_paths.contains(&path);
            if only_this && !b.is_empty() {
                let mut bad = b.to_vec();
                let mid = bad.len() / 2;
                bad[mid] ^= 0xff;
                return send_body(&mut out, st, &bad, headers.get("range"), head, &[]);
            }
            send_body(&mut out, st, &b, headers.get("range"), head, &[])
        }
        None => write!(out, "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"),
    }
}

fn resolve(out: &mut TcpStream, st: &State, repo: &str, rest: &str, head: bool) -> std::io::Result<()> {
    let (rev, file) = rest.split_once('/').unwrap_or((rest, ""));
    let found = st.repos.lock().unwrap().get(repo).cloned();
    let Some(r) = found.filter(|r| rev == "main" || rev == r.commit) else {
        return write!(
            out,
            "HTTP/1.1 404 Not Found\r\nX-Error-Code: RepoNotFound\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
        );
    };
    let Some(body) = r.files.get(file).cloned() else {
        return write!(
            out,
            "HTTP/1.1 404 Not Found\r\nX-Error-Code: EntryNotFound\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
        );
    };
    let lies = st.faults.lock().unwrap().resolve_headers.clone();
    let with_lies = |mut h: Vec<(String, String)>| {
        for (k, v) in &lies {
            h.retain(|(n, _)| !n.eq_ignore_ascii_case(k));
            h.push((k.clone(), v.clone()));
        }
        h
    };
    if body.len() >= LFS_THRESHOLD {
        let sha = sha256_hex(&body);
        let cdn = st.cdn.lock().unwrap().clone().unwrap_or_default();
        let headers = with_lies(vec![
            ("Location".into(), format!("{cdn}/blobs/{sha}")),
            ("X-Repo-Commit".into(), r.commit.clone()),
            ("X-Linked-Etag".into(), format!("\"{sha}\"")),
            ("X-Linked-Size".into(), body.len().to_string()),
            ("ETag".into(), format!("\"{}\"", git_blob_id(b"pointer"))),
        ]);
        let lines: String = headers.iter().map(|(k, v)| format!("{k}: {v}\r\n")).collect();
        return write!(out, "HTTP/1.1 302 Found\r\n{lines}Content-Length: 0\r\nConnection: close\r\n\r\n");
    }
    let extra = with_lies(vec![
        ("X-Repo-Commit".into(), r.commit.clone()),
        ("ETag".into(), format!("\"{}\"", git_blob_id(&body))),
    ]);
    let extra: Vec<(&str, String)> = extra.iter().map(|(k, v)| (k.as_str(), v.clone())).collect();
    send_body(out, st, &body, None, head, &extra)
}

fn listing(out: &mut TcpStream, st: &State, rest: &str) -> std::io::Result<()> {
    let (repo, rev) = rest.split_once("/revision/").unwrap_or((rest, "main"));
    let found = st.repos.lock().unwrap().get(repo).cloned();
    let Some(r) = found.filter(|r| rev == "main" || rev == r.commit) else {
        return write!(out, "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
    };
    let mut siblings: Vec<serde_json::Value> = r
        .files
        .iter()
        .map(|(name, b)| {
            let mut s = serde_json::json!({"rfilename": name, "size": b.len(), "blobId": git_blob_id(b)});
            if b.len() >= LFS_THRESHOLD {
                s["lfs"] = serde_json::json!({"sha256": sha256_hex(b), "size": b.len(), "pointerSize": 134});
            }
            s
        })
        .collect();
    for name in &r.extra_listed {
        siblings.push(serde_json::json!({"rfilename": name, "size": 3, "blobId": git_blob_id(b"bad")}));
    }
    let lie = st.faults.lock().unwrap().listing_body.clone();
    let doc = lie.unwrap_or_else(|| serde_json::json!({"id": repo, "sha": r.commit, "siblings": siblings}).to_string());
    write!(
        out,
        "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{doc}",
        doc.len()
    )
}

fn send_body(
    out: &mut TcpStream,
    st: &State,
    body: &[u8],
    range: Option<&String>,
    head: bool,
    extra: &[(&str, String)],
) -> std::io::Result<()> {
    let (corrupt, drop_after, ignore_range, stall) = {
        let mut f = st.faults.lock().unwrap();
        let drop_after = if head { None } else { f.drop_after.take() };
        (f.corrupt, drop_after, f.ignore_range, f.stall)
    };
    let (endless, shift, lie_total, padding, trickle) = {
        let f = st.faults.lock().unwrap();
        (f.endless, f.range_shift, f.range_total, f.range_extra, f.trickle)
    };
    if endless && !head {
        return send_endless(out, st, extra);
    }
    if let (Some(code), Some(_)) = (st.faults.lock().unwrap().range_status, range) {
        return write!(out, "HTTP/1.1 {code} Refused\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
    }
    // `bytes=A-` or `bytes=A-B` (inclusive).
    let span = range.filter(|_| !ignore_range).and_then(|r| r.strip_prefix("bytes=")).and_then(|r| {
        let (a, b) = r.split_once('-')?;
        let a: usize = a.trim().parse().ok()?;
        let b: Option<usize> = if b.trim().is_empty() { None } else { Some(b.trim().parse().ok()?) };
        Some((a, b))
    });
    let mut head_lines = String::new();
    for (k, v) in extra {
        head_lines.push_str(&format!("{k}: {v}\r\n"));
    }
    let mut ranged: Vec<u8>;
    let (status, slice) = match span {
        Some((a, b)) if a < body.len() => {
            let last = body.len() - 1;
            let (a, end) = ((a + shift as usize).min(last), (b.unwrap_or(last).min(last) + shift as usize).min(last));
            let total = lie_total.unwrap_or(body.len() as u64);
            head_lines.push_str(&format!("Content-Range: bytes {a}-{end}/{total}\r\n"));
            ranged = body[a..=end].to_vec();
            ranged.extend(pattern(padding as usize, 77));
            ("206 Partial Content", &ranged[..])
        }
        Some(_) => {
            return write!(out, "HTTP/1.1 416 Range Not Satisfiable\r\nContent-Range: bytes */{}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n", body.len());
        }
        None => ("200 OK", body),
    };
    write!(
        out,
        "HTTP/1.1 {status}\r\n{head_lines}Accept-Ranges: bytes\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        slice.len()
    )?;
    if head {
        return Ok(());
    }
    let mut data = slice.to_vec();
    if corrupt && !data.is_empty() {
        let mid = data.len() / 2;
        data[mid] ^= 0xff;
    }
    let limit = drop_after.map(|k| k as usize).unwrap_or(data.len()).min(data.len());
    if let Some(pause) = trickle {
        let started = std::time::Instant::now();
        for b in &data[..limit] {
            if started.elapsed() > Duration::from_secs(60) {
                break;
            }
            out.write_all(std::slice::from_ref(b))?;
            out.flush()?;
            st.body_bytes.fetch_add(1, Ordering::SeqCst);
            std::thread::sleep(pause);
        }
        return Ok(());
    }
    let pause = stall.map(|(at, d)| (at as usize, d));
    let rate = st.faults.lock().unwrap().per_connection_rate;
    let started = std::time::Instant::now();
    let mut sent = 0usize;
    for chunk in data[..limit].chunks(64 * 1024) {
        if let Some(rate) = rate {
            let due = Duration::from_secs_f64(sent as f64 / rate as f64);
            if let Some(wait) = due.checked_sub(started.elapsed()) {
                std::thread::sleep(wait);
            }
        }
        if let Some((at, d)) = pause {
            if sent + chunk.len() > at {
                out.write_all(&chunk[..at.saturating_sub(sent)])?;
                st.body_bytes.fetch_add(at.saturating_sub(sent) as u64, Ordering::SeqCst);
                out.flush()?;
                std::thread::sleep(d);
                return Ok(());
            }
        }
        out.write_all(chunk)?;
        sent += chunk.len();
        st.body_bytes.fetch_add(chunk.len() as u64, Ordering::SeqCst);
    }
    out.flush()?;
    if limit < data.len() {
        let _ = out.shutdown(std::net::Shutdown::Both);
    }
    Ok(())
}

/// A body with no end: no `Content-Length`, bytes until the client hangs up (at most 1 GiB, so a
/// test that goes wrong still ends).
fn send_endless(out: &mut TcpStream, st: &State, extra: &[(&str, String)]) -> std::io::Result<()> {
    let head_lines: String = extra.iter().map(|(k, v)| format!("{k}: {v}\r\n")).collect();
    write!(out, "HTTP/1.1 200 OK\r\n{head_lines}Connection: close\r\n\r\n")?;
    let chunk = pattern(64 * 1024, 99);
    for _ in 0..(1 << 14) {
        out.write_all(&chunk)?;
        st.body_bytes.fetch_add(chunk.len() as u64, Ordering::SeqCst);
    }
    Ok(())
}
