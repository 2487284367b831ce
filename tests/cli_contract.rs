//! The command line's contract with scripts and people: one JSON error document for every failure
//! (usage errors from argument parsing included), help that teaches (examples, global options apart),
//! and error messages that name the real cause and a fix that applies.

mod support;

use serde_json::Value;
use support::server::Server;
use support::TestHome;

/// Run `wharf` with `args` (which hold `--json` somewhere) and parse stdout as one document.
fn error_doc(t: &TestHome, args: &[&str]) -> (Value, std::process::Output) {
    let out = t.cmd().args(args).output().unwrap();
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "{args:?}: stdout is not one JSON document ({e}):\n{}\nstderr:\n{}",
            support::text(&out.stdout),
            support::text(&out.stderr)
        )
    });
    (doc, out)
}

#[test]
fn every_kind_of_usage_error_is_one_json_document_with_code_message_hint_and_exit_2() {
    let t = TestHome::new();
    let cases: &[(&[&str], &str)] = &[
        (&["list", "--json", "--bogus"], "unknown_argument"),
        (&["--json", "lst"], "unknown_command"),
        (&["models", "gc", "--json"], "missing_argument"),
        (&["check", "--fail-on", "bogus", "--json"], "invalid_value"),
        (&["--json", "check", "--all", "somewhere"], "conflicting_arguments"),
        (&["--json"], "missing_command"),
        (&["pull", "--json", "ftp://example.invalid/x.bin"], "usage"),
    ];
    for (args, code) in cases {
        let (doc, out) = error_doc(&t, args);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {doc}");
        assert_eq!(doc["schema"], 1, "{args:?}: {doc}");
        let e = &doc["error"];
        assert_eq!(e["code"], *code, "{args:?}: {doc}");
        assert_eq!(e["exit_code"], 2, "{args:?}: {doc}");
        assert!(!e["message"].as_str().unwrap().is_empty(), "{args:?}: {doc}");
        assert!(!e["message"].as_str().unwrap().contains("hint:"), "the hint is its own field: {doc}");
        assert!(e["hint"].as_str().is_some_and(|h| !h.is_empty()), "{args:?}: {doc}");
        assert!(!support::text(&out.stderr).is_empty(), "{args:?}: stderr keeps the human text");
    }
    // The suggestion for a typo names the real command.
    let (doc, _) = error_doc(&t, &["--json", "lst"]);
    assert!(doc["error"]["hint"].as_str().unwrap().contains("'list'"), "{doc}");
}

