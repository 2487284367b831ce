//! Real processes racing and dying: `prune` against `init`, SIGKILL in the middle of either, and a
//! home reached through a symlink. Nothing a user registered may be lost, nothing may be left behind.

mod support;

use std::fs;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use support::{text, TestHome};

/// A small xorshift generator; the seed is printed so a failing run can be repeated.
struct Rng(u64);

impl Rng {
    fn new() -> Rng {
        let seed = std::env::var("WHARF_TEST_SEED").ok().and_then(|s| s.parse().ok()).unwrap_or_else(|| {
            std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos() as u64 | 1
        });
        eprintln!("seed: WHARF_TEST_SEED={seed}");
        Rng(seed)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n
    }
}

fn env_of(v: &serde_json::Value) -> PathBuf {
    PathBuf::from(v["project"]["env"]["expanded"].as_str().unwrap())
}

/// Run `args` again and again until `stop` is set.
fn loop_until(t: &TestHome, args: &[&str], stop: &AtomicBool) -> usize {
    let mut runs = 0;
    while !stop.load(Ordering::Relaxed) {
        let out = t.cmd().args(args).output().unwrap();
        assert!(out.status.code().is_some_and(|c| c < 2), "{args:?}: {}", text(&out.stderr));
        runs += 1;
    }
    runs
}

