//! Models published in `parts`: the assembled file stays where `pull` says it is, and the parts
//! that live in the shared Hugging Face cache keep their index records.

mod support;

use std::fs;
use std::path::{Path, PathBuf};

use serde_json::Value;
use support::server::{pattern, sha256_hex, Server};
use support::{text, TestHome};

const COMMIT: &str = "0123456789abcdef0123456789abcdef01234567";
const REPO: &str = "acme/split-weights";

fn project(t: &TestHome, rel: &str, manifest: &str) -> PathBuf {
    let dir = t.project(rel);
    fs::write(dir.join("wharf.toml"), manifest).unwrap();
    dir
}

fn run_in(t: &TestHome, dir: &Path, args: &[&str]) -> (Value, std::process::Output) {
    let out = t.cmd().current_dir(dir).args(args).arg("--json").output().unwrap();
    (serde_json::from_slice(&out.stdout).unwrap_or(Value::Null), out)
}

fn model_path(doc: &Value, name: &str) -> PathBuf {
    let m = doc["models"].as_array().unwrap().iter().find(|m| m["name"] == name);
    PathBuf::from(m.unwrap_or_else(|| panic!("{name} in {doc}"))["path"].as_str().unwrap())
}

/// `models list --json` items whose sources include `source`.
fn items_with_source<'a>(list: &'a Value, source: &str) -> Vec<&'a Value> {
    list["models"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m["sources"].as_array().unwrap().iter().any(|s| s == source))
        .collect()
}

#[test]
fn a_model_of_one_part_stays_after_assembly() {
    let files = Server::start();
    let body = pattern(5000, 7);
    let sha = sha256_hex(&body);
    let url = files.put_file("single.bin", body.clone());
    let t = TestHome::new();
    let manifest = format!("[models.single]\nparts = [\"{url}#sha256={sha}\"]\nsha256 = \"{sha}\"\n");
    let p = project(&t, "code/single", &manifest);
    let (doc, out) = run_in(&t, &p, &["init", "--no-venv"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let path = model_path(&doc, "single");
    assert_eq!(fs::read(&path).unwrap_or_default(), body, "the printed path `{}` holds the model", path.display());
    let (check, out) = run_in(&t, &p, &["check"]);
    assert!(out.status.success(), "{check}");
    let (list, _) = t.json(&["models", "list"]);
    let recorded = items_with_source(&list, &url);
    assert_eq!(recorded.len(), 1, "the part's record is kept: {list}");
    assert_eq!(recorded[0]["wharf"], true);
    assert_eq!(recorded[0]["path"], path.to_str().unwrap());
    // A second pull finds it in the store: no request.
    let before = files.request_count();
    let (_, out) = run_in(&t, &p, &["pull"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(files.request_count(), before);
}

#[test]
fn hf_parts_keep_their_files_and_records() {
    let (hub, cdn) = Server::hub();
    let (aa, ab) = (pattern(3000, 11), pattern(2500, 12));
    hub.put_repo(&cdn, REPO, COMMIT, &[("w.bin.aa", aa.clone()), ("w.bin.ab", ab.clone())]);
    let whole = [aa.clone(), ab.clone()].concat();
    let mut t = TestHome::new();
    t.extra_env.push(("HF_ENDPOINT".into(), hub.url("")));
    let part = |n: &str| format!("hf://{REPO}@main/{n}");
    let manifest = format!(
        "[models.split]\nparts = [\"{}\", \"{}\"]\nsha256 = \"{}\"\n",
        part("w.bin.aa"),
        part("w.bin.ab"),
        sha256_hex(&whole)
    );
    let p = project(&t, "code/split", &manifest);
    let (doc, out) = run_in(&t, &p, &["init", "--no-venv"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(fs::read(model_path(&doc, "split")).unwrap(), whole);
    let (check, out) = run_in(&t, &p, &["check"]);
    assert!(out.status.success(), "{check}");
    let (list, _) = t.json(&["models", "list"]);
    for (name, body) in [("w.bin.aa", &aa), ("w.bin.ab", &ab)] {
        let recorded = items_with_source(&list, &part(name));
        assert_eq!(recorded.len(), 1, "{name}'s record is kept: {list}");
        assert_eq!(recorded[0]["wharf"], true, "{name}");
        assert_eq!(recorded[0]["id"], format!("hf:{REPO}:{}", sha256_hex(body)));
        // The snapshot link huggingface_hub would read is still there.
        let hub_cache = t.home.join(".cache/huggingface/hub");
        let link = hub_cache.join(format!("models--acme--split-weights/snapshots/{COMMIT}/{name}"));
        assert_eq!(&fs::read(&link).unwrap(), body, "{}", link.display());
    }
    let (verify, out) = t.json(&["models", "verify"]);
    assert!(out.status.success(), "nothing is missing or corrupt: {verify}");
}
