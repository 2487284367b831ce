//! A path as wharf stores it: `${HOME}/…` when it lies under the home directory, absolute otherwise.
//!
//! Stored form is a plain string so one registry or marker works across machines and accounts whose
//! homes differ; it is expanded with the *current* home at use. Old files may carry other `${VAR}`
//! forms: those are expanded from the environment, and an unset variable is an error that names it.

use std::path::{Path, PathBuf};

use crate::env::Env;

/// The prefix a stored path under home starts with.
pub const HOME_VAR: &str = "${HOME}";

/// A stored path that cannot be expanded, or a path that cannot be stored.
#[derive(Debug, thiserror::Error)]
pub enum HomePathError {
    #[error(
        "`{path}` uses `${{{var}}}`, which is not set\n  hint: set `{var}` or run `wharf init` in the project again"
    )]
    /// It names a variable the environment does not set.
    UnsetVar {
        /// The stored path.
        path: String,
        /// The variable.
        var: String,
    },
    #[error("`{path}` has an unterminated `${{`")]
    /// A `${` without its `}`.
    Unterminated {
        /// The stored path.
        path: String,
    },
    #[error("`{0}` is not valid UTF-8; wharf stores paths as text")]
    /// The path is not text.
    NotUtf8(PathBuf),
}

/// A stored path (`${HOME}/x` or `/abs/x`).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct HomePath(String);

impl HomePath {
    /// The stored form of an absolute path: `${HOME}` replaces the home prefix, component-wise.
    pub fn from_path(path: &Path, home: &Path) -> Result<HomePath, HomePathError> {
        let text = |p: &Path| p.to_str().map(str::to_owned).ok_or_else(|| HomePathError::NotUtf8(p.to_path_buf()));
        match path.strip_prefix(home) {
            Ok(rest) if !home.as_os_str().is_empty() && home != Path::new("/") => {
                if rest.as_os_str().is_empty() {
                    Ok(HomePath(HOME_VAR.to_string()))
                } else {
                    Ok(HomePath(format!("{HOME_VAR}/{}", text(rest)?)))
                }
            }
            _ => Ok(HomePath(text(path)?)),
        }
    }

    /// Like [`HomePath::from_path`] with the environment's home, where `path` counts as under the
    /// home also when it lies under the home's real path (a home reached through a symlink, such as
    /// `/home -> /var/home`; canonical project paths are always the real ones).
    pub fn from_path_in(path: &Path, env: &Env) -> Result<HomePath, HomePathError> {
        let given = HomePath::from_path(path, env.home())?;
        if given.0.starts_with(HOME_VAR) {
            return Ok(given);
        }
        match env.home().canonicalize() {
            Ok(real) if real != env.home() => HomePath::from_path(path, &real),
            _ => Ok(given),
        }
    }

    /// Wrap a string read from a file, as it is.
    pub fn from_stored(s: impl Into<String>) -> HomePath {
        HomePath(s.into())
    }

    /// The stored form (`${HOME}/…` or absolute).
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Expand `${HOME}` with the current home and any other `${VAR}` from the environment.
    pub fn expand(&self, env: &Env) -> Result<PathBuf, HomePathError> {
        expand_vars(&self.0, env).map(PathBuf::from)
    }
}

impl std::fmt::Display for HomePath {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// Expand every `${VAR}` in `s`; `${HOME}` is the environment's home.
pub fn expand_vars(s: &str, env: &Env) -> Result<String, HomePathError> {
    let mut out = String::with_capacity(s.len() + 32);
    let mut rest = s;
    while let Some(start) = rest.find("${") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let end = after.find('}').ok_or_else(|| HomePathError::Unterminated { path: s.to_string() })?;
        let name = &after[..end];
        if name == "HOME" {
            out.push_str(&env.home().to_string_lossy());
        } else {
            let value =
                env.var(name).ok_or_else(|| HomePathError::UnsetVar { path: s.to_string(), var: name.to_string() })?;
            out.push_str(value);
        }
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn env() -> Env {
        Env::new("/home/ann", HashMap::from([("DATA".to_string(), "/srv".to_string())]))
    }

    #[test]
    fn under_home_is_stored_with_the_variable() {
        let p = HomePath::from_path(Path::new("/home/ann/p/x"), Path::new("/home/ann")).unwrap();
        assert_eq!(p.as_str(), "${HOME}/p/x");
        assert_eq!(p.expand(&Env::new("/home/bob", HashMap::new())).unwrap(), Path::new("/home/bob/p/x"));
    }

    #[test]
    fn prefix_match_is_by_component() {
        let p = HomePath::from_path(Path::new("/home/anna/x"), Path::new("/home/ann")).unwrap();
        assert_eq!(p.as_str(), "/home/anna/x");
    }

    #[test]
    fn other_variables_expand_or_are_named() {
        assert_eq!(expand_vars("${DATA}/v", &env()).unwrap(), "/srv/v");
        let err = expand_vars("${NOPE}/v", &env()).unwrap_err();
        assert!(err.to_string().contains("NOPE"), "{err}");
    }
}
