//! Benchmarks for SPEC §10's registry targets:
//! - `wharf list` (no sizes) over 1,000 projects: under 30 ms; over 100,000: under 0.5 s;
//! - `prune` of 500 orphans: one registry write, time dominated by deleting the folders.
//!
//! `list` is measured three times: the library call the command makes (`validate::run`: read,
//! judge every project, and the best-effort `last_validated` save on its own thread beside the
//! judging), the real binary end to end (`wharf list --json` with stdout to /dev/null), which adds
//! process start-up and JSON output, and `judge_only` (read under the shared lock, judge, no
//! stamp): the floor the stamp's save is compared with.
//! Every project is real: a folder with a marker, an env folder with a back-link and `pyvenv.cfg`.

use std::collections::HashMap;
use std::fs;
use std::path::PathBuf;
use std::process::{Command, Stdio};

use criterion::{criterion_group, criterion_main, BatchSize, Criterion};
use serde_json::{json, Map, Value};

use wharf::ops::{prune, validate};
use wharf::{Env, Layout, Registry};

struct World {
    _tmp: tempfile::TempDir,
    home: PathBuf,
    wharf_home: PathBuf,
}

impl World {
    fn env(&self) -> Env {
        let vars = HashMap::from([("WHARF_HOME".to_string(), self.wharf_home.to_string_lossy().into_owned())]);
        Env::new(&self.home, vars)
    }
}

/// `n` valid projects (and `orphans` whose project folder is missing) with a v2 registry.
fn world(n: usize, orphans: usize) -> World {
    let tmp = tempfile::tempdir().unwrap();
    let home = tmp.path().canonicalize().unwrap();
    let wharf_home = home.join(".local/share/wharf");
    let envs = wharf_home.join("envs");
    fs::create_dir_all(&envs).unwrap();
    let mut projects = Map::new();
    for i in 0..n + orphans {
        let name = format!("p{i}");
        let hash = format!("{i:08x}");
        let key = format!("${{HOME}}/code/{name}");
        let env_rel = format!("${{HOME}}/.local/share/wharf/envs/{name}_{hash}");
        let env_dir = envs.join(format!("{name}_{hash}"));
        fs::create_dir_all(&env_dir).unwrap();
        fs::write(env_dir.join("pyvenv.cfg"), "home = /usr/bin\n").unwrap();
        let id = format!("{:016x}", i as u64 * 7919);
        let link = json!({"project": key, "id": id, "created_at": "2026-11-21T00:00:00Z", "wharf_version": "bench"});
        fs::write(env_dir.join(".wharf-project.json"), link.to_string()).unwrap();
        if i < n {
            let dir = home.join("code").join(&name);
            fs::create_dir_all(&dir).unwrap();
            fs::write(dir.join(".env.wharf"), format!("UV_PROJECT_ENVIRONMENT={env_rel}\nWHARF_PROJECT_ID={id}\n"))
                .unwrap();
        }
        projects.insert(
            key,
            json!({"name": name, "path_hash": hash, "id": id,
                   "env": {"path": env_rel, "expanded": env_dir.to_string_lossy()},
                   "models": [], "created_at": "2026-11-21T00:00:00Z"}),
        );
    }
    let doc = json!({"version": 2, "projects": Value::Object(projects)});
    fs::write(wharf_home.join("registry.json"), serde_json::to_vec_pretty(&doc).unwrap()).unwrap();
    World { _tmp: tmp, home, wharf_home }
}

fn library_list(w: &World) -> usize {
    let env = w.env();
    let layout = Layout::from_env(&env).unwrap();
    let reg = Registry::open(&layout, &env);
    let v = validate::run(&reg, None, validate::Options::default(), chrono::Utc::now()).unwrap();
    assert!(v.judged.iter().all(|j| j.verdict.status == wharf::Status::Valid));
    v.judged.len()
}

fn judge_only(w: &World) -> usize {
    let env = w.env();
    let layout = Layout::from_env(&env).unwrap();
    let doc = Registry::open(&layout, &env).read().unwrap().doc;
    validate::validate_all(&doc, &env, validate::Options::default()).len()
}

fn binary_list(w: &World) {
    let status = Command::new(env!("CARGO_BIN_EXE_wharf"))
        .args(["list", "--json"])
        .env_clear()
        .env("HOME", &w.home)
        .env("WHARF_HOME", &w.wharf_home)
        .stdout(Stdio::null())
        .status()
        .unwrap();
    assert!(status.success());
}

fn bench_list(c: &mut Criterion) {
    for (n, samples) in [(1_000usize, 50usize), (100_000, 10)] {
        let w = world(n, 0);
        let mut g = c.benchmark_group(format!("list_{n}"));
        g.sample_size(samples);
        g.bench_function("library", |b| b.iter(|| assert_eq!(library_list(&w), n)));
        g.bench_function("judge_only", |b| b.iter(|| assert_eq!(judge_only(&w), n)));
        g.bench_function("binary", |b| b.iter(|| binary_list(&w)));
        g.finish();
    }
}

fn bench_prune(c: &mut Criterion) {
    let mut g = c.benchmark_group("prune_500_orphans");
    g.sample_size(10);
    g.bench_function("library", |b| {
        b.iter_batched(
            || world(50, 500),
            |w| {
                let env = w.env();
                let layout = Layout::from_env(&env).unwrap();
                let reg = Registry::open(&layout, &env);
                let s =
                    prune::run(&reg, &layout.envs_dir, None, prune::PruneOptions::default(), None).unwrap().unwrap();
                assert_eq!(s.count(prune::Target::Env, prune::Outcome::Removed), 500);
                assert_eq!(reg.writes(), 1);
                w
            },
            BatchSize::PerIteration,
        )
    });
    g.finish();
}

fn deletion_only(c: &mut Criterion) {
    // The floor for prune: deleting the same 500 folders with nothing else.
    let mut g = c.benchmark_group("prune_500_orphans");
    g.sample_size(10);
    g.bench_function("rm_only", |b| {
        b.iter_batched(
            || world(0, 500),
            |w| {
                for e in fs::read_dir(w.wharf_home.join("envs")).unwrap() {
                    fs::remove_dir_all(e.unwrap().path()).unwrap();
                }
                w
            },
            BatchSize::PerIteration,
        )
    });
    g.finish();
}

criterion_group!(benches, bench_list, bench_prune, deletion_only);
criterion_main!(benches);
