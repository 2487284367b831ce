//! `wharf models`: list, verify (and --fix), gc, rm, clear — against real pulled files.

mod support;

use std::fs;
use std::path::PathBuf;

use serde_json::Value;
use support::server::{pattern, Server};
use support::{text, TestHome};

const COMMIT: &str = "89abcdef0123456789abcdef0123456789abcdef";

fn pulled(t: &TestHome, spec: &str) -> PathBuf {
    let out = t.cmd().args(["pull", "--json", spec]).output().unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    PathBuf::from(v["models"][0]["path"].as_str().unwrap())
}

fn home(hub: &Server) -> TestHome {
    let mut t = TestHome::new();
    t.extra_env.push(("HF_ENDPOINT".into(), hub.url("")));
    t
}

#[test]
fn verify_finds_corrupted_and_missing_and_fix_removes_the_corrupted() {
    let (hub, cdn) = Server::hub();
    hub.put_repo(
        &cdn,
        "org/m",
        COMMIT,
        &[("a.bin", pattern(8192, 1)), ("b.bin", pattern(8192, 2)), ("c.json", b"{}\n".to_vec())],
    );
    let url = hub.put_file("d.bin", pattern(5000, 3));
    let t = home(&hub);
    let a = fs::canonicalize(pulled(&t, "hf://org/m/a.bin")).unwrap();
    let b = fs::canonicalize(pulled(&t, "hf://org/m/b.bin")).unwrap();
    let c = fs::canonicalize(pulled(&t, "hf://org/m/c.json")).unwrap();
    let d = pulled(&t, &url);
    let (ok, out) = t.json(&["models", "verify"]);
    assert!(out.status.success(), "{ok}");
    assert_eq!(ok["valid"].as_array().unwrap().len(), 4);

    // Corrupt one LFS blob (same size), one small git blob, and delete another blob.
    let mut bytes = fs::read(&a).unwrap();
    bytes[100] ^= 1;
    fs::write(&a, bytes).unwrap();
    fs::write(&c, b"[]\n").unwrap();
    fs::remove_file(&b).unwrap();
    let (doc, out) = t.json(&["models", "verify"]);
    assert_eq!(out.status.code(), Some(1), "{doc}");
    let corrupted: Vec<&str> = doc["corrupted"].as_array().unwrap().iter().map(|v| v.as_str().unwrap()).collect();
    assert_eq!(corrupted.len(), 2, "{doc}");
    assert!(corrupted.iter().any(|id| id.ends_with(a.file_name().unwrap().to_str().unwrap())));
    assert!(corrupted.iter().any(|id| id.ends_with(c.file_name().unwrap().to_str().unwrap())));
    let missing = doc["missing"].as_array().unwrap();
    let b_id = format!("hf:org/m:{}", b.file_name().unwrap().to_str().unwrap());
    assert_eq!(missing.len(), 1, "the missing blob is listed once, its record and its link as one: {doc}");
    assert_eq!(missing[0], b_id.as_str(), "{doc}");
    assert!(d.is_file());

    let (fixed, out) = t.json(&["models", "verify", "--fix"]);
    assert!(out.status.success(), "{fixed}");
    assert!(!a.exists() && !c.exists(), "the corrupted blobs are removed");
    assert!(d.is_file(), "a valid blob stays");
    let (after, out) = t.json(&["models", "verify"]);
    assert!(out.status.success(), "{after}");
    // And pull brings the removed files back.
    let again = fs::canonicalize(pulled(&t, "hf://org/m/a.bin")).unwrap();
    assert_eq!(fs::read(again).unwrap(), pattern(8192, 1));
}

