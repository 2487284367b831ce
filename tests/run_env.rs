//! `wharf run`, `wharf env` and models by name: real uv, real bash/sh/fish, real venvs, a loopback
//! file server. Nothing here reaches beyond 127.0.0.1 (HF_ENDPOINT is a loopback server that is
//! never asked, uv runs offline with downloads off).

mod support;

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;
use support::server::{sha256_hex, Server};
use support::{text, TestHome};

/// The `uv` for these tests: `WHARF_TEST_UV`, else one on PATH; missing, the test fails unless
/// `WHARF_TEST_ALLOW_SKIP=1`.
fn uv() -> Option<PathBuf> {
    let on_path = || {
        std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default()).map(|d| d.join("uv")).find(|p| p.is_file())
    };
    let found = std::env::var_os("WHARF_TEST_UV").map(PathBuf::from).filter(|p| p.is_file()).or_else(on_path);
    if found.is_none() {
        support::missing_tool("uv", "pip install uv, or set WHARF_TEST_UV");
    }
    found
}

/// `fish`, or a failure (a skip with `WHARF_TEST_ALLOW_SKIP=1`).
fn fish() -> Option<PathBuf> {
    let found = std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default())
        .map(|d| d.join("fish"))
        .find(|p| p.is_file());
    if found.is_none() {
        support::missing_tool("fish", "apt-get install fish");
    }
    found
}

/// The folder of the wharf binary, so that shells find `wharf` by name.
fn wharf_dir() -> PathBuf {
    assert_cmd::cargo::cargo_bin("wharf").parent().unwrap().to_path_buf()
}

/// A clean environment for a shell or a tool: PATH (wharf's folder, `extra`, then the test's PATH
/// without uv), HOME, WHARF_HOME, and uv kept offline inside the temp home. No VIRTUAL_ENV, no
/// UV_PROJECT_ENVIRONMENT.
fn clean(t: &TestHome, cmd: &mut Command, extra: Option<&Path>) -> String {
    let mut dirs = vec![wharf_dir()];
    dirs.extend(extra.map(Path::to_path_buf));
    let path = format!("{}:{}", std::env::join_paths(dirs).unwrap().to_string_lossy(), support::path_without_uv());
    cmd.env_clear()
        .env("PATH", &path)
        .env("HOME", &t.home)
        .env("WHARF_HOME", &t.wharf_home)
        .env("NO_COLOR", "1")
        .env("UV_CACHE_DIR", t.root().join("uv-cache"))
        .env("UV_NO_CONFIG", "1")
        .env("UV_OFFLINE", "1")
        .env("UV_PYTHON_DOWNLOADS", "never")
        .env("XDG_CONFIG_HOME", t.home.join(".config"));
    for (k, v) in &t.extra_env {
        cmd.env(k, v);
    }
    path
}

fn run_clean(t: &TestHome, dir: &Path, extra: Option<&Path>, program: &str, args: &[&str]) -> Output {
    let mut cmd = Command::new(program);
    clean(t, &mut cmd, extra);
    cmd.current_dir(dir).args(args).output().unwrap()
}

fn ok(out: &Output, what: &str) -> String {
    assert!(
        out.status.success(),
        "{what}: exit {:?}\nstdout:\n{}\nstderr:\n{}",
        out.status,
        text(&out.stdout),
        text(&out.stderr)
    );
    text(&out.stdout)
}

/// A uv project (no dependencies) under home, registered by `wharf init` with uv on PATH.
fn uv_project(t: &TestHome, uv: &Path, rel: &str) -> (PathBuf, PathBuf) {
    let p = t.project(rel);
    fs::write(p.join("pyproject.toml"), "[project]\nname = \"demo\"\nversion = \"0.1.0\"\ndependencies = []\n")
        .unwrap();
    let out = run_clean(t, &p, uv.parent(), "wharf", &["init", "--json"]);
    let doc: Value = serde_json::from_str(&ok(&out, "wharf init")).unwrap();
    let env = PathBuf::from(doc["project"]["env"]["expanded"].as_str().unwrap());
    assert!(fs::read_to_string(env.join("pyvenv.cfg")).unwrap().contains("uv = "), "made by uv venv");
    (p, env)
}

const PREFIX: &str = "import sys; print(sys.prefix)";

