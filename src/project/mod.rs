//! The identity of a project and the two files that tie it to its environment.
//!
//! - Key: the canonical absolute path (symlinks resolved), stored as `${HOME}/…` when under home.
//! - `path_hash`: first 8 hex chars of SHA-256 of the canonical path as UTF-8 (stable, documented).
//! - `name`: `[project].name` of `pyproject.toml`, else the folder name, sanitised (see [`sanitize_name`]).
//! - Environment folder: `<envs dir>/<name>_<hash8>`.
//! - Marker in the project, `.env.wharf` (dotenv; the legacy `.env.uve` of v1 registries is read too):
//!   ```text
//!   UV_PROJECT_ENVIRONMENT=${HOME}/.local/share/wharf/envs/demo_1a2b3c4d
//!   WHARF_PROJECT_ID=5f0c2d9e8a7b6c41
//!   ```
//!   Other lines belong to the user and survive every rewrite. Values are quoted so that `sh`
//!   sourcing the file reads them literally (see [`crate::project::dotenv`]). A marker may come with a cloned
//!   repo: the env it names is untrusted until [`crate::project::adopt`] accepts it.
//! - Back-link in the environment, `<env>/.wharf-project.json`:
//!   `{"project": "${HOME}/code/demo", "id": "…", "created_at": "…", "wharf_version": "0.1.0"}`.
//!   It lets `doctor --repair` rebuild the registry and `prune` attribute an env folder.
//! - [`shell`]: variables as a sh, fish, PowerShell or dotenv script (`wharf env`).

pub mod adopt;
pub mod dotenv;
pub mod liveness;
pub mod shell;
pub mod venv;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::fsx::{self, Context, FsError};
use crate::home_path::HomePath;
use dotenv::Document;

/// The marker file in a project folder.
pub const MARKER: &str = ".env.wharf";
/// The marker of v1 registries, still read.
pub const LEGACY_MARKER: &str = ".env.uve";
/// The back-link file in an environment folder.
pub const BACKLINK: &str = ".wharf-project.json";
/// The marker's key for the environment (what `uv` reads).
pub const KEY_ENV: &str = "UV_PROJECT_ENVIRONMENT";
/// The marker's key for the project id.
pub const KEY_ID: &str = "WHARF_PROJECT_ID";
/// Every key wharf writes into a marker: what `wharf remove` takes out again.
pub const WHARF_KEYS: [&str; 2] = [KEY_ENV, KEY_ID];
const MAX_NAME: usize = 42;

/// Why a project folder or its back-link cannot be read.
#[derive(Debug, thiserror::Error)]
pub enum ProjectError {
    /// The folder cannot be resolved (it does not exist, say).
    #[error("project folder `{path}` cannot be resolved: {source}\n  hint: check that the folder exists")]
    Resolve {
        /// The folder as given.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The path is a file, not a folder.
    #[error("`{0}` is not a folder")]
    NotADir(PathBuf),
    /// The path is not UTF-8.
    #[error("`{0}` is not valid UTF-8; wharf stores paths as text")]
    NotUtf8(PathBuf),
    /// A file cannot be read or written.
    #[error(transparent)]
    Fs(#[from] FsError),
    /// The back-link is not the JSON wharf writes.
    #[error("back-link `{path}` is not valid: {source}")]
    BadBackLink {
        /// The back-link file.
        path: PathBuf,
        /// Why it does not parse.
        source: serde_json::Error,
    },
}

/// Resolve a project folder to its canonical absolute path.
pub fn canonical(path: &Path) -> Result<PathBuf, ProjectError> {
    let p = path.canonicalize().map_err(|source| ProjectError::Resolve { path: path.to_path_buf(), source })?;
    if !p.is_dir() {
        return Err(ProjectError::NotADir(p));
    }
    if p.to_str().is_none() {
        return Err(ProjectError::NotUtf8(p));
    }
    Ok(p)
}

/// First 8 hex chars of SHA-256 of the canonical path as UTF-8.
pub fn path_hash(canonical: &Path) -> String {
    let digest = Sha256::digest(canonical.to_string_lossy().as_bytes());
    digest.iter().take(4).map(|b| format!("{b:02x}")).collect()
}

/// Lowercase; each run of characters outside `[a-z0-9]` becomes one `-`; trimmed; at most 42
/// characters (the shebang limit leaves little room); empty becomes `project`.
pub fn sanitize_name(raw: &str) -> String {
    let mut out = String::with_capacity(raw.len());
    for c in raw.chars().flat_map(char::to_lowercase) {
        if c.is_ascii_lowercase() || c.is_ascii_digit() {
            out.push(c);
        } else if !out.ends_with('-') {
            out.push('-');
        }
    }
    let trimmed: String = out.trim_matches('-').chars().take(MAX_NAME).collect();
    let trimmed = trimmed.trim_end_matches('-');
    if trimmed.is_empty() {
        "project".to_string()
    } else {
        trimmed.to_string()
    }
}

/// The project's name: `[project].name` from `pyproject.toml`, else the folder name.
pub fn project_name(dir: &Path) -> String {
    let from_pyproject = fsx::read_optional(&dir.join("pyproject.toml"))
        .ok()
        .flatten()
        .and_then(|t| t.parse::<toml::Table>().ok())
        .and_then(|t| t.get("project")?.get("name")?.as_str().map(str::to_owned));
    let raw = from_pyproject.or_else(|| dir.file_name().map(|n| n.to_string_lossy().into_owned())).unwrap_or_default();
    sanitize_name(&raw)
}

/// The environment folder's name: `<name>_<hash8>`.
pub fn env_dir_name(name: &str, hash: &str) -> String {
    format!("{name}_{hash}")
}

/// A random project id: 16 hex characters.
pub fn new_id() -> String {
    let n = getrandom::u64().unwrap_or_else(|_| {
        let t = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
        t.as_nanos() as u64 ^ u64::from(std::process::id()).rotate_left(32)
    });
    format!("{n:016x}")
}

/// No project around a folder: no marker at or above it (and, for `check`, no registry entry).
/// One error, so `check`, `run`, `env` and `models path` say it in the same words and code.
#[derive(Debug, thiserror::Error)]
#[error(
    "no wharf project here: `{}` (and no folder above it) has no `.env.wharf`\n  hint: run `wharf init` in the \
     project's folder to register it; `wharf list` shows the registered projects",
    dir.display()
)]
pub struct NoProject {
    /// The folder meant.
    pub dir: PathBuf,
}

