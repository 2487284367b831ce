//! Real processes racing on one registry.

mod support;

use std::process::Stdio;

use support::{text, TestHome};

#[test]
fn eight_processes_initialising_fifty_projects_each_leave_400_entries() {
    let t = TestHome::new();
    const WORKERS: usize = 8;
    const EACH: usize = 50;
    for w in 0..WORKERS {
        for i in 0..EACH {
            t.project(&format!("w{w}/p{i}"));
        }
    }
    // Each worker is a thread that runs its 50 `wharf init` processes one after another; the eight
    // workers run at once, so up to eight wharf processes contend for the lock at any moment.
    std::thread::scope(|s| {
        let handles: Vec<_> = (0..WORKERS)
            .map(|w| {
                let t = &t;
                s.spawn(move || {
                    for i in 0..EACH {
                        let p = t.home.join(format!("w{w}/p{i}"));
                        let out = t.cmd().args(["init", "--no-venv", "-q", p.to_str().unwrap()]).output().unwrap();
                        assert!(out.status.success(), "init {} failed: {}", p.display(), text(&out.stderr));
                    }
                })
            })
            .collect();
        for h in handles {
            h.join().unwrap();
        }
    });
    let reg = t.registry();
    let projects = reg["projects"].as_object().unwrap();
    assert_eq!(projects.len(), WORKERS * EACH);
    let ids: std::collections::BTreeSet<_> = projects.values().map(|p| p["id"].as_str().unwrap()).collect();
    assert_eq!(ids.len(), WORKERS * EACH, "every project has its own id");
    let envs = std::fs::read_dir(t.envs_dir()).unwrap().count();
    assert_eq!(envs, WORKERS * EACH);
    // No temp file was left behind by an interrupted or contended write.
    let leftovers: Vec<_> = std::fs::read_dir(&t.wharf_home)
        .unwrap()
        .filter_map(Result::ok)
        .filter(|e| wharf::fsx::is_temp_name(&e.file_name().to_string_lossy()))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}

#[test]
fn a_held_lock_makes_wharf_say_it_waits_then_time_out_naming_the_variable() {
    let t = TestHome::new();
    std::fs::create_dir_all(&t.wharf_home).unwrap();
    // Another process holds the registry lock: python's fcntl.flock is the same flock(2) wharf uses.
    let lock = t.wharf_home.join("registry.lock");
    let mut holder = std::process::Command::new("python3")
        .args([
            "-c",
            "import fcntl,sys,time; f=open(sys.argv[1],'a'); fcntl.flock(f, fcntl.LOCK_EX); print('held', flush=True); time.sleep(30)",
            lock.to_str().unwrap(),
        ])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    std::io::BufRead::read_line(&mut std::io::BufReader::new(holder.stdout.as_mut().unwrap()), &mut line).unwrap();
    assert_eq!(line.trim(), "held");
    let p = t.project("code/a");
    let out = t.cmd().env("WHARF_LOCK_TIMEOUT", "1").args(["init", "--no-venv", p.to_str().unwrap()]).output().unwrap();
    holder.kill().unwrap();
    holder.wait().unwrap();
    let err = text(&out.stderr);
    assert_eq!(err.matches("waiting for lock on").count(), 1, "{err}");
    assert!(err.contains("WHARF_LOCK_TIMEOUT"), "{err}");
    assert_eq!(out.status.code(), Some(3));
    assert!(!p.join(".env.wharf").exists(), "nothing was written without the lock");
}
