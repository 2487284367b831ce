//! `wharf prune`: what goes, what never goes, and how it is reported.

mod support;

use std::fs;
use std::path::Path;

use serde_json::{json, Value};
use support::{text, TestHome};

/// Write a v2 registry whose entries point at `envs` (stored paths), all with missing projects.
fn registry_with_envs(t: &TestHome, envs: &[(&str, &str)]) {
    let projects: serde_json::Map<String, Value> = envs
        .iter()
        .map(|(name, env)| {
            (
                format!("${{HOME}}/gone/{name}"),
                json!({"name": name, "path_hash": "00000000", "id": format!("id-{name}"),
                       "env": {"path": env, "expanded": ""}, "models": [], "created_at": "2026-01-01T00:00:00Z"}),
            )
        })
        .collect();
    fs::create_dir_all(t.envs_dir()).unwrap();
    fs::write(t.registry_file(), serde_json::to_vec_pretty(&json!({"version": 2, "projects": projects})).unwrap())
        .unwrap();
}

fn item<'a>(doc: &'a Value, kind: &str, path: &Path) -> &'a Value {
    doc["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["kind"] == kind && i["path"] == path.to_str().unwrap())
        .unwrap_or_else(|| panic!("no {kind} item for {} in {doc}", path.display()))
}

fn venv_like(dir: &Path) {
    fs::create_dir_all(dir).unwrap();
    fs::write(dir.join("pyvenv.cfg"), "home = /usr/bin\n").unwrap();
    fs::write(dir.join("precious.txt"), "do not delete").unwrap();
}

