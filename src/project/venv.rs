//! Creating the environment folder: `uv venv` when `uv` is on `PATH`, else `python3 -m venv`.
//!
//! Like `uv venv`, the environment gets no pip unless asked (`seed`): wharf's environments are meant
//! for `uv run` and `uv pip` (with the marker exported), and skipping pip makes `init` fast. An existing
//! environment (one with `pyvenv.cfg`) is left alone, so `init` stays idempotent. A folder that
//! holds anything but wharf's own back-link (and temp files) and is no environment is never turned
//! into one: the venv tool would overwrite `bin/activate` and friends among someone's files.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::env::{vars, Env};
use crate::fsx::{self, FsError};

/// Why an environment could not be created.
#[derive(Debug, thiserror::Error)]
pub enum VenvError {
    /// `uv` or the interpreter could not be started.
    #[error(
        "cannot run `{program}`: {source}\n  hint: install uv or python3 (with its venv module), or pass `--no-venv`"
    )]
    Spawn {
        /// `uv` or the Python interpreter.
        program: String,
        /// Why.
        source: std::io::Error,
    },
    /// The venv tool failed.
    #[error("`{command}` failed ({status}) creating `{dir}`:\n{stderr}\n  hint: pass `--python` to choose another interpreter, or `--no-venv`")]
    Failed {
        /// The command line.
        command: String,
        /// The environment folder.
        dir: PathBuf,
        /// How it exited.
        status: std::process::ExitStatus,
        /// What it said.
        stderr: String,
    },
    /// The folder holds someone's files and is no environment.
    #[error(
        "`{0}` is a folder with files in it and not an environment (no `pyvenv.cfg`); wharf will not make \
         one there\n  hint: move the files away, or run `wharf init --force` to use a fresh environment"
    )]
    NotEmpty(PathBuf),
    /// A folder could not be created.
    #[error(transparent)]
    Fs(#[from] FsError),
}

/// How to create an environment (`init`'s flags).
#[derive(Debug, Clone, Default)]
pub struct VenvOptions {
    /// Only create the folder.
    pub no_venv: bool,
    /// Interpreter request passed through (`--python`).
    pub python: Option<String>,
    /// Install pip into the environment.
    pub seed: bool,
}

/// True when `dir` already holds a Python environment.
pub fn is_venv(dir: &Path) -> bool {
    dir.join("pyvenv.cfg").is_file()
}

/// Find an executable on the environment's `PATH`.
pub fn which(program: &str, env: &Env) -> Option<PathBuf> {
    let path = env.var(vars::PATH)?;
    std::env::split_paths(path).map(|d| d.join(program)).find(|p| is_executable(p))
}

#[cfg(unix)]
fn is_executable(p: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    p.metadata().is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

#[cfg(not(unix))]
fn is_executable(p: &Path) -> bool {
    p.is_file()
}

/// True when `dir` exists, is no environment (neither `pyvenv.cfg` nor wharf's back-link, which
/// `init` puts in a new folder before anything else), and is not empty (temp files aside).
fn foreign_folder(dir: &Path) -> bool {
    let Ok(rd) = std::fs::read_dir(dir) else { return false };
    if is_venv(dir) || dir.join(crate::project::BACKLINK).is_file() {
        return false;
    }
    rd.filter_map(Result::ok).any(|e| !fsx::is_temp_name(&e.file_name().to_string_lossy()))
}

/// Make sure `dir` exists and, unless `no_venv`, is an environment. Returns true if it created one.
/// Refuses a folder with foreign files in it ([`VenvError::NotEmpty`]).
pub fn ensure(dir: &Path, opts: &VenvOptions, env: &Env) -> Result<bool, VenvError> {
    if foreign_folder(dir) {
        return Err(VenvError::NotEmpty(dir.to_path_buf()));
    }
    if opts.no_venv {
        let existed = dir.is_dir();
        fsx::create_dir_private(dir)?;
        return Ok(!existed);
    }
    if is_venv(dir) {
        return Ok(false);
    }
    if let Some(parent) = dir.parent() {
        fsx::create_dir_private(parent)?;
    }
    let mut cmd = match which("uv", env) {
        Some(uv) => {
            let mut c = Command::new(uv);
            c.args(["venv", "--quiet", "--allow-existing"]);
            if let Some(py) = &opts.python {
                c.args(["--python", py]);
            }
            if opts.seed {
                c.arg("--seed");
            }
            c
        }
        None => {
            let mut c = Command::new(opts.python.as_deref().unwrap_or("python3"));
            c.args(["-m", "venv"]);
            if !opts.seed {
                c.arg("--without-pip");
            }
            c
        }
    };
    cmd.arg(dir);
    let command = format!("{cmd:?}").replace('"', "");
    let out = cmd
        .output()
        .map_err(|source| VenvError::Spawn { program: cmd.get_program().to_string_lossy().into_owned(), source })?;
    if !out.status.success() {
        return Err(VenvError::Failed {
            command,
            dir: dir.to_path_buf(),
            status: out.status,
            stderr: String::from_utf8_lossy(&out.stderr).trim().to_string(),
        });
    }
    Ok(true)
}
