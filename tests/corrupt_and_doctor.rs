//! A corrupt registry is reported, never replaced; `doctor --repair` rebuilds it from back-links.

mod support;

use std::fs;

use support::{fixture, statuses, text, TestHome};

#[test]
fn truncated_registry_stops_readers_and_prune_then_doctor_rebuilds_it() {
    let t = TestHome::new();
    let alive = t.project("code/alive");
    let gone = t.project("code/gone");
    t.init(&alive);
    t.init(&gone);
    fs::remove_dir_all(&gone).unwrap();
    let envs_before: Vec<_> = fs::read_dir(t.envs_dir()).unwrap().map(|e| e.unwrap().path()).collect();
    assert_eq!(envs_before.len(), 2);
    // Cut the registry off in the middle of the JSON.
    let good = fs::read(t.registry_file()).unwrap();
    fs::write(t.registry_file(), &good[..good.len() / 2]).unwrap();
    let cut = fs::read(t.registry_file()).unwrap();

    for args in [vec!["list"], vec!["check", "--all"]] {
        let out = t.run(&args);
        assert_eq!(out.status.code(), Some(3), "{args:?}");
        let err = text(&out.stderr);
        assert!(err.contains(t.registry_file().to_str().unwrap()) && err.contains("corrupt"), "{err}");
        assert!(err.contains("doctor --repair"), "the hint names the fix: {err}");
    }
    let out = t.run(&["prune", "--yes", "--untracked"]);
    assert_eq!(out.status.code(), Some(3));
    for env in &envs_before {
        assert!(env.is_dir(), "prune deleted {} from behind a corrupt registry", env.display());
    }
    assert_eq!(fs::read(t.registry_file()).unwrap(), cut, "the corrupt file is never replaced silently");

    let (report, out) = t.json(&["doctor"]);
    assert_eq!(out.status.code(), Some(3));
    assert_eq!(report["state"], "corrupt");

    let (report, out) = t.json(&["doctor", "--repair"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let aside = report["moved_aside"].as_str().unwrap();
    assert!(aside.contains("registry.json.corrupt-"), "{aside}");
    assert_eq!(fs::read(aside).unwrap(), cut, "the corrupt file is kept, unchanged");
    assert_eq!(report["rebuilt"].as_array().unwrap().len(), 2);

    let (list, out) = t.json(&["list"]);
    assert!(out.status.success());
    let s = statuses(&list);
    assert_eq!(s[alive.to_str().unwrap()], "valid");
    assert_eq!(s[gone.to_str().unwrap()], "orphaned");
}

#[test]
fn doctor_repair_adds_untracked_back_linked_envs_to_a_healthy_registry() {
    let t = TestHome::new();
    let a = t.project("code/a");
    let b = t.project("code/b");
    t.init(&a);
    t.init(&b);
    // Lose b's entry (an old backup restored, say).
    let mut reg = t.registry();
    reg["projects"].as_object_mut().unwrap().remove("${HOME}/code/b");
    fs::write(t.registry_file(), serde_json::to_vec_pretty(&reg).unwrap()).unwrap();
    let (report, _) = t.json(&["doctor"]);
    assert_eq!(report["unregistered"].as_array().unwrap().len(), 1);
    let (report, out) = t.json(&["doctor", "--repair"]);
    assert!(out.status.success());
    assert_eq!(report["rebuilt"], serde_json::json!(["${HOME}/code/b"]));
    assert!(report["moved_aside"].is_null());
    let (list, _) = t.json(&["check", "--all"]);
    assert_eq!(list["ok"], true, "{list}");
}

#[test]
fn wrong_shape_and_oversized_files_count_as_corrupt() {
    let t = TestHome::new();
    fs::create_dir_all(&t.wharf_home).unwrap();
    fs::write(t.registry_file(), r#"{"version": 2, "projects": {"x": {"name": 5}}}"#).unwrap();
    assert_eq!(t.run(&["list"]).status.code(), Some(3));
    fs::write(t.registry_file(), "[1, 2]").unwrap();
    assert_eq!(t.run(&["list"]).status.code(), Some(3));
    let f = fs::File::create(t.registry_file()).unwrap();
    f.set_len(257 * 1024 * 1024).unwrap(); // sparse: no real disk used
    let out = t.run(&["list"]);
    assert_eq!(out.status.code(), Some(3));
    assert!(text(&out.stderr).contains("256 MiB"), "{}", text(&out.stderr));
}

#[test]
fn truncated_fixture_is_reported_with_its_path() {
    let t = TestHome::new();
    fs::create_dir_all(&t.wharf_home).unwrap();
    fs::copy(fixture("registries/truncated.json"), t.registry_file()).unwrap();
    let (doc, out) = t.json(&["check", "--all"]);
    assert_eq!(out.status.code(), Some(3));
    assert_eq!(doc["error"]["exit_code"], 3);
    assert!(doc["error"]["message"].as_str().unwrap().contains("registry.json"));
}
