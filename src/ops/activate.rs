//! The variables that put a shell or a command into a project's environment (`wharf run`,
//! `wharf env`), and a model's view by name (`wharf models path`).
//!
//! The project is the nearest folder at or above the start that holds a marker (as `check` finds
//! it, [`project::find_root`]). Its environment comes from its **registry entry**: the marker came
//! with the folder (perhaps from a clone) and is only compared, never followed; when it names
//! another environment or id, or the folder is not registered, nothing is returned and the error
//! says to run `wharf init`.
//!
//! The variables, in this order:
//!
//! ```text
//! UV_PROJECT_ENVIRONMENT=<env>        uv uses this environment, never <project>/.venv
//! VIRTUAL_ENV=<env>
//! PATH=<env>/bin:<the given PATH without <env>/bin, empty entries or repeats>
//! WHARF_MODELS_DIR=<env>/models
//! WHARF_MODEL_<NAME>=<env>/models/<name><ext>   one per model of wharf.toml (see models::views)
//! ```
//!
//! and `PYTHONHOME` is removed (it would send the env's python to another installation).
//! `<NAME>` is the model name uppercased with every run of characters outside `[A-Z0-9]` made one
//! `_`; two models that would share a variable (or a view) are refused by the manifest parser. Nothing is written.

use std::path::{Path, PathBuf};

use crate::home_path::{expand_vars, HomePath, HomePathError};
use crate::models::manifest::{self, ManifestError};
use crate::models::views::{self, ViewsError};
use crate::project::{self, ProjectError};
use crate::registry::{Registry, RegistryError};