#[test]
fn without_json_a_usage_error_is_not_json_and_help_and_version_exit_0() {
    let t = TestHome::new();
    let out = t.run(&["list", "--bogus"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(out.stdout.is_empty(), "{}", support::text(&out.stdout));
    for args in [&["--help"][..], &["--version"], &["list", "--help", "--json"]] {
        let out = t.run(args);
        assert_eq!(out.status.code(), Some(0), "{args:?}");
        assert!(!out.stdout.is_empty(), "{args:?}");
    }
}

#[test]
fn every_command_help_ends_with_real_examples_and_keeps_global_options_apart() {
    let t = TestHome::new();
    let top = support::text(&t.run(&["--help"]).stdout);
    assert!(top.contains("Models:") && top.contains("Environments:"), "{top}");
    let mut paths: Vec<Vec<String>> = Vec::new();
    for c in support::subcommands(&top) {
        let help = support::text(&t.run(&[c.as_str(), "--help"]).stdout);
        let subs = support::subcommands(&help);
        paths.push(vec![c.clone()]);
        paths.extend(subs.into_iter().map(|s| vec![c.clone(), s]));
    }
    assert!(paths.len() >= 9, "{paths:?}");
    for path in paths {
        let mut args: Vec<&str> = path.iter().map(String::as_str).collect();
        args.push("--help");
        let help = support::text(&t.run(&args).stdout);
        assert!(help.contains("\nGlobal options:\n"), "{path:?}:\n{help}");
        let examples: Vec<&str> = help
            .lines()
            .skip_while(|l| *l != "Examples:")
            .skip(1)
            .take_while(|l| l.starts_with("  "))
            .filter(|l| l.trim_start().starts_with("wharf "))
            .collect();
        assert!((2..=4).contains(&examples.len()), "{path:?} needs 2-4 examples:\n{help}");
        let want = format!("wharf {}", path.join(" "));
        assert!(examples.iter().all(|e| e.trim_start().starts_with(&want)), "{path:?}: {examples:?}");
    }
}

#[test]
fn a_refused_connection_names_its_cause() {
    let t = TestHome::new();
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let url = format!("http://127.0.0.1:{port}/m.bin");
    let out = t.cmd().env("WHARF_MAX_RETRIES", "0").args(["pull", &url]).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = support::text(&out.stderr);
    assert!(err.to_lowercase().contains("connection refused"), "{err}");
}

#[test]
fn hub_hints_only_for_the_hub_and_a_refused_token_is_called_refused() {
    let (hub, _cdn) = Server::hub();
    let t = TestHome::with_hub(&hub);
    // A plain URL that is not there: nothing about HF_TOKEN.
    let (doc, out) = error_doc(&t, &["pull", "--json", &hub.url("/nothing.bin")]);
    assert_eq!(out.status.code(), Some(1), "{doc}");
    assert!(!doc["error"]["hint"].as_str().unwrap_or("").contains("HF_TOKEN"), "{doc}");
    // The hub says 401 without a token: set one.
    hub.faults().fail_next.push_back((401, None));
    let (doc, _) = error_doc(&t, &["pull", "--json", "hf://org/repo/f.bin"]);
    let hint = doc["error"]["hint"].as_str().unwrap_or("");
    assert!(hint.contains("HF_TOKEN") && !hint.contains("refused the token"), "{doc}");
    // The hub says 401 to a token: the token was refused.
    hub.faults().fail_next.push_back((401, None));
    let out = t.cmd().env("HF_TOKEN", "hf_secret").args(["pull", "--json", "hf://org/repo/f.bin"]).output().unwrap();
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(doc["error"]["hint"].as_str().unwrap_or("").contains("refused the token"), "{doc}");
    assert!(!support::text(&out.stdout).contains("hf_secret") && !support::text(&out.stderr).contains("hf_secret"));
}

#[test]
fn a_hub_file_refused_by_its_cdn_still_gets_the_hub_hint() {
    let (hub, cdn) = Server::hub();
    // Large enough to be an LFS file: the hub redirects its download to the CDN.
    hub.put_repo(&cdn, "org/repo", &"c".repeat(40), &[("big.bin", support::server::pattern(4096, 7))]);
    let t = TestHome::with_hub(&hub);
    cdn.faults().fail_next.push_back((403, None));
    let (doc, out) = error_doc(&t, &["pull", "--json", "hf://org/repo/big.bin"]);
    assert_eq!(out.status.code(), Some(1), "{doc}");
    let hint = doc["error"]["hint"].as_str().unwrap_or("");
    assert!(hint.contains("HF_TOKEN") && !hint.contains("pre-signed"), "{doc}");
    assert!(cdn.requests().iter().any(|r| r.path.starts_with("/blobs/")), "the CDN was asked");
}

#[test]
fn a_checksum_mismatch_names_both_causes() {
    let srv = Server::start();
    let url = srv.put_file("/m.bin", b"real bytes".to_vec());
    let t = TestHome::new();
    let spec = format!("{url}#sha256={}", "ab".repeat(32));
    let (doc, out) = error_doc(&t, &["pull", "--json", &spec]);
    assert_eq!(out.status.code(), Some(1), "{doc}");
    let hint = doc["error"]["hint"].as_str().unwrap();
    assert!(hint.contains("pin") && hint.contains("server"), "{doc}");
    assert!(hint.contains(&support::server::sha256_hex(b"real bytes")), "the actual digest, to pin if trusted: {doc}");
}

#[test]
fn a_closed_stdout_keeps_the_exit_code_so_pipefail_sees_a_failed_check() {
    let t = TestHome::new();
    let dir = t.project("code/not-a-project");
    let wharf = assert_cmd::cargo::cargo_bin("wharf");
    // `true` exits at once, so wharf writes into a pipe nobody reads.
    for (args, code) in [("check --json", 1), ("bogus --json", 2), ("list", 0), ("completions bash", 0)] {
        let line = format!("set -o pipefail; '{}' {args} | true", wharf.display());
        let out = t.program(std::path::Path::new("bash")).current_dir(&dir).args(["-c", &line]).output().unwrap();
        assert_eq!(out.status.code(), Some(code), "{args}: {}", support::text(&out.stderr));
        assert!(!support::text(&out.stderr).contains("panicked"), "{args}: {}", support::text(&out.stderr));
    }
}
