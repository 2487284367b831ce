//! A registry on a read-only filesystem (EROFS): `list` and `check` still answer, with a warning.
//!
//! The read-only mount is made in a private mount namespace (`unshare -m`, we run as root in CI;
//! `unshare -rm` otherwise), so nothing outside this test sees it.

mod support;

use std::fs;
use std::path::Path;
use std::process::{Command, Output};

use support::{text, TestHome};

/// `wharf ARGS` inside a mount namespace where `dir` is bind-mounted read-only onto itself.
/// `None` when this machine cannot make one (then the test fails unless skipping is allowed).
fn run_read_only(t: &TestHome, dir: &Path, args: &[&str]) -> Option<Output> {
    let wharf = assert_cmd::cargo::cargo_bin("wharf");
    let script = "mount --bind \"$1\" \"$1\" && mount -o remount,ro,bind \"$1\" || exit 97; \
                  touch \"$1/.probe\" 2>/dev/null && exit 98; shift; exec \"$@\"";
    for flags in ["-m", "-rm"] {
        let out = Command::new("unshare")
            .args([flags, "sh", "-c", script, "sh"])
            .arg(dir)
            .arg(&wharf)
            .args(args)
            .env_clear()
            .env("PATH", support::path_without_uv())
            .env("HOME", &t.home)
            .env("WHARF_HOME", &t.wharf_home)
            .env("NO_COLOR", "1")
            .current_dir(&t.home)
            .output();
        match out {
            Ok(o)
                if !matches!(o.status.code(), Some(97) | Some(98) | None) && !text(&o.stderr).contains("unshare:") =>
            {
                return Some(o)
            }
            _ => continue,
        }
    }
    let allowed = std::env::var("WHARF_TEST_ALLOW_SKIP").is_ok_and(|v| v == "1");
    assert!(
        allowed,
        "cannot make a read-only mount with `unshare -m`/`unshare -rm`; set WHARF_TEST_ALLOW_SKIP=1 to skip"
    );
    eprintln!("skipped: no `unshare` mount namespace on this machine (WHARF_TEST_ALLOW_SKIP=1)");
    None
}

#[test]
fn on_a_read_only_registry_filesystem_list_and_check_answer_with_a_warning() {
    let t = TestHome::new();
    let good = t.project("code/good");
    let bad = t.project("code/bad");
    t.init(&good);
    t.init(&bad);
    fs::remove_file(bad.join(".env.wharf")).unwrap();
    let registry = fs::read(t.registry_file()).unwrap();

    for lock_file_there in [true, false] {
        if !lock_file_there {
            fs::remove_file(t.wharf_home.join("registry.lock")).unwrap();
        }
        let Some(out) = run_read_only(&t, &t.wharf_home, &["list", "--json"]) else { return };
        assert_eq!(out.status.code(), Some(0), "list: {}", text(&out.stderr));
        assert!(text(&out.stderr).contains("warning:"), "{}", text(&out.stderr));
        let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(doc["projects"].as_array().unwrap().len(), 2);

        let out = run_read_only(&t, &t.wharf_home, &["check", good.to_str().unwrap()]).unwrap();
        assert_eq!(out.status.code(), Some(0), "check good: {}", text(&out.stderr));
        assert!(text(&out.stderr).contains("warning:"), "{}", text(&out.stderr));
        let out = run_read_only(&t, &t.wharf_home, &["check", "--all"]).unwrap();
        assert_eq!(out.status.code(), Some(1), "check --all: {}", text(&out.stderr));
        assert!(text(&out.stderr).contains("warning:"), "{}", text(&out.stderr));
    }
    assert_eq!(fs::read(t.registry_file()).unwrap(), registry, "nothing was written");
}
