//! `wharf remove` (one project, by prune's rules), one id per stored file in every `models`
//! command, and dry runs that say "would" — against the real binary, real folders, a loopback hub.

mod support;

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Output;

use serde_json::Value;
use support::server::{pattern, sha256_hex, Server};
use support::{snapshot, text, TestHome};

const COMMIT: &str = "0123456789abcdef0123456789abcdef01234567";

fn env_of(t: &TestHome, project: &Path) -> PathBuf {
    let key = project.strip_prefix(&t.home).map(|r| format!("${{HOME}}/{}", r.display())).unwrap();
    PathBuf::from(t.registry()["projects"][&key]["env"]["expanded"].as_str().unwrap())
}

fn key(t: &TestHome, project: &Path) -> String {
    format!("${{HOME}}/{}", project.strip_prefix(&t.home).unwrap().display())
}

/// `wharf ARGS --json` run in `dir`.
fn json_in(t: &TestHome, dir: &Path, args: &[&str]) -> (Value, Output) {
    let out = t.cmd().current_dir(dir).args(args).arg("--json").output().unwrap();
    let v = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{args:?}: not JSON ({e}): {}\n{}", text(&out.stdout), text(&out.stderr)));
    (v, out)
}

/// `wharf ARGS` on a terminal (a pty from util-linux `script`), answering `answer`.
fn on_a_terminal(t: &TestHome, dir: &Path, args: &str, answer: &str) -> Option<Output> {
    if !Path::new("/usr/bin/script").is_file() {
        support::missing_tool("util-linux `script`", "apt-get install util-linux");
        return None;
    }
    let wharf = assert_cmd::cargo::cargo_bin("wharf");
    let mut c = t.program(Path::new("/usr/bin/script"));
    c.current_dir(dir).args(["-qec", &format!("{} {args}", wharf.display()), "/dev/null"]);
    let mut child = c
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write;
    child.stdin.take().unwrap().write_all(answer.as_bytes()).unwrap();
    Some(child.wait_with_output().unwrap())
}

fn items(doc: &Value) -> Vec<(String, String, String)> {
    doc["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| {
            (
                i["kind"].as_str().unwrap().into(),
                i["path"].as_str().unwrap().into(),
                i["action"].as_str().unwrap().into(),
            )
        })
        .collect()
}

