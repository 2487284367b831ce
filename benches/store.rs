//! SPEC §10: a cached `pull` of a pinned model answers in under 10 ms with no network.
//!
//! The real binary, end to end: a Hugging Face file pinned to a commit, and a URL pinned by
//! `#sha256=`, both already in the store. `HF_ENDPOINT` points at a closed port and the URL at
//! another, so any network call would fail the run.

use std::fs;
use std::process::{Command, Stdio};

use criterion::{criterion_group, criterion_main, Criterion};
use sha2::{Digest, Sha256};

const COMMIT: &str = "0123456789abcdef0123456789abcdef01234567";

fn bench_cached_pull(c: &mut Criterion) {
    let tmp = tempfile::tempdir().unwrap();
    let home = tmp.path().canonicalize().unwrap();
    let body = vec![7u8; 4 << 20];
    let sha = format!("{:x}", Sha256::digest(&body));
    // The Hugging Face cache as huggingface_hub lays it out.
    let repo = home.join(".cache/huggingface/hub/models--org--model");
    fs::create_dir_all(repo.join("blobs")).unwrap();
    fs::create_dir_all(repo.join(format!("snapshots/{COMMIT}"))).unwrap();
    fs::write(repo.join("blobs").join(&sha), &body).unwrap();
    std::os::unix::fs::symlink(format!("../../blobs/{sha}"), repo.join(format!("snapshots/{COMMIT}/model.bin")))
        .unwrap();
    // wharf's own store.
    let wharf_home = home.join(".local/share/wharf");
    fs::create_dir_all(wharf_home.join("cache/blobs/sha256")).unwrap();
    fs::write(wharf_home.join("cache/blobs/sha256").join(&sha), &body).unwrap();

    let run = |spec: &str| {
        let out = Command::new(env!("CARGO_BIN_EXE_wharf"))
            .args(["pull", "--json", spec])
            .env_clear()
            .env("HOME", &home)
            .env("WHARF_HOME", &wharf_home)
            .env("HF_ENDPOINT", "http://127.0.0.1:1")
            .stderr(Stdio::null())
            .output()
            .unwrap();
        assert!(out.status.success());
        assert!(String::from_utf8_lossy(&out.stdout).contains("\"cached\": true"));
    };
    let mut g = c.benchmark_group("cached_pull");
    g.bench_function("hf_pinned_commit", |b| b.iter(|| run(&format!("hf://org/model@{COMMIT}/model.bin"))));
    g.bench_function("url_pinned_sha256", |b| b.iter(|| run(&format!("http://127.0.0.1:2/model.bin#sha256={sha}"))));
    g.finish();
}

/// A registered project with five models in wharf.toml, pulled, locked and recorded.
fn bench_check_with_models(c: &mut Criterion) {
    use std::collections::HashMap;
    use wharf::models::resolve;
    use wharf::ops::init;
    use wharf::project::venv;
    use wharf::{store, Env, Layout, Registry};

    let tmp = tempfile::tempdir().unwrap();
    let home = tmp.path().canonicalize().unwrap();
    let wharf_home = home.join(".local/share/wharf");
    let env = Env::new(&home, HashMap::from([("WHARF_HOME".to_string(), wharf_home.display().to_string())]));
    let layout = Layout::from_env(&env).unwrap();
    let registry = Registry::open(&layout, &env);
    let proj = home.join("code/app");
    fs::create_dir_all(&proj).unwrap();
    let mut manifest = String::new();
    for i in 0..5 {
        let f = home.join(format!("weights-{i}.bin"));
        fs::write(&f, vec![i as u8; 1 << 20]).unwrap();
        manifest.push_str(&format!("[models.m{i}]\nsource = \"file://{}\"\n", f.display()));
    }
    fs::write(proj.join("wharf.toml"), manifest).unwrap();
    let opts = init::InitOptions { venv: venv::VenvOptions { no_venv: true, ..Default::default() }, force: false };
    init::init(&registry, &layout, &proj, &opts, chrono::Utc::now()).unwrap();
    let store =
        store::ModelStore::new(store::config::StoreConfig::from_env(&env, &layout, false, false).unwrap()).unwrap();
    let rt = tokio::runtime::Runtime::new().unwrap();
    let pull_opts = store::PullOptions { now: chrono::Utc::now(), ..Default::default() };
    let pulled =
        rt.block_on(resolve::pull(&store, &proj, false, &pull_opts, &wharf::transfer::progress::Silent)).unwrap();
    assert!(resolve::record_in_registry(&registry, &proj, &pulled.models).unwrap().is_some());

    c.bench_function("check_project_with_5_models", |b| {
        b.iter(|| {
            let status = Command::new(env!("CARGO_BIN_EXE_wharf"))
                .args(["check", "--json"])
                .arg(&proj)
                .env_clear()
                .env("HOME", &home)
                .env("WHARF_HOME", &wharf_home)
                .stdout(Stdio::null())
                .status()
                .unwrap();
            assert!(status.success(), "the project is valid");
        })
    });
}

criterion_group!(benches, bench_cached_pull, bench_check_with_models);
criterion_main!(benches);
