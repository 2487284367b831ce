//! The registry at scale (issue 10): `list` and `check` save the `last_validated` stamp on a thread
//! of their own beside the judging, and hold the registry lock for the read and the save only. How
//! fast that is, is measured by `cargo bench --bench registry`, never here.

mod support;

use std::collections::HashMap;
use std::time::{Duration, Instant};

use support::{text, TestHome};
use wharf::lock::{self, Mode};
use wharf::{Env, Layout, Registry};

const STAMP: &str = "2030-01-02T03:04:05Z";

fn open(t: &TestHome) -> (Registry, Layout) {
    let vars = HashMap::from([("WHARF_HOME".to_string(), t.wharf_home.to_string_lossy().into_owned())]);
    let env = Env::new(&t.home, vars);
    let layout = Layout::from_env(&env).unwrap();
    (Registry::open(&layout, &env), layout)
}

fn registered(t: &TestHome, names: &[&str]) {
    for name in names {
        t.init(&t.project(&format!("code/{name}")));
    }
}

fn stamps(t: &TestHome) -> Vec<serde_json::Value> {
    let doc = t.registry();
    doc["projects"].as_object().unwrap().values().map(|e| e["last_validated"].clone()).collect()
}

fn stamp_all(doc: &mut wharf::registry::RegistryDoc) {
    for e in doc.projects.values_mut() {
        e.last_validated = Some(STAMP.to_string());
    }
}

#[test]
fn the_stamp_is_saved_once_and_the_work_reads_the_stamped_document() {
    let t = TestHome::new();
    registered(&t, &["a", "b"]);
    let (reg, _) = open(&t);
    let seen = |doc: &wharf::registry::RegistryDoc| {
        doc.projects.values().map(|e| e.last_validated.clone()).collect::<Vec<_>>()
    };
    let b = reg.try_update_beside(stamp_all, seen).unwrap().expect("nobody holds the lock");
    assert!(b.saved.is_ok(), "{:?}", b.saved);
    assert_eq!(b.out, vec![Some(STAMP.to_string()); 2]);
    assert_eq!(stamps(&t), vec![serde_json::json!(STAMP); 2]);
    assert_eq!(reg.writes(), 1);
}

#[test]
fn a_busy_registry_is_neither_stamped_nor_worked_on() {
    let t = TestHome::new();
    registered(&t, &["a"]);
    let before = std::fs::read(t.registry_file()).unwrap();
    let (reg, layout) = open(&t);
    let _reader = lock::acquire(&layout.lock_file, Mode::Shared, Duration::from_secs(5), &|_| {}).unwrap();
    let mut worked = false;
    let b = reg.try_update_beside(stamp_all, |_| worked = true).unwrap();
    assert!(b.is_none() && !worked);
    assert_eq!(std::fs::read(t.registry_file()).unwrap(), before);
}

#[test]
fn the_lock_is_let_go_once_the_stamp_is_saved_while_the_work_goes_on() {
    let t = TestHome::new();
    registered(&t, &["a"]);
    let (reg, layout) = open(&t);
    let waited = |_: &wharf::registry::RegistryDoc| {
        // The work waits for the lock to come free: with the lock held until the work ends, it
        // never would, and the deadline fails the test.
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if lock::try_acquire(&layout.lock_file, Mode::Exclusive).is_ok() {
                return std::fs::read_to_string(t.registry_file()).unwrap();
            }
            assert!(Instant::now() < deadline, "the registry lock was held while the work went on");
            std::thread::yield_now();
        }
    };
    let b = reg.try_update_beside(stamp_all, waited).unwrap().expect("nobody holds the lock");
    assert!(b.out.contains(STAMP), "the lock came free before the stamp was saved:\n{}", b.out);
}

#[test]
fn list_beside_a_reader_still_judges_every_project_and_says_the_stamp_was_not_recorded() {
    let t = TestHome::new();
    registered(&t, &["a", "b"]);
    std::fs::remove_file(t.home.join("code/b/.env.wharf")).unwrap();
    let before = stamps(&t);
    let (_, layout) = open(&t);
    let _reader = lock::acquire(&layout.lock_file, Mode::Shared, Duration::from_secs(5), &|_| {}).unwrap();
    let (doc, out) = t.json(&["list"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(text(&out.stderr).contains("last_validated not recorded: the registry is busy"), "{}", text(&out.stderr));
    let statuses: Vec<&str> =
        doc["projects"].as_array().unwrap().iter().map(|p| p["status"].as_str().unwrap()).collect();
    assert_eq!(statuses, ["valid", "orphaned"]);
    assert_eq!(stamps(&t), before);
}
