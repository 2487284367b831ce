//! Is an environment in use? One answer, from its back-link, for `init`, `prune` and the adoption
//! of a marker's environment.
//!
//! An environment's back-link names its project. That project *holds* the environment when its
//! folder exists and its marker names this environment; paths are compared as real paths, so a
//! home reached through a symlink is still the same home. A back-link that names no absolute path
//! names no project: wharf writes them absolute, and a relative one would name whatever folder we
//! run in (so a cloned environment could vouch for itself).
//!
//! The callers' rules, on top of this: `prune` never deletes a [`Liveness::Live`] environment;
//! `init` makes a copy rather than take over an environment whose project still exists
//! ([`Liveness::Elsewhere`] or [`Liveness::Live`]); adoption of an environment outside the envs
//! dir needs its [`Owner::real`] path to be the project's own.

use std::path::{Path, PathBuf};

use super::BackLink;
use crate::env::Env;
use crate::fsx;
use crate::home_path::expand_vars;

/// How the project a back-link names stands towards the environment holding the back-link.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Liveness {
    /// The project folder is gone.
    Gone,
    /// The project folder exists, but its marker names another environment (or none, or cannot
    /// be read).
    Elsewhere,
    /// The project folder exists and its marker names this environment: the environment is in use.
    Live,
}

/// The project an environment's back-link names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Owner {
    /// As the back-link names it, variables expanded (absolute).
    pub project: PathBuf,
    /// Its real path, to compare with other real paths.
    pub real: PathBuf,
    /// Whether it exists and holds the environment.
    pub liveness: Liveness,
}

impl BackLink {
    /// The project this back-link (found in `env_dir`) names, and whether it holds `env_dir`.
    /// `None` when it names no absolute path (see the module doc).
    pub fn owner(&self, env_dir: &Path, env: &Env) -> Option<Owner> {
        let project = PathBuf::from(expand_vars(&self.project, env).ok()?);
        if !project.is_absolute() {
            return None;
        }
        let real = fsx::same_place(&project);
        let liveness = if !real.is_dir() {
            Liveness::Gone
        } else if marker_names(&real, env_dir, env) {
            Liveness::Live
        } else {
            Liveness::Elsewhere
        };
        Some(Owner { project, real, liveness })
    }
}

/// Does the marker of the project at `project` name `env_dir` (as real paths)?
fn marker_names(project: &Path, env_dir: &Path, env: &Env) -> bool {
    let named = super::read_marker(project, true).ok().flatten().and_then(|m| m.env);
    let named = named.and_then(|raw| expand_vars(&raw, env).ok());
    named.is_some_and(|n| fsx::same_place(Path::new(&n)) == fsx::same_place(env_dir))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_project_holds_its_env_only_while_its_marker_names_it() {
        let d = tempfile::tempdir().unwrap();
        let home = d.path().canonicalize().unwrap();
        let env = Env::new(&home, Default::default());
        let (proj, venv) = (home.join("p"), home.join("envs/p_1"));
        std::fs::create_dir_all(&venv).unwrap();
        let link = |project: &str| BackLink {
            project: project.into(),
            id: None,
            created_at: String::new(),
            wharf_version: String::new(),
            extra: Default::default(),
        };
        let state = |l: &BackLink| l.owner(&venv, &env).map(|o| o.liveness);
        assert_eq!(state(&link("${HOME}/p")), Some(Liveness::Gone));
        std::fs::create_dir_all(&proj).unwrap();
        assert_eq!(state(&link("${HOME}/p")), Some(Liveness::Elsewhere));
        std::fs::write(proj.join(super::super::MARKER), "UV_PROJECT_ENVIRONMENT=${HOME}/envs/p_1\n").unwrap();
        assert_eq!(state(&link("${HOME}/p")), Some(Liveness::Live));
        assert_eq!(state(&link(".")), None, "a relative back-link names no project");
    }
}
