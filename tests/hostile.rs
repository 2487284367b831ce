//! wharf against input that lies: a hub whose headers and listings hold paths and shell text, a
//! cloned `wharf.lock`, bodies that never end or trickle, `Content-Range`s that name other bytes,
//! redirects to other hosts and schemes, `file://` sources that are not files, and variables out
//! of range. Each must fail cleanly (or give exactly the right bytes) and write nothing outside
//! the stores.

mod support;

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use support::server::{pattern, sha256_hex, Server};
use support::{snapshot, text, TestHome};

const COMMIT: &str = "0123456789abcdef0123456789abcdef01234567";

fn stores(t: &TestHome) -> Vec<PathBuf> {
    vec![t.hub_cache(), t.wharf_home.join("cache")]
}

/// A home with files a hostile server would like to overwrite.
fn home_with_victims(hub: &Server) -> TestHome {
    let t = TestHome::with_hub(hub);
    fs::write(t.home.join(".bashrc"), "# the user's shell start-up\n").unwrap();
    fs::create_dir_all(t.home.join("victim")).unwrap();
    fs::write(t.home.join("victim/target.txt"), "keep me\n").unwrap();
    t
}

fn run(t: &TestHome, args: &[&str]) -> Output {
    t.cmd().args(args).output().unwrap()
}

/// Every symlink in the hub cache resolves (if at all) to a path inside it.
fn assert_links_stay_inside(cache: &Path) {
    let Ok(root) = cache.canonicalize() else { return };
    for e in walkdir::WalkDir::new(cache).into_iter().filter_map(Result::ok).filter(|e| e.path_is_symlink()) {
        if let Ok(target) = e.path().canonicalize() {
            assert!(target.starts_with(&root), "{} resolves to {}", e.path().display(), target.display());
        }
    }
}

