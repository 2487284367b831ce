//! Which environment a project's marker may make `init` use.
//!
//! A `.env.wharf` can arrive with a cloned repo, so the `UV_PROJECT_ENVIRONMENT` it names is
//! untrusted: `init` would create a venv there, write a back-link there and later let `prune` judge
//! it. [`AdoptableEnv::judge`] is the one door from that string to a path `init` may use. It accepts:
//! - a folder directly inside the envs dir (after resolving every parent; the folder itself no
//!   symlink, its name not one of wharf's dot-names), made there if it does not exist; or
//! - anywhere else but inside the project folder, an existing environment (a real folder with
//!   `pyvenv.cfg`) whose back-link (`.wharf-project.json`) names this very project (compared as real
//!   paths). An env inside the project came with it, back-link and all, so it is never adopted.
//!
//! Anything else is refused with the marker file, the value and the way out (`--force`). A value
//! with `.` or `..` components or that is not absolute is refused before any filesystem access.

use std::path::{Component, Path, PathBuf};

use crate::env::Env;
use crate::home_path::expand_vars;
use crate::project;

/// Why a marker's environment was refused.
#[derive(Debug, thiserror::Error)]
#[error(
    "`{file}` names the environment `{value}`, which wharf will not use: {why}\n  hint: a marker that came \
     with a cloned repo may point anywhere; run `wharf init --force` to make a fresh environment in `{envs_dir}` \
     (your other lines of the marker are kept)",
    file = .file.display(), envs_dir = .envs_dir.display()
)]
pub struct Untrusted {
    /// The marker file.
    pub file: PathBuf,
    /// The value it gives for the environment.
    pub value: String,
    /// Why it was refused.
    pub why: String,
    /// Where wharf makes environments (the way out it offers).
    pub envs_dir: PathBuf,
}

/// An environment path that a marker named and that passed [`AdoptableEnv::judge`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AdoptableEnv(PathBuf);

impl AdoptableEnv {
    /// The environment folder.
    pub fn path(&self) -> &Path {
        &self.0
    }

    /// Judge the value `value` read from the marker `file` of the project at `project` (canonical).
    pub fn judge(
        file: &Path,
        value: &str,
        project: &Path,
        envs_dir: &Path,
        env: &Env,
    ) -> Result<AdoptableEnv, Untrusted> {
        let refuse = |why: String| Untrusted {
            file: file.to_path_buf(),
            value: value.to_string(),
            why,
            envs_dir: envs_dir.to_path_buf(),
        };
        let expanded =
            PathBuf::from(expand_vars(value, env).map_err(|e| refuse(format!("it cannot be expanded: {e}")))?);
        let clean = expanded.is_absolute()
            && expanded.components().all(|c| matches!(c, Component::RootDir | Component::Normal(_)));
        if !clean {
            return Err(refuse("it is not an absolute path without `.` and `..`".into()));
        }
        let meta = std::fs::symlink_metadata(&expanded).ok();
        if meta.as_ref().is_some_and(|m| m.file_type().is_symlink()) {
            return Err(refuse("it is a symlink; wharf never follows one to an environment".into()));
        }
        if in_envs_dir(&expanded, envs_dir) {
            return match meta {
                Some(m) if !m.is_dir() => Err(refuse("it is not a folder".into())),
                _ => Ok(AdoptableEnv(expanded)),
            };
        }
        let outside = format!("it is outside the envs dir `{}`", envs_dir.display());
        match meta {
            None => return Err(refuse(format!("{outside} and does not exist"))),
            Some(m) if !m.is_dir() || !expanded.join("pyvenv.cfg").is_file() => {
                return Err(refuse(format!("{outside} and is not an environment (no `pyvenv.cfg`)")))
            }
            Some(_) => {}
        }
        // An env inside the project folder came with the project: a clone carries its back-link
        // too, and can name the path it will be cloned to (`${HOME}/src/repo`), so that back-link
        // vouches for nothing.
        if resolve_existing(&expanded).starts_with(project) {
            return Err(refuse(format!(
                "{outside} and inside the project folder, so it came with the project (its back-link proves nothing)"
            )));
        }
        // A relative back-link names no owner (see `liveness.rs`): a cloned repo cannot vouch for
        // its own env.
        let owner = project::read_backlink(&expanded).ok().flatten().and_then(|l| l.owner(&expanded, env));
        match owner {
            Some(o) if o.real == project => Ok(AdoptableEnv(expanded)),
            Some(o) => {
                Err(refuse(format!("{outside} and its back-link names `{}`, not this project", o.project.display())))
            }
            None => Err(refuse(format!("{outside} and has no wharf back-link naming this project"))),
        }
    }
}

