//! Answers that are always true: `check` judges the models a project declares whatever happened
//! before, `pull` repairs what it finds wrong, `--refresh` asks again for what nothing pins, an
//! offline pull writes nothing, and every hint printed is a command that, run as printed, fixes it.

mod support;

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Output;

use serde_json::Value;
use support::server::{pattern, sha256_hex, Server};
use support::{codes, text, TestHome};

const REPO: &str = "acme/weights";
const COMMIT: &str = "0123456789abcdef0123456789abcdef01234567";
const COMMIT2: &str = "89abcdef0123456789abcdef0123456789abcdef";

/// A home whose HF_ENDPOINT is `hub` (loopback), with quick retries.
fn home(hub: &Server) -> TestHome {
    let mut t = TestHome::with_hub(hub);
    t.extra_env.push(("WHARF_MAX_RETRIES".into(), "0".into()));
    t
}

fn project(t: &TestHome, rel: &str, manifest: &str) -> PathBuf {
    let dir = t.project(rel);
    fs::write(dir.join("wharf.toml"), manifest).unwrap();
    dir
}

/// `wharf ARGS --json` in `dir`: the document (Null when stdout is not JSON) and the output.
fn run_in(t: &TestHome, dir: &Path, args: &[&str]) -> (Value, Output) {
    let out = t.cmd().current_dir(dir).args(args).arg("--json").output().unwrap();
    (serde_json::from_slice(&out.stdout).unwrap_or(Value::Null), out)
}

fn model<'a>(doc: &'a Value, name: &str) -> &'a Value {
    doc["models"].as_array().unwrap().iter().find(|m| m["name"] == name).unwrap_or_else(|| panic!("{name} in {doc}"))
}

/// The message of the reason `code` of the one project in a `check --json` document.
fn reason(doc: &Value, code: &str) -> String {
    let reasons = doc["projects"][0]["reasons"].as_array().unwrap();
    let r = reasons.iter().find(|r| r["code"] == code).unwrap_or_else(|| panic!("no {code} in {doc}"));
    r["message"].as_str().unwrap().to_string()
}

/// The first backticked `wharf …` command in `message`, as arguments after `wharf`.
fn hinted_command(message: &str) -> Vec<String> {
    let cmd = message
        .split('`')
        .skip(1)
        .step_by(2)
        .find(|s| s.starts_with("wharf "))
        .unwrap_or_else(|| panic!("no `wharf …` command in {message:?}"));
    cmd.split_whitespace().skip(1).map(str::to_string).collect()
}

/// Run the command the reason `code` names, as printed, in the project; it must succeed.
fn run_hint(t: &TestHome, dir: &Path, check: &Value, code: &str) -> Vec<String> {
    let message = reason(check, code);
    assert!(message.contains("in the project"), "the hint says where to run it: {message}");
    let args = hinted_command(&message);
    let out = t.cmd().current_dir(dir).args(&args).output().unwrap();
    assert!(out.status.success(), "the hint `wharf {}` failed: {}", args.join(" "), text(&out.stderr));
    args
}

fn check(t: &TestHome, dir: &Path, full: bool) -> (Value, Output) {
    run_in(t, dir, if full { &["check", "--full"] } else { &["check"] })
}

/// Flip one byte in the middle of `path` (through a link), keeping its size.
fn corrupt_same_size(path: &Path) {
    let mut b = fs::read(path).unwrap();
    let mid = b.len() / 2;
    b[mid] ^= 0xff;
    fs::write(path, b).unwrap();
}

#[test]
fn a_dead_server_at_init_leaves_a_registered_project_that_fails_check_until_pull() {
    let (hub, _cdn) = Server::hub();
    let body = pattern(3000, 41);
    // A port that was bound and closed: nothing answers there (connection refused).
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let url = format!("http://127.0.0.1:{port}/files/weights.bin");
    let t = home(&hub);
    let p = project(&t, "code/dead", &format!("[models.w]\nsource = \"{url}\"\nsha256 = \"{}\"\n", sha256_hex(&body)));

    let out = t.cmd().current_dir(&p).args(["init", "--no-venv"]).output().unwrap();
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("is registered (environment and marker written)"), "says it is registered: {err}");
    assert!(err.contains("models are missing"), "{err}");
    assert!(err.contains(&format!("run `wharf pull` in `{}`", p.display())), "names the command: {err}");
    assert!(p.join(".env.wharf").is_file() && t.registry()["projects"]["${HOME}/code/dead"].is_object());

    // Whatever happened before, check tells the truth.
    let (doc, out) = check(&t, &p, false);
    assert_eq!(out.status.code(), Some(1), "{doc}");
    assert_eq!(doc["projects"][0]["status"], "mismatch");
    let found = codes(&doc, &p);
    assert!(found.contains(&"model_missing".to_string()) && found.contains(&"lock_mismatch".to_string()), "{doc}");

    // The server comes back on the same port: the hint, run as printed, makes check pass.
    let server = Server::start_on(port);
    server.put_file("weights.bin", body.clone());
    assert_eq!(run_hint(&t, &p, &doc, "model_missing"), ["pull"]);
    let (doc, out) = check(&t, &p, false);
    assert!(out.status.success(), "{doc}");
    assert!(p.join("wharf.lock").is_file());
}