/// Why no activation could be given.
#[derive(Debug, thiserror::Error)]
pub enum ActivateError {
    /// The start folder cannot be resolved.
    #[error(transparent)]
    Project(#[from] ProjectError),
    /// No marker at or above the start folder.
    #[error(transparent)]
    NoProject(#[from] project::NoProject),
    /// The folder has a marker but no registry entry.
    #[error("`{0}` is not registered (its .env.wharf is not trusted on its own)\n  hint: run `wharf init` there")]
    NotRegistered(PathBuf),
    /// The marker and the registry disagree.
    #[error("`{marker}` {what}\n  hint: run `wharf init` in `{project}` to write the marker from the registry", marker = .marker.display(), project = .project.display())]
    MarkerDisagrees {
        /// The project folder.
        project: PathBuf,
        /// The marker.
        marker: PathBuf,
        /// How it disagrees.
        what: String,
    },
    /// The registered environment folder is gone.
    #[error("the environment `{0}` does not exist\n  hint: run `wharf init` in the project to make it again")]
    EnvMissing(PathBuf),
    /// The marker cannot be read.
    #[error(transparent)]
    Marker(#[from] crate::fsx::FsError),
    /// A stored path cannot be expanded.
    #[error(transparent)]
    Path(#[from] HomePathError),
    /// The registry cannot be read.
    #[error(transparent)]
    Registry(#[from] RegistryError),
    /// `wharf.toml` is invalid.
    #[error(transparent)]
    Manifest(#[from] ManifestError),
    /// A model's view cannot be named.
    #[error(transparent)]
    Views(#[from] ViewsError),
    /// The environment's `bin` folder cannot be put on a PATH (it holds the separator).
    #[error("`{0}` cannot be put on PATH (it holds the path separator)\n  hint: set WHARF_ENVS_DIR to a folder without `:`, then run `wharf remove` and `wharf init` in the project")]
    PathVar(PathBuf),
    /// `wharf.toml` declares no model of that name.
    #[error("no model `{name}` in `{manifest}`; it declares: {known}\n  hint: run `wharf models path NAME` with one of those names", manifest = .manifest.display())]
    UnknownModel {
        /// The name asked for.
        name: String,
        /// The manifest.
        manifest: PathBuf,
        /// The names it declares.
        known: String,
    },
    /// The model's view is not there (not pulled yet).
    #[error("model `{name}` is not pulled yet (`{path}` does not lead to a file)\n  hint: run `wharf pull` in the project", path = .path.display())]
    NotPulled {
        /// The model.
        name: String,
        /// Its view.
        path: PathBuf,
    },
}

impl ActivateError {
    /// True for what the user's input got wrong (the CLI's exit 2).
    pub fn is_usage(&self) -> bool {
        matches!(self, ActivateError::Project(_) | ActivateError::Manifest(_) | ActivateError::UnknownModel { .. })
    }
}

/// A project's environment as variables.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Activation {
    /// The project folder (canonical).
    pub project: PathBuf,
    /// Its environment folder (expanded).
    pub env: PathBuf,
    /// The variables to set, in order (see the module doc).
    pub vars: Vec<(String, String)>,
    /// The variables to remove.
    pub unset: Vec<String>,
}

/// The registered project around `start` and its environment folder, checked against its marker.
fn locate(registry: &Registry, start: &Path) -> Result<(PathBuf, PathBuf), ActivateError> {
    let env = registry.env();
    let dir = project::canonical(start)?;
    let root = project::find_root(&dir).ok_or(project::NoProject { dir })?;
    let key = HomePath::from_path_in(&root, env)?;
    let doc = registry.read()?.doc;
    let entry = doc.projects.get(key.as_str()).ok_or_else(|| ActivateError::NotRegistered(root.clone()))?;
    let env_dir = entry.env_dir(env)?;
    let disagree = |marker: &Path, what: String| ActivateError::MarkerDisagrees {
        project: root.clone(),
        marker: marker.to_path_buf(),
        what,
    };
    let marker = project::read_marker(&root, entry.legacy_marker)?
        .ok_or_else(|| disagree(&root.join(project::MARKER), "is missing".into()))?;
    let named = marker.env.as_deref().map(|raw| expand_vars(raw, env)).transpose()?;
    if named.as_deref().map(Path::new) != Some(env_dir.as_path()) {
        let named = named.unwrap_or_else(|| "no environment".into());
        return Err(disagree(&marker.file, format!("names `{named}`, the registry has `{}`", env_dir.display())));
    }
    if let Some(theirs) = marker.contradicting_id(entry.id.as_deref()) {
        let mine = entry.id.as_deref().unwrap_or_default();
        return Err(disagree(&marker.file, format!("has project id {theirs}, the registry has {mine}")));
    }
    if !env_dir.is_dir() {
        return Err(ActivateError::EnvMissing(env_dir));
    }
    Ok((root, env_dir))
}

pub use crate::models::manifest::model_var;

/// The executables folder of an environment.
pub fn bin_dir(env_dir: &Path) -> PathBuf {
    env_dir.join(if cfg!(windows) { "Scripts" } else { "bin" })
}

/// `bin` first, then the entries of `path` that are not `bin`, empty (the current folder) or a repeat.
pub fn path_with(bin: &Path, path: Option<&str>) -> Result<String, ActivateError> {
    let rest = path.map(|p| std::env::split_paths(p).collect::<Vec<_>>()).unwrap_or_default();
    let mut seen = Vec::new();
    for p in std::iter::once(bin.to_path_buf()).chain(rest) {
        if !p.as_os_str().is_empty() && !seen.contains(&p) {
            seen.push(p);
        }
    }
    let joined = std::env::join_paths(&seen).map_err(|_| ActivateError::PathVar(bin.to_path_buf()))?;
    Ok(joined.to_string_lossy().into_owned())
}

/// The activation of the project around `start`; `path` is the PATH to extend (the caller's).
pub fn activation(registry: &Registry, start: &Path, path: Option<&str>) -> Result<Activation, ActivateError> {
    let (project, env) = locate(registry, start)?;
    let text = |p: &Path| p.to_string_lossy().into_owned();
    let mut vars = vec![
        (project::KEY_ENV.to_string(), text(&env)),
        ("VIRTUAL_ENV".to_string(), text(&env)),
        ("PATH".to_string(), path_with(&bin_dir(&env), path)?),
        ("WHARF_MODELS_DIR".to_string(), text(&views::models_dir(&env))),
    ];
    // The manifest refuses two models on one variable or one view (see `manifest::parse`).
    for spec in manifest::read(&project)?.map(|m| m.models).unwrap_or_default() {
        vars.push((model_var(&spec.name), text(&views::view_path(&env, &spec)?)));
    }
    Ok(Activation { project, env, vars, unset: vec!["PYTHONHOME".to_string()] })
}

/// The view of model `name` of the project around `start`, when it leads to a file.
pub fn model_path(registry: &Registry, start: &Path, name: &str) -> Result<PathBuf, ActivateError> {
    let (project, env) = locate(registry, start)?;
    let manifest = manifest::read(&project)?.unwrap_or_default();
    let Some(spec) = manifest.models.iter().find(|m| m.name == name) else {
        let known: Vec<&str> = manifest.models.iter().map(|m| m.name.as_str()).collect();
        return Err(ActivateError::UnknownModel {
            name: name.to_string(),
            manifest: project.join(manifest::MANIFEST),
            known: if known.is_empty() { "no models".into() } else { known.join(", ") },
        });
    };
    let path = views::view_path(&env, spec)?;
    if !path.is_file() {
        return Err(ActivateError::NotPulled { name: name.to_string(), path });
    }
    Ok(path)
}

/// The program `name` as a command would find it on `path` (a name with a `/` is taken as is):
/// `wharf run` looks it up on the new PATH, not on its own.
pub fn which(name: &std::ffi::OsStr, path: &str) -> Option<PathBuf> {
    if Path::new(name).components().count() > 1 {
        return Some(PathBuf::from(name));
    }
    std::env::split_paths(path).filter(|d| !d.as_os_str().is_empty()).map(|d| d.join(name)).find(|p| executable(p))
}

#[cfg(unix)]
fn executable(p: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(p).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

#[cfg(not(unix))]
fn executable(p: &Path) -> bool {
    p.is_file()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn model_variables_are_uppercase_with_one_underscore_per_gap() {
        assert_eq!(model_var("tinyllama"), "WHARF_MODEL_TINYLLAMA");
        assert_eq!(model_var("Tiny-Llama..v1_1"), "WHARF_MODEL_TINY_LLAMA_V1_1");
        assert_eq!(model_var("a-b"), model_var("a_b"));
    }

    #[test]
    fn the_env_bin_comes_first_once_and_empty_entries_go() {
        let p = path_with(Path::new("/e/bin"), Some("/usr/bin::/e/bin:/bin:/usr/bin")).unwrap();
        assert_eq!(p, "/e/bin:/usr/bin:/bin");
        assert_eq!(path_with(Path::new("/e/bin"), None).unwrap(), "/e/bin");
        assert!(path_with(Path::new("/a:b/bin"), None).is_err());
    }
}