#[test]
fn remove_takes_one_of_three_projects_and_leaves_the_user_lines_and_the_others() {
    let t = TestHome::new();
    let (a, b, c) = (t.project("code/a"), t.project("code/b"), t.project("code/c"));
    for p in [&a, &b, &c] {
        t.init(p);
    }
    let env_a = env_of(&t, &a);
    assert!(env_a.is_dir());
    // The user's own lines around wharf's, in their own style.
    let wharf_lines = fs::read_to_string(a.join(".env.wharf")).unwrap();
    let mine_before = "# my settings\nexport API_URL='http://127.0.0.1:9/x'\nDEBUG=1\n";
    let mine_after = "TOKEN=\"a b\"  # inline\n";
    fs::write(a.join(".env.wharf"), format!("{mine_before}{wharf_lines}{mine_after}")).unwrap();
    let registry_before = t.registry();
    let others = |t: &TestHome| {
        let (eb, ec) = (env_of(t, &b), env_of(t, &c));
        (
            snapshot(&b, &[] as &[&Path]),
            snapshot(&c, &[] as &[&Path]),
            snapshot(&eb, &[] as &[&Path]),
            snapshot(&ec, &[] as &[&Path]),
        )
    };
    let others_before = others(&t);

    // A dry run from a subfolder of the project changes nothing anywhere, and says what would go.
    let sub = a.join("src/pkg");
    fs::create_dir_all(&sub).unwrap();
    let whole = snapshot(&t.root(), &[] as &[&Path]);
    let (dry, out) = json_in(&t, &sub, &["remove", "--dry-run"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(snapshot(&t.root(), &[] as &[&Path]), whole, "a dry run changed something");
    assert_eq!(dry["dry_run"], true);
    assert_eq!(dry["schema"], 1);
    let expected = vec![
        ("env".to_string(), env_a.display().to_string(), "removed".to_string()),
        ("marker".into(), a.join(".env.wharf").display().to_string(), "removed".into()),
        ("entry".into(), a.display().to_string(), "removed".into()),
    ];
    assert_eq!(items(&dry), expected, "{dry}");
    let human = t.cmd().current_dir(&sub).args(["remove", "--dry-run"]).output().unwrap();
    assert!(text(&human.stdout).contains("would remove"), "{}", text(&human.stdout));
    assert!(!text(&human.stdout).contains("removed "), "{}", text(&human.stdout));

    // Without a terminal and without --yes: nothing, exit 2.
    let (_, out) = json_in(&t, &sub, &["remove"]);
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(snapshot(&t.root(), &[] as &[&Path]), whole);

    let (done, out) = json_in(&t, &sub, &["remove", "--yes"]);
    assert!(out.status.success(), "{done}\n{}", text(&out.stderr));
    assert_eq!(done["dry_run"], false);
    assert_eq!(items(&done), expected, "the real run did what the dry run said");
    assert_eq!(done["reclaimed_bytes"], dry["reclaimed_bytes"]);
    assert!(!env_a.exists(), "its environment is gone");
    assert_eq!(fs::read_to_string(a.join(".env.wharf")).unwrap(), format!("{mine_before}{mine_after}"));
    let reg = t.registry();
    assert!(reg["projects"].get(key(&t, &a)).is_none(), "its entry is gone");
    for p in [&b, &c] {
        assert_eq!(reg["projects"][key(&t, p)], registry_before["projects"][key(&t, p)], "another entry changed");
    }
    assert_eq!(others(&t), others_before, "another project or environment changed");
    let (list, _) = t.json(&["check", "--all"]);
    assert_eq!(list["ok"], true, "{list}");
}

#[test]
fn remove_by_registered_path_when_the_folder_is_gone_and_keep_env() {
    let t = TestHome::new();
    let (gone, kept) = (t.project("code/gone"), t.project("code/kept"));
    t.init(&gone);
    t.init(&kept);
    let (env_gone, env_kept) = (env_of(&t, &gone), env_of(&t, &kept));
    fs::remove_dir_all(&gone).unwrap();
    // A relative path, resolved against the current folder (home) without the folder existing.
    let (doc, out) = json_in(&t, &t.home, &["remove", "code/./gone", "--yes"]);
    assert!(out.status.success(), "{doc}\n{}", text(&out.stderr));
    let got = items(&doc);
    assert_eq!(got[0], ("env".into(), env_gone.display().to_string(), "removed".into()), "{doc}");
    assert_eq!((got[1].0.as_str(), got[1].2.as_str()), ("marker", "already_gone"), "{doc}");
    assert_eq!(got[2], ("entry".into(), gone.display().to_string(), "removed".into()), "{doc}");
    assert!(!env_gone.exists());
    assert!(t.registry()["projects"].get(key(&t, &gone)).is_none());

    // Not registered (any more): a usage error.
    let (err, out) = json_in(&t, &t.home, &["remove", "code/gone", "--yes"]);
    assert_eq!(out.status.code(), Some(2), "{err}");

    // --keep-env: the folder stays, its back-link goes (nothing re-attributes it), the marker is deleted
    // because it held only wharf's keys.
    let (doc, out) = json_in(&t, &t.home, &["remove", kept.to_str().unwrap(), "--keep-env", "--yes"]);
    assert!(out.status.success(), "{doc}\n{}", text(&out.stderr));
    assert_eq!(doc["items"][0]["action"], "skipped", "{doc}");
    assert!(env_kept.is_dir() && !env_kept.join(".wharf-project.json").exists(), "{doc}");
    assert!(!kept.join(".env.wharf").exists(), "a marker with only wharf's keys is deleted");
    assert!(t.registry()["projects"].as_object().unwrap().is_empty());
    let (doctor, _) = t.json(&["doctor"]);
    assert_eq!(doctor["unregistered"], serde_json::json!([]), "{doctor}");
}

#[test]
fn declining_a_prompt_exits_1_and_removes_nothing() {
    let files = Server::start();
    let t = TestHome::with_hub(&files);
    let p = t.project("code/p");
    t.init(&p);
    let orphan = t.project("code/orphan");
    t.init(&orphan);
    fs::remove_dir_all(&orphan).unwrap();
    let body = pattern(2500, 30);
    pulled(&t, &t.home, &[&files.put_file("c.bin", body.clone())]);
    let whole = snapshot(&t.root(), &[] as &[&Path]);
    for (args, dir) in [("remove", &p), ("prune", &t.home), ("models clear", &t.home)] {
        let Some(out) = on_a_terminal(&t, dir, args, "n\n") else { return };
        assert_eq!(out.status.code(), Some(1), "{args}: {}{}", text(&out.stdout), text(&out.stderr));
        assert!(text(&out.stdout).contains("nothing was removed"), "{args}: {}", text(&out.stdout));
        if args == "models clear" {
            let shown = format!("sha256:{}", sha256_hex(&body));
            assert!(text(&out.stdout).contains(&shown), "what would go is shown first: {}", text(&out.stdout));
        }
    }
    assert_eq!(snapshot(&t.root(), &[] as &[&Path]), whole, "a declined question removed something");
    let Some(out) = on_a_terminal(&t, &p, "remove", "y\n") else { return };
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stdout));
    assert!(!p.join(".env.wharf").exists());
}

