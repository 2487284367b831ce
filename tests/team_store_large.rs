//! The team store with a 1 GiB object against a real SeaweedFS, seen through a counting proxy
//! (`support/proxy.rs`): a push killed mid-way leaves no visible object and the next one uploads
//! it; a pull uses parallel ranged GETs, survives connections cut mid-body by resuming each range
//! (the bytes that come down stay about the object's size), verifies, and stays under 64 MiB of
//! RSS (the child's own peak, from `wait4`); a pull killed mid-way on one stream resumes from what
//! it had.

mod support;

use std::fs;
use std::io::{Read, Write};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use sha2::Digest;
use support::proxy::Proxy;
use support::s3::Weed;
use support::server::pattern;
use support::{text, TestHome};

const MIB: u64 = 1 << 20;
const SIZE: u64 = 1024 * MIB;

/// A 1 GiB file of varied bytes at `path`; its SHA-256.
fn big_file(path: &Path) -> String {
    let mut f = std::io::BufWriter::new(fs::File::create(path).unwrap());
    let mut h = sha2::Sha256::new();
    // One pattern, numbered per chunk: no two chunks alike, without making 1 GiB of pattern.
    let mut chunk = pattern((8 * MIB) as usize, 5);
    for i in 0..SIZE / (8 * MIB) {
        chunk[..8].copy_from_slice(&i.to_le_bytes());
        h.update(&chunk);
        f.write_all(&chunk).unwrap();
    }
    f.flush().unwrap();
    format!("{:x}", h.finalize())
}

fn sha256_of(path: &Path) -> String {
    let mut f = fs::File::open(path).unwrap();
    let mut h = sha2::Sha256::new();
    let mut buf = vec![0u8; 8 << 20];
    loop {
        let n = f.read(&mut buf).unwrap();
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
    }
    format!("{:x}", h.finalize())
}

/// A home whose AWS settings reach the store through `proxy`.
fn home(weed: &Weed, proxy: &Proxy, extra: &[(&str, &str)]) -> TestHome {
    let mut t = TestHome::new();
    t.extra_env.extend(weed.s3_env());
    for (k, v) in t.extra_env.iter_mut() {
        if k == "AWS_ENDPOINT_URL" {
            *v = proxy.endpoint.clone();
        }
    }
    t.extra_env.extend(extra.iter().map(|(k, v)| (k.to_string(), v.to_string())));
    t
}

fn spawn(t: &TestHome, args: &[&str]) -> Child {
    let mut c: Command = t.std_cmd();
    c.args(args).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap()
}

/// Wait for `child`: whether it succeeded, its stdout and stderr, and its peak RSS in bytes.
fn wait_rss(mut child: Child) -> (bool, String, String, u64) {
    let (mut out, mut err) = (child.stdout.take().unwrap(), child.stderr.take().unwrap());
    let reader = std::thread::spawn(move || {
        let mut s = Vec::new();
        err.read_to_end(&mut s).unwrap();
        s
    });
    let mut stdout = Vec::new();
    out.read_to_end(&mut stdout).unwrap();
    let mut status = 0;
    // SAFETY: plain FFI; `rusage` is plain data that wait4 fills.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    let pid = unsafe { libc::wait4(child.id() as libc::pid_t, &mut status, 0, &mut usage) };
    assert!(pid > 0, "wait4 failed");
    let ok = libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0;
    (ok, text(&stdout), text(&reader.join().unwrap()), usage.ru_maxrss as u64 * 1024)
}

/// Kill `child` once `moved()` passes `bytes`; panics if it finished first (the cut proves nothing).
fn kill_after(mut child: Child, moved: impl Fn() -> u64, bytes: u64) {
    let deadline = Instant::now() + Duration::from_secs(300);
    while moved() < bytes {
        if let Some(status) = child.try_wait().unwrap() {
            panic!("it ended ({status}) before {bytes} bytes moved; the test could not cut it");
        }
        assert!(Instant::now() < deadline, "no progress: {} bytes after 300 s", moved());
        std::thread::sleep(Duration::from_millis(5));
    }
    child.kill().unwrap();
    child.wait().unwrap();
}