#[test]
fn prune_in_a_loop_never_loses_a_project_that_init_just_registered() {
    let t = TestHome::new();
    const WORKERS: usize = 4;
    const EACH: usize = 10;
    let projects: Vec<Vec<PathBuf>> =
        (0..WORKERS).map(|w| (0..EACH).map(|i| t.project(&format!("w{w}/p{i}"))).collect()).collect();
    // Two real environments as well, made while `prune --untracked` runs.
    let real: Vec<PathBuf> = (0..2).map(|i| t.project(&format!("real/r{i}"))).collect();
    let stop = AtomicBool::new(false);
    let (ok, prunes) = std::thread::scope(|s| {
        let pruners = [
            s.spawn(|| loop_until(&t, &["prune", "--yes"], &stop)),
            s.spawn(|| loop_until(&t, &["prune", "--yes", "--untracked"], &stop)),
        ];
        let workers: Vec<_> = projects
            .iter()
            .map(|list| {
                let t = &t;
                s.spawn(move || {
                    list.iter()
                        .filter(|p| t.run(&["init", "--no-venv", "-q", p.to_str().unwrap()]).status.success())
                        .cloned()
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        let reals = s.spawn(|| {
            real.iter()
                .filter(|p| t.run(&["init", "-q", p.to_str().unwrap()]).status.success())
                .cloned()
                .collect::<Vec<_>>()
        });
        let mut ok: Vec<PathBuf> = workers.into_iter().flat_map(|h| h.join().unwrap()).collect();
        let ok_real = reals.join().unwrap();
        stop.store(true, Ordering::Relaxed);
        let prunes: usize = pruners.into_iter().map(|h| h.join().unwrap()).sum();
        for p in &ok_real {
            let (v, _) = t.json(&["init", "--no-venv", p.to_str().unwrap()]);
            let env = env_of(&v);
            assert!(
                env.join("pyvenv.cfg").is_file() && env.join("bin/python").exists(),
                "{}: env not complete",
                env.display()
            );
        }
        ok.extend(ok_real);
        (ok, prunes)
    });
    eprintln!("{} inits succeeded while {prunes} prunes ran", ok.len());
    assert_eq!(ok.len(), WORKERS * EACH + 2, "every init succeeds");
    let reg = t.registry();
    for p in &ok {
        let key = format!("${{HOME}}/{}", p.strip_prefix(&t.home).unwrap().display());
        let entry = &reg["projects"][&key];
        assert!(entry.is_object(), "{key} was registered by an init that exited 0, and is gone");
        assert!(p.join(".env.wharf").is_file(), "{key}: marker");
        let env = t.home.join(entry["env"]["path"].as_str().unwrap().trim_start_matches("${HOME}/"));
        assert!(env.join(".wharf-project.json").is_file(), "{key}: env");
    }
    let (check, out) = t.json(&["check", "--all"]);
    assert!(out.status.success(), "{check}");
}

#[cfg(unix)]
#[test]
fn through_a_symlinked_home_with_the_registry_lost_prune_untracked_keeps_the_live_env() {
    let t = TestHome::new();
    let link = t.root().join("home-link");
    std::os::unix::fs::symlink(&t.home, &link).unwrap();
    let via_link = |args: &[&str]| {
        let mut c = t.cmd();
        c.env("HOME", &link).env("WHARF_HOME", link.join(".local/share/wharf")).args(args).arg("--json");
        let out = c.output().unwrap();
        assert!(out.status.code().is_some_and(|c| c < 2), "{args:?}: {}", text(&out.stderr));
        serde_json::from_slice::<serde_json::Value>(&out.stdout).unwrap()
    };
    t.project("code/p");
    let v = via_link(&["init", "--no-venv", link.join("code/p").to_str().unwrap()]);
    assert_eq!(v["project"]["key"], "${HOME}/code/p", "stored relative to the home, however it is reached");
    let env = t.envs_dir().join(env_of(&v).file_name().unwrap());
    assert!(env.is_dir());
    let check = via_link(&["check", link.join("code/p").to_str().unwrap()]);
    assert_eq!(check["ok"], true, "{check}");
    fs::remove_file(t.registry_file()).unwrap();
    let doc = via_link(&["prune", "--yes", "--untracked"]);
    assert!(env.join(".wharf-project.json").is_file(), "the live project's env was deleted: {doc}");
    let item = doc["items"].as_array().unwrap().iter().find(|i| i["kind"] == "env").unwrap();
    assert_eq!(item["action"], "skipped", "{doc}");
}

/// An orphaned project whose env holds `files` small files.
fn orphan_with_files(t: &TestHome, name: &str, files: usize) -> PathBuf {
    let p = t.project(name);
    let env = env_of(&t.init(&p));
    fs::write(env.join("pyvenv.cfg"), "home = /usr/bin\n").unwrap();
    for d in 0..files / 100 {
        let dir = env.join(format!("lib/python3/site-packages/pkg{d}"));
        fs::create_dir_all(&dir).unwrap();
        for f in 0..100 {
            fs::write(dir.join(format!("m{f}.py")), "x = 1\n").unwrap();
        }
    }
    fs::remove_dir_all(&p).unwrap();
    env
}

fn names(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> =
        fs::read_dir(dir).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
    v.sort();
    v
}

#[test]
fn prune_killed_at_random_points_leaves_no_orphan_and_no_trash_after_the_next_prune() {
    let t = TestHome::new();
    let mut rng = Rng::new();
    let live = t.project("code/live");
    let live_env = env_of(&t.init(&live));
    let (mut before_rename, mut mid_delete) = (0, 0);
    for round in 0..6 {
        let envs: Vec<PathBuf> = (0..2).map(|i| orphan_with_files(&t, &format!("gone/r{round}e{i}"), 2000)).collect();
        let mut child = t.std_cmd().args(["prune", "--yes", "--untracked"]).spawn().unwrap();
        // A random point within the time the deletion takes (a few tens of milliseconds here).
        std::thread::sleep(Duration::from_millis(5 + rng.below(150)));
        child.kill().unwrap();
        child.wait().unwrap();
        before_rename += usize::from(envs.iter().any(|e| e.exists()));
        mid_delete += usize::from(names(&t.envs_dir()).iter().any(|n| n.starts_with(".wharf-trash-")));
    }
    eprintln!("of 6 kills, {before_rename} left an env under its name, {mid_delete} left trash");
    let (doc, out) = t.json(&["prune", "--yes", "--untracked"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let skipped: Vec<_> = doc["items"].as_array().unwrap().iter().filter(|i| i["action"] == "skipped").collect();
    assert!(skipped.is_empty(), "{skipped:?}");
    let live_name = live_env.file_name().unwrap().to_string_lossy().into_owned();
    assert_eq!(names(&t.envs_dir()), [live_name], "no orphan folder and no trash");
    let (check, out) = t.json(&["check", "--all"]);
    assert!(out.status.success(), "{check}");
}

/// Every file or folder under `root` whose name marks it as a temp file of wharf (the prefix of
/// today, and the `.<name>.tmp-…` names of earlier versions).
fn temps(root: &Path) -> Vec<PathBuf> {
    walkdir::WalkDir::new(root)
        .into_iter()
        .filter_map(Result::ok)
        .filter(|e| {
            let n = e.file_name().to_string_lossy();
            n.starts_with(".wharf-tmp-") || n.contains(".tmp-")
        })
        .map(|e| e.path().to_path_buf())
        .collect()
}

/// Set the modification time of `path` two hours back, as a crash long ago would have left it.
fn backdate(path: &Path) {
    let ok = std::process::Command::new("touch").args(["-h", "-d", "2 hours ago"]).arg(path).status().unwrap();
    assert!(ok.success());
}

#[test]
fn killed_inits_leave_no_temp_file_that_a_later_init_does_not_remove() {
    let t = TestHome::new();
    let mut rng = Rng::new();
    let projects: Vec<PathBuf> = (0..12).map(|i| t.project(&format!("code/p{i}"))).collect();
    for (i, p) in projects.iter().enumerate() {
        let mut args = vec!["init", "-q", p.to_str().unwrap()];
        if i % 3 != 0 {
            args.insert(1, "--no-venv");
        }
        let mut child = t.std_cmd().args(&args).spawn().unwrap();
        std::thread::sleep(Duration::from_millis(rng.below(if i % 3 == 0 { 80 } else { 15 })));
        child.kill().unwrap();
        child.wait().unwrap();
    }
    // What a crash an hour ago would have left in each folder wharf writes to (an env folder only if
    // one of the killed inits got that far).
    let some_env = fs::read_dir(t.envs_dir()).ok().and_then(|rd| {
        rd.filter_map(Result::ok).find(|e| e.path().is_dir() && !e.file_name().to_string_lossy().starts_with('.'))
    });
    let some_env = some_env.map(|e| e.path());
    let mut planted = vec![
        projects[0].join(".wharf-tmp-.env.wharf-1-1"),
        projects[1].join("..env.wharf.tmp-1-1"),
        t.wharf_home.join(".wharf-tmp-registry.json-1-1"),
        t.wharf_home.join(".registry.json.tmp-1-1"),
        t.envs_dir().join(".wharf-tmp-env-1-1"),
    ];
    planted.extend(some_env.map(|e| e.join(".wharf-tmp-.wharf-project.json-1-1")));
    fs::create_dir_all(t.envs_dir()).unwrap();
    for f in &planted {
        fs::write(f, "half").unwrap();
    }
    for f in temps(&t.root()) {
        backdate(&f);
    }
    // A temp file of a write in progress right now is not stale and must stay.
    let fresh = projects[2].join(".wharf-tmp-.env.wharf-2-2");
    fs::write(&fresh, "in progress").unwrap();
    for p in &projects {
        let out = t.run(&["init", "--no-venv", "-q", p.to_str().unwrap()]);
        assert!(out.status.success(), "{}", text(&out.stderr));
    }
    let left: Vec<PathBuf> = temps(&t.root()).into_iter().filter(|p| *p != fresh).collect();
    assert!(left.is_empty(), "temp files left behind: {left:?}");
    assert!(fresh.is_file(), "a fresh temp file may belong to a running write");
    let (check, out) = t.json(&["check", "--all"]);
    assert!(out.status.success(), "{check}");
}