#[test]
fn a_lying_hub_cannot_write_outside_the_stores() {
    let small = b"{\"a\": 1}\n".to_vec();
    let big = pattern(4096, 3);
    let sha = "a".repeat(40);
    type Lie = Box<dyn Fn(&Server)>;
    let lies: Vec<(&str, &str, Lie)> = vec![
        (
            "hf://org/m/big.bin",
            "../../../victim",
            Box::new(|s: &Server| {
                s.faults().resolve_headers = vec![("X-Repo-Commit".into(), "../../../victim".into())]
            }),
        ),
        (
            "hf://org/m/config.json",
            "$(touch pwned)",
            Box::new(|s: &Server| {
                s.faults().resolve_headers = vec![("X-Repo-Commit".into(), "$(touch pwned); `touch pwned2`".into())]
            }),
        ),
        (
            "hf://org/m/big.bin",
            "x.incomplete",
            Box::new(|s: &Server| {
                s.faults().resolve_headers = vec![("X-Linked-Etag".into(), "\"x.incomplete\"".into())]
            }),
        ),
        (
            "hf://org/m/config.json",
            "../../.bashrc",
            Box::new(|s: &Server| s.faults().resolve_headers = vec![("ETag".into(), "\"../../.bashrc\"".into())]),
        ),
        (
            "hf://org/m",
            "../../.bashrc",
            Box::new(|s: &Server| {
                s.faults().listing_body =
                    Some(r#"{"sha":"../../.bashrc","siblings":[{"rfilename":"config.json","size":9}]}"#.into())
            }),
        ),
        (
            "hf://org/m",
            "../../etc/passwd",
            Box::new(move |s: &Server| {
                s.faults().listing_body = Some(format!(
                    r#"{{"sha":"{sha}","siblings":[{{"rfilename":"big.bin","size":4096,"lfs":{{"sha256":"../../etc/passwd","size":4096}}}}]}}"#
                ))
            }),
        ),
    ];
    for (spec, value, lie) in lies {
        let (hub, cdn) = Server::hub();
        hub.put_repo(&cdn, "org/m", COMMIT, &[("config.json", small.clone()), ("big.bin", big.clone())]);
        lie(&hub);
        let t = home_with_victims(&hub);
        let before = snapshot(&t.root(), &stores(&t));
        let out = run(&t, &["pull", spec]);
        let err = text(&out.stderr);
        assert!(!out.status.success(), "{spec} with `{value}` was accepted: {err}");
        assert_ne!(out.status.code(), Some(101), "{err}");
        assert!(err.contains(&hub.url("")), "the error names the server: {err}");
        assert!(err.contains(value), "the error names the value `{value}`: {err}");
        assert_eq!(snapshot(&t.root(), &stores(&t)), before, "{spec} with `{value}` changed a file outside the stores");
        assert!(!t.home.join("pwned").exists() && !t.home.join("pwned2").exists());
        assert_links_stay_inside(&t.hub_cache());
        assert!(cdn.requests().is_empty(), "nothing was downloaded for {spec} with `{value}`");
    }
}

#[test]
fn a_shared_cache_with_a_planted_link_is_not_served_as_cached() {
    let (hub, cdn) = Server::hub();
    let body = pattern(4096, 4);
    hub.put_repo(&cdn, "org/m", COMMIT, &[("big.bin", body.clone())]);
    let t = TestHome::with_hub(&hub);
    // Another user of a shared cache planted a snapshot entry pointing at a file of ours.
    let snap = t.hub_cache().join("models--org--m/snapshots").join(COMMIT).join("big.bin");
    fs::create_dir_all(snap.parent().unwrap()).unwrap();
    std::os::unix::fs::symlink(t.home.join(".bashrc"), &snap).unwrap();
    fs::write(t.home.join(".bashrc"), "# mine\n").unwrap();
    let out = run(&t, &["pull", &format!("hf://org/m@{COMMIT}/big.bin")]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(fs::read(&snap).unwrap(), body, "the planted link was replaced by the real file");
    assert_eq!(fs::read_to_string(t.home.join(".bashrc")).unwrap(), "# mine\n");
    assert_links_stay_inside(&t.hub_cache());
}

#[test]
fn a_planted_temp_link_in_a_shared_cache_is_never_written_through() {
    for connections in ["1", "4"] {
        let (hub, cdn) = Server::hub();
        let body = pattern(17 << 20, 13);
        hub.put_repo(&cdn, "org/m", COMMIT, &[("big.bin", body.clone())]);
        let mut t = home_with_victims(&hub);
        t.extra_env.push(("WHARF_CONNECTIONS".into(), connections.into()));
        let blobs = t.hub_cache().join("models--org--m/blobs");
        fs::create_dir_all(&blobs).unwrap();
        let temp = blobs.join(format!("{}.incomplete", sha256_hex(&body)));
        std::os::unix::fs::symlink(t.home.join(".bashrc"), &temp).unwrap();
        std::os::unix::fs::symlink(t.home.join(".bashrc"), temp.with_extension("incomplete.ranged")).unwrap();
        let before = snapshot(&t.root(), &stores(&t));
        let _ = run(&t, &["pull", "hf://org/m/big.bin"]);
        assert_eq!(snapshot(&t.root(), &stores(&t)), before, "connections={connections}: written through a link");
        assert_blobs_true(&t);
    }
}

#[test]
fn a_cloned_lock_with_a_bad_commit_or_sha256_is_refused_at_its_line() {
    let (hub, cdn) = Server::hub();
    hub.put_repo(&cdn, "org/m", COMMIT, &[("big.bin", pattern(4096, 5))]);
    let good_sha = sha256_hex(&pattern(4096, 5));
    let cases = [
        ("../../../../../.bashrc".to_string(), good_sha.clone(), 5),
        (COMMIT.to_string(), "../../../../../.bashrc".to_string(), 6),
        (COMMIT.to_string(), "$(touch pwned)".to_string(), 6),
    ];
    for (commit, sha, line) in cases {
        let t = home_with_victims(&hub);
        let p = t.project("proj");
        fs::write(p.join("wharf.toml"), "[models.m]\nsource = \"hf://org/m/big.bin\"\n").unwrap();
        let lock = format!(
            "version = 1\n\n[[model]]\nname = \"m\"\ncommit = \"{commit}\"\nsha256 = \"{sha}\"\nsize = 4096\nsource = \"hf://org/m/big.bin\"\n"
        );
        fs::write(p.join("wharf.lock"), &lock).unwrap();
        let before = snapshot(&t.root(), &stores(&t));
        let out = t.cmd().arg("pull").current_dir(&p).output().unwrap();
        let err = text(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{err}");
        assert!(err.contains(&format!("wharf.lock:{line}")), "names the line: {err}");
        assert_eq!(snapshot(&t.root(), &stores(&t)), before, "nothing outside the stores changed");
        assert!(!p.join("pwned").exists() && !t.home.join("pwned").exists());
    }
    assert!(hub.requests().is_empty() && cdn.requests().is_empty(), "a bad lock is refused before any request");
}

#[test]
fn a_lock_pins_the_bytes_of_a_hugging_face_file_not_only_its_commit() {
    let (hub, cdn) = Server::hub();
    let body = pattern(4096, 12);
    hub.put_repo(&cdn, "org/m", COMMIT, &[("big.bin", body.clone())]);
    let t = TestHome::with_hub(&hub);
    let p = t.project("proj");
    fs::write(p.join("wharf.toml"), "[models.m]\nsource = \"hf://org/m/big.bin\"\n").unwrap();
    // A well-formed lock whose digest is not what the hub (or a mirror standing in for it) serves.
    let other = sha256_hex(b"the bytes the team pinned");
    let lock = format!(
        "version = 1\n\n[[model]]\nname = \"m\"\ncommit = \"{COMMIT}\"\nsha256 = \"{other}\"\nsize = 4096\nsource = \"hf://org/m/big.bin\"\n"
    );
    fs::write(p.join("wharf.lock"), &lock).unwrap();
    for round in ["fetched", "cached"] {
        let out = t.cmd().arg("pull").current_dir(&p).output().unwrap();
        let err = text(&out.stderr);
        assert!(!out.status.success(), "{round}: served other bytes than the lock pins: {err}");
        assert!(err.contains("checksum mismatch") && err.contains(&other), "{round}: {err}");
        assert_eq!(fs::read_to_string(p.join("wharf.lock")).unwrap(), lock, "{round}: the lock is not rewritten");
        // The file is in the cache now (pulled without the lock), and must still be refused.
        let out = run(&t, &["pull", &format!("hf://org/m@{COMMIT}/big.bin")]);
        assert!(out.status.success(), "{}", text(&out.stderr));
    }
}

#[test]
fn every_numeric_variable_out_of_range_is_a_clear_usage_error() {
    let t = TestHome::new();
    let file = t.home.join("m.bin");
    fs::write(&file, b"weights").unwrap();
    let spec = format!("file://{}", file.display());
    let vars = [
        "WHARF_LOCK_TIMEOUT",
        "WHARF_STALL_TIMEOUT",
        "WHARF_LOW_SPEED",
        "WHARF_MAX_RETRIES",
        "WHARF_RETRY_BASE_MS",
        "WHARF_CONNECTIONS",
        "WHARF_MIRROR_TTFB",
        "HF_HUB_ETAG_TIMEOUT",
        "HF_HUB_DOWNLOAD_TIMEOUT",
        "WHARF_OFFLINE",
        "WHARF_MIRRORS",
        "WHARF_HOME",
        "WHARF_ENVS_DIR",
        "WHARF_CACHE_DIR",
    ];
    for var in vars {
        for bad in ["1e300", "-1", "NaN", "abc"] {
            let out = t.cmd().env(var, bad).args(["pull", &spec]).output().unwrap();
            let err = text(&out.stderr);
            assert_eq!(out.status.code(), Some(2), "{var}={bad}: {err}");
            assert!(err.contains(var) && err.contains(bad), "{var}={bad} is named: {err}");
            assert!(!err.contains("panicked"), "{err}");
        }
    }
    let out = t.cmd().env("WHARF_LOCK_TIMEOUT", "1e300").arg("list").output().unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
}

/// Run `cmd`, killing it if it is still running after `limit`; returns its output and whether it
/// ended by itself.
fn run_bounded(mut cmd: Command, limit: Duration) -> (Output, bool) {
    let mut child = cmd.stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
    let start = Instant::now();
    let mut ended = true;
    while child.try_wait().unwrap().is_none() {
        if start.elapsed() > limit {
            let _ = child.kill();
            ended = false;
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    (child.wait_with_output().unwrap(), ended)
}

#[test]
fn devices_fifos_and_folders_are_refused_as_file_sources() {
    let t = TestHome::new();
    let fifo = t.home.join("pipe");
    assert!(Command::new("mkfifo").arg(&fifo).status().unwrap().success());
    let folder = t.home.join("folder");
    fs::create_dir_all(&folder).unwrap();
    for path in [PathBuf::from("/dev/zero"), fifo.clone(), folder.clone()] {
        let spec = format!("file://{}", path.display());
        let mut pull = t.std_cmd();
        pull.args(["pull", &spec]);
        let (out, ended) = run_bounded(pull, Duration::from_secs(60));
        assert!(ended, "`pull {spec}` did not end");
        assert_eq!(out.status.code(), Some(2), "{spec}: {}", text(&out.stderr));
        assert!(text(&out.stderr).contains("not a regular file"), "{}", text(&out.stderr));

        // A cloned project whose manifest names it: `init` pulls the manifest on its own.
        let p = t.project(&format!("proj-{}", path.file_name().unwrap().to_string_lossy()));
        fs::write(p.join("wharf.toml"), format!("[models.m]\nsource = \"{spec}\"\n")).unwrap();
        let mut init = t.std_cmd();
        init.args(["init", "--no-venv", p.to_str().unwrap()]);
        let (out, ended) = run_bounded(init, Duration::from_secs(60));
        assert!(ended, "`init` with {spec} in wharf.toml did not end");
        assert!(!out.status.success());
        assert!(text(&out.stderr).contains("not a regular file"), "{}", text(&out.stderr));
    }
}

#[test]
fn project_files_that_are_devices_fifos_or_links_to_secrets_are_refused() {
    let t = TestHome::new();
    fs::write(t.home.join("secret"), "AWS_SECRET_ACCESS_KEY=hunter2\n").unwrap();
    for (name, target) in
        [(".env.wharf", "/dev/zero"), ("wharf.toml", "/dev/zero"), ("wharf.lock", "fifo"), ("pyproject.toml", "fifo")]
    {
        let p = t.project(&format!("clone-{}", name.trim_start_matches('.')));
        fs::write(p.join("wharf.toml"), "").unwrap();
        let file = p.join(name);
        let _ = fs::remove_file(&file);
        if target == "fifo" {
            assert!(Command::new("mkfifo").arg(&file).status().unwrap().success());
        } else {
            std::os::unix::fs::symlink(target, &file).unwrap();
        }
        for args in [vec!["init", "--no-venv", p.to_str().unwrap()], vec!["pull"]] {
            let mut cmd = t.std_cmd();
            cmd.args(&args).current_dir(&p);
            let (out, ended) = run_bounded(cmd, Duration::from_secs(60));
            assert!(ended, "`{args:?}` with {name} -> {target} did not end");
            // `pull` never reads the marker, and a `wharf.toml` that is no file counts as none; a
            // command that does read a bad file fails on it.
            let reads_it = (name == ".env.wharf" && args[0] == "init") || name == "wharf.lock";
            if reads_it {
                assert!(!out.status.success(), "{args:?} with {name} -> {target}: {}", text(&out.stdout));
                assert!(text(&out.stderr).contains("not a regular file"), "{}", text(&out.stderr));
            }
        }
    }
    // A marker linked to another file is never rewritten (that would copy its lines into the repo).
    let p = t.project("clone-secret");
    std::os::unix::fs::symlink(t.home.join("secret"), p.join(".env.wharf")).unwrap();
    let out = run(&t, &["init", "--no-venv", p.to_str().unwrap()]);
    assert!(!out.status.success(), "{}", text(&out.stderr));
    assert!(text(&out.stderr).contains("symlink"), "{}", text(&out.stderr));
    assert!(fs::symlink_metadata(p.join(".env.wharf")).unwrap().file_type().is_symlink());
    assert_eq!(fs::read_to_string(t.home.join("secret")).unwrap(), "AWS_SECRET_ACCESS_KEY=hunter2\n");
}

#[test]
fn a_trickling_server_counts_as_stalled_within_the_low_speed_window() {
    let (hub, cdn) = Server::hub();
    hub.put_repo(&cdn, "org/m", COMMIT, &[("big.bin", pattern(4096, 6))]);
    cdn.faults().trickle = Some(Duration::from_millis(100)); // 10 bytes a second
    let mut t = TestHome::with_hub(&hub);
    t.extra_env.push(("WHARF_STALL_TIMEOUT".into(), "1".into()));
    t.extra_env.push(("WHARF_MAX_RETRIES".into(), "0".into()));
    let mut cmd = t.std_cmd();
    cmd.args(["pull", "hf://org/m/big.bin"]);
    let (out, ended) = run_bounded(cmd, Duration::from_secs(60));
    let err = text(&out.stderr);
    assert!(ended && !out.status.success(), "{err}");
    assert!(err.contains("low-speed limit of 1024 bytes/s"), "{err}");
    // At 10 bytes a second, the bytes sent bound how long the pull took: one window, not the file.
    assert!(cdn.body_bytes() < 100, "{} bytes trickled before wharf gave up", cdn.body_bytes());
}

#[test]
fn an_endless_body_is_not_read_past_its_announced_size() {
    let (hub, cdn) = Server::hub();
    // A small (non-LFS) file: the hub itself announces 180 bytes, then never stops sending.
    hub.put_repo(&cdn, "org/m", COMMIT, &[("config.json", pattern(180, 7))]);
    hub.faults().endless = true;
    let t = TestHome::with_hub(&hub);
    let mut cmd = t.std_cmd();
    cmd.args(["pull", "hf://org/m/config.json"]);
    let (out, ended) = run_bounded(cmd, Duration::from_secs(60));
    let err = text(&out.stderr);
    assert!(ended && !out.status.success(), "{err}");
    assert!(err.contains("more than the 180 bytes announced"), "{err}");
    assert!(hub.body_bytes() < 8 << 20, "the server sent {} bytes before wharf hung up", hub.body_bytes());
    let stored: Vec<PathBuf> = walkdir::WalkDir::new(t.hub_cache())
        .into_iter()
        .filter_map(Result::ok)
        .filter(|e| !e.file_type().is_dir() && !e.path().components().any(|c| c.as_os_str() == ".locks"))
        .map(|e| e.into_path())
        .collect();
    assert!(stored.is_empty(), "nothing stored, no partial kept: {stored:?}");
}

/// Every blob in the hub cache holds the bytes its name (sha256) promises.
fn assert_blobs_true(t: &TestHome) {
    let stores = [t.hub_cache(), t.wharf_home.join("cache/blobs/sha256")];
    for e in stores.iter().flat_map(walkdir::WalkDir::new).filter_map(Result::ok) {
        let p = e.path();
        let in_blobs = p.parent().is_some_and(|d| d.ends_with("blobs") || d.ends_with("blobs/sha256"));
        if e.file_type().is_file() && in_blobs {
            let name = p.file_name().unwrap().to_string_lossy().into_owned();
            if name.len() == 64 {
                assert_eq!(sha256_hex(&fs::read(p).unwrap()), name, "{} holds other bytes", p.display());
            }
        }
    }
}

#[test]
fn a_resume_answered_with_another_range_never_stores_wrong_bytes() {
    for source in ["hf", "url"] {
        for lie in ["shifted", "total", "extra"] {
            let (hub, cdn) = Server::hub();
            let body = pattern(180_000, 8);
            hub.put_repo(&cdn, "org/m", COMMIT, &[("big.bin", body.clone())]);
            // An unpinned URL has neither a size nor a digest to check the bytes against.
            let spec = match source {
                "hf" => "hf://org/m/big.bin".to_string(),
                _ => cdn.put_file("m.bin", body.clone()),
            };
            let mut t = TestHome::with_hub(&hub);
            t.extra_env.push(("WHARF_CONNECTIONS".into(), "1".into()));
            // First pull cut mid-way, no retry: a partial file stays for the next pull to resume.
            cdn.faults().drop_after = Some(100_000);
            let out = t.cmd().env("WHARF_MAX_RETRIES", "0").args(["pull", &spec]).output().unwrap();
            assert!(!out.status.success(), "{source}/{lie}: the first pull was to be cut");
            match lie {
                "shifted" => cdn.faults().range_shift = 50,
                "total" => cdn.faults().range_total = Some(230_000),
                _ => cdn.faults().range_extra = 50,
            }
            let out = run(&t, &["pull", "--json", &spec]);
            if out.status.success() {
                let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
                let got = fs::read(doc["models"][0]["path"].as_str().unwrap()).unwrap();
                assert!(got == body, "{source}/{lie}: stored {} bytes of other content", got.len());
            }
            assert_blobs_true(&t);
            let resumed = cdn.requests().iter().any(|r| r.headers.contains_key("range"));
            assert!(resumed, "{source}/{lie}: the second pull asked for the rest");
        }
    }
}

#[test]
fn parallel_ranges_answered_with_other_ranges_never_store_wrong_bytes() {
    for lie in ["shifted", "total"] {
        let (hub, cdn) = Server::hub();
        let body = pattern(17 << 20, 9);
        hub.put_repo(&cdn, "org/m", COMMIT, &[("big.bin", body.clone())]);
        match lie {
            "shifted" => cdn.faults().range_shift = 1,
            _ => cdn.faults().range_total = Some((17 << 20) + 1),
        }
        let mut t = TestHome::with_hub(&hub);
        t.extra_env.push(("WHARF_CONNECTIONS".into(), "4".into()));
        let out = run(&t, &["pull", "--json", "hf://org/m/big.bin"]);
        let err = text(&out.stderr);
        if out.status.success() {
            let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
            assert_eq!(fs::read(doc["models"][0]["path"].as_str().unwrap()).unwrap(), body, "{lie}");
        } else {
            assert!(
                err.contains("Content-Range"),
                "{lie}: refused for its Content-Range, not after the download: {err}"
            );
        }
        assert_blobs_true(&t);
    }
}

#[test]
fn redirects_are_followed_across_hosts_without_the_token() {
    let (hub, _cdn) = Server::hub();
    let other = Server::start();
    let body = pattern(5000, 10);
    let final_url = other.put_file("m.bin", body.clone());
    hub.put_redirect("/files/a", "/files/b");
    hub.put_redirect("/files/b", &hub.url("/files/c"));
    hub.put_redirect("/files/c", &final_url);
    let mut t = TestHome::with_hub(&hub);
    t.extra_env.push(("HF_TOKEN".into(), "hf_secret".into()));
    let spec = format!("{}#sha256={}", hub.url("/files/a"), sha256_hex(&body));
    let out = run(&t, &["pull", "--json", &spec]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(fs::read(doc["models"][0]["path"].as_str().unwrap()).unwrap(), body);
    let at_hub = hub.requests();
    assert_eq!(at_hub.len(), 3, "two hops on the first host, then the third");
    assert!(at_hub.iter().all(|r| r.headers.get("authorization").map(String::as_str) == Some("Bearer hf_secret")));
    assert_eq!(other.request_count(), 1);
    assert!(other.requests().iter().all(|r| !r.headers.contains_key("authorization")), "no token to another host");
}

#[test]
fn a_redirect_to_another_scheme_fails_at_once_without_retries() {
    let hub = Server::start();
    hub.put_redirect("/files/evil", "file:///etc/passwd");
    hub.put_redirect("/files/ftp", "ftp://127.0.0.1/x");
    let mut t = TestHome::with_hub(&hub);
    t.extra_env.push(("WHARF_MAX_RETRIES".into(), "3".into()));
    for (path, scheme) in [("/files/evil", "file"), ("/files/ftp", "ftp")] {
        let before = hub.request_count();
        let out = run(&t, &["pull", &hub.url(path)]);
        let err = text(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{err}");
        assert!(err.contains("refused redirect") && err.contains(&format!("`{scheme}`")), "{err}");
        assert_eq!(hub.request_count() - before, 1, "no retry of a refused redirect");
    }
    // A hub whose resolve sends the download to another scheme.
    let (hub, cdn) = Server::hub();
    hub.put_repo(&cdn, "org/m", COMMIT, &[("big.bin", pattern(4096, 11))]);
    hub.faults().resolve_headers = vec![("Location".into(), "file:///etc/passwd".into())];
    let mut t = TestHome::with_hub(&hub);
    t.extra_env.push(("WHARF_MAX_RETRIES".into(), "3".into()));
    let out = run(&t, &["pull", "hf://org/m/big.bin"]);
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("refused redirect") && err.contains("`file`"), "{err}");
    assert_eq!(hub.request_count(), 1, "no retry: {err}");
    assert!(cdn.requests().is_empty());
}

#[test]
fn refused_schemes_bad_globs_and_bad_pins_are_usage_errors() {
    let hub = Server::start();
    let t = TestHome::with_hub(&hub); // never the public hub, even if a refusal came too late
    for args in [
        vec!["pull", "http://example.invalid/m.bin"],
        vec!["pull", "ftp://example.invalid/m.bin"],
        vec!["pull", "--include", "[", "hf://org/m"],
        vec!["pull", "--sha256", "abc", "https://example.invalid/m.bin"],
        vec!["pull", "hf://org/../m/x"],
    ] {
        let out = run(&t, &args);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", text(&out.stderr));
    }
    assert_eq!(hub.request_count(), 0, "every refusal came before any request");
}