#[test]
fn run_and_env_put_uv_into_wharfs_environment_in_a_shell_without_wharf_variables() {
    let Some(uv) = uv() else { return };
    let t = TestHome::new();
    let (p, env) = uv_project(&t, &uv, "code/demo");
    let want = env.to_str().unwrap();
    let tools = uv.parent();

    let out = run_clean(&t, &p, tools, "wharf", &["run", "--", "uv", "run", "--quiet", "python", "-c", PREFIX]);
    assert_eq!(ok(&out, "wharf run -- uv run").trim(), want);
    // From a subfolder too, and `python` alone resolves to the env's own on the new PATH.
    fs::create_dir_all(p.join("src/pkg")).unwrap();
    let out = run_clean(&t, &p.join("src/pkg"), tools, "wharf", &["run", "--", "python", "-c", PREFIX]);
    assert_eq!(ok(&out, "wharf run -- python").trim(), want);

    let line = format!("eval \"$(wharf env)\"; uv run --quiet python -c '{PREFIX}'");
    let out = run_clean(&t, &p, tools, "bash", &["-c", &line]);
    assert_eq!(ok(&out, "bash eval wharf env").trim(), want);

    if let Some(fish) = fish() {
        let line = format!("wharf env --format fish | source; and uv run --quiet python -c '{PREFIX}'");
        let out = run_clean(&t, &p, tools, fish.to_str().unwrap(), &["--no-config", "-c", &line]);
        assert_eq!(ok(&out, "fish source wharf env").trim(), want);
    }
    assert!(!p.join(".venv").exists(), "uv made a .venv of its own");
}

#[test]
fn a_stray_venv_is_a_warning_naming_run_and_env_and_check_still_passes() {
    let t = TestHome::new();
    let p = t.project("code/stray");
    t.init(&p);
    fs::create_dir_all(p.join(".venv/bin")).unwrap();
    let out = t.cmd().current_dir(&p).args(["check", "--json"]).output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(doc["projects"][0]["status"], "valid", "{doc}");
    assert_eq!(support::codes(&doc, &p), ["stray_venv"]);
    let message = doc["projects"][0]["reasons"][0]["message"].as_str().unwrap();
    assert!(message.contains("wharf run") && message.contains("wharf env") && message.contains(".venv"), "{message}");
    // `init` says so too, and still succeeds.
    let out = t.run(&["init", "--no-venv", p.to_str().unwrap()]);
    assert!(out.status.success());
    assert!(text(&out.stderr).contains("warning:") && text(&out.stderr).contains("stray"), "{}", text(&out.stderr));
}

#[test]
fn run_exits_with_the_commands_code_and_names_a_command_it_cannot_find() {
    let t = TestHome::new();
    let p = t.project("code/codes");
    t.init(&p);
    let out = t.cmd().current_dir(&p).args(["run", "--", "sh", "-c", "exit 7"]).output().unwrap();
    assert_eq!(out.status.code(), Some(7), "{}", text(&out.stderr));
    // The child sees the variables and no PYTHONHOME.
    let line = r#"printf '%s|%s|%s' "$VIRTUAL_ENV" "$UV_PROJECT_ENVIRONMENT" "${PYTHONHOME-unset}""#;
    let out =
        t.cmd().current_dir(&p).env("PYTHONHOME", "/elsewhere").args(["run", "--", "sh", "-c", line]).output().unwrap();
    let env = t.registry()["projects"]["${HOME}/code/codes"]["env"]["expanded"].as_str().unwrap().to_string();
    assert_eq!(ok(&out, "run sh"), format!("{env}|{env}|unset"));
    let out = t.cmd().current_dir(&p).args(["run", "--", "no-such-tool-here", "x"]).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = text(&out.stderr);
    assert!(err.contains("cannot run `no-such-tool-here`") && err.contains("hint:"), "{err}");
    // `run PATH -- CMD` names the project; a folder that is none is told to `wharf init`.
    let out =
        t.cmd().args(["run", p.to_str().unwrap(), "--", "sh", "-c", "printf %s \"$VIRTUAL_ENV\""]).output().unwrap();
    assert_eq!(ok(&out, "run PATH"), env);
    let out = t.cmd().current_dir(&t.home).args(["run", "--", "true"]).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("wharf init"), "{}", text(&out.stderr));
}