#[cfg(unix)]
#[test]
fn prune_never_leaves_the_envs_dir() {
    let t = TestHome::new();
    let envs = t.envs_dir();
    let sibling = t.wharf_home.join("envs-old");
    let outside = t.root().join("elsewhere");
    venv_like(&sibling);
    venv_like(&outside);
    fs::create_dir_all(&envs).unwrap();
    fs::write(envs.join("pyvenv.cfg"), "").unwrap(); // even an envs dir that looks like a venv
    std::os::unix::fs::symlink(&outside, envs.join("link_11111111")).unwrap();
    fs::write(t.home.join("precious.txt"), "home file").unwrap();
    registry_with_envs(
        &t,
        &[
            ("home", "${HOME}"),
            ("root", "${HOME}/.local/share/wharf/envs"),
            ("sibling", "${HOME}/.local/share/wharf/envs-old"),
            ("link", "${HOME}/.local/share/wharf/envs/link_11111111"),
        ],
    );
    let (dry, out) = t.json(&["prune", "--dry-run", "--untracked"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let (doc, out) = t.json(&["prune", "--yes", "--untracked"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(dry["items"], doc["items"], "the dry run shows exactly what the real run does");
    assert_eq!(dry["dry_run"], true);
    assert_eq!(doc["dry_run"], false);

    for (path, why) in [
        (t.home.clone(), "is not inside"),
        (envs.clone(), "root folder itself"),
        (sibling.clone(), "is not inside"),
        (envs.join("link_11111111"), "symlink"),
    ] {
        let i = item(&doc, "env", &path);
        assert_eq!(i["action"], "skipped", "{i}");
        assert!(i["reason"].as_str().unwrap().contains(why), "{i}");
    }
    assert!(t.home.join("precious.txt").is_file());
    assert!(envs.is_dir() && envs.join("pyvenv.cfg").is_file());
    assert!(sibling.join("precious.txt").is_file());
    assert!(outside.join("precious.txt").is_file());
    assert!(envs.join("link_11111111").is_symlink(), "the link itself is not followed out");
    assert_eq!(doc["reclaimed_bytes"], 0);
    // The entries themselves were orphaned and may go.
    assert_eq!(t.registry()["projects"].as_object().unwrap().len(), 0);
}

#[test]
fn prune_removes_orphans_reports_true_bytes_and_writes_once() {
    let t = TestHome::new();
    let keep = t.project("code/keep");
    let gone = t.project("code/gone");
    t.init(&keep);
    let g = t.init(&gone);
    let gone_env = Path::new(g["project"]["env"]["expanded"].as_str().unwrap()).to_path_buf();
    fs::write(gone_env.join("weights.bin"), vec![7u8; 300_000]).unwrap();
    fs::remove_dir_all(&gone).unwrap();
    // An untracked folder that is not an environment, and one that is.
    fs::create_dir_all(t.envs_dir().join("notes")).unwrap();
    venv_like(&t.envs_dir().join("stray_12345678"));

    let out = t.run(&["prune"]);
    assert_eq!(out.status.code(), Some(2), "no terminal and no --yes: exit 2");
    assert!(text(&out.stderr).contains("--yes"));
    assert!(gone_env.is_dir());

    let before = fs::metadata(t.registry_file()).unwrap();
    let (doc, out) = t.json(&["prune", "--yes"]);
    assert!(out.status.success());
    let env_item = item(&doc, "env", &gone_env);
    assert_eq!(env_item["action"], "removed");
    let bytes = env_item["bytes"].as_u64().unwrap();
    assert!(bytes >= 300_000, "counts blocks on disk: {bytes}");
    assert_eq!(doc["reclaimed_bytes"], bytes);
    assert_eq!(item(&doc, "entry", &gone)["action"], "removed");
    assert!(!gone_env.exists());
    assert!(t.envs_dir().join("stray_12345678").is_dir(), "untracked folders need --untracked");
    let after = fs::metadata(t.registry_file()).unwrap();
    assert_ne!(std::os::unix::fs::MetadataExt::ino(&before), std::os::unix::fs::MetadataExt::ino(&after));

    let (doc, _) = t.json(&["prune", "--yes", "--untracked"]);
    assert_eq!(item(&doc, "env", &t.envs_dir().join("stray_12345678"))["action"], "removed");
    let notes = item(&doc, "env", &t.envs_dir().join("notes"));
    assert_eq!(notes["action"], "skipped");
    assert!(notes["reason"].as_str().unwrap().contains("not an environment"));
    assert!(t.envs_dir().join("notes").is_dir());
    let (check, _) = t.json(&["check", "--all"]);
    assert_eq!(check["ok"], true, "{check}");
}

#[test]
fn mismatch_is_pruned_only_with_the_flag_and_a_live_back_link_protects_the_env() {
    let t = TestHome::new();
    let p = t.project("code/p");
    let v = t.init(&p);
    let env = Path::new(v["project"]["env"]["expanded"].as_str().unwrap()).to_path_buf();
    // The user points the marker elsewhere: mismatch.
    fs::write(p.join(".env.wharf"), "UV_PROJECT_ENVIRONMENT=/opt/venv\n").unwrap();
    let (doc, _) = t.json(&["prune", "--yes"]);
    assert!(doc["items"].as_array().unwrap().is_empty(), "{doc}");
    let (doc, _) = t.json(&["prune", "--yes", "--mismatch"]);
    assert_eq!(item(&doc, "entry", &p)["action"], "removed");
    // The env's back-link names p, which exists, but p's marker no longer names this env: it goes.
    assert_eq!(item(&doc, "env", &env)["action"], "removed");

    // A live project whose marker names its env keeps it even when its entry is dropped by hand
    // and the folder is found by --untracked.
    let q = t.project("code/q");
    let v = t.init(&q);
    let qenv = Path::new(v["project"]["env"]["expanded"].as_str().unwrap()).to_path_buf();
    fs::write(t.registry_file(), r#"{"version": 2, "projects": {}}"#).unwrap();
    let (doc, _) = t.json(&["prune", "--yes", "--untracked"]);
    let i = item(&doc, "env", &qenv);
    assert_eq!(i["action"], "skipped");
    assert!(i["reason"].as_str().unwrap().contains("live project"), "{i}");
    assert!(qenv.is_dir());
}

#[test]
fn pruning_many_orphans_writes_the_registry_once() {
    let t = TestHome::new();
    let mut projects = Vec::new();
    for i in 0..40 {
        let p = t.project(&format!("code/p{i}"));
        t.init(&p);
        projects.push(p);
    }
    for p in &projects[..30] {
        fs::remove_dir_all(p).unwrap();
    }
    let env = wharf::Env::new(
        &t.home,
        [("WHARF_HOME".to_string(), t.wharf_home.to_string_lossy().into_owned())].into_iter().collect(),
    );
    let layout = wharf::Layout::from_env(&env).unwrap();
    let registry = wharf::Registry::open(&layout, &env);
    let opts = wharf::ops::prune::PruneOptions::default();
    let summary = wharf::ops::prune::run(&registry, &layout.envs_dir, None, opts, None).unwrap().unwrap();
    assert_eq!(summary.count(wharf::ops::prune::Target::Env, wharf::ops::prune::Outcome::Removed), 30);
    assert_eq!(summary.count(wharf::ops::prune::Target::Entry, wharf::ops::prune::Outcome::Removed), 30);
    assert_eq!(registry.writes(), 1);
    assert_eq!(t.registry()["projects"].as_object().unwrap().len(), 10);
}

/// Run `wharf prune` on a real pseudo-terminal (util-linux `script`), answering `answer`.
#[cfg(unix)]
fn prune_on_a_terminal(t: &TestHome, answer: &str) -> std::process::Output {
    use std::io::Write;
    let wharf = assert_cmd::cargo::cargo_bin("wharf");
    let mut child = std::process::Command::new("script")
        .args(["-qec", &format!("{} prune", wharf.display()), "/dev/null"])
        .env_clear()
        .env("PATH", support::path_without_uv())
        .env("HOME", &t.home)
        .env("WHARF_HOME", &t.wharf_home)
        .env("NO_COLOR", "1")
        .env("TERM", "dumb")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("util-linux `script` runs the command on a pty");
    child.stdin.as_mut().unwrap().write_all(answer.as_bytes()).unwrap();
    child.wait_with_output().unwrap()
}

#[cfg(unix)]
#[test]
fn on_a_terminal_prune_asks_and_no_is_the_default() {
    let t = TestHome::new();
    let gone = t.project("code/gone");
    let v = t.init(&gone);
    let env = Path::new(v["project"]["env"]["expanded"].as_str().unwrap()).to_path_buf();
    fs::remove_dir_all(&gone).unwrap();

    let out = prune_on_a_terminal(&t, "\n");
    let screen = text(&out.stdout);
    assert!(screen.contains("[y/N]"), "{screen}");
    assert!(screen.contains(env.to_str().unwrap()), "the question lists what would go: {screen}");
    assert!(env.is_dir(), "Enter means no");
    assert_eq!(t.registry()["projects"].as_object().unwrap().len(), 1);

    let out = prune_on_a_terminal(&t, "y\n");
    assert!(out.status.success(), "{}", text(&out.stdout));
    assert!(!env.exists());
    assert_eq!(t.registry()["projects"].as_object().unwrap().len(), 0);
}
