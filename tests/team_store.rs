//! The team store (issue 11) against a real SeaweedFS: machine A pulls a project's models from the
//! test hub and pushes them; machine B (another home) reads them from the bucket with no hub
//! request for a file; altered objects, a store that is down and wrong credentials fall through
//! to the hub; a second push uploads nothing; racing pushes leave one correct object each; a
//! whole repo pushed is pulled at its commit with no hub request at all; `s3://` sources work in
//! `wharf.toml`. No secret (nor a signed URL) ever reaches stdout, stderr or `--json`: every
//! command run through `pull_in`/`push` is checked.

mod support;

use std::fs;
use std::path::{Path, PathBuf};

use serde_json::Value;
use support::s3::Weed;
use support::server::{pattern, sha256_hex, Server};
use support::{text, TestHome};

const COMMIT: &str = "0123456789abcdef0123456789abcdef01234567";
const REPO: &str = "team/model";

struct World {
    hub: Server,
    cdn: Server,
    files: Server,
    weights: Vec<u8>,
    config: Vec<u8>,
    plain: Vec<u8>,
}

fn world() -> World {
    let (hub, cdn) = Server::hub();
    let weights = pattern(300_000, 7);
    let config = br#"{"hidden": 64}"#.to_vec();
    hub.put_repo(&cdn, REPO, COMMIT, &[("model.bin", weights.clone()), ("config.json", config.clone())]);
    let files = Server::start();
    let plain = pattern(50_000, 9);
    files.put_file("plain.bin", plain.clone());
    World { hub, cdn, files, weights, config, plain }
}

/// A home (one machine) whose hub is the test hub and whose AWS settings are the store's.
fn machine(w: &World, weed: &Weed, mirrors: bool) -> TestHome {
    let mut t = TestHome::with_hub(&w.hub);
    t.extra_env.extend(weed.s3_env());
    if mirrors {
        t.extra_env.push(("WHARF_MIRRORS".into(), weed.url()));
    }
    t
}

/// The project: two Hugging Face files at `main` and a pinned URL.
fn project(t: &TestHome, w: &World) -> PathBuf {
    let dir = t.project("app");
    let manifest = format!(
        "[models.weights]\nsource = \"hf://{REPO}@main/model.bin\"\n\n\
         [models.config]\nsource = \"hf://{REPO}@main/config.json\"\n\n\
         [models.plain]\nsource = \"{}\"\nsha256 = \"{}\"\n",
        w.files.url("/files/plain.bin"),
        sha256_hex(&w.plain)
    );
    fs::write(dir.join("wharf.toml"), manifest).unwrap();
    dir
}

/// Neither the secret key nor the session token of `t`'s environment, nor a signed URL, is in
/// what `out` printed (stdout holds the `--json` document).
fn no_secrets(t: &TestHome, out: &std::process::Output) {
    let printed = format!("{}{}", text(&out.stdout), text(&out.stderr));
    for (k, v) in &t.extra_env {
        if k == "AWS_SECRET_ACCESS_KEY" || k == "AWS_SESSION_TOKEN" {
            assert!(!printed.contains(v.as_str()), "{k} was printed:\n{printed}");
        }
    }
    for signed in ["X-Amz-Signature", "X-Amz-Credential"] {
        assert!(!printed.contains(signed), "a signed URL was printed:\n{printed}");
    }
}

fn run_in(t: &TestHome, dir: &Path, args: &[&str]) -> std::process::Output {
    let out = t.cmd().current_dir(dir).args(args).output().unwrap();
    no_secrets(t, &out);
    out
}

fn pull_in(t: &TestHome, dir: &Path) -> (Value, std::process::Output) {
    let out = run_in(t, dir, &["pull", "--json"]);
    let v = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("pull: not JSON ({e}):\n{}\nstderr:\n{}", text(&out.stdout), text(&out.stderr)));
    (v, out)
}

fn push(t: &TestHome, dir: &Path, url: &str) -> (Value, std::process::Output) {
    let out = run_in(t, dir, &["push", url, "--json"]);
    let v = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("push: not JSON ({e}):\n{}\nstderr:\n{}", text(&out.stdout), text(&out.stderr)));
    (v, out)
}

