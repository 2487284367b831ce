//! The S3 fixture itself (tests/support/s3.rs) against a real SeaweedFS: the team-store tests lean
//! on these behaviours (round trip, ranges, conditional create, listing, delete, a server that goes
//! away), so they are pinned here, apart from anything wharf does.

mod support;

use std::io::ErrorKind;
use std::net::TcpStream;

use support::s3::Weed;
use support::server::pattern;

#[test]
fn the_fixture_round_trips_ranges_refuses_a_second_create_lists_and_deletes() {
    let Some(weed) = Weed::start() else { return };
    let body = pattern(3 * 1024 * 1024 + 17, 7);
    weed.put("models/org/a.bin", &body);
    weed.put("models/org-b/other.bin", b"not under the prefix");

    let got = weed.get("models/org/a.bin").expect("the object just put");
    assert!(got == body, "GET returned {} bytes, not the {} put (or other bytes)", got.len(), body.len());

    let ranged = weed.request("models/org/a.bin", &["-H", "Range: bytes=1000-1999"]);
    assert_eq!(ranged.status, 206, "a Range GET: {ranged:?}");
    assert!(ranged.body == body[1000..2000], "a Range GET answered other bytes ({} of them)", ranged.body.len());

    let again = weed.put_with("models/org/a.bin", b"a rival writer", &["If-None-Match: *"]);
    assert_eq!(again.status, 412, "a second create with If-None-Match: * must be refused: {again:?}");
    assert!(weed.get("models/org/a.bin").unwrap() == body, "the refused PUT changed the object");
    let fresh = weed.put_with("models/org/new.bin", b"first", &["If-None-Match: *"]);
    assert_eq!(fresh.status, 200, "a first create with If-None-Match: * must succeed: {fresh:?}");

    assert_eq!(weed.list("models/org/"), ["models/org/a.bin", "models/org/new.bin"]);
    assert_eq!(weed.list("").len(), 3);

    assert!(weed.head_exists("models/org/a.bin"));
    weed.delete("models/org/a.bin");
    assert!(!weed.head_exists("models/org/a.bin"), "HEAD finds the deleted object");
    assert_eq!(weed.get("models/org/a.bin"), None);
    assert_eq!(weed.list("models/org/"), ["models/org/new.bin"]);
}

#[test]
fn a_stopped_server_refuses_connections() {
    let Some(mut weed) = Weed::start() else { return };
    weed.put("k", b"v");
    let addr = weed.endpoint.trim_start_matches("http://").to_string();
    TcpStream::connect(&addr).expect("the running server accepts connections");

    weed.stop();
    let err = TcpStream::connect(&addr).expect_err("the stopped server still accepts connections");
    assert_eq!(err.kind(), ErrorKind::ConnectionRefused, "connecting to {addr}: {err}");
    let reply = weed.request("k", &[]);
    assert_eq!(reply.status, 0, "curl got an answer from a stopped server: {reply:?}");
    let log = weed.log();
    let orderly = log.lines().any(|l| l.trim_start().starts_with("S3") && l.contains("stopped"));
    assert!(orderly, "weed's log shows no orderly stop of S3:\n{}", weed.log_tail());
}