/// The nearest folder at or above `start` that holds a marker (`.env.wharf` or `.env.uve`), so that
/// `wharf check` works from anywhere inside a project, as `uv` and `cargo` do.
pub fn find_root(start: &Path) -> Option<PathBuf> {
    start.ancestors().find(|d| d.join(MARKER).is_file() || d.join(LEGACY_MARKER).is_file()).map(Path::to_path_buf)
}

/// What a marker says (values raw, `${HOME}` not expanded).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MarkerInfo {
    /// The marker file read.
    pub file: PathBuf,
    /// Its environment (`UV_PROJECT_ENVIRONMENT`), raw.
    pub env: Option<String>,
    /// Its project id (`WHARF_PROJECT_ID`).
    pub id: Option<String>,
}

impl MarkerInfo {
    /// The marker's project id when it contradicts `entry_id` (the registry entry's): the marker
    /// then belongs to another project. A marker or an entry without an id contradicts nothing.
    /// The one comparison of the two ids (validate, activate and remove ask it).
    pub fn contradicting_id(&self, entry_id: Option<&str>) -> Option<&str> {
        self.id.as_deref().filter(|found| entry_id.is_some_and(|ours| ours != *found))
    }
}

/// Read the marker of a project: `.env.wharf`, or when `legacy` is allowed and it is absent, `.env.uve`.
pub fn read_marker(project: &Path, legacy: bool) -> Result<Option<MarkerInfo>, FsError> {
    read_marker_near(project, legacy, &mut fsx::Near::direct())
}

/// [`read_marker`], with paths resolved by `near` (validation of many projects).
pub fn read_marker_near(project: &Path, legacy: bool, near: &mut fsx::Near) -> Result<Option<MarkerInfo>, FsError> {
    let names: &[&str] = if legacy { &[MARKER, LEGACY_MARKER] } else { &[MARKER] };
    for name in names {
        let file = project.join(name);
        if let Some(text) = near.read_optional(&file)? {
            let doc = Document::parse(&text);
            return Ok(Some(MarkerInfo {
                env: doc.get(KEY_ENV).map(str::to_owned),
                id: doc.get(KEY_ID).map(str::to_owned),
                file,
            }));
        }
    }
    Ok(None)
}

/// Write wharf's two keys into `.env.wharf`, keeping every other line of an existing file.
pub fn write_marker(project: &Path, env: &HomePath, id: &str) -> Result<(), FsError> {
    let file = regular_marker(project)?;
    let mut doc = Document::parse(&fsx::read_optional(&file)?.unwrap_or_default());
    let before = doc.render();
    doc.set(KEY_ENV, env.as_str());
    doc.set(KEY_ID, id);
    let after = doc.render();
    if after != before || !file.exists() {
        let text = if after.trim().is_empty() { String::new() } else { after };
        fsx::write_atomic(&file, text.as_bytes())?;
    }
    Ok(())
}

/// `<project>/.env.wharf`, refused when it is a symlink: the user's other lines are kept on
/// rewrite, and through a link they would be another file's lines (a cloned repo's
/// `.env.wharf -> ~/.aws/credentials`), copied into the project or cut from that file.
fn regular_marker(project: &Path) -> Result<PathBuf, FsError> {
    let file = project.join(MARKER);
    if std::fs::symlink_metadata(&file).is_ok_and(|m| m.file_type().is_symlink()) {
        let why = std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            "is a symlink; wharf rewrites only a regular marker file (remove the link and run `wharf init` again)",
        );
        return Err(FsError::new("refusing to rewrite", &file, why));
    }
    Ok(file)
}

