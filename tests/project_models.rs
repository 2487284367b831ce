//! Projects that declare models: wharf.toml, wharf.lock, and models in init, check, prune and gc.

mod support;

use std::fs;
use std::path::{Path, PathBuf};

use serde_json::Value;
use support::server::Server;
use support::{fixture, text, TestHome};

const COMMIT: &str = "fedcba9876543210fedcba9876543210fedcba98";
const REPO: &str = "TheBloke/TinyLlama-1.1B-Chat-v1.0-GGUF";
const Q4: &str = "tinyllama-1.1b-chat-v1.0.Q4_K_M.gguf";
const Q2: &str = "tinyllama-1.1b-chat-v1.0.Q2_K.gguf";

struct World {
    t: TestHome,
    hub: Server,
    cdn: Server,
    files: Server,
}

fn model_file(name: &str) -> Vec<u8> {
    fs::read(fixture("model-files").join(name)).unwrap()
}

/// The hub with the TinyLlama repo (both quantisations unless `without_q4`), a file server with
/// the detector and the classifier's parts, and a home whose HF_ENDPOINT is the hub.
fn world(without_q4: bool) -> World {
    let (hub, cdn) = Server::hub();
    let mut files: Vec<(&str, Vec<u8>)> = vec![(Q2, model_file(Q2))];
    if !without_q4 {
        files.push((Q4, model_file(Q4)));
    }
    hub.put_repo(&cdn, REPO, COMMIT, &files);
    let server = Server::start();
    for f in ["yolov8s.pt", "classifier.h5.aa", "classifier.h5.ab"] {
        server.put_file(f, model_file(f));
    }
    let mut t = TestHome::new();
    t.extra_env.push(("HF_ENDPOINT".into(), hub.url("")));
    World { t, hub, cdn, files: server }
}

/// A copy of fixtures/models-project at `rel` under home, pointed at the file server.
fn project(w: &World, rel: &str) -> PathBuf {
    let dir = w.t.home.join(rel);
    fs::create_dir_all(&dir).unwrap();
    let src = fixture("models-project");
    fs::copy(src.join("pyproject.toml"), dir.join("pyproject.toml")).unwrap();
    let manifest = fs::read_to_string(src.join("wharf.toml")).unwrap().replace("@SERVER@", &w.files.url(""));
    fs::write(dir.join("wharf.toml"), manifest).unwrap();
    dir
}

fn requests(w: &World) -> usize {
    w.hub.request_count() + w.cdn.request_count() + w.files.request_count()
}

fn run_in(w: &World, dir: &Path, args: &[&str]) -> (Value, std::process::Output) {
    let out = w.t.cmd().current_dir(dir).args(args).arg("--json").output().unwrap();
    (serde_json::from_slice(&out.stdout).unwrap_or(Value::Null), out)
}

fn model<'a>(doc: &'a Value, name: &str) -> &'a Value {
    doc["models"].as_array().unwrap().iter().find(|m| m["name"] == name).unwrap_or_else(|| panic!("{name} in {doc}"))
}