#[test]
fn the_marker_is_only_compared_a_clone_or_an_edited_marker_is_refused_until_init() {
    let t = TestHome::new();
    let p = t.project("code/trust");
    t.init(&p);
    let marker = fs::read_to_string(p.join(".env.wharf")).unwrap();
    fs::write(p.join(".env.wharf"), format!("{marker}UV_PROJECT_ENVIRONMENT=/tmp/evil-env\n")).unwrap();
    for args in [&["env"][..], &["run", "--", "true"]] {
        let out = t.cmd().current_dir(&p).args(args).output().unwrap();
        assert_eq!(out.status.code(), Some(1), "{args:?}");
        let err = text(&out.stderr);
        assert!(err.contains("/tmp/evil-env") && err.contains("hint: run `wharf init`"), "{err}");
        assert!(out.stdout.is_empty(), "nothing to eval on a refusal");
    }
    // The hint, run as printed, fixes it.
    assert!(t.cmd().current_dir(&p).arg("init").arg("--no-venv").output().unwrap().status.success());
    assert!(t.cmd().current_dir(&p).arg("env").output().unwrap().status.success());
    // A cloned folder with a marker but no registry entry.
    let q = t.project("code/clone");
    fs::copy(p.join(".env.wharf"), q.join(".env.wharf")).unwrap();
    let out = t.cmd().current_dir(&q).arg("env").output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("is not registered") && text(&out.stderr).contains("wharf init"));
}

/// Values with `'`, `$`, a backtick, `"`, spaces and a newline (the envs dir's name) come back byte
/// for byte through sh, bash and fish, and the json and dotenv forms say the same.
#[test]
fn env_quotes_hard_values_so_each_shell_reads_them_back() {
    let mut t = TestHome::new();
    let envs = t.root().join("envs it's $HOME `id` \"q\"\nline two");
    t.extra_env.push(("WHARF_ENVS_DIR".into(), envs.to_str().unwrap().into()));
    let p = t.project("code/quoting");
    t.init(&p);
    let (doc, out) = t.json(&["env", p.to_str().unwrap()]);
    assert!(out.status.success());
    let env = doc["env"].as_str().unwrap().to_string();
    assert!(env.starts_with(envs.to_str().unwrap()), "{env}");
    // In this order in the document (a parsed Value would sort them).
    let raw = text(&out.stdout);
    let at = |k: &str| raw.find(&format!("\"{k}\"")).unwrap_or_else(|| panic!("{k} in {raw}"));
    let order = ["UV_PROJECT_ENVIRONMENT", "VIRTUAL_ENV", "PATH", "WHARF_MODELS_DIR"].map(at);
    assert!(order.windows(2).all(|w| w[0] < w[1]), "{raw}");
    assert_eq!(doc["unset"], serde_json::json!(["PYTHONHOME"]));
    let path = doc["vars"]["PATH"].as_str().unwrap().to_string();
    assert!(path.starts_with(&format!("{env}/bin:")), "{path}");

    let print = r#"printf '%s|%s|%s' "$VIRTUAL_ENV" "$WHARF_MODELS_DIR" "${PYTHONHOME-unset}""#;
    let want = format!("{env}|{env}/models|unset");
    for sh in ["sh", "bash"] {
        let line = format!("PYTHONHOME=/x; export PYTHONHOME; eval \"$(wharf env)\"; {print}");
        assert_eq!(ok(&run_clean(&t, &p, None, sh, &["-c", &line]), sh), want, "{sh}");
    }
    if let Some(fish) = fish() {
        let line = "set -gx PYTHONHOME /x; wharf env --format fish | source; printf '%s|%s|' \"$VIRTUAL_ENV\" \"$WHARF_MODELS_DIR\"; set -q PYTHONHOME; or printf unset";
        let out = run_clean(&t, &p, None, fish.to_str().unwrap(), &["--no-config", "-c", line]);
        assert_eq!(ok(&out, "fish"), want);
    }
    let dotenv = ok(&t.cmd().current_dir(&p).args(["env", "--format", "dotenv"]).output().unwrap(), "dotenv");
    let line = format!("set -a; . ./env.out; set +a; {print}");
    fs::write(p.join("env.out"), dotenv).unwrap();
    assert_eq!(ok(&run_clean(&t, &p, None, "sh", &["-c", &line]), "dotenv in sh"), format!("{env}|{env}/models|unset"));
    let ps = ok(&t.cmd().current_dir(&p).args(["env", "--format", "powershell"]).output().unwrap(), "powershell");
    assert!(ps.starts_with("$env:UV_PROJECT_ENVIRONMENT = '") && ps.contains("Remove-Item Env:PYTHONHOME"), "{ps}");
    // Read-only: the registry and the project are as they were.
    let before = support::snapshot(&t.root(), &[t.root().join("uv-cache")]);
    t.cmd().current_dir(&p).arg("env").output().unwrap();
    assert_eq!(support::snapshot(&t.root(), &[t.root().join("uv-cache")]), before);
}

