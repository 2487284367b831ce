//! Model views: each model of a project's `wharf.toml`, by its name, in the project's environment.
//!
//! ```text
//! <env>/models/
//!     tinyllama.gguf      -> ~/.cache/huggingface/hub/models--ORG--NAME/snapshots/<commit>/….gguf
//!     detector.pt         -> ~/.cache/wharf/blobs/sha256/<hex>
//!     .wharf-views.json   {"views": ["detector.pt", "tinyllama.gguf"]}: the links wharf made here
//! ```
//!
//! A view is `<name><ext>`: the model's [`ModelName`] and the [`FileExt`](crate::ids::FileExt) of its source's last path
//! component (for a model in parts, of the first part's name without its last extension:
//! `m.h5.aa` → `.h5`). It is an absolute symlink to the stored file the registry entry records for
//! that model, made only when that file is there and came from one of the model's sources.
//!
//! Invariants: a view's file name is built only from those two boundary types, joined by the one
//! join that refuses to leave its root ([`join_within`]); wharf touches only symlinks it recorded in
//! `.wharf-views.json` (a user's file or link of the same name is left alone and reported); a link
//! is made or replaced through a temp link renamed into place; a link of a model no longer in
//! `wharf.toml` is removed. [`sync`] is called after a project pull ([`crate::models::resolve`]),
//! so by `pull` and `init`, and by `check`.

use std::collections::{BTreeMap, BTreeSet};
use std::io;
use std::path::{Path, PathBuf};

use crate::env::Env;
use crate::fsx::{self, Context, FsError};
use crate::home_path::HomePath;
use crate::ids::{IdError, ModelName};
use crate::models::manifest::{self, ManifestError, ModelSpec};
use crate::registry::{ModelRef, ProjectEntry};
use crate::store::layout::join_within;

/// The views' folder inside an environment.
pub const MODELS_DIR: &str = "models";
/// The record of the links wharf made, inside [`MODELS_DIR`].
pub const RECORD: &str = ".wharf-views.json";

/// Why the views could not be brought in step.
#[derive(Debug, thiserror::Error)]
pub enum ViewsError {
    /// `wharf.toml` is invalid.
    #[error(transparent)]
    Manifest(#[from] ManifestError),
    /// A model name that is not a [`ModelName`] (a manifest wharf did not parse).
    #[error("model `{name}`: {error}\n  hint: rename it in wharf.toml, then run `wharf pull`")]
    Name {
        /// The name.
        name: String,
        /// Why it was refused.
        error: IdError,
    },
    /// `<env>/models` is there but is no folder of wharf's.
    #[error("`{0}` is not a folder (a symlink or a file)\n  hint: move it away, then run `wharf check` to make the model views")]
    NotAFolder(PathBuf),
    /// A file could not be read or written.
    #[error(transparent)]
    Fs(#[from] FsError),
}

/// A view left alone, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Skipped {
    /// The view's path.
    pub path: PathBuf,
    /// Why.
    pub reason: String,
}

/// What [`sync`] did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Synced {
    /// Views made or pointed anew.
    pub linked: Vec<PathBuf>,
    /// Views of models no longer declared, removed.
    pub removed: Vec<PathBuf>,
    /// Views left alone.
    pub skipped: Vec<Skipped>,
}

/// The view's file name of a model: `<name><ext>` (see the module doc).
pub fn file_name(spec: &ModelSpec) -> Result<String, ViewsError> {
    let name: ModelName = spec.name.parse().map_err(|error| ViewsError::Name { name: spec.name.clone(), error })?;
    Ok(format!("{name}{}", spec.view_ext().map(|e| e.to_string()).unwrap_or_default()))
}

/// `<env>/models`.
pub fn models_dir(env_dir: &Path) -> PathBuf {
    env_dir.join(MODELS_DIR)
}

/// `<env>/models/<name><ext>`, whether it is there or not.
pub fn view_path(env_dir: &Path, spec: &ModelSpec) -> Result<PathBuf, ViewsError> {
    Ok(join_within(&models_dir(env_dir), &file_name(spec)?)?)
}

/// The stored file of each model the project declares that is there: view name → file.
fn wanted(project: &Path, models: &[ModelRef], env: &Env) -> Result<BTreeMap<String, PathBuf>, ViewsError> {
    let Some(manifest) = manifest::read(project)? else { return Ok(BTreeMap::new()) };
    let mut out = BTreeMap::new();
    for spec in &manifest.models {
        let file = file_name(spec)?;
        let ours = |m: &&ModelRef| {
            m.name == spec.name
                && (spec.candidates().contains(&m.source.as_str()) || spec.parts.first() == Some(&m.source))
        };
        let Some(stored) = models.iter().find(ours).and_then(|m| m.path.as_deref()) else { continue };
        let Ok(target) = HomePath::from_stored(stored).expand(env) else { continue };
        if target.is_file() {
            out.insert(file, target);
        }
    }
    Ok(out)
}

fn read_record(dir: &Path) -> BTreeSet<String> {
    #[derive(serde::Deserialize)]
    struct Record {
        views: BTreeSet<String>,
    }
    let text = fsx::read_optional(&dir.join(RECORD)).ok().flatten().unwrap_or_default();
    serde_json::from_str::<Record>(&text).map(|r| r.views).unwrap_or_default()
}