#[test]
fn init_pulls_pins_and_records_the_three_models() {
    let w = world(false);
    let p = project(&w, "code/vision");
    let (doc, out) = run_in(&w, &p, &["init", "--no-venv"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(p.join(".env.wharf").is_file() && p.join("wharf.lock").is_file());
    assert_eq!(doc["models"].as_array().unwrap().len(), 3);
    for (name, file) in [("tinyllama", Q4), ("detector", "yolov8s.pt")] {
        let m = model(&doc, name);
        assert_eq!(fs::read(m["path"].as_str().unwrap()).unwrap(), model_file(file), "{name}");
    }
    let whole = [model_file("classifier.h5.aa"), model_file("classifier.h5.ab")].concat();
    assert_eq!(fs::read(model(&doc, "classifier")["path"].as_str().unwrap()).unwrap(), whole);

    let entry = &w.t.registry()["projects"]["${HOME}/code/vision"];
    let recorded: Vec<(String, String)> = entry["models"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| (m["name"].as_str().unwrap().to_string(), m["sha256"].as_str().unwrap().to_string()))
        .collect();
    assert_eq!(recorded.len(), 3);
    for (name, sha) in &recorded {
        assert_eq!(sha, model(&doc, name)["sha256"].as_str().unwrap());
    }
    let lock = fs::read_to_string(p.join("wharf.lock")).unwrap();
    assert!(lock.contains(&format!("commit = \"{COMMIT}\"")), "{lock}");
    assert!(lock.contains("[[model.parts]]"), "{lock}");
    let (check, out) = run_in(&w, &p, &["check"]);
    assert!(out.status.success(), "{check}");
    // `list` shows the models per project; `models list` shows who uses each model.
    let (list, _) = w.t.json(&["list"]);
    let names: Vec<&str> =
        list["projects"][0]["models"].as_array().unwrap().iter().map(|m| m["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["classifier", "detector", "tinyllama"]);
    let human = text(&w.t.run(&["list"]).stdout);
    assert!(human.contains("MODELS") && human.lines().nth(1).unwrap().contains(" 3"), "{human}");
    let (store, _) = w.t.json(&["models", "list"]);
    let used: Vec<&Value> =
        store["models"].as_array().unwrap().iter().filter(|m| !m["used_by"].as_array().unwrap().is_empty()).collect();
    assert_eq!(used.len(), 3, "{store}");
    assert!(used.iter().all(|m| m["used_by"][0] == p.to_str().unwrap()));
}

#[test]
fn a_second_pull_makes_no_request_and_leaves_the_lock_byte_identical() {
    let w = world(false);
    let p = project(&w, "code/vision");
    let (_, out) = run_in(&w, &p, &["init", "--no-venv"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let lock = fs::read(p.join("wharf.lock")).unwrap();
    let before = requests(&w);
    let (doc, out) = run_in(&w, &p, &["pull"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(requests(&w), before, "zero requests");
    assert!(doc["models"].as_array().unwrap().iter().all(|m| m["cached"] == true), "{doc}");
    assert_eq!(doc["lock"]["changed"], false);
    assert_eq!(fs::read(p.join("wharf.lock")).unwrap(), lock);
    // --locked agrees; --offline works from the lock.
    let (_, out) = run_in(&w, &p, &["pull", "--locked"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let (_, out) = run_in(&w, &p, &["pull", "--offline"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(requests(&w), before);
}

#[test]
fn when_the_primary_is_missing_the_fallback_is_fetched_locked_and_reported() {
    let w = world(true);
    let p = project(&w, "code/vision");
    let (doc, out) = run_in(&w, &p, &["pull"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let m = model(&doc, "tinyllama");
    assert_eq!(m["fallback"], true);
    assert!(m["source"].as_str().unwrap().ends_with(Q2));
    assert_eq!(fs::read(m["path"].as_str().unwrap()).unwrap(), model_file(Q2));
    let err = text(&out.stderr);
    assert!(err.contains("used the fallback") && err.contains("404"), "{err}");
    let lock = fs::read_to_string(p.join("wharf.lock")).unwrap();
    assert!(lock.contains(Q2) && !lock.contains(Q4), "{lock}");
    // The lock pins the fallback: the next pull goes straight to it, with no request.
    let before = requests(&w);
    let (_, out) = run_in(&w, &p, &["pull"]);
    assert!(out.status.success());
    assert_eq!(requests(&w), before);
}

#[test]
fn a_corrupt_part_is_named_and_nothing_is_assembled() {
    let w = world(false);
    w.files.faults().corrupt_paths.push("/files/classifier.h5.ab".into());
    let p = project(&w, "code/vision");
    let (_, out) = run_in(&w, &p, &["pull"]);
    assert_eq!(out.status.code(), Some(1));
    let err = text(&out.stderr);
    assert!(
        err.contains("part 2 of 2") && err.contains("classifier.h5.ab") && err.contains("checksum mismatch"),
        "{err}"
    );
    let whole = fs::read_to_string(p.join("wharf.toml")).unwrap();
    let sha = whole.lines().rev().find(|l| l.starts_with("sha256")).unwrap().split('"').nth(1).unwrap().to_string();
    let blobs = w.t.wharf_home.join("cache/blobs/sha256");
    assert!(!blobs.join(&sha).exists(), "nothing assembled");
    let temps: Vec<_> = walkdir::WalkDir::new(&blobs)
        .into_iter()
        .filter_map(Result::ok)
        .filter(|e| e.path().to_string_lossy().contains("incomplete"))
        .collect();
    assert!(temps.is_empty(), "{temps:?}");
    assert!(!p.join("wharf.lock").exists(), "no lock for a failed pull");
}

#[test]
fn a_deleted_model_fails_check_until_pull_restores_it() {
    let w = world(false);
    let p = project(&w, "code/vision");
    let (doc, out) = run_in(&w, &p, &["init", "--no-venv"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let detector = PathBuf::from(model(&doc, "detector")["path"].as_str().unwrap());
    fs::remove_file(&detector).unwrap();
    let (check, out) = run_in(&w, &p, &["check"]);
    assert_eq!(out.status.code(), Some(1), "{check}");
    let reason = &check["projects"][0]["reasons"][0];
    assert_eq!(reason["code"], "model_missing");
    assert!(
        reason["message"].as_str().unwrap().contains("detector")
            && reason["message"].as_str().unwrap().contains("wharf pull")
    );
    let (_, out) = run_in(&w, &p, &["pull"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(detector.is_file());
    let (check, out) = run_in(&w, &p, &["check"]);
    assert!(out.status.success(), "{check}");
    // A corrupted model (same size) is found by --full only.
    let mut b = fs::read(&detector).unwrap();
    b[10] ^= 1;
    fs::write(&detector, b).unwrap();
    let (_, out) = run_in(&w, &p, &["check"]);
    assert!(out.status.success());
    let (check, out) = run_in(&w, &p, &["check", "--full"]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(check["projects"][0]["reasons"][0]["code"], "model_corrupt");
}

#[test]
fn a_lock_that_disagrees_with_the_manifest_fails_check_and_locked_pull() {
    let w = world(false);
    let p = project(&w, "code/vision");
    let (_, out) = run_in(&w, &p, &["init", "--no-venv"]);
    assert!(out.status.success());
    let manifest = fs::read_to_string(p.join("wharf.toml")).unwrap().replace(Q4, Q2);
    fs::write(p.join("wharf.toml"), manifest).unwrap();
    let (check, out) = run_in(&w, &p, &["check"]);
    assert_eq!(out.status.code(), Some(1));
    let codes: Vec<&str> =
        check["projects"][0]["reasons"].as_array().unwrap().iter().map(|r| r["code"].as_str().unwrap()).collect();
    assert!(codes.contains(&"lock_mismatch"), "{check}");
    let (_, out) = run_in(&w, &p, &["pull", "--locked"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("wharf.lock would change"), "{}", text(&out.stderr));
    let (_, out) = run_in(&w, &p, &["pull"]);
    assert!(out.status.success());
    let (check, out) = run_in(&w, &p, &["check"]);
    assert!(out.status.success(), "{check}");
}

#[test]
fn a_broken_manifest_names_the_line_and_key() {
    let w = world(false);
    let p = project(&w, "code/vision");
    fs::write(p.join("wharf.toml"), "[models.a]\nsource = \"hf://o/r/f\"\nsha256 = \"xyz\"\n").unwrap();
    let (_, out) = run_in(&w, &p, &["pull"]);
    assert_eq!(out.status.code(), Some(2));
    let err = text(&out.stderr);
    assert!(err.contains("wharf.toml:3") && err.contains("models.a.sha256"), "{err}");
}

#[test]
fn shared_models_survive_pruning_one_project_and_go_with_the_last() {
    let w = world(false);
    let a = project(&w, "code/a");
    let b = project(&w, "code/b");
    for p in [&a, &b] {
        let (_, out) = run_in(&w, p, &["init", "--no-venv"]);
        assert!(out.status.success(), "{}", text(&out.stderr));
    }
    // A model another tool put in the Hugging Face cache.
    let foreign = w.t.home.join(".cache/huggingface/hub/models--other--tool/blobs/abc123");
    fs::create_dir_all(foreign.parent().unwrap()).unwrap();
    fs::write(&foreign, b"not wharf's").unwrap();
    let (list, _) = w.t.json(&["models", "list"]);
    let files: Vec<String> = list["models"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m["wharf"] == true)
        .map(|m| m["path"].as_str().unwrap().to_string())
        .collect();
    assert!(!files.is_empty());

    fs::remove_dir_all(&a).unwrap();
    let (doc, out) = w.t.json(&["prune", "--yes", "--models"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let models_removed = doc["items"].as_array().unwrap().iter().filter(|i| i["kind"] == "model").count();
    assert_eq!(models_removed, 0, "b still uses every model: {doc}");
    for f in &files {
        assert!(Path::new(f).exists(), "{f}");
    }
    fs::remove_dir_all(&b).unwrap();
    let (doc, out) = w.t.json(&["prune", "--yes", "--models"]);
    assert!(out.status.success());
    let removed: Vec<&Value> =
        doc["items"].as_array().unwrap().iter().filter(|i| i["kind"] == "model" && i["action"] == "removed").collect();
    assert!(!removed.is_empty(), "{doc}");
    for f in &files {
        assert!(!Path::new(f).exists(), "{f} should be gone");
    }
    assert!(foreign.is_file(), "another tool's file is never touched");
    assert!(doc["reclaimed_bytes"].as_u64().unwrap() > 0);
}

#[test]
fn gc_evicts_only_unreferenced_models_least_recently_used_first() {
    let w = world(false);
    let p = project(&w, "code/vision");
    let (_, out) = run_in(&w, &p, &["init", "--no-venv"]);
    assert!(out.status.success());
    // Two unreferenced files, pulled by hand: old first, then new.
    let old = w.files.put_file("old.bin", vec![1u8; 60_000]);
    let new = w.files.put_file("new.bin", vec![2u8; 60_000]);
    for u in [&old, &new] {
        let (_, out) = w.t.json(&["pull", u]);
        assert!(out.status.success());
    }
    let (stats, _) = w.t.json(&["models", "stats"]);
    let total = stats["total_size_bytes"].as_u64().unwrap();
    // A cap that one eviction satisfies: the least recently used unreferenced file goes.
    let (doc, out) = w.t.json(&["models", "gc", "--max-size", &format!("{}B", total - 50_000)]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(doc["evicted"].as_array().unwrap().len(), 1, "{doc}");
    assert_eq!(doc["freed_bytes"], 60_000);
    let (list, _) = w.t.json(&["models", "list"]);
    let sources: Vec<String> = list["models"].as_array().unwrap().iter().map(|m| m["sources"].to_string()).collect();
    assert!(
        sources.iter().any(|s| s.contains("new.bin")) && !sources.iter().any(|s| s.contains("old.bin")),
        "{sources:?}"
    );
    // A cap below what the project uses: every unreferenced file goes, referenced ones stay.
    let (doc, _) = w.t.json(&["models", "gc", "--max-size", "1B"]);
    assert_eq!(doc["under_cap"], false);
    let (check, out) = run_in(&w, &p, &["check"]);
    assert!(out.status.success(), "the project's models were not evicted: {check}");
}

#[test]
fn parts_already_present_are_not_fetched_again() {
    let w = world(false);
    w.files.faults().corrupt_paths.push("/files/classifier.h5.ab".into());
    let p = project(&w, "code/vision");
    let (_, out) = run_in(&w, &p, &["pull"]);
    assert_eq!(out.status.code(), Some(1));
    w.files.faults().corrupt_paths.clear();
    let (doc, out) = run_in(&w, &p, &["pull"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let asked = |name: &str| w.files.requests().iter().filter(|r| r.path.ends_with(name)).count();
    assert_eq!(asked("classifier.h5.aa"), 1, "the good part was kept from the failed attempt");
    assert_eq!(asked("classifier.h5.ab"), 2);
    let whole = [model_file("classifier.h5.aa"), model_file("classifier.h5.ab")].concat();
    assert_eq!(fs::read(model(&doc, "classifier")["path"].as_str().unwrap()).unwrap(), whole);
}
