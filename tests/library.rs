//! wharf as a library: the example that uses only the facade works against the loopback hub, and
//! the library builds without the command line's dependencies.

mod support;

use std::path::PathBuf;
use std::process::Command;

use support::server::{pattern, sha256_hex, Server};
use support::{text, TestHome};

const COMMIT: &str = "0123456789abcdef0123456789abcdef01234567";

/// `target/<profile>/examples/NAME`, built by `cargo test` beside this test's own binary.
fn example(name: &str) -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    let profile_dir = exe.parent().and_then(|deps| deps.parent()).unwrap();
    let path = profile_dir.join("examples").join(name);
    assert!(path.is_file(), "`{}` was not built (cargo test builds examples)", path.display());
    path
}

#[test]
fn the_example_pulls_through_the_facade_and_checks_a_project() {
    let (hub, cdn) = Server::hub();
    let body = pattern(300_000, 9);
    hub.put_repo(&cdn, "org/m", COMMIT, &[("w.bin", body.clone())]);
    let t = TestHome::with_hub(&hub);
    let project = t.project("code/demo");
    t.init(&project);

    let out =
        t.program(&example("pull_and_check")).args(["hf://org/m/w.bin", project.to_str().unwrap()]).output().unwrap();
    let stdout = text(&out.stdout);
    assert!(out.status.success(), "{stdout}\n{}", text(&out.stderr));
    let first: Vec<&str> = stdout.lines().next().unwrap().splitn(3, ' ').collect();
    assert_eq!(first[0], sha256_hex(&body), "{stdout}");
    assert_eq!(first[1], body.len().to_string());
    assert_eq!(std::fs::read(first[2]).unwrap(), body);
    assert!(first[2].starts_with(t.hub_cache().to_str().unwrap()), "{stdout}");
    assert!(stdout.contains("cached: true"), "{stdout}");
    assert!(stdout.contains(&format!("{}: valid", project.display())), "{stdout}");
    assert!(cdn.request_count() >= 1, "the file came from the loopback CDN");

    // The same check says so when the project's environment is gone.
    let env = t.registry()["projects"].as_object().unwrap().values().next().unwrap()["env"]["path"].clone();
    let env = env.as_str().unwrap().replace("${HOME}", t.home.to_str().unwrap());
    std::fs::remove_dir_all(&env).unwrap();
    let out =
        t.program(&example("pull_and_check")).args(["hf://org/m/w.bin", project.to_str().unwrap()]).output().unwrap();
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}\n{}", text(&out.stderr));
    assert!(stdout.contains(&format!("{}: orphaned", project.display())), "{stdout}");
}

fn cargo(args: &[&str]) -> (bool, String) {
    cargo_with(args, &[])
}

fn cargo_with(args: &[&str], env: &[(&str, &str)]) -> (bool, String) {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let mut cmd = Command::new(cargo);
    cmd.args(args).current_dir(env!("CARGO_MANIFEST_DIR"));
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.output().unwrap();
    (out.status.success(), format!("{}{}", text(&out.stdout), text(&out.stderr)))
}

#[test]
fn the_library_builds_without_the_command_line_dependencies() {
    let (ok, lib_only) = cargo(&["tree", "--offline", "--no-default-features", "-e", "normal", "--prefix", "none"]);
    assert!(ok && lib_only.contains("wharf v"), "{lib_only}");
    for cli_only in ["clap v", "clap_complete v", "indicatif v"] {
        assert!(!lib_only.contains(cli_only), "the library alone depends on {cli_only}:\n{lib_only}");
    }
    let (ok, with_cli) = cargo(&["tree", "--offline", "-e", "normal", "--prefix", "none"]);
    assert!(ok && with_cli.contains("clap v") && with_cli.contains("indicatif v"), "{with_cli}");

    // It compiles so, too (its own target folder: this test runs inside `cargo test`'s build).
    let target = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/lib-only");
    let (ok, log) =
        cargo(&["check", "--offline", "--lib", "--no-default-features", "--target-dir", target.to_str().unwrap()]);
    assert!(ok, "`cargo check --lib --no-default-features` failed:\n{log}");

    // Every public item is documented and every doc link resolves (`#![warn(missing_docs)]`,
    // made an error here).
    let doc =
        ["doc", "--offline", "--no-deps", "--lib", "--no-default-features", "--target-dir", target.to_str().unwrap()];
    let (ok, log) = cargo_with(&doc, &[("RUSTDOCFLAGS", "-D warnings")]);
    assert!(ok, "`cargo doc --no-deps` warns:\n{log}");
}
