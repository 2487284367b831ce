//! `wharf pull` against the loopback hub and CDN: resume, retries, integrity, locking, offline.

mod support;

use std::fs;
use std::path::{Path, PathBuf};

use serde_json::Value;
use support::server::{git_blob_id, pattern, sha256_hex, Server};
use support::{text, TestHome};

const MIB: usize = 1024 * 1024;
const COMMIT: &str = "0123456789abcdef0123456789abcdef01234567";

/// `wharf pull --json SPEC...`; returns the document and the output.
fn pull(t: &TestHome, args: &[&str]) -> (Value, std::process::Output) {
    let out = t.cmd().arg("pull").arg("--json").args(args).output().unwrap();
    let v = serde_json::from_slice(&out.stdout).unwrap_or(Value::Null);
    (v, out)
}

/// Every file under `dir` whose name ends in `.incomplete`.
fn leftovers(dir: &Path) -> Vec<PathBuf> {
    walkdir::WalkDir::new(dir)
        .into_iter()
        .filter_map(Result::ok)
        .map(|e| e.into_path())
        .filter(|p| p.to_string_lossy().ends_with(".incomplete"))
        .collect()
}

#[test]
fn a_dropped_transfer_resumes_and_sends_little_more_than_the_file() {
    let (hub, cdn) = Server::hub();
    let body = pattern(64 * MIB, 1);
    hub.put_repo(&cdn, "org/big", COMMIT, &[("model.bin", body.clone())]);
    cdn.faults().drop_after = Some(32 * MIB as u64);
    let mut t = TestHome::with_hub(&hub);
    t.extra_env.push(("WHARF_CONNECTIONS".into(), "1".into())); // the single stream's resume
    let (doc, out) = pull(&t, &["hf://org/big/model.bin"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let path = PathBuf::from(doc["models"][0]["path"].as_str().unwrap());
    assert_eq!(fs::read(&path).unwrap(), body);
    assert_eq!(doc["models"][0]["sha256"], sha256_hex(&body));
    let sent = cdn.body_bytes();
    assert!(sent < (body.len() as f64 * 1.2) as u64, "sent {sent} bytes for {}", body.len());
    let ranged: Vec<_> = cdn.requests().into_iter().filter(|r| r.headers.contains_key("range")).collect();
    assert_eq!(ranged.len(), 1, "one resumed request");
    assert_eq!(ranged[0].headers["range"], format!("bytes={}-", 32 * MIB));
    assert!(leftovers(&t.hub_cache()).is_empty());
}

#[test]
fn resume_restarts_when_server_ignores_range() {
    let (hub, cdn) = Server::hub();
    let body = pattern(8 * MIB, 2);
    hub.put_repo(&cdn, "org/m", COMMIT, &[("w.bin", body.clone())]);
    {
        let mut f = cdn.faults();
        f.drop_after = Some(3 * MIB as u64);
        f.ignore_range = true;
    }
    let t = TestHome::with_hub(&hub);
    let (doc, out) = pull(&t, &["hf://org/m/w.bin"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(fs::read(doc["models"][0]["path"].as_str().unwrap()).unwrap(), body);
    assert_eq!(cdn.body_bytes(), (3 * MIB + 8 * MIB) as u64, "the second answer was the whole file from 0");
}

#[test]
fn two_503s_then_success_make_three_requests_and_a_404_makes_one() {
    let server = Server::start();
    let body = pattern(4096, 3);
    let url = server.put_file("a.bin", body.clone());
    {
        let mut f = server.faults();
        f.fail_next.push_back((503, None));
        f.fail_next.push_back((503, Some(0)));
    }
    let t = TestHome::with_hub(&server);
    let (doc, out) = pull(&t, &[&url]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(server.request_count(), 3);
    assert_eq!(fs::read(doc["models"][0]["path"].as_str().unwrap()).unwrap(), body);
    assert!(text(&out.stderr).contains("retrying"), "{}", text(&out.stderr));

    let missing = Server::start();
    let (_, out) = pull(&t, &[&missing.url("/files/nope.bin")]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(missing.request_count(), 1, "a 404 is final");
    let err = text(&out.stderr);
    assert!(err.contains("404") && err.contains("/files/nope.bin"), "{err}");
}

#[test]
fn a_429_with_retry_after_is_honoured_and_gives_up_after_the_limit() {
    let server = Server::start();
    let url = server.put_file("b.bin", pattern(2048, 4));
    for _ in 0..10 {
        server.faults().fail_next.push_back((429, Some(0)));
    }
    let mut t = TestHome::with_hub(&server);
    t.extra_env.push(("WHARF_MAX_RETRIES".into(), "2".into()));
    let (_, out) = pull(&t, &[&url]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(server.request_count(), 3, "the first attempt and two retries");
    assert!(text(&out.stderr).contains("gave up"), "{}", text(&out.stderr));
}

#[test]
fn wrong_bytes_are_a_checksum_mismatch_and_leave_nothing() {
    let (hub, cdn) = Server::hub();
    let body = pattern(2 * MIB, 5);
    hub.put_repo(&cdn, "org/m", COMMIT, &[("w.bin", body.clone())]);
    cdn.faults().corrupt = true;
    let t = TestHome::with_hub(&hub);
    let (_, out) = pull(&t, &["hf://org/m/w.bin"]);
    assert_eq!(out.status.code(), Some(1));
    let err = text(&out.stderr);
    assert!(err.contains("checksum mismatch") && err.contains(&sha256_hex(&body)), "names the expected digest: {err}");
    let repo = t.hub_cache().join("models--org--m");
    let files: Vec<_> =
        walkdir::WalkDir::new(&repo).into_iter().filter_map(Result::ok).filter(|e| !e.file_type().is_dir()).collect();
    assert!(files.is_empty(), "nothing under a final or temp name: {files:?}");

    // The same for a pinned URL.
    let server = Server::start();
    let url = server.put_file("c.bin", pattern(4096, 6));
    server.faults().corrupt = true;
    let (_, out) = pull(&t, &[&format!("{url}#sha256={}", sha256_hex(&pattern(4096, 6)))]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("checksum mismatch"));
    let store = t.wharf_home.join("cache/blobs/sha256");
    let left: Vec<_> =
        fs::read_dir(&store).map(|d| d.filter_map(Result::ok).map(|e| e.path()).collect()).unwrap_or_default();
    assert!(left.is_empty(), "{left:?}");
}

/// `n` processes running `wharf pull --json spec` at the same time; each must succeed: their
/// documents.
fn pull_at_once(t: &TestHome, n: usize, spec: &str) -> Vec<Value> {
    let children: Vec<_> = (0..n)
        .map(|_| {
            let mut c = t.std_cmd();
            c.args(["pull", "--json", spec]).stdout(std::process::Stdio::piped()).stderr(std::process::Stdio::piped());
            c.spawn().unwrap()
        })
        .collect();
    children
        .into_iter()
        .map(|c| {
            let out = c.wait_with_output().unwrap();
            assert!(out.status.success(), "{}", text(&out.stderr));
            serde_json::from_slice(&out.stdout).unwrap()
        })
        .collect()
}

#[test]
fn four_processes_pulling_one_model_cause_one_transfer() {
    let (hub, cdn) = Server::hub();
    let body = pattern(64 * MIB, 7);
    hub.put_repo(&cdn, "org/shared", COMMIT, &[("model.gguf", body.clone())]);
    let mut t = TestHome::with_hub(&hub);
    t.extra_env.push(("WHARF_CONNECTIONS".into(), "4".into())); // ranges, even on loopback
    for doc in pull_at_once(&t, 4, "hf://org/shared/model.gguf") {
        assert_eq!(doc["models"][0]["sha256"], sha256_hex(&body));
    }
    // One transfer: one stream from the start (a GET without a range), helpers on ranges. A stream
    // cut where a helper took over may have had more in flight than it read, never a second copy.
    let sent = cdn.body_bytes();
    assert!(sent < 2 * body.len() as u64, "the CDN sent {sent} bytes for a file of {}", body.len());
    let gets = get_ranges(&cdn);
    assert_eq!(gets.iter().filter(|r| r.is_empty()).count(), 1, "one transfer from the start: {gets:?}");
    assert!(gets.len() > 1, "helpers with ranges: {gets:?}");
}

#[test]
fn offline_uses_the_cache_with_zero_requests_and_names_what_is_missing() {
    let (hub, cdn) = Server::hub();
    let body = pattern(4 * MIB, 8);
    let small = b"{\"hidden\": 64}\n".to_vec();
    hub.put_repo(&cdn, "org/m", COMMIT, &[("w.bin", body.clone()), ("config.json", small.clone())]);
    let t = TestHome::with_hub(&hub);
    let (online, out) = pull(&t, &["hf://org/m/w.bin", "hf://org/m/config.json"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let before = (hub.request_count(), cdn.request_count());

    let (doc, out) = pull(&t, &["--offline", "hf://org/m/w.bin", "hf://org/m/config.json"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!((hub.request_count(), cdn.request_count()), before, "offline makes no request");
    assert_eq!(doc["models"][0]["path"], online["models"][0]["path"]);
    assert_eq!(doc["models"][0]["cached"], true);
    assert_eq!(doc["models"][1]["sha256"], sha256_hex(&small));
    let mut t2 = TestHome::with_hub(&hub);
    t2.extra_env.push(("HF_HUB_OFFLINE".into(), "1".into()));
    let (_, out) = pull(&t2, &["hf://org/m/w.bin"]);
    assert_eq!(out.status.code(), Some(1));
    let err = text(&out.stderr);
    assert!(err.contains("hf://org/m@main/w.bin") && err.contains("offline"), "{err}");
    assert_eq!((hub.request_count(), cdn.request_count()), before);
}

#[test]
fn a_listing_with_unsafe_names_is_refused_and_the_token_stays_with_the_hub() {
    let (hub, cdn) = Server::hub();
    hub.put_repo(&cdn, "org/m", COMMIT, &[("ok.bin", pattern(4096, 9)), ("small.txt", b"hi\n".to_vec())]);
    let mut t = TestHome::with_hub(&hub);
    t.extra_env.push(("HF_TOKEN".into(), "hf_secret".into()));
    let (doc, out) = pull(&t, &["hf://org/m"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(doc["models"].as_array().unwrap().len(), 2);
    assert!(hub
        .requests()
        .iter()
        .all(|r| r.headers.get("authorization").map(String::as_str) == Some("Bearer hf_secret")));
    assert!(!cdn.requests().is_empty());
    assert!(cdn.requests().iter().all(|r| !r.headers.contains_key("authorization")), "the token never reaches the CDN");

    for evil in ["../../evil", "/etc/passwd"] {
        let (hub, cdn) = Server::hub();
        hub.put_repo(&cdn, "org/m", COMMIT, &[("ok.bin", pattern(4096, 9))]);
        hub.list_extra("org/m", evil);
        let t = TestHome::with_hub(&hub);
        let (_, out) = pull(&t, &["hf://org/m"]);
        assert_eq!(out.status.code(), Some(1));
        let err = text(&out.stderr);
        assert!(err.contains("rfilename") && err.contains(evil) && err.contains(&hub.url("")), "{err}");
        assert!(cdn.requests().is_empty(), "nothing was downloaded");
        assert!(!t.home.join(".cache/huggingface/evil").exists() && !t.root().join("evil").exists());
    }
}

#[test]
fn whole_repo_pull_honours_include_and_exclude_and_links_a_snapshot() {
    let (hub, cdn) = Server::hub();
    let files =
        [("a.safetensors", pattern(4096, 10)), ("b.safetensors", pattern(5000, 11)), ("README.md", b"# m\n".to_vec())];
    hub.put_repo(&cdn, "org/m", COMMIT, &files.iter().map(|(n, b)| (*n, b.clone())).collect::<Vec<_>>());
    let t = TestHome::with_hub(&hub);
    let (doc, out) = pull(&t, &["--include", "*.safetensors", "--exclude", "b.*", "hf://org/m"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let got: Vec<_> =
        doc["models"].as_array().unwrap().iter().map(|m| m["source"].as_str().unwrap().to_string()).collect();
    assert_eq!(got, ["hf://org/m@main/a.safetensors"]);
    let snap = t.hub_cache().join(format!("models--org--m/snapshots/{COMMIT}/a.safetensors"));
    assert!(fs::symlink_metadata(&snap).unwrap().file_type().is_symlink());
    assert_eq!(fs::read(&snap).unwrap(), files[0].1);
    assert_eq!(fs::read_to_string(t.hub_cache().join("models--org--m/refs/main")).unwrap(), COMMIT);
    let small = t.hub_cache().join(format!("models--org--m/blobs/{}", git_blob_id(b"# m\n")));
    assert!(!small.exists(), "excluded files are not fetched");
    // Offline, the same repo pull is answered from the snapshot, with no request.
    let before = (hub.request_count(), cdn.request_count());
    let (doc, out) = pull(&t, &["--offline", "--include", "*.safetensors", "hf://org/m"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(doc["models"].as_array().unwrap().len(), 1);
    assert_eq!(doc["models"][0]["cached"], true);
    assert_eq!((hub.request_count(), cdn.request_count()), before);
}

#[test]
fn small_files_of_a_repo_are_each_checked_and_fetched_once_however_many_processes_pull() {
    let (hub, cdn) = Server::hub();
    let files: Vec<(String, Vec<u8>)> =
        // Two under the hub's LFS threshold (a git blob id for an etag), the rest LFS files.
        (0..48).map(|i| (format!("cfg/f{i:02}.json"), pattern(300 + 700 * i, i as u64 + 1))).collect();
    hub.put_repo(&cdn, "org/small", COMMIT, &files.iter().map(|(n, b)| (n.as_str(), b.clone())).collect::<Vec<_>>());
    let t = TestHome::with_hub(&hub);
    for doc in pull_at_once(&t, 4, "hf://org/small") {
        let got: Vec<(String, String)> = doc["models"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| (m["source"].as_str().unwrap().to_string(), m["sha256"].as_str().unwrap().to_string()))
            .collect();
        let want: Vec<(String, String)> =
            files.iter().map(|(n, b)| (format!("hf://org/small@main/{n}"), sha256_hex(b))).collect();
        assert_eq!(got, want, "every file, named as asked, with its digest");
    }
    // One transfer per file, whichever process made it.
    let mut gets: Vec<String> = hub
        .requests()
        .into_iter()
        .filter(|r| r.method == "GET" && r.path.contains("/resolve/"))
        .map(|r| r.path)
        .collect();
    gets.sort();
    let want: Vec<String> = files.iter().map(|(n, _)| format!("/org/small/resolve/{COMMIT}/{n}")).collect();
    assert_eq!(gets, want);
    for (n, b) in &files {
        let snap = t.hub_cache().join(format!("models--org--small/snapshots/{COMMIT}/{n}"));
        assert_eq!(fs::read(&snap).unwrap(), *b, "{n}");
    }
    // Each is recorded as wharf's, in the hub cache.
    let records: Vec<Value> = fs::read_dir(t.wharf_home.join("cache/index"))
        .unwrap()
        .map(|e| serde_json::from_str(&fs::read_to_string(e.unwrap().path()).unwrap()).unwrap())
        .collect();
    assert_eq!(records.len(), files.len());
    assert!(records.iter().all(|r| r["kind"] == "hf" && r["repo"] == "org/small"), "{records:?}");
    assert!(leftovers(&t.hub_cache()).is_empty());

    // Bytes that do not hash to their etag (a git blob id, a small file the hub serves itself):
    // a checksum mismatch, and nothing under the file's blob name or a temp name.
    let (hub, cdn) = Server::hub();
    let body = pattern(700, 99);
    hub.put_repo(&cdn, "org/bad", COMMIT, &[("c.json", body.clone())]);
    hub.faults().corrupt = true;
    let t = TestHome::with_hub(&hub);
    let (doc, out) = pull(&t, &["hf://org/bad"]);
    assert_eq!(out.status.code(), Some(1), "{doc}");
    let err = text(&out.stderr);
    assert!(err.contains("checksum mismatch") && err.contains(&git_blob_id(&body)), "{err}");
    let blobs = t.hub_cache().join("models--org--bad/blobs");
    let left: Vec<_> =
        fs::read_dir(&blobs).map(|d| d.filter_map(Result::ok).map(|e| e.path()).collect()).unwrap_or_default();
    assert!(left.is_empty(), "{left:?}");
}

#[test]
fn a_full_disk_says_disk_full_and_leaves_no_temp_file() {
    let server = Server::start();
    let (hub, cdn) = Server::hub();
    hub.put_repo(&cdn, "org/m", COMMIT, &[("big.bin", pattern(4 * MIB, 12))]);
    let url = server.put_file("big.bin", pattern(4 * MIB, 13));
    let t = TestHome::with_hub(&hub);
    let small = t.root().join("small");
    fs::create_dir_all(&small).unwrap();
    let wharf = assert_cmd::cargo::cargo_bin("wharf");
    // A private mount namespace with a 2 MiB tmpfs as the whole store.
    for (spec, when) in
        [("hf://org/m/big.bin", "known size: checked before"), (url.as_str(), "unknown size: ENOSPC mid-way")]
    {
        let script = format!(
            "mount -t tmpfs -o size=2m tmpfs {dir} && HF_HUB_CACHE={dir}/hub WHARF_CACHE_DIR={dir}/wharf {wharf} pull '{spec}'; \
             status=$?; find {dir} -name '*.incomplete' | sed 's/^/LEFT /'; exit $status",
            dir = small.display(),
            wharf = wharf.display()
        );
        let mut cmd = std::process::Command::new("unshare");
        cmd.args(["-rm", "sh", "-c", &script]).env_clear().env("PATH", support::path_without_uv()).env("HOME", &t.home);
        for (k, v) in &t.extra_env {
            cmd.env(k, v);
        }
        let out = cmd.output().expect("unshare runs");
        let err = text(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{when}: {err}");
        assert!(err.contains("disk full: need"), "{when}: {err}");
        assert!(!text(&out.stdout).contains("LEFT "), "{when}: a temp file stayed: {}", text(&out.stdout));
    }
    assert_eq!(cdn.body_bytes(), 0, "with a known size nothing is downloaded into a disk that cannot hold it");
}

/// The Python with `huggingface_hub`: `WHARF_TEST_PYTHON`, else `python3` (`.ci/run` installs
/// huggingface_hub from PyPI into its tools venv). Missing, the test fails unless
/// `WHARF_TEST_ALLOW_SKIP=1`.
fn hf_python() -> Option<String> {
    let py = std::env::var("WHARF_TEST_PYTHON").unwrap_or_else(|_| "python3".into());
    let ok = std::process::Command::new(&py)
        .args(["-c", "import huggingface_hub"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !ok {
        support::missing_tool(
            &format!("huggingface_hub for {py}"),
            "pip install huggingface_hub, or set WHARF_TEST_PYTHON",
        );
        return None;
    }
    Some(py)
}

fn python(t: &TestHome, py: &str, code: &str, extra: &[(&str, String)]) -> std::process::Output {
    let mut c = std::process::Command::new(py);
    c.args(["-c", code]).env_clear().env("PATH", support::path_without_uv()).env("HOME", &t.home);
    c.env("HF_HUB_CACHE", t.hub_cache()).env("HF_HUB_DISABLE_TELEMETRY", "1").env("HF_HUB_DISABLE_PROGRESS_BARS", "1");
    for (k, v) in extra {
        c.env(k, v);
    }
    c.output().unwrap()
}

#[test]
fn huggingface_hub_and_wharf_share_one_cache_both_ways() {
    let Some(py) = hf_python() else { return };
    let (hub, cdn) = Server::hub();
    let big = pattern(3 * MIB, 14);
    let cfg = b"{\"model_type\": \"tiny\"}\n".to_vec();
    hub.put_repo(&cdn, "org/shared", COMMIT, &[("model.safetensors", big.clone()), ("config.json", cfg.clone())]);
    let mut t = TestHome::with_hub(&hub);
    t.extra_env.push(("HF_HUB_CACHE".into(), t.hub_cache().to_string_lossy().into_owned()));

    // wharf → huggingface_hub (offline, same cache).
    let (doc, out) = pull(&t, &["hf://org/shared/model.safetensors"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let code =
        "import sys; from huggingface_hub import hf_hub_download as d; print(d('org/shared', 'model.safetensors'))";
    let py_out = python(&t, &py, code, &[("HF_HUB_OFFLINE", "1".into())]);
    assert!(py_out.status.success(), "{}", text(&py_out.stderr));
    let py_path = text(&py_out.stdout).trim().to_string();
    assert_eq!(fs::read(&py_path).unwrap(), big);
    assert_eq!(Path::new(&py_path), Path::new(doc["models"][0]["path"].as_str().unwrap()));

    // huggingface_hub → wharf: Python downloads from the test hub, wharf finds it with no request.
    let code = "from huggingface_hub import hf_hub_download as d; print(d('org/shared', 'config.json'))";
    let py_out = python(&t, &py, code, &[("HF_ENDPOINT", hub.url(""))]);
    assert!(py_out.status.success(), "{}", text(&py_out.stderr));
    let before = (hub.request_count(), cdn.request_count());
    for spec in ["hf://org/shared/config.json".to_string(), format!("hf://org/shared@{COMMIT}/config.json")] {
        let args: Vec<&str> = if spec.contains('@') { vec![spec.as_str()] } else { vec!["--offline", spec.as_str()] };
        let (doc, out) = pull(&t, &args);
        assert!(out.status.success(), "{spec}: {}", text(&out.stderr));
        assert_eq!(doc["models"][0]["cached"], true);
        assert_eq!(fs::read(doc["models"][0]["path"].as_str().unwrap()).unwrap(), cfg);
    }
    assert_eq!((hub.request_count(), cdn.request_count()), before, "zero requests");
}

#[test]
fn a_stalled_transfer_counts_as_transient_and_resumes() {
    let server = Server::start();
    let body = pattern(2 * MIB, 15);
    let url = server.put_file("s.bin", body.clone());
    server.faults().stall = Some((MIB as u64, std::time::Duration::from_secs(4)));
    let mut t = TestHome::with_hub(&server);
    t.extra_env.push(("WHARF_STALL_TIMEOUT".into(), "1".into()));
    let (doc, out) = pull(&t, &[&format!("{url}#sha256={}", sha256_hex(&body))]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(text(&out.stderr).contains("stalled"), "{}", text(&out.stderr));
    assert_eq!(fs::read(doc["models"][0]["path"].as_str().unwrap()).unwrap(), body);
    let ranged = server.requests().into_iter().filter(|r| r.headers.contains_key("range")).count();
    assert_eq!(ranged, 1, "the second attempt resumed");
}

#[test]
fn mirrors_are_tried_in_order_after_the_primary_and_get_no_token() {
    let (primary, _pcdn) = Server::hub();
    let (mirror, mcdn) = Server::hub();
    let body = pattern(8192, 16);
    mirror.put_repo(&mcdn, "org/m", COMMIT, &[("w.bin", body.clone())]);
    let mut t = TestHome::with_hub(&primary);
    t.extra_env.push(("WHARF_MIRRORS".into(), format!("http://127.0.0.1:1, {}", mirror.url(""))));
    t.extra_env.push(("HF_TOKEN".into(), "hf_secret".into()));
    t.extra_env.push(("WHARF_MAX_RETRIES".into(), "0".into()));
    let (doc, out) = pull(&t, &["hf://org/m/w.bin"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(fs::read(doc["models"][0]["path"].as_str().unwrap()).unwrap(), body);
    assert_eq!(primary.request_count(), 1, "the primary was asked first (and said 404)");
    assert!(primary.requests()[0].headers.contains_key("authorization"));
    assert!(mirror.requests().iter().all(|r| !r.headers.contains_key("authorization")), "no token for a mirror");
}

#[test]
fn a_large_file_comes_over_several_connections_and_a_cut_one_is_resumed() {
    let (hub, cdn) = Server::hub();
    let body = pattern(40 * MIB, 17);
    hub.put_repo(&cdn, "org/big", COMMIT, &[("model.bin", body.clone())]);
    cdn.faults().drop_after = Some(3 * MIB as u64); // the first answer is cut short
    let mut t = TestHome::with_hub(&hub);
    t.extra_env.push(("WHARF_CONNECTIONS".into(), "4".into())); // ranges, even on loopback
    let (doc, out) = pull(&t, &["hf://org/big/model.bin"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(fs::read(doc["models"][0]["path"].as_str().unwrap()).unwrap(), body);
    assert_eq!(doc["models"][0]["sha256"], sha256_hex(&body));
    let gets = get_ranges(&cdn);
    // The cut stream is resumed where it stopped (`bytes=N-`), then helpers take closed ranges.
    assert_eq!(gets[0], "", "{gets:?}");
    assert!(gets[1].starts_with("bytes=") && gets[1].ends_with('-'), "{gets:?}");
    assert!(gets.len() >= 4, "helpers with ranges: {gets:?}");
    let sent = cdn.body_bytes();
    assert!(sent < 2 * body.len() as u64, "sent {sent}");
    assert!(leftovers(&t.hub_cache()).is_empty());
    let ranged: Vec<_> = walkdir::WalkDir::new(t.hub_cache())
        .into_iter()
        .filter_map(Result::ok)
        .filter(|e| e.path().to_string_lossy().ends_with(".ranged"))
        .collect();
    assert!(ranged.is_empty());
}

/// The `Range` header of every GET the server answered, in order (empty: none).
fn get_ranges(server: &Server) -> Vec<String> {
    server
        .requests()
        .into_iter()
        .filter(|r| r.method == "GET")
        .map(|r| r.headers.get("range").cloned().unwrap_or_default())
        .collect()
}

#[test]
fn behind_a_per_connection_cap_connections_are_added_with_no_variable_set() {
    let (hub, cdn) = Server::hub();
    let body = pattern(40 * MIB, 21);
    hub.put_repo(&cdn, "org/capped", COMMIT, &[("model.bin", body.clone())]);
    // 4 MB/s a connection: one stream would take 10 s; the aggregate grows with each connection.
    cdn.faults().per_connection_rate = Some(4_000_000);
    let t = TestHome::with_hub(&hub);
    let (doc, out) = pull(&t, &["hf://org/capped/model.bin"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(fs::read(doc["models"][0]["path"].as_str().unwrap()).unwrap(), body);
    let gets = get_ranges(&cdn);
    // The first stream, the probe, then at least one doubling: more than two connections.
    assert!(gets.len() > 3, "connections were added while they paid: {gets:?}");
    assert_eq!(gets.iter().filter(|r| r.is_empty()).count(), 1, "{gets:?}");
    assert!(cdn.body_bytes() < 2 * body.len() as u64);
    assert!(leftovers(&t.hub_cache()).is_empty());
}

#[test]
fn helpers_a_server_refuses_give_their_share_back_to_the_first_stream() {
    for status in [500u16, 416] {
        let (hub, cdn) = Server::hub();
        let body = pattern(40 * MIB, 23);
        hub.put_repo(&cdn, "org/big", COMMIT, &[("model.bin", body.clone())]);
        cdn.faults().range_status = Some(status);
        cdn.faults().per_connection_rate = Some(20_000_000); // slow enough for helpers to start
        let mut t = TestHome::with_hub(&hub);
        t.extra_env.push(("WHARF_CONNECTIONS".into(), "4".into()));
        t.extra_env.push(("WHARF_MAX_RETRIES".into(), "1".into()));
        let (doc, out) = pull(&t, &["hf://org/big/model.bin"]);
        assert!(out.status.success(), "{status}: {}", text(&out.stderr));
        assert_eq!(fs::read(doc["models"][0]["path"].as_str().unwrap()).unwrap(), body);
        let ranged = cdn.requests().into_iter().filter(|r| r.headers.contains_key("range")).count();
        assert!(ranged >= 1, "{status}: a helper was tried");
    }
}

#[test]
fn a_resumed_prefix_that_was_damaged_on_disk_is_fetched_again_from_the_start() {
    let (hub, cdn) = Server::hub();
    let body = pattern(24 * MIB, 24);
    hub.put_repo(&cdn, "org/big", COMMIT, &[("model.bin", body.clone())]);
    let mut t = TestHome::with_hub(&hub);
    t.extra_env.push(("WHARF_CONNECTIONS".into(), "1".into()));
    // What a killed pull left, then damaged: the right length of prefix, other bytes.
    let blobs = t.hub_cache().join("models--org--big/blobs");
    fs::create_dir_all(&blobs).unwrap();
    fs::write(blobs.join(format!("{}.incomplete", sha256_hex(&body))), vec![0u8; 5 * MIB]).unwrap();
    let (doc, out) = pull(&t, &["hf://org/big/model.bin"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(fs::read(doc["models"][0]["path"].as_str().unwrap()).unwrap(), body);
    let gets = get_ranges(&cdn);
    assert_eq!(gets, vec![format!("bytes={}-", 5 * MIB), String::new()], "resumed, then from the start");
    assert!(leftovers(&t.hub_cache()).is_empty());
}

#[test]
fn a_server_without_ranges_gets_a_single_stream() {
    let (hub, cdn) = Server::hub();
    let body = pattern(24 * MIB, 18);
    hub.put_repo(&cdn, "org/big", COMMIT, &[("model.bin", body.clone())]);
    cdn.faults().ignore_range = true;
    let mut t = TestHome::with_hub(&hub);
    t.extra_env.push(("WHARF_CONNECTIONS".into(), "4".into()));
    let (doc, out) = pull(&t, &["hf://org/big/model.bin"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(fs::read(doc["models"][0]["path"].as_str().unwrap()).unwrap(), body);
    // The ranged attempt stops at its first answer (a 200); the single stream then fetches it all.
    assert!(cdn.body_bytes() <= 2 * body.len() as u64);
}

#[cfg(unix)]
#[test]
fn on_a_terminal_pull_draws_a_bar_per_file_and_a_total() {
    let (hub, cdn) = Server::hub();
    hub.put_repo(&cdn, "org/m", COMMIT, &[("a.bin", pattern(3 * MIB, 19)), ("b.bin", pattern(3 * MIB, 20))]);
    let t = TestHome::with_hub(&hub);
    let wharf = assert_cmd::cargo::cargo_bin("wharf");
    let mut cmd = std::process::Command::new("script");
    cmd.args(["-qec", &format!("{} pull hf://org/m", wharf.display()), "/dev/null"]);
    cmd.env_clear()
        .env("PATH", support::path_without_uv())
        .env("HOME", &t.home)
        .env("TERM", "xterm")
        .env("WHARF_HOME", &t.wharf_home);
    for (k, v) in &t.extra_env {
        cmd.env(k, v);
    }
    let out = cmd.stdin(std::process::Stdio::null()).output().expect("util-linux `script` gives a pty");
    let screen = text(&out.stdout);
    assert!(out.status.success(), "{screen}");
    assert!(screen.contains("a.bin") && screen.contains("b.bin"), "{screen}");
    assert!(screen.contains("total (2 files)"), "{screen}");
    assert!(screen.contains("MiB") && screen.contains("eta"), "bytes, speed and ETA: {screen}");
    // Without a terminal, no bar: stderr only says what was done.
    let (_, out) = pull(&t, &["hf://org/m"]);
    assert!(!text(&out.stderr).contains("eta"));
}

#[test]
fn a_file_that_arrives_within_the_first_window_uses_one_stream() {
    let (hub, cdn) = Server::hub();
    let body = pattern(24 * MIB, 21);
    hub.put_repo(&cdn, "org/big", COMMIT, &[("model.bin", body.clone())]);
    let t = TestHome::with_hub(&hub);
    let (_, out) = pull(&t, &["hf://org/big/model.bin"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let gets: Vec<_> = cdn.requests().into_iter().filter(|r| r.method == "GET").collect();
    assert_eq!(gets.len(), 1, "one stream");
    assert!(!gets[0].headers.contains_key("range"));
}

#[test]
fn a_local_file_is_stored_once_and_must_match_its_pin() {
    let t = TestHome::new();
    let src = t.root().join("weights.bin");
    fs::write(&src, pattern(100_000, 22)).unwrap();
    let spec = format!("file://{}", src.display());
    let (doc, out) = pull(&t, &[&spec]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(doc["models"][0]["cached"], false);
    assert_eq!(doc["models"][0]["sha256"], sha256_hex(&pattern(100_000, 22)));
    let (again, _) = pull(&t, &[&spec]);
    assert_eq!(again["models"][0]["cached"], true);
    // A pin the file does not match is refused, even though the file itself is in the store.
    let (_, out) = pull(&t, &[&format!("{spec}#sha256={}", "0".repeat(64))]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("checksum mismatch"), "{}", text(&out.stderr));
}
