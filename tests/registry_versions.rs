//! Reading, migrating and refusing registry files of every version.

mod support;

use std::fs;

use support::{codes, fixture, statuses, text, TestHome};

/// Lay out the filesystem so each v1 entry is in the state its name says, and install the registry.
fn v1_world(t: &TestHome) -> String {
    let h = &t.home;
    let venvs = h.join("prime-uve/venvs");
    for (project, env, marker_env) in [
        ("valid", "valid_1a1a1a1a", Some("valid_1a1a1a1a")),
        ("no-env", "", Some("no-env_3c3c3c3c")),
        ("no-marker", "no-marker_4d4d4d4d", None),
        ("other-env", "other-env_5e5e5e5e", Some("somebody-else_00000000")),
        ("custom-root", "custom-root_6f6f6f6f", Some("custom-root_6f6f6f6f")),
        ("undecidable", "", None),
    ] {
        fs::create_dir_all(h.join("code").join(project)).unwrap();
        if !env.is_empty() {
            fs::create_dir_all(venvs.join(env)).unwrap();
            fs::write(venvs.join(env).join("pyvenv.cfg"), "home = /usr/bin\n").unwrap();
        }
        if let Some(m) = marker_env {
            let line = format!("UV_PROJECT_ENVIRONMENT=\"${{HOME}}/prime-uve/venvs/{m}\"\n");
            fs::write(h.join("code").join(project).join(".env.uve"), line).unwrap();
        }
    }
    fs::create_dir_all(venvs.join("deleted-project_2b2b2b2b")).unwrap();
    let raw = fs::read_to_string(fixture("registries/v1-every-state.json")).unwrap();
    let raw = raw.replace("@HOME@", h.to_str().unwrap());
    fs::create_dir_all(&t.wharf_home).unwrap();
    fs::write(t.registry_file(), &raw).unwrap();
    raw
}