/// Two models from a loopback server and one file of the project itself.
struct Models {
    t: TestHome,
    _hub: Server,
    files: Server,
    gguf: Vec<u8>,
    pt: Vec<u8>,
    local: Vec<u8>,
}

fn models_world() -> Models {
    let hub = Server::start();
    let files = Server::start();
    let mut gguf = b"GGUF".to_vec();
    gguf.extend(support::server::pattern(5000, 1));
    let mut pt = b"PK\x03\x04".to_vec();
    pt.extend(support::server::pattern(3000, 2));
    let mut local = b"LOCL".to_vec();
    local.extend(support::server::pattern(1000, 3));
    files.put_file("tiny.Q4_K_M.gguf", gguf.clone());
    files.put_file("yolov8s.pt", pt.clone());
    Models { t: TestHome::with_hub(&hub), _hub: hub, files, gguf, pt, local }
}

fn models_project(w: &Models, rel: &str) -> PathBuf {
    let p = w.t.project(rel);
    fs::create_dir_all(p.join("models")).unwrap();
    fs::write(p.join("models/local.bin"), &w.local).unwrap();
    let toml = format!(
        "[models.tiny-llama]\nsource = \"{}\"\nsha256 = \"{}\"\n\n[models.detector]\nsource = \"{}\"\nsha256 = \"{}\"\n\n\
         [models.local]\nsource = \"models/local.bin\"\n",
        w.files.url("/files/tiny.Q4_K_M.gguf"),
        sha256_hex(&w.gguf),
        w.files.url("/files/yolov8s.pt"),
        sha256_hex(&w.pt),
    );
    fs::write(p.join("wharf.toml"), toml).unwrap();
    p
}

fn in_dir(t: &TestHome, dir: &Path, args: &[&str]) -> Output {
    t.cmd().current_dir(dir).args(args).output().unwrap()
}

fn env_of(t: &TestHome, key: &str) -> PathBuf {
    PathBuf::from(t.registry()["projects"][key]["env"]["expanded"].as_str().unwrap())
}