#[test]
fn gc_evicts_least_recently_used_wharf_files_only_and_reports_bytes() {
    let server = Server::start();
    let t = home(&server);
    let urls: Vec<String> = (0..3).map(|i| server.put_file(&format!("m{i}.bin"), pattern(100_000, 10 + i))).collect();
    for u in &urls {
        pulled(&t, u);
    }
    // Use m0 again so m1 becomes the least recently used (last_used has millisecond resolution,
    // and each pull is a process of its own).
    pulled(&t, &urls[0]);
    // A file another tool put in the Hugging Face cache is never touched.
    let foreign = t.home.join(".cache/huggingface/hub/models--other--tool/blobs");
    fs::create_dir_all(&foreign).unwrap();
    fs::write(foreign.join("deadbeef"), vec![0u8; 150_000]).unwrap();

    let (dry, _) = t.json(&["models", "gc", "--max-size", "300000B", "--dry-run"]);
    let (doc, out) = t.json(&["models", "gc", "--max-size", "300000B"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(dry["evicted"], doc["evicted"]);
    let evicted: Vec<&str> = doc["evicted"].as_array().unwrap().iter().map(|v| v.as_str().unwrap()).collect();
    let (list, _) = t.json(&["models", "list"]);
    let left: Vec<String> = list["models"].as_array().unwrap().iter().map(|m| m["sources"].to_string()).collect();
    assert_eq!(evicted.len(), 2, "{doc}");
    assert_eq!(doc["freed_bytes"], 200_000);
    assert!(left.iter().any(|s| s.contains("m0.bin")), "the recently used one stays: {left:?}");
    assert!(foreign.join("deadbeef").is_file());
    assert_eq!(doc["under_cap"], true);

    let (doc, _) = t.json(&["models", "gc", "--max-size", "1B"]);
    assert_eq!(doc["under_cap"], false, "the foreign file keeps the store over a tiny cap");
    assert!(foreign.join("deadbeef").is_file());
    let (_, out) = t.json(&["models", "gc", "--max-size", "lots"]);
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn rm_and_clear_remove_only_what_they_name_and_what_wharf_fetched() {
    let server = Server::start();
    let t = home(&server);
    let u1 = server.put_file("x.bin", pattern(3000, 20));
    let u2 = server.put_file("y.bin", pattern(3000, 21));
    let p1 = pulled(&t, &u1);
    let p2 = pulled(&t, &u2);
    let id = format!("sha256:{}", p1.file_name().unwrap().to_str().unwrap());
    let (doc, out) = t.json(&["models", "rm", &id]);
    assert!(out.status.success(), "{doc}");
    assert!(!p1.exists() && p2.exists());
    let (_, out) = t.json(&["models", "rm", "sha256:nope"]);
    assert_eq!(out.status.code(), Some(2));
    let out = t.run(&["models", "clear"]);
    assert_eq!(out.status.code(), Some(2), "no terminal, no --yes");
    assert!(p2.exists());
    let out = t.run(&["models", "clear"]);
    assert!(text(&out.stderr).contains("--yes"), "{}", text(&out.stderr));
    let (doc, out) = t.json(&["models", "clear", "--yes"]);
    assert!(out.status.success(), "{doc}");
    assert!(!p2.exists());
    // Nothing left to clear needs no answer, even off a terminal.
    let out = t.run(&["models", "clear"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let (stats, _) = t.json(&["models", "stats"]);
    assert_eq!(stats["total_models"], 0);
}

#[test]
fn a_use_moves_last_used_and_wharfs_own_hashing_does_not() {
    let server = Server::start();
    let t = home(&server);
    let urls: Vec<String> = (0..2).map(|i| server.put_file(&format!("u{i}.bin"), pattern(300_000, 40 + i))).collect();
    for u in &urls {
        pulled(&t, u);
    }
    let last_used = |t: &TestHome| -> Vec<String> {
        let (list, _) = t.json(&["models", "list"]);
        let mut v: Vec<(String, String)> = list["models"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| (m["sources"][0].as_str().unwrap().to_string(), m["last_used"].as_str().unwrap().to_string()))
            .collect();
        v.sort();
        v.into_iter().map(|(_, l)| l).collect()
    };
    let before = last_used(&t);
    // Reading every byte to check it is not a use (a read counts under `relatime` otherwise).
    let (_, out) = t.json(&["models", "verify"]);
    assert!(out.status.success());
    let (_, out) = t.json(&["check", "--all", "--full"]);
    assert!(out.status.code().is_some());
    assert_eq!(last_used(&t), before, "hashing moved the last use");
    // A pull that finds the file stored is a use.
    std::thread::sleep(std::time::Duration::from_millis(20));
    pulled(&t, &urls[0]);
    let after = last_used(&t);
    assert!(after[0] > before[0], "{before:?} -> {after:?}");
    assert_eq!(after[1], before[1]);
}
