//! How long a hub may take to answer (its first byte) is a limit of its own, apart from the stall
//! timeout that holds every body: a mirror that answers a cold miss only once it has the file from
//! upstream is waited for (`WHARF_MIRROR_TTFB`), one that stops in the middle of a body is not; the
//! primary keeps the stall timeout unless huggingface_hub's timeouts say otherwise.
//!
//! Times are scaled down: `WHARF_STALL_TIMEOUT=1` and a server that answers after a few seconds
//! prove the rule the issue states with 30 s and a minute.

mod support;

use std::fs;
use std::time::{Duration, Instant};

use serde_json::Value;
use support::server::{pattern, Server};
use support::{text, TestHome};

const COMMIT: &str = "0123456789abcdef0123456789abcdef01234567";

/// A file small enough to be answered by the hub itself (no CDN hop): its `HEAD` and its `GET`
/// both go to the server under test.
const FILE: &str = "hf://org/m/config.json";

/// A primary hub that has the repo but is down (503 to everything), and a mirror that has it too;
/// a home that asks the primary first, then the mirror, with no retries and a 1 s stall timeout.
fn primary_down_and_a_mirror(body: &[u8]) -> (Server, Server, TestHome) {
    let (primary, pcdn) = Server::hub();
    let (mirror, mcdn) = Server::hub();
    primary.put_repo(&pcdn, "org/m", COMMIT, &[("config.json", body.to_vec())]);
    mirror.put_repo(&mcdn, "org/m", COMMIT, &[("config.json", body.to_vec())]);
    primary.faults().fail_next.extend([(503, None); 16]);
    let mut t = TestHome::with_hub(&primary);
    t.extra_env.push(("WHARF_MIRRORS".into(), mirror.url("")));
    t.extra_env.push(("WHARF_MAX_RETRIES".into(), "0".into()));
    t.extra_env.push(("WHARF_STALL_TIMEOUT".into(), "1".into()));
    (primary, mirror, t)
}

/// `wharf pull --json SPEC`, timed.
fn pull(t: &TestHome, spec: &str) -> (Value, std::process::Output, Duration) {
    let start = Instant::now();
    let out = t.cmd().args(["pull", "--json", spec]).output().unwrap();
    (serde_json::from_slice(&out.stdout).unwrap_or(Value::Null), out, start.elapsed())
}

/// The methods of the requests `server` got for the file (`HEAD`, `GET`), in order.
fn asked_for_the_file(server: &Server) -> Vec<String> {
    server.requests().into_iter().filter(|r| r.path.ends_with("/config.json")).map(|r| r.method).collect()
}

#[test]
fn a_mirror_that_answers_late_is_waited_for_beyond_the_stall_timeout() {
    let body = pattern(600, 1);
    let (primary, mirror, mut t) = primary_down_and_a_mirror(&body);
    // The case scaled down: first byte after 3 s (40 s), limit 8 s (60 s), stall 1 s (30 s).
    mirror.faults().first_byte_after = Some(Duration::from_secs(3));
    t.extra_env.push(("WHARF_MIRROR_TTFB".into(), "8".into()));
    let (doc, out, took) = pull(&t, FILE);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(fs::read(doc["models"][0]["path"].as_str().unwrap()).unwrap(), body);
    assert_eq!(asked_for_the_file(&primary), ["HEAD"], "the primary was asked first, and failed");
    assert_eq!(asked_for_the_file(&mirror), ["HEAD", "GET"], "the bytes came from the mirror");
    assert!(took >= Duration::from_secs(6), "both answers came late ({took:?}), past the 1 s stall timeout");
}

#[test]
fn a_mirror_slower_than_a_short_first_byte_limit_fails_naming_the_variable() {
    let body = pattern(600, 2);
    let (_primary, mirror, mut t) = primary_down_and_a_mirror(&body);
    mirror.faults().first_byte_after = Some(Duration::from_secs(3));
    t.extra_env.push(("WHARF_MIRROR_TTFB".into(), "1".into()));
    let (_, out, _) = pull(&t, FILE);
    let err = text(&out.stderr);
    assert!(!out.status.success(), "{err}");
    assert!(err.contains("no answer within 1s") && err.contains("WHARF_MIRROR_TTFB"), "{err}");
    assert!(err.contains(&mirror.url("")), "the error is the mirror's: {err}");
    assert_eq!(asked_for_the_file(&mirror), ["HEAD"], "given up on its first answer");
}

#[test]
fn a_mirror_that_stops_mid_body_fails_after_the_stall_timeout_though_its_first_byte_limit_is_long() {
    let body = pattern(900, 3);
    let (_primary, mirror, mut t) = primary_down_and_a_mirror(&body);
    // Late to answer (past the stall timeout, within its own limit), then silent after 200 bytes.
    mirror.faults().first_byte_after = Some(Duration::from_secs(2));
    mirror.faults().stall = Some((200, Duration::from_secs(60)));
    t.extra_env.push(("WHARF_MIRROR_TTFB".into(), "60".into()));
    let (_, out, took) = pull(&t, FILE);
    let err = text(&out.stderr);
    assert!(!out.status.success(), "{err}");
    assert!(err.contains("stalled: no byte for 1s") && err.contains(&mirror.url("")), "{err}");
    assert_eq!(asked_for_the_file(&mirror), ["HEAD", "GET"], "the body was asked of the mirror");
    assert!(took < Duration::from_secs(30), "failed after the stall timeout, not the first-byte limit: {took:?}");
}

#[test]
fn the_primary_keeps_the_stall_timeout_unless_huggingface_hubs_timeouts_raise_it() {
    let (hub, cdn) = Server::hub();
    let body = pattern(600, 4);
    hub.put_repo(&cdn, "org/m", COMMIT, &[("config.json", body.clone())]);
    hub.faults().first_byte_after = Some(Duration::from_secs(2));
    let mut t = TestHome::with_hub(&hub);
    t.extra_env.push(("WHARF_MAX_RETRIES".into(), "0".into()));
    t.extra_env.push(("WHARF_STALL_TIMEOUT".into(), "1".into()));
    // A mirror's limit is not the primary's.
    t.extra_env.push(("WHARF_MIRROR_TTFB".into(), "60".into()));
    let (_, out, _) = pull(&t, FILE);
    let err = text(&out.stderr);
    assert!(err.contains("no answer within 1s") && err.contains("HF_HUB_ETAG_TIMEOUT"), "{err}");

    // The metadata timeout covers the `HEAD`, not the download's `GET`.
    t.extra_env.push(("HF_HUB_ETAG_TIMEOUT".into(), "8".into()));
    let (_, out, _) = pull(&t, FILE);
    let err = text(&out.stderr);
    assert!(err.contains("no answer within 1s") && err.contains("HF_HUB_DOWNLOAD_TIMEOUT"), "{err}");
    assert_eq!(asked_for_the_file(&hub), ["HEAD", "HEAD", "GET"]);

    t.extra_env.push(("HF_HUB_DOWNLOAD_TIMEOUT".into(), "8".into()));
    let (doc, out, _) = pull(&t, FILE);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(fs::read(doc["models"][0]["path"].as_str().unwrap()).unwrap(), body);
}