#[test]
fn models_are_found_by_name_as_views_paths_and_variables() {
    let w = models_world();
    let t = &w.t;
    let p = models_project(&w, "code/vision");
    ok(&in_dir(t, &p, &["init"]), "init with a real venv");
    let env = env_of(t, "${HOME}/code/vision");
    for (view, bytes) in [("tiny-llama.gguf", &w.gguf), ("detector.pt", &w.pt), ("local.bin", &w.local)] {
        let v = env.join("models").join(view);
        assert!(fs::symlink_metadata(&v).unwrap().file_type().is_symlink(), "{view} is a link");
        assert_eq!(&fs::read(&v).unwrap(), bytes, "{view}");
    }
    let shown = ok(&in_dir(t, &p.join("models"), &["models", "path", "tiny-llama"]), "models path");
    assert_eq!(shown.trim(), env.join("models/tiny-llama.gguf").to_str().unwrap());
    let out = in_dir(t, &p, &["models", "path", "nope"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("detector, local, tiny-llama"), "{}", text(&out.stderr));

    let py =
        "import os; print(open(os.environ['WHARF_MODEL_TINY_LLAMA'], 'rb').read()[:4], os.environ['WHARF_MODELS_DIR'])";
    let out = in_dir(t, &p, &["run", "--", "python", "-c", py]);
    assert_eq!(ok(&out, "run python").trim(), format!("b'GGUF' {}", env.join("models").display()));

    // check makes a missing view again and leaves a file of the user's alone.
    fs::remove_file(env.join("models/detector.pt")).unwrap();
    fs::write(env.join("models/mine.txt"), "mine").unwrap();
    ok(&in_dir(t, &p, &["check"]), "check");
    assert_eq!(fs::read(env.join("models/detector.pt")).unwrap(), w.pt);
    // A model dropped from wharf.toml loses its view at the next pull; the user's file stays.
    let toml = fs::read_to_string(p.join("wharf.toml")).unwrap();
    let kept =
        toml.split("[models.detector]").next().unwrap().to_string() + &toml[toml.find("[models.local]").unwrap()..];
    fs::write(p.join("wharf.toml"), kept).unwrap();
    ok(&in_dir(t, &p, &["pull"]), "pull");
    assert!(fs::symlink_metadata(env.join("models/detector.pt")).is_err(), "stale view removed");
    assert_eq!(fs::read_to_string(env.join("models/mine.txt")).unwrap(), "mine");
    assert!(env.join("models/tiny-llama.gguf").is_file());
}

#[test]
fn a_model_not_pulled_yet_names_pull_and_pull_fixes_it() {
    let w = models_world();
    let t = &w.t;
    let p = models_project(&w, "code/later");
    ok(&in_dir(t, &p, &["init", "--no-venv", "--no-models"]), "init");
    let out = in_dir(t, &p, &["models", "path", "detector"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("hint: run `wharf pull`"), "{}", text(&out.stderr));
    ok(&in_dir(t, &p, &["pull"]), "pull");
    let shown = ok(&in_dir(t, &p, &["models", "path", "detector"]), "models path");
    assert_eq!(fs::read(shown.trim()).unwrap(), w.pt);
}

#[test]
fn a_project_relative_source_survives_a_move_and_relink() {
    let w = models_world();
    let t = &w.t;
    let p = models_project(&w, "code/old");
    ok(&in_dir(t, &p, &["init", "--no-venv"]), "init");
    let lock = fs::read_to_string(p.join("wharf.lock")).unwrap();
    assert!(lock.contains("source = \"models/local.bin\""), "relative in the lock: {lock}");
    let moved = t.home.join("code/new");
    fs::rename(&p, &moved).unwrap();
    let out = in_dir(t, &moved, &["init", "--no-venv", "--json"]);
    let doc: Value = serde_json::from_str(&ok(&out, "init relinks")).unwrap();
    assert_eq!(doc["project"]["action"]["kind"], "relinked", "{doc}");
    ok(&in_dir(t, &moved, &["pull", "--locked"]), "pull --locked after the move");
    assert_eq!(fs::read_to_string(moved.join("wharf.lock")).unwrap(), lock, "the lock still agrees");
    ok(&in_dir(t, &moved, &["check"]), "check");
    let env = env_of(t, "${HOME}/code/new");
    assert_eq!(fs::read(env.join("models/local.bin")).unwrap(), w.local);
    let shown = ok(&in_dir(t, &moved, &["models", "path", "local"]), "models path local");
    assert_eq!(fs::read(shown.trim()).unwrap(), w.local);
}

#[test]
fn sources_and_names_that_would_leave_their_folder_are_refused() {
    let w = models_world();
    let t = &w.t;
    for (toml, says) in [
        ("[models.x]\nsource = \"../outside.bin\"\n", "relative to the project"),
        ("[models.x]\nsource = \"/etc/passwd\"\n", "file://"),
        ("[models.\"../../bin/python\"]\nsource = \"https://e.org/a.bin\"\n", "model name"),
    ] {
        let p = t.project("code/hostile");
        fs::write(p.join("wharf.toml"), toml).unwrap();
        let out = in_dir(t, &p, &["pull"]);
        assert_eq!(out.status.code(), Some(2), "{toml}");
        assert!(text(&out.stderr).contains(says), "{toml}: {}", text(&out.stderr));
    }
}

#[test]
fn two_models_on_one_variable_or_one_view_are_refused_naming_both() {
    let t = TestHome::new();
    let p = t.project("code/clash");
    fs::write(p.join("wharf.toml"), "[models.a-b]\nsource = \"m/a.bin\"\n[models.a_b]\nsource = \"m/b.bin\"\n")
        .unwrap();
    ok(&in_dir(&t, &p, &["init", "--no-venv", "--no-models"]), "init");
    for args in [&["env"][..], &["pull"]] {
        let out = in_dir(&t, &p, args);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let err = text(&out.stderr);
        assert!(err.contains("`a-b`") && err.contains("`a_b`") && err.contains("WHARF_MODEL_A_B"), "{err}");
    }
    // `x` from `x.bin` and `x.bin` from a file without extension would both be `models/x.bin`.
    fs::write(p.join("wharf.toml"), "[models.x]\nsource = \"m/x.bin\"\n[models.\"x.bin\"]\nsource = \"m/noext\"\n")
        .unwrap();
    let out = in_dir(&t, &p, &["pull"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("the view `models/x.bin`"), "{}", text(&out.stderr));
}

#[test]
fn an_edited_project_file_is_served_from_the_store_until_pull_refresh() {
    let t = TestHome::new();
    let p = t.project("code/edits");
    fs::create_dir_all(p.join("models")).unwrap();
    fs::write(p.join("models/x.bin"), b"first").unwrap();
    fs::write(p.join("wharf.toml"), "[models.x]\nsource = \"models/x.bin\"\n").unwrap();
    ok(&in_dir(&t, &p, &["init", "--no-venv"]), "init");
    let view = PathBuf::from(ok(&in_dir(&t, &p, &["models", "path", "x"]), "models path").trim());
    let lock = fs::read_to_string(p.join("wharf.lock")).unwrap();
    fs::write(p.join("models/x.bin"), b"second").unwrap();
    ok(&in_dir(&t, &p, &["pull"]), "pull");
    assert_eq!(fs::read(&view).unwrap(), b"first", "the lock pins the stored bytes");
    ok(&in_dir(&t, &p, &["pull", "--refresh"]), "pull --refresh");
    assert_eq!(fs::read(&view).unwrap(), b"second");
    assert_ne!(fs::read_to_string(p.join("wharf.lock")).unwrap(), lock, "the new digest is pinned");
    ok(&in_dir(&t, &p, &["check", "--full"]), "check --full");
}

#[test]
fn hints_for_a_missing_program_and_a_stray_venv_work_as_printed() {
    let t = TestHome::new();
    let p = t.project("code/my proj");
    ok(&in_dir(&t, &p, &["init", "--no-venv"]), "init");
    // uv itself missing (the test PATH has no uv): install uv, not `uv add uv`.
    let err = text(&in_dir(&t, &p, &["run", "--", "uv", "--version"]).stderr);
    assert!(err.contains("install uv") && !err.contains("uv add"), "{err}");
    let err = text(&in_dir(&t, &p, &["run", "--", "wharf-no-such-tool"]).stderr);
    assert!(err.contains("uv pip install PACKAGE"), "{err}");
    // The stray .venv's fix, pasted into a shell, removes that .venv and nothing else, spaces and all.
    let decoy = t.home.join("code/my");
    fs::create_dir_all(&decoy).unwrap();
    fs::create_dir_all(p.join(".venv/bin")).unwrap();
    let out = in_dir(&t, &p, &["check", "--json"]);
    assert_eq!(out.status.code(), Some(0));
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let message = doc["projects"][0]["reasons"][0]["message"].as_str().unwrap().to_string();
    let fix = message.split("(`").nth(1).and_then(|m| m.split("`)").next()).unwrap();
    assert!(fix.starts_with("rm -rf "), "{message}");
    let ran = std::process::Command::new("sh").args(["-c", fix]).output().unwrap();
    assert!(ran.status.success(), "{fix}");
    assert!(!p.join(".venv").exists(), "{fix}");
    assert!(decoy.is_dir() && p.join("pyproject.toml").is_file(), "{fix} removed something else");
    // A `.venv` that is a link to wharf's own env is a way in, not a stray.
    let env = PathBuf::from(doc["projects"][0]["env"]["expanded"].as_str().unwrap());
    std::os::unix::fs::symlink(&env, p.join(".venv")).unwrap();
    let out = in_dir(&t, &p, &["check", "--json"]);
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(doc["projects"][0]["reasons"], serde_json::json!([]), "{doc}");
}
