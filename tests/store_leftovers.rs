//! What the store does with files it did not finish or cannot read: partial downloads left by a
//! killed pull are shown and cleaned up (unless a live process holds their lock), and `verify
//! --fix` never deletes a file it merely cannot read.

mod support;

use std::io::BufRead;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;
use support::server::{pattern, sha256_hex, Server};
use support::{text, TestHome};

const COMMIT: &str = "89abcdef0123456789abcdef0123456789abcdef";
const MIB: usize = 1 << 20;

/// Wait (bounded) until `cond` holds; the deadline only guards against a hang.
fn wait_for(what: &str, cond: impl Fn() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while !cond() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Start `wharf pull SPEC` and SIGKILL it once `partial` has at least 1 MiB on disk; the server
/// was told to stall, so the kill lands mid-transfer.
fn pull_killed_mid_transfer(t: &TestHome, spec: &str, partial: &Path) {
    let mut child: Child = t.std_cmd().args(["pull", spec]).stderr(Stdio::null()).spawn().unwrap();
    // Bytes really held (a ranged temp file is sparse: its length runs ahead of its data).
    let held = |m: std::fs::Metadata| std::os::unix::fs::MetadataExt::blocks(&m) * 512;
    wait_for("the partial download", || std::fs::metadata(partial).is_ok_and(|m| held(m) >= MIB as u64));
    child.kill().unwrap(); // SIGKILL: no destructor, no cleanup
    child.wait().unwrap();
    assert!(partial.is_file(), "the killed pull left `{}`", partial.display());
}

/// A python3 process holding `flock(LOCK_EX)` on `lock` (the same flock(2) wharf and
/// huggingface_hub's filelock take), until killed.
fn hold_lock(lock: &Path) -> Child {
    std::fs::create_dir_all(lock.parent().unwrap()).unwrap();
    let mut holder = Command::new("python3")
        .args([
            "-c",
            "import fcntl,sys,time; f=open(sys.argv[1],'a'); fcntl.flock(f, fcntl.LOCK_EX); print('held', flush=True); time.sleep(60)",
            lock.to_str().unwrap(),
        ])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    std::io::BufReader::new(holder.stdout.as_mut().unwrap()).read_line(&mut line).unwrap();
    assert_eq!(line.trim(), "held");
    holder
}

fn partial_ids(t: &TestHome) -> Vec<String> {
    let (list, _) = t.json(&["models", "list"]);
    list["partials"].as_array().unwrap().iter().map(|p| p["id"].as_str().unwrap().to_string()).collect()
}

#[test]
fn a_pull_killed_mid_transfer_shows_in_stats_and_clear_removes_it() {
    let (hub, cdn) = Server::hub();
    let body = pattern(6 * MIB, 3);
    let etag = sha256_hex(&body);
    hub.put_repo(&cdn, "acme/big", COMMIT, &[("big.bin", body)]);
    cdn.faults().stall = Some((3 * MIB as u64, Duration::from_secs(60)));
    let mut t = TestHome::new();
    t.extra_env.push(("HF_ENDPOINT".into(), hub.url("")));
    let partial = t.home.join(format!(".cache/huggingface/hub/models--acme--big/blobs/{etag}.incomplete"));
    pull_killed_mid_transfer(&t, "hf://acme/big/big.bin", &partial);
    let on_disk = std::fs::metadata(&partial).unwrap().len();

    let (stats, out) = t.json(&["models", "stats"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!((stats["partial_files"].as_u64(), stats["partial_bytes"].as_u64()), (Some(1), Some(on_disk)), "{stats}");
    assert_eq!(stats["total_models"], 0, "a partial is no model: {stats}");
    let human = text(&t.run(&["models", "stats"]).stdout);
    assert!(human.contains("partial:") && human.contains("1 ("), "{human}");
    let (list, _) = t.json(&["models", "list"]);
    assert_eq!(list["partials"][0]["id"], format!("hf:acme/big:{etag}.incomplete"), "{list}");
    assert_eq!(list["partials"][0]["size"], on_disk);
    assert_eq!(list["models"].as_array().unwrap().len(), 0, "{list}");

    let (cleared, out) = t.json(&["models", "clear", "--yes"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(cleared["removed"][0], format!("hf:acme/big:{etag}.incomplete"), "{cleared}");
    assert_eq!(cleared["freed_bytes"], on_disk);
    assert!(!partial.exists());
    let (stats, _) = t.json(&["models", "stats"]);
    assert_eq!(stats["partial_bytes"], 0, "{stats}");
}

#[test]
fn a_partial_whose_lock_is_held_is_kept_by_clear_gc_and_prune() {
    let files = Server::start();
    let body = pattern(6 * MIB, 4);
    let hex = sha256_hex(&body);
    let url = files.put_file("big.bin", body);
    files.faults().stall = Some((3 * MIB as u64, Duration::from_secs(60)));
    let t = TestHome::new();
    let cache = t.wharf_home.join("cache");
    let partial = cache.join(format!("blobs/sha256/{hex}.incomplete"));
    pull_killed_mid_transfer(&t, &format!("{url}#sha256={hex}"), &partial);
    let id = format!("sha256:{hex}.incomplete");
    assert_eq!(partial_ids(&t), std::slice::from_ref(&id));

    // A live process holds the blob's lock: to wharf, a transfer in progress.
    let mut holder = hold_lock(&cache.join(format!(".locks/{hex}.lock")));
    let (cleared, out) = t.json(&["models", "clear", "--yes"]);
    let (gc, gc_out) = t.json(&["models", "gc", "--max-size", "0"]);
    let (pruned, prune_out) = t.json(&["prune", "--models", "--yes"]);
    holder.kill().unwrap();
    holder.wait().unwrap();
    assert!(out.status.success() && gc_out.status.success(), "{}{}", text(&out.stderr), text(&gc_out.stderr));
    assert!(prune_out.status.success(), "{}", text(&prune_out.stderr));
    assert!(partial.is_file(), "a partial being written is never removed");
    assert_eq!(cleared["kept"][0]["id"], id.as_str(), "{cleared}");
    assert!(cleared["kept"][0]["reason"].as_str().unwrap().contains("in progress"), "{cleared}");
    assert_eq!(cleared["removed"].as_array().unwrap().len(), 0, "{cleared}");
    assert_eq!(gc["kept"][0]["id"], id.as_str(), "{gc}");
    let item = &pruned["items"][0];
    assert_eq!((item["action"].as_str(), item["path"].as_str()), (Some("skipped"), partial.to_str()), "{pruned}");

    // The holder is gone: the next prune --models takes the lock and removes it.
    let (dry, _) = t.json(&["prune", "--models", "--dry-run"]);
    assert_eq!(dry["items"][0]["action"], "removed", "{dry}");
    assert!(partial.is_file(), "a dry run removes nothing");
    let (pruned, out) = t.json(&["prune", "--models", "--yes"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(pruned["items"][0]["action"], "removed", "{pruned}");
    assert!(pruned["reclaimed_bytes"].as_u64().unwrap() >= MIB as u64, "{pruned}");
    assert!(!partial.exists());
    assert!(partial_ids(&t).is_empty());
}

/// `tool ARGS… wharf` running as uid/gid 65534 (nobody), or `None` when no tool can switch users.
fn as_nobody() -> Option<Command> {
    let found = |tool: &str| {
        std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default())
            .chain([
                PathBuf::from("/usr/bin"),
                PathBuf::from("/usr/sbin"),
                PathBuf::from("/bin"),
                PathBuf::from("/sbin"),
            ])
            .map(|d| d.join(tool))
            .find(|p| p.is_file())
    };
    if let Some(setpriv) = found("setpriv") {
        let mut c = Command::new(setpriv);
        c.args(["--reuid=65534", "--regid=65534", "--clear-groups"]);
        return Some(c);
    }
    let runuser = found("runuser")?;
    let mut c = Command::new(runuser);
    c.args(["-u", "nobody", "--"]);
    Some(c)
}

#[test]
fn verify_fix_keeps_a_blob_it_cannot_read_and_reports_it_unreadable() {
    if as_nobody().is_none() {
        if std::env::var("WHARF_TEST_ALLOW_SKIP").as_deref() == Ok("1") {
            eprintln!("skipped: neither setpriv nor runuser is installed");
            return;
        }
        panic!("this test needs setpriv or runuser (util-linux); set WHARF_TEST_ALLOW_SKIP=1 to skip it");
    }
    let files = Server::start();
    let t = TestHome::new();
    let (mine, theirs) = (pattern(3000, 5), pattern(4000, 6));
    for (name, body) in [("mine.bin", &mine), ("theirs.bin", &theirs)] {
        let url = files.put_file(name, body.clone());
        let out = t.run(&["pull", &format!("{url}#sha256={}", sha256_hex(body))]);
        assert!(out.status.success(), "{}", text(&out.stderr));
    }
    // Everything belongs to nobody, except one blob another user owns and keeps private: nobody
    // could delete it (it owns the folder) but cannot read it.
    let status = Command::new("chown").args(["-R", "65534:65534"]).arg(t.root()).status().unwrap();
    assert!(status.success());
    let blob = t.wharf_home.join(format!("cache/blobs/sha256/{}", sha256_hex(&theirs)));
    std::os::unix::fs::chown(&blob, Some(0), Some(0)).unwrap();
    std::fs::set_permissions(&blob, std::os::unix::fs::PermissionsExt::from_mode(0o600)).unwrap();

    let run = |args: &[&str]| {
        let (wharf, mut cmd) = (t.std_cmd(), as_nobody().unwrap());
        cmd.arg(wharf.get_program()).args(args).env_clear().current_dir(&t.home);
        for (k, v) in wharf.get_envs() {
            cmd.env(k, v.unwrap_or_default());
        }
        cmd.output().unwrap()
    };
    let out = run(&["models", "verify", "--fix", "--json"]);
    let doc: Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {}\n{}", text(&out.stdout), text(&out.stderr)));
    let id = format!("sha256:{}", sha256_hex(&theirs));
    assert!(blob.is_file(), "verify --fix removed a file it could not read: {doc}");
    assert_eq!(doc["unreadable"][0]["id"], id.as_str(), "{doc}");
    assert_eq!(doc["unreadable"][0]["path"], blob.to_str().unwrap());
    assert!(doc["unreadable"][0]["error"].as_str().unwrap().to_lowercase().contains("permission denied"), "{doc}");
    assert_eq!(doc["corrupted"], serde_json::json!([]), "{doc}");
    assert_eq!(doc["removed"], serde_json::json!([]), "{doc}");
    assert_eq!(doc["valid"], serde_json::json!([format!("sha256:{}", sha256_hex(&mine))]), "{doc}");
    assert_eq!(out.status.code(), Some(1), "an unverified file is not a pass");

    let human = run(&["models", "verify"]);
    let shown = text(&human.stdout);
    assert!(shown.contains("unreadable: 1") && shown.contains(&format!("unreadable  {id}")), "{shown}");

    // A folder nobody may enter proves nothing either: its recorded blobs are unreadable, not
    // missing, and `--fix` drops neither them nor their records.
    let dir = blob.parent().unwrap();
    std::os::unix::fs::chown(dir, Some(0), Some(0)).unwrap();
    std::fs::set_permissions(dir, std::os::unix::fs::PermissionsExt::from_mode(0o700)).unwrap();
    let records = std::fs::read_dir(t.wharf_home.join("cache/index")).unwrap().count();
    let out = run(&["models", "verify", "--fix", "--json"]);
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(doc["unreadable"].as_array().unwrap().len(), 2, "{doc}");
    assert_eq!((doc["missing"].as_array().unwrap().len(), doc["removed"].as_array().unwrap().len()), (0, 0), "{doc}");
    assert_eq!(std::fs::read_dir(t.wharf_home.join("cache/index")).unwrap().count(), records);
    assert!(blob.is_file() && dir.join(sha256_hex(&mine)).is_file());
}

#[test]
fn a_killed_ranged_pull_leaves_a_ranged_partial_that_clear_removes() {
    let (hub, cdn) = Server::hub();
    let body = pattern(20 * MIB, 9);
    let etag = sha256_hex(&body);
    hub.put_repo(&cdn, "acme/huge", COMMIT, &[("huge.bin", body)]);
    cdn.faults().stall = Some((2 * MIB as u64, Duration::from_secs(60)));
    let mut t = TestHome::new();
    t.extra_env.push(("HF_ENDPOINT".into(), hub.url("")));
    t.extra_env.push(("WHARF_CONNECTIONS".into(), "3".into()));
    let partial = t.home.join(format!(".cache/huggingface/hub/models--acme--huge/blobs/{etag}.incomplete.ranged"));
    pull_killed_mid_transfer(&t, "hf://acme/huge/huge.bin", &partial);
    let (list, _) = t.json(&["models", "list"]);
    assert_eq!(list["partials"][0]["id"], format!("hf:acme/huge:{etag}.incomplete.ranged"), "{list}");
    let held = list["partials"][0]["size"].as_u64().unwrap();
    assert!(held >= MIB as u64 && held <= 20 * MIB as u64, "{list}");
    let (stats, _) = t.json(&["models", "stats"]);
    assert_eq!(stats["partial_bytes"], held, "{stats}");
    let (cleared, out) = t.json(&["models", "clear", "--yes"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(cleared["freed_bytes"], held, "{cleared}");
    assert!(!partial.exists());
}