fn actions(doc: &Value) -> Vec<String> {
    let mut a: Vec<String> =
        doc["files"].as_array().unwrap().iter().map(|f| f["action"].as_str().unwrap().to_string()).collect();
    a.sort();
    a
}

/// Requests for files (not listings or revision lookups) that reached the hub or its CDN.
fn hub_file_requests(w: &World) -> Vec<String> {
    let mut r: Vec<String> =
        w.hub.requests().into_iter().filter(|l| l.path.contains("/resolve/")).map(|l| l.path).collect();
    r.extend(w.cdn.requests().into_iter().map(|l| l.path));
    r
}

/// A on one home pulls and pushes; returns A's project folder and its wharf.lock.
fn a_pushes(w: &World, weed: &Weed) -> (TestHome, PathBuf, String) {
    let a = machine(w, weed, false);
    let dir = project(&a, w);
    let (_, out) = pull_in(&a, &dir);
    assert!(out.status.success(), "A's pull failed: {}", text(&out.stderr));
    let (doc, out) = push(&a, &dir, &weed.url());
    assert!(out.status.success(), "A's push failed: {}", text(&out.stderr));
    assert_eq!(actions(&doc), ["uploaded"; 3], "{doc}");
    let lock = fs::read_to_string(dir.join("wharf.lock")).unwrap();
    (a, dir, lock)
}

/// B: a second home with the project's files (wharf.toml and A's wharf.lock) and the bucket.
fn b_project(w: &World, weed: &Weed, lock: &str) -> (TestHome, PathBuf) {
    let b = machine(w, weed, true);
    let dir = project(&b, w);
    fs::write(dir.join("wharf.lock"), lock).unwrap();
    (b, dir)
}

fn stored(doc: &Value, name: &str) -> Vec<u8> {
    let m = doc["models"].as_array().unwrap().iter().find(|m| m["name"] == name).unwrap();
    fs::read(m["path"].as_str().unwrap()).unwrap()
}

#[test]
fn a_pushes_b_pulls_from_the_bucket_with_no_hub_request_for_a_file() {
    let Some(weed) = Weed::start() else { return };
    let w = world();
    let (a, a_dir, lock) = a_pushes(&w, &weed);
    let _a = (a, a_dir);
    let objects = weed.list("blobs/sha256/");
    for body in [&w.weights, &w.config, &w.plain] {
        assert!(objects.contains(&format!("blobs/sha256/{}", sha256_hex(body))), "{objects:?}");
    }
    assert!(weed.head_exists(&format!("hf/{REPO}/{COMMIT}.json")), "no index for the commit");
    let (hub_before, files_before) = (hub_file_requests(&w).len(), w.files.request_count());

    let (b, dir) = b_project(&w, &weed, &lock);
    let (doc, out) = pull_in(&b, &dir);
    assert!(out.status.success(), "B's pull failed: {}", text(&out.stderr));
    assert_eq!(hub_file_requests(&w).len(), hub_before, "B asked the hub for a file: {:?}", hub_file_requests(&w));
    assert_eq!(w.files.request_count(), files_before, "B asked the URL's server");
    assert_eq!(stored(&doc, "weights"), w.weights);
    assert_eq!(stored(&doc, "config"), w.config);
    assert_eq!(stored(&doc, "plain"), w.plain);
    assert_eq!(fs::read_to_string(dir.join("wharf.lock")).unwrap(), lock, "B's wharf.lock differs");
    // Registered (its environment made), the project passes the CI gate on B.
    b.init(&dir);
    let check = run_in(&b, &dir, &["check"]);
    assert!(check.status.success(), "check failed on B: {}{}", text(&check.stdout), text(&check.stderr));
    // B's hub cache is the standard layout: huggingface_hub finds the files there too.
    let snap = b.hub_cache().join(format!("models--team--model/snapshots/{COMMIT}/model.bin"));
    assert_eq!(fs::read(snap).unwrap(), w.weights);

    // The whole repo, pushed as one (its index marked complete), is pulled on a third machine at
    // the commit B's wharf.lock pins with no request to the hub at all: not even its listing.
    let repo = format!("hf://{REPO}@main");
    let out = run_in(&_a.0, &_a.1, &["pull", &repo]);
    assert!(out.status.success(), "A's whole-repo pull failed: {}", text(&out.stderr));
    let out = run_in(&_a.0, &_a.1, &["push", &weed.url(), &repo, "--json"]);
    assert!(out.status.success(), "A's whole-repo push failed: {}", text(&out.stderr));
    let index: Value = serde_json::from_slice(&weed.get(&format!("hf/{REPO}/{COMMIT}.json")).unwrap()).unwrap();
    assert_eq!(index["complete"], true, "{index}");
    let locked = lock.lines().find_map(|l| l.strip_prefix("commit = ")).unwrap().trim_matches('"').to_string();
    let c = machine(&w, &weed, true);
    let (hub_all, cdn_all) = (w.hub.request_count(), w.cdn.request_count());
    let out = run_in(&c, &c.root(), &["pull", &format!("hf://{REPO}@{locked}"), "--json"]);
    assert!(out.status.success(), "C's whole-repo pull failed: {}", text(&out.stderr));
    assert_eq!(
        (w.hub.request_count(), w.cdn.request_count()),
        (hub_all, cdn_all),
        "C asked the hub: {:?}",
        &w.hub.requests()[hub_all..]
    );
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
    let files = doc["models"].as_array().unwrap();
    assert_eq!(files.len(), 2, "{doc}");
    let config = files.iter().find(|m| m["source"].as_str().unwrap().ends_with("/config.json")).unwrap();
    assert_eq!(fs::read(config["path"].as_str().unwrap()).unwrap(), w.config);
    let snap = c.hub_cache().join(format!("models--team--model/snapshots/{COMMIT}/model.bin"));
    assert_eq!(fs::read(snap).unwrap(), w.weights);
}

