//! Temp homes for driving the real `wharf` binary: each test gets its own HOME and WHARF_HOME and
//! a cleared environment (only PATH is kept), so nothing from the developer's machine leaks in.
#![allow(dead_code)]

pub mod proxy;
pub mod s3;
pub mod server;

use std::path::{Path, PathBuf};
use std::process::Output;

use assert_cmd::Command;
use serde_json::Value;

pub struct TestHome {
    pub tmp: tempfile::TempDir,
    pub home: PathBuf,
    pub wharf_home: PathBuf,
    pub extra_env: Vec<(String, String)>,
}

impl TestHome {
    pub fn new() -> TestHome {
        let tmp = tempfile::tempdir().expect("tempdir");
        // Canonical, so that paths wharf prints compare equal to ours (/tmp may be a symlink).
        let root = tmp.path().canonicalize().unwrap();
        let home = root.join("home");
        std::fs::create_dir_all(&home).unwrap();
        let wharf_home = home.join(".local/share/wharf");
        TestHome { tmp, home, wharf_home, extra_env: Vec::new() }
    }

    /// A home whose `HF_ENDPOINT` is the loopback `hub` (never the public one), with short retry waits.
    pub fn with_hub(hub: &server::Server) -> TestHome {
        let mut t = TestHome::new();
        t.extra_env.push(("HF_ENDPOINT".into(), hub.url("")));
        t.extra_env.push(("WHARF_RETRY_BASE_MS".into(), "20".into()));
        t
    }

    /// The Hugging Face cache under this home (the default, `~/.cache/huggingface/hub`).
    pub fn hub_cache(&self) -> PathBuf {
        self.home.join(".cache/huggingface/hub")
    }

    pub fn root(&self) -> PathBuf {
        self.home.parent().unwrap().to_path_buf()
    }

    pub fn envs_dir(&self) -> PathBuf {
        self.wharf_home.join("envs")
    }

    pub fn registry_file(&self) -> PathBuf {
        self.wharf_home.join("registry.json")
    }

    /// `wharf` with this home; PATH is kept so `python3` is found, but not `uv` unless asked.
    pub fn cmd(&self) -> Command {
        Command::from_std(self.std_cmd())
    }

    /// The same, as a plain `std::process::Command` (to spawn several at once).
    pub fn std_cmd(&self) -> std::process::Command {
        self.program(&assert_cmd::cargo::cargo_bin("wharf"))
    }

    /// Another program (an example) with this home's environment.
    #[allow(dead_code)] // not every test binary runs an example
    pub fn program(&self, exe: &Path) -> std::process::Command {
        let mut c = std::process::Command::new(exe);
        c.env_clear()
            .env("PATH", path_without_uv())
            .env("HOME", &self.home)
            .env("WHARF_HOME", &self.wharf_home)
            .env("NO_COLOR", "1")
            .current_dir(&self.home);
        for (k, v) in &self.extra_env {
            c.env(k, v);
        }
        c
    }

    pub fn run(&self, args: &[&str]) -> Output {
        self.cmd().args(args).output().unwrap()
    }

    /// Run with `--json` and parse stdout.
    pub fn json(&self, args: &[&str]) -> (Value, Output) {
        let out = self.cmd().args(args).arg("--json").output().unwrap();
        let v = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
            panic!("stdout of {args:?} is not JSON ({e}):\n{}\nstderr:\n{}", text(&out.stdout), text(&out.stderr))
        });
        (v, out)
    }

    /// A project folder under home with a pyproject.toml.
    pub fn project(&self, rel: &str) -> PathBuf {
        let p = self.home.join(rel);
        std::fs::create_dir_all(&p).unwrap();
        std::fs::write(
            p.join("pyproject.toml"),
            format!("[project]\nname = \"{}\"\n", p.file_name().unwrap().to_string_lossy()),
        )
        .unwrap();
        p
    }

    /// `wharf init --no-venv PATH`, asserting success.
    pub fn init(&self, project: &Path) -> Value {
        let (v, out) = self.json(&["init", "--no-venv", project.to_str().unwrap()]);
        assert!(out.status.success(), "init failed: {}", text(&out.stderr));
        v
    }

    pub fn registry(&self) -> Value {
        serde_json::from_slice(&std::fs::read(self.registry_file()).unwrap()).unwrap()
    }
}

pub fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// PATH without folders holding `uv`, so tests exercise `python3 -m venv` deterministically.
pub fn path_without_uv() -> String {
    let path = std::env::var_os("PATH").unwrap_or_default();
    let kept: Vec<PathBuf> = std::env::split_paths(&path).filter(|d| !d.join("uv").exists()).collect();
    std::env::join_paths(kept).unwrap().to_string_lossy().into_owned()
}

/// status of each project in a `list --json`/`check --json` document, by project path.
pub fn statuses(doc: &Value) -> std::collections::BTreeMap<String, String> {
    doc["projects"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| (p["path"].as_str().unwrap().to_string(), p["status"].as_str().unwrap().to_string()))
        .collect()
}

/// The reason codes of the project at `path`.
pub fn codes(doc: &Value, path: &Path) -> Vec<String> {
    let p = doc["projects"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["path"] == path.to_str().unwrap())
        .unwrap_or_else(|| panic!("{} not in {doc}", path.display()));
    p["reasons"].as_array().unwrap().iter().map(|r| r["code"].as_str().unwrap().to_string()).collect()
}

pub fn fixture(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures").join(rel)
}

/// The subcommands a `--help` text lists under "Commands:" (without `help`).
#[allow(dead_code)] // used by the CLI contract tests only
pub fn subcommands(help: &str) -> Vec<String> {
    help.lines()
        .skip_while(|l| !l.starts_with("Commands:"))
        .skip(1)
        .take_while(|l| l.starts_with("  "))
        .filter(|l| !l.starts_with("   "))
        .filter_map(|l| l.split_whitespace().next().map(str::to_string))
        .filter(|c| c != "help")
        .collect()
}

/// A tool a test needs is missing: the test fails, unless `WHARF_TEST_ALLOW_SKIP=1` says a skip is
/// acceptable here (then it says so on stderr and the caller returns). `.ci/run` installs every
/// tool and never sets the variable, so a skip can never pass as a success there.
pub fn missing_tool(what: &str, how: &str) {
    if std::env::var("WHARF_TEST_ALLOW_SKIP").as_deref() == Ok("1") {
        eprintln!("skipped: {what} is missing ({how}); WHARF_TEST_ALLOW_SKIP=1");
        return;
    }
    panic!("{what} is missing: {how}; `bash .ci/run` installs it (or set WHARF_TEST_ALLOW_SKIP=1 to skip)");
}

/// Every entry under `root` (symlinks not followed) outside the `skip` folders: files by content
/// digest, symlinks by target, folders as such. Two equal snapshots prove "nothing changed there".
pub fn snapshot<P: AsRef<Path>>(root: &Path, skip: &[P]) -> std::collections::BTreeMap<PathBuf, String> {
    walkdir::WalkDir::new(root)
        .follow_links(false)
        .into_iter()
        .filter_entry(|e| !skip.iter().any(|s| e.path().starts_with(s)))
        .map(|e| {
            let e = e.unwrap();
            let p = e.path().to_path_buf();
            let what = if e.path_is_symlink() {
                format!("link {}", std::fs::read_link(&p).unwrap().display())
            } else if e.file_type().is_file() {
                format!("file {}", server::sha256_hex(&std::fs::read(&p).unwrap()))
            } else {
                "dir".to_string()
            };
            (p, what)
        })
        .collect()
}