#[test]
fn v1_registry_is_listed_with_every_status_then_migrated_with_a_backup() {
    let t = TestHome::new();
    let raw = v1_world(&t);
    let (doc, out) = t.json(&["list"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let s = statuses(&doc);
    let code = |p: &str| t.home.join("code").join(p);
    let want = [
        ("valid", "valid"),
        ("deleted-project", "orphaned"),
        ("no-env", "orphaned"),
        ("no-marker", "orphaned"),
        ("other-env", "mismatch"),
        ("custom-root", "valid"),
        ("undecidable", "error"),
    ];
    assert_eq!(s.len(), want.len(), "no entry may be lost: {s:?}");
    for (p, st) in want {
        assert_eq!(s[code(p).to_str().unwrap()], st, "status of {p}: {doc}");
    }
    assert_eq!(codes(&doc, &code("deleted-project")), ["project_missing"]);
    assert_eq!(codes(&doc, &code("no-env")), ["env_missing"]);
    assert_eq!(codes(&doc, &code("no-marker")), ["marker_missing"]);
    assert_eq!(codes(&doc, &code("other-env")), ["marker_mismatch"]);
    assert_eq!(codes(&doc, &code("undecidable")), ["unset_variable", "marker_missing"]);

    // `list` recorded last_validated: the first write, so the file is now v2 with the v1 copy beside it.
    let bak = t.wharf_home.join("registry.json.v1.bak");
    assert_eq!(fs::read_to_string(&bak).unwrap(), raw, "the backup is the v1 file, byte for byte");
    let v2 = t.registry();
    assert_eq!(v2["version"], 2);
    assert_eq!(v2["tool"], "prime-uve 0.4.1", "unknown top-level keys survive");
    let projects = v2["projects"].as_object().unwrap();
    assert_eq!(projects.len(), 7);
    let valid = &projects["${HOME}/code/valid"];
    assert_eq!(valid["pinned_python"], "3.11", "unknown entry keys survive");
    assert_eq!(valid["env"]["path"], "${HOME}/prime-uve/venvs/valid_1a1a1a1a");
    assert_eq!(valid["created_at"], "2025-12-03T12:00:00Z");
    assert_ne!(valid["last_validated"], "2025-12-03T12:00:00Z");
    assert_eq!(projects["${HOME}/code/custom-root"]["env"]["path"], "${HOME}/prime-uve/venvs/custom-root_6f6f6f6f");

    // A second listing reads the v2 file and agrees.
    let (again, _) = t.json(&["list"]);
    assert_eq!(statuses(&again), s);
}

#[test]
fn init_on_a_migrated_project_writes_env_wharf_beside_the_legacy_marker() {
    let t = TestHome::new();
    v1_world(&t);
    let p = t.home.join("code/valid");
    let (doc, out) = t.json(&["init", "--no-venv", p.to_str().unwrap()]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(doc["project"]["action"]["kind"], "existing");
    assert!(p.join(".env.wharf").is_file() && p.join(".env.uve").is_file());
    let marker = fs::read_to_string(p.join(".env.wharf")).unwrap();
    assert!(marker.contains("UV_PROJECT_ENVIRONMENT=${HOME}/prime-uve/venvs/valid_1a1a1a1a"), "{marker}");
    let (check, out) = t.json(&["check", p.to_str().unwrap()]);
    assert!(out.status.success(), "{check}");
}

#[test]
fn v0_registry_walks_every_step() {
    let t = TestHome::new();
    let raw =
        fs::read_to_string(fixture("registries/v0-bare.json")).unwrap().replace("@HOME@", t.home.to_str().unwrap());
    fs::create_dir_all(&t.wharf_home).unwrap();
    fs::write(t.registry_file(), &raw).unwrap();
    let (dry, out) = t.json(&["migrate", "--dry-run"]);
    assert!(out.status.success());
    assert_eq!(dry["from"], 0);
    assert_eq!(dry["steps"], serde_json::json!(["v0 -> v1", "v1 -> v2"]));
    assert_eq!(fs::read_to_string(t.registry_file()).unwrap(), raw, "a dry run writes nothing");
    let (_, out) = t.json(&["migrate"]);
    assert!(out.status.success());
    assert_eq!(fs::read_to_string(t.wharf_home.join("registry.json.v0.bak")).unwrap(), raw);
    assert_eq!(t.registry()["projects"]["${HOME}/code/old"]["name"], "old");
}

#[test]
fn a_newer_registry_is_never_written() {
    let t = TestHome::new();
    let raw = fs::read_to_string(fixture("registries/newer-v9.json")).unwrap();
    fs::create_dir_all(&t.wharf_home).unwrap();
    fs::write(t.registry_file(), &raw).unwrap();
    let p = t.project("code/a");
    for args in [
        vec!["list"],
        vec!["check", "--all"],
        vec!["init", "--no-venv", p.to_str().unwrap()],
        vec!["prune", "--yes"],
        vec!["migrate"],
    ] {
        let out = t.run(&args);
        assert_eq!(out.status.code(), Some(3), "{args:?}");
        let err = text(&out.stderr);
        assert!(err.contains("registry was written by a newer wharf (version 9, this one reads up to 2)"), "{err}");
    }
    assert_eq!(fs::read_to_string(t.registry_file()).unwrap(), raw);
    assert!(!p.join(".env.wharf").exists());
}

#[test]
fn unknown_keys_at_every_level_survive_a_write() {
    let t = TestHome::new();
    fs::create_dir_all(&t.wharf_home).unwrap();
    fs::copy(fixture("registries/v2-unknown-keys.json"), t.registry_file()).unwrap();
    let p = t.project("code/other");
    t.init(&p); // a write that changes another entry
    let reg = t.registry();
    assert_eq!(reg["annotations"], serde_json::json!({"owner": "platform-team", "z": [1, 2, 3]}));
    let app = &reg["projects"]["${HOME}/code/app"];
    assert_eq!(app["labels"], serde_json::json!(["gpu", "nightly"]));
    assert_eq!(app["env"]["python"], "3.12");
    assert_eq!(app["models"][0]["quant"], "q4");
    // Sorted keys: "annotations" < "projects" < "version" in the text itself.
    let text = fs::read_to_string(t.registry_file()).unwrap();
    let pos = |k: &str| text.find(&format!("\"{k}\"")).unwrap();
    assert!(pos("annotations") < pos("projects") && pos("projects") < pos("version"), "{text}");
    assert!(!t.wharf_home.join("registry.json.v2.bak").exists(), "no backup for a file already current");
}