#[test]
fn an_altered_object_is_refused_naming_the_bucket_and_the_hub_serves_the_file() {
    let Some(weed) = Weed::start() else { return };
    let w = world();
    let (_a, _, lock) = a_pushes(&w, &weed);
    let key = format!("blobs/sha256/{}", sha256_hex(&w.weights));
    let mut evil = w.weights.clone();
    evil[1000] ^= 0xff;
    weed.put(&key, &evil);

    let (b, dir) = b_project(&w, &weed, &lock);
    let (doc, out) = pull_in(&b, &dir);
    assert!(out.status.success(), "B's pull failed: {}", text(&out.stderr));
    let err = text(&out.stderr);
    assert!(err.contains("checksum mismatch") && err.contains(&format!("s3://team/{key}")), "{err}");
    assert!(!err.contains("X-Amz-Signature"), "a signed URL was printed: {err}");
    assert_eq!(stored(&doc, "weights"), w.weights);
    assert!(!hub_file_requests(&w).is_empty());
}

#[test]
fn a_store_that_is_down_or_refuses_falls_through_to_the_hub_with_one_warning() {
    let Some(mut weed) = Weed::start() else { return };
    let w = world();
    let (_a, _, lock) = a_pushes(&w, &weed);

    // Wrong credentials.
    let (mut b, dir) = b_project(&w, &weed, &lock);
    for (k, v) in b.extra_env.iter_mut() {
        if k == "AWS_SECRET_ACCESS_KEY" {
            *v = "not-the-secret".into();
        }
    }
    let (doc, out) = pull_in(&b, &dir);
    assert!(out.status.success(), "B's pull failed: {}", text(&out.stderr));
    let err = text(&out.stderr);
    assert_eq!(err.matches("warning: team store").count(), 1, "{err}");
    assert!(!err.contains("not-the-secret") && !err.contains("X-Amz-Signature"), "a secret was printed: {err}");
    assert_eq!(stored(&doc, "weights"), w.weights);

    // The store down: one warning, the hub serves, quickly.
    weed.stop();
    let (b2, dir2) = b_project(&w, &weed, &lock);
    let (doc, out) = pull_in(&b2, &dir2);
    assert!(out.status.success(), "B's pull failed: {}", text(&out.stderr));
    let err = text(&out.stderr);
    assert_eq!(err.matches("warning: team store").count(), 1, "{err}");
    assert!(!err.contains("X-Amz-Signature") && !err.contains("X-Amz-Credential"), "a signed URL was printed: {err}");
    assert_eq!(stored(&doc, "config"), w.config);

    // Offline: no network call at all (the store is down; the hub would log a request).
    let before = w.hub.request_count() + w.cdn.request_count();
    let out = run_in(&b2, &dir2, &["pull", "--offline"]);
    assert!(out.status.success(), "offline pull failed: {}", text(&out.stderr));
    assert!(!text(&out.stderr).contains("team store"), "{}", text(&out.stderr));
    assert_eq!(w.hub.request_count() + w.cdn.request_count(), before);
}