/// What [`strip_marker`] did (or, in a dry run, would do) to `.env.wharf`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stripped {
    /// wharf's keys were taken out; the user's lines stay.
    Rewritten,
    /// Only wharf's keys (and blank lines) were in it: the file was deleted.
    Deleted,
    /// No marker, or none of wharf's keys in it.
    NothingThere,
}

/// Take wharf's keys ([`WHARF_KEYS`]) out of the project's `.env.wharf`, keeping every other line
/// byte for byte; delete the file when nothing else was in it. With `dry_run`, only say what
/// would happen. A symlinked marker is refused (see `write_marker`).
pub fn strip_marker(project: &Path, dry_run: bool) -> Result<Stripped, FsError> {
    let file = regular_marker(project)?;
    let Some(text) = fsx::read_optional(&file)? else { return Ok(Stripped::NothingThere) };
    let mut doc = Document::parse(&text);
    let mut changed = false;
    for key in WHARF_KEYS {
        changed |= doc.remove(key);
    }
    let outcome = match (changed, doc.is_blank()) {
        (false, _) => return Ok(Stripped::NothingThere),
        (true, true) => Stripped::Deleted,
        (true, false) => Stripped::Rewritten,
    };
    if !dry_run {
        match outcome {
            Stripped::Deleted => std::fs::remove_file(&file).ctx("cannot remove", &file)?,
            _ => fsx::write_atomic(&file, doc.render().as_bytes())?,
        }
    }
    Ok(outcome)
}

/// `<env>/.wharf-project.json`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct BackLink {
    /// The project, in stored form (`${HOME}/…`), absolute.
    pub project: String,
    /// The project id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// When the project was registered (RFC 3339).
    #[serde(default)]
    pub created_at: String,
    /// The wharf that wrote it.
    #[serde(default)]
    pub wharf_version: String,
    /// Keys of other versions, kept on rewrite.
    #[serde(flatten)]
    pub extra: BTreeMap<String, serde_json::Value>,
}

/// Read `<env_dir>/.wharf-project.json`; `None` when there is none.
pub fn read_backlink(env_dir: &Path) -> Result<Option<BackLink>, ProjectError> {
    read_backlink_near(env_dir, &mut fsx::Near::direct())
}

/// [`read_backlink`], with paths resolved by `near` (validation of many projects).
pub fn read_backlink_near(env_dir: &Path, near: &mut fsx::Near) -> Result<Option<BackLink>, ProjectError> {
    let path = env_dir.join(BACKLINK);
    match near.read_optional(&path)? {
        None => Ok(None),
        Some(text) => {
            serde_json::from_str(&text).map(Some).map_err(|source| ProjectError::BadBackLink { path, source })
        }
    }
}

/// Write the back-link into `env_dir`, only if it changed.
pub fn write_backlink(env_dir: &Path, link: &BackLink) -> Result<(), FsError> {
    let path = env_dir.join(BACKLINK);
    let mut text = serde_json::to_string_pretty(link).unwrap_or_default();
    text.push('\n');
    if fsx::read_optional(&path)?.as_deref() != Some(text.as_str()) {
        fsx::write_atomic(&path, text.as_bytes())?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_marker_contradicts_an_entry_only_when_both_have_ids_that_differ() {
        let m = |id: Option<&str>| MarkerInfo { id: id.map(str::to_owned), ..MarkerInfo::default() };
        assert_eq!(m(Some("a")).contradicting_id(Some("b")), Some("a"));
        assert_eq!(m(Some("a")).contradicting_id(Some("a")), None);
        assert_eq!(m(Some("a")).contradicting_id(None), None);
        assert_eq!(m(None).contradicting_id(Some("b")), None);
    }

    #[test]
    fn names_are_sanitised() {
        assert_eq!(sanitize_name("My Project!!v2"), "my-project-v2");
        assert_eq!(sanitize_name("__"), "project");
        assert_eq!(sanitize_name(&"a".repeat(60)).len(), 42);
        assert_eq!(sanitize_name("Ünïcode"), "n-code");
    }

    #[test]
    fn hash_is_first_8_hex_of_sha256() {
        // sha256("/tmp/x") = 2f4d4... computed independently with `printf /tmp/x | sha256sum`.
        let expected = format!("{:x}", Sha256::digest(b"/tmp/x"));
        assert_eq!(path_hash(Path::new("/tmp/x")), expected[..8]);
    }

    #[test]
    fn pyproject_name_wins_over_folder() {
        let d = tempfile::tempdir().unwrap();
        std::fs::write(d.path().join("pyproject.toml"), "[project]\nname = \"Torch_Stuff\"\n").unwrap();
        assert_eq!(project_name(d.path()), "torch-stuff");
    }
}