/// A project with an URL model and two Hugging Face files (an LFS one and a small git one).
struct Three {
    t: TestHome,
    hub: Server,
    cdn: Server,
    files: Server,
    p: PathBuf,
    bodies: BTreeMap<&'static str, Vec<u8>>,
    /// Each model's path, as init printed it.
    paths: BTreeMap<String, PathBuf>,
}

fn three() -> Three {
    let (hub, cdn) = Server::hub();
    let (big, small, url_body) = (pattern(4000, 1), b"{\"vocab\": 3}\n".to_vec(), pattern(2500, 2));
    hub.put_repo(&cdn, REPO, COMMIT, &[("big.bin", big.clone()), ("tok.json", small.clone())]);
    let files = Server::start();
    let url = files.put_file("detector.pt", url_body.clone());
    let t = home(&hub);
    let manifest = format!(
        "[models.big]\nsource = \"hf://{REPO}@main/big.bin\"\n[models.tok]\nsource = \"hf://{REPO}@main/tok.json\"\n\
         [models.det]\nsource = \"{url}\"\nsha256 = \"{}\"\n",
        sha256_hex(&url_body)
    );
    let p = project(&t, "code/three", &manifest);
    let (doc, out) = run_in(&t, &p, &["init", "--no-venv"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(doc["models"].as_array().unwrap().len(), 3);
    let bodies = BTreeMap::from([("big", big), ("tok", small), ("det", url_body)]);
    let paths = doc["models"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| (m["name"].as_str().unwrap().to_string(), PathBuf::from(m["path"].as_str().unwrap())))
        .collect();
    Three { t, hub, cdn, files, p, bodies, paths }
}

impl Three {
    fn path(&self, name: &str) -> PathBuf {
        self.paths[name].clone()
    }

    fn requests(&self) -> usize {
        self.hub.request_count() + self.cdn.request_count() + self.files.request_count()
    }

    fn assert_intact(&self) {
        for (name, body) in &self.bodies {
            assert_eq!(&fs::read(self.path(name)).unwrap(), body, "{name} holds its bytes again");
        }
    }
}

#[test]
fn same_size_corruption_is_found_by_check_full_and_its_hint_repairs_it() {
    let w = three();
    for name in ["big", "tok", "det"] {
        corrupt_same_size(&w.path(name));
    }
    let (doc, out) = check(&w.t, &w.p, true);
    assert_eq!(out.status.code(), Some(1), "{doc}");
    let corrupt = doc["projects"][0]["reasons"].as_array().unwrap().iter().filter(|r| r["code"] == "model_corrupt");
    assert_eq!(corrupt.count(), 3, "each corrupt model is named: {doc}");
    // The hint, run as printed, repairs all three (a plain pull trusts the size and could not).
    assert_eq!(run_hint(&w.t, &w.p, &doc, "model_corrupt"), ["pull", "--verify"]);
    let (doc, out) = check(&w.t, &w.p, true);
    assert!(out.status.success(), "{doc}");
    w.assert_intact();
    // A sound store: `pull --verify` re-hashes and fetches nothing.
    let before = w.requests();
    let (_, out) = run_in(&w.t, &w.p, &["pull", "--verify"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(w.requests(), before, "nothing was wrong, nothing was fetched");
}

#[test]
fn a_truncated_model_is_fetched_again_by_a_plain_pull() {
    let w = three();
    for name in ["big", "tok", "det"] {
        let path = w.path(name);
        let b = fs::read(&path).unwrap();
        fs::write(&path, &b[..b.len() / 2]).unwrap();
    }
    let (doc, out) = check(&w.t, &w.p, false);
    assert_eq!(out.status.code(), Some(1), "{doc}");
    assert_eq!(run_hint(&w.t, &w.p, &doc, "model_corrupt"), ["pull"]);
    let (doc, out) = check(&w.t, &w.p, true);
    assert!(out.status.success(), "{doc}");
    w.assert_intact();
}

#[test]
fn refresh_asks_again_for_an_unpinned_url_and_a_branch() {
    let (hub, cdn) = Server::hub();
    let (old_w, new_w) = (pattern(3000, 5), pattern(3100, 6));
    hub.put_repo(&cdn, REPO, COMMIT, &[("w.bin", old_w.clone())]);
    let files = Server::start();
    let (old, new) = (pattern(2000, 3), pattern(2000, 4));
    let url = files.put_file("latest.bin", old.clone());
    let t = home(&hub);
    let manifest = format!("[models.latest]\nsource = \"{url}\"\n[models.w]\nsource = \"hf://{REPO}@main/w.bin\"\n");
    let p = project(&t, "code/fresh", &manifest);
    let (doc, out) = run_in(&t, &p, &["init", "--no-venv"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(fs::read(model(&doc, "latest")["path"].as_str().unwrap()).unwrap(), old);

    // The server's bytes change; a plain pull serves what is stored, asking nobody.
    files.put_file("latest.bin", new.clone());
    hub.put_repo(&cdn, REPO, COMMIT2, &[("w.bin", new_w.clone())]);
    let before = (files.request_count(), hub.request_count());
    let (doc, out) = run_in(&t, &p, &["pull"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(fs::read(model(&doc, "latest")["path"].as_str().unwrap()).unwrap(), old);
    assert_eq!(fs::read(model(&doc, "w")["path"].as_str().unwrap()).unwrap(), old_w);
    assert_eq!((files.request_count(), hub.request_count()), before, "the lock agrees: no request");

    let (doc, out) = run_in(&t, &p, &["pull", "--refresh"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(fs::read(model(&doc, "latest")["path"].as_str().unwrap()).unwrap(), new);
    assert_eq!(fs::read(model(&doc, "w")["path"].as_str().unwrap()).unwrap(), new_w);
    assert_eq!(doc["lock"]["changed"], true, "{doc}");
    let lock = fs::read_to_string(p.join("wharf.lock")).unwrap();
    assert!(lock.contains(&sha256_hex(&new)) && !lock.contains(&sha256_hex(&old)), "{lock}");
    assert!(lock.contains(COMMIT2) && lock.contains(&sha256_hex(&new_w)), "{lock}");
    let (doc, out) = check(&t, &p, true);
    assert!(out.status.success(), "the registry follows the lock: {doc}");
}

#[test]
fn parts_whose_assembled_file_is_stored_are_not_fetched() {
    let (hub, _cdn) = Server::hub();
    let files = Server::start();
    let (aa, ab) = (pattern(3000, 21), pattern(2000, 22));
    let whole = sha256_hex(&[aa.clone(), ab.clone()].concat());
    let (ua, ub) = (files.put_file("m.aa", aa.clone()), files.put_file("m.ab", ab.clone()));
    let manifest =
        format!("[models.m]\nparts = [\"{ua}#sha256={}\", \"{ub}\"]\nsha256 = \"{whole}\"\n", sha256_hex(&aa));
    let t = home(&hub);
    let first = project(&t, "code/first", &manifest);
    let (_, out) = run_in(&t, &first, &["init", "--no-venv"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(files.request_count() > 0);
    let fetched_lock = fs::read_to_string(first.join("wharf.lock")).unwrap();

    // Another project with the same model, and the first one without its lock: no part is asked for.
    let before = files.request_count();
    let second = project(&t, "code/second", &manifest);
    let (doc, out) = run_in(&t, &second, &["init", "--no-venv"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(model(&doc, "m")["cached"], true, "{doc}");
    fs::remove_file(first.join("wharf.lock")).unwrap();
    let (_, out) = run_in(&t, &first, &["pull"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(files.request_count(), before, "{:?}", files.requests().iter().map(|r| &r.path).collect::<Vec<_>>());
    for p in [&first, &second] {
        let lock = fs::read_to_string(p.join("wharf.lock")).unwrap();
        assert!(lock.contains(&whole) && lock.contains(&ub), "{lock}");
        let (doc, out) = check(&t, p, true);
        assert!(out.status.success(), "{doc}");
    }
    // The lock does not depend on what the store held: parts fetched or the whole found, the same
    // entry; so a fresh machine's `pull --locked` agrees with a lock written where the file was stored.
    assert_eq!(fs::read_to_string(second.join("wharf.lock")).unwrap(), fetched_lock);
    let fresh = home(&hub);
    let third = project(&fresh, "code/third", &manifest);
    fs::copy(second.join("wharf.lock"), third.join("wharf.lock")).unwrap();
    let (_, out) = run_in(&fresh, &third, &["pull", "--locked"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(fs::read_to_string(third.join("wharf.lock")).unwrap(), fetched_lock);

    // A truncated assembled file is not taken for the model: the parts are fetched again and the
    // new assembly replaces it.
    let path = PathBuf::from(model(&doc, "m")["path"].as_str().unwrap());
    fs::write(&path, &aa[..100]).unwrap();
    let (doc, out) = run_in(&t, &second, &["pull"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(model(&doc, "m")["cached"], false, "{doc}");
    assert_eq!(sha256_hex(&fs::read(&path).unwrap()), whole);
    assert!(files.request_count() > before);
}

/// Every entry under `root` with its kind, content digest and modification time.
fn tree(root: &Path) -> BTreeMap<PathBuf, String> {
    let mut out = support::snapshot::<&Path>(root, &[]);
    for (path, what) in out.iter_mut() {
        let m = fs::symlink_metadata(path).unwrap();
        what.push_str(&format!(" {:?} {:?}", m.modified().unwrap(), m.len()));
    }
    out
}

#[test]
fn an_offline_pull_writes_nothing_and_says_what_the_lock_would_need() {
    let w = three();
    let root = w.t.root();
    let requests = w.requests();
    // The lock agrees: an offline pull serves everything and touches nothing.
    let before = tree(&root);
    let (doc, out) = run_in(&w.t, &w.p, &["pull", "--offline"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(doc["lock"]["changed"], false);
    assert_eq!(tree(&root), before, "an offline pull wrote something");

    // Without a lock: still nothing written, and it says what the lock would need.
    fs::remove_file(w.p.join("wharf.lock")).unwrap();
    let before = tree(&root);
    let (doc, out) = run_in(&w.t, &w.p, &["pull", "--offline"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(tree(&root), before, "an offline pull wrote something");
    assert_eq!(doc["lock"]["changed"], false);
    assert_eq!(doc["lock"]["would_change"], serde_json::json!(["there is no wharf.lock"]), "{doc}");
    let err = text(&out.stderr);
    assert!(err.contains("wharf.lock was not written") && err.contains("`wharf pull`"), "{err}");
    assert_eq!(w.requests(), requests, "offline: no request");
}

#[test]
fn a_pin_met_by_bytes_another_source_brought_says_so() {
    let (hub, _cdn) = Server::hub();
    let files = Server::start();
    let body = pattern(1500, 9);
    let (a, b) = (files.put_file("tokenizer.json", body.clone()), files.put_file("other.json", pattern(10, 1)));
    let t = home(&hub);
    let (_, out) = t.json(&["pull", &a]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let before = files.request_count();
    // `b` pinned with `a`'s digest: the store has those bytes, fetched from `a`.
    let spec = format!("{b}#sha256={}", sha256_hex(&body));
    let (doc, out) = t.json(&["pull", &spec]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(doc["models"][0]["cached"], true);
    assert_eq!(doc["models"][0]["same_as"], a.as_str(), "{doc}");
    let human = t.run(&["pull", &spec]);
    assert!(text(&human.stderr).contains(&format!("same bytes as {a}")), "{}", text(&human.stderr));
    assert_eq!(files.request_count(), before);
    // Pulling `a` itself says nothing of the kind.
    let (doc, _) = t.json(&["pull", &a]);
    assert!(doc["models"][0].get("same_as").is_none(), "{doc}");

    // In a project, too.
    let p = project(&t, "code/tok", &format!("[models.tok]\nsource = \"{spec}\"\n"));
    let (doc, out) = run_in(&t, &p, &["pull"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(model(&doc, "tok")["same_as"], a.as_str(), "{doc}");
    assert!(text(&out.stderr).contains(&format!("same bytes as {a}")), "{}", text(&out.stderr));
}