#[test]
fn a_second_push_uploads_nothing_and_racing_pushes_leave_one_correct_object() {
    let Some(weed) = Weed::start() else { return };
    let w = world();
    let (a, dir, _) = a_pushes(&w, &weed);
    let (doc, out) = push(&a, &dir, &weed.url());
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(actions(&doc), ["already_there"; 3], "{doc}");

    // Racing pushes of the same files to a fresh prefix: every object once, with its bytes.
    let url = format!("{}/race", weed.url());
    let children: Vec<_> = (0..3)
        .map(|_| {
            let mut c = a.std_cmd();
            c.current_dir(&dir).args(["push", &url, "--json"]);
            c.stdout(std::process::Stdio::piped()).stderr(std::process::Stdio::piped()).spawn().unwrap()
        })
        .collect();
    for c in children {
        let out = c.wait_with_output().unwrap();
        assert!(out.status.success(), "a racing push failed: {}", text(&out.stderr));
        no_secrets(&a, &out);
    }
    for body in [&w.weights, &w.config, &w.plain] {
        let got = weed.get(&format!("race/blobs/sha256/{}", sha256_hex(body))).expect("object missing");
        assert_eq!(&got, body);
    }
    let dry = run_in(&a, &dir, &["push", &format!("{}/other", weed.url()), "--dry-run", "--json"]);
    let doc: Value = serde_json::from_slice(&dry.stdout).unwrap();
    assert_eq!(actions(&doc), ["would_upload"; 3], "{doc}");
    assert!(weed.list("other/").is_empty(), "a dry run uploaded: {:?}", weed.list("other/"));
}

