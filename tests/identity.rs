//! A project's identity across moves, copies, homes and hand-edited markers.

mod support;

use std::fs;
use std::path::Path;

use support::{codes, statuses, text, TestHome};

fn env_of(v: &serde_json::Value) -> std::path::PathBuf {
    Path::new(v["project"]["env"]["expanded"].as_str().unwrap()).to_path_buf()
}

#[test]
fn a_moved_project_is_relinked_and_keeps_its_env() {
    let t = TestHome::new();
    let old = t.project("code/app");
    let first = t.init(&old);
    let env = env_of(&first);
    let id = first["project"]["id"].as_str().unwrap().to_string();
    let new = t.home.join("work/app");
    fs::create_dir_all(new.parent().unwrap()).unwrap();
    fs::rename(&old, &new).unwrap();

    let (list, _) = t.json(&["list"]);
    assert_eq!(statuses(&list)[old.to_str().unwrap()], "orphaned");
    assert_eq!(codes(&list, &old), ["project_missing"]);

    let (v, out) = t.json(&["init", "--no-venv", new.to_str().unwrap()]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(v["project"]["action"]["kind"], "relinked");
    assert_eq!(v["project"]["action"]["from"], "${HOME}/code/app");
    assert_eq!(env_of(&v), env, "the env is kept");
    assert_eq!(v["project"]["id"], id.as_str());
    assert_eq!(fs::read_dir(t.envs_dir()).unwrap().count(), 1, "no second env");
    let human = t.run(&["init", "--no-venv", new.to_str().unwrap()]);
    assert!(text(&human.stderr).contains("already registered"));

    let reg = t.registry();
    let projects = reg["projects"].as_object().unwrap();
    assert_eq!(projects.keys().collect::<Vec<_>>(), ["${HOME}/work/app"]);
    let (doc, _) = t.json(&["prune", "--yes", "--untracked"]);
    assert!(doc["items"].as_array().unwrap().is_empty(), "{doc}");
    assert!(env.is_dir());
    let link: serde_json::Value = serde_json::from_slice(&fs::read(env.join(".wharf-project.json")).unwrap()).unwrap();
    assert_eq!(link["project"], "${HOME}/work/app");
    let (check, out) = t.json(&["check", new.to_str().unwrap()]);
    assert!(out.status.success(), "{check}");
}

#[test]
fn the_old_entry_of_a_project_registered_twice_is_moved_and_its_env_survives_prune() {
    let t = TestHome::new();
    let old = t.project("code/app");
    let v = t.init(&old);
    let env = env_of(&v);
    let new = t.home.join("app2");
    fs::rename(&old, &new).unwrap();
    // Another tool (or an older wharf) registered the new path with the same id and env.
    let mut reg = t.registry();
    let entry = reg["projects"]["${HOME}/code/app"].clone();
    reg["projects"]["${HOME}/app2"] = entry;
    fs::write(t.registry_file(), serde_json::to_vec(&reg).unwrap()).unwrap();
    let (list, _) = t.json(&["list"]);
    assert_eq!(codes(&list, &old), ["project_missing", "moved"]);
    let (doc, _) = t.json(&["prune", "--yes"]);
    let env_item = doc["items"].as_array().unwrap().iter().find(|i| i["kind"] == "env").unwrap();
    assert_eq!(env_item["action"], "skipped");
    assert!(env_item["reason"].as_str().unwrap().contains("in use by project"), "{env_item}");
    assert!(env.is_dir());
}

#[test]
fn a_copied_project_is_a_new_project_with_its_own_id_and_env() {
    let t = TestHome::new();
    let orig = t.project("code/app");
    let a = t.init(&orig);
    let copy = t.home.join("code/app-copy");
    fs::create_dir_all(&copy).unwrap();
    for f in ["pyproject.toml", ".env.wharf"] {
        fs::copy(orig.join(f), copy.join(f)).unwrap();
    }
    let (b, out) = t.json(&["init", "--no-venv", copy.to_str().unwrap()]);
    assert!(out.status.success());
    assert_eq!(b["project"]["action"]["kind"], "copied");
    assert_ne!(b["project"]["id"], a["project"]["id"]);
    assert_ne!(env_of(&b), env_of(&a));
    assert_eq!(fs::read_dir(t.envs_dir()).unwrap().count(), 2);
    let (check, out) = t.json(&["check", "--all"]);
    assert!(out.status.success(), "both projects are valid: {check}");
}

#[test]
fn a_registry_written_under_one_home_validates_under_another() {
    let t = TestHome::new();
    let p = t.project("code/app");
    t.init(&p);
    // Move the whole home elsewhere, as a new machine or account with another home would have it.
    let other = t.root().join("other-home");
    fs::rename(&t.home, &other).unwrap();
    let moved = TestHome {
        tmp: tempfile::tempdir().unwrap(),
        home: other.clone(),
        wharf_home: other.join(".local/share/wharf"),
        extra_env: Vec::new(),
    };
    let (check, out) = moved.json(&["check", "--all"]);
    assert!(out.status.success(), "{check}");
    let proj = &check["projects"][0];
    assert_eq!(proj["path"], other.join("code/app").to_str().unwrap());
    assert_eq!(
        proj["env"]["expanded"].as_str().unwrap(),
        other
            .join(".local/share/wharf/envs")
            .join(proj["env"]["path"].as_str().unwrap().rsplit('/').next().unwrap())
            .to_str()
            .unwrap()
    );
    assert!(proj["env"]["path"].as_str().unwrap().starts_with("${HOME}/"));
    let (list, _) = moved.json(&["check", other.join("code/app").to_str().unwrap()]);
    assert_eq!(list["ok"], true);
}

#[test]
fn a_hand_written_marker_is_understood_and_force_keeps_the_users_lines() {
    let t = TestHome::new();
    let p = t.project("code/app");
    let v = t.init(&p);
    let env = v["project"]["env"]["path"].as_str().unwrap().to_string();
    let id = v["project"]["id"].as_str().unwrap().to_string();
    // Rewritten by hand: comments, `export`, quotes, CRLF.
    let hand = format!(
        "# my settings\r\nexport UV_PROJECT_ENVIRONMENT=\"{env}\"   # wharf\r\nAPI_URL='http://localhost:8000'\r\n\r\nexport WHARF_PROJECT_ID={id}\r\nDEBUG=1 # inline\r\n"
    );
    fs::write(p.join(".env.wharf"), &hand).unwrap();
    let (check, out) = t.json(&["check", p.to_str().unwrap()]);
    assert!(out.status.success(), "the hand-written marker is understood: {check}");

    let (f, out) = t.json(&["init", "--no-venv", "--force", p.to_str().unwrap()]);
    assert!(out.status.success());
    let after = fs::read_to_string(p.join(".env.wharf")).unwrap();
    for kept in ["# my settings\r\n", "API_URL='http://localhost:8000'\r\n", "DEBUG=1 # inline\r\n", "\r\n\r\n"] {
        assert!(after.contains(kept), "lost {kept:?}:\n{after}");
    }
    assert!(!after.replace("\r\n", "").contains('\n'), "line endings stay CRLF:\n{after:?}");
    let new_id = f["project"]["id"].as_str().unwrap();
    assert!(after.contains(&format!("WHARF_PROJECT_ID={new_id}\r\n")), "{after}");
    assert_eq!(after.matches("UV_PROJECT_ENVIRONMENT=").count(), 1);
    let (check, out) = t.json(&["check", p.to_str().unwrap()]);
    assert!(out.status.success(), "{check}");
}

#[test]
fn sample_project_markers_keep_user_settings_on_first_init() {
    let t = TestHome::new();
    let p = t.home.join("sample");
    fs::create_dir_all(p.join("src/sample_app")).unwrap();
    let fx = support::fixture("sample-project");
    for f in ["pyproject.toml", ".env.wharf"] {
        fs::copy(fx.join(f), p.join(f)).unwrap();
    }
    let v = t.init(&p);
    assert_eq!(v["project"]["action"]["kind"], "created");
    let name = env_of(&v).file_name().unwrap().to_string_lossy().into_owned();
    assert!(name.starts_with("sample-app_") && name.len() == "sample-app_".len() + 8, "{name}");
    let marker = fs::read_to_string(p.join(".env.wharf")).unwrap();
    assert!(marker.starts_with("# Settings of the sample project."));
    assert!(
        marker.contains("export LOG_LEVEL=\"debug\"\nDATA_DIR='./data'\nUV_PROJECT_ENVIRONMENT=${HOME}/"),
        "{marker}"
    );
}

#[cfg(unix)]
#[test]
fn a_project_reached_through_a_symlink_is_keyed_by_its_real_path() {
    let t = TestHome::new();
    let real = t.project("code/real");
    let link = t.home.join("shortcut");
    std::os::unix::fs::symlink(&real, &link).unwrap();
    let v = t.init(&link);
    assert_eq!(v["project"]["path"], real.to_str().unwrap());
    assert_eq!(v["project"]["key"], "${HOME}/code/real");
    let again = t.init(&real);
    assert_eq!(again["project"]["action"]["kind"], "existing");
    assert_eq!(t.registry()["projects"].as_object().unwrap().len(), 1);
}

#[test]
fn an_env_whose_back_link_names_another_project_is_a_mismatch() {
    let t = TestHome::new();
    let a = t.project("code/a");
    let v = t.init(&a);
    let env = env_of(&v);
    let link = env.join(".wharf-project.json");
    let text = fs::read_to_string(&link).unwrap().replace("${HOME}/code/a", "${HOME}/code/intruder");
    fs::write(&link, text).unwrap();
    let (check, out) = t.json(&["check", a.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(check["projects"][0]["status"], "mismatch");
    assert_eq!(codes(&check, &a), ["backlink_mismatch"]);
}
