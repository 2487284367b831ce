//! A `.env.wharf` that arrives with a cloned repo is untrusted: `init` adopts only an env inside the
//! envs dir or one whose back-link names this project, refuses `/` and the home folder, and the
//! marker it writes is read back literally by a POSIX shell and by wharf's own dotenv reader.

mod support;

use std::fs;
use std::path::{Path, PathBuf};

use support::{snapshot, text, TestHome};

fn cloned_project(t: &TestHome, rel: &str, marker_env: &str) -> PathBuf {
    let p = t.project(rel);
    // An id of its own, so that no registered project claims it (that would make a copy instead).
    let id = format!("{0}{0}", wharf::project::path_hash(&p));
    fs::write(p.join(".env.wharf"), format!("UV_PROJECT_ENVIRONMENT={marker_env}\nWHARF_PROJECT_ID={id}\n")).unwrap();
    p
}

#[test]
fn a_cloned_marker_naming_home_a_folder_or_another_projects_env_is_refused_and_nothing_changes() {
    let t = TestHome::new();
    fs::create_dir_all(&t.wharf_home).unwrap(); // wharf's own data folder may be made; nothing else
                                                // A folder with files, a plain venv of a project that does not use wharf, and a venv whose
                                                // back-link names another project.
    let folder = t.home.join("some-folder");
    fs::create_dir_all(folder.join("sub")).unwrap();
    fs::write(folder.join("notes.txt"), "mine").unwrap();
    fs::write(folder.join("sub/a"), "a").unwrap();
    fs::write(t.home.join(".bashrc"), "# rc\n").unwrap();
    let other = t.project("code/other");
    let venv = other.join(".venv");
    fs::create_dir_all(venv.join("bin")).unwrap();
    fs::write(venv.join("pyvenv.cfg"), "home = /usr/bin\n").unwrap();
    fs::write(venv.join("bin/activate"), "# activate\n").unwrap();
    let linked = t.home.join("code/third/.venv");
    fs::create_dir_all(&linked).unwrap();
    fs::write(linked.join("pyvenv.cfg"), "home = /usr/bin\n").unwrap();
    fs::write(linked.join(".wharf-project.json"), r#"{"project": "${HOME}/code/third", "id": "x"}"#).unwrap();

    for (i, value) in ["${HOME}", "${HOME}/some-folder", "${HOME}/code/other/.venv", "${HOME}/code/third/.venv"]
        .into_iter()
        .enumerate()
    {
        let p = cloned_project(&t, &format!("clones/c{i}"), value);
        let before = snapshot(&t.home, &[&t.wharf_home]);
        // Without --no-venv: the old behaviour ran the venv tool in the named folder.
        let out = t.run(&["init", p.to_str().unwrap()]);
        let err = text(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{value}: {err}");
        assert!(err.contains(".env.wharf") && err.contains(value), "names the marker and the value: {err}");
        assert!(err.contains("--force"), "gives the way out: {err}");
        assert_eq!(snapshot(&t.home, &[&t.wharf_home]), before, "{value}: something changed");
        let key = format!("${{HOME}}/clones/c{i}");
        assert!(!t.registry_file().exists() || t.registry()["projects"].get(&key).is_none(), "{key} registered");

        // The way out: a fresh env in the envs dir; the named folder is still untouched.
        let before = snapshot(&t.home, &[&t.wharf_home, &p]);
        let (v, out) = t.json(&["init", "--no-venv", "--force", p.to_str().unwrap()]);
        assert!(out.status.success(), "{}", text(&out.stderr));
        assert!(Path::new(v["project"]["env"]["expanded"].as_str().unwrap()).starts_with(t.envs_dir()));
        assert_eq!(snapshot(&t.home, &[&t.wharf_home, &p]), before);
    }
}

#[test]
fn a_marker_naming_a_registered_env_of_a_live_project_makes_a_copy_and_leaves_that_env_alone() {
    let t = TestHome::new();
    let a = t.project("code/a");
    let v = t.init(&a);
    let env = PathBuf::from(v["project"]["env"]["expanded"].as_str().unwrap());
    fs::write(env.join("state"), "a's").unwrap();
    let stored = v["project"]["env"]["path"].as_str().unwrap();
    let b = cloned_project(&t, "clones/b", stored);
    let before = snapshot::<&Path>(&env, &[]);
    let (v, out) = t.json(&["init", "--no-venv", b.to_str().unwrap()]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(v["project"]["action"]["kind"], "copied");
    assert_ne!(PathBuf::from(v["project"]["env"]["expanded"].as_str().unwrap()), env);
    assert_eq!(snapshot::<&Path>(&env, &[]), before);
}

#[test]
fn safe_markers_are_adopted_inside_the_envs_dir_or_when_the_back_link_names_this_project() {
    let t = TestHome::new();
    // Inside the envs dir (not there yet): made there.
    let p = cloned_project(&t, "code/p", "${HOME}/.local/share/wharf/envs/shared_00000000");
    let (v, out) = t.json(&["init", "--no-venv", p.to_str().unwrap()]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(v["project"]["action"]["kind"], "adopted");
    assert!(t.envs_dir().join("shared_00000000/.wharf-project.json").is_file());
    // Outside, an environment whose back-link names this project (say, after the registry was lost).
    let q = t.project("code/q");
    let venv = t.home.join("venvs/q");
    fs::create_dir_all(&venv).unwrap();
    fs::write(venv.join("pyvenv.cfg"), "home = /usr/bin\n").unwrap();
    fs::write(venv.join(".wharf-project.json"), r#"{"project": "${HOME}/code/q", "id": "0123456789abcdef"}"#).unwrap();
    fs::write(q.join(".env.wharf"), "UV_PROJECT_ENVIRONMENT=${HOME}/venvs/q\n").unwrap();
    let (v, out) = t.json(&["init", "--no-venv", q.to_str().unwrap()]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(v["project"]["action"]["kind"], "adopted");
    assert_eq!(v["project"]["env"]["expanded"], venv.to_str().unwrap());
    // A path that climbs out of the envs dir is not "inside" it.
    let r = cloned_project(&t, "code/r", "${HOME}/.local/share/wharf/envs/../../../../some-folder");
    let out = t.run(&["init", "--no-venv", r.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    assert!(!t.home.join("some-folder").exists());
}

#[cfg(unix)]
#[test]
fn init_refuses_the_root_and_the_home_folder() {
    let t = TestHome::new();
    let root_marker_existed = Path::new("/.env.wharf").exists();
    let out = t.run(&["init", "--no-venv", "/"]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    assert!(text(&out.stderr).contains("`/`"), "{}", text(&out.stderr));
    let written = Path::new("/.env.wharf").exists() && !root_marker_existed;
    if written {
        let _ = fs::remove_file("/.env.wharf"); // do not leave the machine marked for other tests
    }
    assert!(!written, "`wharf init /` wrote `/.env.wharf`");

    let link = t.root().join("home-link");
    std::os::unix::fs::symlink(&t.home, &link).unwrap();
    let before = snapshot(&t.home, &[&t.wharf_home]);
    for args in [vec!["init", t.home.to_str().unwrap()], vec!["init", link.to_str().unwrap()], vec!["init"]] {
        let out = t.run(&args); // the last one: cwd is home
        let err = text(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
        assert!(err.contains("home folder"), "{err}");
    }
    assert_eq!(snapshot(&t.home, &[&t.wharf_home]), before);
    assert!(!t.home.join(".env.wharf").exists());
}

/// `sh` sources the marker in `dir` and prints `UV_PROJECT_ENVIRONMENT`.
fn sourced(dir: &Path, home: &Path) -> String {
    let out = std::process::Command::new("sh")
        .args(["-c", "set -a; . ./.env.wharf; set +a; printf %s \"$UV_PROJECT_ENVIRONMENT\""])
        .current_dir(dir)
        .env_clear()
        .env("PATH", "/usr/bin:/bin")
        .env("HOME", home)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    text(&out.stdout)
}

#[test]
fn a_dollar_and_a_backtick_in_the_envs_dir_are_literal_when_a_shell_sources_the_marker() {
    let weird = "we$ird `touch PWNED1` $(touch PWNED2) \"q' \\z";
    for under_home in [false, true] {
        let mut t = TestHome::new();
        let base = if under_home { t.home.clone() } else { t.root() };
        let envs = base.join(weird).join("envs");
        t.extra_env.push(("WHARF_ENVS_DIR".into(), envs.to_str().unwrap().into()));
        let p = t.project("code/app");
        let v = t.init(&p);
        let env = v["project"]["env"]["expanded"].as_str().unwrap().to_string();
        assert!(env.starts_with(envs.to_str().unwrap()), "{env}");
        let marker = fs::read_to_string(p.join(".env.wharf")).unwrap();
        assert_eq!(marker.contains("${HOME}"), under_home, "{marker}");
        assert_eq!(sourced(&p, &t.home), env, "the shell sees the literal path; marker:\n{marker}");
        let ran: Vec<_> = walkdir::WalkDir::new(t.root())
            .into_iter()
            .filter_map(Result::ok)
            .filter(|e| e.file_name().to_string_lossy().starts_with("PWNED"))
            .map(|e| e.path().to_path_buf())
            .collect();
        assert!(ran.is_empty(), "sourcing the marker ran a command: {ran:?}");
        let (check, out) = t.json(&["check", p.to_str().unwrap()]);
        assert!(out.status.success(), "wharf reads its own marker back the same: {check}");
    }
}

mod shell_property {
    use super::*;
    use proptest::prelude::*;
    use wharf::project::dotenv::Document;

    proptest! {
        #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

        /// What `Document::set` writes, a POSIX shell reads back as the same value (with `${HOME}`
        /// expanded, as wharf expands it), for values without a newline or NUL.
        #[test]
        fn sh_sources_what_dotenv_writes(
            home_prefix in any::<bool>(),
            tail in "[^\n\r\u{0}]{0,24}",
        ) {
            // A `${NAME}` reference in the tail is meant to expand; this property is about the rest.
            prop_assume!(!tail.contains("${"));
            let value = if home_prefix { format!("${{HOME}}/{tail}") } else { tail.clone() };
            let dir = tempfile::tempdir().unwrap();
            let home = dir.path().join("h o$me");
            let mut doc = Document::parse("# user line\n");
            doc.set("UV_PROJECT_ENVIRONMENT", &value);
            fs::write(dir.path().join(".env.wharf"), doc.render()).unwrap();
            let expected = value.replace("${HOME}", home.to_str().unwrap());
            prop_assert_eq!(sourced(dir.path(), &home), expected, "file: {:?}", doc.render());
            let back = Document::parse(&doc.render());
            prop_assert_eq!(back.get("UV_PROJECT_ENVIRONMENT"), Some(value.as_str()));
        }
    }
}

#[test]
fn a_cloned_env_cannot_vouch_for_itself_with_a_relative_back_link() {
    let t = TestHome::new();
    let p = t.project("code/self-vouching");
    let venv = p.join("venv");
    fs::create_dir_all(&venv).unwrap();
    fs::write(venv.join("pyvenv.cfg"), "home = /usr/bin\n").unwrap();
    // The back-link names "." — which is whatever folder wharf runs in: the clone itself.
    fs::write(venv.join(".wharf-project.json"), r#"{"project": ".", "id": "x", "created_at": "2026-01-01T00:00:00Z"}"#)
        .unwrap();
    let p = cloned_project(&t, "code/self-vouching", venv.to_str().unwrap());
    let before = snapshot::<&Path>(&venv, &[]);
    let out = t.cmd().args(["init", "--no-venv"]).current_dir(&p).output().unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    assert!(text(&out.stderr).contains("back-link"), "{}", text(&out.stderr));
    assert_eq!(snapshot::<&Path>(&venv, &[]), before);
}