/// Is `path` (absolute, no `.`/`..`) a folder directly inside `envs_dir`, with a name wharf could
/// have given it? Parents are compared as real paths: the deepest existing ancestor is resolved.
fn in_envs_dir(path: &Path, envs_dir: &Path) -> bool {
    let named_ok = path.file_name().is_some_and(|n| !n.to_string_lossy().starts_with('.'));
    named_ok && path.parent().map(resolve_existing) == Some(resolve_existing(envs_dir))
}

/// `path` with its deepest existing ancestor resolved and the rest appended as written.
fn resolve_existing(path: &Path) -> PathBuf {
    for base in path.ancestors() {
        if let Ok(real) = base.canonicalize() {
            let rest = path.strip_prefix(base).unwrap_or(Path::new(""));
            return if rest.as_os_str().is_empty() { real } else { real.join(rest) };
        }
    }
    path.to_path_buf()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(home: &Path) -> Env {
        Env::new(home, Default::default())
    }

    #[test]
    fn only_the_envs_dir_or_a_back_linked_environment_passes() {
        let d = tempfile::tempdir().unwrap();
        let home = d.path().canonicalize().unwrap();
        let envs = home.join("data/envs");
        let proj = home.join("p");
        std::fs::create_dir_all(&proj).unwrap();
        let judge = |v: &str| AdoptableEnv::judge(Path::new("m"), v, &proj, &envs, &env(&home));
        assert!(judge("${HOME}/data/envs/a_1").is_ok(), "not there yet: made there");
        for bad in
            ["${HOME}", "${HOME}/data/envs", "${HOME}/data/envs/../x", "relative/x", "${HOME}/data/envs/.wharf-tmp-x"]
        {
            assert!(judge(bad).is_err(), "{bad}");
        }
        let venv = home.join("venv");
        std::fs::create_dir_all(&venv).unwrap();
        std::fs::write(venv.join("pyvenv.cfg"), "").unwrap();
        let err = judge("${HOME}/venv").unwrap_err().to_string();
        assert!(err.contains("no wharf back-link") && err.contains("--force") && err.contains("`m`"), "{err}");
        std::fs::write(venv.join(project::BACKLINK), r#"{"project": "${HOME}/p"}"#).unwrap();
        assert_eq!(judge("${HOME}/venv").unwrap().path(), venv);
    }

    #[test]
    fn an_env_that_came_inside_the_project_is_refused_whatever_its_back_link_says() {
        let d = tempfile::tempdir().unwrap();
        let home = d.path().canonicalize().unwrap();
        let proj = home.join("src/repo");
        let venv = proj.join("venv");
        std::fs::create_dir_all(&venv).unwrap();
        std::fs::write(venv.join("pyvenv.cfg"), "").unwrap();
        std::fs::write(venv.join(project::BACKLINK), r#"{"project": "${HOME}/src/repo", "id": "1111111111111111"}"#)
            .unwrap();
        let err = AdoptableEnv::judge(Path::new("m"), "${HOME}/src/repo/venv", &proj, &home.join("envs"), &env(&home))
            .unwrap_err()
            .to_string();
        assert!(err.contains("inside the project folder") && err.contains("--force"), "{err}");
    }
}