#[test]
fn prune_dry_run_says_would_remove() {
    let t = TestHome::new();
    let p = t.project("code/p");
    t.init(&p);
    fs::remove_dir_all(&p).unwrap();
    let out = t.run(&["prune", "--dry-run"]);
    assert!(out.status.success());
    let shown = text(&out.stdout);
    assert!(shown.contains("would remove") && !shown.contains("removed"), "{shown}");
    let (doc, _) = t.json(&["prune", "--dry-run"]);
    assert_eq!((doc["dry_run"].clone(), doc["items"][0]["action"].clone()), (true.into(), "removed".into()));
}

fn pulled(t: &TestHome, dir: &Path, spec: &[&str]) -> Value {
    let (doc, out) = json_in(t, dir, &[&["pull"][..], spec].concat());
    assert!(out.status.success(), "{doc}\n{}", text(&out.stderr));
    doc
}

fn ids(doc: &Value, key: &str) -> Vec<String> {
    doc[key].as_array().unwrap().iter().map(|v| v.as_str().unwrap().to_string()).collect()
}

#[test]
fn verify_lists_each_file_once_by_the_id_models_list_shows() {
    let (hub, cdn) = Server::hub();
    hub.put_repo(&cdn, "org/m", COMMIT, &[("a.bin", pattern(9000, 1)), ("b.bin", pattern(9000, 2))]);
    let url = hub.put_file("c.bin", pattern(4000, 3));
    let t = TestHome::with_hub(&hub);
    let a = PathBuf::from(pulled(&t, &t.home, &["hf://org/m/a.bin"])["models"][0]["path"].as_str().unwrap());
    let b = PathBuf::from(pulled(&t, &t.home, &["hf://org/m/b.bin"])["models"][0]["path"].as_str().unwrap());
    pulled(&t, &t.home, &[&url]);
    let (list, _) = t.json(&["models", "list"]);
    let listed: Vec<String> =
        list["models"].as_array().unwrap().iter().map(|m| m["id"].as_str().unwrap().into()).collect();
    let id_of = |p: &Path| {
        let blob = fs::canonicalize(p).unwrap();
        let m = list["models"].as_array().unwrap().iter().find(|m| Path::new(m["path"].as_str().unwrap()) == blob);
        m.unwrap_or_else(|| panic!("{} not listed: {list}", blob.display()))["id"].as_str().unwrap().to_string()
    };
    let (id_a, id_b) = (id_of(&a), id_of(&b));
    let blob_b = fs::canonicalize(&b).unwrap();

    // Same-size corruption of one, deletion of the other's blob (its record and link stay).
    let blob_a = fs::canonicalize(&a).unwrap();
    let mut bytes = fs::read(&blob_a).unwrap();
    bytes[10] ^= 0xff;
    fs::write(&blob_a, bytes).unwrap();
    fs::remove_file(&blob_b).unwrap();
    let (doc, out) = t.json(&["models", "verify"]);
    assert_eq!(out.status.code(), Some(1), "{doc}");
    assert_eq!(ids(&doc, "corrupted"), vec![id_a.clone()], "{doc}");
    assert_eq!(ids(&doc, "missing"), vec![id_b.clone()], "listed once, by its models-list id: {doc}");
    let every: Vec<String> = ["valid", "corrupted", "missing"].iter().flat_map(|k| ids(&doc, k)).collect();
    assert_eq!(every.len(), 3, "{doc}");
    assert!(every.iter().all(|id| listed.contains(id)), "{every:?} vs {listed:?}");

    // verify takes a prefix too, and --fix says what it removed, with paths.
    let (one, _) = t.json(&["models", "verify", &id_a[..id_a.len() - 50]]);
    assert_eq!((ids(&one, "corrupted"), ids(&one, "valid").len()), (vec![id_a.clone()], 0), "{one}");
    let (fixed, out) = t.json(&["models", "verify", "--fix"]);
    assert!(out.status.success(), "{fixed}");
    let removed: Vec<(String, String)> = fixed["removed"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| (r["id"].as_str().unwrap().into(), r["path"].as_str().unwrap().into()))
        .collect();
    assert_eq!(removed.len(), 2, "{fixed}");
    assert!(removed.contains(&(id_a.clone(), blob_a.display().to_string())), "{fixed}");
    assert!(removed.iter().any(|(id, _)| id == &id_b), "{fixed}");
    assert!(!blob_a.exists());
    let human = t.run(&["models", "verify"]);
    assert!(human.status.success(), "{}", text(&human.stdout));
}