fn write_record(dir: &Path, views: &BTreeSet<String>) -> Result<(), FsError> {
    let mut text = serde_json::json!({ "views": views }).to_string();
    text.push('\n');
    let old = fsx::read_optional(&dir.join(RECORD))?;
    if old.as_deref() != Some(text.as_str()) && (old.is_some() || !views.is_empty()) {
        fsx::write_atomic(&dir.join(RECORD), text.as_bytes())?;
    }
    Ok(())
}

#[cfg(unix)]
fn symlink(target: &Path, link: &Path) -> io::Result<()> {
    std::os::unix::fs::symlink(target, link)
}

#[cfg(not(unix))]
fn symlink(target: &Path, link: &Path) -> io::Result<()> {
    std::os::windows::fs::symlink_file(target, link)
}

/// Point `link` at `target`: a temp link renamed over it, so the view is never missing.
fn place_link(dir: &Path, file: &str, target: &Path, link: &Path) -> Result<(), FsError> {
    let tmp = fsx::temp_path(dir, file);
    symlink(target, &tmp).ctx("cannot create link", &tmp)?;
    std::fs::rename(&tmp, link).ctx("cannot place link", link).inspect_err(|_| {
        let _ = std::fs::remove_file(&tmp);
    })
}

/// Bring the views of the project at `project` (environment `env_dir`) in step with its
/// `wharf.toml` and the stored files `models` (its registry entry's) records.
pub fn sync(env_dir: &Path, project: &Path, models: &[ModelRef], env: &Env) -> Result<Synced, ViewsError> {
    let wanted = wanted(project, models, env)?;
    let dir = models_dir(env_dir);
    match std::fs::symlink_metadata(&dir) {
        Ok(m) if m.is_dir() => {}
        Ok(_) => return Err(ViewsError::NotAFolder(dir)),
        Err(e) if e.kind() == io::ErrorKind::NotFound && wanted.is_empty() => return Ok(Synced::default()),
        Err(e) if e.kind() == io::ErrorKind::NotFound => fsx::create_dir_private(&dir)?,
        Err(e) => return Err(FsError::new("cannot examine", &dir, e).into()),
    }
    let record = read_record(&dir);
    let (mut done, mut owned) = (Synced::default(), BTreeSet::new());
    for (file, target) in &wanted {
        let link = join_within(&dir, file)?;
        match std::fs::symlink_metadata(&link) {
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Ok(m) if m.file_type().is_symlink() && std::fs::read_link(&link).is_ok_and(|t| &t == target) => {
                owned.insert(file.clone());
                continue;
            }
            Ok(m) if m.file_type().is_symlink() && record.contains(file) => {}
            Ok(_) => {
                let reason = "is not a link wharf made; left alone (move it away and run `wharf check`)".into();
                done.skipped.push(Skipped { path: link, reason });
                continue;
            }
            Err(e) => return Err(FsError::new("cannot examine", &link, e).into()),
        }
        place_link(&dir, file, target, &link)?;
        owned.insert(file.clone());
        done.linked.push(link);
    }
    for file in record.iter().filter(|f| !wanted.contains_key(*f)) {
        let Ok(link) = join_within(&dir, file) else { continue };
        if std::fs::symlink_metadata(&link).is_ok_and(|m| m.file_type().is_symlink()) {
            std::fs::remove_file(&link).ctx("cannot remove", &link)?;
            done.removed.push(link);
        }
    }
    write_record(&dir, &owned)?;
    Ok(done)
}

/// [`sync`] for the project at `dir` as its registry `entry` records it; `None` when its
/// environment folder is gone.
pub fn sync_entry(entry: &ProjectEntry, dir: &Path, env: &Env) -> Result<Option<Synced>, ViewsError> {
    let Ok(env_dir) = entry.env_dir(env) else { return Ok(None) };
    if !env_dir.is_dir() {
        return Ok(None);
    }
    sync(&env_dir, dir, &entry.models, env).map(Some)
}

/// What went wrong or was left alone, one line each, for a command to warn about.
pub fn warnings(result: Result<Option<Synced>, ViewsError>) -> Vec<String> {
    match result {
        Ok(s) => {
            s.into_iter().flat_map(|s| s.skipped).map(|s| format!("`{}` {}", s.path.display(), s.reason)).collect()
        }
        Err(e) => vec![format!("model views not updated: {e}")],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(name: &str, source: Option<&str>, parts: &[&str]) -> ModelSpec {
        ModelSpec {
            name: name.into(),
            source: source.map(Into::into),
            sha256: None,
            fallback: Vec::new(),
            parts: parts.iter().map(|p| p.to_string()).collect(),
        }
    }

    #[test]
    fn a_view_is_the_name_and_the_source_extension() {
        let f = |s: ModelSpec| file_name(&s).unwrap();
        assert_eq!(f(spec("tiny", Some("hf://o/r@main/sub/m.Q4_K_M.gguf"), &[])), "tiny.gguf");
        assert_eq!(f(spec("det", Some("https://e.org/y.pt#sha256=ab"), &[])), "det.pt");
        assert_eq!(f(spec("w", Some("https://e.org/w.tar.gz?download=1"), &[])), "w.tar.gz");
        assert_eq!(f(spec("c", None, &["https://e.org/m.h5.aa", "https://e.org/m.h5.ab"])), "c.h5");
        assert_eq!(f(spec("r", Some("https://e.org/README"), &[])), "r");
        assert_eq!(f(spec("x", Some("models/x.$(id)"), &[])), "x");
        assert!(file_name(&spec("../evil", Some("https://e.org/a.bin"), &[])).is_err());
    }
}