#[test]
fn a_gib_object_is_pushed_create_only_and_pulled_in_parallel_resumed_ranges_in_bounded_memory() {
    let Some(weed) = Weed::start() else { return };
    let proxy = Proxy::start(&weed.endpoint);
    let work = tempfile::tempdir().unwrap();
    let src = work.path().join("big.bin");
    let t0 = Instant::now();
    let sha = big_file(&src);
    eprintln!("1 GiB written in {:?}", t0.elapsed());
    let spec = format!("file://{}#sha256={sha}", src.display());
    let key = format!("blobs/sha256/{sha}");

    // A push killed mid-upload leaves nothing under the key; the next push uploads it.
    let a = home(&weed, &proxy, &[]);
    let out = a.cmd().args(["pull", &spec]).output().unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    proxy.reset();
    kill_after(spawn(&a, &["push", &weed.url(), &spec]), || proxy.up(), 300 * MIB);
    assert!(!weed.head_exists(&key), "a killed push left a visible object");
    let out = a.cmd().args(["push", &weed.url(), &spec, "--json"]).output().unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains("\"uploaded\""), "{}", text(&out.stdout));
    assert!(weed.head_exists(&key));

    // B pulls it over four connections; three of them are cut mid-body and resume their range.
    let b = home(&weed, &proxy, &[("WHARF_CONNECTIONS", "4")]);
    let object = format!("{}/{key}#sha256={sha}", weed.url());
    proxy.reset();
    proxy.cut_after(96 * MIB, 3);
    let (ok, stdout, stderr, rss) = wait_rss(spawn(&b, &["pull", &object, "--json"]));
    assert!(ok, "B's pull failed: {stderr}");
    let doc: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    let path = doc["models"][0]["path"].as_str().unwrap().to_string();
    assert_eq!(sha256_of(Path::new(&path)), sha);
    assert_eq!(proxy.cuts(), 3, "the proxy cut fewer connections than asked");
    assert!(
        proxy.max_open() >= 2 && proxy.ranges() >= 4,
        "not parallel ranged GETs: {} open at most, {} ranges",
        proxy.max_open(),
        proxy.ranges()
    );
    assert!(proxy.down() < SIZE + 64 * MIB, "{} bytes came down for {SIZE}: a cut range started over", proxy.down());
    assert!(rss < 64 * MIB, "peak RSS {} MiB", rss / MIB);
    eprintln!(
        "B: {} connections, {} at once, {} ranges, {} cuts, {} MiB down, peak RSS {} MiB",
        proxy.connections(),
        proxy.max_open(),
        proxy.ranges(),
        proxy.cuts(),
        proxy.down() / MIB,
        rss / MIB
    );

    // C pulls on one stream, killed at 300 MiB: the next pull asks only for the rest.
    let c = home(&weed, &proxy, &[("WHARF_CONNECTIONS", "1")]);
    proxy.reset();
    proxy.cut_after(0, 0);
    kill_after(spawn(&c, &["pull", &object]), || proxy.down(), 300 * MIB);
    let first = proxy.down();
    proxy.reset();
    let (ok, _, stderr, rss) = wait_rss(spawn(&c, &["pull", &object, "--json"]));
    assert!(ok, "C's second pull failed: {stderr}");
    assert!(
        proxy.down() + first < SIZE + 64 * MIB,
        "the second pull took {} bytes after {first}: it did not resume",
        proxy.down()
    );
    assert!(rss < 64 * MIB, "peak RSS {} MiB", rss / MIB);
    eprintln!("C: {} MiB before the kill, {} MiB after, peak RSS {} MiB", first / MIB, proxy.down() / MIB, rss / MIB);
    let stored = c.cmd().args(["pull", &object, "--offline", "--json"]).output().unwrap();
    let doc: serde_json::Value = serde_json::from_slice(&stored.stdout).unwrap();
    assert_eq!(sha256_of(Path::new(doc["models"][0]["path"].as_str().unwrap())), sha);
}