#[test]
fn models_rm_takes_a_prefix_a_model_name_or_a_spec_and_refuses_an_ambiguous_prefix() {
    let files = Server::start();
    let t = TestHome::with_hub(&files);
    let (one, two, three) = (pattern(3000, 7), pattern(3100, 8), pattern(3200, 9));
    let (u1, u2, u3) = (
        files.put_file("one.bin", one.clone()),
        files.put_file("two.bin", two.clone()),
        files.put_file("three.bin", three.clone()),
    );
    let project = t.home.join("code/app");
    fs::create_dir_all(&project).unwrap();
    let manifest = format!("[models.tok]\nsource = \"{u2}\"\nsha256 = \"{}\"\n", sha256_hex(&two));
    fs::write(project.join("wharf.toml"), manifest).unwrap();
    pulled(&t, &t.home, &[&u1]);
    pulled(&t, &project, &[]); // the project's models: pins tok in wharf.lock (not registered: no user)
    pulled(&t, &t.home, &[&u3]);
    let (h1, h2, h3) = (sha256_hex(&one), sha256_hex(&two), sha256_hex(&three));
    let stored = |h: &str| t.home.join(".local/share/wharf/cache/blobs/sha256").join(h);
    assert!(stored(&h1).is_file() && stored(&h2).is_file() && stored(&h3).is_file());

    // Ambiguous: every blob id starts with `sha256:`.
    let (err, out) = t.json(&["models", "rm", "sha256"]);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(text(&out.stderr).contains(&format!("sha256:{h1}")), "{}", text(&out.stderr));
    // A prefix shorter than 4 characters names nothing.
    let (_, out) = t.json(&["models", "rm", &h1[..3]]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stored(&h1).is_file() && stored(&h2).is_file() && stored(&h3).is_file(), "a refusal removed something");

    // A dry run removes nothing and names the file.
    let (dry, out) = t.json(&["models", "rm", &h1[..8], "--dry-run"]);
    assert!(out.status.success(), "{dry}");
    assert_eq!((dry["dry_run"].clone(), ids(&dry, "removed")), (true.into(), vec![format!("sha256:{h1}")]));
    assert!(stored(&h1).is_file());
    // The 8-character prefix of the digest.
    let (doc, out) = t.json(&["models", "rm", &h1[..8]]);
    assert!(out.status.success(), "{doc}");
    assert_eq!(ids(&doc, "removed"), [format!("sha256:{h1}")]);
    assert!(!stored(&h1).exists() && stored(&h2).is_file());
    // Registered, the project uses `tok`: refused, and the hint's `wharf remove` is a fix that works.
    t.init(&project);
    let (_, out) = json_in(&t, &project, &["models", "rm", "tok"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("`wharf remove PROJECT`"), "{}", text(&out.stderr));
    assert!(stored(&h2).is_file());
    let (gone, out) = json_in(&t, &project, &["remove", "--yes"]);
    assert!(out.status.success(), "{gone}");
    assert_eq!(gone["unreferenced_models"], 1, "{gone}");
    assert!(stored(&h2).is_file(), "remove leaves the models in the store");
    // The model name, from inside the project.
    let (doc, out) = json_in(&t, &project, &["models", "rm", "tok"]);
    assert!(out.status.success(), "{doc}\n{}", text(&out.stderr));
    assert_eq!(ids(&doc, "removed"), [format!("sha256:{h2}")]);
    assert!(!stored(&h2).exists());
    // The source spec.
    let (doc, out) = t.json(&["models", "rm", &u3]);
    assert!(out.status.success(), "{doc}");
    assert_eq!(ids(&doc, "removed"), [format!("sha256:{h3}")]);
}

#[test]
fn gc_and_clear_dry_runs_name_each_file_and_delete_nothing_and_sizes_need_a_unit() {
    let files = Server::start();
    let t = TestHome::with_hub(&files);
    let hexes: Vec<String> = (0..2)
        .map(|i| {
            let body = pattern(2000 + i, 20 + i as u64);
            pulled(&t, &t.home, &[&files.put_file(&format!("f{i}.bin"), body.clone())]);
            sha256_hex(&body)
        })
        .collect();
    let store = t.home.join(".local/share/wharf/cache");
    let before = snapshot(&store, &[] as &[&Path]);
    let out = t.run(&["models", "gc", "--max-size", "0", "--dry-run"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let shown = text(&out.stdout);
    for h in &hexes {
        assert!(shown.contains(&format!("would evict  sha256:{h}")), "{shown}");
    }
    let (doc, _) = t.json(&["models", "clear", "--dry-run"]);
    assert_eq!(doc["dry_run"], true);
    assert_eq!(ids(&doc, "removed").len(), 2, "{doc}");
    let out = t.run(&["models", "clear", "--dry-run"]);
    assert!(text(&out.stdout).contains("would remove  sha256:"), "{}", text(&out.stdout));
    // prune --models names the same files by the same ids.
    let (pruned, _) = t.json(&["prune", "--models", "--dry-run"]);
    let mut model_ids: Vec<String> = pruned["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|i| i["kind"] == "model")
        .map(|i| i["id"].as_str().unwrap().to_string())
        .collect();
    model_ids.sort();
    let mut expected: Vec<String> = hexes.iter().map(|h| format!("sha256:{h}")).collect();
    expected.sort();
    assert_eq!(model_ids, expected, "{pruned}");
    assert_eq!(snapshot(&store, &[] as &[&Path]), before, "a dry run deleted something");

    for bare in ["1", "500"] {
        let (err, out) = t.json(&["models", "gc", "--max-size", bare]);
        assert_eq!(out.status.code(), Some(2), "{err}");
        assert!(text(&out.stderr).contains("20G"), "{}", text(&out.stderr));
    }
    let (doc, out) = t.json(&["models", "gc", "--max-size", "1K"]);
    assert!(out.status.success(), "{doc}");
    assert_eq!(ids(&doc, "evicted").len(), 2, "{doc}");
}

#[test]
fn a_model_name_selects_by_any_of_its_sources_and_a_pinned_missing_file_is_listed_missing() {
    let (hub, cdn) = Server::hub();
    hub.put_repo(&cdn, "org/m", COMMIT, &[("a.bin", pattern(9000, 4))]);
    let t = TestHome::with_hub(&hub);
    let project = t.home.join("code/app");
    fs::create_dir_all(&project).unwrap();
    let manifest = "[models.tok]\nsource = \"hf://org/m/gone.bin\"\nfallback = [\"hf://org/m/a.bin\"]\n";
    fs::write(project.join("wharf.toml"), manifest).unwrap();
    // Pulled outside the project: not pinned, and only its fallback names it.
    let blob =
        fs::canonicalize(pulled(&t, &t.home, &["hf://org/m/a.bin"])["models"][0]["path"].as_str().unwrap()).unwrap();
    let id = format!("hf:org/m:{}", blob.file_name().unwrap().to_str().unwrap());
    let (doc, out) = json_in(&t, &project, &["models", "verify", "tok"]);
    assert!(out.status.success(), "{doc}\n{}", text(&out.stderr));
    assert_eq!(ids(&doc, "valid"), std::slice::from_ref(&id), "{doc}");
    // Pinned in wharf.lock, its blob gone: listed as missing (exit 1), not "no model" (exit 2).
    pulled(&t, &project, &[]);
    assert!(project.join("wharf.lock").is_file());
    fs::remove_file(&blob).unwrap();
    let (doc, out) = json_in(&t, &project, &["models", "verify", "tok"]);
    assert_eq!(out.status.code(), Some(1), "{doc}\n{}", text(&out.stderr));
    assert_eq!(ids(&doc, "missing"), [id], "{doc}");
}

#[test]
fn a_dangling_link_outside_a_repo_folder_is_reported_by_path_not_as_an_id() {
    let t = TestHome::new();
    let snaps = t.hub_cache().join("datasets--org--d/snapshots/c0ffee");
    fs::create_dir_all(&snaps).unwrap();
    let link = snaps.join("x.bin");
    std::os::unix::fs::symlink(t.home.join("nowhere"), &link).unwrap();
    let (doc, out) = t.json(&["models", "verify"]);
    assert_eq!(out.status.code(), Some(1), "{doc}");
    assert_eq!(ids(&doc, "missing"), Vec::<String>::new(), "no id made of a path: {doc}");
    assert_eq!(ids(&doc, "dangling_links"), [link.display().to_string()], "{doc}");
    let (fixed, out) = t.json(&["models", "verify", "--fix"]);
    assert!(out.status.success(), "{fixed}");
    assert_eq!(fixed["removed"][0]["path"], link.display().to_string().as_str(), "{fixed}");
    assert!(fs::symlink_metadata(&link).is_err(), "--fix removed the link");
    let (after, out) = t.json(&["models", "verify"]);
    assert!(out.status.success(), "{after}");
}

#[test]
fn remove_keeps_an_env_for_the_reason_its_question_showed() {
    let t = TestHome::new();
    let (p, q) = (t.project("code/p"), t.project("code/q"));
    t.init(&p);
    t.init(&q);
    // p's environment says it belongs to q, a live project: the preview skips it for that.
    let env = env_of(&t, &p);
    let q_id = t.registry()["projects"][&key(&t, &q)]["id"].as_str().unwrap().to_string();
    let link = serde_json::json!({ "project": key(&t, &q), "id": q_id, "created_at": "" });
    fs::write(env.join(".wharf-project.json"), link.to_string()).unwrap();
    let marker = q.join(".env.wharf");
    let named: String = fs::read_to_string(&marker)
        .unwrap()
        .lines()
        .map(|l| match l.starts_with("UV_PROJECT_ENVIRONMENT=") {
            true => format!("UV_PROJECT_ENVIRONMENT={}\n", env.display()),
            false => format!("{l}\n"),
        })
        .collect();
    fs::write(&marker, named).unwrap();
    let Some(out) = on_a_terminal(&t, &p, "remove", "y\n") else { return };
    let shown = text(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{shown}");
    let env_line = shown.lines().find(|l| l.contains("skipped") && l.contains("env")).unwrap_or("");
    assert!(env_line.contains("back-link names live project"), "the real reason, not the question's: {shown}");
    assert!(env.is_dir(), "{shown}");
    assert!(t.registry()["projects"].get(key(&t, &p)).is_none(), "unregistered: {shown}");
}
