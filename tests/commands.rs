//! `check` exit codes and JSON shapes, `list` filters and sizes, real environments, completions.

mod support;

use std::fs;
use std::path::Path;

use serde_json::Value;
use support::{text, TestHome};

/// Every key of the SPEC's project document `P`, with the JSON type it must have.
fn assert_project_shape(p: &Value) {
    for key in ["path", "name", "status"] {
        assert!(p[key].is_string(), "{key} in {p}");
    }
    assert!(p["id"].is_string() || p["id"].is_null());
    assert!(p["reasons"].as_array().unwrap().iter().all(|r| r["code"].is_string() && r["message"].is_string()));
    assert!(p["env"]["path"].is_string() && p["env"]["expanded"].is_string(), "{p}");
    assert!(p["models"].is_array());
    assert!(p["created_at"].is_string());
    assert!(p.get("last_validated").is_some());
}

#[test]
fn check_exits_0_1_2_3_in_the_four_situations() {
    let t = TestHome::new();
    let p = t.project("code/app");
    t.init(&p);

    // 0: valid.
    let (doc, out) = t.json(&["check", p.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(doc["schema"], 1);
    assert_eq!(doc["ok"], true);
    assert_eq!(doc["projects"].as_array().unwrap().len(), 1);
    assert_project_shape(&doc["projects"][0]);
    assert_eq!(doc["projects"][0]["status"], "valid");

    // 1: not valid (marker gone), with the reason and its fix.
    fs::remove_file(p.join(".env.wharf")).unwrap();
    let (doc, out) = t.json(&["check", p.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(doc["ok"], false);
    assert_eq!(doc["projects"][0]["reasons"][0]["code"], "marker_missing");
    assert!(doc["projects"][0]["reasons"][0]["message"].as_str().unwrap().contains("wharf init"));
    // ... unless the status is not in --fail-on.
    let (doc, out) = t.json(&["check", "--all", "--fail-on", "mismatch,error"]);
    assert_eq!(out.status.code(), Some(0), "{doc}");
    assert_eq!(doc["ok"], true);

    // 2: usage errors.
    for args in
        [vec!["check", "--all", "--fail-on", "bogus"], vec!["check", "/no/such/folder"], vec!["check", "--all", "x"]]
    {
        let out = t.run(&args);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", text(&out.stderr));
    }

    // 3: the registry cannot be read.
    fs::write(t.registry_file(), "{\"version\": 2, \"projects\": {").unwrap();
    let (doc, out) = t.json(&["check", "--all"]);
    assert_eq!(out.status.code(), Some(3));
    assert_eq!(doc["schema"], 1);
    assert!(doc["error"]["message"].as_str().unwrap().contains("corrupt"));
}

#[test]
fn check_outside_any_project_says_so_and_a_cloned_marker_is_not_registered() {
    let t = TestHome::new();
    let p = t.project("code/new");
    let check = |dir: &std::path::Path| {
        let o = t.cmd().current_dir(dir).args(["check", "--json"]).output().unwrap();
        (serde_json::from_slice::<Value>(&o.stdout).unwrap(), o)
    };
    // No marker here or above, no entry: not a project at all (not "orphaned").
    let (doc, out) = check(&p);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(doc["error"]["code"], "no_project", "{doc}");
    assert!(doc["error"]["hint"].as_str().unwrap().contains("wharf init"), "{doc}");
    // A marker that came with a clone, but no entry: the project is not registered, fixed by init.
    fs::write(p.join(".env.wharf"), "WHARF_PROJECT_ID=abc\n").unwrap();
    let (doc, out) = check(&p);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(doc["projects"][0]["reasons"][0]["code"], "not_registered");
    assert_eq!(doc["projects"][0]["path"], p.to_str().unwrap());
}

#[test]
fn list_filters_by_status_and_counts_sizes() {
    let t = TestHome::new();
    let a = t.project("code/a");
    let b = t.project("code/b");
    let va = t.init(&a);
    t.init(&b);
    fs::remove_dir_all(&b).unwrap();
    let env_a = Path::new(va["project"]["env"]["expanded"].as_str().unwrap()).to_path_buf();
    fs::write(env_a.join("blob"), vec![1u8; 100_000]).unwrap();
    fs::hard_link(env_a.join("blob"), env_a.join("blob-again")).unwrap();

    let (doc, out) = t.json(&["list", "--status", "orphaned"]);
    assert!(out.status.success());
    let paths: Vec<_> = doc["projects"].as_array().unwrap().iter().map(|p| p["path"].as_str().unwrap()).collect();
    assert_eq!(paths, [b.to_str().unwrap()]);
    assert!(doc["projects"][0].get("size_bytes").is_none());

    let (doc, _) = t.json(&["list", "--sizes", "--status", "valid"]);
    let size = doc["projects"][0]["size_bytes"].as_u64().unwrap();
    assert!((100_000..200_000).contains(&size), "hard-linked bytes count once: {size}");

    let human = t.run(&["list"]);
    let out = text(&human.stdout);
    assert!(out.starts_with("STATUS"), "{out}");
    assert!(out.contains("project_missing"), "{out}");
    assert!(!out.contains('\x1b'), "no colour with NO_COLOR / without a terminal");
    let bad = t.run(&["list", "--status", "fine"]);
    assert_eq!(bad.status.code(), Some(2));
}

#[test]
fn init_creates_a_real_python_environment_with_python3_venv() {
    let t = TestHome::new();
    let p = t.project("code/real");
    let (v, out) = t.json(&["init", p.to_str().unwrap()]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let env = Path::new(v["project"]["env"]["expanded"].as_str().unwrap()).to_path_buf();
    assert!(env.join("pyvenv.cfg").is_file());
    let py = env.join("bin/python");
    let ran = std::process::Command::new(&py).args(["-c", "import sys; print(sys.prefix)"]).output().unwrap();
    assert_eq!(text(&ran.stdout).trim(), env.to_str().unwrap(), "the env's python runs inside the env");
    assert!(!env.join("bin/pip").exists(), "no pip unless --seed");
    // Idempotent: a second init keeps the same env and does not recreate it.
    let mtime = fs::metadata(env.join("pyvenv.cfg")).unwrap().modified().unwrap();
    let (again, _) = t.json(&["init", p.to_str().unwrap()]);
    assert_eq!(again["project"]["created_env"], false);
    assert_eq!(again["project"]["id"], v["project"]["id"]);
    assert_eq!(fs::metadata(env.join("pyvenv.cfg")).unwrap().modified().unwrap(), mtime);
    let (check, out) = t.json(&["check", p.to_str().unwrap()]);
    assert!(out.status.success(), "{check}");
}

#[test]
fn a_failing_interpreter_is_reported_and_nothing_is_registered() {
    let t = TestHome::new();
    let p = t.project("code/app");
    let out = t.run(&["init", "--python", "/no/such/python", p.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("/no/such/python"), "{}", text(&out.stderr));
    assert!(!t.registry_file().exists() || t.registry()["projects"].as_object().unwrap().is_empty());
    assert!(!p.join(".env.wharf").exists());
}

#[test]
fn completions_and_help_are_there() {
    let t = TestHome::new();
    let out = t.run(&["completions", "bash"]);
    assert!(out.status.success());
    assert!(text(&out.stdout).contains("wharf"));
    let help = t.run(&["prune", "--help"]);
    assert!(text(&help.stdout).contains("--dry-run"));
}

/// The `uv` binary for the uv tests: `WHARF_TEST_UV`, else one on PATH (`.ci/run` installs uv from
/// PyPI). Missing, the test fails unless `WHARF_TEST_ALLOW_SKIP=1`.
fn uv() -> Option<std::path::PathBuf> {
    let found = std::env::var_os("WHARF_TEST_UV").map(std::path::PathBuf::from).filter(|p| p.is_file()).or_else(|| {
        std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default()).map(|d| d.join("uv")).find(|p| p.is_file())
    });
    if found.is_none() {
        support::missing_tool("uv", "pip install uv, or set WHARF_TEST_UV");
    }
    found
}

#[test]
fn init_uses_uv_when_it_is_on_path_and_uv_then_runs_in_that_env() {
    let Some(uv) = uv() else { return };
    let t = TestHome::new();
    let p = t.project("code/uvproj");
    fs::write(p.join("pyproject.toml"), "[project]\nname = \"uvproj\"\nversion = \"0.1.0\"\ndependencies = []\n")
        .unwrap();
    let path = format!("{}:{}", uv.parent().unwrap().display(), support::path_without_uv());
    let out = t.cmd().env("PATH", &path).args(["init", "--json", p.to_str().unwrap()]).output().unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    let env = Path::new(v["project"]["env"]["expanded"].as_str().unwrap()).to_path_buf();
    let cfg = fs::read_to_string(env.join("pyvenv.cfg")).unwrap();
    assert!(cfg.contains("uv = "), "made by `uv venv`: {cfg}");
    // The marker, exported into the shell, is what points uv at wharf's environment.
    let run = std::process::Command::new("bash")
        .current_dir(&p)
        .env_clear()
        .env("PATH", &path)
        .env("HOME", &t.home)
        .env("UV_CACHE_DIR", t.root().join("uv-cache"))
        .env("UV_PYTHON_DOWNLOADS", "never")
        .args([
            "-c",
            "set -a; . ./.env.wharf; set +a; uv run --offline --quiet python -c 'import sys; print(sys.prefix)'",
        ])
        .output()
        .unwrap();
    assert!(run.status.success(), "{}", text(&run.stderr));
    assert_eq!(text(&run.stdout).trim(), env.to_str().unwrap());
    assert!(!p.join(".venv").exists(), "uv did not make a .venv of its own");
}

#[test]
fn check_without_a_path_finds_the_project_from_a_subfolder() {
    let t = TestHome::new();
    let p = t.project("code/app");
    t.init(&p);
    let deep = p.join("src/app/models");
    fs::create_dir_all(&deep).unwrap();
    let out = t.cmd().current_dir(&deep).args(["check", "--json"]).output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(doc["projects"][0]["path"], p.to_str().unwrap());
    // An explicit PATH means exactly that folder.
    let out = t.run(&["check", deep.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
}