#[test]
fn an_s3_source_in_wharf_toml_works_in_init_pull_locked_check_and_prune() {
    let Some(weed) = Weed::start() else { return };
    let data = pattern(120_000, 11);
    let key = "datasets/v1/data.bin";
    weed.put(key, &data);
    let source = format!("{}/{key}", weed.url());
    let manifest = |sha: &str| format!("[models.data]\nsource = \"{source}\"\nsha256 = \"{sha}\"\n");

    // init pulls it (the project is registered), the lock pins it, check passes.
    let mut a = TestHome::new();
    a.extra_env.extend(weed.s3_env());
    let dir = a.project("app");
    fs::write(dir.join("wharf.toml"), manifest(&sha256_hex(&data))).unwrap();
    let out = run_in(&a, &dir, &["init", "--no-venv", "--json"]);
    assert!(out.status.success(), "init failed: {}", text(&out.stderr));
    let lock = fs::read_to_string(dir.join("wharf.lock")).unwrap();
    assert!(lock.contains(&source) && lock.contains(&sha256_hex(&data)), "{lock}");
    let (doc, out) = pull_in(&a, &dir);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let path = PathBuf::from(doc["models"][0]["path"].as_str().unwrap());
    assert_eq!(fs::read(&path).unwrap(), data);
    let out = run_in(&a, &dir, &["check"]);
    assert!(out.status.success(), "check failed: {}{}", text(&out.stdout), text(&out.stderr));

    // Another machine pulls `--locked` from the bucket, with the same bytes.
    let mut b = TestHome::new();
    b.extra_env.extend(weed.s3_env());
    let b_dir = b.project("app");
    fs::write(b_dir.join("wharf.toml"), manifest(&sha256_hex(&data))).unwrap();
    fs::write(b_dir.join("wharf.lock"), &lock).unwrap();
    let out = run_in(&b, &b_dir, &["pull", "--locked", "--json"]);
    assert!(out.status.success(), "pull --locked failed: {}", text(&out.stderr));
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(fs::read(doc["models"][0]["path"].as_str().unwrap()).unwrap(), data);
    assert_eq!(fs::read_to_string(b_dir.join("wharf.lock")).unwrap(), lock);

    // Bytes that are not the pin are refused, naming the object; nothing is kept.
    let c_dir = b.project("wrong");
    fs::write(c_dir.join("wharf.toml"), manifest(&"0".repeat(64))).unwrap();
    let out = run_in(&b, &c_dir, &["pull"]);
    let err = text(&out.stderr);
    assert!(!out.status.success() && err.contains("checksum mismatch") && err.contains(&source), "{err}");

    // A missing object is a clear error naming it (and no signed URL, checked by `run_in`).
    let d_dir = b.project("missing");
    fs::write(d_dir.join("wharf.toml"), format!("[models.gone]\nsource = \"{}/nothing/here.bin\"\n", weed.url()))
        .unwrap();
    let out = run_in(&b, &d_dir, &["pull"]);
    let err = text(&out.stderr);
    assert!(!out.status.success() && err.contains("s3://team/nothing/here.bin"), "{err}");

    // prune --models keeps it while the project lives, removes it once the project is gone.
    let (doc, out) = a.json(&["prune", "--yes", "--models"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(path.is_file(), "a model in use was pruned: {doc}");
    fs::remove_dir_all(&dir).unwrap();
    let (doc, out) = a.json(&["prune", "--yes", "--models"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(!path.exists(), "the unused model stayed: {doc}");
}

#[test]
fn pull_push_to_writes_through_and_check_remote_and_models_remote_tell_what_the_bucket_has() {
    let Some(weed) = Weed::start() else { return };
    let w = world();
    let a = machine(&w, &weed, true);
    let dir = project(&a, &w);
    let out = run_in(&a, &dir, &["init", "--no-venv"]);
    assert!(out.status.success(), "init failed: {}", text(&out.stderr));
    let check_remote = || {
        let out = run_in(&a, &dir, &["check", "--remote", "--json"]);
        let doc: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {}", text(&out.stderr)));
        let missing: Vec<String> = doc["remote"][0]["models"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|m| m["team_store"].is_null())
            .map(|m| m["name"].as_str().unwrap().to_string())
            .collect();
        (out.status.code(), missing)
    };
    let in_team = |args: &[&str]| {
        let out = run_in(&a, &dir, args);
        assert!(out.status.success(), "{args:?}: {}", text(&out.stderr));
        serde_json::from_slice::<Value>(&out.stdout).unwrap()
    };
    let marked = |doc: &Value| {
        let models = doc["models"].as_array().unwrap();
        models.iter().filter(|m| m["in_team_store"] == true).count()
    };

    // Nothing pushed yet: check --remote fails and names every model; list marks none.
    assert_eq!(check_remote(), (Some(1), vec!["config".into(), "plain".into(), "weights".into()]));
    assert_eq!(marked(&in_team(&["models", "list", "--remote", "--json"])), 0);
    assert!(in_team(&["models", "list", "--json"])["models"][0].get("in_team_store").is_none());

    // pull --push-to writes what the project pulled through to the bucket.
    let out = run_in(&a, &dir, &["pull", "--push-to", &weed.url(), "--json"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(actions(&serde_json::json!({ "files": doc["pushed"] })), ["uploaded"; 3], "{doc}");
    assert!(weed.head_exists(&format!("hf/{REPO}/{COMMIT}.json")));
    assert_eq!(check_remote(), (Some(0), vec![]));
    assert_eq!(marked(&in_team(&["models", "list", "--remote", "--json"])), 3);

    // One object gone: check --remote names its model, stats counts the rest.
    weed.delete(&format!("blobs/sha256/{}", sha256_hex(&w.weights)));
    assert_eq!(check_remote(), (Some(1), vec!["weights".into()]));
    let out = run_in(&a, &dir, &["check", "--remote"]);
    assert!(text(&out.stdout).contains("not in the team store: model `weights`"), "{}", text(&out.stdout));
    let stats = in_team(&["models", "stats", "--remote", "--json"]);
    assert_eq!(stats["in_team_store"], 2, "{stats}");
    assert_eq!(stats["in_team_store_bytes"], (w.config.len() + w.plain.len()) as u64, "{stats}");

    // No team store configured: a usage-level failure that says how to configure one.
    let mut bare = machine(&w, &weed, false);
    bare.extra_env.retain(|(k, _)| k != "WHARF_MIRRORS");
    let out = run_in(&bare, &dir, &["check", "--remote"]);
    assert!(!out.status.success() && text(&out.stderr).contains("WHARF_MIRRORS"), "{}", text(&out.stderr));
}
